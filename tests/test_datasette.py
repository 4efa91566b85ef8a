import asyncio
import json
import os
import re
import shutil
import signal
import sqlite3
import sys
import time
from urllib.parse import unquote_plus

import bibtexparser
import pytest
import rispy
from conftest import VOCAB
from datasette import hookimpl
from datasette.app import Datasette
from datasette.database import QueryInterrupted
from datasette.plugins import pm
from sqlite_utils import Database

from evidence import loader, store
from evidence.fast import background
from evidence.web import plugin as publish


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
    assert data["filtered_table_rows_count"] == 32
    facets = data["facet_results"]
    assert set(facets) == {"condition_groups", "design", "evidence_level", "year", "journal"}
    designs = {f["value"]: f["count"] for f in facets["design"]["results"]}
    assert designs["Randomised controlled trial"] == 7
    assert designs["Individual patient data meta-analysis"] == 1
    conditions = {f["value"]: f["count"] for f in facets["condition_groups"]["results"]}
    assert conditions["Acute low back pain"] == 3
    assert conditions["Low back pain"] == 11  # narrower conditions counted, as on the evidence map
    levels = {f["value"]: f["count"] for f in facets["evidence_level"]["results"]}
    assert levels == {1: 22, 2: 7, 3: 1, 5: 1}
    page = await ds.client.get("/evidence/study_cards")
    assert page.status_code == 200 and "Acupuncture relieves pelvic and low-back pain in late pregnancy" in page.text


@pytest.mark.asyncio
async def test_full_text_search_finds_the_right_studies(ds):
    data = await get_json(ds, "/evidence/study_cards.json?_search=pregnancy&_shape=objects")
    assert {r["key"] for r in data["rows"]} == {
        "guerreirodasilva2004",
        "kvorning2004",
        "cheuk2012",
    }  # cheuk2012: insomnia in pregnancy
    data = await get_json(ds, "/evidence/studies.json?_search=adenosine&_shape=objects")
    assert [r["key"] for r in data["rows"]] == ["takano2012"]
    data = await get_json(ds, "/evidence/study_cards.json?_search=Nedergaard&_shape=objects")
    assert [r["key"] for r in data["rows"]] == ["takano2012"]


@pytest.mark.asyncio
async def test_studies_for_a_condition_include_narrower_ones_strongest_first(ds):
    data = await get_json(ds, "/evidence/studies_for_condition.json?condition=Back+pain&_shape=objects")
    keys = [r["key"] for r in data["rows"]]
    # level 1, meta-analyses before systematic reviews, newest first within each
    assert keys[:4] == ["rubinstein2019", "manheimer2005", "furlan2015", "lee2013"]
    assert set(keys) == {
        "rubinstein2019",
        "manheimer2005",
        "furlan2015",
        "lee2013",
        "hsieh2006",
        "shin2013",
        "cherkin2009",
        "inoue2009",
        "inoue2006",
        "kvorning2004",
        "guerreirodasilva2004",
    }
    assert keys[-1] == "guerreirodasilva2004"  # quasi-randomised: level 3
    data = await get_json(ds, "/evidence/studies_for_condition.json?condition=pregnancy-complications&_shape=objects")
    assert {r["key"] for r in data["rows"]} == {"kvorning2004", "guerreirodasilva2004"}


@pytest.mark.asyncio
async def test_evidence_map_counts_studies_and_shows_gaps(ds):
    rows = await get_json(ds, "/evidence/evidence_map.json?_shape=array")
    by_id = {r["condition_id"]: r for r in rows}
    assert by_id["low-back-pain"]["studies"] == 11
    assert by_id["low-back-pain"]["Randomised controlled trial"] == 6
    assert by_id["pain"]["studies"] == 22  # with postoperative, dental and labour pain, migraine and fibromyalgia
    assert (by_id["nausea-and-vomiting"]["studies"], by_id["chemotherapy-nausea-vomiting"]["studies"]) == (5, 3)
    for gap in ("abdominal-pain",):
        assert by_id[gap]["studies"] == 0
    assert by_id["chronic-low-back-pain"]["condition"] == "      Chronic low back pain"  # depth 3 in the tree


@pytest.mark.asyncio
async def test_provenance_and_load_errors_are_browsable(ds):
    data = await get_json(ds, "/evidence/study_conditions.json?_facet=provenance")
    assert {f["value"]: f["count"] for f in data["facet_results"]["provenance"]["results"]} == {"curated": 38}
    errors = await get_json(ds, "/evidence/load_errors.json?_shape=objects")
    assert {r["entry_key"] for r in errors["rows"]} == {"chung2003", "inoue2009", "ezzo2006"}
    page = await ds.client.get("/evidence/studies")
    assert "Identifiers were checked against public records" in page.text


EXPORT_LINK = re.compile(r'href="([^"?]*\.(bib|ris|csljson|apa|vancouver)(\?[^"]*)?)"')


def export_links(html: str) -> set[str]:
    return {m.group(2) for m in EXPORT_LINK.finditer(html)}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "path",
    [
        "/evidence/study_cards",
        "/evidence/studies",
        "/evidence/study_outcomes",
        "/evidence/study_conditions",
        "/evidence/studies_for_condition?condition=back-pain",
        "/evidence?sql=select+key,+title+from+studies",
        "/evidence/studies/cherkin2009",
    ],
)
async def test_pages_with_study_keys_offer_every_export_format(ds, path):
    page = await ds.client.get(path)
    assert page.status_code == 200
    assert export_links(page.text) == {"bib", "ris", "csljson", "apa", "vancouver"}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "path",
    [
        "/evidence/conditions",
        "/evidence/designs",
        "/evidence/evidence_map",
        "/evidence/load_errors",
        "/evidence?sql=select+title+from+studies",
    ],
)
async def test_pages_without_study_keys_offer_no_export(ds, path):
    page = await ds.client.get(path)
    assert page.status_code == 200 and export_links(page.text) == set()


@pytest.mark.asyncio
async def test_export_covers_the_whole_selection_not_only_the_page(ds):
    response = await ds.client.get("/evidence/study_cards.bib?_size=2")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-bibtex; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="evidence-study_cards.bib"'
    assert len(bibtexparser.parse_string(response.text).entries) == 32
    # the link on page 2 of a filtered, sorted table still exports every matching row, in the page's order
    first_page = await get_json(ds, "/evidence/studies.json?year__gte=2005&_sort_desc=year&_size=2")
    page_two = await ds.client.get(
        f"/evidence/studies.ris?year__gte=2005&_sort_desc=year&_size=2&_next={first_page['next']}"
    )
    all_rows = await get_json(ds, "/evidence/studies.json?year__gte=2005&_sort_desc=year&_shape=objects")
    assert [r["id"] for r in rispy.loads(page_two.text)] == [r["key"] for r in all_rows["rows"]]


@pytest.mark.asyncio
async def test_export_of_search_facets_canned_query_sql_and_row(ds):
    searched = await ds.client.get("/evidence/study_cards.csljson?_search=pregnancy")
    assert searched.headers["content-type"] == "application/vnd.citationstyles.csl+json; charset=utf-8"
    assert {i["id"] for i in json.loads(searched.text)} == {"guerreirodasilva2004", "kvorning2004", "cheuk2012"}
    outcomes = await ds.client.get("/evidence/study_outcomes.bib?outcome_id=pain-intensity")
    keys = [e.key for e in bibtexparser.parse_string(outcomes.text).entries]
    rows = await get_json(ds, "/evidence/study_outcomes.json?outcome_id=pain-intensity&_shape=objects&_size=max")
    assert keys == list(dict.fromkeys(r["study_key"] for r in rows["rows"]))  # one entry per study
    canned = await ds.client.get(
        "/evidence/studies_for_condition.vancouver?condition=pregnancy-complications&_markup=text"
    )
    assert (
        canned.headers["content-disposition"] == 'attachment; filename="evidence-studies_for_condition-vancouver.txt"'
    )
    assert [line.split(". ")[1].split(" ")[0] for line in canned.text.splitlines()] == ["Kvorning", "Guerreiro"]
    sql = await ds.client.get(
        "/evidence.apa?sql=select+key+from+studies+where+year+%3C+:before&before=2005&_markup=text"
    )
    assert sql.status_code == 200 and [line.split(",")[0] for line in sql.text.splitlines()] == [
        "Chung",
        "Ernst",
        "Guerreiro da Silva",
        "Kvorning",
    ]
    row = await ds.client.get("/evidence/studies/takano2012.apa?_markup=html")
    assert row.headers["content-type"] == "text/html; charset=utf-8"
    assert row.headers["content-disposition"].startswith("inline;")
    assert "<i>The Journal of Pain</i>, <i>13</i>(12), 1215–1223." in row.text


@pytest.mark.asyncio
async def test_export_refuses_pages_without_keys_and_unknown_markup(ds):
    no_keys = await ds.client.get("/evidence/conditions.bib")
    assert no_keys.status_code == 400 and "no key or study_key column" in no_keys.text
    bad = await ds.client.get("/evidence/studies.apa?_markup=pdf")
    assert bad.status_code == 400 and "_markup must be one of text, markdown, html" in bad.text


@pytest.mark.asyncio
async def test_no_export_links_outside_current_evidence_databases(tmp_path, corpus_db):
    other = tmp_path / "other.db"
    Database(other)["kv"].insert({"key": "a", "value": 1})
    old = tmp_path / "old.db"
    shutil.copy(corpus_db, old)
    Database(old).execute("PRAGMA user_version = 1")
    ds = Datasette([str(other), str(old)])
    for database, table, reason in (
        ("other", "kv", "not an evidence database (it has no studies table)"),
        ("old", "studies", "built by another version of evidence; rebuild it"),
    ):
        page = await ds.client.get(f"/{database}/{table}")
        assert page.status_code == 200 and export_links(page.text) == set()
        export = await ds.client.get(f"/{database}/{table}.bib")
        assert export.status_code == 400 and reason in export.text


@pytest.mark.asyncio
async def test_evidence_map_page_draws_conditions_against_designs_from_the_live_database(ds):
    home = await ds.client.get("/")
    assert 'href="/-/evidence-map"' in home.text  # linked from the home page
    page = await ds.client.get("/-/evidence-map")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert not re.search(r'(src="|<link[^>]+href=")(https?:)?//', html)  # no outside script or style: works offline
    # low back pain: 5 randomised trials, all of whose findings point the same way or not
    row = re.search(
        r'<tr>\s*<th scope="row" class="condition" style="padding-left: 42px"><a href="/evidence/conditions/low-back-pain">'
        r"Low back pain</a></th>(.*?)</tr>",
        html,
        re.S,
    )
    assert row, "row for Low back pain"
    bubbles = re.findall(r'class="bubble findings-([\w-]+)" href="([^"]+)"[^>]*>(\d+)</a>', row.group(1))
    counts = {
        unquote_plus(re.search(r"design=([^&]+)", href).group(1)): int(n) for _, href, n in bubbles if "design=" in href
    }
    assert counts["Randomised controlled trial"] == 6 and counts["Meta-analysis"] == 2
    # a gap row has no bubble, and each bubble links to exactly the studies it counts
    assert re.search(
        r'<tr class="gap">\s*<th scope="row" class="condition"[^>]*><a href="[^"]+">Abdominal pain</a></th>', html
    )
    href = next(href for _, href, _ in bubbles if "Randomised" in href).replace("&amp;", "&")
    listed = await get_json(ds, href.replace("/study_cards?", "/study_cards.json?_shape=objects&"))
    assert len(listed["rows"]) == 6 and all(
        "Low back pain" in json.loads(r["condition_groups"]) for r in listed["rows"]
    )
    by_level = await ds.client.get("/-/evidence-map?by=level")
    assert "Level 2: randomised trials" in by_level.text


@pytest.mark.asyncio
async def test_evidence_map_escapes_labels_and_refuses_unknown_databases(tmp_path):
    vocab = tmp_path / "vocab"
    shutil.copytree(VOCAB, vocab)
    conditions = vocab / "conditions.yaml"
    conditions.write_text(
        conditions.read_text(encoding="utf-8").replace("label: Insomnia", "label: Insomnia <script>alert(1)</script>"),
        encoding="utf-8",
    )
    db_path = tmp_path / "escape.db"
    loader.load(db_path, loader.default_inputs(), vocab)
    ds = Datasette(immutables=[str(db_path)])
    page = await ds.client.get("/-/evidence-map")
    assert (
        "<script>alert(1)</script>" not in page.text and "Insomnia &lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    )
    missing = await ds.client.get("/-/evidence-map?database=nope")
    assert missing.status_code == 404 and "evidence databases: escape" in missing.text


@pytest.mark.asyncio
@pytest.mark.parametrize("query", ["", "&year__gte=2009", "&_search=pain"])
async def test_grouped_array_facet_counts_what_the_array_facet_counts(ds, query):
    for column in ("conditions", "condition_groups", "outcomes"):
        grouped = await get_json(ds, f"/evidence/study_cards.json?_facet_grouped_array={column}{query}")
        plain = await get_json(ds, f"/evidence/study_cards.json?_facet_array={column}{query}")
        counts = [(f["value"], f["count"]) for f in grouped["facet_results"][column]["results"]]
        assert counts and counts == [(f["value"], f["count"]) for f in plain["facet_results"][column]["results"]]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "query",
    [
        "",
        "&_facet_size=3",
        "&year__gte=2009",
        "&_search=pain",
        "&_search=pain&_searchmode=escaped",
        "&design=Systematic+review",
    ],
)
async def test_study_card_facets_counted_at_load_time_give_what_datasettes_facets_give(ds, query):
    """Without filters the default facets read study_card_facets; Datasette's own facets count the rows."""
    data = await get_json(
        ds,
        "/evidence/study_cards.json?_facet=design&_facet=evidence_level&_facet=year"
        f"&_facet=journal&_facet_array=condition_groups{query}",
    )
    facets = data["facet_results"]
    for column in store.CARD_FACETS:
        ours, datasettes = facets[column], facets[f"{column}_2"]
        assert ours["results"] and ours["results"] == datasettes["results"]
        assert ours["truncated"] == datasettes["truncated"]


def facet_counts(data: dict, column: str) -> dict:
    return {f["value"]: f["count"] for f in data["facet_results"][column]["results"]}


@pytest.mark.asyncio
async def test_the_page_of_every_card_reads_its_facets_from_study_card_facets(corpus_db, tmp_path):
    """With a count changed in study_card_facets, the page showing every card (whatever arguments it has that
    choose no rows) shows the changed count; a page whose arguments choose rows counts its rows."""
    shutil.copy(corpus_db, tmp_path / "evidence.db")
    with sqlite3.connect(tmp_path / "evidence.db") as conn:
        conn.execute(
            "update study_card_facets set count = 99 where facet = 'design' and value = 'Randomised controlled trial'"
        )
        conn.execute(
            "update study_card_facets set count = 98 where facet = 'condition_groups' and value = 'Low back pain'"
        )
    ds = Datasette(immutables=[str(tmp_path / "evidence.db")])
    for every_card in ("", "?_sort=year&_size=3", "?_facet_size=20&_col=title", "?_searchmode=escaped"):
        data = await get_json(ds, f"/evidence/study_cards.json{every_card}")
        assert facet_counts(data, "design")["Randomised controlled trial"] == 99, every_card
        assert facet_counts(data, "condition_groups")["Low back pain"] == 98, every_card
    first_page = await get_json(ds, "/evidence/study_cards.json?_size=2&_sort=rowid")
    for chosen, where in (
        ("year__gte=0", "year >= 0"),
        ("_where=rowid+>+1", "rowid > 1"),
        (
            "_search=acupuncture",
            "rowid in (select rowid from study_cards_fts where study_cards_fts match 'acupuncture')",
        ),
        (f"_size=2&_sort=rowid&_next={first_page['next']}", f"rowid > {first_page['next'].split(',')[-1]}"),
    ):
        data = await get_json(ds, f"/evidence/study_cards.json?{chosen}")
        with sqlite3.connect(tmp_path / "evidence.db") as conn:
            trials, low_back_pain = conn.execute(
                "select count(*) filter (where design = 'Randomised controlled trial'), count(*) filter (where "
                f"exists (select 1 from json_each(condition_groups) where value = 'Low back pain')) from study_cards "
                f"where {where}"
            ).fetchone()
        assert facet_counts(data, "design")["Randomised controlled trial"] == trials <= 7, chosen
        assert facet_counts(data, "condition_groups")["Low back pain"] == low_back_pain <= 11, chosen


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "query, where",
    [
        ("year__gte=2009", "year >= 2009"),
        ("evidence_level=2", "evidence_level = 2"),
        ("_search=pain", "rowid in (select rowid from study_cards_fts where study_cards_fts match 'pain')"),
        (
            "conditions__arraycontains=Low+back+pain",
            "exists (select 1 from json_each(conditions) where value = 'Low back pain')",
        ),
    ],
)
async def test_facets_of_a_filtered_page_count_its_rows(ds, corpus_db, query, where):
    """Each default facet of a filtered page counts the rows a plain SQL query finds (an array facet counts
    the rows whose array holds the value)."""
    data = await get_json(ds, f"/evidence/study_cards.json?{query}&_facet_size=max")
    with sqlite3.connect(corpus_db) as conn:
        assert (
            data["filtered_table_rows_count"]
            == conn.execute(f"select count(*) from study_cards where {where}").fetchone()[0]
        )
        for column, kind in store.CARD_FACETS.items():
            values = f"json_each(study_cards.{column}) j" if kind == "array" else "(select 1)"
            value = "j.value" if kind == "array" else column
            expected = dict(
                conn.execute(
                    f"select {value}, count(*) from study_cards, {values} where {where} "
                    f"and {value} is not null group by {value}"
                )
            )
            assert expected and facet_counts(data, column) == expected, column


@pytest.mark.asyncio
async def test_bulk_connections_have_the_sql_functions_of_plugins(ds):
    """A bulk thread's connection is prepared through the prepare_connection hook, as Datasette's own."""

    class Plugin:
        __name__ = "test-prepare-connection"

        @hookimpl
        def prepare_connection(self, conn, database, datasette):
            conn.create_function("plugin_function", 1, lambda value: f"{database}:{value}")

    pm.register(Plugin(), name="test-prepare-connection")
    try:
        other = Datasette(immutables=[str(ds.get_database("evidence").path)])  # connections opened after registering
        rows = await background.query(other, "evidence", "select plugin_function(escape_fts('a b')) as f", {}, 50)
        assert rows[0]["f"] == 'evidence:"a" "b"'
    finally:
        pm.unregister(name="test-prepare-connection")


def lowered(niceness: int) -> int:
    """The niceness of a process or thread ``background.NICENESS`` lower than one of ``niceness`` (19 at most)."""
    return min(niceness + background.NICENESS, 19)


def test_exports_are_formatted_in_a_process_of_lower_priority():
    assert publish._export_process().submit(os.nice, 0).result() == lowered(os.nice(0))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a thread has a niceness of its own on Linux only")
def test_bulk_reads_run_in_threads_of_lower_priority():
    assert background.executor().submit(os.getpriority, os.PRIO_PROCESS, 0).result() == lowered(
        os.getpriority(os.PRIO_PROCESS, 0)
    )


ENDLESS = "with recursive n(i) as (select 1 union all select i + 1 from n) select max(i) from n"


@pytest.mark.asyncio
async def test_a_bulk_query_is_stopped_when_it_has_used_its_cpu_time(ds):
    with pytest.raises(QueryInterrupted):
        await asyncio.wait_for(background.query(ds, "evidence", ENDLESS, {}, 50), 30)
    rows = await background.query(ds, "evidence", "select count(*) as studies from studies", {}, 50)
    assert rows[0]["studies"] == len(await get_json(ds, "/evidence/studies.json?_shape=array&_size=max"))


def test_a_bulk_query_is_stopped_when_it_has_waited_too_long(ds):
    """Past its wall-clock deadline a query stops, however little CPU it used; one whose deadline passed
    while it waited for a thread does not start. A failed query is an error, not an interruption."""
    started = time.monotonic()
    with pytest.raises(QueryInterrupted):
        background._query(ds, "evidence", ENDLESS, {}, 60_000, started + 0.05)
    assert time.monotonic() - started < 5
    with pytest.raises(QueryInterrupted):
        background._query(ds, "evidence", "select count(*) from studies", {}, 60_000, started)
    with pytest.raises(sqlite3.OperationalError, match="no such column: interrupted"):
        background._query(ds, "evidence", "select interrupted from studies", {}, 60_000, time.monotonic() + 60)


@pytest.mark.asyncio
async def test_bulk_queries_read_the_database_of_their_own_datasette(ds, corpus_db, tmp_path):
    """A bulk thread keeps a connection for each database it read, not for each name: another instance's
    database of the same name is another file."""
    shutil.copy(corpus_db, tmp_path / "evidence.db")
    with sqlite3.connect(tmp_path / "evidence.db") as conn:
        conn.execute("delete from study_cards where rowid > 2")
    other = Datasette(immutables=[str(tmp_path / "evidence.db")])
    count = "select count(*) as cards from study_cards"
    for _ in range(3):  # in turn, on the same bulk thread or another
        assert (await background.query(ds, "evidence", count, {}, 50))[0]["cards"] == 32
        assert (await background.query(other, "evidence", count, {}, 50))[0]["cards"] == 2


@pytest.mark.asyncio
async def test_facets_of_a_filter_that_run_out_of_time_are_reported_not_failed(corpus_db, tmp_path):
    """Counting the default facets over 320,000 study cards takes more than the 5 ms of CPU that five facets
    of 1 ms have together: the page comes back with its rows and count, and says which facets timed out."""
    shutil.copy(corpus_db, tmp_path / "evidence.db")
    columns = "title, year, journal, design, evidence_level, conditions, condition_groups, outcomes, directions"
    with sqlite3.connect(tmp_path / "evidence.db") as conn:
        conn.execute(
            f"insert into study_cards (key, {columns}) select key || '-' || n.i, {columns} from study_cards, "
            "(with recursive n(i) as (select 1 union all select i + 1 from n where i < 10000) select i from n) n"
        )
    ds = Datasette(immutables=[str(tmp_path / "evidence.db")], settings={"facet_time_limit_ms": 1})
    response = await ds.client.get("/evidence/study_cards?year__gte=0")
    assert response.status_code == 200
    timed_out = re.search(r'class="facets-timed-out">These facets timed out: ([^<]*)', response.text).group(1)
    assert set(timed_out.split(", ")) == set(store.CARD_FACETS)
    assert "study_cards: 320,032 rows where year" in response.text


@pytest.mark.asyncio
async def test_an_export_process_that_died_is_replaced(ds):
    """Every export is read and formatted in the export process: a dead one fails one export, then is replaced."""
    os.kill(publish._export_process().submit(os.getpid).result(), signal.SIGKILL)
    assert (await ds.client.get("/evidence/studies.ris")).status_code == 500
    assert (await ds.client.get("/evidence/studies.ris")).status_code == 200
    assert (await ds.client.get("/evidence/studies.bib")).status_code == 200
