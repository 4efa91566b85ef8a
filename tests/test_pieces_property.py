"""Property: a file read in pieces (evidence.fast.pieces, with tiny pieces and scan windows) gives exactly what
reading its whole text gives, over generated BibTeX, RIS and MEDLINE files of every awkward shape: no final
newline, everything on one line, CRLF or lone CR line ends, runs of blank lines, comments between records, odd
record starts, malformed and repeated entries, @string blocks and non-ASCII text."""

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_read_in_pieces import EXTENSIONS, outcome

from evidence.fast import pieces
from evidence.fast.spool import Spool
from evidence.formats import read_file


def bibtex_entry(i: int) -> st.SearchStrategy[str]:
    key, year = f"k{i}", 2000 + i % 3
    return st.sampled_from(
        [
            f"@article{{{key},\n  title = {{Study {i}}},\n  author = {{Müller, Jürgen}},\n  year = {{{year}}},\n"
            f"  doi = {{10.1000/s.{i}}}\n}}",
            f"@article{{{key}, title = {{One line {i}}}, year = {year}, journal = jn}}",
            f'@misc({key},\n  title = "Parenthesised {i}",\n  year = "{year}"\n)',
            f"@article{{{key},\n  title = {{Unclosed {i}\n",
            f"@article{{{key},\n  title = {{Close}}}}}},\n  doi = {{10.1000/c.{i}}}\n}}",
            "@article{twice,\n  title = {A key given twice},\n}",
            f"@book{{{key},\n  author = {{Nobody}},\n  year = {{{year}}}\n}}",
            "@string{jn = {Journal of Things}}",
            "@comment{nothing to read here}",
            '@preamble{"\\newcommand{\\x}{y}"}',
            f"@article{{{key},\n  title = {{An @ inside {i}}},\n@ at a line start\n}}",
            f"@article{{{key},\n  title = {{Caf\\'e {{\\\"u}} {i}}},\n  year = {{{year}}}}}",
        ]
    )


def ris_entry(i: int) -> st.SearchStrategy[str]:
    return st.sampled_from(
        [
            f"TY  - JOUR\nAU  - Müller, Jürgen\nTI  - Study {i}\nPY  - {2000 + i % 3}\nDO  - 10.1000/r.{i}\nER  - ",
            f"TY  - JOUR\nTI  - Without an end line {i}\nPY  - 2001",
            f"TY JOUR\nTI  - Its TY line lost its spaces {i}\nER  - ",
            "TY  - JOUR\nID  - twice\nTI  - A key given twice\nER  - ",
            f"TY  - BOOK\nTI  - A title\n  continued on the next line {i}\nKW  - one\nKW  - two\nER  - ",
            "TY  - JOUR\nAU  - Nobody\nER  - ",
            "ER  - ",
            f"AU  - A tag outside any entry {i}",
        ]
    )


def medline_entry(i: int) -> st.SearchStrategy[str]:
    return st.sampled_from(
        [
            f"PMID- {1000 + i}\nTI  - Study {i}.\nFAU - Müller, Jürgen\nDP  - {2000 + i % 3} May",
            f"PMID- {1000 + i}\nTI  - A title running\n      onto a second line {i}.\nDP  - 2001",
            "PMID- 7\nTI  - A PMID given twice.\nDP  - 2002",
            f"PMID- {1000 + i}\nFAU - Nobody\nthis line is neither a tag nor a continuation",
            f"TI  - A tag before any PMID {i}.",
        ]
    )


ENTRIES = {"bibtex": bibtex_entry, "ris": ris_entry, "medline": medline_entry}
BETWEEN = {
    "bibtex": ["\n", "\n\n\n", "\n  \n", "\n% a comment\n", " ", "\n@\n"],
    "ris": ["\n", "\n\n\n", "\n  \n", "\nProvider: a line of text\n", "\r\n"],
    "medline": ["\n", "\n\n\n", "\n  \n", "\n# a comment\n", "\n\n\n\n"],
}


@st.composite
def files(draw, format: str) -> bytes:
    """A file of ``format``: generated entries and separators, in one of the awkward shapes."""
    before = draw(st.sampled_from(["", "% text before\n", "\n\n"]))
    entries = [
        draw(ENTRIES[format](i)) + draw(st.sampled_from(BETWEEN[format])) for i in range(draw(st.integers(0, 12)))
    ]
    text = before + "".join(entries)
    shapes = ["as is", "no final newline", "one line", "one line after the first entry", "crlf", "cr", "crlf, no end"]
    shape = draw(st.sampled_from(shapes))
    if shape == "one line":
        text = text.replace("\n", " ")
    elif shape == "one line after the first entry" and entries:
        text = before + entries[0] + "\n" + "".join(entries[1:]).replace("\n", " ")
    if shape in ("no final newline", "crlf, no end") or shape.startswith("one line"):
        text = text.rstrip("\n ")
    elif shape.startswith("crlf"):
        text = text.replace("\r\n", "\n").replace("\n", "\r\n")
    elif shape == "cr":
        text = text.replace("\n", "\r")
    return text.encode()


def keep(record, place):
    return record


@pytest.mark.parametrize("format", ["bibtex", "ris", "medline"])
@settings(derandomize=True, max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_file_read_in_pieces_gives_what_its_whole_text_gives_whatever_its_shape(format, data):
    content = data.draw(files(format))
    piece, scan = data.draw(st.integers(1, 400)), data.draw(st.integers(5, 600))
    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as patch:
        path = Path(folder) / f"file.{EXTENSIONS[format]}"
        path.write_bytes(content)
        whole = outcome(read_file(path, path.name, format))
        patch.setattr(pieces, "PARALLEL_FROM", 0)
        patch.setattr(pieces, "PIECE", piece)
        patch.setattr(pieces, "SCAN", scan)
        in_pieces = outcome(pieces.read_file(path, path.name, format, spool=Spool(Path(folder), keep)))
    assert in_pieces == whole
