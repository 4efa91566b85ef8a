"""The RIS reader on exports shaped like Zotero's, EndNote's and bibliographic databases' (tests/fixtures/*.ris),
on malformed input, and on our own RIS export."""

import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FIXTURES, assert_reads_back, exported_and_read_back

from evidence import loader
from evidence.cli import cli
from evidence.formats import FORMATS, format_of, read_file
from evidence.formats.ris import ENTRY_TYPES, RIS_TYPES, read
from evidence.records import Person


def read_fixture(name: str):
    return read_file(FIXTURES / name, name)


def fixture_line(name: str, number: int) -> str:
    """Line ``number`` (1-based) of a fixture as an editor shows it."""
    return (FIXTURES / name).read_text(encoding="utf-8-sig").splitlines()[number - 1]


def test_ris_files_are_read_by_this_reader_and_types_invert_the_writers():
    assert format_of(Path("refs.RIS")) == "ris" and "ris" in FORMATS
    assert {RIS_TYPES[bibtex_type] for bibtex_type in ENTRY_TYPES.values()} == set(RIS_TYPES.values())
    assert all(RIS_TYPES[bibtex_type] == ris_type for ris_type, bibtex_type in ENTRY_TYPES.items())
    assert ENTRY_TYPES["CHAP"] == "incollection" and ENTRY_TYPES["THES"] == "phdthesis"


def test_zotero_export_crlf_without_ids():
    assert b"\r\n" in (FIXTURES / "zotero.ris").read_bytes()
    result = read_fixture("zotero.ris")
    assert result.errors == []
    cherkin, guerreiro, vickers = result.records
    assert [r.key for r in result.records] == [
        "cherkin2009",
        "guerreirodasilva2004",
        "vickers2018",
    ]  # made: Zotero writes no ID
    for record in result.records:
        assert fixture_line("zotero.ris", record.source_line) == "TY  - JOUR"
        assert record.source_format == "ris" and record.entry_type == "article" and record.pmid is None
    assert cherkin.title.startswith("A randomized trial comparing acupuncture")
    assert len(cherkin.authors) == 12 and cherkin.authors[0] == Person("Cherkin", "Daniel C.")
    assert (cherkin.journal, cherkin.journal_abbrev, cherkin.year, cherkin.month) == (
        "Archives of Internal Medicine",
        "Arch Intern Med",
        2009,
        "may",
    )
    assert (cherkin.volume, cherkin.issue, cherkin.pages, cherkin.doi) == (
        "169",
        "9",
        "858-866",
        "10.1001/archinternmed.2009.65",
    )
    assert cherkin.keywords == ["acupuncture"]
    for tag in cherkin.tags:
        file, _, line = tag.source.rpartition(":")
        assert file == "zotero.ris" and fixture_line(file, int(line)) == f"KW  - {tag.kind}:{tag.value}"
    assert guerreiro.authors[0] == Person("Guerreiro da Silva", "João Bosco")  # no particle: it is not leading
    assert (guerreiro.month, guerreiro.pages) == ("jun", "60")
    assert vickers.authors[-1] == Person("Acupuncture Trialists' Collaboration")  # a group: no comma


def test_endnote_export_with_bom_crlf_record_numbers_and_broken_entries():
    data = (FIXTURES / "endnote.ris").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data
    result = read_fixture("endnote.ris")
    # "ID  - 31" is a record number, not a key; an entry without a title is loaded all the same
    assert [r.key for r in result.records] == ["cherkin2009", "inoue2006", "chung2003"]
    assert result.records[2].title is None and result.records[2].authors[0] == Person("Chung", "A.")
    cherkin = result.records[0]
    assert (cherkin.pmid, cherkin.pmcid, cherkin.pages, cherkin.year, cherkin.month) == (
        "19433697",
        "PMC2832641",
        "858-866",
        2009,
        "may",
    )  # AN with DP NLM, C2, "858-66", PY and DA "May 11"
    assert (cherkin.journal, cherkin.journal_abbrev) == ("Archives of internal medicine", "Arch Intern Med")
    assert cherkin.authors[0] == Person("Cherkin", "D. C.") and cherkin.note is None  # ZZ is passed over
    assert cherkin.keywords == ["Acupuncture Therapy"]
    lines = {t.value: int(t.source.rpartition(":")[2]) for t in cherkin.tags}
    assert fixture_line("endnote.ris", lines["chronic-low-back-pain"]) == "KW  - condition:chronic-low-back-pain"
    assert fixture_line("endnote.ris", lines["rct"]) == "design:rct"  # an unindented continuation line

    malformed, untitled, unverifiable = result.errors
    assert (unverifiable.entry_key, unverifiable.severity) == ("chung2003", "warning")
    assert (malformed.file, malformed.line, malformed.entry_key, malformed.severity) == (
        "endnote.ris",
        34,
        "kvorning2004",
        "error",
    )
    assert fixture_line("endnote.ris", 34) == "AN  - 14995919" and "outside any entry" in malformed.message
    assert "Acupuncture relieves pelvic and low-back pain" in malformed.raw  # nothing is lost
    assert (untitled.line, untitled.entry_key, untitled.severity, untitled.message) == (
        72,
        "chung2003",
        "warning",
        "no title; loaded without one",
    )
    assert str(malformed).startswith(
        "endnote.ris:34 [kvorning2004]: error: lines 34-48 hold RIS tags outside any entry"
    )


def test_accession_numbers_are_pmids_only_where_the_record_says_so():
    result = read_fixture("databases.ris")  # the "Provider: ..." header before the first entry is passed over
    records = {r.key: r for r in result.records}
    assert {key: r.pmid for key, r in records.items()} == {
        "embase2019": None,  # AN L2001234567: an Embase accession number
        "embase2020": "99999904",  # "PMID: 99999904": said so, whatever the database
        "medline2017": "99999905",  # digits, and DB names MEDLINE
        "wos2018": None,  # WOS:...
        "cinahl2016": None,  # digits, but DB and DP name CINAHL on EBSCOhost
    }
    assert [str(e) for e in result.errors] == [
        "databases.ris:49 [wos2018]: warning: no DOI or PMID: the study cannot be verified against a public record"
    ]
    embase = records["embase2019"]  # Embase's older tags: T1, A1, Y1, N2, JF, JA
    assert (embase.title, embase.authors[1], embase.year) == (
        "Needling depth and pain after knee surgery: an invented trial",
        Person("Lindqvist", "Maja"),
        2019,
    )
    assert (embase.abstract, embase.journal, embase.journal_abbrev) == (
        "An invented abstract of one line.",
        "Journal of Invented Results",
        "J Invented Results",
    )
    assert (embase.pages, embase.issn) == ("e101-e109", "1234-5679")
    assert records["medline2017"].authors[1] == Person("Cruz", "María", "de la")
    assert (records["medline2017"].month, records["wos2018"].month) == ("nov", "may")
    assert records["cinahl2016"].doi == "10.5555/invented.2016.7"  # from a DOI URL


def entry(*tags: str, ris_id: str = "k") -> str:
    return "\n".join(["TY  - JOUR", "TI  - A title", *tags, f"ID  - {ris_id}", "ER  - ", ""])


@pytest.mark.parametrize(
    "tags, year, month",
    [
        (["PY  - 2009///"], 2009, None),
        (["Y1  - 2009/05/11/"], 2009, "may"),
        (["PY  - 2009", "DA  - 2009/07//"], 2009, "jul"),
        (["PY  - 2009", "DA  - Dec 2"], 2009, "dec"),
        (["DA  - 2010/02/01/Spring"], 2010, "feb"),
    ],
)
def test_dates_as_exports_write_them(tags, year, month):
    record = read(entry(*tags, "DO  - 10.1000/x"), "d.ris").records[0]
    assert (record.year, record.month) == (year, month)


@pytest.mark.parametrize(
    "tags, pages",
    [
        (["SP  - 858-66"], "858-866"),
        (["SP  - 858", "EP  - 66"], "858-866"),
        (["SP  - e101", "EP  - e109"], "e101-e109"),
        (["SP  - 103"], "103"),
        (["EP  - 109"], None),
    ],
)
def test_pages_from_start_and_end_or_a_range(tags, pages):
    assert read(entry(*tags, "DO  - 10.1000/x"), "p.ris").records[0].pages == pages


def test_names_particles_suffixes_and_groups():
    text = entry(
        "AU  - van der Berg, Anna",
        "A1  - ignored, because AU is given",
        "AU  - Kulay, Luiz, Jr",
        "AU  - World Health Organization",
        "AU  - d'Alembert, Jean",
        "DO  - 10.1000/x",
    )
    assert read(text, "n.ris").records[0].authors == [
        Person("Berg", "Anna", "van der"),
        Person("Kulay", "Luiz", "", "Jr"),
        Person("World Health Organization"),
        Person("d'Alembert", "Jean"),
    ]


# The authors of a real Embase export (ASReview's test data, github:asreview/asreview, tests/demo_data/embase.ris,
# commit 516290b55919, Apache 2.0): family name, then initials, no comma.
EMBASE_AUTHORS = """TY  - JOUR
T1  - Endoscopic ultrasound-guided fine-needle aspiration in the diagnosis of foregut duplication cysts
Y1  - 2004
DO  - 10.1002/cncr.20369
A1  - Eloubeidi M.A.
A1  - Cohn M.
A1  - Cerfolio R.J.
A1  - Chhieng D.C.
ER  -
"""


def test_embase_names_are_family_name_then_initials(tmp_path):
    path = tmp_path / "embase.ris"
    path.write_text(EMBASE_AUTHORS, encoding="utf-8")
    assert read_file(path, "embase.ris").records[0].authors == [
        Person("Eloubeidi", "M. A."),
        Person("Cohn", "M."),
        Person("Cerfolio", "R. J."),
        Person("Chhieng", "D. C."),
    ]
    text = entry(
        "AU  - Eloubeidi, M.A.",
        "AU  - Smith, John",
        "AU  - Aristotle",
        "AU  - van der Berg A.B.",
        "AU  - Kim M.-R.",
        "AU  - , PRISMA-P Group",
        "AU  - Hepatitis B Foundation",
        "DO  - 10.1000/x",
    )
    assert read(text, "n.ris").records[0].authors == [
        Person("Eloubeidi", "M.A."),
        Person("Smith", "John"),
        Person("Aristotle"),
        Person("Berg", "A. B.", "van der"),
        Person("Kim", "M.-R."),
        Person("PRISMA-P Group"),
        Person("Hepatitis B Foundation"),
    ]


def test_malformed_entry_between_good_ones_and_an_entry_without_its_end():
    text = (
        entry("DO  - 10.1000/a", ris_id="first")
        + "TY JOUR\nTI  - Its TY line lost its spaces\nID  - broken\nER  - \n"
        + "TY  - JOUR\nTI  - Cut short\nDO  - 10.1000/b\nID  - short\n\n"
        + entry("DO  - 10.1000/c", ris_id="last")
    )
    result = read(text, "m.ris")
    assert [r.key for r in result.records] == ["first", "short", "last"]
    broken, short = result.errors
    assert (broken.line, broken.entry_key, broken.severity) == (6, "broken", "error")  # its TY line's
    assert broken.message.endswith("line 6, 'TY JOUR', is not a TY line as RIS writes one")
    assert broken.raw == "TY JOUR\nTI  - Its TY line lost its spaces\nID  - broken\nER  -"
    assert (short.line, short.entry_key, short.severity) == (10, "short", "warning")
    assert short.message == "entry has no 'ER  - ' line; read as ending at line 13"


def test_bad_values_are_warnings_naming_the_field_which_is_left_empty():
    text = entry("PY  - In press", "DO  - not a doi", "AN  - PMID: none", "N1  - PMCID: PMCx", "N1  - Kept as a note")
    result = read(text, "b.ris")
    record = result.records[0]
    assert (record.year, record.doi, record.pmid, record.pmcid, record.note) == (
        None,
        None,
        None,
        None,
        "Kept as a note",
    )
    assert [(e.line, e.entry_key, e.severity, e.message) for e in result.errors] == [
        (1, "k", "warning", "no DOI or PMID: the study cannot be verified against a public record"),
        (3, "k", "warning", "field 'PY': no four-digit year in 'In press'; left empty"),
        (4, "k", "warning", "field 'DO': not a DOI: 'not a doi'; left empty"),
        (5, "k", "warning", "field 'AN': not a PMID: 'PMID: none'; left empty"),
        (6, "k", "warning", "field 'N1': not a PMCID: 'PMCx'; left empty"),
    ]


def test_repeated_ids_and_text_that_is_not_ris():
    result = read(entry("DO  - 10.1000/a", ris_id="same") + entry("DO  - 10.1000/b", ris_id="same"), "r.ris")
    assert [r.doi for r in result.records] == ["10.1000/a"]
    assert result.errors[0].message == "duplicate key: already used at line 1; this entry was not loaded"
    not_ris = read("@article{k, title={BibTeX}}\n", "x.ris")
    assert not_ris.records == [] and [(e.line, e.message) for e in not_ris.errors] == [
        (None, "no RIS entries: no line starts with 'TY  - '")
    ]  # no line: the loader keeps what the file held
    assert read("\n\n", "empty.ris").errors == []


@pytest.mark.parametrize("db", ["corpus_db", "tricky_db"])
def test_our_ris_export_reads_back_to_the_database(db, request):
    for study, record in exported_and_read_back(request.getfixturevalue(db), "ris", read):
        assert_reads_back(study, record)


def test_loading_an_endnote_file_end_to_end(tmp_path):
    shutil.copy(FIXTURES / "endnote.ris", tmp_path / "endnote.ris")
    db_path = tmp_path / "evidence.db"
    summary = loader.load(db_path, [tmp_path / "endnote.ris"])
    assert (summary.studies, summary.error_count) == (3, 2)
    with sqlite3.connect(db_path) as conn:
        rows = conn.execute(
            "SELECT key, pmid, pmcid, pages, source_file, source_line FROM studies ORDER BY key"
        ).fetchall()
        assert rows == [
            ("cherkin2009", "19433697", "PMC2832641", "858-866", "endnote.ris", 1),
            ("chung2003", None, None, None, "endnote.ris", 72),
            ("inoue2006", "17013356", None, "103", "endnote.ris", 50),
        ]
        assert conn.execute("SELECT count(*) FROM study_authors WHERE study_key = 'cherkin2009'").fetchone() == (12,)
        conditions = conn.execute("SELECT study_key, condition_id, provenance, source FROM study_conditions").fetchall()
        assert conditions == [("cherkin2009", "chronic-low-back-pain", "curated", "endnote.ris:21")]
        errors = conn.execute(
            "SELECT line, entry_key, severity, message FROM load_errors WHERE severity = 'error' ORDER BY line"
        ).fetchall()
    assert [e[:3] for e in errors] == [(34, "kvorning2004", "error"), (62, "inoue2006", "error")]
    assert errors[1][3].startswith("unknown condition 'lower-back-pain'") and "low-back-pain" in errors[1][3]
    assert fixture_line("endnote.ris", 62) == "KW  - condition:lower-back-pain"
    again = loader.load(db_path, [tmp_path / "endnote.ris"])
    assert (again.unchanged, again.added, again.removed) == (3, 0, 0)


def test_evidence_load_reads_ris_and_csl_json_together(tmp_path):
    for name in ("endnote.ris", "zotero.json"):
        shutil.copy(FIXTURES / name, tmp_path / name)
    result = CliRunner().invoke(
        cli, ["load", str(tmp_path / "e.db"), str(tmp_path / "endnote.ris"), str(tmp_path / "zotero.json")]
    )
    assert result.exit_code == 0, result.output
    # the same study in both exports (same DOI) becomes one, named by the first file, with both sources
    assert "5 studies (5 added, 0 updated, 0 unchanged, 0 removed; 1 duplicate entries merged)" in result.output
    with sqlite3.connect(tmp_path / "e.db") as conn:
        assert conn.execute("SELECT key, source_file FROM studies ORDER BY key").fetchall() == [
            ("cherkin2009", "endnote.ris"),
            ("chung2003", "endnote.ris"),
            ("inoue2006", "endnote.ris"),
            ("takano2012", "zotero.json"),
            ("vickersAcupunctureChronicPain2018", "zotero.json"),
        ]
        assert conn.execute(
            "SELECT file, format, matched_on FROM study_sources WHERE study_key = 'cherkin2009' ORDER BY file"
        ).fetchall() == [("endnote.ris", "ris", "first"), ("zotero.json", "csl-json", "doi")]


# Zotero RIS exports quoted in the tests of Hypernomicon (github.com/jasonwinning/hypernomicon, its RIS reader's
# tests): "DA  - 2019///", and SN holding two ISSNs, apart by a space or a comma.
ZOTERO_RIS = """TY  - JOUR
TI  - Are Plants Cognitive? A Reply to Adams
AU  - Segundo-Ortin, Miguel
AU  - Calvo, Paco
T2  - Studies in History and Philosophy of Science Part A
DA  - 2019///
PY  - 2019
DO  - 10.1016/j.shpsa.2018.12.001
VL  - 73
SP  - 64
EP  - 71
SN  - 0039-3681
UR  - https://api.elsevier.com/content/article/PII:S0039368118302383?httpAccept=text/xml
ER  -

TY  - JOUR
TI  - Moving and Sensing Without Input and Output: Early Nervous Systems and the Origins of the Animal Sensorimotor Organization
AU  - Keizer, Fred
T2  - Biology & Philosophy
DA  - 2015///
PY  - 2015
DO  - 10.1007/s10539-015-9483-1
VL  - 30
IS  - 3
SP  - 311
EP  - 331
SN  - 0169-3867 1572-8404
UR  - http://link.springer.com/content/pdf/10.1007/s10539-015-9483-1.pdf
ER  -

TY  - JOUR
TI  - Animal Agency
AU  - Steward, Helen
T2  - Inquiry
DA  - 2009/05/21/
PY  - 2009
DO  - 10.1080/00201740902917119
DP  - DOI.org (Crossref)
VL  - 52
IS  - 3
SP  - 217
EP  - 231
J2  - Inquiry
LA  - en
SN  - 0020-174X, 1502-3923
UR  - http://www.tandfonline.com/doi/abs/10.1080/00201740902917119
Y2  - 2020/05/18/00:51:32
ER  -
"""


def test_zotero_exports_with_empty_date_parts_and_two_issns():
    result = read(ZOTERO_RIS, "zotero.ris")
    assert [e for e in result.errors if e.severity == "error"] == []
    plants, sensing, agency = result.records
    assert (plants.year, plants.month, plants.issn, plants.extra) == (2019, None, "0039-3681", {})
    assert (sensing.year, sensing.issue, sensing.issn, sensing.extra) == (
        2015,
        "3",
        "0169-3867",
        {"issn_also": "1572-8404"},
    )
    assert (agency.year, agency.month, agency.issn, agency.extra["issn_also"]) == (
        2009,
        "may",
        "0020-174X",
        "1502-3923",
    )


# The shapes of Ovid and EndNote exports from PubMed: Ovid writes the NLM journal ID in IS (as reported in issue
# 16 from a real Ovid export: "uj0, 0330500"), SN as PubMed labels it, and the PMID only in links.
OVID_RIS = """TY  - JOUR
DB  - Ovid MEDLINE(R)
TI  - A randomized trial comparing acupuncture, simulated acupuncture, and usual care for chronic low back pain
A1  - Cherkin, Daniel C
Y1  - 2009//
JF  - Archives of internal medicine
VL  - 169
IS  - uj0, 0330500
SP  - 858
EP  - 866
SN  - 0003-9926 (Print); 1538-3679 (Electronic)
UR  - http://ovidsp.ovid.com/ovidweb.cgi?T=JS&PAGE=reference&D=medl&NEWS=N&AN=19433697
L2  - https://www.ncbi.nlm.nih.gov/pubmed/19433697
L2  - https://www.ncbi.nlm.nih.gov/pmc/articles/PMC2832641/
ER  -

TY  - JOUR
TI  - Acupuncture relieves pelvic and low-back pain in late pregnancy
AU  - Kvorning, N.
PY  - 2004
DA  - 2004///
T2  - Acta Obstet Gynecol Scand
VL  - 83
IS  - 3
SN  - 1600-0412 (Electronic)
SN  - 0001-6349 (Print)
UR  - https://pubmed.ncbi.nlm.nih.gov/15040543/
UR  - https://doi.org/10.1111/j.0001-6349.2004.0215.x
ER  -

TY  - JOUR
TI  - A journal number in IS
AU  - Berg, Anna
PY  - 2018
IS  - 8500497
DO  - 10.5555/given.doi
UR  - https://doi.org/10.5555/another.doi
ER  -
"""


def test_ovid_and_pubmed_shapes_ids_in_is_links_and_labelled_issns():
    cherkin, kvorning, berg = read(OVID_RIS, "ovid.ris").records
    assert (cherkin.issue, cherkin.extra["journal_id"]) == (None, "uj0, 0330500")  # never an issue number
    assert (cherkin.pmid, cherkin.pmcid, cherkin.issn) == ("19433697", "PMC2832641", "0003-9926")
    assert cherkin.extra["issn_also"] == "1538-3679"
    assert cherkin.url.startswith("http://ovidsp.ovid.com/")  # the link given first stays the URL
    assert (kvorning.year, kvorning.issue, kvorning.pmid) == (2004, "3", "15040543")
    assert (kvorning.issn, kvorning.extra["issn_also"]) == ("0001-6349", "1600-0412")  # the print one, on either line
    assert kvorning.doi == "10.1111/j.0001-6349.2004.0215.x"  # from the doi.org link, DO being absent
    assert (berg.issue, berg.extra, berg.doi) == (None, {"journal_id": "8500497"}, "10.5555/given.doi")


def test_ovid_fields_survive_a_load_and_a_bibtex_export(tmp_path):
    path = tmp_path / "ovid.ris"
    path.write_text(OVID_RIS, "utf-8")
    db = tmp_path / "e.db"
    loader.load(db, [path])
    with sqlite3.connect(db) as conn:
        rows = dict(conn.execute("select key, pmid from studies").fetchall())
    assert rows["cherkin2009"] == "19433697" and rows["kvorning2004"] == "15040543"
    exported = CliRunner().invoke(cli, ["export", str(db), "--key", "cherkin2009"]).output
    assert "journal_id = {uj0, 0330500}" in exported and "number =" not in exported
