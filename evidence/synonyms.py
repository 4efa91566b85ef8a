"""Conditions named by what a person types: an id, label, synonym (MeSH entry terms and common wording) or MeSH
heading, in any case ("lumbago", "CLBP", "chronic back pain"); failing those, the conditions one of whose names
has a word beginning like the text ("pregnant" finds the pregnancy conditions). One SQL query over the
condition_synonyms table serves search, the condition picker, the canned queries and ``--condition``."""

from __future__ import annotations

import sqlite3


def conditions_named(parameter: str) -> str:
    """SQL of the ids of the conditions that the text in the named ``parameter`` (``:parameter``) names."""
    text = f"lower(trim(:{parameter}))"
    exact = f"SELECT condition_id FROM condition_synonyms WHERE lower(name) = {text}"
    # a word of a name that starts with the text, less its last letter when it is longer than four ("pregnan")
    start = f"' ' || substr({text}, 1, max(4, length({text}) - 1))"
    return f"""{exact}
    UNION
    SELECT condition_id FROM condition_synonyms
    WHERE NOT EXISTS ({exact}) AND length({text}) >= 3
      AND instr(' ' || replace(lower(name), '-', ' '), {start}) > 0"""


def condition_ids(conn: sqlite3.Connection, text: str) -> list[str]:
    """Ids of the conditions ``text`` names, in tree order; empty if it names none."""
    rows = conn.execute(
        f"SELECT id FROM conditions WHERE id IN ({conditions_named('text')}) ORDER BY tree_path", {"text": text}
    )
    return [condition_id for (condition_id,) in rows]


def synonym_rows(condition: dict) -> list[dict]:
    """The condition_synonyms rows of a vocabulary term: each of its names once, with its kind."""
    names = [(condition["id"], "id"), (condition["label"], "label")]
    names += [(synonym, "synonym") for synonym in condition["synonyms"]]
    names += [(heading, "MeSH heading") for heading in condition["mesh_headings"] if isinstance(heading, str)]
    seen, rows = set(), []
    for name, kind in names:
        if name.lower() not in seen:
            seen.add(name.lower())
            rows.append({"condition_id": condition["id"], "name": name, "kind": kind})
    return rows
