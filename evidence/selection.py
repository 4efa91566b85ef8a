"""Which studies an export covers: criteria (condition, design, outcome, years, keys, full text, SQL)
turned into an ordered list of study keys."""

from __future__ import annotations

import difflib
import json
import sqlite3
from dataclasses import dataclass
from functools import lru_cache

from .errors import SelectionError
from .records import fold

# Each study with its first author's family name (NULL if it has no authors), for bibliography order.
WITH_FIRST_AUTHOR = """studies s LEFT JOIN study_authors sa ON sa.study_key = s.key AND sa.position = 1
                      LEFT JOIN authors a ON a.id = sa.author_id"""

# Names a result column may have for its values to be taken as study keys.
KEY_COLUMNS = ("key", "study_key")


@dataclass(frozen=True)
class Selection:
    """Criteria for studies. Values of one criterion are alternatives (OR); criteria combine with AND."""

    conditions: tuple[str, ...] = ()  # ids or labels; narrower conditions are included
    designs: tuple[str, ...] = ()
    outcomes: tuple[str, ...] = ()
    since: int | None = None
    until: int | None = None
    keys: tuple[str, ...] = ()
    search: str | None = None  # full-text query (SQLite FTS5 syntax)
    sql: str | None = None  # any query returning a key or study_key column


def select_keys(conn: sqlite3.Connection, selection: Selection) -> list[str]:
    """The keys of the studies that meet every criterion, in bibliography order (the same everywhere)."""
    if selection.since is not None and selection.until is not None and selection.since > selection.until:
        raise SelectionError(f"--since {selection.since} is after --until {selection.until}: no year is in between")
    where, params = [], []

    def among(template: str, values: list[str]) -> None:
        where.append(template.format(values="(SELECT value FROM json_each(?))"))
        params.append(json.dumps(values))

    if selection.conditions:
        among(
            "s.key IN (SELECT study_key FROM condition_studies WHERE condition_id IN {values})",
            _term_ids(conn, "conditions", selection.conditions),
        )
    if selection.designs:
        among("s.design IN {values}", _term_ids(conn, "designs", selection.designs))
    if selection.outcomes:
        among(
            "s.key IN (SELECT study_key FROM study_outcomes WHERE outcome_id IN {values})",
            _term_ids(conn, "outcomes", selection.outcomes),
        )
    if selection.since is not None:
        where.append("s.year >= ?")
        params.append(selection.since)
    if selection.until is not None:
        where.append("s.year <= ?")
        params.append(selection.until)
    if selection.keys:
        among("s.key IN {values}", _known_keys(conn, selection.keys))
    if selection.search:
        where.append("s.rowid IN (SELECT rowid FROM studies_fts WHERE studies_fts MATCH ?)")
        params.append(selection.search)
    if selection.sql:
        among("s.key IN {values}", keys_from_query(conn, selection.sql))
    sql = f"SELECT s.key, a.family, s.year, s.title FROM {WITH_FIRST_AUTHOR} {'WHERE ' + ' AND '.join(where) if where else ''}"
    try:
        rows = conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError as exc:
        if selection.search:
            raise SelectionError(f"search {selection.search!r}: {exc}") from exc
        raise
    return [key for key, *_ in sorted(rows, key=_bibliography_order)]


def _bibliography_order(row: tuple) -> tuple:
    """First author's family name (else the title), year (undated first), title, key; accents and case
    do not count, so Åkeson sorts with the A's."""
    key, family, year, title = row
    title = fold(title or "")
    return _fold_name(family) if family else title, year is not None, year or 0, title, key


_fold_name = lru_cache(maxsize=65536)(fold)  # family names repeat across studies


def keys_from_query(conn: sqlite3.Connection, sql: str) -> list[str]:
    """Run a query and return the values of its ``key`` or ``study_key`` column, first seen first."""
    try:
        cursor = conn.execute(sql)
    except sqlite3.Error as exc:
        raise SelectionError(f"query failed: {exc}") from exc
    names = [d[0] for d in cursor.description or []]
    column = next((names.index(n) for n in KEY_COLUMNS if n in names), None)
    if column is None:
        raise SelectionError(
            f"the query must return a column named {' or '.join(KEY_COLUMNS)} "
            f"(it returned: {', '.join(names) or 'nothing'})"
        )
    return list(dict.fromkeys(row[column] for row in cursor if row[column] is not None))


def _known_keys(conn: sqlite3.Connection, keys: tuple[str, ...]) -> list[str]:
    """The keys, each checked to be in the database; an unknown key is an error with a hint."""
    known = {
        key
        for (key,) in conn.execute(
            "SELECT key FROM studies WHERE key IN (SELECT value FROM json_each(?))", [json.dumps(keys)]
        )
    }
    for key in keys:
        if key not in known:
            all_keys = [k for (k,) in conn.execute("SELECT key FROM studies")]
            close = difflib.get_close_matches(key, all_keys, n=1, cutoff=0.6)
            raise SelectionError(f"no study has the key '{key}'" + (f"; did you mean '{close[0]}'?" if close else ""))
    return list(keys)


def _term_ids(conn: sqlite3.Connection, table: str, given: tuple[str, ...]) -> list[str]:
    """Vocabulary ids for terms given by id or label (any case); an unknown term is an error with a hint."""
    by_name = {}
    for term_id, label in conn.execute(f"SELECT id, label FROM {table}"):
        by_name[term_id.lower()] = term_id
        by_name[label.lower()] = term_id
    ids = []
    for term in given:
        if term.lower() not in by_name:
            close = difflib.get_close_matches(term.lower(), list(by_name), n=1, cutoff=0.6)
            hint = f"; did you mean '{by_name[close[0]]}'?" if close else ""
            raise SelectionError(f"unknown {table[:-1]} '{term}'{hint} (see the {table} table)")
        ids.append(by_name[term.lower()])
    return ids
