"""Hostile inputs to the readers, each in a real file beside good entries: a warning or error that names the
file and line, never a traceback, and every good entry still read (nothing stored as it came: no NUL bytes, no
lone surrogates, no megabyte keys)."""

import codecs
import re

import pytest
from click.testing import CliRunner

from evidence.cli import cli
from evidence.formats import read_file

GOOD_BIB = "@article{good1,\n  title = {Good one},\n  doi = {10.1000/g.1}\n}\n"
GOOD_BIB2 = "@article{good2,\n  title = {Good two},\n  doi = {10.1000/g.2}\n}\n"
GOOD_RIS = "TY  - JOUR\nID  - good1\nTI  - Good one\nDO  - 10.1000/g.1\nER  - \n\n"
GOOD_JSON = '{"id": "good%d", "type": "article-journal", "title": "Good", "DOI": "10.1000/g.%d"}'


def json_file(bad: str) -> str:
    return "[\n" + GOOD_JSON % (1, 1) + ",\n" + bad + ",\n" + GOOD_JSON % (2, 2) + "\n]\n"


CASES = {
    "extra closing braces swallow the DOI": (
        "x.bib",
        GOOD_BIB + "@article{close,\n  title = {Close}}}},\n  doi = {10.1000/c}\n}\n" + GOOD_BIB2,
        ["good1", "close", "good2"],
        (7, "warning", r"'doi = \.\.\.' comes after the end of the entry \(a closing brace too many"),
    ),
    "an undefined @string macro": (
        "x.bib",
        GOOD_BIB + "@article{macro,\n  title = {M},\n  journal = nosuchjournal,\n  doi = {10.1000/m}\n}\n" + GOOD_BIB2,
        ["good1", "macro", "good2"],
        (7, "warning", r"field 'journal': no @string defines 'nosuchjournal'"),
    ),
    "a @string defined by itself": (
        "x.bib",
        "@string{me = me}\n" + GOOD_BIB + "@article{self,\n  title = {S},\n  journal = me,\n  doi = {10.1000/s}\n}\n",
        ["good1", "self"],
        (8, "warning", r"field 'journal': no @string defines 'me'; the field was left out, as biber does"),
    ),
    "braces 300 deep around an accent": (
        "x.bib",
        GOOD_BIB + "@article{deep,\n  title = {" + "{" * 300 + "\\'e" + "}" * 300 + "},\n  doi = {10.1000/d}\n}\n",
        ["good1", "deep"],
        (6, "warning", r"field 'title': its LaTeX could not be decoded \(nested too deeply\?\); kept as written"),
    ),
    "a key of a megabyte": (
        "x.bib",
        GOOD_BIB + "@article{" + "k" * 1_000_000 + ",\n  title = {Long},\n  doi = {10.1000/l}\n}\n",
        ["good1", "longnd"],
        (5, "warning", r"key of 1000000 characters \(k{20}\.\.\.\): one was made instead"),
    ),
    "NUL bytes in a value": (
        "x.bib",
        GOOD_BIB + "@article{nul,\n  title = {N\0U\0L},\n  doi = {10.1000/n}\n}\n",
        ["good1", "nul"],
        (6, "warning", r"2 NUL bytes \(0x00\), the first at line 6: is part of it binary\? They were removed"),
    ),
    "a TY line without its spaces": (
        "x.ris",
        "TY-JOUR\nTI  - Lost\nER  - \n\n" + GOOD_RIS,
        ["good1"],
        (1, "error", r"line 1, 'TY-JOUR', is not a TY line as RIS writes one"),
    ),
    "CSL-JSON nested 2,000 deep": (
        "x.json",
        json_file('{"id": "deep", "title": "Deep", "note": ' + "[" * 2000 + "]" * 2000 + "}"),
        ["good1", "good2"],
        (3, "error", r"item 2 is nested too deeply to read; it was not loaded"),
    ),
    "a number of 5,000 digits": (
        "x.json",
        json_file('{"id": "big", "title": "Big", "volume": ' + "9" * 5000 + ', "DOI": "10.1000/b"}'),
        ["good1", "big", "good2"],
        (3, "warning", r"field 'volume': a number of 5000 digits; left empty"),
    ),
    "a lone surrogate in a title": (
        "x.json",
        json_file('{"id": "lone", "title": "Lone \\ud800 half", "DOI": "10.1000/l"}'),
        ["good1", "lone", "good2"],
        (3, "warning", r"field 'title': a lone UTF-16 surrogate \(such as \\ud800, half of a pair\) was replaced"),
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_a_hostile_entry_is_reported_at_its_line_and_the_others_load(case, tmp_path):
    name, text, keys, (line, severity, pattern) = CASES[case]
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    result = read_file(path, name)
    assert [r.key for r in result.records] == keys
    assert any(e.line == line and e.severity == severity and re.search(pattern, e.message) for e in result.errors), [
        (e.line, e.message) for e in result.errors
    ]
    for record in result.records:
        for value in (record.key, record.title, record.journal or ""):
            assert "\0" not in value and len(value) < 1000
            value.encode("utf-8")  # no lone surrogate: SQLite stores it


ENCODED = {
    "a UTF-8 byte-order mark, then a byte that is not UTF-8": (
        codecs.BOM_UTF8 + GOOD_BIB.encode() + b"@article{bad,\n  title = {Caf\xe9},\n  doi = {10.1000/b}\n}\n",
        ["good1", "bad"],
        (6, "warning", r"starts with a UTF-8 byte-order mark, but bytes e9 7d 2c 0a at byte 93 are not UTF-8"),
    ),
    "a UTF-16 byte-order mark and an odd number of bytes": (
        (GOOD_BIB + GOOD_BIB2).encode("utf-16") + b"\0",
        ["good1", "good2"],
        (9, "warning", r"starts with a UTF-16 byte-order mark, but bytes 00 at byte \d+ are not UTF-16 \(truncated"),
    ),
    "UTF-16 without a byte-order mark": (
        (GOOD_BIB + GOOD_BIB2).encode("utf-16-le"),
        [],
        (None, "error", r"looks like UTF-16 \(utf-16-le\) without a byte-order mark: every other byte is 0"),
    ),
    "a few bytes that are not UTF-8 between good entries": (
        GOOD_BIB.encode() + b"\x81\x8d\x8f\x90\x9d\n" + GOOD_BIB2.encode(),
        ["good1", "good2"],
        (
            5,
            "warning",
            r"not UTF-8 text \(invalid start byte at byte 62: 81 8d 8f 90\): read as \S+ \(detected by charset",
        ),
    ),
    "garbage bytes in the middle, that no encoding reads as text": (
        GOOD_BIB.encode() + bytes(range(128, 256)) * 4 + GOOD_BIB2.encode(),
        [],
        (None, "error", r"not UTF-8 text \(invalid start byte at byte 62: 80 81 82 83\) at line 5, nor cp1252 nor any"),
    ),
}


@pytest.mark.parametrize("case", ENCODED)
def test_bytes_that_do_not_decode_are_named_with_their_place(case, tmp_path):
    data, keys, (line, severity, pattern) = ENCODED[case]
    path = tmp_path / "x.bib"
    path.write_bytes(data)
    result = read_file(path, "x.bib")
    assert [r.key for r in result.records] == keys
    assert any(e.line == line and e.severity == severity and re.search(pattern, e.message) for e in result.errors), [
        (e.line, e.message) for e in result.errors
    ]


def test_evidence_load_of_hostile_files_says_one_line_each_and_loads_the_rest(tmp_path):
    files = []
    for number, case in enumerate(["CSL-JSON nested 2,000 deep", "braces 300 deep around an accent"]):
        name, text, _, _ = CASES[case]
        files.append(tmp_path / f"{number}{name}")
        files[-1].write_text(text, encoding="utf-8")
    result = CliRunner().invoke(cli, ["load", str(tmp_path / "e.db"), *map(str, files)])
    assert result.exit_code in (0, 1) and "Traceback" not in result.output, result.output
    assert re.search(r"0x\.json:3: .*item 2 is nested too deeply", result.output), result.output
    assert "studies (" in result.output and "good1" not in result.output
