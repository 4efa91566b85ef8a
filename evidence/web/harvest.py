"""The harvest plot of a condition page: outcome domains (rows) against the direction of the findings
(columns), one bar per study in each cell its results fall in, taller for a stronger design (OCEBM level),
drawn on the server as SVG, with the same content as a table for people who cannot see it."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field

from markupsafe import Markup, escape

from .evidence_map import READ_DIRECTIONS

COLOURS = {
    "benefit": "#2e7d32",
    "no-difference": "#546e7a",
    "harm": "#c62828",
    "mixed": "#b06500",
    "inconclusive": "#7e57c2",
}
# Column headings, two lines each.
HEADINGS = {
    "benefit": ("acupuncture", "did better"),
    "no-difference": ("no", "difference"),
    "harm": ("acupuncture", "did worse"),
    "mixed": ("mixed", "findings"),
    "inconclusive": ("too little", "evidence"),
}
LABEL_WIDTH, COLUMN_WIDTH, HEADER = 150, 104, 34
BAR, GAP, UNIT, NUMBER = 11, 4, 11, 13  # bar width, space between bars, height of one level, number below
PER_LINE = (COLUMN_WIDTH - GAP) // (BAR + GAP)


def bar_height(level: int | None) -> int:
    """Level 1 (systematic reviews) five units tall ... level 5 one unit; an ungraded design half a unit."""
    return UNIT * (6 - level) if level else UNIT // 2


def short_name(study: dict) -> str:
    """First author's family name and year ("Cherkin 2009"), as a reader names a study."""
    first = (study.get("authors") or "").split(",")[0].strip()
    family = first.rsplit(" ", 1)[0] if " " in first else first
    return " ".join(str(part) for part in (family or study["key"], study.get("year") or "") if part)


@dataclass
class Cell:
    studies: list[dict] = field(default_factory=list)


@dataclass
class Plot:
    """The plot's rows (domain, cells by direction) and its SVG."""

    directions: list[str]
    rows: list[tuple[str, dict[str, Cell]]]
    svg: Markup


def plot(studies: list[dict], outcomes: list[dict]) -> Plot | None:
    """The harvest plot of ``studies`` (numbered, strongest first) from their outcome rows (study_key, domain,
    direction); None when no study has a finding with a direction."""
    by_key = {study["key"]: study for study in studies}
    for study in studies:
        study["short"] = short_name(study)
    domains = sorted({o["domain"] for o in outcomes if o["direction"] in COLOURS})
    if not domains:
        return None
    rows = [(domain, {direction: Cell() for direction in READ_DIRECTIONS}) for domain in domains]
    cells = dict(rows)
    for o in outcomes:
        cell = cells.get(o["domain"], {}).get(o["direction"])
        study = by_key.get(o["study_key"])
        if cell is not None and study is not None and study not in cell.studies:
            cell.studies.append(study)
    for _, row in rows:
        for cell in row.values():
            cell.studies.sort(key=lambda s: s["number"])
    return Plot(list(READ_DIRECTIONS), rows, _svg(rows))


def _svg(rows: list[tuple[str, dict[str, Cell]]]) -> Markup:
    tallest = bar_height(1) + NUMBER
    width = LABEL_WIDTH + COLUMN_WIDTH * len(READ_DIRECTIONS)
    parts, y = [], HEADER
    for x, direction in enumerate(READ_DIRECTIONS):
        centre = LABEL_WIDTH + COLUMN_WIDTH * x + COLUMN_WIDTH // 2
        for line, text in enumerate(HEADINGS[direction]):
            parts.append(
                f'<text x="{centre}" y="{13 + 13 * line}" text-anchor="middle" class="head">{escape(text)}</text>'
            )
    for domain, cells in rows:
        lines = max(1, *((len(c.studies) + PER_LINE - 1) // PER_LINE for c in cells.values()))
        height = lines * (tallest + 6) + 6
        parts.append(f'<rect x="0" y="{y}" width="{width}" height="{height}" class="band"/>')
        label = textwrap.wrap(domain.capitalize(), 18)
        for line, text in enumerate(label):
            top = y + height // 2 + 4 - 8 * (len(label) - 1) + 16 * line
            parts.append(f'<text x="6" y="{top}" class="domain">{escape(text)}</text>')
        for x, direction in enumerate(READ_DIRECTIONS):
            left = LABEL_WIDTH + COLUMN_WIDTH * x + GAP
            for i, study in enumerate(cells[direction].studies):
                line, place = divmod(i, PER_LINE)
                bar_x = left + place * (BAR + GAP)
                base = y + 6 + (line + 1) * (tallest + 6) - NUMBER - 6
                tall = bar_height(study["evidence_level"])
                level = f"level {study['evidence_level']}" if study["evidence_level"] else "not graded"
                label = f"{study['number']}. {study['short']}, {study['design'] or 'design not known'} ({level})"
                parts.append(
                    f"<g><title>{escape(label)}</title>"
                    f'<rect x="{bar_x}" y="{base - tall}" width="{BAR}" height="{tall}" fill="{COLOURS[direction]}"/>'
                    f'<text x="{bar_x + BAR // 2}" y="{base + NUMBER - 2}" text-anchor="middle" class="number">'
                    f"{study['number']}</text></g>"
                )
        y += height + 2
    for x in range(len(READ_DIRECTIONS)):
        line_x = LABEL_WIDTH + COLUMN_WIDTH * x
        parts.append(f'<line x1="{line_x}" y1="0" x2="{line_x}" y2="{y}" class="rule"/>')
    return Markup(
        f'<svg class="harvest" viewBox="0 0 {width} {y}" width="{width}" height="{y}" role="img" '
        f'aria-labelledby="harvest-title" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="harvest-title">Harvest plot: one bar per study for each outcome domain and direction of its '
        f"findings; taller bars are stronger designs. The table that follows gives the same.</title>"
        + "".join(parts)
        + "</svg>"
    )
