"""Large BibTeX, RIS and MEDLINE files read in pieces from disk (pieces made small here, so that small real
files are cut into many) give what reading their whole text gives: the same records, the same errors with
the same lines, keys and texts. Files that are not plain UTF-8, or read with --encoding, are read as text."""

import codecs
import re
import sqlite3
from dataclasses import asdict
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FIXTURES

from evidence.cli import cli
from evidence.fast import parallel, pieces
from evidence.fast.spool import Spool
from evidence.formats import FORMATS, read_file

EXTENSIONS = {"bibtex": "bib", "ris": "ris", "medline": "nbib"}
RECORD_STARTS = {name: FORMATS[name].pieces.record_start for name in ("bibtex", "ris", "medline")}

# Entries of every kind a piece boundary must not change: keys given twice (also across pieces), keys made
# that clash (the same first author and year), an entry without ER, tags outside any entry, one without a title.
ODD_RIS = """TY  - JOUR
ID  - twice
AU  - Müller, Jürgen
TI  - Given a key that comes again
PY  - 2010
DO  - 10.1000/odd.1
ER  - 

TY JOUR
TI  - Its TY line lost its spaces
ID  - lost
ER  - 

TY  - JOUR
AU  - Müller, Jürgen
TI  - Without its end line
PY  - 2010

TY  - JOUR
ID  - twice
TI  - The same key again
ER  - 

TY  - JOUR
AU  - Müller, J.
PY  - 2010
ER  - 
"""
ODD_BIBTEX = """@article{muller2010,
  title = {Akupunktur bei Rückenschmerzen},
  author = {Müller, Jürgen},
  year = {2010}
}
"""
ODD_MEDLINE = """PMID- 901
TI  - Akupunktur bei Rückenschmerzen.
FAU - Müller, Jürgen
DP  - 2010

PMID- 902
FAU - Müller, Jürgen
DP  - 2010
this line is neither a tag nor a continuation

# a comment between records
PMID- 903
TI  - A second study of 2010 by him.
FAU - Müller, Jürgen
DP  - 2010 May
"""


def odd_text(format: str) -> str:
    """Real exports (tests/fixtures) with the odd entries among them, twice over, and text before the first
    entry, as one file of ``format``."""
    if format == "ris":
        parts = [
            (FIXTURES / name).read_text(encoding="utf-8-sig").replace("\r\n", "\n")
            for name in ("databases.ris", "zotero.ris", "endnote.ris")
        ]
        once = "\n".join([parts[0], ODD_RIS, parts[1], parts[2]])
        return once + "\n" + once.replace("Provider: evidence test fixtures\n", "")
    if format == "medline":  # with a comment above each record (cut there), then without
        labelled = (FIXTURES / "pubmed_labelled.nbib").read_text(encoding="utf-8")
        uncommented = "".join(line for line in labelled.splitlines(keepends=True) if not line.startswith("#"))
        return "\n".join([labelled, ODD_MEDLINE, uncommented])
    return "% before the first entry\n" + "\n".join(
        [
            (FIXTURES / "pieces.bib").read_text(encoding="utf-8"),
            ODD_BIBTEX,
            (FIXTURES / "tricky.bib").read_text(encoding="utf-8"),
            (FIXTURES / "pieces.bib").read_text(encoding="utf-8"),
        ]
    )


def plain_entries(format: str, count: int) -> str:
    """``count`` entries of ``format`` in ASCII, several by the same author in the same year."""
    if format == "ris":
        return "".join(
            f"TY  - JOUR\nAU  - Author{i % 7}, Given\nTI  - Study number {i}\nPY  - {2000 + i % 5}\n"
            f"DO  - 10.1000/s.{i}\nER  - \n\n"
            for i in range(count)
        )
    if format == "medline":
        return "".join(
            f"PMID- {1000 + i}\nTI  - Study number {i}.\nFAU - Author{i % 7}, Given\nDP  - {2000 + i % 5}\n\n"
            for i in range(count)
        )
    return "".join(
        f"@article{{s{i},\n  title = {{Study number {i}}},\n  author = {{Author{i % 7}, Given}},\n"
        f"  year = {{{2000 + i % 5}}},\n  doi = {{10.1000/s.{i}}}\n}}\n\n"
        for i in range(count)
    )


def keep(record, place):
    """What a spool gives back for a record here: the record itself."""
    return record


def written(tmp_path: Path, format: str, data: bytes) -> Path:
    path = tmp_path / f"file.{EXTENSIONS[format]}"
    path.write_bytes(data)
    return path


def outcome(result) -> tuple[list[dict], list[tuple]]:
    """A read's records (as dicts) and errors (file, line, key, severity, message, text)."""
    return (
        [asdict(record) for record in result.records],
        [(e.file, e.line, e.entry_key, e.severity, e.message, e.raw) for e in result.errors],
    )


def read_both_ways(path: Path, format: str, tmp_path: Path, encoding: str | None = None) -> tuple[tuple, tuple]:
    """The outcome of reading the file's whole text, and of reading it as a load does (in pieces if it can)."""
    whole = outcome(read_file(path, path.name, format, encoding))
    return whole, outcome(pieces.read_file(path, path.name, format, encoding, spool=Spool(tmp_path, keep)))


@pytest.fixture
def small_pieces(monkeypatch):
    """Every file read in pieces of about 300 bytes, scanned 1,000 bytes at a time."""
    monkeypatch.setattr(pieces, "PARALLEL_FROM", 0)
    monkeypatch.setattr(pieces, "PIECE", 300)
    monkeypatch.setattr(pieces, "SCAN", 1000)


@pytest.mark.parametrize("format", ["bibtex", "ris", "medline"])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_a_file_read_in_pieces_gives_what_its_whole_text_gives(format, newline, tmp_path, monkeypatch):
    path = written(tmp_path, format, odd_text(format).replace("\n", newline).encode())
    whole = read_file(path, path.name, format)
    errors = [e for e in whole.errors if e.severity == "error"]
    assert len(whole.records) > 10
    if format == "medline":  # its record without a title is loaded, with a warning
        assert not errors and any(e.message == "no title; loaded without one" for e in whole.errors)
    else:
        assert any(e.raw for e in errors)
    if format != "bibtex":
        assert any(r.key_made for r in whole.records) and "muller2010b" in [r.key for r in whole.records]
    if format == "ris":
        repeated = [e for e in errors if e.message.startswith("duplicate key")]
        assert len(repeated) == 9 and all(e.raw.startswith("TY") for e in repeated)
        assert "Provider: evidence test fixtures" not in str(whole.errors)  # text before the first entry
    monkeypatch.setattr(pieces, "PARALLEL_FROM", 0)
    for piece, scan in ((1, 7), (300, 333), (2000, 1 << 22)):
        monkeypatch.setattr(pieces, "PIECE", piece)
        monkeypatch.setattr(pieces, "SCAN", scan)
        assert len(pieces.scan(path, RECORD_STARTS[format])[0]) >= 3
        assert read_both_ways(path, format, tmp_path)[1] == outcome(whole)


@pytest.mark.parametrize("format", ["bibtex", "ris", "medline"])
def test_pieces_read_in_worker_processes_give_what_the_whole_text_gives(format, tmp_path, small_pieces, monkeypatch):
    path = written(tmp_path, format, odd_text(format).encode())
    monkeypatch.setattr(parallel, "cores", lambda: 2)
    with parallel.workers():
        whole, in_pieces = read_both_ways(path, format, tmp_path)
    assert in_pieces == whole


@pytest.mark.parametrize("format", ["bibtex", "ris", "medline"])
def test_a_character_cut_by_the_scan_window_is_read_whole(format, tmp_path, small_pieces, monkeypatch):
    data = odd_text(format).encode()
    at = next(i for i, byte in enumerate(data) if byte >= 0x80)
    assert data[at + 1] >= 0x80  # a character of two bytes or more: a window ending after its first cuts it
    monkeypatch.setattr(pieces, "SCAN", at + 1)
    whole, in_pieces = read_both_ways(written(tmp_path, format, data), format, tmp_path)
    assert in_pieces == whole and "Müller" in str(whole[0])


@pytest.mark.parametrize("format", ["bibtex", "ris", "medline"])
def test_a_file_with_a_byte_that_is_not_utf8_late_in_it_is_read_as_text(format, tmp_path, small_pieces):
    text = plain_entries(format, 201).replace("Study number 200", "Caf\u00e9 study")
    path = written(tmp_path, format, text.encode("cp1252"))
    assert pieces.scan(path, RECORD_STARTS[format]) is None
    whole, in_pieces = read_both_ways(path, format, tmp_path)
    assert in_pieces == whole
    records, errors = whole
    assert len(records) == 201 and records[-1]["title"] == "Caf\u00e9 study"
    [(_, line, _, severity, message, _)] = [e for e in errors if e[2] is None]
    assert (
        severity == "warning"
        and message.startswith("not UTF-8 text")
        and "read as cp1252 (detected by charset-normalizer), which gives é" in message
    )
    assert line == text[: text.index("Caf\u00e9")].count("\n") + 1  # the line of the byte


@pytest.mark.parametrize("format", ["bibtex", "ris", "medline"])
def test_a_file_with_a_byte_order_mark_is_read_as_text(format, tmp_path, small_pieces):
    path = written(tmp_path, format, codecs.BOM_UTF8 + odd_text(format).encode())
    assert pieces.scan(path, RECORD_STARTS[format]) is None
    whole, in_pieces = read_both_ways(path, format, tmp_path)
    assert in_pieces == whole and len(whole[0]) > 10


@pytest.mark.parametrize("format", ["bibtex", "ris", "medline"])
def test_a_file_read_with_an_encoding_given_is_read_as_text_in_it(format, tmp_path, small_pieces):
    text = plain_entries(format, 51).replace("Study number 50", "Caf\u00e9 study")
    path = written(tmp_path, format, text.encode())  # UTF-8, read as cp1252 since the user says so
    whole, in_pieces = read_both_ways(path, format, tmp_path, encoding="cp1252")
    assert in_pieces == whole and whole[0][-1]["title"] == "Caf\u00c3\u00a9 study"


def untimed(output: str) -> str:
    return re.sub(r" in [0-9.]+s$", "", output, flags=re.MULTILINE)


def test_evidence_load_of_files_in_pieces_stores_what_a_load_of_their_text_stores(tmp_path, monkeypatch):
    files = [str(written(tmp_path, format, odd_text(format).encode())) for format in ("ris", "medline")]
    whole = CliRunner().invoke(cli, ["load", str(tmp_path / "whole.db"), *files])
    assert whole.exit_code == 0, whole.output
    monkeypatch.setattr(pieces, "PARALLEL_FROM", 0)
    monkeypatch.setattr(pieces, "PIECE", 500)
    monkeypatch.setattr(parallel, "cores", lambda: 2)  # read and tagged in worker processes
    in_pieces = CliRunner().invoke(cli, ["load", str(tmp_path / "pieces.db"), *files])
    assert in_pieces.exit_code == 0
    assert untimed(in_pieces.output) == untimed(whole.output.replace("whole.db", "pieces.db"))
    for table in ("studies", "study_authors", "study_sources", "study_bibtex", "study_cards", "load_errors"):
        query = f"SELECT * FROM {table} ORDER BY rowid"
        with sqlite3.connect(tmp_path / "whole.db") as one, sqlite3.connect(tmp_path / "pieces.db") as other:
            rows = one.execute(query).fetchall()
            assert rows and other.execute(query).fetchall() == rows, table


SEEN_BY_WORKERS = "before"


def seen_by_workers(_) -> str:
    return SEEN_BY_WORKERS


def test_reserved_workers_are_forked_when_reserved_and_used_after_the_release(monkeypatch):
    monkeypatch.setattr(parallel, "cores", lambda: 2)
    with parallel.workers():
        parallel.reserve()
        monkeypatch.setitem(globals(), "SEEN_BY_WORKERS", "after")
        assert list(parallel.map_batches(seen_by_workers, range(4))) == ["after"] * 4  # new workers, forked now
        parallel.release()
        assert list(parallel.map_batches(seen_by_workers, range(4))) == ["before"] * 4  # the reserved ones


@pytest.mark.parametrize(
    "shape",
    [
        "a last entry on the final line, without a newline",
        "a @string line, then every entry on one line",
        "a @string after an entry on its line",
    ],
)
def test_no_entry_is_lost_in_pieces_whatever_the_lines(shape, tmp_path, small_pieces):
    entries = plain_entries("bibtex", 40)
    if shape.startswith("a last entry"):
        text = entries + "@article{last, title = {The last one}, doi = {10.1000/last}}"
    elif shape.startswith("a @string line"):
        text = "@string{jn = {Journal}}\n" + entries.replace("\n", " ").rstrip()
    else:
        text = "@article{a, title = {A}} @string{jn = {Journal}}\n" + entries + "@misc{b, title = {B}, journal = jn}\n"
    whole, in_pieces = read_both_ways(written(tmp_path, "bibtex", text.encode()), "bibtex", tmp_path)
    assert len(whole[0]) >= 40 and in_pieces == whole
