import random
import re
import subprocess
import sys
from pathlib import Path

import pytest
from accuracy import Labelled, labelled_by_file, score
from conftest import FIXTURES, VOCAB
from datasette.app import Datasette
from sqlite_utils import Database

from evidence import loader
from evidence.formats import read_file
from evidence.records import OutcomeTag, StudyRecord, Tag
from evidence.tagging import tagger
from evidence.tagging.tagger import conditions_by_rule, design_by_rule, outcomes_by_rule, tag_study
from evidence.tagging.vocabulary import VocabularyError, load_vocabulary

PROJECT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def vocab():
    return load_vocabulary(VOCAB)


def record(title="", abstract=None, publication_types=(), mesh=(), keywords=(), key="k", pmid=None, tags=()):
    return StudyRecord(
        key=key,
        source_file="t.nbib",
        source_line=1,
        title=title,
        abstract=abstract,
        pmid=pmid,
        publication_types=list(publication_types),
        mesh_headings=list(mesh),
        keywords=list(keywords),
        tags=list(tags),
    )


@pytest.mark.parametrize(
    "title, publication_types, mesh, abstract, expected",
    [
        # publication types, as PubMed gives them
        (
            "Acupuncture in patients with chronic low back pain",
            ["Journal Article", "Randomized Controlled Trial"],
            [],
            None,
            ("rct", "rule:design-publication-type matched 'Randomized Controlled Trial'"),
        ),
        (
            "Acupuncture for chronic pain in primary care",
            ["Journal Article", "Pragmatic Clinical Trial"],
            [],
            None,
            ("rct", "rule:design-publication-type matched 'Pragmatic Clinical Trial'"),
        ),
        (
            "Acupuncture for chronic pain",
            ["Journal Article", "Meta-Analysis", "Review", "Systematic Review"],
            [],
            None,
            ("meta-analysis", "rule:design-publication-type matched 'Meta-Analysis'"),
        ),
        (
            "Acupuncture for chronic pain",
            ["Meta-Analysis"],
            [],
            "We pooled individual patient data from 29 trials of acupuncture.",
            ("ipd-meta-analysis", "rule:design-abstract matched 'individual patient data'"),
        ),
        (
            "Acupuncture for low back pain",
            ["Journal Article", "Review"],
            [],
            None,
            ("narrative-review", "rule:design-publication-type matched 'Review'"),
        ),
        (
            "Acupuncture for low back pain",
            ["Review", "Systematic Review"],
            [],
            None,
            ("systematic-review", "rule:design-publication-type matched 'Systematic Review'"),
        ),
        (
            "Acupuncture for low back pain",
            ["Controlled Clinical Trial"],
            [],
            None,
            ("controlled-trial", "rule:design-publication-type matched 'Controlled Clinical Trial'"),
        ),
        (
            "Acupuncture for low back pain in pregnancy--a prospective, quasi-randomised, controlled study",
            ["Journal Article", "Randomized Controlled Trial"],
            [],
            None,
            ("quasi-rct", "rule:design-title matched 'quasi-randomised'"),
        ),
        (
            "Acupuncture for chronic neck pain with sleep disturbance: study protocol for a randomized controlled trial",
            ["Journal Article"],
            [],
            None,
            ("protocol", "rule:design-title matched 'study protocol'"),
        ),
        (
            "Electroacupuncture for chronic low back pain",
            ["Clinical Trial Protocol"],
            [],
            None,
            ("protocol", "rule:design-publication-type matched 'Clinical Trial Protocol'"),
        ),
        (
            "Use of acupuncture in older adults",
            ["Observational Study"],
            ["Humans", "Cohort Studies"],
            None,
            ("cohort", "rule:design-mesh matched 'Cohort Studies'"),
        ),
        (
            "Acupuncture and the risk of stroke",
            ["Observational Study"],
            ["Humans"],
            "In this nested case-control study we matched 1000 cases with 4000 controls.",
            ("case-control", "rule:design-abstract matched 'case-control'"),
        ),
        (
            "Acupuncture for hot flushes",
            [],
            ["Random Allocation", "Humans"],
            None,
            ("rct", "rule:design-mesh matched 'Random Allocation'"),
        ),
        # wording only
        (
            "Electroacupuncture attenuates inflammatory pain in rats: a randomized study",
            [],
            [],
            None,
            ("animal-study", "rule:design-title matched 'rats'"),
        ),
        (
            "Electroacupuncture for postoperative pain: a randomised, sham-controlled pilot trial",
            [],
            [],
            None,
            ("rct", "rule:design-title matched 'randomised'"),
        ),
        (
            "Acupuncture for tennis elbow: a sham-controlled study",
            [],
            [],
            None,
            ("controlled-trial", "rule:design-title matched 'sham-controlled'"),
        ),
        (
            "Acupuncture for knee osteoarthritis: a non-randomised controlled trial",
            [],
            [],
            None,
            ("controlled-trial", "rule:design-title matched 'non-randomised'"),
        ),
        (
            "Pneumothorax after acupuncture: a case report",
            ["Case Reports"],
            [],
            None,
            ("case-report", "rule:design-publication-type matched 'Case Reports'"),
        ),
        (
            "Acupuncture for migraine prophylaxis",
            [],
            [],
            "Methods: 120 patients were randomly assigned to two groups.",
            ("rct", "rule:design-abstract matched 'patients were randomly assigned'"),
        ),
        (
            "Acupuncture for migraine prophylaxis: a systematic review",
            ["Journal Article"],
            [],
            "Methods: We searched MEDLINE and Embase for randomised controlled trials.",
            ("systematic-review", "rule:design-title matched 'systematic review'"),
        ),
    ],
)
def test_design_rules(vocab, title, publication_types, mesh, abstract, expected):
    tag = design_by_rule(record(title, abstract, publication_types, mesh), vocab)
    assert (tag.value, tag.source) == expected and tag.provenance == "rule"


@pytest.mark.parametrize(
    "title, abstract, mesh, keywords, expected",
    [
        # 1. a human trial citing animal work stays a trial; animals count in the title, keywords or MeSH
        (
            "Acupuncture for chronic neck pain",
            "Background: Animal models suggest that acupuncture releases adenosine. "
            "Methods: 120 patients were randomly assigned to acupuncture or sham.",
            [],
            [],
            ("rct", "rule:design-abstract matched 'patients were randomly assigned'"),
        ),
        (
            "Electroacupuncture for postoperative ileus",
            "Electroacupuncture sped gut recovery in mice. We report a "
            "randomized trial in 80 patients after colectomy.",
            [],
            [],
            ("rct", "rule:design-abstract matched 'randomized'"),
        ),
        (
            "Adenosine mediates local analgesia of acupuncture",
            "Needling raised adenosine at the acupoint.",
            ["Animals", "Disease Models, Animal", "Mice"],
            [],
            ("animal-study", "rule:design-mesh matched 'Disease Models, Animal'"),
        ),
        # 2. IPD alone is an abbreviation, not an individual patient data meta-analysis
        (
            "Acupuncture for low back pain: a meta-analysis",
            "Trials from inpatient departments (IPD) and clinics were pooled.",
            [],
            [],
            ("meta-analysis", "rule:design-title matched 'meta-analysis'"),
        ),
        (
            "Acupuncture after stroke",
            "Patients of inpatient departments (IPD) were randomly assigned to two groups.",
            [],
            [],
            ("rct", "rule:design-abstract matched 'Patients of inpatient departments (IPD) were randomly assigned'"),
        ),
        (
            "Acupuncture for chronic pain: a meta-analysis",
            "An IPD meta-analysis of 39 trials.",
            [],
            [],
            ("ipd-meta-analysis", "rule:design-abstract matched 'IPD meta-analysis'"),
        ),
        # 3. a Cochrane-style review whose abstract names the trials it included
        (
            "Acupuncture for neck disorders",
            "Selection criteria: we included randomised controlled trials of acupuncture "
            "for neck pain. Two authors extracted data.",
            [],
            [],
            ("systematic-review", "rule:design-abstract matched 'we included randomised controlled trials'"),
        ),
        (
            "Acupuncture for insomnia",
            "We searched MEDLINE, Embase and CENTRAL to March 2011. Trials were small.",
            [],
            [],
            ("systematic-review", "rule:design-abstract matched 'searched MEDLINE'"),
        ),
        # 4. a chart or record review is not a review article
        ("Adverse events of acupuncture in a hospital clinic: a retrospective chart review", None, [], [], None),
        ("Acupuncture use after spinal surgery", None, [], ["medical record review"], None),
        # 5. a study about randomised trials is not one
        ("Quality of reporting of randomized controlled trials of acupuncture", None, [], [], None),
        (
            "Sham controls in randomised, placebo-controlled trials of acupuncture: a methodological study",
            None,
            [],
            [],
            None,
        ),
        # 6. "as Topic" headings name a subject, not the design, in keywords as in MeSH
        (
            "Acupuncture research in China",
            None,
            ["Meta-Analysis as Topic"],
            ["Meta-Analysis as Topic", "Acupuncture Therapy"],
            None,
        ),
        ("Acupuncture research in China", None, [], ["Randomized Controlled Trials as Topic/standards"], None),
    ],
)
def test_design_rules_pass_over_wording_about_other_studies(vocab, title, abstract, mesh, keywords, expected):
    tag = design_by_rule(record(title, abstract, mesh=mesh, keywords=keywords), vocab)
    assert (tag and (tag.value, tag.source)) == expected


@pytest.mark.parametrize(
    "publication_types, abstract",
    [
        (["Observational Study"], None),  # cohort, case-control or cross-sectional: PubMed's type alone does not say
        (["Clinical Trial"], None),  # neither a control group nor how it was allocated
        ([], "Approved by the institutional review board; a survey of 300 acupuncturists."),
        ([], "A previous systematic review and meta-analysis found a benefit; we surveyed 300 acupuncturists."),
    ],
)
def test_no_design_where_nothing_says_which(vocab, publication_types, abstract):
    assert design_by_rule(record("Acupuncture in general practice", abstract, publication_types), vocab) is None


def test_indexing_and_title_outweigh_what_the_abstract_says_about_other_studies(vocab):
    abstract = (
        "Background: A recent systematic review and meta-analysis suggested a benefit. Methods: 150 patients "
        "were randomly assigned to acupuncture or sham; approved by the institutional review board."
    )
    tag = design_by_rule(record("Acupuncture for chronic neck pain", abstract, ["Randomized Controlled Trial"]), vocab)
    assert tag.value == "rct"
    assert design_by_rule(record("Acupuncture for chronic neck pain", abstract), vocab).value == "rct"


@pytest.mark.parametrize(
    "title, mesh, abstract, expected",
    [
        (
            "Acupuncture for back pain",
            ["Acupuncture Therapy", "Chronic Pain", "Humans", "Low Back Pain"],
            None,
            [("chronic-low-back-pain", "rule:condition-mesh matched 'Low Back Pain + Chronic Pain'")],
        ),
        (
            "Needling in chronic low back pain",
            ["Low Back Pain"],
            None,
            [("chronic-low-back-pain", "rule:condition-title matched 'chronic low back pain'")],
        ),
        (
            "Acupuncture in late pregnancy",
            ["Low Back Pain", "Pelvic Girdle Pain", "Pregnancy", "Pregnancy Complications"],
            None,
            [
                ("pregnancy-low-back-pain", "rule:condition-mesh matched 'Low Back Pain + Pregnancy Complications'"),
                ("pelvic-girdle-pain", "rule:condition-mesh matched 'Pelvic Girdle Pain'"),
            ],
        ),
        (
            "Acupuncture for headache",
            ["Tension-Type Headache"],
            None,
            [("headache", "rule:condition-mesh matched 'Tension-Type Headache'")],
        ),
        (
            "Acupuncture for low back pain",
            [],
            "Adults with chronic low back pain, often with neck pain or headache.",
            [("chronic-low-back-pain", "rule:condition-abstract matched 'chronic low back pain'")],
        ),
        (
            "Acupuncture in primary care",
            [],
            "Background: neck pain is common. The aim of this study was to evaluate acupuncture in chronic neck pain.",
            [("neck-pain", "rule:condition-aim matched 'neck pain'")],
        ),
        ("Acupuncture for lumbago", [], None, [("low-back-pain", "rule:condition-title matched 'lumbago'")]),
    ],
)
def test_condition_rules_keep_the_most_specific(vocab, title, mesh, abstract, expected):
    tags = conditions_by_rule(record(title, abstract, mesh=mesh), vocab)
    assert [(t.value, t.source) for t in tags] == expected


def test_outcome_rules_name_the_measure_and_nothing_they_did_not_read(vocab):
    abstract = (
        "Primary outcome was the Roland-Morris Disability Questionnaire (RMDQ); secondary outcomes were pain "
        "on a visual analogue scale, the SF-36, the WOMAC and adverse events. Side effects were mild."
    )
    rows = outcomes_by_rule(
        record("Acupuncture for chronic low back pain: the Oswestry Disability Index", abstract), vocab
    )
    assert [(o.outcome, o.measure, o.source) for o in rows] == [
        ("pain-intensity", "visual analogue scale", "rule:outcome-abstract matched 'visual analogue scale'"),
        (
            "back-function",
            "Roland-Morris Disability Questionnaire",
            "rule:outcome-abstract matched 'Roland-Morris Disability Questionnaire'",
        ),
        ("back-function", "Oswestry Disability Index", "rule:outcome-title matched 'Oswestry Disability Index'"),
        ("physical-activity", "WOMAC", "rule:outcome-abstract matched 'WOMAC'"),
        ("quality-of-life", "SF-36", "rule:outcome-abstract matched 'SF-36'"),
        ("adverse-events", "adverse events", "rule:outcome-abstract matched 'adverse events'"),
    ]
    assert {(o.comparator, o.direction, o.finding, o.provenance) for o in rows} == {
        ("unspecified", "unknown", "", "rule")
    }


def test_curated_tags_are_never_overridden(vocab):
    curated_design = Tag("design", "quasi-rct", "curated", "s.bib:3")
    study = record(
        "Acupuncture for low back pain in pregnancy: a randomised controlled trial of VAS pain",
        publication_types=["Randomized Controlled Trial"],
        tags=[curated_design],
    )
    curated_outcome = OutcomeTag(
        "pain-intensity", "NRS", "usual-care", "benefit", "Less pain.", "curated", "s.outcomes.yaml:2"
    )
    tagged, errors = tag_study(study, [curated_outcome], vocab)
    assert errors == [] and tagged.design == curated_design and tagged.outcomes == [curated_outcome]
    assert [(t.value, t.provenance) for t in tagged.conditions] == [("pregnancy-low-back-pain", "rule")]
    # a curated tag that is rejected (unknown term) still keeps the rules off its kind
    study.tags = [Tag("design", "randomised", "curated", "s.bib:3")]
    tagged, errors = tag_study(study, [], vocab)
    assert tagged.design is None and "unknown design 'randomised'" in errors[0].message
    assert [o.outcome for o in tagged.outcomes] == ["pain-intensity"]


UNCURATED = """
@article{moxa2015,
  title = {Electroacupuncture versus sham for chronic low back pain: a randomized controlled trial},
  abstract = {Participants were randomly assigned. Outcomes were the Roland-Morris Disability Questionnaire and adverse events.},
  pmid = {10000001},
}

@article{curated2016,
  title = {Acupuncture for acute low back pain: a systematic review},
  keywords = {condition:acute-low-back-pain, design:systematic-review},
  pmid = {10000002},
}
"""


@pytest.fixture(scope="module")
def rule_db(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rules")
    (folder / "mixed.bib").write_text(UNCURATED, encoding="utf-8")
    (folder / "mixed.outcomes.yaml").write_text(
        "curated2016:\n  - {outcome: pain-intensity, measure: VAS, comparator: sham-acupuncture, direction: benefit, "
        "finding: Less pain.}\n",
        encoding="utf-8",
    )
    db_path = folder / "e.db"
    summary = loader.load(db_path, [folder / "mixed.bib"])
    assert (summary.studies, summary.error_count) == (2, 0)
    return db_path


def test_rule_tags_are_saved_with_provenance_and_source(rule_db):
    db = Database(rule_db)
    designs = {
        r["key"]: (r["design"], r["design_provenance"], r["design_source"])
        for r in db.query("select key, design, design_provenance, design_source from studies")
    }
    assert designs == {
        "moxa2015": ("rct", "rule", "rule:design-title matched 'randomized'"),
        "curated2016": ("systematic-review", "curated", "mixed.bib:10"),
    }
    conditions = [
        tuple(r.values())
        for r in db.query("select study_key, condition_id, provenance, source from study_conditions order by study_key")
    ]
    assert conditions == [
        ("curated2016", "acute-low-back-pain", "curated", "mixed.bib:10"),
        ("moxa2015", "chronic-low-back-pain", "rule", "rule:condition-title matched 'chronic low back pain'"),
    ]
    outcomes = [
        tuple(r.values())
        for r in db.query(
            "select study_key, outcome_id, measure, comparator, direction, finding, provenance, source "
            "from study_outcomes order by study_key, position"
        )
    ]
    assert outcomes == [
        (
            "curated2016",
            "pain-intensity",
            "VAS",
            "sham-acupuncture",
            "benefit",
            "Less pain.",
            "curated",
            "mixed.outcomes.yaml:2",
        ),
        (
            "moxa2015",
            "back-function",
            "Roland-Morris Disability Questionnaire",
            "unspecified",
            "unknown",
            "",
            "rule",
            "rule:outcome-abstract matched 'Roland-Morris Disability Questionnaire'",
        ),
        (
            "moxa2015",
            "adverse-events",
            "adverse events",
            "unspecified",
            "unknown",
            "",
            "rule",
            "rule:outcome-abstract matched 'adverse events'",
        ),
    ]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "table, column, expected",
    [
        ("studies", "design_provenance", {"curated": 1, "rule": 1}),
        ("study_conditions", "provenance", {"curated": 1, "rule": 1}),
        ("study_outcomes", "provenance", {"curated": 1, "rule": 2}),
        ("study_outcomes", "direction", {"benefit": 1, "unknown": 2}),
    ],
)
async def test_rule_tags_facet_apart_in_datasette(rule_db, table, column, expected):
    response = await Datasette(immutables=[str(rule_db)]).client.get(f"/e/{table}.json?_facet={column}")
    assert response.status_code == 200
    facet = response.json()["facet_results"][column]["results"]
    assert {f["value"]: f["count"] for f in facet} == expected


def test_the_corpus_keeps_its_curated_tags_and_tags_only_the_uncurated_study(corpus_db):
    db = Database(corpus_db)
    assert db.execute("select count(*) from studies where design_provenance = 'rule'").fetchone()[0] == 0
    rule_rows = [
        tuple(r.values())
        for r in db.query(
            "select study_key, outcome_id, measure, comparator, direction from study_outcomes where provenance = 'rule'"
        )
    ]
    assert rule_rows == [("chung2003", "adverse-events", "Adverse effects", "unspecified", "unknown")]


def labelled(title, publication_types, mesh, design, conditions, key):
    return Labelled(record(title, publication_types=publication_types, mesh=mesh, key=key), design, conditions)


def test_scoring_a_labelled_pubmed_set(vocab):
    pubmed = [
        labelled(
            "A randomized trial comparing acupuncture, simulated acupuncture, and usual care for chronic low back pain",
            ["Comparative Study", "Journal Article", "Randomized Controlled Trial"],
            ["Acupuncture Therapy", "Adult", "Humans", "Low Back Pain"],
            "rct",
            ["chronic-low-back-pain"],
            "cherkin",
        ),
        labelled(
            "Acupuncture relieves pelvic and low-back pain in late pregnancy",
            ["Clinical Trial", "Journal Article"],
            ["Female", "Humans", "Low Back Pain", "Pregnancy", "Pregnancy Complications"],
            "rct",
            ["pregnancy-low-back-pain", "pelvic-girdle-pain"],
            "kvorning",
        ),
        labelled(
            "Meta-analysis: acupuncture for low back pain",
            ["Journal Article", "Meta-Analysis"],
            ["Low Back Pain"],
            "meta-analysis",
            ["chronic-low-back-pain", "acute-low-back-pain"],
            "manheimer",
        ),
        labelled(
            "Acupuncture for chronic neck pain",
            ["Journal Article", "Review"],
            ["Neck Pain", "Chronic Pain"],
            "systematic-review",
            ["neck-pain"],
            "review",
        ),
    ]
    report = score(pubmed, vocab)
    # design: cherkin and manheimer right; kvorning only "Clinical Trial" (no design); review called narrative
    assert (report.design.found_right, report.design.found, report.design.labels) == (2, 3, 4)
    # conditions: cherkin's title narrows MeSH Low Back Pain to the label; kvorning both from MeSH and title;
    # manheimer low-back-pain, an ancestor of both labels; review neck-pain and chronic-pain (not an ancestor)
    exact, branch = report.conditions, report.conditions_same_branch
    assert (exact.found_right, exact.found, exact.labels_found, exact.labels) == (4, 6, 4, 6)
    assert (branch.found_right, branch.found, branch.labels_found, branch.labels) == (5, 6, 6, 6)
    assert round(exact.precision, 2) == 0.67 and round(branch.f1, 2) == 0.91
    assert "kvorning: design by rule none, labelled rct" in report.misses
    assert (
        "review: design by rule narrative-review (rule:design-publication-type matched 'Review'), "
        "labelled systematic-review"
    ) in report.misses


def test_labels_are_read_beside_the_records_by_pmid(tmp_path, vocab):
    (tmp_path / "set.bib").write_text(UNCURATED, encoding="utf-8")
    labels = tmp_path / "set.labels.yaml"
    labels.write_text(
        "10000001: {design: rct, conditions: [chronic-low-back-pain]}\n"
        "10000002: {design: meta-analysis, conditions: []}\n",
        encoding="utf-8",
    )
    found = labelled_by_file(tmp_path / "set.bib", vocab)
    assert [(item.record.key, item.design, item.conditions) for item in found] == [
        ("moxa2015", "rct", ["chronic-low-back-pain"]),
        ("curated2016", "meta-analysis", []),
    ]
    report = score(found, vocab)  # curated2016's own tags are set aside: its title says systematic review
    assert (report.design.found_right, report.design.labels) == (1, 2)
    assert (report.conditions.found, report.conditions.found_right) == (2, 1)
    labels.write_text("10000001: {design: rtc}\n10000009: {design: rct}\n", encoding="utf-8")
    with pytest.raises(
        ValueError,
        match="unknown design 'rtc'.*PMID 10000009 is labelled but not in set.bib|"
        "PMID 10000009 is labelled but not in set.bib.*unknown design 'rtc'",
    ):
        labelled_by_file(tmp_path / "set.bib", vocab)


def test_accuracy_script_on_the_corpus():
    result = subprocess.run(
        [sys.executable, "scripts/tag_accuracy.py"], cwd=PROJECT, capture_output=True, text=True, check=True
    )
    lines = result.stdout.splitlines()
    assert lines[1:4] == [
        "design (exact)           precision 1.00 (23/23)  recall 0.74 (23/31)  F1 0.85",
        "conditions (exact id)    precision 0.83 (25/30)  recall 0.66 (25/38)  F1 0.74",
        "conditions (same branch) precision 1.00 (30/30)  recall 0.84 (32/38)  F1 0.91",
    ]
    assert "  kvorning2004: design by rule none, labelled rct" in lines


def test_every_design_needs_a_precedence_and_rule_rows_their_comparator(tmp_path):
    for name in ("conditions", "designs", "outcomes", "comparators"):
        (tmp_path / f"{name}.yaml").write_text((VOCAB / f"{name}.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "designs.yaml").write_text("- {id: rct, label: RCT}\n", encoding="utf-8")
    with pytest.raises(VocabularyError, match="design 'rct' needs a whole-number precedence"):
        load_vocabulary(tmp_path)
    (tmp_path / "designs.yaml").write_text("- {id: rct, label: RCT, precedence: 1}\n", encoding="utf-8")
    (tmp_path / "comparators.yaml").write_text("- {id: none, label: No comparator}\n", encoding="utf-8")
    with pytest.raises(VocabularyError, match="needs the term 'unspecified'"):
        load_vocabulary(tmp_path)


def test_the_clue_index_never_passes_over_a_pattern_that_matches(vocab):
    """The rules search only the patterns whose clues a text holds, from where the clues allow: on the corpus, the
    fixtures and texts made of the patterns' own pieces, they find what each pattern searched in full finds."""
    records = [
        record
        for path in [PROJECT / "data" / "studies.bib", *sorted(FIXTURES.glob("*.*"))]
        if path.suffix in (".bib", ".ris", ".nbib", ".json")
        for record in read_file(path, path.name).records
    ]
    texts = [text for r in records for text in (r.title or "", "; ".join(r.keywords), r.abstract or "")]
    rules = tagger._rules(vocab)
    read_where = {
        rules.front_clues: (rules.designs_named, rules.condition_names, rules.measures),
        rules.abstract_clues: (rules.designs_described, rules.condition_names, rules.measures),
    }
    patterns = {
        clues: {pattern for rule_set in rule_sets for pattern in rule_set.fast.patterns}
        for clues, rule_sets in read_where.items()
    }
    pieces = [piece for p in patterns[rules.front_clues] for route in p.routes for piece, _ in route.pieces]
    pieces += [
        "IPD",
        "RCTs",
        "Low-Back Pain",
        "\u017fystematic review",
        "\u0130nsomnia",
        "\u212a",
        "sf36",
        "é",
        "–",
        "case series",
        "12-year-old woman",
        "randomised",
        "non-randomised",
        "meta-analyses of IPD",
        "Protocol:",
    ]
    rng = random.Random(7)

    def made_up() -> str:
        parts = [rng.choice(pieces) for _ in range(rng.randint(1, 6))]
        return "".join(
            (part.upper() if rng.random() < 0.2 else part) + rng.choice(["", " ", ". ", "s ", "_", "-"])
            for part in parts
        )

    texts += [made_up() for _ in range(3000)]
    for clues, searched in patterns.items():
        for text in texts:
            read = clues.read("text", text)
            for pattern in searched:
                match = re.compile(pattern.regex.pattern, re.IGNORECASE).search(text)
                routes = read.candidates.get(pattern)
                found = pattern.first(read.text, routes) if routes else None
                assert found == (match.group(0) if match else None), (pattern.regex.pattern, text)
