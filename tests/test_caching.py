"""Caching of an immutable database (evidence/web/caching.py), through a real Datasette with the plugin: hashed
routes and their redirects, Cache-Control, and gzip read back by a real decompressor."""

import shutil
import sqlite3

import pytest
from datasette.app import Datasette

from evidence.web import caching

HASHED = {"plugins": {"evidence": {"hashed_urls": True}}}
A_YEAR = "public, max-age=31536000, immutable"


def served(db, hashed=True, **settings) -> Datasette:
    return Datasette(immutables=[str(db)], metadata=HASHED if hashed else {}, settings=settings or None)


async def route(ds) -> str:
    await ds.invoke_startup()
    return ds.get_database("evidence").route


@pytest.mark.asyncio
async def test_the_database_is_served_under_its_hash_and_its_name_redirects_there(corpus_db):
    ds = served(corpus_db)
    hashed = await route(ds)
    digest = ds.get_database("evidence").hash
    assert hashed == f"evidence-{digest[:7]}"
    for path in ("/evidence/study_cards?design=Randomised+controlled+trial&_sort=year", "/evidence.json", "/evidence"):
        response = await ds.client.get(path)
        assert response.status_code == 302
        assert response.headers["location"] == path.replace("/evidence", f"/{hashed}", 1)
    older = await ds.client.get("/evidence-0000000/studies/cherkin2009")  # a link made before the data changed
    assert older.headers["location"] == f"/{hashed}/studies/cherkin2009"


@pytest.mark.asyncio
async def test_answers_under_the_hash_are_kept_a_year_and_link_to_the_hash(corpus_db):
    ds = served(corpus_db)
    hashed = await route(ds)
    for path in ("/study_cards", "/studies/cherkin2009", "/conditions/low-back-pain", "/study_cards.bib?_size=2"):
        response = await ds.client.get(f"/{hashed}{path}")
        assert response.status_code == 200, path
        assert response.headers["cache-control"] == A_YEAR, path
    page = (await ds.client.get(f"/{hashed}/conditions/low-back-pain")).text
    assert f'href="/{hashed}/studies/' in page and 'href="/evidence/studies/' not in page
    missing = await ds.client.get(f"/{hashed}/studies/no-such-study")
    assert missing.status_code == 404 and missing.headers.get("cache-control") != A_YEAR


@pytest.mark.asyncio
async def test_other_pages_are_kept_for_datasettes_cache_ttl(corpus_db):
    ds = served(corpus_db, default_cache_ttl=120)
    for path in ("/", "/-/evidence-map", "/-/search?q=migraine"):
        response = await ds.client.get(path)
        assert response.status_code == 200 and response.headers["cache-control"] == "public, max-age=120", path


@pytest.mark.asyncio
async def test_a_mutable_database_gets_no_cache_headers_and_no_hash(corpus_db):
    ds = Datasette([str(corpus_db)], metadata=HASHED)
    assert await route(ds) == "evidence"
    assert (await ds.client.get("/evidence/study_cards")).status_code == 200
    assert "cache-control" not in (await ds.client.get("/")).headers


@pytest.mark.asyncio
async def test_without_the_setting_the_name_stays_the_route(corpus_db):
    ds = served(corpus_db, hashed=False)
    assert await route(ds) == "evidence"
    assert (await ds.client.get("/evidence/study_cards")).status_code == 200


@pytest.mark.asyncio
async def test_different_data_get_different_addresses(corpus_db, tmp_path):
    changed = tmp_path / "evidence.db"
    shutil.copy(corpus_db, changed)
    with sqlite3.connect(changed) as conn:
        conn.execute("update studies set title = title || '.' where key = 'cherkin2009'")
    assert await route(served(corpus_db)) != await route(served(changed))


@pytest.mark.asyncio
async def test_a_page_whose_facets_ran_out_of_time_is_not_kept_a_year(corpus_db, tmp_path):
    big = tmp_path / "evidence.db"
    shutil.copy(corpus_db, big)
    columns = "title, year, journal, design, evidence_level, conditions, condition_groups, outcomes, directions"
    with sqlite3.connect(big) as conn:
        conn.execute(
            f"insert into study_cards (key, {columns}) select key || '-' || n.i, {columns} from study_cards, "
            "(with recursive n(i) as (select 1 union all select i + 1 from n where i < 10000) select i from n) n"
        )
    ds = served(big, facet_time_limit_ms=1)
    response = await ds.client.get(f"/{await route(ds)}/study_cards?year__gte=0")
    assert 'class="facets-timed-out"' in response.text
    assert response.headers.get("cache-control") != A_YEAR


@pytest.mark.asyncio
async def test_large_answers_are_gzipped_for_clients_that_accept_it(corpus_db):
    ds = served(corpus_db)
    export = f"/{await route(ds)}/study_cards.bib"
    plain = await ds.client.get(export, headers={"accept-encoding": "identity"})
    packed = await ds.client.get(export, headers={"accept-encoding": "gzip"})
    assert "content-encoding" not in plain.headers and packed.headers["content-encoding"] == "gzip"
    assert packed.headers["cache-control"] == A_YEAR and "accept-encoding" in packed.headers["vary"].lower()
    assert packed.num_bytes_downloaded < len(plain.content) / 2  # what crossed the wire
    assert packed.content == plain.content  # as httpx's gzip decoder reads it back
    small = await ds.client.get("/-/actor.json", headers={"accept-encoding": "gzip"})
    assert len(small.content) < caching.COMPRESS_FROM and "content-encoding" not in small.headers
