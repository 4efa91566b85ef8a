"""The home and search pages, and the table pages as people read them (chips, plain facet names, order, hidden
tables, canned queries), with conditions found by any of their names: through a real Datasette over the corpus,
the real CLI, and Debian's chromium."""

import json
import re
import sqlite3

import pytest
from browsing import CHROMIUM, browser_page, screenshots_folder, serving
from click.testing import CliRunner
from datasette.app import Datasette

from evidence.cli import cli
from evidence.web.metadata import HIDDEN_TABLES


@pytest.fixture
def ds(claims_db):
    return Datasette(immutables=[str(claims_db)])


async def page(ds, path: str) -> str:
    response = await ds.client.get(path)
    assert response.status_code == 200, (path, response.text[:500])
    return response.text


def visible_text(html: str) -> str:
    html = re.sub(r"<(script|style|title)\b.*?</\1>", "", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html).replace("&#34;", '"').replace("&quot;", '"')


@pytest.mark.asyncio
async def test_home_page_offers_search_map_conditions_with_counts_articles_and_where_to_start(ds, claims_db):
    html = (await page(ds, "/")).split('<div class="home">')[1]
    assert html.index('action="/-/search"') < html.index('href="/-/evidence-map"') < html.index("Conditions")
    with sqlite3.connect(claims_db) as conn:
        under = conn.execute(
            "select sum(studies) from evidence_map_cells where condition_id = 'low-back-pain'"
        ).fetchone()[0]
        sources = [name for (name,) in conn.execute("select name from sources")]
    assert under == 11  # Low back pain and everything narrower, as the map counts it
    assert re.search(
        r'href="/evidence/conditions/low-back-pain">Low back pain</a> <span class="count">11 studies', html
    )
    for name in sources:
        assert name.replace("&", "&amp;") in html
    assert re.search(r">\d+ misrepresented</a>", html)
    assert 'href="/evidence/study_cards"' in html and 'href="/evidence/studies_for_condition"' in html


@pytest.mark.asyncio
async def test_join_tables_are_left_out_of_the_list_but_still_answer_sql_and_json(ds):
    tables = {t["name"]: t["hidden"] for t in json.loads(await page(ds, "/evidence.json"))["tables"]}
    for table in HIDDEN_TABLES:
        assert tables[table] is True, table
    assert tables["study_cards"] is False and tables["studies"] is False
    database_page = await page(ds, "/evidence")
    assert 'href="/evidence/condition_ancestors"' not in database_page
    rows = json.loads(await page(ds, "/evidence/condition_ancestors.json?_shape=array&condition_id=low-back-pain"))
    assert {r["ancestor_id"] for r in rows} == {"low-back-pain", "back-pain", "pain"}
    sql = await page(ds, "/evidence.json?_shape=array&sql=select+count(*)+as+n+from+study_authors")
    assert json.loads(sql)[0]["n"] > 0


@pytest.mark.asyncio
async def test_study_cards_show_linked_chips_while_json_keeps_the_arrays(ds):
    html = await page(ds, "/evidence/study_cards?_size=max")
    text = visible_text(html)
    assert '["' not in text and "{}" not in text and "[]" not in text
    assert '<a class="chip" href="/evidence/conditions/chronic-low-back-pain">Chronic low back pain</a>' in html
    assert '<a href="/evidence/studies/cherkin2009">cherkin2009</a>' in html
    rows = json.loads(await page(ds, "/evidence/study_cards.json?_shape=objects&_size=max"))["rows"]
    cherkin = next(r for r in rows if r["key"] == "cherkin2009")
    assert json.loads(cherkin["conditions"]) == ["Chronic low back pain"]
    assert any(r["reviewed_in"] == "[]" for r in rows)  # an empty list is still an empty JSON list for API users
    csv_text = await page(ds, "/evidence/study_cards.csv?_size=max")
    assert '"[""Chronic low back pain""]"' in csv_text
    columns = list(rows[0])
    assert columns.index("finding") < 4  # the sentence a reader wants comes first, after key and title


@pytest.mark.asyncio
async def test_row_pages_link_to_the_study_page_and_show_no_empty_json(ds):
    html = await page(ds, "/evidence/study_cards/1")
    assert re.search(r'<a href="/evidence/studies/[^"]+">', html)
    claims = await page(ds, "/evidence/claim_cards")
    assert re.search(r'<td class="col-id[^"]*"><a href="/evidence/claims/[^"]+">', claims)
    assert re.search(r'<a class="chip" href="/evidence/studies/[^"]+">', claims)  # the studies a claim cites
    text = visible_text(html)
    assert '["' not in text and "{}" not in text


@pytest.mark.asyncio
async def test_facets_have_plain_names_and_the_condition_facet_counts_narrower_conditions(ds):
    html = await page(ds, "/evidence/study_cards")
    headings = re.findall(r'<p class="facet-info-name">\s*<strong>([^<]*?)\s*<span', html)
    assert headings and not [h for h in headings if "(card)" in h or "grouped_array" in h]
    assert "conditions, narrower ones counted (as on the map)" in headings
    data = json.loads(await page(ds, "/evidence/study_cards.json?_size=0"))
    groups = {f["value"]: f["count"] for f in data["facet_results"]["condition_groups"]["results"]}
    assert groups["Low back pain"] == 11 and groups["Back pain"] == 11  # as on the evidence map
    assert groups["Chronic low back pain"] == 4


@pytest.mark.asyncio
async def test_study_cards_list_the_strongest_evidence_first_and_ungraded_last(ds, claims_db):
    rows = json.loads(await page(ds, "/evidence/study_cards.json?_shape=objects&_size=max"))["rows"]
    levels = [r["evidence_level"] for r in rows]
    graded = [level for level in levels if level is not None]
    assert graded == sorted(graded) and levels[-1] is None and levels[0] == 1
    with sqlite3.connect(claims_db) as conn:
        assert conn.execute("select count(*) from study_cards where evidence_level is null").fetchone()[0] == 1


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "name, expected",
    [
        ("CLBP", {"manheimer2005", "cherkin2009", "rubinstein2019", "hsieh2006"}),
        ("chronic back pain", {"manheimer2005", "cherkin2009", "rubinstein2019", "hsieh2006"}),
        ("lumbago", 11),
        ("LBP", 11),
        ("pregnant", {"kvorning2004", "guerreirodasilva2004"}),
        ("pelvic girdle pain", {"kvorning2004", "guerreirodasilva2004"}),
    ],
)
async def test_studies_for_a_condition_takes_synonyms(ds, name, expected):
    response = await ds.client.get(
        "/evidence/studies_for_condition.json", params={"condition": name, "_shape": "array"}
    )
    keys = {row["key"] for row in response.json()}
    assert keys == expected if isinstance(expected, set) else len(keys) == expected


@pytest.mark.asyncio
async def test_canned_queries_hide_their_sql_and_offer_the_conditions(ds):
    html = await page(ds, "/evidence/studies_for_condition")
    assert "condition_synonyms" not in visible_text(html)
    assert (
        'href="/evidence/studies_for_condition?condition=chronic-low-back-pain">Chronic low back pain (4)</a>' in html
    )
    for query in ("claims_not_fully_supported", "strongest_evidence_per_condition", "evidence_map"):
        assert '<pre id="sql-query">' not in await page(ds, f"/evidence/{query}")


@pytest.mark.asyncio
async def test_search_finds_conditions_by_synonym_studies_by_full_text_and_claims(ds):
    html = await page(ds, "/-/search?q=chronic+back+pain")
    assert '<a href="/evidence/conditions/chronic-low-back-pain">Chronic low back pain</a>' in html
    assert '<a href="/evidence/studies/cherkin2009">' in html
    pregnant = await page(ds, "/-/search?q=pregnant")
    assert 'href="/evidence/conditions/pelvic-girdle-pain"' in pregnant
    assert 'href="/evidence/studies/guerreirodasilva2004"' in pregnant  # "Pregnant women" in its population
    assert re.search(r'href="/evidence/claims/[^"]+"', await page(ds, "/-/search?q=pregnancy"))
    odd = await page(ds, "/-/search?q=%22%28*+NEAR+xyzzy")  # full-text syntax in what a person types is just words
    assert "No study mentions all of these words." in odd


@pytest.mark.asyncio
async def test_full_text_covers_population(ds, claims_db):
    with sqlite3.connect(claims_db) as conn:
        (where,) = conn.execute(
            "select count(*) from studies where key = 'cherkin2009' and "
            "(title || abstract || coalesce(keywords, '') || coalesce(finding, '')) like '%mechanical%'"
        ).fetchone()
    assert where == 0  # only its population says "mechanical"
    data = json.loads(await page(ds, "/evidence/study_cards.json?_search=mechanical&_shape=array"))
    assert "cherkin2009" in {row["key"] for row in data}


def test_export_condition_takes_a_synonym_on_the_command_line(claims_db, tmp_path):
    by_synonym, by_id = tmp_path / "lumbago.bib", tmp_path / "low-back-pain.bib"
    for name, out in (("lumbago", by_synonym), ("low-back-pain", by_id)):
        result = CliRunner().invoke(cli, ["export", str(claims_db), "--condition", name, "-o", str(out)])
        assert result.exit_code == 0, result.output
    assert by_synonym.read_text().count("\n@") + by_synonym.read_text().startswith("@") == 11
    assert by_synonym.read_text() == by_id.read_text()
    unknown = CliRunner().invoke(cli, ["export", str(claims_db), "--condition", "xyzzy"])
    assert unknown.exit_code != 0 and "unknown condition 'xyzzy'" in unknown.output


# In a real browser


@pytest.fixture(scope="module")
def served_corpus(claims_db):
    """`evidence serve` of the corpus on a free port."""
    with serving(claims_db) as base:
        yield base


PAGES = {
    "home": "/",
    "search": "/-/search?q=chronic+back+pain",
    "study_cards": "/evidence/study_cards",
    "study_card_row": "/evidence/study_cards/1",
    "claim_cards": "/evidence/claim_cards",
    "studies": "/evidence/studies",
    "studies_for_condition": "/evidence/studies_for_condition?condition=lumbago",
}


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (/usr/bin/chromium)")
def test_pages_in_a_browser_show_no_json_and_the_home_page_fits_a_phone(served_corpus, tmp_path):
    shots = screenshots_folder(tmp_path)
    with browser_page() as (browser, dialogs):
        browser.set_viewport_size({"width": 1366, "height": 768})
        for name, path in PAGES.items():
            assert browser.goto(served_corpus + path).status == 200, path
            text = browser.evaluate(  # the data, not the schema at the foot of a table page
                "[...document.querySelectorAll('.rows-and-columns, .facet-results, .home, .search-page')]"
                ".map(e => e.innerText).join(' ')"
            )
            assert text.strip(), path
            assert '["' not in text and "{}" not in text, path
            browser.screenshot(path=str(shots / f"tables-{name}.png"), full_page=True)
        browser.set_viewport_size({"width": 390, "height": 844})
        browser.goto(served_corpus + "/")
        assert browser.evaluate("document.documentElement.scrollWidth") <= 390
        browser.screenshot(path=str(shots / "tables-home-phone.png"), full_page=True)
        browser.fill("#q", "lumbago")
        browser.press("#q", "Enter")
        browser.wait_for_url("**/-/search?q=lumbago")
        browser.click("a[href$='/conditions/low-back-pain']")
        assert browser.url.endswith("/evidence/conditions/low-back-pain")
        assert dialogs == []
