
import pytest
from datasette.app import Datasette


@pytest.fixture
def ds(corpus_db):
    """A real Datasette over the corpus, read-only as `evidence serve` runs it; the plugin comes from the entry point."""
    return Datasette(immutables=[str(corpus_db)])


async def get_json(ds, path):
    response = await ds.client.get(path)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.asyncio
async def test_plugin_is_installed_through_the_entry_point(ds):
    plugins = await get_json(ds, "/-/plugins.json")
    assert "evidence" in [p["name"] for p in plugins]
    metadata = await get_json(ds, "/-/metadata.json")
    assert metadata["title"] == "evidence: acupuncture research"
    assert metadata["license"].startswith("CC BY 4.0")


@pytest.mark.asyncio
async def test_study_cards_page_facets_on_conditions_design_level_year_journal(ds):
    data = await get_json(ds, "/evidence/study_cards.json?_size=100")
    assert data["filtered_table_rows_count"] == 11
    facets = data["facet_results"]
    assert set(facets) == {"conditions", "design", "evidence_level", "year", "journal"}
    designs = {f["value"]: f["count"] for f in facets["design"]["results"]}
    assert designs["Randomised controlled trial"] == 5
    assert designs["Individual patient data meta-analysis"] == 1
    conditions = {f["value"]: f["count"] for f in facets["conditions"]["results"]}
    assert conditions["Acute low back pain"] == 3
    assert conditions["Low back pain"] == 2
    levels = {f["value"]: f["count"] for f in facets["evidence_level"]["results"]}
    assert levels == {1: 3, 2: 5, 3: 1, 5: 1}
    page = await ds.client.get("/evidence/study_cards")
    assert page.status_code == 200 and "Acupuncture relieves pelvic and low-back pain in late pregnancy" in page.text


@pytest.mark.asyncio
async def test_full_text_search_finds_the_right_studies(ds):
    data = await get_json(ds, "/evidence/study_cards.json?_search=pregnancy&_shape=objects")
    assert {r["key"] for r in data["rows"]} == {"guerreirodasilva2004", "kvorning2004"}
    data = await get_json(ds, "/evidence/studies.json?_search=adenosine&_shape=objects")
    assert [r["key"] for r in data["rows"]] == ["takano2012"]
    data = await get_json(ds, "/evidence/study_cards.json?_search=Nedergaard&_shape=objects")
    assert [r["key"] for r in data["rows"]] == ["takano2012"]


@pytest.mark.asyncio
async def test_studies_for_a_condition_include_narrower_ones_strongest_first(ds):
    data = await get_json(ds, "/evidence/studies_for_condition.json?condition=Back+pain&_shape=objects")
    keys = [r["key"] for r in data["rows"]]
    assert keys[:2] == ["manheimer2005", "lee2013"]  # level 1, meta-analysis ranks before systematic review
    assert set(keys) == {"manheimer2005", "lee2013", "shin2013", "cherkin2009", "inoue2009", "inoue2006",
                         "kvorning2004", "guerreirodasilva2004"}
    assert keys[-1] == "guerreirodasilva2004"  # quasi-randomised: level 3
    data = await get_json(ds, "/evidence/studies_for_condition.json?condition=pregnancy-complications&_shape=objects")
    assert {r["key"] for r in data["rows"]} == {"kvorning2004", "guerreirodasilva2004"}


@pytest.mark.asyncio
async def test_evidence_map_counts_studies_and_shows_gaps(ds):
    rows = await get_json(ds, "/evidence/evidence_map.json?_shape=array")
    by_id = {r["condition_id"]: r for r in rows}
    assert by_id["low-back-pain"]["studies"] == 8
    assert by_id["low-back-pain"]["Randomised controlled trial"] == 5
    assert by_id["pain"]["studies"] == 9
    for gap in ("fibromyalgia", "migraine", "insomnia", "dental-pain", "chemotherapy-nausea-vomiting", "labour-pain"):
        assert by_id[gap]["studies"] == 0
    assert by_id["chronic-low-back-pain"]["condition"] == "      Chronic low back pain"  # depth 3 in the tree


@pytest.mark.asyncio
async def test_provenance_and_load_errors_are_browsable(ds):
    data = await get_json(ds, "/evidence/study_conditions.json?_facet=provenance")
    assert {f["value"]: f["count"] for f in data["facet_results"]["provenance"]["results"]} == {"curated": 16}
    errors = await get_json(ds, "/evidence/load_errors.json?_shape=objects")
    assert {r["entry_key"] for r in errors["rows"]} == {"chung2003", "inoue2009"}
    page = await ds.client.get("/evidence/studies")
    assert "Identifiers were checked against public records" in page.text
