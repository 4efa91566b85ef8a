"""Writing the database (in the copy ``swap.building`` makes): the vocabularies, each study's rows (made in the
workers, saved in batches), the summary tables, and what the load could not read."""

from __future__ import annotations

import hashlib
import json
import marshal
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from .. import fields
from ..fields import PLAIN
from ..formats import bibtex, latex
from ..merge import MergedStudy
from ..records import LoadError, StudyRecord, TaggedStudy, shallow_dict
from ..synonyms import synonym_rows
from ..tagging.vocabulary import Vocabulary
from .schema import CARD_FACETS, FTS_COLUMNS, SUMMARIES, array_value_counts

if TYPE_CHECKING:  # sqlite-utils is imported where a database is built: exports read with sqlite3 alone
    from sqlite_utils import Database


@contextmanager
def indexes_after(db: Database) -> Iterator[None]:
    """On a database without studies, build the secondary indexes and the full-text index once after the
    block's inserts instead of keeping them up to date row by row: several times faster for a large load."""
    if db.execute("SELECT 1 FROM studies LIMIT 1").fetchone():
        yield
        return
    deferred = db.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') "
        "AND sql IS NOT NULL ORDER BY type, name"
    ).fetchall()
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
        (
            {
                "id": t["id"],
                "label": t["label"],
                "mesh_id": t.get("mesh_id"),
                "parent": (t["parents"] or [None])[0],
                "tree_path": vocab.tree_path(t["id"]),
                "synonyms": json.dumps(t["synonyms"]),
                "description": t.get("description"),
            }
            for t in conditions.values()
        ),
        pk="id",
    )
    db.execute("DELETE FROM condition_synonyms")
    db["condition_synonyms"].insert_all(row for t in conditions.values() for row in synonym_rows(t))
    db.execute("DELETE FROM condition_ancestors")
    db["condition_ancestors"].insert_all(
        {"condition_id": c, "ancestor_id": a, "depth": d}
        for c in conditions
        for a, d in sorted(vocab.ancestors(c).items())
    )
    db["designs"].upsert_all(
        (
            {
                "id": t["id"],
                "label": t["label"],
                "mesh_id": t.get("mesh_id"),
                "mesh_label": t.get("mesh_label"),
                "evidence_level": t.get("evidence_level"),
                "rank": t["rank"],
                "description": t.get("description"),
            }
            for t in vocab.terms["designs"].values()
        ),
        pk="id",
    )
    db["outcomes"].upsert_all(
        (
            {"id": t["id"], "label": t["label"], "domain": t["domain"], "description": t.get("description")}
            for t in vocab.terms["outcomes"].values()
        ),
        pk="id",
    )
    db["comparators"].upsert_all(
        (
            {"id": t["id"], "label": t["label"], "description": t.get("description")}
            for t in vocab.terms["comparators"].values()
        ),
        pk="id",
    )


def refresh_summaries(db: Database) -> None:
    """Rebuild what is computed from the studies and their tags (schema.SUMMARIES, in order): the studies under
    each condition and their findings, the study cards (with their full-text index) and their facet counts, the
    evidence map's counts."""
    for table, rows in SUMMARIES.items():
        db.execute(f"DELETE FROM {table}")
        db.execute(f"INSERT INTO {table} {rows}")
    db.execute("INSERT INTO study_cards_fts (study_cards_fts) VALUES ('delete-all')")
    columns = ", ".join(FTS_COLUMNS)
    # in the cards' rowid order: FTS5 then appends to one segment, where rowids out of order make it write many
    # (4.8 s for 100k studies instead of 13.7, and a search reads fewer segments)
    db.execute(
        f"INSERT INTO study_cards_fts (rowid, {columns}) SELECT c.rowid, {', '.join(f's.{c}' for c in FTS_COLUMNS)} "
        "FROM study_cards c JOIN studies s ON s.key = c.key ORDER BY c.rowid"
    )
    refresh_card_facets(db.conn)


def refresh_card_facets(conn: sqlite3.Connection) -> None:
    """Count the study cards' default facets (CARD_FACETS) into study_card_facets."""
    conn.execute("DELETE FROM study_card_facets")
    for column, kind in CARD_FACETS.items():
        counts = (
            array_value_counts(column, "SELECT * FROM study_cards")
            if kind == "array"
            else f'SELECT "{column}", count(*) FROM study_cards WHERE "{column}" IS NOT NULL GROUP BY "{column}"'
        )
        conn.execute(f"INSERT INTO study_card_facets SELECT ?, * FROM ({counts})", [column])


def prune_vocabulary(db: Database, vocab: Vocabulary) -> None:
    """Drop terms that left the vocabularies, unless a study (from a file not reloaded) still uses them."""
    for kind, column, table in (
        ("conditions", "condition_id", "study_conditions"),
        ("conditions", "condition_id", "study_outcomes"),
        ("outcomes", "outcome_id", "study_outcomes"),
        ("comparators", "comparator", "study_outcomes"),
        ("designs", "design", "studies"),
    ):
        ids = list(vocab.terms[kind])
        db.execute(
            f"DELETE FROM {kind} WHERE id NOT IN ({', '.join('?' * len(ids))}) "
            f"AND id NOT IN (SELECT {column} FROM {table} WHERE {column} IS NOT NULL)",
            ids,
        )


# Columns of ``studies`` that are StudyRecord attributes of the same name and value.


def study_row(tagged: TaggedStudy) -> dict:
    """The ``studies`` row for a tagged study (without its hash)."""
    r = tagged.record
    design = tagged.design
    return {
        "key": r.key,
        "entry_type": r.entry_type,
        "title": r.title,
        "title_nocase": json.dumps(r.title_nocase, ensure_ascii=False),
        "author_list": ", ".join([p.display for p in r.authors] + (["et al."] if r.more_authors else [])) or None,
        "more_authors": int(r.more_authors),
        **{name: getattr(r, name) for name in PLAIN},
        "keywords": ", ".join(r.keywords) or None,
        "publication_types": json.dumps(r.publication_types, ensure_ascii=False),
        "mesh_headings": json.dumps(r.mesh_headings, ensure_ascii=False),
        "design": design.value if design else None,
        "design_provenance": design.provenance if design else None,
        "design_source": design.source if design else None,
        "extra": json.dumps(r.extra, sort_keys=True, ensure_ascii=False),
        "source_file": r.source_file,
        "source_line": r.source_line,
    }


def content_hash(*rows) -> str:
    """What changes when the study or its tags change: a hash of its rows (its ``studies`` row without the hash,
    authors and tags; not its BibTeX entry, a cache of the writer's output: see ``bibtex_writer``). The rows hold only text,
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


def study_rows(tagged: TaggedStudy, study: MergedStudy) -> StudyRows:
    """The rows of a tagged study and of the sources it was merged from, with its entry as BibTeX exports write
    it (the cache of study_bibtex)."""
    row = study_row(tagged)
    key = row["key"]
    authors = [(p.family, p.given, p.particle, p.suffix, p.display) for p in tagged.record.authors]
    conditions = [(key, t.value, t.provenance, t.source) for t in tagged.conditions]
    outcomes = [
        (key, i, o.outcome, o.measure, o.comparator, o.direction, o.finding, o.condition, o.provenance, o.source)
        for i, o in enumerate(tagged.outcomes, start=1)
    ]
    hashed = content_hash(tuple(row.values()), authors, conditions, outcomes)
    return StudyRows(
        key,
        hashed,
        (*row.values(), hashed),
        bibtex.entry(tagged),
        authors,
        conditions,
        outcomes,
        [
            (
                key,
                source.record.source_file,
                source.record.source_line,
                source.record.source_format,
                source.record.key,
                position == 0,
                how,
                source.is_printed,
                ", ".join(study.as_printed(source)),
                source.order,
                json.dumps(
                    {"record": _as_dict(source.record), "outcomes": [shallow_dict(o) for o in source.outcomes]},
                    ensure_ascii=False,
                ),
            )
            for position, (source, how) in enumerate(zip(study.sources, study.matched_on))
        ],
        [
            (key, d.field, d.kept_value, d.kept_source, d.other_value, d.other_source, d.kind)
            for d in study.disagreements
        ],
        len(tagged.conditions) + len(tagged.outcomes) + (tagged.design is not None),
    )


@cache
def bibtex_writer() -> str:
    """What wrote the stored BibTeX entries: a digest of the writer's code (the BibTeX format, its LaTeX and the
    field table), so that a load after the writer changed writes every entry again."""
    digest = hashlib.sha256()
    for module in (bibtex, latex, fields):
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()[:16]


# Rows are written in batches of this many studies.
BATCH = 2000


def save_studies(db: Database, studies: Iterable[StudyRows], progress: Callable[[int], None] | None = None) -> Counter:
    """Insert or update the studies with their authors and tags, in batches; counts each study as
    added, updated or unchanged (same content hash as stored). Records every source of every study
    (file, line, format, how it was matched, the record as read) and where sources disagree, replacing
    what the last load recorded. ``progress`` gets the number done."""
    conn = db.conn
    conn.execute("DELETE FROM study_sources")
    conn.execute("DELETE FROM field_disagreements")
    stored = dict(conn.execute("SELECT key, content_hash FROM studies"))
    writer = bibtex_writer()
    cached = {key for (key,) in conn.execute("SELECT study_key FROM study_bibtex WHERE writer = ?", [writer])}
    authors = _AuthorIds(conn)
    counts: Counter = Counter()
    batch = _Rows(authors)
    for done, rows in enumerate(studies, start=1):
        previous = stored.get(rows.key)
        if previous == rows.content_hash:
            counts["unchanged"] += 1
            if rows.key not in cached:  # the entry of another version of the writer
                batch.stale_bibtex.append((rows.key, rows.bibtex))
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
        self.ids = {
            "\x1f".join(names): author_id
            for *names, author_id in conn.execute("SELECT family, given, particle, suffix, id FROM authors")
        }
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
        self.stale_bibtex: list[tuple] = []  # of unchanged studies
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
        self.authors += [
            (rows.key, position, self.author_ids.of(name)) for position, name in enumerate(rows.authors, start=1)
        ]
        self.conditions += rows.conditions
        self.outcomes += rows.outcomes

    def write(self, conn: sqlite3.Connection) -> None:
        _delete_links(conn, self.replaced)
        updates = ", ".join(f"{c} = excluded.{c}" for c in STUDY_COLUMNS if c != "key")
        conn.executemany(
            f"INSERT INTO studies ({', '.join(STUDY_COLUMNS)}) VALUES ({', '.join('?' * len(STUDY_COLUMNS))}) "
            f"ON CONFLICT (key) DO UPDATE SET {updates}",
            self.studies,
        )
        writer = bibtex_writer()
        conn.executemany(
            "INSERT OR REPLACE INTO study_bibtex (study_key, entry, writer) VALUES (?, ?, ?)",
            [(key, entry, writer) for key, entry in self.bibtex + self.stale_bibtex],
        )
        conn.executemany(
            "INSERT INTO authors (id, family, given, particle, suffix, display) VALUES (?, ?, ?, ?, ?, ?)",
            self.author_ids.new,
        )
        self.author_ids.new = []
        conn.executemany("INSERT INTO study_authors (study_key, position, author_id) VALUES (?, ?, ?)", self.authors)
        conn.executemany(
            "INSERT INTO study_conditions (study_key, condition_id, provenance, source) VALUES (?, ?, ?, ?)",
            self.conditions,
        )
        conn.executemany(
            "INSERT INTO study_outcomes (study_key, position, outcome_id, measure, comparator, direction, "
            "finding, condition_id, provenance, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            self.outcomes,
        )
        conn.executemany(
            "INSERT INTO study_sources (study_key, file, line, format, entry_key, is_primary, matched_on, "
            "printed, as_printed, load_order, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            self.sources,
        )
        conn.executemany(
            "INSERT INTO field_disagreements (study_key, field, kept_value, kept_source, other_value, "
            "other_source, kind) VALUES (?, ?, ?, ?, ?, ?, ?)",
            self.disagreements,
        )


def remove_studies_except(db: Database, keys: set[str]) -> int:
    """Delete the studies no input holds any more; returns how many."""
    gone = [k for (k,) in db.execute("SELECT key FROM studies") if k not in keys]
    _delete_links(db.conn, gone)
    for table, column in (
        ("claim_checks", "study_key"),
        ("claim_studies", "study_key"),  # claims and reviews
        ("review_includes", "study_key"),
        ("review_includes", "review_key"),
    ):  # no longer link to it
        db.conn.executemany(f"DELETE FROM {table} WHERE {column} = ?", [(key,) for key in gone])
    db.conn.executemany("DELETE FROM studies WHERE key = ?", [(key,) for key in gone])
    return len(gone)


def _as_dict(record: StudyRecord) -> dict:
    """``dataclasses.asdict(record)`` without its deep copies (the same JSON, several times faster)."""
    return {
        **shallow_dict(record),
        "authors": [shallow_dict(p) for p in record.authors],
        "tags": [shallow_dict(t) for t in record.tags],
    }


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
        rows.append(
            {
                "file": error.file,
                "seq": seq[error.file],
                "line": error.line,
                "entry_key": error.entry_key,
                "severity": error.severity,
                "message": error.message,
                "raw": error.raw,
            }
        )
    db["load_errors"].insert_all(rows)
