import shutil
import sqlite3
import sys
from pathlib import Path

import pytest
import uvicorn
from click.testing import CliRunner

from evidence import loader, store
from evidence.cli import cli
from evidence.exporting import render
from evidence.formats.latex import extra_text
from evidence.selection import Selection, select_keys

# scripts/ holds code the installed package does not need (the tag accuracy report), tested here too
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

DATA = loader.DATA_DIR
VOCAB = DATA / "vocabularies"


@pytest.fixture(scope="session")
def corpus_db(tmp_path_factory) -> Path:
    """The bundled corpus loaded into a real SQLite file, once per test session."""
    path = tmp_path_factory.mktemp("corpus") / "evidence.db"
    summary = loader.load(path, loader.default_inputs())
    assert summary.studies == 32
    return path


@pytest.fixture(scope="session")
def claims_db(tmp_path_factory) -> Path:
    """The bundled corpus with its articles, claims and printed citations, as `evidence load DB` builds it, once
    per session."""
    path = tmp_path_factory.mktemp("claims") / "evidence.db"
    summary = loader.load(path, loader.default_inputs(), claims_dir=loader.DATA_DIR, printed=loader.default_printed())
    assert summary.studies == 32 and summary.claims > 30
    return path


@pytest.fixture
def no_server(monkeypatch):
    """`evidence serve` must fail before it starts a server: starting one fails the test instead of hanging it."""

    def refuse(*args, **kwargs):
        raise AssertionError("the server was started")

    monkeypatch.setattr(uvicorn, "run", refuse)


@pytest.fixture
def corpus_copy(tmp_path) -> Path:
    """A writable copy of data/studies.bib and its outcomes file, for tests that change them."""
    for name in ("studies.bib", "studies.outcomes.yaml"):
        shutil.copy(DATA / name, tmp_path / name)
    return tmp_path / "studies.bib"


FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def tricky_db(tmp_path_factory) -> Path:
    """tests/fixtures/tricky.bib loaded: LaTeX, accents, protected capitals, particles, &, % and _."""
    path = tmp_path_factory.mktemp("tricky") / "tricky.db"
    summary = loader.load(path, [FIXTURES / "tricky.bib"])
    assert summary.studies == 7 and summary.error_count == 0
    return path


def exported_and_read_back(db_path: Path, name: str, read) -> list[tuple]:
    """(study as stored, record that ``read`` gives back from the export of every study in format ``name``)."""
    with sqlite3.connect(db_path) as conn:
        studies = store.read_studies(conn, select_keys(conn, Selection()))
    result = read(render(studies, name), f"export.{name}")
    assert [e for e in result.errors if "no DOI or PMID" not in e.message] == []
    assert [r.key for r in result.records] == [s.record.key for s in studies]
    return list(zip(studies, result.records))


def curated_tags(study) -> list[tuple[str, str]]:
    """A stored study's curated (kind, value) tags, as a reader gives them back from its keywords."""
    return [(t.kind, t.value) for t in [*study.conditions, study.design] if t is not None and t.provenance == "curated"]


# What a data export carries of a study and reads back unchanged (the journal and tags are checked on their own).
READ_BACK = (
    "entry_type",
    "title",
    "authors",
    "year",
    "month",
    "journal_abbrev",
    "volume",
    "issue",
    "pages",
    "doi",
    "pmid",
    "pmcid",
    "issn",
    "url",
    "abstract",
    "keywords",
    "note",
)


def assert_reads_back(study, record, also: tuple[str, ...] = ()) -> None:
    """A record read from an export of ``study`` holds what the study holds."""
    stored = study.record
    for name in READ_BACK + also:
        assert getattr(record, name) == getattr(stored, name), (stored.key, name)
    assert record.journal == (stored.journal or extra_text(stored, "booktitle"))  # a chapter's book
    assert [(t.kind, t.value) for t in record.tags] == curated_tags(study)


def one_error_line(arguments: list[str], status: int) -> str:
    """The command's one line of error, asserting exit ``status``, exactly one line `Error: ...` and no traceback."""
    result = CliRunner().invoke(cli, arguments)
    assert result.exit_code == status, result.output
    assert isinstance(result.exception, SystemExit), "an exception escaped the command"
    lines = result.output.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]
