"""How a file is read before any reader sees it: its format found by content before its suffix, documents and
archives refused, its encoding from a byte-order mark, --encoding, UTF-8, its own declaration or detection;
and inputs that cannot be used at all ending the command with one line and exit status 2. Real files, the
real command line."""

import io
import zipfile
from dataclasses import asdict
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlite_utils import Database

from evidence.cli import cli
from evidence.fast import pieces
from evidence.fast.spool import Spool
from evidence.formats import FORMATS, format_of, read_file
from evidence.formats.encoding import codec_name, declared_encoding

# An EndNote RIS export (the shape of tests/fixtures/endnote.ris), as users save it: with a .txt suffix.
ENDNOTE_RIS = (
    "TY  - JOUR\r\nAU  - Cherkin, D. C.\r\nAU  - Sherman, K. J.\r\nTI  - A randomized trial comparing acupuncture, "
    "simulated acupuncture, and usual care for chronic low back pain\r\nT2  - Arch Intern Med\r\nPY  - 2009\r\n"
    "VL  - 169\r\nIS  - 9\r\nSP  - 858-66\r\nDO  - 10.1001/archinternmed.2009.65\r\nER  - \r\n\r\n"
)
MEDLINE = "PMID- 19433697\nTI  - A randomized trial comparing acupuncture.\nDP  - 2009 May 11\n"
BIBTEX = "% exported\n@article{cherkin2009, title = {A randomized trial}, year = 2009, doi = {10.1001/x}}\n"
CSL_JSON = '[{"id": "cherkin2009", "type": "article-journal", "title": "A randomized trial", "DOI": "10.1001/x"}]'
REFERENCE = "[1] Cherkin DC, Sherman KJ. A randomized trial. Arch Intern Med. 2009;169(9):858-66.\n"


@pytest.mark.parametrize(
    "name, text, expected",
    [
        ("endnote.txt", ENDNOTE_RIS, "ris"),
        ("pubmed.txt", MEDLINE, "medline"),
        ("library.txt", BIBTEX, "bibtex"),
        ("export.txt", CSL_JSON, "csl-json"),
        ("refs.txt", REFERENCE, "reference-list"),  # "[1] ..." is no JSON array
        ("wrong.bib", ENDNOTE_RIS, "ris"),
        ("wrong.ris", BIBTEX, "bibtex"),
        ("odd.xyz", BIBTEX, "bibtex"),
        ("odd.xyz", "just some words\n", None),
        ("empty.ris", "", "ris"),
    ],
)
def test_the_format_is_found_by_content_before_suffix(name, text, expected):
    assert format_of(Path(name), text) == expected


def test_a_bibtex_file_quoting_ris_in_an_abstract_stays_bibtex():
    text = "@article{a, title = {T},\nabstract = {\nTY  - JOUR\n}}\n"
    assert format_of(Path("a.bib"), text) == "bibtex"
    assert format_of(Path("a.ris"), "TY  - JOUR\nAB  - see\n@article{x,\nER  - \n") == "ris"


def test_an_endnote_ris_export_saved_as_txt_loads_as_ris(tmp_path):
    path = tmp_path / "endnote export.txt"
    path.write_bytes(ENDNOTE_RIS.encode())
    result = read_file(path, path.name)
    [record] = result.records
    assert (record.source_format, record.title[:25], record.journal, record.pages) == (
        "ris",
        "A randomized trial compar",
        "Arch Intern Med",
        "858-866",
    )
    assert [a.family for a in record.authors] == ["Cherkin", "Sherman"]
    forced = read_file(path, path.name, format="reference-list")  # a deliberate --format still wins
    assert all(r.source_format == "reference-list" for r in forced.records)


def test_a_large_ris_export_saved_as_txt_is_read_in_pieces_as_ris_too(tmp_path, monkeypatch):
    monkeypatch.setattr(pieces, "PARALLEL_FROM", 0)
    monkeypatch.setattr(pieces, "PIECE", 2000)
    path = tmp_path / "big export.txt"
    path.write_bytes("".join(ENDNOTE_RIS.replace("858-66", f"{n}-{n + 9}") for n in range(100, 140)).encode())
    assert len(pieces.scan(path, FORMATS["ris"].pieces.record_start)[0]) > 2  # it can be cut
    whole = read_file(path, path.name)
    in_pieces = pieces.read_file(path, path.name, spool=Spool(tmp_path, lambda record, place: record))
    assert [asdict(r) for r in in_pieces.records] == [asdict(r) for r in whole.records]
    assert len(whole.records) == 40 and {r.source_format for r in whole.records} == {"ris"}


def docx_bytes() -> bytes:
    """A minimal Word document: a ZIP archive with the parts Word writes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr(
            "word/document.xml", "<w:document><w:t>Cherkin DC. A randomized trial. 2009</w:t></w:document>"
        )
    return buffer.getvalue()


@pytest.mark.parametrize(
    "name, data, kind",
    [
        ("references.docx", docx_bytes(), "a ZIP archive (a .docx, .xlsx or .odt file is one)"),
        ("references.txt", docx_bytes(), "a ZIP archive"),
        ("paper.txt", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", "a PDF document"),
        ("old.bib", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 40, "a Microsoft Office document"),
        ("refs.ris", b"{\\rtf1\\ansi TY  - JOUR\\par TI  - T\\par ER  - }", "an RTF document"),
    ],
)
def test_documents_and_archives_are_errors_never_studies(name, data, kind, tmp_path):
    path = tmp_path / name
    path.write_bytes(data)
    result = read_file(path, name)
    assert result.records == []
    [error] = result.errors
    assert error.severity == "error" and error.line is None and error.message.startswith(kind)
    assert "not a bibliography" in error.message


# Titles of real studies, in the scripts and encodings their authors' exports use.
GBK_BIB = (
    "@article{li2019,\n  title = {针刺治疗慢性非特异性腰痛的随机对照试验},\n  author = {李明 and 王芳},\n"
    "  journal = {中国针灸},\n  year = {2019},\n  doi = {10.1000/gbk.1}\n}\n"
)


@pytest.mark.parametrize(
    "text, encoding, chosen",
    [
        (GBK_BIB, "gbk", "gb18030"),  # a superset of GBK: the same text
        (
            "@article{a, title = {Étude de l'acupuncture à Zürich}, author = {Müller, Jürgen}, doi = {10.1000/a}}\n",
            "latin-1",
            "cp1252",
        ),
        (
            "TY  - JOUR\nTI  - The \u201cneedle\u201d effect \u2013 a trial\u2019s results\nAU  - O\u2019Brien, J.\nPY  - 2010\nER  - \n",
            "cp1252",
            "cp1252",
        ),
        (
            "@article{a, title = {Иглоукалывание при боли в спине}, author = {Иванов, Пётр}, doi = {10.1000/a}}\n",
            "cp1251",
            "cp1251",
        ),
    ],
)
def test_a_file_that_is_not_utf8_and_declares_nothing_is_read_as_detected(text, encoding, chosen, tmp_path):
    suffix = ".ris" if text.startswith("TY") else ".bib"
    path = tmp_path / f"export{suffix}"
    path.write_bytes(text.encode(encoding))
    result = read_file(path, path.name)
    [record] = result.records
    assert record.title in text
    assert record.authors[0].family in text
    [warning] = [e for e in result.errors if "not UTF-8" in e.message]
    assert warning.severity == "warning"
    assert f"read as {chosen} (detected by charset-normalizer), which gives " in warning.message


@pytest.mark.parametrize(
    "header, name",
    [
        ("% coding: latin-9\n", "latin-9"),
        ("% -*- coding: iso-8859-15 -*-\n", "iso-8859-15"),
        ("% !TeX encoding = ISO-8859-15\n", "ISO-8859-15"),
        ("% This file was created with JabRef 2.10.\n% Encoding: latin9\n\n", "latin9"),
    ],
)
def test_an_encoding_declared_in_the_first_lines_is_honoured(header, name, tmp_path):
    text = (
        header
        + "@article{a, title = {Le co\u00fbt de l'acupuncture: 50 \u20ac par s\u00e9ance \u0153uvre}, doi = {10.1000/a}}\n"
    )
    data = text.encode("iso-8859-15")  # € is 0xa4 in Latin-9, ¤ in Latin-1 and cp1252 reads it as ¤ too
    assert declared_encoding(data) == name
    path = tmp_path / "latin9.bib"
    path.write_bytes(data)
    result = read_file(path, path.name)
    assert result.errors == []
    assert result.records[0].title == "Le coût de l'acupuncture: 50 € par séance œuvre"


def test_a_declaration_that_does_not_fit_is_said_and_detection_decides(tmp_path):
    path = tmp_path / "wrong.bib"
    path.write_bytes(
        "% coding: ascii\n@article{a, title = {Caf\u00e9 and na\u00efve needling}, doi = {10.1000/a}}\n".encode(
            "latin-1"
        )
    )
    result = read_file(path, path.name)
    assert result.records[0].title == "Café and naïve needling"
    assert "it declares ascii, but is not (ordinal not in range(128) at byte" in result.errors[0].message
    unknown = tmp_path / "unknown.bib"
    unknown.write_bytes("% Encoding: klingon\n@article{a, title = {Caf\u00e9}, doi = {10.1000/a}}\n".encode("latin-1"))
    assert "it declares klingon, an encoding Python does not know" in read_file(unknown, "u.bib").errors[0].message


def test_a_utf8_file_is_read_as_utf8_whatever_a_stale_header_says(tmp_path):
    path = tmp_path / "resaved.bib"
    path.write_text(
        "% Encoding: Cp1252\n@article{a, title = {Caf\u00e9 \u2013 Z\u00fcrich}, doi = {10.1000/a}}\n", "utf-8"
    )
    result = read_file(path, path.name)
    assert result.errors == [] and result.records[0].title == "Café – Zürich"


@pytest.mark.parametrize(
    "given, python", [("latin-9", "iso8859-15"), ("Cp1252", "cp1252"), ("UTF8", "utf-8"), ("gbk", "gbk")]
)
def test_every_encoding_name_python_knows_is_accepted(given, python):
    assert codec_name(given) == python


@pytest.mark.parametrize("name", ["klingon", "base64", "rot13", "zlib"])
def test_names_that_are_no_text_encoding_are_refused(name):
    assert codec_name(name) is None


def run(*arguments: str):
    return CliRunner().invoke(cli, list(arguments))


def test_encoding_latin9_is_accepted_by_load(tmp_path):
    path = tmp_path / "a.bib"
    path.write_bytes("@article{a, title = {50 \u20ac per session}, doi = {10.1000/a}}\n".encode("iso-8859-15"))
    result = run("load", str(tmp_path / "e.db"), "--encoding", "latin-9", str(path))
    assert result.exit_code == 0, result.output
    assert Database(tmp_path / "e.db").execute("select title from studies").fetchone()[0] == "50 € per session"


@pytest.mark.parametrize(
    "make, arguments, message",
    [
        (None, ["missing.bib", "a.bib"], "Error: {t}/missing.bib: file not found"),
        ("folder", ["refs", "a.bib"], "Error: {t}/refs: is a folder, not a file; give the files in it"),
        ("loop", ["loop.bib", "a.bib"], "Error: {t}/loop.bib: cannot be read: Too many levels of symbolic links"),
        (None, ["--encoding", "klingon", "a.bib"], "Error: --encoding klingon: Python knows no text encoding"),
    ],
)
@pytest.mark.parametrize("command", ["load", "check"])
def test_inputs_that_cannot_be_used_exit_2_with_one_line_before_anything_is_written(
    make, arguments, message, command, tmp_path
):
    (tmp_path / "a.bib").write_text("@article{good, title = {Good}, doi = {10.1000/good1}}\n", "utf-8")
    if make == "folder":
        (tmp_path / "refs").mkdir()
    if make == "loop":
        (tmp_path / "loop.bib").symlink_to(tmp_path / "loop.bib")
    given = [a if a.startswith("-") or a == "klingon" else str(tmp_path / a) for a in arguments]
    db = tmp_path / "e.db"
    result = run(command, *([str(db)] if command == "load" else []), *given)
    assert result.exit_code == 2, result.output
    lines = result.output.splitlines()
    assert len(lines) == 1 and lines[0].startswith(message.format(t=tmp_path)), result.output
    assert not db.exists()
