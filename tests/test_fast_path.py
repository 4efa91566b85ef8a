"""The fast path (worker processes, records spooled to disk, files read in pieces, the fast BibTeX splitter, the
tagger's pre-filter) gives the database the plain path gives: every row of every table, errors and content hashes
included. The plain path, with ``evidence.fast.ENABLED`` false, is the definition of what the fast one must do."""

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES

from evidence import fast, loader
from evidence.fast import parallel, pieces

PROJECT = Path(__file__).resolve().parent.parent
TABLES = (
    "studies",
    "study_bibtex",
    "authors",
    "study_authors",
    "study_conditions",
    "study_outcomes",
    "study_sources",
    "field_disagreements",
    "load_errors",
    "study_cards",
    "study_card_facets",
    "condition_studies",
    "evidence_map_cells",
    "claims",
    "claim_studies",
    "claim_checks",
)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> list[Path]:
    """Every kind of input: a generated corpus in three formats, the bundled corpus and the test fixtures."""
    folder = tmp_path_factory.mktemp("inputs")
    subprocess.run(
        [sys.executable, "scripts/make_corpus.py", "400", "--out", str(folder)],
        cwd=PROJECT,
        check=True,
        capture_output=True,
    )
    return (
        [folder / "corpus.bib", folder / "corpus.ris", folder / "corpus.nbib", loader.DATA_DIR / "studies.bib"]
        + sorted(FIXTURES.glob("*.bib"))
        + sorted(FIXTURES.glob("*.ris"))
        + [FIXTURES / "zotero.json", FIXTURES / "pubmed_labelled.nbib"]
        + sorted((FIXTURES / "reference_lists").glob("*.txt"))
    )


def rows(db: Path) -> dict[str, list[tuple]]:
    with sqlite3.connect(db) as conn:
        return {table: conn.execute(f"select * from {table} order by rowid").fetchall() for table in TABLES}


def test_the_fast_path_gives_the_database_of_the_plain_path(inputs, tmp_path, monkeypatch):
    monkeypatch.setattr(fast, "ENABLED", False)
    plain = tmp_path / "plain.db"
    summary = loader.load(plain, inputs, claims_dir=loader.DATA_DIR)
    assert summary.studies > 450 and summary.merged > 800 and summary.error_count > 0  # entries that fail too

    monkeypatch.setattr(fast, "ENABLED", True)
    monkeypatch.setattr(pieces, "PARALLEL_FROM", 0)  # every file that can be is read in pieces, in workers
    monkeypatch.setattr(pieces, "PIECE", 20_000)
    monkeypatch.setattr(loader, "TAG_BATCH", 60)
    monkeypatch.setattr(loader, "BUILD_IN_WORKERS_FROM", 0)  # every load builds its studies in workers
    monkeypatch.setattr(parallel, "cores", lambda: 2)
    quick = tmp_path / "fast.db"
    again = loader.load(quick, inputs, claims_dir=loader.DATA_DIR)
    assert (again.studies, again.tags, len(again.errors)) == (summary.studies, summary.tags, len(summary.errors))
    plain_rows, fast_rows = rows(plain), rows(quick)
    for table in TABLES:
        assert fast_rows[table] == plain_rows[table], table


def test_the_plain_path_uses_no_worker_processes_or_spool(inputs, tmp_path, monkeypatch):
    monkeypatch.setattr(fast, "ENABLED", False)
    monkeypatch.setattr(parallel, "_new_pool", lambda: pytest.fail("a worker pool was started"))
    monkeypatch.setattr(pieces, "PARALLEL_FROM", 0)
    summary = loader.load(tmp_path / "plain.db", inputs[:3])
    assert summary.studies >= 400
    assert not list(tmp_path.glob(".evidence-spool-*"))
