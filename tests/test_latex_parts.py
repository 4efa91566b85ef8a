"""LaTeX decoded in parts (evidence.fast.latex_text, on the fast path) gives exactly the text and notes that
pylatexenc gives reading the whole value (the plain path): on every field value of the real BibTeX files in
tests/fixtures/real, titles with their case-protection marks too, and on generated values mixing accents,
logos, font commands, math, specials, comments, environments and unbalanced braces."""

from pathlib import Path

import pytest
from conftest import FIXTURES
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from evidence import fast
from evidence.formats import bibtex, latex


def both_paths(value: str, monkeypatch) -> tuple[tuple, tuple]:
    """decode_noted of the value on the plain path and on the fast path."""
    found = []
    for enabled in (False, True):
        monkeypatch.setattr(fast, "ENABLED", enabled)
        found.append(latex.decode_noted(value))
    return found[0], found[1]


def real_values() -> list[str]:
    """Every field value of the real BibTeX files (their @string macros resolved), and each title as the title
    reader gives it to the decoder."""
    values: dict[str, None] = {}
    for path in sorted((FIXTURES / "real").glob("*.bib")):
        for draft in bibtex.drafts(Path(path).read_text(encoding="utf-8", errors="replace"), path.name):
            for name, value, _ in draft.fields or []:
                values[value] = None
                if name == "title":
                    values[latex._mark_protected(value)] = None
    return list(values)


def test_every_value_of_the_real_files_decodes_the_same_in_parts(monkeypatch):
    values = real_values()
    assert len(values) > 10_000
    in_parts = [v for v in values if "\\" in v and latex.decode_in_parts(v, latex._argspec, latex._decode_atom)]
    assert len(in_parts) > 500  # the parts path is really taken
    for value in values:
        plain, fast_path = both_paths(value, monkeypatch)
        assert fast_path == plain, value


TOKENS = [
    "a", "Zoë", " ", "\n", "{", "}", "{}", "\\'", '\\"', "\\v ", "\\c", "e", "o", "C", "1", "\\i", "\\TeX",
    "\\TeX{}", "\\LaTeX\\ ", "\\&", "\\%", "\\$", "\\_", "\\{", "$x^2$", "$\\alpha$", "$", "%", "~", "-", "--",
    "---", "``", "''", "'", "`", "!`", "?`", "\\emph{", "\\textit", "\\acro", "\\,", "\\/", "\\ ", "\\\\",
    "\\tt ", "{\\it ", "\\url{", "\\href{", "\\noopsort{", "\\mkbibquote{", "\\begin{x}", "\\end{x}", "\\par",
    "\\cite[p.~3]{k}", "\\hspace{1em}", "\\unknown ", "\\o", "\\ss{}", "\\textendash", "\\path|a@b|", "\ue000",
    "\ue001", "\\", "&", "#", "^", "_", "\t",
]  # fmt: skip


@given(value=st.lists(st.sampled_from(TOKENS), max_size=14).map("".join))
@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@seed(20261207)
def test_generated_values_decode_the_same_in_parts(value, monkeypatch):
    plain, fast_path = both_paths(value, monkeypatch)
    assert fast_path == plain


@pytest.mark.parametrize(
    "value, text",
    [
        ("Euro{\\TeX}'99 -- XI. Europ{\\\"a}ische {\\TeX}-Konferenz", "EuroTeX'99 – XI. Europäische TeX-Konferenz"),
        ("{\\it {\\LaTeX} for\n   Everyone\\/}", "LaTeX for Everyone"),
        ("Klompen, Kaas \\& Con\\TeX t -- 20.~TUG", "Klompen, Kaas & ConTeX t – 20. TUG"),
    ],
)
def test_parts_give_the_text_a_reader_expects(value, text, monkeypatch):
    assert both_paths(value, monkeypatch) == ((text, ()), (text, ()))


@pytest.mark.parametrize("depth", [5, 20, 21, 300])
def test_deeply_nested_braces_decode_as_the_plain_path_decodes_them(depth, monkeypatch):
    for value in ("{" * depth + "\\'e" + "}" * depth, "a \\emph{" + "{" * depth + "x" + "}" * depth + "} b"):
        plain, fast_path = both_paths(value, monkeypatch)
        assert fast_path == plain
    assert both_paths("{" * 300 + "\\'e" + "}" * 300, monkeypatch)[1] == (
        "{" * 300 + "\\'e" + "}" * 300,
        (latex.UNDECODED,),
    )
