"""The fast BibTeX path (bibtex_split for entries of the regular shape, bibtexparser for the rest) gives
exactly what reading everything with bibtexparser gives: records, errors, line numbers, @string values."""

import dataclasses
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest
from bibtexparser.middlewares.names import split_multiple_persons_names
from conftest import FIXTURES

from evidence import fast, loader
from evidence.formats import bibtex, bibtex_names
from evidence.formats.latex import braced_safely

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"

# Shapes the fast path reads, shapes it must leave to bibtexparser, and mixtures of both.
EDGES = r"""Text before the first block, with an address: someone@example.org
@STRING{Late0 = {Defined {late}}}
@Article{fast1,
	Author = {M{\"u}ller, J{\"o}rg and {\'E}mile Zola and de la Cruz, Mar{\'i}a and {Simon and Schuster}},
	Title = {{MRI} of {\'E}cole---and \emph{in vivo} $\beta$ 50\%},
	journal = late, year = 2020, month = JAN, volume = 12,
	pages = "1--5", doi = {10.1/fast1}, keywords = {design:rct; condition:pain, needling},
	note = {braces \{ escaped \} inside}, url = {http://x.org/~a%20b}
}
@article{fast2,title={No spaces},doi="10.1/fast2",pmid={12}}
@article{ spaced , title = { Spaced out } , author = "Doe, Jane" ,
}
@misc{quoted, title = "Quoted {with} braces and, commas", note = "a {"} quote", doi = {10.1/q}}
@misc{escaped, title = "An \"escaped\" quote", doi = {10.1/e}}
@misc{deep, title = {One {two {three {four {five}}}} levels}, doi = {10.1/deep}}
@misc{concat, title = {Joined} # { parts}, series = jan # feb, doi = {10.1/concat}}
@misc{atsign, title = {Mail me@home or LeQua @ {CLEF}}, doi = {10.1/at}}
@misc{twoonaline, title = {First}, doi = {10.1/one}} @misc{second, title = {Second}, doi = {10.1/two}}
@misc(parens, title = {In parentheses}, doi = {10.1/parens})
@misc{commented, % a comment between fields
  title = {Commented}, doi = {10.1/c}}
@misc{fast1, title = {Same key as the first}, doi = {10.1/again}}
@misc{dupfield, title = {One}, Title = {Other case}, title = {Same case}}
@misc{nofields}
@misc{emptyvalue, title = {}, doi = {10.1/empty}, note = ""}
@misc{missingcomma, title = {Swallows
  year = {2001}}, doi = {10.1/m}}
@misc{linestart, title = {A value with
  @article{inside, title = {an entry start inside it}}
@misc{bareword, title = {Words}, journal = undefined, month = late0, volume = LATE0, doi = {10.1/w}}
@string{late = "Late Journal"}
@string{late = "Again"}
@comment{a comment holding @misc{hidden, title = {no}}}
@preamble{"\newcommand{\noop}[1]{#1}"}
@misc{crlf,
  title = {Windows lines},
  doi = {10.1/crlf}}
@misc{unicode, title = {Ørsted’s café}, author = {Ørsted, Hans Christian}, doi = {10.1/ü}}
@misc{backslashed, title = {A backslash at the end \\}, doi = {10.1/b}}
@misc{tail, title = {Comment text after it}, doi = {10.1/t}} and then some words
@misc{unclosed, title = {Never closed, doi = {10.1/u}
""".replace("@misc{crlf,\n  title = {Windows lines},\n", "@misc{crlf,\r\n  title = {Windows lines},\r\n")


def both(text: str, **blocks_args) -> tuple[list, list]:
    """The drafts of the text's blocks read the fast way and with bibtexparser alone."""
    quick = bibtex.drafts(text, "x.bib", **blocks_args)
    fast.ENABLED = False
    try:
        reference = bibtex.drafts(text, "x.bib", **blocks_args)
    finally:
        fast.ENABLED = True
    return quick, reference


def assert_reads_the_same(text: str) -> None:
    quick, reference = both(text)
    assert quick == reference
    fast.ENABLED = False
    try:
        whole = bibtex.read(text, "x.bib")
    finally:
        fast.ENABLED = True
    read = bibtex.read(text, "x.bib")
    assert [dataclasses.asdict(r) for r in read.records] == [dataclasses.asdict(r) for r in whole.records]
    assert read.errors == whole.errors


@pytest.mark.parametrize(
    "path", sorted(FIXTURES.glob("*.bib")) + [loader.DATA_DIR / "studies.bib"], ids=lambda path: path.name
)
def test_every_bibtex_file_reads_as_bibtexparser_reads_it(path):
    assert_reads_the_same(path.read_text(encoding="utf-8"))


def test_a_generated_corpus_reads_as_bibtexparser_reads_it(tmp_path):
    done = subprocess.run(
        [sys.executable, str(SCRIPTS / "make_corpus.py"), "400", "--out", str(tmp_path), "--formats", "bib"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert_reads_the_same((tmp_path / "corpus.bib").read_text(encoding="utf-8"))


def test_unusual_shapes_read_as_bibtexparser_reads_them():
    assert_reads_the_same(EDGES)
    quick, _ = both(EDGES)
    entries = {draft.key: draft.record for draft in quick if draft.failure is None and draft.record.title}
    assert entries["fast1"].journal == "Again"  # a @string defined further down, twice: the last value holds
    assert entries["bareword"].month == "Defined late"
    assert {"fast1", "quoted", "deep", "concat", "inside", "tail"} <= set(entries)


def test_every_cut_of_the_unusual_shapes_reads_as_bibtexparser_reads_it():
    """Each start of a line as the end of the text: blocks left open, tails, half-written values."""
    lines = EDGES.splitlines(keepends=True)
    for end in range(len(lines) + 1):
        for start in (0, end // 2):
            quick, reference = both("".join(lines[start:end]))
            assert quick == reference, (start, end)


def test_pieces_with_strings_given_read_as_bibtexparser_reads_them():
    """As read() gives pieces of a large text: lines before, lines of their own, the file's @strings."""
    lines = EDGES.splitlines(keepends=True)
    strings = "".join(line for line in lines if line.lower().startswith("@string"))
    for cut in range(0, len(lines), 3):
        text = "".join(lines[cut:])
        own = text.count("\n") // 2
        seeds = [bibtex.PIECES.context(strings) for _ in range(2)]
        quick = bibtex.drafts(text, "x.bib", cut, own, seeds[0])
        fast.ENABLED = False
        try:
            reference = bibtex.drafts(text, "x.bib", cut, own, seeds[1])
        finally:
            fast.ENABLED = True
        assert quick == reference, cut
        assert seeds[0].strings_dict.keys() == seeds[1].strings_dict.keys()


def test_names_split_as_bibtexparser_splits_them_but_keep_backslashes():
    corpus = (FIXTURES / "tricky.bib").read_text(encoding="utf-8") + EDGES
    lists = re.findall(r"author = \{(.*)\}", corpus) + [
        "a and b",
        " a  AND\tb ",
        "a and and b",
        "and b",
        "a and",
        "a and {B}",
        "x {y}and z",
        "a \\and b",
        "a\\ and b",
        "{a\\} and b} and c",
        "a and }b",
        "a and {b",
        "",
        "  ",
        "a\\",
        "{a}and{b}",
        "a  an and y",
        "a and\nb",
        "a \u00a0and b",
        "{{{{deep}}}} and b",
    ]
    rng = random.Random(7)
    alphabet = ["a", "n", "d", " ", "{", "}", "\\", "x", "A", "N", "D", "\t", "\n"]
    lists += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 16))) for _ in range(20000)]
    # bibtexparser drops a backslash and what follows, and splits nothing where braces are unbalanced
    plain = [value for value in lists if "\\" not in value and braced_safely(value.replace("\n", " "))]
    assert [bibtex_names.split_names(value) for value in plain] == [
        split_multiple_persons_names(value) for value in plain
    ]
    assert bibtex_names.split_names("\\'emile Zola and B {\\and} C") == ["\\'emile Zola", "B {\\and} C"]
    assert bibtex_names.split_names("a and }b and {c} and d") == ["a", "}b and {c} and d"]  # as btparse splits
