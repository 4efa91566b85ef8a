import re
import subprocess
import sys
from pathlib import Path

from sqlite_utils import Database

from evidence import loader
from evidence.formats import read_file
from evidence.formats.reflist import read

PROJECT_ROOT = Path(__file__).resolve().parent.parent

APA = (
    "Shin, J.-S., Ha, I.-H., Lee, J., Choi, Y., Kim, M.-R., Park, B.-Y., Shin, B.-C., & Lee, M. S. (2013). "
    "Effects of motion style acupuncture treatment in acute low back pain patients with severe disability: "
    "A multicenter, randomized, controlled, comparative effectiveness trial. Pain, 154(7), 1030–1037. "
    "https://doi.org/10.1016/j.pain.2013.03.013"
)
VANCOUVER = (
    "Cherkin DC, Sherman KJ, Avins AL, Erro JH, Ichikawa L, Barlow WE, et al. A randomized trial comparing "
    "acupuncture, simulated acupuncture, and usual care for chronic low back pain. Arch Intern Med. "
    "2009 May 11;169(9):858-66. doi:10.1001/archinternmed.2009.65 PMID: 19433697; PMCID: PMC2832641."
)
CONSUMER = (
    "Kvorning N, Holmberg C, Grennert L, Åberg A, Åkeson J. Acupuncture relieves pelvic and low-back pain "
    "in late pregnancy. Acta Obstetricia et Gynecologica Scandinavica. 2004;83(3):246–50. "
    "doi:10.1111/j.0001-6349.2004.0215.x"
)
TITLE_JOURNAL_YEAR = (
    "Traditional acupuncture triggers a local increase in adenosine in human subjects. The Journal of Pain 2012"
)


def names(record):
    return [(p.particle, p.family, p.given) for p in record.authors]


def test_apa_reference():
    (record,), errors = read(APA, "refs.txt").records, read(APA, "refs.txt").errors
    assert names(record)[:2] == [("", "Shin", "J.-S."), ("", "Ha", "I.-H.")]
    assert [p.display for p in record.authors][4] == "Kim MR" and len(record.authors) == 8
    assert record.title.startswith("Effects of motion style") and record.title.endswith("effectiveness trial")
    assert (record.journal, record.year, record.volume, record.issue, record.pages) == (
        "Pain",
        2013,
        "154",
        "7",
        "1030-1037",
    )
    assert record.doi == "10.1016/j.pain.2013.03.013"
    assert (record.key, record.source_format, record.source_line, record.note) == (
        "shin2013",
        "reference-list",
        1,
        None,
    )
    assert errors == []  # every field found: nothing to warn about


def test_vancouver_reference_drops_et_al_and_marks_the_list_incomplete():
    (record,) = read(VANCOUVER, "refs.txt").records
    assert [p.display for p in record.authors] == [
        "Cherkin DC",
        "Sherman KJ",
        "Avins AL",
        "Erro JH",
        "Ichikawa L",
        "Barlow WE",
    ]
    assert record.authors[0].given == "D. C."
    assert record.more_authors  # the list is known to be incomplete; exports write "and others"
    assert record.title == (
        "A randomized trial comparing acupuncture, simulated acupuncture, and usual care for chronic low back pain"
    )
    assert (record.journal, record.year, record.volume, record.issue, record.pages) == (
        "Arch Intern Med",
        2009,
        "169",
        "9",
        "858-866",
    )
    assert (record.doi, record.pmid, record.pmcid) == ("10.1001/archinternmed.2009.65", "19433697", "PMC2832641")


def test_consumer_styles():
    result = read(f"{CONSUMER}\n\n{TITLE_JOURNAL_YEAR}\n", "refs.txt")
    kvorning, takano = result.records
    assert [p.display for p in kvorning.authors][3:] == ["Åberg A", "Åkeson J"]
    assert (kvorning.journal, kvorning.pages, kvorning.doi) == (
        "Acta Obstetricia et Gynecologica Scandinavica",
        "246-250",
        "10.1111/j.0001-6349.2004.0215.x",
    )
    assert (takano.authors, takano.title, takano.journal, takano.year) == (
        [],
        "Traditional acupuncture triggers a local increase in adenosine in human subjects",
        "The Journal of Pain",
        2012,
    )
    assert takano.key == "traditional2012" and takano.source_line == 3
    (warning,) = result.errors
    assert (warning.line, warning.severity, warning.entry_key) == (3, "warning", "traditional2012")
    assert warning.message == "parsed from free text; not found: authors, volume, pages, DOI or PMID"


def test_hard_cases():
    text = "\n\n".join(
        [
            "van der Berg A, de la Cruz M, Smith-Jones KL. Needling: does depth matter? J. Invent. Ex. "
            "2019;(4):e1007. https://dx.doi.org/10.5555/0000-0000(19)00045-X.",
            'Madsen MV, Gøtzsche PC and Hróbjartsson A. "Acupuncture treatment for pain: systematic review of randomised '
            'clinical trials." BMJ, 2009, 338:a3115.',
            "Acupuncture. NIH Consens Statement. 1997 Nov 3-5;15(5):1-34.",
            "Vickers AJ, Linde K; Acupuncture Trialists' Collaboration. Acupuncture for chronic pain. Arch Intern Med. "
            "2012;172(19):1444-53.",
            "Acupuncture. (1997). NIH Consensus Statement, 15(5), 1–34.",
            "Smith J, Jones K. An acupuncture guideline (2016) revisited. BMJ. 2018;360:k1234.",
        ]
    )
    berg, madsen, nih, vickers, apa_untitled, year_in_title = read(text, "refs.txt").records
    assert names(berg) == [("van der", "Berg", "A."), ("de la", "Cruz", "M."), ("", "Smith-Jones", "K. L.")]
    assert (berg.title, berg.journal, berg.volume, berg.issue, berg.pages) == (
        "Needling: does depth matter?",
        "J. Invent. Ex",
        None,
        "4",
        "e1007",
    )
    assert berg.doi == "10.5555/0000-0000(19)00045-x"
    assert [p.display for p in madsen.authors] == ["Madsen MV", "Gøtzsche PC", "Hróbjartsson A"]
    assert (madsen.title, madsen.journal, madsen.volume, madsen.pages) == (
        "Acupuncture treatment for pain: systematic review of randomised clinical trials",
        "BMJ",
        "338",
        "a3115",
    )
    assert (nih.authors, nih.title, nih.journal, nih.year, nih.pages) == (
        [],
        "Acupuncture",
        "NIH Consens Statement",
        1997,
        "1-34",
    )
    assert vickers.authors[-1].family == "Acupuncture Trialists' Collaboration" and vickers.authors[-1].given == ""
    assert (apa_untitled.authors, apa_untitled.title, apa_untitled.journal, apa_untitled.issue) == (
        [],
        "Acupuncture",
        "NIH Consensus Statement",
        "5",
    )
    assert (year_in_title.title, year_in_title.year, year_in_title.pages) == (
        "An acupuncture guideline (2016) revisited",
        2018,
        "k1234",
    )


NUMBERED = """References

1. Cherkin DC, Sherman KJ, Avins AL, et al. A randomized trial comparing acupuncture, simulated
   acupuncture, and usual care for chronic low back pain. Arch Intern Med. 2009;169(9):858-
   866. doi:10.1001/
   archinternmed.2009.65
2. Manheimer E, White A, Berman B, Forys K, Ernst E. Meta-analysis: acupuncture for low back pain. Ann Intern Med. 2005;142(8):651-663.
3. Kvorning N, Holmberg C, Grennert L, Åberg A, Åkeson J. Acupuncture relieves pelvic and low-back pain in late
   pregnancy. Acta Obstet Gynecol Scand. 2004;83(3):246-50.
"""


def test_numbered_layouts_one_per_line_or_wrapped():
    for style in ("{}. ", "[{}] ", "{}) "):
        text = re.sub(r"^(\d+)\. ", lambda m: style.format(m.group(1)), NUMBERED, flags=re.MULTILINE)
        result = read(text, "refs.txt")
        assert [(r.key, r.source_line) for r in result.records] == [
            ("cherkin2009", 3),
            ("manheimer2005", 7),
            ("kvorning2004", 8),
        ]
        cherkin = result.records[0]
        assert (cherkin.pages, cherkin.doi) == ("858-866", "10.1001/archinternmed.2009.65")
        assert cherkin.title.endswith("simulated acupuncture, and usual care for chronic low back pain")


def test_paragraph_layouts():
    wrapped = APA.replace("(2013). ", "(2013).\n    ").replace("Pain, 154", "Pain,\n    154")
    result = read(f"{wrapped}\n\n{VANCOUVER}\n", "refs.txt")
    assert [(r.key, r.source_line, r.pages) for r in result.records] == [
        ("shin2013", 1, "1030-1037"),
        ("cherkin2009", 5, "858-866"),
    ]
    one_per_line = read(f"{CONSUMER}\n{VANCOUVER}\n{APA}\n", "refs.txt").records
    assert [(r.key, r.source_line) for r in one_per_line] == [("kvorning2004", 1), ("cherkin2009", 2), ("shin2013", 3)]


def test_an_unparseable_line_is_an_error_and_the_others_load():
    text = f"1. {CONSUMER}\n2. See the trial registry for unpublished results\n3. {VANCOUVER}\n"
    result = read(text, "refs.txt")
    assert [r.key for r in result.records] == ["kvorning2004", "cherkin2009"]
    (error,) = [e for e in result.errors if e.severity == "error"]
    assert (error.file, error.line, error.entry_key) == ("refs.txt", 2, None)
    assert error.message == "reference could not be parsed (no year, DOI or PMID found); it was not loaded"
    assert error.raw == "See the trial registry for unpublished results"


def test_what_makes_a_reference_unreadable():
    no_title = read("Smith J. 2003;12:34-5.", "refs.txt")
    assert no_title.records == [] and "no title" in no_title.errors[0].message
    no_year = read("Smith J. Needling without a date. J Invent Ex. doi:10.5555/nodate", "refs.txt")
    (record,) = no_year.records
    assert (record.year, record.doi, record.key) == (None, "10.5555/nodate", "smithnd")
    assert no_year.errors[0].message == "parsed from free text; not found: year, volume, pages"


def test_txt_files_are_read_as_reference_lists(tmp_path):
    path = tmp_path / "refs.txt"
    path.write_text(NUMBERED, encoding="utf-8")
    assert [r.key for r in read_file(path, "refs.txt").records] == ["cherkin2009", "manheimer2005", "kvorning2004"]


def test_load_into_sqlite(tmp_path):
    source = PROJECT_ROOT / "tests" / "fixtures" / "reference_lists" / "vancouver.txt"
    path = tmp_path / "vancouver.txt"
    path.write_text(source.read_text(encoding="utf-8") + "\n13. Not a reference at all\n", encoding="utf-8")
    db_path = tmp_path / "evidence.db"
    summary = loader.load(db_path, [path])
    assert (summary.studies, summary.added, summary.error_count) == (12, 12, 1)
    db = Database(db_path)
    row = next(db.query("select * from studies where key = 'cherkin2009'"))
    assert (row["source_file"], row["source_line"], row["doi"], row["pmid"], row["pages"]) == (
        "vancouver.txt",
        1,
        "10.1001/archinternmed.2009.65",
        "19433697",
        "858-866",
    )
    authors = [
        r["display"]
        for r in db.query(
            "select a.display from study_authors sa join authors a on a.id = sa.author_id "
            "where sa.study_key = 'tulder1999' order by sa.position"
        )
    ]
    assert authors == ["van Tulder MW", "Cherkin DC", "Berman B", "Lao L", "Koes BW"]
    errors = list(db.query("select line, severity, message, raw from load_errors where severity = 'error'"))
    assert errors == [
        {
            "line": 17,
            "severity": "error",
            "raw": "Not a reference at all",
            "message": "reference could not be parsed (no year, DOI or PMID found); it was not loaded",
        }
    ]
    assert loader.load(db_path, [path]).unchanged == 12


def test_accuracy_script_on_the_labelled_set():
    run = subprocess.run(
        [sys.executable, "scripts/reflist_accuracy.py", "--min-accuracy", "0.95"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "on 38 labelled references (3 files)" in run.stdout
    for field in ("authors", "year", "title", "journal", "volume", "issue", "pages", "doi", "pmid"):
        assert re.search(rf"^{field}\s+\d+\s+\d+\s+\d+\s+[\d.]+\s+[\d.]+\s+[\d.]+$", run.stdout, re.MULTILINE), field
    accuracy = float(re.search(r"overall field accuracy: ([\d.]+)", run.stdout).group(1))
    assert accuracy >= 0.95
    assert "failed references: 1\n  consumer.txt #14" in run.stdout


# An APA list copied from a web page: non-breaking spaces (U+00A0, U+202F) and the italic journal name glued
# to the volume that follows it. The studies are those of the bundled corpus (data/studies.bib).
COPIED_FROM_A_PAGE = (
    "Kvorning,\u00a0N., Holmberg,\u00a0C., Grennert,\u00a0L., \u00c5berg,\u00a0A., &\u00a0\u00c5keson,\u00a0J. "
    "(2004).\u00a0Acupuncture relieves pelvic and low-back pain in late pregnancy.\u00a0Acta Obstetricia et "
    "Gynecologica Scandinavica83(3), 246\u2013250. https://doi.org/10.1111/j.0001-6349.2004.0215.x\n\n"
    "Cherkin,\u202fD.\u202fC., Sherman,\u202fK.\u202fJ., Avins,\u202fA.\u202fL., Erro,\u202fJ.\u202fH., "
    "Ichikawa,\u202fL., Barlow,\u202fW.\u202fE., Delaney,\u202fK., Hawkes,\u202fR., Hamilton,\u202fL., "
    "Pressman,\u202fA., Khalsa,\u202fP.\u202fS., &\u202fDeyo,\u202fR.\u202fA. (2009). A randomized trial comparing "
    "acupuncture, simulated acupuncture, and usual care for chronic low back pain. Archives of Internal "
    "Medicine169(9), 858\u2013866. https://doi.org/10.1001/archinternmed.2009.65\n"
)


def test_a_list_copied_from_a_web_page(tmp_path):
    path = tmp_path / "copied.txt"
    path.write_text(COPIED_FROM_A_PAGE, encoding="utf-8")
    kvorning, cherkin = read_file(path, path.name).records
    assert (kvorning.journal, kvorning.volume, kvorning.issue, kvorning.pages) == (
        "Acta Obstetricia et Gynecologica Scandinavica",
        "83",
        "3",
        "246-250",
    )
    assert [a.family for a in kvorning.authors] == ["Kvorning", "Holmberg", "Grennert", "Åberg", "Åkeson"]
    assert kvorning.authors[0].given == "N." and kvorning.title.startswith("Acupuncture relieves")
    assert (cherkin.journal, cherkin.volume, cherkin.issue, cherkin.pages) == (
        "Archives of Internal Medicine",
        "169",
        "9",
        "858-866",
    )
    assert len(cherkin.authors) == 12 and cherkin.authors[0].given == "D. C."
