"""The rule tagger on real PubMed records with abstracts (tests/fixtures/pubmed_abstracts.nbib): each class of
mistake the rules made on them, read by the real MEDLINE reader and loaded by the real loader."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from accuracy import labelled_by_file, score
from conftest import FIXTURES, VOCAB
from sqlite_utils import Database

from evidence import loader
from evidence.formats import read_file
from evidence.records import StudyRecord
from evidence.tagging.tagger import conditions_by_rule, design_by_rule
from evidence.tagging.vocabulary import VocabularyError, load_vocabulary

PROJECT = Path(__file__).resolve().parent.parent
REAL = FIXTURES / "pubmed_abstracts.nbib"


@pytest.fixture(scope="module")
def vocab():
    return load_vocabulary(VOCAB)


@pytest.fixture(scope="module")
def by_pmid():
    return {record.pmid: record for record in read_file(REAL, REAL.name).records}


@pytest.mark.parametrize(
    "pmid, design, source",
    [
        # a case report that also reviews the literature (PubMed types Case Reports and Review; the title or
        # the abstract says "case report and review of the literature") is a case report
        ("28532916", "case-report", "rule:design-publication-type matched 'Case Reports'"),
        ("27094880", "case-report", "rule:design-publication-type matched 'Case Reports'"),
        ("26683923", "case-report", "rule:design-publication-type matched 'Case Reports'"),
        ("23182026", "case-report", "rule:design-publication-type matched 'Case Reports'"),
        # the authors' own patients, counted, are a case series, whether the title calls it a review or the
        # record is typed Case Reports
        ("28417614", "case-series", "rule:design-title matched 'review of 17 cases'"),
        ("28540149", "case-series", "rule:design-title matched 'Report of 5 Cases'"),
        ("12481621", "case-series", "rule:design-title matched '12 case reports'"),
        ("12784714", "case-series", "rule:design-title matched 'report of three cases'"),
        ("12585975", "case-series", "rule:design-abstract matched 'We report two cases'"),
        ("22137371", "case-series", "rule:design-title matched 'series of 35 patients'"),
        # "rat bite" in a case report's title is how the patient was infected, no animal study
        ("28430048", "case-report", "rule:design-publication-type matched 'Case Reports'"),
        # ... while a rat model still makes one
        ("11745518", "animal-study", "rule:design-mesh matched 'Rats'"),
        ("29366930", "animal-study", "rule:design-mesh matched 'Rats'"),
        # patients randomly assigned to groups are an RCT
        ("23469596", "rct", "rule:design-publication-type matched 'Randomized Controlled Trial'"),
        ("30045346", "rct", "rule:design-title matched 'Randomized'"),
    ],
)
def test_designs_of_real_records(vocab, by_pmid, pmid, design, source):
    tag = design_by_rule(by_pmid[pmid], vocab)
    assert (tag.value, tag.source) == (design, source)


def test_items_randomly_allocated_to_voters_make_no_trial(vocab, by_pmid):
    record = by_pmid["28251880"]
    assert "randomly allocated to 107" in " ".join(record.abstract.split())
    assert design_by_rule(record, vocab) is None


def test_randomly_assigned_participants_still_make_a_trial(vocab, by_pmid):
    record = by_pmid["23469596"]
    record.publication_types.clear()  # the abstract alone: "They were randomly assigned to two groups"
    assert design_by_rule(record, vocab).source == "rule:design-abstract matched 'They were randomly assigned'"


@pytest.mark.parametrize(
    "pmid, symptom",
    [
        ("28504498", "lower back pain"),  # an epidural abscess case: back pain among its symptoms
        ("27756229", "back pain"),
        ("27033296", "neck pain"),
        ("28827296", "shoulder pain"),
        ("28430048", "abdominal pain"),
        ("24042993", "low backache"),
        ("20614483", "postoperative pain"),  # an outcome of a fistula trial
    ],
)
def test_a_symptom_in_the_abstract_is_not_the_condition(vocab, by_pmid, pmid, symptom):
    record = by_pmid[pmid]
    assert symptom in " ".join(record.abstract.split()).lower()
    assert conditions_by_rule(record, vocab) == []


@pytest.mark.parametrize("pmid, minor", [("25083956", "Low Back Pain"), ("21045995", "Neck Pain")])
def test_a_minor_mesh_heading_is_not_the_condition(vocab, by_pmid, pmid, minor):
    record = by_pmid[pmid]
    assert minor in record.mesh_headings and minor not in record.mesh_major
    assert conditions_by_rule(record, vocab) == []


@pytest.mark.parametrize(
    "pmid, condition, source",
    [
        ("26086490", "low-back-pain", "rule:condition-mesh matched 'Low Back Pain'"),  # MH  - *Low Back Pain/...
        ("12585975", "low-back-pain", "rule:condition-mesh matched 'Low Back Pain'"),  # Low Back Pain/*etiology
        ("29366930", "pain", "rule:condition-title matched 'pain'"),
    ],
)
def test_the_subject_is_still_found(vocab, by_pmid, pmid, condition, source):
    assert [(t.value, t.source) for t in conditions_by_rule(by_pmid[pmid], vocab)] == [(condition, source)]


def test_a_stated_aim_names_the_condition(vocab, by_pmid):
    record = by_pmid["29742719"]  # a case report whose abstract names pain only as a symptom
    assert conditions_by_rule(record, vocab) == []
    record.abstract += " The aim of this report is to describe the management of low back pain after spinal anesthesia."
    assert [(t.value, t.source) for t in conditions_by_rule(record, vocab)] == [
        ("low-back-pain", "rule:condition-aim matched 'low back pain'")
    ]


def test_the_reader_keeps_major_topics(by_pmid):
    record = by_pmid["12585975"]  # MH  - Low Back Pain/*etiology, MH  - *Diabetes Complications
    assert record.mesh_major == [
        "Abdominal Abscess",
        "Diabetes Complications",
        "Epidural Abscess",
        "Low Back Pain",
        "Staphylococcal Infections",
    ]
    assert "Humans" in record.mesh_headings and "Humans" not in record.mesh_major


def test_loaded_studies_carry_the_rules_tags(tmp_path):
    source = tmp_path / "abscess.nbib"
    shutil.copy(REAL, source)
    summary = loader.load(tmp_path / "e.db", [source])
    assert summary.studies == 52
    db = Database(tmp_path / "e.db")
    design = {row["pmid"]: row["design"] for row in db.query("SELECT pmid, design FROM studies")}
    assert (design["28532916"], design["28430048"], design["28417614"], design["28251880"]) == (
        "case-report",
        "case-report",
        "case-series",
        None,
    )
    conditions = {
        (row["pmid"], row["condition_id"])
        for row in db.query(
            "SELECT s.pmid, c.condition_id FROM study_conditions c JOIN studies s ON s.key = c.study_key"
        )
    }
    assert ("26086490", "low-back-pain") in conditions
    assert not {pmid for pmid, _ in conditions} & {"28504498", "25083956", "21045995", "28430048"}


@pytest.mark.parametrize(
    "records, design_line, term_line",
    [
        (
            "pubmed_abstracts.nbib",
            "design (exact)           precision 1.00 (51/51)  recall 1.00 (51/51)  F1 1.00",
            "  case-series              precision 1.00 (8/8)  recall 1.00 (8/8)  F1 1.00",
        ),
        (  # held out: labelled before the rules were run on them
            "pubmed_heldout.nbib",
            "design (exact)           precision 0.88 (29/33)  recall 0.74 (29/39)  F1 0.81",
            "  case-report              precision 0.89 (16/18)  recall 0.94 (16/17)  F1 0.91",
        ),
    ],
)
def test_accuracy_script_on_the_real_records(records, design_line, term_line):
    result = subprocess.run(
        [sys.executable, "scripts/tag_accuracy.py", "--labelled", f"tests/fixtures/{records}"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=True,
    )
    lines = result.stdout.splitlines()
    assert lines[1] == design_line and term_line in lines


def test_a_none_label_counts_any_rule_design_as_wrong(tmp_path, vocab):
    records = tmp_path / "set.nbib"
    shutil.copy(REAL, records)
    (tmp_path / "set.labels.yaml").write_text(
        '"28251880": {design: none}\n"2643628": {design: none}\n', encoding="utf-8"
    )
    report = score(labelled_by_file(records, vocab), vocab)  # 2643628 is tagged experimental-human
    assert (report.design.found, report.design.found_right, report.design.labels) == (1, 0, 0)
    assert report.misses == [
        "nowak1989: design by rule experimental-human "
        "(rule:design-abstract matched 'healthy volunteers'), labelled none"
    ]


def test_a_design_must_yield_to_known_designs(tmp_path):
    for name in ("conditions", "outcomes", "comparators"):
        shutil.copy(VOCAB / f"{name}.yaml", tmp_path / f"{name}.yaml")
    (tmp_path / "designs.yaml").write_text(
        "- {id: narrative-review, label: Review, precedence: 1, yields_to: [case-reprot]}\n", encoding="utf-8"
    )
    with pytest.raises(VocabularyError, match="'narrative-review' yields to unknown design 'case-reprot'"):
        load_vocabulary(tmp_path)


@pytest.mark.parametrize(
    "title, publication_types, design",
    [
        # reviews of published cases stay reviews; the authors' own cases are a case series
        ("Spinal infections after acupuncture: a review of 25 case reports", ["Review"], "narrative-review"),
        ("Adverse events of acupuncture: a systematic review of 42 case reports", ["Review"], "systematic-review"),
        ("Pneumothorax after acupuncture: 3 case reports", ["Case Reports"], "case-series"),
        ("Pneumothorax after acupuncture: case report and review of the literature", ["Review"], "case-report"),
        ("Mouse bite fever in a child", [], None),
    ],
)
def test_own_cases_and_published_cases(vocab, title, publication_types, design):
    record = StudyRecord(key="k", source_file="t.nbib", source_line=1, title=title, publication_types=publication_types)
    tag = design_by_rule(record, vocab)
    assert (tag.value if tag else None) == design
