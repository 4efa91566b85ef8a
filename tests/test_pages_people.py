"""The condition, study and claim pages (evidence/web/pages.py): through Datasette's client on the bundled corpus
and on hostile data, and in a real browser (Debian's chromium through Playwright): what a reader sees in the
first screen, no sideways scrolling on a phone, no raw JSON, an accessibility check with axe-core, screenshots."""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest
from datasette.app import Datasette

from evidence import loader
from evidence.web.urls import claim_url, condition_url, study_url

CHROMIUM = Path("/usr/bin/chromium")
needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")
CLAIMS_FIXTURES = Path(__file__).parent / "fixtures" / "claims"
TRICKY = Path(__file__).parent / "fixtures" / "tricky.bib"
STRONGEST_LOW_BACK_PAIN = "manheimer2005"  # the only meta-analysis (level 1, 2005) tagged with low back pain


@pytest.fixture(scope="module")
def people_db(tmp_path_factory) -> Path:
    """The bundled corpus with its claims, as `evidence load` builds it."""
    path = tmp_path_factory.mktemp("people") / "evidence.db"
    summary = loader.load(path, loader.default_inputs(), claims_dir=loader.DATA_DIR)
    assert summary.studies == 11 and summary.claims > 0
    return path


@pytest.fixture(scope="module")
def ds(people_db):
    return Datasette([str(people_db)])


async def get(ds, path):
    response = await ds.client.get(path)
    return response.status_code, response.text


def test_page_addresses_are_tilde_encoded_like_datasette_row_keys():
    assert study_url("cherkin2009") == "/evidence/studies/cherkin2009"
    assert study_url("smith.2020:a/b") == "/evidence/studies/smith~2E2020~3Aa~2Fb"
    assert condition_url("low-back-pain", "other db") == "/other+db/conditions/low-back-pain"
    assert claim_url("x") == "/evidence/claims/x"


@pytest.mark.asyncio
async def test_condition_page_lists_its_and_narrower_studies_strongest_first(ds):
    status, html = await get(ds, condition_url("low-back-pain"))
    assert status == 200
    keys = re.findall(r'<li id="study-\d+">\s*<strong>\d+\.</strong> <a href="/evidence/studies/([^"]+)"', html)
    assert keys[0] == STRONGEST_LOW_BACK_PAIN and len(keys) == 8  # chronic, acute and pregnancy ones too
    assert keys.index("lee2013") < keys.index("cherkin2009")  # level 1 before level 2
    assert "Pooling 33 randomised trials" in html  # the strongest study's finding
    assert '<svg class="harvest"' in html and 'class="readable harvest-table"' in html
    assert 'href="/evidence/conditions/back-pain"' in html  # broader
    assert 'href="/evidence/conditions/chronic-low-back-pain"' in html  # narrower
    assert "/evidence/study_cards.bib?condition_groups__arraycontains=Low+back+pain" in html
    assert 'href="/evidence/claims/' in html


@pytest.mark.asyncio
async def test_condition_export_buttons_give_exactly_its_studies(ds):
    _, html = await get(ds, condition_url("chronic-low-back-pain"))
    listed = set(re.findall(r'<li id="study-\d+">\s*<strong>\d+\.</strong> <a href="/evidence/studies/([^"]+)"', html))
    bib = re.search(r'href="([^"]+\.bib\?[^"]+)"', html).group(1).replace("&amp;", "&")
    response = await ds.client.get(bib)
    assert response.status_code == 200
    assert set(re.findall(r"^@\w+\{([^,]+),", response.text, re.M)) == listed
    apa = re.search(r'href="([^"]+\.apa\?[^"]+)"', html).group(1).replace("&amp;", "&")
    response = await ds.client.get(apa)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert response.text.count('class="csl-entry"') == len(listed)


@pytest.mark.asyncio
async def test_study_page_shows_reference_links_design_outcomes_claims_and_sources(ds):
    status, html = await get(ds, study_url("cherkin2009"))
    assert status == 200
    assert "<i>Archives of Internal Medicine</i>, <i>169</i>(9), 858–866." in html  # APA 7
    assert 'href="https://doi.org/10.1001/archinternmed.2009.65"' in html
    assert 'href="https://pubmed.ncbi.nlm.nih.gov/19433697/"' in html
    assert 'href="https://www.ncbi.nlm.nih.gov/pmc/articles/PMC2832641/"' in html
    assert "Level 2 of 5: a randomised trial." in html
    assert 'href="/evidence/conditions/chronic-low-back-pain"' in html
    assert "Roland-Morris Disability Questionnaire (RMDQ, 0-23), 8 weeks" in html
    assert "Sham or simulated acupuncture" in html and "studies.outcomes.yaml:9" in html
    assert "studies.bib:8 (bibtex, entry cherkin2009)" in html  # the source entry, file:line
    assert "curated, studies.bib:20" in html  # where the design and condition tags came from
    assert 'href="/evidence/claims/' in html
    for internal in ("content_hash", "rowid", "{}", '["', "/work/"):
        assert internal not in html.split("<body")[1]
    assert "/evidence/study_cards.bib?key=cherkin2009" in html


@pytest.mark.asyncio
async def test_claim_page_gives_verdict_checked_details_and_linked_studies(ds):
    status, html = await get(ds, claim_url("vickers-chronic-pain-effect"))
    assert status == 200
    assert "Verdict:" in html and 'href="/evidence/studies/vickers2018"' in html
    assert re.search(r"<td[^>]*>2019</td>\s*<td[^>]*>2018</td>\s*<td[^>]*>no</td>", html)  # the year disagrees
    assert re.search(r"\d+ of \d+ details agree", html)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "path",
    ["/evidence/studies/nosuchstudy", "/evidence/conditions/nosuch", "/evidence/claims/nosuch", "/nodb/studies/x"],
)
async def test_missing_pages_are_404_pages(ds, path):
    status, html = await get(ds, path)
    assert status == 404 and "<h1>Error 404</h1>" in html


@pytest.mark.asyncio
async def test_datasette_json_of_rows_is_left_as_it_was(ds):
    response = await ds.client.get("/evidence/studies/cherkin2009.json?_shape=objects")
    assert response.status_code == 200 and response.json()["rows"][0]["key"] == "cherkin2009"


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory) -> Path:
    """A study whose title, journal and key carry markup, a study with a dot in its key, and the claims fixtures
    (a review that includes a study)."""
    folder = tmp_path_factory.mktemp("hostile-pages")
    items = [
        {
            "id": "evil.<b>1",
            "type": "article-journal",
            "title": "<script>window.__xss=1</script> Needles & <i>pins</i>",
            "author": [{"family": '"><img src=x onerror=alert(1)>', "given": "A"}],
            "container-title": "<b>Journal</b>",
            "issued": {"date-parts": [[2020]]},
        }
    ]
    (folder / "hostile.json").write_text(json.dumps(items), encoding="utf-8")
    db = folder / "pages.db"
    loader.load(db, [folder / "hostile.json", TRICKY], claims_dir=CLAIMS_FIXTURES)
    return db


@pytest.mark.asyncio
async def test_hostile_study_data_is_escaped_on_its_page(hostile_db):
    ds = Datasette([str(hostile_db)])
    status, html = await get(ds, study_url("evil.<b>1", "pages"))
    assert status == 200
    body = html.split("<body")[1]
    assert "<script>window.__xss" not in body and "<img src=x" not in body and "<b>Journal" not in body
    assert "<h1>&lt;script&gt;window.__xss=1&lt;/script&gt; Needles &amp; pins</h1>" in body
    assert "<i>&lt;b&gt;Journal&lt;/b&gt;</i>" in body  # the APA reference: the data escaped, its italics kept


@pytest.mark.asyncio
async def test_review_pages_link_what_they_include_both_ways(hostile_db):
    ds = Datasette([str(hostile_db)])
    _, review = await get(ds, study_url("berg2020", "pages"))
    _, included = await get(ds, study_url("roe2020", "pages"))
    assert 'href="/pages/studies/roe2020"' in review.split('id="reviews"')[1]
    assert 'href="/pages/studies/berg2020"' in included.split('id="reviews"')[1]


# In a real browser


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def served(people_db):
    """`evidence serve` of the corpus on a free port: its base URL."""
    port = _free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("evidence")), "serve", str(people_db), "--port", str(port), "-w", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/-/versions.json", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(10)


@contextmanager
def browser(width: int, height: int):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        try:
            yield chromium.new_page(viewport={"width": width, "height": height})
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("EVIDENCE_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


PAGES = {
    "condition": condition_url("low-back-pain"),
    "study": study_url("cherkin2009"),
    "claim": claim_url("vickers-chronic-pain-effect"),
}


@needs_chromium
def test_strongest_finding_is_in_the_first_screen_of_the_condition_page(served, screenshots):
    with browser(1366, 768) as page:
        page.goto(served + PAGES["condition"])
        finding = page.locator("#study-1 .finding")
        assert STRONGEST_LOW_BACK_PAIN in page.locator("#study-1 a").first.get_attribute("href")
        box = finding.bounding_box()
        assert box["y"] + box["height"] <= 768, box
        page.screenshot(path=str(screenshots / "pages-condition-1366.png"))


@needs_chromium
@pytest.mark.parametrize("name", PAGES)
def test_pages_fit_a_phone_and_show_no_raw_json(served, screenshots, name):
    with browser(390, 844) as page:
        page.goto(served + PAGES[name])
        assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
        text = page.inner_text("body")
        assert '["' not in text and "{}" not in text
        page.screenshot(path=str(screenshots / f"pages-{name}-390.png"), full_page=True)


def axe_script() -> Path | None:
    """axe-core's axe.min.js, from the npm registry into a cache folder the first time (None without npm)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "evidence" / "axe-core"
    script = cache / "package" / "axe.min.js"
    if not script.exists() and shutil.which("npm"):
        cache.mkdir(parents=True, exist_ok=True)
        packed = subprocess.run(
            ["npm", "pack", "axe-core", "--silent"], cwd=cache, capture_output=True, text=True, timeout=120
        )
        tarball = cache / packed.stdout.strip().splitlines()[-1] if packed.returncode == 0 else None
        if tarball and tarball.exists():
            with tarfile.open(tarball) as archive:
                archive.extract("package/axe.min.js", cache, filter="data")
    return script if script.exists() else None


# Datasette 0.65's own base.html has no lang on <html>; that is its template, not these pages.
AXE_RULES_OFF = {"html-has-lang": {"enabled": False}}


@needs_chromium
@pytest.mark.parametrize("name", PAGES)
def test_pages_have_no_serious_accessibility_violations(served, name):
    script = axe_script()
    if script is None:
        pytest.skip("axe-core is not available (npm could not fetch it)")
    with browser(1366, 768) as page:
        page.goto(served + PAGES[name])
        page.add_script_tag(path=str(script))  # the page's CSP allows scripts from its own origin only: checked
        assert page.evaluate("typeof axe") == "object", "the page's content security policy blocked axe-core"
        result = page.evaluate("rules => axe.run(document, {rules: rules})", AXE_RULES_OFF)
        serious = [
            (v["id"], v["help"], [n["target"] for n in v["nodes"]][:3])
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        assert serious == []
