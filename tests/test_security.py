"""Hostile data in every field and key: no export or page carries markup or entries it should not. Checked in
the HTML itself, in a real browser (Debian's chromium through Playwright) and by the real readers of
BibTeX and RIS (bibtexparser, rispy, biber)."""

import json
import shutil
import sqlite3
import subprocess
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

import bibtexparser
import pytest
import rispy
from browsing import CHROMIUM, browser_page, serving
from click.testing import CliRunner
from datasette.app import Datasette
from datasette.utils import tilde_encode

from evidence import loader, store
from evidence.cli import cli
from evidence.exporting import render
from evidence.formats.latex import citation_key
from evidence.selection import Selection, select_keys

needs_biber = pytest.mark.skipif(shutil.which("biber") is None, reason="biber is not installed")

# Each sets window.__xss (or calls alert) if it ever runs.
XSS = [
    'https://example.org/"autofocus/onfocus="window.__xss=1"/x="',
    "<script>window.__xss=2</script>",
    '"><img src=x onerror="window.__xss=3">',
    "javascript:window.__xss=4",
    "'><svg onload=alert(5)>",
]
# Each would end its field or entry and start another if written as it is.
BREAKOUT = [
    "x,\n  title = {Fake}}\n@misc{evil1, title = {Injected}",
    "y}\n@misc{evil2, title={Injected}}\n",
    "z\\}\n@misc{evil3,",
    "w\nTY  - JOUR\nTI  - Injected\nER  - \n",
]


def _csl_items() -> list[dict]:
    items = []
    for i, payload in enumerate(XSS + BREAKOUT):
        items.append(
            {
                "id": f"{payload}{i}",
                "type": "article-journal",
                "title": f"Title {i} {payload}",
                "author": [{"family": f"Fam{payload}", "given": f"G{payload}"}],
                "container-title": f"Journal {payload}",
                "issued": {"date-parts": [[2000 + i]]},
                "DOI": f"10.5555/{i}{payload}",
                "URL": f"https://example.org/{i}/{payload}",
                "ISSN": f"1234-567{i % 10}{payload}",
                "note": payload,
                "abstract": payload,
                "keyword": f"kw{payload}",
                "publisher": payload,
            }
        )
    return items


def _ris_text() -> str:
    one_line = [p for p in XSS + BREAKOUT if "\n" not in p]
    return "".join(
        f"TY  - JOUR\nID  - ris{i}{payload}\nTI  - RIS title {i} {payload}\nAU  - Ris{i}, {payload}\n"
        f"PY  - 2010\nUR  - https://example.org/ris/{i}/{payload}\nDO  - 10.5556/{i}{payload}\nKW  - {payload}\n"
        f"JO  - {payload}\nER  - \n\n"
        for i, payload in enumerate(one_line + ["a,b{c", "q}r"])
    )


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory) -> Path:
    """A database of studies with a payload in every field and key, loaded from CSL-JSON and RIS files."""
    folder = tmp_path_factory.mktemp("hostile")
    (folder / "hostile.json").write_text(json.dumps(_csl_items()), encoding="utf-8")
    (folder / "hostile.ris").write_text(_ris_text(), encoding="utf-8")
    db = folder / "hostile.db"
    summary = loader.load(db, [folder / "hostile.json", folder / "hostile.ris"])
    assert summary.studies == 16, summary.errors
    return db


def _studies(db: Path):
    with sqlite3.connect(db) as conn:
        return store.read_studies(conn, select_keys(conn, Selection()))


# BibTeX, RIS and CSL-JSON: every study one entry, to every reader


def test_every_writer_gives_one_entry_per_study_to_its_readers(hostile_db, tmp_path):
    studies = _studies(hostile_db)
    keys = [citation_key(s.record.key) for s in studies]
    assert len(set(keys)) == len(studies)
    library = bibtexparser.parse_string(render(studies, "bibtex"))
    assert library.failed_blocks == []
    assert [e.key for e in library.entries] == keys
    assert [r["id"] for r in rispy.loads(render(studies, "ris"))] == keys
    assert [i["id"] for i in json.loads(render(studies, "csl-json"))] == keys


def test_a_reload_of_each_export_gives_the_same_studies(hostile_db, tmp_path):
    studies = _studies(hostile_db)
    for name, suffix in (("bibtex", "bib"), ("ris", "ris"), ("csl-json", "json")):
        path = tmp_path / f"export.{suffix}"
        path.write_text(render(studies, name), encoding="utf-8")
        summary = loader.load(tmp_path / f"{suffix}.db", [path])
        assert summary.studies == len(studies), (name, summary.errors)
        assert sorted(s.record.key for s in _studies(tmp_path / f"{suffix}.db")) == sorted(
            citation_key(s.record.key) for s in studies
        )


@needs_biber
def test_biber_reads_one_entry_per_study_without_errors(hostile_db, tmp_path):
    studies = _studies(hostile_db)
    (tmp_path / "export.bib").write_text(render(studies, "bibtex"), encoding="utf-8")
    result = subprocess.run(
        ["biber", "--tool", "--output-resolve", "export.bib"], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0 and "ERROR" not in log, log
    assert (tmp_path / "export_bibertool.bib").read_text(encoding="utf-8").count("\n@") + 1 == len(studies)


def test_key_that_is_safe_is_written_as_it_is_and_others_stay_distinct():
    assert citation_key("cherkin2009") == "cherkin2009"
    assert citation_key("Müller:2020/a.b+c-d") == "Müller:2020/a.b+c-d"
    assert citation_key("a b") != citation_key("a,b") and citation_key("a b").startswith("a_b-")
    assert set(citation_key(BREAKOUT[0])) <= set("abcdefghijklmnopqrstuvwxyzFIjkt0123456789_-")


# Formatted HTML exports


class _Elements(HTMLParser):
    """Every element's tag and attributes, and the text of every script."""

    def __init__(self, text: str):
        super().__init__()
        self.elements: list[tuple[str, dict]] = []
        self.scripts: list[str] = []
        self._in_script = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts.append(data)


def assert_no_injected_markup(page: str, allow_scripts: bool = False) -> None:
    parsed = _Elements(page)
    for tag, attributes in parsed.elements:
        assert allow_scripts or tag not in ("img", "svg", "iframe", "object", "embed"), (tag, attributes)
        assert not any(name.startswith("on") for name in attributes), (tag, attributes)
        assert "autofocus" not in attributes, (tag, attributes)
        for name in ("href", "src", "action"):
            assert not (attributes.get(name) or "").strip().lower().startswith("javascript:"), (tag, attributes)
        if tag == "script":
            assert allow_scripts, attributes
    assert not any("__xss" in script or "alert(" in script for script in parsed.scripts)


@pytest.mark.parametrize("style", ["apa", "vancouver"])
def test_formatted_html_exports_carry_no_markup_from_the_data(hostile_db, style):
    page = render(_studies(hostile_db), style, "html")
    assert_no_injected_markup(page)
    links = [a["href"] for tag, a in _Elements(page).elements if tag == "a"]
    assert links and all(href.startswith(("https://", "http://")) for href in links)
    assert 'https://example.org/&quot;autofocus/onfocus=&quot;window.__xss=1&quot;/x=&quot;"' in page


@pytest.mark.parametrize("style", ["apa", "vancouver"])
def test_formatted_markdown_makes_no_links_or_html_from_the_data(hostile_db, style):
    markdown = render(_studies(hostile_db), style, "markdown")
    assert "](" not in markdown.replace("\\]", "")  # no [text](target) link the data made
    for line in markdown.splitlines():
        unescaped = line.replace("\\<", "").replace("<sup>", "").replace("</sup>", "").replace("<sub>", "")
        unescaped = unescaped.replace("</sub>", "")
        for start in [i for i, char in enumerate(unescaped) if char == "<"]:
            assert unescaped[start + 1 :].startswith(("https://", "http://")), line  # autolinks only


def test_cli_html_export_is_safe(hostile_db, tmp_path):
    out = tmp_path / "refs.html"
    result = CliRunner().invoke(cli, ["export", str(hostile_db), "-f", "apa", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert_no_injected_markup(out.read_text(encoding="utf-8"))


# The server


def _served(db: Path):
    return Datasette(immutables=[str(db)])


ODD_URLS = ["/-/evidence-map/../../etc/passwd", "/nonexistent/a/b/c/d/e", "/hostile/studies/k/extra/more"]


@pytest.mark.asyncio
async def test_odd_urls_are_404_and_log_one_line(hostile_db, capfd):
    ds = _served(hostile_db)
    for url in ODD_URLS:
        response = await ds.client.get(url)
        assert response.status_code == 404, url
    captured = capfd.readouterr()
    assert "Traceback" not in captured.err + captured.out and "locals" not in captured.err


@pytest.mark.asyncio
async def test_pages_and_html_exports_carry_no_markup_from_the_data_and_a_strict_policy(hostile_db):
    ds = _served(hostile_db)
    keys = [s.record.key for s in _studies(hostile_db)]
    pages = ["/hostile/study_cards", "/hostile/studies", "/-/evidence-map", "/hostile/studies.apa?_markup=html"]
    pages += ["/hostile/studies.vancouver?_markup=html"]
    pages += [ds.urls.row("hostile", "studies", tilde_encode(k)) for k in keys[:6]]
    for url in pages:
        response = await ds.client.get(url)
        assert response.status_code == 200, url
        policy = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "http" not in policy
        assert response.headers["x-content-type-options"] == "nosniff"
        export = ".apa" in url or ".vancouver" in url
        assert_no_injected_markup(response.text, allow_scripts=not export)
        if export:
            assert policy.startswith("default-src 'none'") and "script-src" not in policy


# In a real browser


@pytest.fixture(scope="module")
def served(hostile_db):
    """`evidence serve` of the hostile database on a free port: its base URL, and the database's name there."""
    with serving(hostile_db) as base:
        yield base, hostile_db.stem


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (/usr/bin/chromium)")
def test_served_pages_run_no_script_in_a_browser(served):
    base, db = served
    keys = json.load(urllib.request.urlopen(f"{base}/{db}/studies.json?_shape=array&_col=key&_size=max"))
    paths = ["/", f"/{db}", f"/{db}/study_cards", f"/{db}/studies", f"/{db}/study_cards?_search=script"]
    paths += ["/-/evidence-map", f"/{db}/load_errors", f"/{db}/study_cards.apa?_markup=html"]
    paths += [f"/{db}/studies/{tilde_encode(row['key'])}" for row in keys]
    with browser_page() as (page, dialogs):
        for path in paths:
            response = page.goto(base + path)
            assert response.status == 200, path
            for link in page.query_selector_all("a, img, input, [tabindex]")[:80]:  # as a reader would meet them
                link.dispatch_event("mouseover")
                link.dispatch_event("focus")
            page.wait_for_timeout(50)
            assert page.evaluate("window.__xss") is None, path
        assert dialogs == []
        assert len(keys) == 16
