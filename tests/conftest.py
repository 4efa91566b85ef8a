import shutil
from pathlib import Path

import pytest

from evidence import loader

DATA = loader.DATA_DIR
VOCAB = DATA / "vocabularies"


@pytest.fixture(scope="session")
def corpus_db(tmp_path_factory) -> Path:
    """The bundled corpus loaded into a real SQLite file, once per test session."""
    path = tmp_path_factory.mktemp("corpus") / "evidence.db"
    summary = loader.load(path, loader.default_inputs())
    assert summary.studies == 11
    return path


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
