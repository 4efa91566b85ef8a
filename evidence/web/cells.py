"""How table cells read on HTML pages (the render_cell hook): JSON lists as linked chips, empty ``[]`` and ``{}`` as
nothing, study keys, claim ids and condition names as links to their pages. JSON and CSV keep the stored values."""

from __future__ import annotations

import json
import os
from urllib.parse import urlencode

from markupsafe import Markup, escape

from .urls import claim_url, condition_url, study_url

# (table, column) whose list items are condition labels or study keys, linked to their pages
CONDITION_LISTS = {("study_cards", "conditions"), ("study_cards", "condition_groups"), ("claim_cards", "conditions")}
STUDY_LISTS = {("study_cards", "reviewed_in"), ("claim_cards", "studies")}
STUDY_KEY_COLUMNS = {"study_key", "review_key"}
CLAIM_TABLES = {"claims": "claim", "claim_cards": "id"}
NOTHING = Markup("&nbsp;")  # Datasette shows a falsy answer as the stored value

_condition_ids: dict[str, tuple[int, dict[str, str]]] = {}  # database -> (file mtime, label -> id)


async def render(row, value, column, table, database, datasette):
    """The cell's HTML, or None for Datasette's own rendering."""
    if not isinstance(value, str):
        return None
    if column in STUDY_KEY_COLUMNS or (column == "key" and table in ("study_cards", "studies")):
        return link(study_url(datasette, value, database), value)
    if CLAIM_TABLES.get(table) == column:
        return link(claim_url(datasette, row["id"], database), value)
    if table == "conditions" and column == "label":
        return link(condition_url(datasette, row["id"], database), value)
    parsed = json_container(value)
    if parsed is None:
        return None
    if not parsed:
        return NOTHING
    if isinstance(parsed, dict):
        return escape("; ".join(f"{name}: {item}" for name, item in parsed.items()))
    labels = await condition_ids(datasette, database) if (table, column) in CONDITION_LISTS else {}
    chips = []
    for item in parsed:
        text = str(item)
        if (table, column) in CONDITION_LISTS and text in labels:
            href = condition_url(datasette, labels[text], database)
        elif (table, column) in STUDY_LISTS:
            href = study_url(datasette, text, database)
        elif table:
            href = datasette.urls.table(database, table) + "?" + urlencode({f"{column}__arraycontains": text})
        else:
            href = None
        chips.append(link(href, text, "chip") if href else f'<span class="chip">{escape(text)}</span>')
    return Markup(f'<span class="chips">{" ".join(chips)}</span>')


def json_container(value: str) -> list | dict | None:
    """A JSON list (of plain values) or object stored as text, else None."""
    if not (value[:1] == "[" and value[-1:] == "]" or value[:1] == "{" and value[-1:] == "}"):
        return None
    try:
        parsed = json.loads(value)
    except ValueError:
        return None
    if isinstance(parsed, list) and any(isinstance(item, (list, dict)) for item in parsed):
        return None
    return parsed


def link(href: str, text: str, css_class: str | None = None) -> Markup:
    # escape() and an f-string, not Markup.format: a page of study cards has thousands of these
    attribute = f' class="{escape(css_class)}"' if css_class else ""
    return Markup(f'<a{attribute} href="{escape(href)}">{escape(text)}</a>')


async def condition_ids(datasette, database: str) -> dict[str, str]:
    """Condition label -> id in ``database``, read again when its file changes."""
    db = datasette.get_database(database)
    stamp = os.stat(db.path).st_mtime_ns if db.path else 0
    cached = _condition_ids.get(database)
    if cached is None or cached[0] != stamp:
        rows = await db.execute("select label, id from conditions")
        cached = _condition_ids[database] = (stamp, {label: condition_id for label, condition_id in rows.rows})
    return cached[1]
