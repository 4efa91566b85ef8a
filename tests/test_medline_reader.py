import shutil
from pathlib import Path

import yaml
from sqlite_utils import Database

from evidence import loader
from evidence.formats import format_of, read_file
from evidence.formats.medline import read

FIXTURES = Path(__file__).parent / "fixtures"
LABELLED = FIXTURES / "pubmed_labelled.nbib"
LABELS = FIXTURES / "pubmed_labelled.labels.yaml"
VOCAB = loader.DATA_DIR / "vocabularies"

# Hand-written in PubMed's layout: a good record, one without TI, a record with a malformed line,
# bad values and initials-only authors, then a collective author.
SNIPPET = """\
PMID- 19433697
OWN - NLM
IS  - 1538-3679 (Electronic)
IS  - 0003-9926 (Linking)
VI  - 169
IP  - 9
DP  - 2009 May 11
TI  - A randomized trial comparing acupuncture, simulated acupuncture, and usual
      care for chronic low back pain.
PG  - 858-66
LID - S0003-9926(09)00065-X [pii]
LID - 10.1001/ARCHINTERNMED.2009.65 [doi]
FAU - Cherkin, Daniel C
AU  - Cherkin DC
FAU - van Tulder, Maurits W
AU  - van Tulder MW
PT  - Journal Article
PT  - Randomized Controlled Trial
PT  - Research Support, N.I.H., Extramural
MH  - *Acupuncture Therapy/adverse effects/methods
MH  - Chronic Disease
MH  - Low Back Pain/*therapy
MH  - Acupuncture Therapy/economics
OT  - sham needling
OT  - condition:chronic-low-back-pain
PMC - PMC2832641
JT  - Archives of internal medicine
TA  - Arch Intern Med

PMID- 11111111
DP  - 2001
FAU - Untitled, Ann
AB  - A record without a title.

PMID- 22222222
TI  - [Acupuncture in Germany].
this line has no tag
DP  - Spring 2003
PG  - 12-9
AU  - Smith AB
AU  - Jones C
AID - not-a-doi [doi]
PMC - PMCX

PMID- 33333333
TI  - Acupuncture for migraine: is it more than placebo?
CN  - Acupuncture Trialists' Collaboration
DP  - 2018 Jan-Feb
"""


def test_labelled_pubmed_records_all_parse_and_every_label_names_one():
    result = read_file(LABELLED, "pubmed_labelled.nbib")
    assert result.errors == []
    assert len(result.records) == 40
    labels = yaml.safe_load(LABELS.read_text(encoding="utf-8"))
    assert set(labels) == {r.pmid for r in result.records}
    designs = {d["id"] for d in yaml.safe_load((VOCAB / "designs.yaml").read_text(encoding="utf-8"))}
    conditions = {c["id"] for c in yaml.safe_load((VOCAB / "conditions.yaml").read_text(encoding="utf-8"))}
    for pmid, label in labels.items():
        assert label["design"] in designs and set(label["conditions"]) <= conditions, pmid
        assert label["why"].strip(), pmid
    goldman = next(r for r in result.records if r.pmid == "20512135")
    assert goldman.mesh_headings[:3] == ["Acupuncture Analgesia", "Adenosine", "Afferent Pathways"]
    assert "Pain" in goldman.mesh_headings and "Pain/complications/*metabolism" not in goldman.mesh_headings


def test_fields_are_mapped_with_continuations_qualifiers_and_identifiers():
    good = read(SNIPPET, "s.nbib").records[0]
    assert (good.key, good.source_line, good.source_format, good.entry_type) == ("cherkin2009", 1, "medline", "article")
    assert good.title == (
        "A randomized trial comparing acupuncture, simulated acupuncture, and usual care for chronic low back pain"
    )
    assert [(p.family, p.given, p.particle) for p in good.authors] == [
        ("Cherkin", "Daniel C", ""),
        ("Tulder", "Maurits W", "van"),
    ]
    assert (good.journal, good.journal_abbrev, good.year, good.month) == (
        "Archives of internal medicine",
        "Arch Intern Med",
        2009,
        "may",
    )
    assert (good.volume, good.issue, good.pages, good.issn) == ("169", "9", "858-866", "0003-9926")
    assert (good.doi, good.pmid, good.pmcid) == ("10.1001/archinternmed.2009.65", "19433697", "PMC2832641")
    assert good.publication_types == [
        "Journal Article",
        "Randomized Controlled Trial",
        "Research Support, N.I.H., Extramural",
    ]
    assert good.mesh_headings == ["Acupuncture Therapy", "Chronic Disease", "Low Back Pain"]
    assert good.keywords == ["sham needling"]
    assert [(t.kind, t.value, t.source) for t in good.tags] == [("condition", "chronic-low-back-pain", "s.nbib:25")]


def test_record_without_title_and_bad_lines_are_reported_and_all_records_load():
    result = read(SNIPPET, "s.nbib")
    assert [r.pmid for r in result.records] == ["19433697", "11111111", "22222222", "33333333"]
    assert result.records[1].title is None and result.records[1].key == "untitled2001"
    assert [str(e) for e in result.errors] == [
        "s.nbib:30 [untitled2001]: warning: no title; loaded without one",
        "s.nbib:37 [smithnd]: warning: line is not 'TAG - value' nor a continuation, ignored: 'this line has no tag'",
        "s.nbib:38 [smithnd]: warning: field 'DP': year is not a four-digit number: 'Spring'; left empty",
        "s.nbib:42 [smithnd]: warning: field 'AID': not a DOI: 'not-a-doi'; left empty",
        "s.nbib:43 [smithnd]: warning: field 'PMC': not a PMCID: 'PMCX'; left empty",
    ]
    translated, collective = result.records[2:]
    assert translated.title == "[Acupuncture in Germany]"  # NLM's brackets mark a translated title
    assert [(p.family, p.given) for p in translated.authors] == [("Smith", "A B"), ("Jones", "C")]
    assert (translated.year, translated.pages, translated.doi, translated.pmcid) == (None, "12-19", None, None)
    assert collective.title == "Acupuncture for migraine: is it more than placebo?"
    assert [(p.family, p.given) for p in collective.authors] == [("Acupuncture Trialists' Collaboration", "")]
    assert (collective.key, collective.year, collective.month) == ("acupuncturetrialistscollaboration2018", 2018, "jan")


def test_crlf_and_comment_lines_read_as_plain_lines(tmp_path):
    path = tmp_path / "windows.nbib"
    path.write_bytes(("# exported on Windows\n" + SNIPPET).replace("\n", "\r\n").encode("utf-8"))
    crlf = read_file(path, "windows.nbib")
    plain = read(SNIPPET, "windows.nbib")
    assert crlf.records[0].title == plain.records[0].title
    assert [(r.key, r.source_line) for r in crlf.records] == [(r.key, r.source_line + 1) for r in plain.records]
    assert [e.message for e in crlf.errors] == [e.message for e in plain.errors]


def test_medline_files_are_recognised_by_extension_and_by_a_txt_files_first_line(tmp_path):
    assert format_of(Path("export.nbib")) == format_of(Path("x.MEDLINE")) == "medline"
    path = tmp_path / "pubmed-export.txt"
    path.write_text("\n" + SNIPPET, encoding="utf-8")
    assert [r.pmid for r in read_file(path, "pubmed-export.txt").records] == [
        "19433697",
        "11111111",
        "22222222",
        "33333333",
    ]


def test_labelled_set_loads_into_sqlite_with_authors_in_order_and_identifiers(tmp_path):
    db_path, nbib = tmp_path / "pubmed.db", tmp_path / LABELLED.name
    shutil.copy(LABELLED, nbib)
    summary = loader.load(db_path, [nbib])
    assert summary.studies == 40 and summary.error_count == 0
    db = Database(db_path)
    assert db["studies"].count == 40
    row = next(db.query("select * from studies where pmid = '19433697'"))
    assert (row["key"], row["doi"], row["pmcid"], row["pages"], row["source_file"], row["source_line"]) == (
        "cherkin2009",
        "10.1001/archinternmed.2009.65",
        "PMC2832641",
        "858-866",
        "pubmed_labelled.nbib",
        19,
    )
    authors = [
        r["display"]
        for r in db.query(
            "select a.display from study_authors sa join authors a on a.id = sa.author_id "
            "where sa.study_key = 'cherkin2009' order by sa.position"
        )
    ]
    assert authors == ["Cherkin DC", "Sherman KJ", "Avins AL", "Erro JH"]
    assert next(db.query("select key from studies where pmid = '17443503'"))["key"] == "interventions2007"
    assert loader.load(db_path, [nbib]).unchanged == 40  # made keys are the same on every load
