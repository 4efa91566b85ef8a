"""The database's shape, declared once: tables, indexes, summary tables and the SQL that fills them, views and
the full-text index (``ensure_schema`` applies them all). The evidence map, canned queries and pages read these."""

from __future__ import annotations

import sqlite3
import zlib
from typing import TYPE_CHECKING

from ..evidence_layer.claims import VERDICTS
from ..fields import FIELDS
from ..tagging.vocabulary import DIRECTIONS

if TYPE_CHECKING:
    from sqlite_utils import Database


# The field table's columns of `studies`.
_FIELD_COLUMNS = "\n".join(f"    {f.attribute} {f.sql_type}," for f in FIELDS)

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
-- Every name a condition goes by (id, label, synonyms: MeSH entry terms and common wording, MeSH headings), for
-- search, the condition picker and --condition: evidence.synonyms reads names to conditions with it.
CREATE TABLE IF NOT EXISTS condition_synonyms (
    condition_id TEXT NOT NULL REFERENCES conditions(id),
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('id', 'label', 'synonym', 'MeSH heading')),
    PRIMARY KEY (condition_id, name, kind)
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
    title TEXT,
    title_nocase TEXT NOT NULL DEFAULT '[]',
    author_list TEXT,
    more_authors INTEGER NOT NULL DEFAULT 0,
{_FIELD_COLUMNS}
    keywords TEXT,
    publication_types TEXT NOT NULL DEFAULT '[]',
    mesh_headings TEXT NOT NULL DEFAULT '[]',
    design TEXT REFERENCES designs(id),
    design_provenance TEXT CHECK (design_provenance IN ('curated', 'rule')),
    design_source TEXT,
    extra TEXT NOT NULL DEFAULT '{{}}',
    source_file TEXT NOT NULL,
    source_line INTEGER NOT NULL,
    content_hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS study_bibtex (
    study_key TEXT PRIMARY KEY REFERENCES studies(key),
    entry TEXT NOT NULL,
    writer TEXT NOT NULL
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
    printed INTEGER NOT NULL DEFAULT 0,
    as_printed TEXT NOT NULL DEFAULT '',
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
    other_source TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'differs' CHECK (kind IN ('differs', 'as printed, not verified'))
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
FTS_COLUMNS = ["title", "abstract", "keywords", "population", "finding", "author_list"]  # of studies, searched

STUDY_CARDS = f"""
CREATE TABLE IF NOT EXISTS study_cards (
    rowid INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    title TEXT,
    finding TEXT,
    design TEXT,
    evidence_level INTEGER,
    conditions TEXT,
    directions TEXT,
    year INTEGER,
    authors TEXT,
    journal TEXT,
    participants INTEGER,
    population TEXT,
    condition_groups TEXT,
    outcomes TEXT,
    comparators TEXT,
    reviewed_in TEXT,
    included_studies INTEGER,
    doi TEXT,
    pmid TEXT,
    pmcid TEXT,
    strength_rank INTEGER
);
CREATE INDEX IF NOT EXISTS idx_study_cards_design ON study_cards(design);
CREATE INDEX IF NOT EXISTS idx_study_cards_evidence_level ON study_cards(evidence_level);
CREATE INDEX IF NOT EXISTS idx_study_cards_year ON study_cards(year);
CREATE INDEX IF NOT EXISTS idx_study_cards_journal ON study_cards(journal);
CREATE INDEX IF NOT EXISTS idx_study_cards_conditions ON study_cards(conditions);
CREATE INDEX IF NOT EXISTS idx_study_cards_condition_groups ON study_cards(condition_groups);
CREATE INDEX IF NOT EXISTS idx_study_cards_strength_rank ON study_cards(strength_rank);
-- the rowid alone: a search counts its matches (rowid IN the full-text matches) in this narrow index instead of
-- looking each one up among the table's wide rows, two to three times faster
CREATE INDEX IF NOT EXISTS idx_study_cards_rowid ON study_cards(rowid);
-- the studies' text indexed under the cards' rowids (no copy of the text: contentless), refreshed with the cards
CREATE VIRTUAL TABLE IF NOT EXISTS study_cards_fts USING fts5({", ".join(FTS_COLUMNS)}, content='', tokenize='porter');
"""

STUDY_CARDS_ROWS = """
SELECT
    row_number() OVER strength AS rowid,
    s.key,
    s.title,
    s.finding,
    d.label AS design,
    d.evidence_level,
    (SELECT json_group_array(label) FROM (
        SELECT c.label FROM study_conditions sc JOIN conditions c ON c.id = sc.condition_id
        WHERE sc.study_key = s.key ORDER BY c.label)) AS conditions,
    (SELECT json_group_array(direction) FROM (
        SELECT DISTINCT direction FROM study_outcomes so
        WHERE so.study_key = s.key ORDER BY direction)) AS directions,
    s.year,
    s.author_list AS authors,
    s.journal,
    s.participants,
    s.population,
    (SELECT json_group_array(label) FROM (
        SELECT c.label FROM condition_studies cs JOIN conditions c ON c.id = cs.condition_id
        WHERE cs.study_key = s.key ORDER BY c.label)) AS condition_groups,
    (SELECT json_group_array(label) FROM (
        SELECT DISTINCT o.label FROM study_outcomes so JOIN outcomes o ON o.id = so.outcome_id
        WHERE so.study_key = s.key ORDER BY o.label)) AS outcomes,
    (SELECT json_group_array(label) FROM (
        SELECT DISTINCT k.label FROM study_outcomes so JOIN comparators k ON k.id = so.comparator
        WHERE so.study_key = s.key ORDER BY k.label)) AS comparators,
    (SELECT json_group_array(review_key) FROM (
        SELECT review_key FROM review_includes ri WHERE ri.study_key = s.key ORDER BY review_key)) AS reviewed_in,
    s.included_studies,
    s.doi,
    s.pmid,
    s.pmcid,
    row_number() OVER strength AS strength_rank
FROM studies s LEFT JOIN designs d ON d.id = s.design
-- strongest evidence first: evidence level (ungraded last), design, newest first; the cards are stored in this
-- order (rowid), so that a page of them, searched or not, reads its first rows in order instead of sorting all
WINDOW strength AS (ORDER BY coalesce(d.evidence_level, 9), coalesce(d.rank, 99), s.year DESC, s.key)
ORDER BY 1
"""


# How many study cards have each value of each default facet of the study cards page (an array column counts
# the cards whose array holds the value), so that the page without filters reads them instead of counting a
# million cards on each request; refreshed by each load. `value` has no type, so years stay integers.
CARD_FACETS = {
    "condition_groups": "array",
    "design": "column",
    "evidence_level": "column",
    "year": "column",
    "journal": "column",
}
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


# The condition hierarchy, joined here and only here: every study under each condition (tagged with it or a
# narrower one), with what "studies for a condition" orders them by and what the evidence map counts them by; the
# study cards, the evidence map, the canned queries and selections read it. Refreshed by each load.
CONDITION_STUDIES = """
CREATE TABLE IF NOT EXISTS condition_studies (
    condition_id TEXT NOT NULL,
    study_key TEXT NOT NULL,
    tagged_conditions TEXT NOT NULL,
    evidence_order INTEGER NOT NULL,
    design_rank INTEGER NOT NULL,
    year INTEGER,
    design TEXT,
    evidence_level INTEGER,
    PRIMARY KEY (study_key, condition_id)  -- a study's conditions, as its card reads them while a load builds
);
CREATE INDEX IF NOT EXISTS idx_condition_studies_order
    ON condition_studies(condition_id, evidence_order, design_rank, year DESC, study_key);
"""

CONDITION_STUDY_ROWS = """
SELECT ancestor_id, study_key, group_concat(label, '; '), evidence_order, design_rank, year, design, evidence_level
FROM (
    SELECT ca.ancestor_id, sc.study_key, c.label, coalesce(d.evidence_level, 9) AS evidence_order,
           coalesce(d.rank, 99) AS design_rank, s.year, s.design, d.evidence_level
    FROM study_conditions sc
    JOIN condition_ancestors ca ON ca.condition_id = sc.condition_id
    JOIN conditions c ON c.id = sc.condition_id
    JOIN studies s ON s.key = sc.study_key
    LEFT JOIN designs d ON d.id = s.design
    ORDER BY ca.ancestor_id, sc.study_key, c.label)
GROUP BY ancestor_id, study_key
"""

# Which way each study's results went for each condition it is under. An outcome row with a `condition` is about
# the study's conditions that are that one or narrower (or that one itself, if the study has none of them), all
# together: it speaks for the conditions that cover every one of them (that one and the broader ones), never for a
# narrower part. A review's result for low back pain as a whole, acute and chronic together, says nothing of chronic
# low back pain alone. A row without a condition speaks for each condition of the study and the broader ones.
# Rule-made rows, whose direction is unknown, say nothing. Refreshed by each load.
CONDITION_FINDINGS = """
CREATE TABLE IF NOT EXISTS condition_findings (
    condition_id TEXT NOT NULL,
    study_key TEXT NOT NULL,
    direction TEXT NOT NULL,
    PRIMARY KEY (condition_id, study_key, direction)
);
"""

CONDITION_FINDING_ROWS = """
WITH read AS (SELECT * FROM study_outcomes WHERE direction != 'unknown'),
population AS (  -- (row, group): the conditions a row is about, in groups the row must cover whole
    SELECT so.study_key, so.position, coalesce(so.condition_id, sc.condition_id) AS whole, sc.condition_id
    FROM read so JOIN study_conditions sc ON sc.study_key = so.study_key
    WHERE so.condition_id IS NULL OR EXISTS (SELECT 1 FROM condition_ancestors ca
                                             WHERE ca.condition_id = sc.condition_id AND ca.ancestor_id = so.condition_id)
    UNION
    SELECT so.study_key, so.position, so.condition_id, so.condition_id FROM read so
    WHERE so.condition_id IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM study_conditions sc JOIN condition_ancestors ca ON ca.condition_id = sc.condition_id
        WHERE sc.study_key = so.study_key AND ca.ancestor_id = so.condition_id)),
population_size AS (SELECT study_key, position, whole, count(*) AS size FROM population GROUP BY 1, 2, 3),
covering AS (
    SELECT p.study_key, p.position, p.whole, ca.ancestor_id AS condition_id, count(*) AS covered
    FROM population p JOIN condition_ancestors ca ON ca.condition_id = p.condition_id
    GROUP BY 1, 2, 3, 4)
SELECT DISTINCT c.condition_id, c.study_key, so.direction
FROM covering c
JOIN population_size ps ON (ps.study_key, ps.position, ps.whole, ps.size) = (c.study_key, c.position, c.whole, c.covered)
JOIN read so ON so.study_key = c.study_key AND so.position = c.position
JOIN condition_studies cs ON cs.study_key = c.study_key AND cs.condition_id = c.condition_id
"""

# Studies per condition (counting narrower conditions) and design, for the evidence map; refreshed by each load.
EVIDENCE_MAP_CELLS = """
CREATE TABLE IF NOT EXISTS evidence_map_cells (
    condition_id TEXT NOT NULL,
    design TEXT,
    studies INTEGER NOT NULL
);
"""

EVIDENCE_MAP_CELL_ROWS = "SELECT condition_id, design, count(*) FROM condition_studies GROUP BY condition_id, design"

# The summary tables, in the order a load refreshes them (each reads those before it), with the rows of each.
SUMMARIES = {
    "condition_studies": CONDITION_STUDY_ROWS,
    "condition_findings": CONDITION_FINDING_ROWS,
    "study_cards": STUDY_CARDS_ROWS,
    "evidence_map_cells": EVIDENCE_MAP_CELL_ROWS,
}


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

TABLES = SCHEMA + STUDY_CARDS + STUDY_CARD_FACETS + CONDITION_STUDIES + CONDITION_FINDINGS + EVIDENCE_MAP_CELLS

# Kept in the database's user_version: a digest of everything above, so that a database of another shape (a
# field added to the field table, a table changed) is rebuilt rather than patched, with nothing to remember.
SCHEMA_VERSION = zlib.crc32((TABLES + "".join(VIEWS.values()) + " ".join(FTS_COLUMNS)).encode()) & 0x7FFFFFFF


def ensure_schema(db: Database) -> None:
    """Create every table, index, view and the full-text index; safe to run on an existing database."""
    db.executescript(TABLES)
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
