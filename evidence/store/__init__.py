"""The database: its schema (here and only here), and the functions that write to it."""

from __future__ import annotations

import hashlib
import json
import marshal
import os
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import NotAnEvidenceDatabase
from ..evidence_layer.claims import VERDICTS, EvidenceLayer, check_details
from ..merge import MergedStudy, Source
from ..records import LoadError, OutcomeTag, Person, StudyRecord, Tag, TaggedStudy, many_objects, shallow_dict
from ..tagging.vocabulary import DIRECTIONS, Vocabulary

if TYPE_CHECKING:  # sqlite-utils is imported where a database is built: exports read with sqlite3 alone
    from sqlite_utils import Database

# Raise when a table changes shape: a database of another version is rebuilt rather than patched.
SCHEMA_VERSION = 12

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS conditions (
    id TEXT PRIMARY KEY,
    label TEXT NOT NULL,
    mesh_id TEXT,
    parent TEXT REFERENCES conditions(id),
    tree_path TEXT NOT NULL,
    synonyms TEXT NOT NULL DEFAULT '[]',
    description TEXT
);
CREATE TABLE IF NOT EXISTS condition_ancestors (
    condition_id TEXT NOT NULL REFERENCES conditions(id),
    ancestor_id TEXT NOT NULL REFERENCES conditions(id),
    depth INTEGER NOT NULL,
    PRIMARY KEY (condition_id, ancestor_id)
);
CREATE TABLE IF NOT EXISTS designs (
    id TEXT PRIMARY KEY,
    label TEXT NOT NULL,
    mesh_id TEXT,
    mesh_label TEXT,
    evidence_level INTEGER,
    rank INTEGER NOT NULL,
    description TEXT
);
CREATE TABLE IF NOT EXISTS outcomes (
    id TEXT PRIMARY KEY,
    label TEXT NOT NULL,
    domain TEXT NOT NULL,
    description TEXT
);
CREATE TABLE IF NOT EXISTS comparators (
    id TEXT PRIMARY KEY,
    label TEXT NOT NULL,
    description TEXT
);
CREATE TABLE IF NOT EXISTS studies (
    key TEXT PRIMARY KEY,
    entry_type TEXT NOT NULL,
    title TEXT NOT NULL,
    title_nocase TEXT NOT NULL DEFAULT '[]',
    author_list TEXT,
    more_authors INTEGER NOT NULL DEFAULT 0,
    year INTEGER,
    month TEXT,
    journal TEXT,
    journal_abbrev TEXT,
    volume TEXT,
    issue TEXT,
    pages TEXT,
    doi TEXT,
    pmid TEXT,
    pmcid TEXT,
    issn TEXT,
    url TEXT,
    abstract TEXT,
    keywords TEXT,
    publication_types TEXT NOT NULL DEFAULT '[]',
    mesh_headings TEXT NOT NULL DEFAULT '[]',
    design TEXT REFERENCES designs(id),
    design_provenance TEXT CHECK (design_provenance IN ('curated', 'rule')),
    design_source TEXT,
    population TEXT,
    participants INTEGER,
    included_studies INTEGER,
    finding TEXT,
    note TEXT,
    extra TEXT NOT NULL DEFAULT '{{}}',
    source_file TEXT NOT NULL,
    source_line INTEGER NOT NULL,
    content_hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS study_bibtex (
    study_key TEXT PRIMARY KEY REFERENCES studies(key),
    entry TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS authors (
    id INTEGER PRIMARY KEY,
    family TEXT NOT NULL,
    given TEXT NOT NULL DEFAULT '',
    particle TEXT NOT NULL DEFAULT '',
    suffix TEXT NOT NULL DEFAULT '',
    display TEXT NOT NULL,
    UNIQUE (family, given, particle, suffix)
);
CREATE TABLE IF NOT EXISTS study_authors (
    study_key TEXT NOT NULL REFERENCES studies(key),
    position INTEGER NOT NULL,
    author_id INTEGER NOT NULL REFERENCES authors(id),
    PRIMARY KEY (study_key, position)
);
CREATE TABLE IF NOT EXISTS study_conditions (
    study_key TEXT NOT NULL REFERENCES studies(key),
    condition_id TEXT NOT NULL REFERENCES conditions(id),
    provenance TEXT NOT NULL CHECK (provenance IN ('curated', 'rule')),
    source TEXT NOT NULL,
    PRIMARY KEY (study_key, condition_id)
);
CREATE TABLE IF NOT EXISTS study_outcomes (
    study_key TEXT NOT NULL REFERENCES studies(key),
    position INTEGER NOT NULL,
    outcome_id TEXT NOT NULL REFERENCES outcomes(id),
    measure TEXT NOT NULL,
    comparator TEXT NOT NULL REFERENCES comparators(id),
    direction TEXT NOT NULL CHECK (direction IN ({", ".join(f"'{d}'" for d in DIRECTIONS)})),
    finding TEXT NOT NULL,
    condition_id TEXT REFERENCES conditions(id),
    provenance TEXT NOT NULL CHECK (provenance IN ('curated', 'rule')),
    source TEXT NOT NULL,
    PRIMARY KEY (study_key, position)
);
CREATE TABLE IF NOT EXISTS study_sources (
    study_key TEXT NOT NULL REFERENCES studies(key),
    file TEXT NOT NULL,
    line INTEGER NOT NULL,
    format TEXT NOT NULL,
    entry_key TEXT NOT NULL,
    is_primary INTEGER NOT NULL,
    matched_on TEXT NOT NULL CHECK (matched_on IN ('first', 'doi', 'pmid', 'title-year-author')),
    load_order INTEGER NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (file, entry_key)
);
CREATE TABLE IF NOT EXISTS field_disagreements (
    study_key TEXT NOT NULL REFERENCES studies(key),
    field TEXT NOT NULL,
    kept_value TEXT NOT NULL,
    kept_source TEXT NOT NULL,
    other_value TEXT NOT NULL,
    other_source TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sources (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    title TEXT,
    publisher TEXT,
    kind TEXT NOT NULL,
    topics TEXT NOT NULL DEFAULT '[]',
    description TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS claims (
    id TEXT PRIMARY KEY,
    source_id TEXT NOT NULL REFERENCES sources(id),
    locator TEXT NOT NULL,
    claim TEXT NOT NULL,
    verdict TEXT NOT NULL CHECK (verdict IN ({", ".join(f"'{v}'" for v in VERDICTS)})),
    reason TEXT NOT NULL,
    details_checked INTEGER NOT NULL DEFAULT 0,
    details_wrong INTEGER NOT NULL DEFAULT 0,
    source_file TEXT NOT NULL,
    source_line INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS claim_studies (
    claim_id TEXT NOT NULL REFERENCES claims(id),
    study_key TEXT NOT NULL REFERENCES studies(key),
    PRIMARY KEY (claim_id, study_key)
);
CREATE TABLE IF NOT EXISTS claim_documents (
    claim_id TEXT NOT NULL REFERENCES claims(id),
    position INTEGER NOT NULL,
    title TEXT NOT NULL,
    publisher TEXT,
    year INTEGER,
    url TEXT,
    PRIMARY KEY (claim_id, position)
);
CREATE TABLE IF NOT EXISTS claim_conditions (
    claim_id TEXT NOT NULL REFERENCES claims(id),
    condition_id TEXT NOT NULL REFERENCES conditions(id),
    PRIMARY KEY (claim_id, condition_id)
);
CREATE TABLE IF NOT EXISTS claim_checks (
    claim_id TEXT NOT NULL REFERENCES claims(id),
    study_key TEXT NOT NULL REFERENCES studies(key),
    field TEXT NOT NULL,
    stated TEXT NOT NULL,
    recorded TEXT NOT NULL,
    agrees INTEGER NOT NULL,
    PRIMARY KEY (claim_id, study_key, field)
);
CREATE TABLE IF NOT EXISTS review_includes (
    review_key TEXT NOT NULL REFERENCES studies(key),
    study_key TEXT NOT NULL REFERENCES studies(key),
    evidence TEXT NOT NULL,
    PRIMARY KEY (review_key, study_key)
);
CREATE TABLE IF NOT EXISTS load_errors (
    file TEXT NOT NULL,
    seq INTEGER NOT NULL,
    line INTEGER,
    entry_key TEXT,
    severity TEXT NOT NULL CHECK (severity IN ('error', 'warning')),
    message TEXT NOT NULL,
    raw TEXT,
    PRIMARY KEY (file, seq)
);
CREATE INDEX IF NOT EXISTS idx_studies_year ON studies(year);
CREATE INDEX IF NOT EXISTS idx_studies_design ON studies(design);
CREATE INDEX IF NOT EXISTS idx_studies_journal ON studies(journal);
CREATE INDEX IF NOT EXISTS idx_studies_doi ON studies(doi);
CREATE INDEX IF NOT EXISTS idx_studies_pmid ON studies(pmid);
CREATE INDEX IF NOT EXISTS idx_studies_source_file ON studies(source_file);
CREATE INDEX IF NOT EXISTS idx_study_authors_author ON study_authors(author_id);
CREATE INDEX IF NOT EXISTS idx_study_conditions_condition ON study_conditions(condition_id);
CREATE INDEX IF NOT EXISTS idx_study_outcomes_outcome ON study_outcomes(outcome_id);
CREATE INDEX IF NOT EXISTS idx_condition_ancestors_ancestor ON condition_ancestors(ancestor_id);
CREATE INDEX IF NOT EXISTS idx_study_sources_study ON study_sources(study_key);
CREATE INDEX IF NOT EXISTS idx_claim_studies_study ON claim_studies(study_key);
CREATE INDEX IF NOT EXISTS idx_review_includes_study ON review_includes(study_key);
CREATE INDEX IF NOT EXISTS idx_field_disagreements_study ON field_disagreements(study_key);
"""

# One row per study for browsing, kept as a table (refreshed by each load) so that facets and sorting on a
# million studies use indexes instead of computing every card's JSON arrays on each request.
STUDY_CARDS = """
CREATE TABLE IF NOT EXISTS study_cards (
    rowid INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    title TEXT,
    authors TEXT,
    year INTEGER,
    journal TEXT,
    design TEXT,
    evidence_level INTEGER,
    conditions TEXT,
    condition_groups TEXT,
    outcomes TEXT,
    comparators TEXT,
    directions TEXT,
    reviewed_in TEXT,
    population TEXT,
    participants INTEGER,
    included_studies INTEGER,
    finding TEXT,
    doi TEXT,
    pmid TEXT,
    pmcid TEXT
);
CREATE INDEX IF NOT EXISTS idx_study_cards_design ON study_cards(design);
CREATE INDEX IF NOT EXISTS idx_study_cards_evidence_level ON study_cards(evidence_level);
CREATE INDEX IF NOT EXISTS idx_study_cards_year ON study_cards(year);
CREATE INDEX IF NOT EXISTS idx_study_cards_journal ON study_cards(journal);
CREATE INDEX IF NOT EXISTS idx_study_cards_conditions ON study_cards(conditions);
-- the rowid alone: a search counts its matches (rowid IN the full-text matches) in this narrow index instead of
-- looking each one up among the table's wide rows, two to three times faster
CREATE INDEX IF NOT EXISTS idx_study_cards_rowid ON study_cards(rowid);
"""

STUDY_CARDS_ROWS = """
SELECT
    s.rowid AS rowid,
    s.key,
    s.title,
    s.author_list AS authors,
    s.year,
    s.journal,
    d.label AS design,
    d.evidence_level,
    (SELECT json_group_array(label) FROM (
        SELECT c.label FROM study_conditions sc JOIN conditions c ON c.id = sc.condition_id
        WHERE sc.study_key = s.key ORDER BY c.label)) AS conditions,
    (SELECT json_group_array(label) FROM (
        SELECT DISTINCT c.label FROM study_conditions sc
        JOIN condition_ancestors ca ON ca.condition_id = sc.condition_id
        JOIN conditions c ON c.id = ca.ancestor_id
        WHERE sc.study_key = s.key ORDER BY c.label)) AS condition_groups,
    (SELECT json_group_array(label) FROM (
        SELECT DISTINCT o.label FROM study_outcomes so JOIN outcomes o ON o.id = so.outcome_id
        WHERE so.study_key = s.key ORDER BY o.label)) AS outcomes,
    (SELECT json_group_array(label) FROM (
        SELECT DISTINCT k.label FROM study_outcomes so JOIN comparators k ON k.id = so.comparator
        WHERE so.study_key = s.key ORDER BY k.label)) AS comparators,
    (SELECT json_group_array(direction) FROM (
        SELECT DISTINCT direction FROM study_outcomes so
        WHERE so.study_key = s.key ORDER BY direction)) AS directions,
    (SELECT json_group_array(review_key) FROM (
        SELECT review_key FROM review_includes ri WHERE ri.study_key = s.key ORDER BY review_key)) AS reviewed_in,
    s.population,
    s.participants,
    s.included_studies,
    s.finding,
    s.doi,
    s.pmid,
    s.pmcid
FROM studies s LEFT JOIN designs d ON d.id = s.design
ORDER BY s.rowid
"""

# Studies per condition (counting narrower conditions) and design, for the evidence map; refreshed by each load.
EVIDENCE_MAP_CELLS = """
CREATE TABLE IF NOT EXISTS evidence_map_cells (
    condition_id TEXT NOT NULL,
    design TEXT,
    studies INTEGER NOT NULL
);
"""

# How many study cards have each value of each default facet of the study cards page (an array column counts
# the cards whose array holds the value), so that the page without filters reads them instead of counting a
# million cards on each request; refreshed by each load. `value` has no type, so years stay integers.
CARD_FACETS = {"conditions": "array", "design": "column", "evidence_level": "column", "year": "column",
               "journal": "column"}
STUDY_CARD_FACETS = """
CREATE TABLE IF NOT EXISTS study_card_facets (
    facet TEXT NOT NULL,
    value,
    count INTEGER NOT NULL,
    PRIMARY KEY (facet, value)
);
"""


def array_value_counts(column: str, rows_sql: str) -> str:
    """SQL of (value, count): for each value in the JSON arrays of ``column`` of the rows of ``rows_sql``, how
    many rows hold it. Counted over the distinct arrays, not every row: on a million study cards, whose
    conditions come in a few hundred combinations, that reads an index instead of unpacking a million arrays."""
    return f"""
        WITH arrays AS (SELECT "{column}" AS array, count(*) AS rows FROM ({rows_sql}) GROUP BY "{column}")
        SELECT value, sum(rows) AS count FROM (SELECT DISTINCT arrays.array, arrays.rows, j.value
                                               FROM arrays JOIN json_each(arrays.array) j)
        GROUP BY value"""


# Every study under each condition (tagged with it or a narrower one), in the order "studies for a condition"
# lists them, so that the query reads one index range instead of joining and sorting on each request.
CONDITION_STUDIES = """
CREATE TABLE IF NOT EXISTS condition_studies (
    condition_id TEXT NOT NULL,
    study_key TEXT NOT NULL,
    tagged_conditions TEXT NOT NULL,
    evidence_order INTEGER NOT NULL,
    design_rank INTEGER NOT NULL,
    year INTEGER,
    PRIMARY KEY (condition_id, study_key)
);
CREATE INDEX IF NOT EXISTS idx_condition_studies_order
    ON condition_studies(condition_id, evidence_order, design_rank, year DESC, study_key);
"""

CONDITION_STUDY_ROWS = """
SELECT ancestor_id, study_key, group_concat(label, '; '), evidence_order, design_rank, year FROM (
    SELECT ca.ancestor_id, sc.study_key, c.label, coalesce(d.evidence_level, 9) AS evidence_order,
           coalesce(d.rank, 99) AS design_rank, s.year
    FROM study_conditions sc
    JOIN condition_ancestors ca ON ca.condition_id = sc.condition_id
    JOIN conditions c ON c.id = sc.condition_id
    JOIN studies s ON s.key = sc.study_key
    LEFT JOIN designs d ON d.id = s.design
    ORDER BY ca.ancestor_id, sc.study_key, c.label)
GROUP BY ancestor_id, study_key
"""

EVIDENCE_MAP_CELL_ROWS = """
SELECT ca.ancestor_id, s.design, count(DISTINCT s.key)
FROM condition_ancestors ca
JOIN study_conditions sc ON sc.condition_id = ca.condition_id
JOIN studies s ON s.key = sc.study_key
GROUP BY ca.ancestor_id, s.design
"""


CLAIM_CARDS_VIEW = """
CREATE VIEW claim_cards AS
SELECT
    c.id,
    src.name AS article,
    c.locator,
    c.claim,
    c.verdict,
    c.reason,
    (SELECT json_group_array(study_key) FROM (
        SELECT study_key FROM claim_studies cs WHERE cs.claim_id = c.id ORDER BY study_key)) AS studies,
    (SELECT json_group_array(title) FROM (
        SELECT title FROM claim_documents cd WHERE cd.claim_id = c.id ORDER BY position)) AS documents,
    (SELECT json_group_array(label) FROM (
        SELECT k.label FROM claim_conditions cc JOIN conditions k ON k.id = cc.condition_id
        WHERE cc.claim_id = c.id ORDER BY k.label)) AS conditions,
    (SELECT json_group_array(detail) FROM (
        SELECT ch.field || ': stated ' || ch.stated || ', recorded ' || ch.recorded || ' (' || ch.study_key || ')'
            AS detail
        FROM claim_checks ch WHERE ch.claim_id = c.id AND NOT ch.agrees ORDER BY ch.study_key, ch.field)) AS mismatches,
    c.source_id
FROM claims c JOIN sources src ON src.id = c.source_id
"""

VIEWS = {"claim_cards": CLAIM_CARDS_VIEW}

FTS_COLUMNS = ["title", "abstract", "keywords", "finding", "author_list"]


def ensure_schema(db: Database) -> None:
    """Create every table, index, view and the full-text index; safe to run on an existing database."""
    db.executescript(SCHEMA + STUDY_CARDS + STUDY_CARD_FACETS + CONDITION_STUDIES + EVIDENCE_MAP_CELLS)
    for name, sql in VIEWS.items():
        view = db.execute("SELECT sql FROM sqlite_master WHERE type = 'view' AND name = ?", [name]).fetchone()
        if view is None or view[0] != sql.strip():
            db.execute(f"DROP VIEW IF EXISTS {name}")
            db.execute(sql.strip())
    if not db["studies"].detect_fts():
        db["studies"].enable_fts(FTS_COLUMNS, tokenize="porter", create_triggers=True)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def schema_problem(conn: sqlite3.Connection) -> str | None:
    """Why the database behind ``conn`` cannot be read as an evidence database, or None if it can."""
    try:
        has_studies = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'studies'").fetchone()
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        return f"not an SQLite database ({exc})"
    if not has_studies:
        return "not an evidence database (it has no studies table); build one with `evidence load`"
    if version != SCHEMA_VERSION:
        return "built by another version of evidence; rebuild it with `evidence load`"
    return None


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
    """Whether the database at ``path`` exists and has this version's schema."""
    if not path.exists():
        return False
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        conn.close()


@contextmanager
def building(path: Path) -> Iterator[Database]:
    """A writable copy of the database at ``path`` (a new one if it is missing or of another schema
    version), swapped in only if the block succeeds.

    A running Datasette keeps reading the old file until the swap, so it never sees a half-written build.
    """
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    if is_current(path):
        source, target = sqlite3.connect(path), sqlite3.connect(tmp)
        source.backup(target)
        source.close()
        target.close()
    from sqlite_utils import Database

    db = Database(tmp)
    try:
        db.execute("PRAGMA foreign_keys = ON")
        # a failed build is thrown away whole, so the copy needs no journal on disk, and is synced once at the end
        db.execute("PRAGMA journal_mode = MEMORY")
        db.execute("PRAGMA synchronous = OFF")
        ensure_schema(db)
        yield db
        db.conn.commit()
        db.close()
        with open(tmp, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(tmp, path)
    except BaseException:
        db.close()
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def indexes_after(db: Database) -> Iterator[None]:
    """On a database without studies, build the secondary indexes and the full-text index once after the
    block's inserts instead of keeping them up to date row by row: several times faster for a large load."""
    if db.execute("SELECT 1 FROM studies LIMIT 1").fetchone():
        yield
        return
    deferred = db.execute("SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') "
                          "AND sql IS NOT NULL ORDER BY type, name").fetchall()
    for kind, name, _ in deferred:
        db.execute(f'DROP {kind} "{name}"')
    yield
    db.execute("INSERT INTO studies_fts (studies_fts) VALUES ('rebuild')")
    for _, _, sql in deferred:
        db.execute(sql)


def save_vocabulary(db: Database, vocab: Vocabulary) -> None:
    """Write the vocabularies (insert new terms, update changed ones)."""
    conditions = vocab.terms["conditions"]
    db["conditions"].upsert_all(
        ({"id": t["id"], "label": t["label"], "mesh_id": t.get("mesh_id"),
          "parent": (t["parents"] or [None])[0], "tree_path": vocab.tree_path(t["id"]),
          "synonyms": json.dumps(t["synonyms"]), "description": t.get("description")}
         for t in conditions.values()), pk="id")
    db.execute("DELETE FROM condition_ancestors")
    db["condition_ancestors"].insert_all(
        {"condition_id": c, "ancestor_id": a, "depth": d}
        for c in conditions for a, d in sorted(vocab.ancestors(c).items()))
    db["designs"].upsert_all(
        ({"id": t["id"], "label": t["label"], "mesh_id": t.get("mesh_id"), "mesh_label": t.get("mesh_label"),
          "evidence_level": t.get("evidence_level"), "rank": t["rank"], "description": t.get("description")}
         for t in vocab.terms["designs"].values()), pk="id")
    db["outcomes"].upsert_all(
        ({"id": t["id"], "label": t["label"], "domain": t["domain"], "description": t.get("description")}
         for t in vocab.terms["outcomes"].values()), pk="id")
    db["comparators"].upsert_all(
        ({"id": t["id"], "label": t["label"], "description": t.get("description")}
         for t in vocab.terms["comparators"].values()), pk="id")


def refresh_summaries(db: Database) -> None:
    """Rebuild what is computed from the studies and their tags: the study cards and their facet counts, the
    studies under each condition and the evidence map's counts."""
    db.execute("DELETE FROM study_cards")
    db.execute(f"INSERT INTO study_cards {STUDY_CARDS_ROWS}")
    refresh_card_facets(db.conn)
    db.execute("DELETE FROM condition_studies")
    db.execute(f"INSERT INTO condition_studies {CONDITION_STUDY_ROWS}")
    db.execute("DELETE FROM evidence_map_cells")
    db.execute(f"INSERT INTO evidence_map_cells {EVIDENCE_MAP_CELL_ROWS}")


def refresh_card_facets(conn: sqlite3.Connection) -> None:
    """Count the study cards' default facets (CARD_FACETS) into study_card_facets."""
    conn.execute("DELETE FROM study_card_facets")
    for column, kind in CARD_FACETS.items():
        counts = (array_value_counts(column, "SELECT * FROM study_cards") if kind == "array" else
                  f'SELECT "{column}", count(*) FROM study_cards WHERE "{column}" IS NOT NULL GROUP BY "{column}"')
        conn.execute(f"INSERT INTO study_card_facets SELECT ?, * FROM ({counts})", [column])


def prune_vocabulary(db: Database, vocab: Vocabulary) -> None:
    """Drop terms that left the vocabularies, unless a study (from a file not reloaded) still uses them."""
    for kind, column, table in (("conditions", "condition_id", "study_conditions"),
                                ("conditions", "condition_id", "study_outcomes"),
                                ("outcomes", "outcome_id", "study_outcomes"),
                                ("comparators", "comparator", "study_outcomes"),
                                ("designs", "design", "studies")):
        ids = list(vocab.terms[kind])
        db.execute(f"DELETE FROM {kind} WHERE id NOT IN ({', '.join('?' * len(ids))}) "
                   f"AND id NOT IN (SELECT {column} FROM {table} WHERE {column} IS NOT NULL)", ids)


# Columns of ``studies`` that are StudyRecord attributes of the same name and value.
_PLAIN_COLUMNS = ("journal", "journal_abbrev", "year", "month", "volume", "issue", "pages", "doi", "pmid",
                  "pmcid", "issn", "url", "abstract", "population", "participants", "included_studies",
                  "finding", "note")


def study_row(tagged: TaggedStudy) -> dict:
    """The ``studies`` row for a tagged study (without its hash)."""
    r = tagged.record
    design = tagged.design
    return {
        "key": r.key, "entry_type": r.entry_type, "title": r.title,
        "title_nocase": json.dumps(r.title_nocase, ensure_ascii=False),
        "author_list": ", ".join([p.display for p in r.authors] + (["et al."] if r.more_authors else [])) or None,
        "more_authors": int(r.more_authors),
        **{name: getattr(r, name) for name in _PLAIN_COLUMNS},
        "keywords": ", ".join(r.keywords) or None,
        "publication_types": json.dumps(r.publication_types, ensure_ascii=False),
        "mesh_headings": json.dumps(r.mesh_headings, ensure_ascii=False),
        "design": design.value if design else None,
        "design_provenance": design.provenance if design else None,
        "design_source": design.source if design else None,
        "extra": json.dumps(r.extra, sort_keys=True, ensure_ascii=False),
        "source_file": r.source_file, "source_line": r.source_line,
    }


def content_hash(*rows) -> str:
    """What changes when the study or its tags change: a hash of its rows (its ``studies`` row without the hash,
    BibTeX entry, authors and tags). The entry changes too when the writer does. The rows hold only text,
    numbers, None and tuples and lists of them, which marshal's version 2 writes with their lengths and
    without references to objects met before: the same bytes for the same values, however they were made."""
    return hashlib.sha256(marshal.dumps(rows, 2)).hexdigest()


@dataclass
class StudyRows:
    """What the database holds of one study, made where it is tagged (a worker process) so that saving it
    is mostly inserting: its ``studies`` row (hash included), BibTeX entry, authors by name, tags, sources and
    disagreements."""

    key: str
    content_hash: str
    row: tuple  # values of STUDY_COLUMNS
    bibtex: str
    authors: list[tuple]  # (family, given, particle, suffix, display), in order
    conditions: list[tuple]
    outcomes: list[tuple]
    sources: list[tuple]
    disagreements: list[tuple]
    tags: int


STUDY_COLUMNS = tuple(study_row(TaggedStudy(StudyRecord("", "", 0)))) + ("content_hash",)


def study_rows(tagged: TaggedStudy, study: MergedStudy, bibtex: str) -> StudyRows:
    """The rows of a tagged study, with its entry as BibTeX exports write it, and of the sources it was merged
    from."""
    row = study_row(tagged)
    key = row["key"]
    authors = [(p.family, p.given, p.particle, p.suffix, p.display) for p in tagged.record.authors]
    conditions = [(key, t.value, t.provenance, t.source) for t in tagged.conditions]
    outcomes = [(key, i, o.outcome, o.measure, o.comparator, o.direction, o.finding, o.condition, o.provenance,
                 o.source) for i, o in enumerate(tagged.outcomes, start=1)]
    hashed = content_hash(tuple(row.values()), bibtex, authors, conditions, outcomes)
    return StudyRows(
        key, hashed, (*row.values(), hashed), bibtex, authors, conditions, outcomes,
        [(key, source.record.source_file, source.record.source_line, source.record.source_format, source.record.key,
          position == 0, how, source.order,
          json.dumps({"record": _as_dict(source.record), "outcomes": [shallow_dict(o) for o in source.outcomes]},
                     ensure_ascii=False))
         for position, (source, how) in enumerate(zip(study.sources, study.matched_on))],
        [(key, d.field, d.kept_value, d.kept_source, d.other_value, d.other_source) for d in study.disagreements],
        len(tagged.conditions) + len(tagged.outcomes) + (tagged.design is not None))


# Rows are written in batches of this many studies.
BATCH = 2000


def save_studies(db: Database, studies: Iterable[StudyRows],
                 progress: Callable[[int], None] | None = None) -> Counter:
    """Insert or update the studies with their authors and tags, in batches; counts each study as
    added, updated or unchanged (same content hash as stored). Records every source of every study
    (file, line, format, how it was matched, the record as read) and where sources disagree, replacing
    what the last load recorded. ``progress`` gets the number done."""
    conn = db.conn
    conn.execute("DELETE FROM study_sources")
    conn.execute("DELETE FROM field_disagreements")
    stored = dict(conn.execute("SELECT key, content_hash FROM studies"))
    authors = _AuthorIds(conn)
    counts: Counter = Counter()
    batch = _Rows(authors)
    for done, rows in enumerate(studies, start=1):
        previous = stored.get(rows.key)
        if previous == rows.content_hash:
            counts["unchanged"] += 1
        else:
            counts["updated" if previous else "added"] += 1
            batch.add(rows, replaces=previous is not None)
        batch.sources += rows.sources
        batch.disagreements += rows.disagreements
        if done % BATCH == 0:
            batch.write(conn)
            batch = _Rows(authors)
            if progress:
                progress(done)
    batch.write(conn)
    if progress:
        progress(counts.total())
    return counts


class _AuthorIds:
    """Author ids by name: those stored, and those given to new names (the next integer, as SQLite would)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        # by the name's parts joined in one string: a large load holds many names
        self.ids = {"\x1f".join(names): author_id for *names, author_id in
                    conn.execute("SELECT family, given, particle, suffix, id FROM authors")}
        self.next = max(self.ids.values(), default=0) + 1
        self.new: list[tuple] = []  # (id, family, given, particle, suffix, display) not yet written

    def of(self, name: tuple) -> int:
        """The id of (family, given, particle, suffix, display)."""
        names = "\x1f".join(name[:4])
        author_id = self.ids.get(names)
        if author_id is None:
            author_id = self.ids[names] = self.next
            self.next += 1
            self.new.append((author_id, *name))
        return author_id


class _Rows:
    """The rows of a batch of studies, written together (those of unchanged studies: their sources only)."""

    def __init__(self, authors: _AuthorIds) -> None:
        self.author_ids = authors
        self.replaced: list[str] = []
        self.studies: list[tuple] = []
        self.bibtex: list[tuple] = []
        self.authors: list[tuple] = []
        self.conditions: list[tuple] = []
        self.outcomes: list[tuple] = []
        self.sources: list[tuple] = []
        self.disagreements: list[tuple] = []

    def add(self, rows: StudyRows, replaces: bool) -> None:
        if replaces:
            self.replaced.append(rows.key)
        self.studies.append(rows.row)
        self.bibtex.append((rows.key, rows.bibtex))
        self.authors += [(rows.key, position, self.author_ids.of(name)) for position, name in enumerate(rows.authors, start=1)]
        self.conditions += rows.conditions
        self.outcomes += rows.outcomes

    def write(self, conn: sqlite3.Connection) -> None:
        _delete_links(conn, self.replaced)
        updates = ", ".join(f"{c} = excluded.{c}" for c in STUDY_COLUMNS if c != "key")
        conn.executemany(f"INSERT INTO studies ({', '.join(STUDY_COLUMNS)}) VALUES ({', '.join('?' * len(STUDY_COLUMNS))}) "
                         f"ON CONFLICT (key) DO UPDATE SET {updates}", self.studies)
        conn.executemany("INSERT INTO study_bibtex (study_key, entry) VALUES (?, ?)", self.bibtex)
        conn.executemany("INSERT INTO authors (id, family, given, particle, suffix, display) VALUES (?, ?, ?, ?, ?, ?)",
                         self.author_ids.new)
        self.author_ids.new = []
        conn.executemany("INSERT INTO study_authors (study_key, position, author_id) VALUES (?, ?, ?)", self.authors)
        conn.executemany("INSERT INTO study_conditions (study_key, condition_id, provenance, source) VALUES (?, ?, ?, ?)",
                         self.conditions)
        conn.executemany("INSERT INTO study_outcomes (study_key, position, outcome_id, measure, comparator, direction, "
                         "finding, condition_id, provenance, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", self.outcomes)
        conn.executemany("INSERT INTO study_sources (study_key, file, line, format, entry_key, is_primary, matched_on, "
                         "load_order, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", self.sources)
        conn.executemany("INSERT INTO field_disagreements (study_key, field, kept_value, kept_source, other_value, "
                         "other_source) VALUES (?, ?, ?, ?, ?, ?)", self.disagreements)


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
_RECORD_COLUMNS = ("key", "source_file", "source_line", "entry_type", "title", "title_nocase", "more_authors",
                   "keywords", "publication_types", "mesh_headings", "extra", "design", "design_provenance",
                   "design_source", *_PLAIN_COLUMNS)


def _iter_studies(conn: sqlite3.Connection, keys: Iterable[str], curated_only: bool) -> Iterator[TaggedStudy]:
    unique = list(dict.fromkeys(keys))
    people: dict[int, Person] = {}  # by author id, one object per name: authors repeat across studies
    for start in range(0, len(unique), READ_BATCH):
        with many_objects():
            batch = _read_batch(conn, unique[start:start + READ_BATCH], people, curated_only)
        yield from batch


def _read_batch(conn: sqlite3.Connection, keys: list[str], people: dict[int, Person],
                curated_only: bool) -> list[TaggedStudy]:
    wanted = json.dumps(keys)
    selected = "study_key IN (SELECT value FROM json_each(?))"
    tags = selected + (" AND provenance = 'curated'" if curated_only else "")
    author_ids: dict[str, list[int]] = {}
    for key, author_id in conn.execute(f"SELECT study_key, author_id FROM study_authors WHERE {selected} "
                                       f"ORDER BY study_key, position", [wanted]):
        author_ids.setdefault(key, []).append(author_id)
    new = {i for ids in author_ids.values() for i in ids} - people.keys()
    for author_id, *name in conn.execute("SELECT id, family, given, particle, suffix FROM authors WHERE id IN "
                                         "(SELECT value FROM json_each(?))", [json.dumps(list(new))]):
        people[author_id] = Person(*name)
    conditions: dict[str, list[Tag]] = {}
    for key, condition, provenance, source in conn.execute(
            f"SELECT study_key, condition_id, provenance, source FROM study_conditions WHERE {tags} ORDER BY rowid",
            [wanted]):
        conditions.setdefault(key, []).append(Tag("condition", condition, provenance, source))
    outcomes = _outcomes(conn, wanted, curated_only)
    studies = {}
    for (key, source_file, source_line, entry_type, title, title_nocase, more_authors, keywords, publication_types,
         mesh_headings, extra, design, design_provenance, design_source, *plain) in conn.execute(
            f"SELECT {', '.join(_RECORD_COLUMNS)} FROM studies WHERE key IN (SELECT value FROM json_each(?))", [wanted]):
        record = StudyRecord(
            key=key, source_file=source_file, source_line=source_line, entry_type=entry_type, title=title,
            title_nocase=[tuple(span) for span in _json(title_nocase)],
            authors=[people[i] for i in author_ids.get(key, ())], more_authors=bool(more_authors),
            keywords=keywords.split(", ") if keywords else [], publication_types=_json(publication_types),
            mesh_headings=_json(mesh_headings), extra=_json(extra))
        for name, value in zip(_PLAIN_COLUMNS, plain):  # cheaper than passing them as keywords
            setattr(record, name, value)
        if curated_only and design_provenance != "curated":
            design = None
        studies[key] = TaggedStudy(record, Tag("design", design, design_provenance, design_source) if design else None,
                                   conditions.get(key, []), outcomes.get(key, []))
    return [studies[k] for k in keys if k in studies]


def _outcomes(conn: sqlite3.Connection, wanted: str, curated_only: bool) -> dict[str, list[OutcomeTag]]:
    """The outcomes of the studies whose keys are in the JSON array ``wanted``, by key."""
    outcomes: dict[str, list[OutcomeTag]] = {}
    for key, *outcome in conn.execute(
            "SELECT study_key, outcome_id, measure, comparator, direction, finding, provenance, source, condition_id "
            "FROM study_outcomes WHERE study_key IN (SELECT value FROM json_each(?))"
            + (" AND provenance = 'curated'" if curated_only else "") + " ORDER BY study_key, position", [wanted]):
        outcomes.setdefault(key, []).append(OutcomeTag(*outcome))
    return outcomes


def bibtex_entries(conn: sqlite3.Connection, keys: list[str]) -> list[tuple[str, str, list[OutcomeTag]]]:
    """Each study's BibTeX entry as exports write it, made at load time, and its curated outcomes (for the
    outcomes file beside an export): (key, entry, outcomes) in the order of ``keys``, missing keys skipped."""
    wanted = json.dumps(keys)
    entries = dict(conn.execute("SELECT study_key, entry FROM study_bibtex WHERE study_key IN "
                                "(SELECT value FROM json_each(?))", [wanted]))
    outcomes = _outcomes(conn, wanted, curated_only=True)
    return [(key, entries[key], outcomes.get(key, [])) for key in keys if key in entries]


def save_evidence_layer(db: Database, layer: EvidenceLayer) -> list[LoadError]:
    """Replace the articles, claims, their links and checks, and review inclusions; a link to a study,
    condition or article the database does not hold is reported (with file and line) and left out."""
    for table in ("claim_checks", "claim_conditions", "claim_documents", "claim_studies", "review_includes",
                  "claims", "sources"):
        db.execute(f"DELETE FROM {table}")
    errors: list[LoadError] = []
    sources_file, claims_file, includes_file = layer.labels
    known = {table: {k for (k,) in db.execute(f"SELECT {column} FROM {table}")}
             for table, column in (("studies", "key"), ("conditions", "id"))}
    db["sources"].insert_all({"id": a.id, "name": a.name, "title": a.title, "publisher": a.publisher, "kind": a.kind,
                              "topics": json.dumps(a.topics, ensure_ascii=False), "description": a.description}
                             for a in layer.articles)
    articles = {a.id for a in layer.articles}
    for claim in layer.claims:
        def reject(message: str) -> None:
            errors.append(LoadError(claims_file, claim.line, claim.id, message))

        if claim.source not in articles:
            reject(f"source '{claim.source}' is not in {sources_file}; the claim was not loaded")
            continue
        studies = [key for key in claim.studies if key in known["studies"]]
        for key in claim.studies:
            if key not in known["studies"]:
                reject(f"cites study '{key}', which is not in the database; that link was left out")
        for condition in claim.conditions:
            if condition not in known["conditions"]:
                reject(f"unknown condition '{condition}'; that link was left out")
        checks = [(key, *result) for key in studies for result in check_details(
            claim, dict(zip(("year", "journal", "journal_abbrev", "included_studies", "participants"), db.execute(
                "SELECT year, journal, journal_abbrev, included_studies, participants FROM studies WHERE key = ?",
                [key]).fetchone())))]
        db["claims"].insert({"id": claim.id, "source_id": claim.source, "locator": claim.locator, "claim": claim.claim,
                             "verdict": claim.verdict, "reason": claim.reason, "details_checked": len(checks),
                             "details_wrong": sum(not agrees for *_, agrees in checks),
                             "source_file": claims_file, "source_line": claim.line})
        db["claim_studies"].insert_all({"claim_id": claim.id, "study_key": key} for key in dict.fromkeys(studies))
        db["claim_documents"].insert_all({"claim_id": claim.id, "position": i, "title": d.title, "publisher": d.publisher,
                                          "year": d.year, "url": d.url} for i, d in enumerate(claim.documents, 1))
        db["claim_conditions"].insert_all({"claim_id": claim.id, "condition_id": c}
                                          for c in dict.fromkeys(claim.conditions) if c in known["conditions"])
        db["claim_checks"].insert_all({"claim_id": claim.id, "study_key": key, "field": name, "stated": stated,
                                       "recorded": recorded, "agrees": agrees}
                                      for key, name, stated, recorded, agrees in checks)
    for inclusion in layer.inclusions:
        missing = [k for k in (inclusion.review, inclusion.study) if k not in known["studies"]]
        if missing:
            errors.append(LoadError(includes_file, inclusion.line, inclusion.review,
                                    f"'{missing[0]}' is not in the database; the inclusion was left out"))
            continue
        db["review_includes"].insert({"review_key": inclusion.review, "study_key": inclusion.study,
                                      "evidence": inclusion.evidence}, replace=True)
    return errors


def _json(text: str):
    """A JSON column's value; the empty list and object, which most rows hold, without parsing."""
    return [] if text == "[]" else {} if text == "{}" else json.loads(text)


def remove_studies_except(db: Database, keys: set[str]) -> int:
    """Delete the studies no input holds any more; returns how many."""
    gone = [k for (k,) in db.execute("SELECT key FROM studies") if k not in keys]
    _delete_links(db.conn, gone)
    for table, column in (("claim_checks", "study_key"), ("claim_studies", "study_key"),  # claims and reviews
                          ("review_includes", "study_key"), ("review_includes", "review_key")):  # no longer link to it
        db.conn.executemany(f"DELETE FROM {table} WHERE {column} = ?", [(key,) for key in gone])
    db.conn.executemany("DELETE FROM studies WHERE key = ?", [(key,) for key in gone])
    return len(gone)


def _as_dict(record: StudyRecord) -> dict:
    """``dataclasses.asdict(record)`` without its deep copies (the same JSON, several times faster)."""
    return {**shallow_dict(record), "authors": [shallow_dict(p) for p in record.authors],
            "tags": [shallow_dict(t) for t in record.tags]}


def read_sources(db: Database, keep: Callable[[str, str], bool]) -> Iterator[tuple[Source | None, str, str, int]]:
    """The sources the last load recorded, in the order they were first loaded, as (source, file, entry key,
    load order); the source is None (its record not read) where ``keep(file, entry key)`` is false."""
    for file, key, order, text in db.execute(
            "SELECT file, entry_key, load_order, record FROM study_sources ORDER BY load_order"):
        if not keep(file, key):
            yield None, file, key, order
            continue
        saved = json.loads(text)
        fields = saved["record"]
        fields["authors"] = [Person(**p) for p in fields["authors"]]
        fields["tags"] = [Tag(**t) for t in fields["tags"]]
        fields["title_nocase"] = [tuple(span) for span in fields["title_nocase"]]
        yield Source(StudyRecord(**fields), [OutcomeTag(**o) for o in saved["outcomes"]], order), file, key, order


def _delete_links(conn: sqlite3.Connection, keys: list[str]) -> None:
    for table in ("study_bibtex", "study_authors", "study_conditions", "study_outcomes"):
        conn.executemany(f"DELETE FROM {table} WHERE study_key = ?", [(key,) for key in keys])


def prune_authors(db: Database) -> None:
    """Drop authors no study lists any more."""
    db.execute("DELETE FROM authors WHERE id NOT IN (SELECT author_id FROM study_authors)")


def replace_errors(db: Database, files: list[str], errors: list[LoadError]) -> None:
    """Forget earlier errors of these files and record the new ones."""
    for file in files:
        db.execute("DELETE FROM load_errors WHERE file = ?", [file])
    seq: dict[str, int] = {}
    rows = []
    for error in errors:
        seq[error.file] = seq.get(error.file, 0) + 1
        rows.append({"file": error.file, "seq": seq[error.file], "line": error.line,
                     "entry_key": error.entry_key, "severity": error.severity,
                     "message": error.message, "raw": error.raw})
    db["load_errors"].insert_all(rows)
