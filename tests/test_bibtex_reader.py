import re
import subprocess
import sys
from pathlib import Path

import pytest

from evidence.formats import read_file
from evidence.formats.latex import decode_latex, decode_title

MIXED = r"""@string{jp = "The Journal of Pain"}

@article{good1,
  author = {M{\"u}ller, J{\"o}rg and van der Berg, Anna and {Acupuncture Trialists' Collaboration}},
  title = {Needling in {B}ritain: 50\% better \& cheaper--a {T}rial of a\_b},
  journal = jp,
  year = {2018},
  pages = {455--74},
  doi = {https://doi.org/10.1016/J.JPAIN.2017.11.005},
  keywords = {condition:low-back-pain, design:rct, needling},
}

@article{broken,
  author = {Foo, Bar},
  title = {Missing closing brace,
  year = 2001,
}

@article{good2,
  title = "Second study",
  year = {twenty},
  pmid = {123},
}
@article{good1,
  title = {The same key again},
  doi = {10.1/x},
}
"""


def read(tmp_path: Path, text: str):
    path = tmp_path / "input.bib"
    path.write_text(text, encoding="utf-8")
    return read_file(path, "input.bib")


def test_latex_is_decoded_and_names_are_split(tmp_path):
    result = read(tmp_path, MIXED)
    good1 = next(r for r in result.records if r.key == "good1")
    assert good1.title == "Needling in Britain: 50% better & cheaper–a Trial of a_b"
    assert good1.journal == "The Journal of Pain"  # @string macro resolved
    assert [(p.family, p.given, p.particle) for p in good1.authors] == [
        ("Müller", "Jörg", ""),
        ("Berg", "Anna", "van der"),
        ("Acupuncture Trialists' Collaboration", "", ""),
    ]
    assert good1.pages == "455-474"
    assert good1.doi == "10.1016/j.jpain.2017.11.005"
    assert good1.year == 2018
    assert good1.keywords == ["needling"]
    assert [(t.kind, t.value, t.source) for t in good1.tags] == [
        ("condition", "low-back-pain", "input.bib:10"),
        ("design", "rct", "input.bib:10"),
    ]


def test_malformed_and_duplicate_entries_are_reported_and_others_load(tmp_path):
    result = read(tmp_path, MIXED)
    assert [r.key for r in result.records] == ["good1", "good2"]
    by_key = {(e.entry_key, e.line): e for e in result.errors}
    broken = by_key[("broken", 13)]
    assert broken.severity == "error" and "malformed entry" in broken.message
    assert "Missing closing brace" in broken.raw  # the text is kept, nothing is lost
    duplicate = by_key[("good1", 24)]
    assert "duplicate key" in duplicate.message and "line 3" in duplicate.message
    year = by_key[("good2", 21)]
    assert year.severity == "warning" and "year is not a four-digit number" in year.message
    assert next(r for r in result.records if r.key == "good2").year is None


def test_file_that_is_not_utf8_is_read_as_detected_or_as_given_and_says_what_it_got(tmp_path):
    path = tmp_path / "latin1.bib"
    path.write_bytes(
        "@article{a,\n  title={Åkeson and Ørsted on Müller's needling technique},\n  doi={10.1000/a}}".encode("latin-1")
    )
    result = read_file(path, "latin1.bib")
    assert result.records[0].title == "Åkeson and Ørsted on Müller's needling technique"
    warning = result.errors[0]
    assert warning.severity == "warning" and warning.line == 2
    assert warning.message.startswith(
        "not UTF-8 text (invalid continuation byte at byte 21: c5 6b 65 73): read as cp1252 (detected by "
        "charset-normalizer), which gives Å Ø ü;"
    )
    polish = "@article{a, title={Skuteczność akupunktury w leczeniu bólu krzyża: badanie z Łodzi}, doi={10.1000/a}}"
    (tmp_path / "cp1250.bib").write_bytes(polish.encode("cp1250"))
    detected = read_file(tmp_path / "cp1250.bib", "cp1250.bib")
    assert detected.records[0].title == "Skuteczność akupunktury w leczeniu bólu krzyża: badanie z Łodzi"
    assert "read as cp1250 (detected by charset-normalizer), which gives ś ć ó ż Ł;" in detected.errors[0].message
    given = read_file(path, "latin1.bib", encoding="latin-1")
    assert given.errors == [] and given.records[0].title.startswith("Åkeson")
    (tmp_path / "short.bib").write_bytes("@article{a, title={Łódź}, doi={10.1000/a}}".encode("cp1250"))
    assert read_file(tmp_path / "short.bib", "short.bib", encoding="cp1250").records[0].title == "Łódź"
    wrong = read_file(path, "latin1.bib", encoding="ascii")
    assert wrong.records == [] and "cannot be read as ascii" in wrong.errors[0].message


def test_byte_order_marks_are_honoured(tmp_path):
    for name, data in (
        ("utf8bom.bib", "\ufeff@article{a, title={Åkeson}, doi={10.1000/a}}".encode("utf-8")),
        ("utf16.bib", "@article{a, title={Åkeson}, doi={10.1000/a}}".encode("utf-16")),
    ):
        (tmp_path / name).write_bytes(data)
        result = read_file(tmp_path / name, name)
        assert result.errors == [] and result.records[0].title == "Åkeson"


def test_decoding_leaves_plain_text_alone():
    assert decode_latex("Plain title, no markup") == "Plain title, no markup"
    assert decode_latex(r"{\AA}keson") == "Åkeson"


def test_missing_comma_between_fields_is_flagged(tmp_path):
    result = read(tmp_path, "@article{k,\n  title = {Second}\n  doi = {10.1/two},\n  year = {2001}\n}\n")
    assert [r.key for r in result.records] == ["k"]
    warning = next(e for e in result.errors if "missing comma" in e.message)
    assert (warning.line, warning.entry_key) == (2, "k")
    assert "'doi = ...'" in warning.message


def test_title_keeps_the_spans_braces_protect_from_case_changes():
    title, spans = decode_title(r"{MRI} of {\'E}cole \emph{in vivo} and {Parkinson}'s {\"U}ber-{NEEDLE} study")
    assert title == "MRI of École in vivo and Parkinson's Über-NEEDLE study"
    # a command's argument is protected as in BibTeX; a special character ({\'E}) is not
    assert [title[a:b] for a, b in spans] == ["MRI", "in vivo", "Parkinson", "NEEDLE"]
    title, spans = decode_title("Bad news in {B}ritain")
    assert spans == [(12, 13)]  # the B of Britain, not of Bad
    assert decode_title("No braces at all") == ("No braces at all", [])


def test_fields_written_over_several_lines_are_read_as_one_line(tmp_path):
    result = read(
        tmp_path,
        "@article{k,\n  title = {A long title\n           continued},\n  doi = {10.1/x},\n"
        "  abstract = {First line\n\n  second \\emph{line}},\n}\n",
    )
    assert result.records[0].title == "A long title continued"
    assert result.records[0].abstract == "First line second line"


@pytest.mark.parametrize(
    "latex, text",
    [
        (r"Statistics in \textsf{R}", "Statistics in R"),
        (r"The \TeX book", "The TeX book"),
        (r"\LaTeX and \BibTeX for reviews", "LaTeX and BibTeX for reviews"),
        (r"A pulse of 200\,{\mbox{$\mu$}}J", "A pulse of 200 μJ"),
        (r"\texttt{code}, \emph{stress}, \textsc{Small} and \textbf{bold}", "code, stress, Small and bold"),
        (r"The \TUB{} on \MF\ and \AmSTeX", "The TUGboat on Metafont and AMS-TeX"),
        (r"{\tt code} and {\it italic\/} on a \VAX", "code and italic on a VAX"),
        (r"\mkbibquote{Quoted} input\slash output, \S 3", "“Quoted” input/output, §3"),
        (r"{MRI} in 50% of {R}\&D & care", "MRI in 50% of R&D & care"),  # not a comment, not a table
    ],
)
def test_font_box_and_logo_commands_keep_their_text(latex, text):
    """pylatexenc drops the argument of commands it has no rule for (``\\textsf{R}`` gave "in ") and the logos."""
    assert decode_latex(latex) == text
    assert decode_title(latex)[0] == text


@pytest.mark.parametrize(
    "latex, text",
    [
        (r"$\mu$-opioid receptors", "μ-opioid receptors"),
        (r"$\alpha$ and $\beta$ waves", "α and β waves"),
        (r"aged $\ge$ 65 years, $\leq$ 5\% loss, $\pm$ 2", "aged ≥ 65 years, ≤ 5% loss, ± 2"),
        (r"10 \textmu g of \ss", "10 µg of ß"),
    ],
)
def test_math_symbols_pylatexenc_knows_become_unicode(latex, text):
    assert decode_latex(latex) == text


def test_an_unknown_command_keeps_its_argument_and_is_a_warning_with_file_line_and_key(tmp_path):
    path = tmp_path / "unknown.bib"
    path.write_text(
        "@article{smith2020,\n  title = {Acupuncture \\foo{bar} and \\mkbibacro{NHS} care},\n"
        "  journal = {J \\unknownmacro Pain},\n  author = {Smith, \\initial{J}.},\n  year = {2020},\n}\n",
        encoding="utf-8",
    )
    result = read_file(path, "unknown.bib")
    [record] = result.records
    assert record.title == "Acupuncture bar and NHS care"
    assert record.journal == "J Pain"
    assert record.authors[0].given == "J."
    warnings = sorted((e.line, e.entry_key, e.message) for e in result.errors if "DOI" not in e.message)
    assert warnings == [
        (2, "smith2020", "field 'title': unknown LaTeX command \\foo left out (its argument kept as text)"),
        (2, "smith2020", "field 'title': unknown LaTeX command \\mkbibacro left out (its argument kept as text)"),
        (3, "smith2020", "field 'journal': unknown LaTeX command \\unknownmacro left out (its argument kept as text)"),
        (4, "smith2020", "field 'author': unknown LaTeX command \\initial left out (its argument kept as text)"),
    ]
    again = read_file(path, "unknown.bib")  # decoded values are cached: the warnings come again
    assert sorted((e.line, e.message) for e in again.errors) == sorted((e.line, e.message) for e in result.errors)


def test_biblatex_date_gives_year_and_month_and_an_invalid_one_is_a_warning(tmp_path):
    path = tmp_path / "dates.bib"
    path.write_text(
        "@online{month, title = {A}, date = {2016-05}, doi = {10.1/a}}\n"
        "@online{range, title = {B}, date = {1997/1999}, doi = {10.1/b}}\n"
        "@online{open, title = {C}, date = {1997/}, doi = {10.1/c}}\n"
        "@online{circa, title = {D}, date = {1997~}, year = {1990}, doi = {10.1/d}}\n"
        "@online{wrong, title = {E}, date = {1996-13-03}, year = {1996}, doi = {10.1/e}}\n",
        encoding="utf-8",
    )
    result = read_file(path, "dates.bib")
    dates = {r.key: (r.year, r.month) for r in result.records}
    assert dates == {
        "month": (2016, "may"),
        "range": (1997, None),
        "open": (1997, None),
        "circa": (1997, None),
        "wrong": (1996, None),
    }
    (warning,) = [e for e in result.errors if "date" in e.message]
    assert (warning.line, warning.entry_key, warning.severity) == (5, "wrong", "warning")
    assert "month 13" in warning.message


def test_latex_timing_script_reports_titles_time_and_warnings(tmp_path):
    path = tmp_path / "heavy.bib"
    path.write_text(
        "@article{a, title = {The \\TeX book}}\n@article{b, title = {Plain}}\n@article{c, title = {\\foo{x} $\\mu$}}\n",
        encoding="utf-8",
    )
    script = Path(__file__).parent.parent / "scripts" / "latex_timing.py"
    done = subprocess.run([sys.executable, str(script), str(path), "--repeat", "2"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(
        r"3 titles from 1 files \(2 through pylatexenc\): [\d.]+ ms, [\d.]+ µs a title; 1 warnings\n", done.stdout
    )
