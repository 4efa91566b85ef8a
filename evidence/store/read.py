"""What exports and pages read from the database: connections, studies as records, stored BibTeX entries, and
the sources the last load recorded."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import NotAnEvidenceDatabase
from ..fields import PLAIN
from ..merge import Source
from ..records import OutcomeTag, Person, StudyRecord, Tag, TaggedStudy, many_objects
from .schema import SCHEMA_VERSION, schema_problem

if TYPE_CHECKING:
    from sqlite_utils import Database


# How many studies a condition has, tagged with it or a narrower one (``c``: a row of conditions), as the load
# counted them into study_card_facets: pages read the count instead of counting a large table again.
STUDIES_UNDER_CONDITION = (
    "coalesce((SELECT f.count FROM study_card_facets f WHERE f.facet = 'condition_groups' AND f.value = c.label), 0)"
)


def connect_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection to an evidence database; NotAnEvidenceDatabase saying why if the file is not one."""
    if not path.exists():
        raise NotAnEvidenceDatabase(f"{path}: no such database")
    conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
    problem = schema_problem(conn)
    if problem:
        conn.close()
        raise NotAnEvidenceDatabase(f"{path}: {problem}")
    return conn


def is_current(path: Path) -> bool:
    """Whether the database at ``path`` exists and has this version's schema; NotAnEvidenceDatabase if the file
    is not SQLite at all (it is never written over)."""
    if not path.exists():
        return False
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    except sqlite3.DatabaseError as exc:
        raise NotAnEvidenceDatabase(f"{path}: not an SQLite database ({exc}); nothing was written to it") from exc
    finally:
        conn.close()


def read_studies(conn: sqlite3.Connection, keys: Iterable[str]) -> list[TaggedStudy]:
    """The studies with these keys, as they were saved (record, authors, tags, outcomes), in the order
    of ``keys``; keys that are not in the database are skipped. The inverse of ``save_studies``."""
    return list(_iter_studies(conn, keys, curated_only=False))


def studies_for_export(conn: sqlite3.Connection, keys: Iterable[str]) -> Iterator[TaggedStudy]:
    """``read_studies`` as exports need it: with curated tags and outcomes only (rule-made ones are made
    again when an export is loaded), read a batch at a time so that writers can stream."""
    return _iter_studies(conn, keys, curated_only=True)


# Studies are read this many at a time: an export of a million holds one batch of records at once.
READ_BATCH = 2000
# The ``studies`` columns a record is made of, in the order ``_read_batch`` unpacks them.
_RECORD_COLUMNS = (
    "key",
    "source_file",
    "source_line",
    "entry_type",
    "title",
    "title_nocase",
    "more_authors",
    "keywords",
    "publication_types",
    "mesh_headings",
    "extra",
    "design",
    "design_provenance",
    "design_source",
    *PLAIN,
)


def _iter_studies(conn: sqlite3.Connection, keys: Iterable[str], curated_only: bool) -> Iterator[TaggedStudy]:
    unique = list(dict.fromkeys(keys))
    people: dict[int, Person] = {}  # by author id, one object per name: authors repeat across studies
    for start in range(0, len(unique), READ_BATCH):
        with many_objects():
            batch = _read_batch(conn, unique[start : start + READ_BATCH], people, curated_only)
        yield from batch


def _read_batch(
    conn: sqlite3.Connection, keys: list[str], people: dict[int, Person], curated_only: bool
) -> list[TaggedStudy]:
    wanted = json.dumps(keys)
    selected = "study_key IN (SELECT value FROM json_each(?))"
    tags = selected + (" AND provenance = 'curated'" if curated_only else "")
    author_ids: dict[str, list[int]] = {}
    for key, author_id in conn.execute(
        f"SELECT study_key, author_id FROM study_authors WHERE {selected} ORDER BY study_key, position", [wanted]
    ):
        author_ids.setdefault(key, []).append(author_id)
    new = {i for ids in author_ids.values() for i in ids} - people.keys()
    for author_id, *name in conn.execute(
        "SELECT id, family, given, particle, suffix FROM authors WHERE id IN (SELECT value FROM json_each(?))",
        [json.dumps(list(new))],
    ):
        people[author_id] = Person(*name)
    conditions: dict[str, list[Tag]] = {}
    for key, condition, provenance, source in conn.execute(
        f"SELECT study_key, condition_id, provenance, source FROM study_conditions WHERE {tags} ORDER BY rowid",
        [wanted],
    ):
        conditions.setdefault(key, []).append(Tag("condition", condition, provenance, source))
    outcomes = _outcomes(conn, wanted, curated_only)
    studies = {}
    for (
        key,
        source_file,
        source_line,
        entry_type,
        title,
        title_nocase,
        more_authors,
        keywords,
        publication_types,
        mesh_headings,
        extra,
        design,
        design_provenance,
        design_source,
        *plain,
    ) in conn.execute(
        f"SELECT {', '.join(_RECORD_COLUMNS)} FROM studies WHERE key IN (SELECT value FROM json_each(?))", [wanted]
    ):
        record = StudyRecord(
            key=key,
            source_file=source_file,
            source_line=source_line,
            entry_type=entry_type,
            title=title,
            title_nocase=[tuple(span) for span in _json(title_nocase)],
            authors=[people[i] for i in author_ids.get(key, ())],
            more_authors=bool(more_authors),
            keywords=keywords.split(", ") if keywords else [],
            publication_types=_json(publication_types),
            mesh_headings=_json(mesh_headings),
            extra=_json(extra),
        )
        for name, value in zip(PLAIN, plain):  # cheaper than passing them as keywords
            setattr(record, name, value)
        if curated_only and design_provenance != "curated":
            design = None
        studies[key] = TaggedStudy(
            record,
            Tag("design", design, design_provenance, design_source) if design else None,
            conditions.get(key, []),
            outcomes.get(key, []),
        )
    return [studies[k] for k in keys if k in studies]


def _outcomes(conn: sqlite3.Connection, wanted: str, curated_only: bool) -> dict[str, list[OutcomeTag]]:
    """The outcomes of the studies whose keys are in the JSON array ``wanted``, by key."""
    outcomes: dict[str, list[OutcomeTag]] = {}
    for key, *outcome in conn.execute(
        "SELECT study_key, outcome_id, measure, comparator, direction, finding, provenance, source, condition_id "
        "FROM study_outcomes WHERE study_key IN (SELECT value FROM json_each(?))"
        + (" AND provenance = 'curated'" if curated_only else "")
        + " ORDER BY study_key, position",
        [wanted],
    ):
        outcomes.setdefault(key, []).append(OutcomeTag(*outcome))
    return outcomes


def bibtex_entries(conn: sqlite3.Connection, keys: list[str]) -> list[tuple[str, str, list[OutcomeTag]]]:
    """Each study's BibTeX entry as exports write it, made at load time, and its curated outcomes (for the
    outcomes file beside an export): (key, entry, outcomes) in the order of ``keys``, missing keys skipped."""
    wanted = json.dumps(keys)
    entries = dict(
        conn.execute(
            "SELECT study_key, entry FROM study_bibtex WHERE study_key IN (SELECT value FROM json_each(?))", [wanted]
        )
    )
    outcomes = _outcomes(conn, wanted, curated_only=True)
    return [(key, entries[key], outcomes.get(key, [])) for key in keys if key in entries]


def _json(text: str):
    """A JSON column's value; the empty list and object, which most rows hold, without parsing."""
    return [] if text == "[]" else {} if text == "{}" else json.loads(text)


def read_sources(db: Database, keep: Callable[[str, str], bool]) -> Iterator[tuple[Source | None, str, str, int]]:
    """The sources the last load recorded, in the order they were first loaded, as (source, file, entry key,
    load order); the source is None (its record not read) where ``keep(file, entry key)`` is false."""
    for file, key, order, text in db.execute(
        "SELECT file, entry_key, load_order, record FROM study_sources ORDER BY load_order"
    ):
        if not keep(file, key):
            yield None, file, key, order
            continue
        saved = json.loads(text)
        fields = saved["record"]
        fields["authors"] = [Person(**p) for p in fields["authors"]]
        fields["tags"] = [Tag(**t) for t in fields["tags"]]
        fields["title_nocase"] = [tuple(span) for span in fields["title_nocase"]]
        yield Source(StudyRecord(**fields), [OutcomeTag(**o) for o in saved["outcomes"]], order), file, key, order
