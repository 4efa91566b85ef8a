"""The evidence layer: articles, claims checked against the studies they cite, review inclusions."""

import json
from pathlib import Path

import pytest
from datasette.app import Datasette
from sqlite_utils import Database

from evidence import loader

CLAIMS = Path(__file__).parent / "fixtures" / "claims"
TRICKY = Path(__file__).parent / "fixtures" / "tricky.bib"


@pytest.fixture
def claims_db(tmp_path) -> Path:
    path = tmp_path / "claims.db"
    summary = loader.load(path, [*loader.default_inputs(), TRICKY], claims_dir=CLAIMS)
    assert summary.claims == 3  # the fourth has a verdict outside the scale
    return path


def test_claims_load_with_their_links_and_bad_items_are_reported(claims_db):
    db = Database(claims_db)
    assert {r["id"]: r["verdict"] for r in db.query("select id, verdict from claims")} == {
        "ipd-year": "detail-wrong",
        "medicare": "unverified",
        "migraine-helps": "not-in-database",
    }
    assert [tuple(r) for r in db.execute("select claim_id, study_key from claim_studies")] == [
        ("ipd-year", "vickers2018")
    ]
    assert [tuple(r) for r in db.execute("select title, year from claim_documents")] == [("A coverage decision", 2020)]
    errors = {
        (r["file"].rsplit("/", 1)[-1], r["line"], r["entry_key"]): r["message"]
        for r in db.query("select * from load_errors")
    }
    assert errors[("claims.yaml", 30, "broken")].startswith("verdict 'probably' is not one of supported, ")
    assert (
        errors[("claims.yaml", 22, "migraine-helps")]
        == "cites study 'nosuchstudy', which is not in the database; that link was left out"
    )
    assert (
        errors[("review_includes.yaml", 5, "berg2020")]
        == "'nosuchstudy' is not in the database; the inclusion was left out"
    )


def test_stated_details_are_checked_against_the_cited_study(claims_db):
    db = Database(claims_db)
    checks = {
        r["field"]: (r["stated"], r["recorded"], r["agrees"])
        for r in db.query("select * from claim_checks where claim_id = 'ipd-year'")
    }
    assert checks == {
        "year": ("2019", "2018", 0),
        "journal": ("Journal of Pain", "The Journal of Pain", 1),
        "participants": ("20827", "20827", 1),
    }
    assert tuple(db.execute("select details_checked, details_wrong from claims where id = 'ipd-year'").fetchone()) == (
        3,
        1,
    )


def test_reviews_link_to_the_studies_they_include(claims_db):
    db = Database(claims_db)
    assert [tuple(r) for r in db.execute("select review_key, study_key from review_includes")] == [
        ("berg2020", "roe2020")
    ]
    card = next(db.query("select reviewed_in from study_cards where key = 'roe2020'"))
    assert json.loads(card["reviewed_in"]) == ["berg2020"]


def test_claims_stay_when_other_files_are_loaded_and_links_follow_removed_studies(tmp_path):
    db_path, tricky = tmp_path / "e.db", tmp_path / "tricky.bib"
    tricky.write_text(TRICKY.read_text(encoding="utf-8"), encoding="utf-8")
    loader.load(db_path, [*loader.default_inputs(), tricky], claims_dir=CLAIMS)
    extra = tmp_path / "one.bib"
    extra.write_text("@article{solo, title={A lone study}, doi={10.1000/solo}}\n", encoding="utf-8")
    loader.load(db_path, [extra])  # no claims folder: the claims in the database stay
    assert Database(db_path)["claims"].count == 3 and Database(db_path)["review_includes"].count == 1
    tricky.write_text("", encoding="utf-8")  # its studies go, and with them the inclusion between two of them
    summary = loader.load(db_path, [tricky])
    db = Database(db_path)
    assert summary.removed == 7 and db["review_includes"].count == 0 and db["claims"].count == 3


@pytest.mark.asyncio
async def test_datasette_shows_claims_gaps_and_strongest_evidence(claims_db):
    ds = Datasette(immutables=[str(claims_db)])
    name = claims_db.stem

    async def rows(path):
        response = await ds.client.get(f"/{name}/{path}")
        assert response.status_code == 200, response.text
        return response.json()["rows"] if "_shape=objects" in path else response.json()

    unsupported = await rows("claims_not_fully_supported.json?_shape=objects")
    assert [r["id"] for r in unsupported] == ["ipd-year", "migraine-helps", "medicare"]  # most serious first
    assert unsupported[0]["wrong_details"] == "year: stated 2019, recorded 2018"
    gaps = await rows("conditions_without_studies.json?_shape=objects")
    # migraine, named by a claim and an article, has a study in the bundled corpus (linde2016): not a gap
    assert {r["condition_id"]: set(r["named_by"].split(",")) for r in gaps} == {
        "abdominal-pain": {"article second-article"},
    }
    strongest = {r["condition_id"]: r for r in await rows("strongest_evidence_per_condition.json?_shape=objects")}
    assert (strongest["migraine"]["best_evidence_level"], strongest["migraine"]["study_keys"]) == (1, "linde2016")
    assert strongest["low-back-pain"]["best_evidence_level"] == 1
    assert set(strongest["low-back-pain"]["study_keys"].split(",")) == {
        "furlan2015",
        "lee2013",
        "manheimer2005",
        "rubinstein2019",
    }
    assert strongest["pregnancy-complications"]["best_evidence_level"] == 2  # kvorning2004, an RCT
    facets = (await rows("claims.json?_facet=verdict"))["facet_results"]["verdict"]["results"]
    assert {f["value"]: f["count"] for f in facets} == {"detail-wrong": 1, "unverified": 1, "not-in-database": 1}
    card = (await rows("claim_cards.json?id=ipd-year&_shape=objects"))[0]
    assert json.loads(card["mismatches"]) == ["year: stated 2019, recorded 2018 (vickers2018)"]


@pytest.mark.asyncio
async def test_claim_and_article_pages_escape_html(claims_db):
    ds = Datasette(immutables=[str(claims_db)])
    page = await ds.client.get(f"/{claims_db.stem}/claim_cards")
    assert "<script>alert(1)</script>" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    page = await ds.client.get(f"/{claims_db.stem}/sources")
    assert "<b>needles</b>" not in page.text and "&lt;b&gt;needles&lt;/b&gt;" in page.text


def test_a_review_finding_for_one_condition_does_not_colour_another(claims_db):
    import sqlite3

    from evidence.web.evidence_map import build

    with sqlite3.connect(claims_db) as conn:
        the_map = build(conn)
    column = [c.label for c in the_map.columns].index("Meta-analysis")
    cells = {row.condition_id: row.cells[column] for row in the_map.rows}
    # manheimer2005: benefit for chronic low back pain, inconclusive for acute low back pain, and inconclusive
    # against other therapies for low back pain as a whole: that last says nothing of chronic low back pain alone
    # (rubinstein2019, no different from other recommended therapies, is the other chronic meta-analysis)
    chronic = cells["chronic-low-back-pain"]
    assert (chronic.count, chronic.directions) == (2, {"benefit", "no-difference"})
    assert (cells["acute-low-back-pain"].count, cells["acute-low-back-pain"].findings) == (1, "inconclusive")
    assert cells["low-back-pain"].directions == {
        "benefit",
        "inconclusive",
        "no-difference",
    }  # all belong to the broader condition


@pytest.mark.asyncio
async def test_unsupported_claims_name_their_article_and_documents(claims_db):
    ds = Datasette(immutables=[str(claims_db)])
    response = await ds.client.get(f"/{claims_db.stem}/claims_not_fully_supported.json?_shape=objects")
    by_id = {r["id"]: r for r in response.json()["rows"]}
    assert (
        by_id["medicare"]["article"] == "Test article <b>one</b>"
        and by_id["medicare"]["documents"] == "A coverage decision"
    )
