"""The evidence map: conditions (in their hierarchy) against designs or evidence levels, each cell the
studies tagged with the condition or a narrower one, and which way their findings went."""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass, field, replace

# What a cell's findings say, from the directions of its studies' outcome rows.
FINDINGS = {
    "benefit": "acupuncture did better",
    "no-difference": "no difference",
    "harm": "acupuncture did worse",
    "mixed": "mixed findings",
    "inconclusive": "too little evidence to say",
    "none": "no findings recorded",
}
READ_DIRECTIONS = (
    "benefit",
    "no-difference",
    "harm",
    "mixed",
    "inconclusive",
)  # "unknown", "not-applicable" say nothing
LEVELS = {
    1: "Level 1: systematic reviews",
    2: "Level 2: randomised trials",
    3: "Level 3: controlled studies",
    4: "Level 4: case series, case-control",
    5: "Level 5: mechanism",
}


@dataclass
class Column:
    """A design, or an evidence level; ``value`` is None for studies without one."""

    value: str | int | None
    label: str


@dataclass
class Cell:
    studies: set[str] = field(default_factory=set)
    directions: set[str] = field(default_factory=set)

    @property
    def count(self) -> int:
        return len(self.studies)

    @property
    def findings(self) -> str:
        """benefit, no-difference, harm, inconclusive (when all say the same), mixed, or none."""
        if not self.directions:
            return "none"
        return next(iter(self.directions)) if len(self.directions) == 1 else "mixed"


@dataclass
class Row:
    condition_id: str
    label: str
    depth: int
    total: int
    cells: list[Cell]


@dataclass
class EvidenceMap:
    by: str  # "design" or "level"
    columns: list[Column]
    rows: list[Row]

    @property
    def largest(self) -> int:
        return max((cell.count for row in self.rows for cell in row.cells), default=0)

    def with_studies_only(self) -> EvidenceMap:
        """The map without the columns that have no study in any row."""
        keep = [i for i in range(len(self.columns)) if any(row.cells[i].count for row in self.rows)]
        rows = [replace(row, cells=[row.cells[i] for i in keep]) for row in self.rows]
        return EvidenceMap(self.by, [self.columns[i] for i in keep], rows)

    def diameter(self, count: int) -> int:
        """Bubble size in pixels: area grows with the number of studies."""
        return round(14 + 30 * math.sqrt(count / self.largest)) if count and self.largest else 0


def build(conn: sqlite3.Connection, by: str = "design") -> EvidenceMap:
    """The map from the database as it is now; ``by`` is "design" or "level"."""
    if by == "level":
        columns = [Column(level, label) for level, label in LEVELS.items()] + [Column(None, "Not graded")]
    else:
        columns = [
            Column(design_id, label) for design_id, label in conn.execute("SELECT id, label FROM designs ORDER BY rank")
        ] + [Column(None, "No design")]
    position = {column.value: i for i, column in enumerate(columns)}
    cells: dict[str, list[Cell]] = {}
    cell_of: dict[tuple[str, str], Cell] = {}  # (condition, study) -> the cell the study is counted in
    for condition_id, key, design, level in conn.execute(
        "SELECT condition_id, study_key, design, evidence_level FROM condition_studies"
    ):
        cell = cells.setdefault(condition_id, [Cell() for _ in columns])[position[level if by == "level" else design]]
        cell.studies.add(key)
        cell_of[condition_id, key] = cell
    for condition_id, key, direction in conn.execute(  # the findings for that condition (store.schema)
        f"SELECT condition_id, study_key, direction FROM condition_findings "
        f"WHERE direction IN ({', '.join('?' * len(READ_DIRECTIONS))})",
        READ_DIRECTIONS,
    ):
        cell_of[condition_id, key].directions.add(direction)
    rows = []
    for condition_id, label, tree_path in conn.execute(
        "SELECT id, label, tree_path FROM conditions ORDER BY replace(tree_path, '/', char(1))"
    ):
        row_cells = cells.get(condition_id, [Cell() for _ in columns])
        total = len(set().union(*(cell.studies for cell in row_cells)))
        rows.append(Row(condition_id, label, tree_path.count("/"), total, row_cells))
    return EvidenceMap(by, columns, rows)
