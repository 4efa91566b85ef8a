"""Every command turns a named error (a file that is not a database, a bad selection, a broken vocabulary
folder) into one line, `Error: ...`, and exit status 1: real files, the real command group."""

import shutil
import sqlite3
import subprocess
import sys

import pytest
from click.testing import CliRunner
from conftest import one_error_line

from evidence import loader
from evidence.cli import cli

STUDIES = str(loader.DATA_DIR / "studies.bib")


def run(*arguments: str) -> str:
    """The command's result, asserting it failed with exactly one line, `Error: ...`, and no traceback."""
    return one_error_line(list(arguments), 1)


@pytest.fixture
def text_file(tmp_path):
    """A file that is not a database at all."""
    path = tmp_path / "notes.db"
    path.write_text("not a database\n")
    return path


@pytest.fixture
def foreign_db(tmp_path):
    """An SQLite database that evidence did not build."""
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (x)")
    conn.close()
    return path


@pytest.fixture
def broken_vocab(tmp_path):
    """A copy of the bundled vocabularies whose conditions are each other's parents."""
    vocab = tmp_path / "vocab"
    shutil.copytree(loader.DATA_DIR / "vocabularies", vocab)
    (vocab / "conditions.yaml").write_text("- {id: a, label: A, parents: [b]}\n- {id: b, label: B, parents: [a]}\n")
    return vocab


def test_load_with_a_broken_vocabulary(tmp_path, broken_vocab):
    line = run("load", "--vocab", str(broken_vocab), str(tmp_path / "e.db"), STUDIES)
    assert "conditions.yaml: 'a' is its own ancestor (parent cycle)" in line
    assert not (tmp_path / "e.db").exists()


def test_check_with_a_broken_vocabulary(broken_vocab):
    line = run("check", "--vocab", str(broken_vocab), STUDIES)
    assert line.endswith("is its own ancestor (parent cycle)")


def test_load_into_a_file_that_is_not_a_database(text_file):
    line = run("load", str(text_file), STUDIES)
    assert "not an SQLite database" in line
    assert text_file.read_text() == "not a database\n"


def test_export_of_a_file_that_is_not_a_database(text_file):
    assert run("export", str(text_file)) == f"Error: {text_file}: not an SQLite database (file is not a database)"


def test_export_of_a_database_evidence_did_not_build(foreign_db):
    assert "not an evidence database (it has no studies table)" in run("export", str(foreign_db))


@pytest.mark.parametrize(
    "selection, message",
    [
        (
            ["--condition", "back-pian"],
            "Error: unknown condition 'back-pian'; did you mean 'back-pain'? (see the conditions table)",
        ),
        (["--key", "cherkin2008"], "Error: no study has the key 'cherkin2008'; did you mean 'cherkin2009'?"),
        (["--since", "2020", "--until", "2010"], "Error: --since 2020 is after --until 2010: no year is in between"),
        (["--sql", "select key from nowhere"], "Error: query failed: no such table: nowhere"),
    ],
)
def test_export_of_a_bad_selection(corpus_db, tmp_path, selection, message):
    output = tmp_path / "x.bib"
    assert run("export", str(corpus_db), "-o", str(output), *selection) == message
    assert not output.exists()


def test_export_to_a_file_that_cannot_be_written(corpus_db, tmp_path):
    output = tmp_path / "missing-folder" / "x.bib"
    assert (
        run("export", str(corpus_db), "-o", str(output)) == f"Error: cannot write {output}: No such file or directory"
    )


def test_serve_a_file_that_is_not_a_database(text_file, no_server):
    assert "not an SQLite database" in run("serve", str(text_file))
    assert not text_file.with_name(text_file.name + ".inspect.json").exists()


def test_serve_a_database_evidence_did_not_build(foreign_db, no_server):
    assert "not an evidence database" in run("serve", str(foreign_db))


def test_load_and_check_offer_only_the_formats_that_can_be_read(tmp_path):
    for command in (["load", str(tmp_path / "e.db")], ["check"]):
        result = CliRunner().invoke(cli, [*command, "--format", "apa", str(loader.DATA_DIR / "studies.bib")])
        assert result.exit_code == 2 and "'apa' is not one of 'bibtex', 'ris', 'medline', 'csl-json'" in result.output


def test_messages_print_keys_as_written(tmp_path):
    """A key that looks like a rich emoji code (`:loop:`) or markup (`[bold]`) is printed as written."""
    bib = tmp_path / "a.bib"
    bib.write_text("@article{lxd1:loop:,\n  year = 2000\n}\n@article{[bold]x,\n  title = {T},\n  year = 2000\n}\n")
    result = CliRunner().invoke(cli, ["load", str(tmp_path / "a.db"), str(bib)])
    assert "[lxd1:loop:]" in result.output and "[[bold]x]" in result.output, result.output
    assert "\N{CLOCKWISE RIGHTWARDS AND LEFTWARDS OPEN CIRCLE ARROWS}" not in result.output


def test_python_m_runs_the_same_command(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "evidence.cli", "load", str(tmp_path / "e.db"), STUDIES], capture_output=True, text=True
    )
    assert done.returncode == 0 and "studies" in done.stdout, done.stderr
    assert (tmp_path / "e.db").exists()
