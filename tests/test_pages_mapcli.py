"""The evidence map page, formatted bibliographies as pages, and the command line's care: format names, a busy
port, the help. Through a real Datasette, the real CLI and, for the map's layout, Debian's chromium."""

import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import bibtexparser
import pytest
from browsing import CHROMIUM, browser_page, screenshots_folder, serving
from click.testing import CliRunner
from datasette.app import Datasette

from evidence import loader
from evidence.cli import cli
from evidence.web.urls import condition_url

BIB = """@article{review2020,
  author = {Doe, Jane},
  title = {Acupuncture for acute and chronic low back pain: a meta-analysis},
  journal = {Journal of Tests},
  year = {2020},
  keywords = {condition:chronic-low-back-pain, condition:acute-low-back-pain, design:meta-analysis},
}

@article{trial2021,
  author = {Roe, Richard},
  title = {Acupuncture for chronic low back pain: a randomised trial},
  journal = {Journal of Tests},
  year = {2021},
  keywords = {condition:chronic-low-back-pain, design:rct},
}
"""

OUTCOMES = """review2020:
  - {outcome: pain-intensity, measure: pain, comparator: sham-acupuncture, direction: benefit,
     condition: chronic-low-back-pain, finding: Better for chronic pain.}
  - {outcome: pain-intensity, measure: pain, comparator: other-active-treatment, direction: harm,
     condition: low-back-pain, finding: Worse than other treatments for low back pain as a whole.}
  - {outcome: adverse-events, measure: harms, comparator: any-control, direction: no-difference,
     finding: No more adverse events.}
trial2021:
  - {outcome: pain-intensity, measure: pain, comparator: usual-care, direction: inconclusive,
     condition: low-back-pain, finding: Too few patients.}
"""


def findings(db: Path) -> dict[tuple[str, str], set[str]]:
    found: dict[tuple[str, str], set[str]] = {}
    with sqlite3.connect(db) as conn:
        for condition, key, direction in conn.execute("SELECT * FROM condition_findings"):
            found.setdefault((condition, key), set()).add(direction)
    return found


def test_an_outcome_counts_only_for_the_conditions_it_is_about(tmp_path):
    (tmp_path / "studies.bib").write_text(BIB, encoding="utf-8")
    (tmp_path / "studies.outcomes.yaml").write_text(OUTCOMES, encoding="utf-8")
    db = tmp_path / "small.db"
    summary = loader.load(db, [tmp_path / "studies.bib"])
    assert summary.studies == 2 and summary.error_count == 0, summary.errors
    found = findings(db)
    # the review's result for low back pain as a whole (harm) is not a result for chronic or acute alone
    assert found["chronic-low-back-pain", "review2020"] == {"benefit", "no-difference"}
    assert found["acute-low-back-pain", "review2020"] == {"no-difference"}
    assert found["low-back-pain", "review2020"] == {"benefit", "harm", "no-difference"}
    assert found["chronic-pain", "review2020"] == {"benefit", "no-difference"}
    # a trial of chronic low back pain only: its row marked low back pain is about its own patients
    assert found["chronic-low-back-pain", "trial2021"] == {"inconclusive"}
    assert ("acute-low-back-pain", "trial2021") not in found


def test_the_bundled_review_colours_chronic_low_back_pain_by_its_own_findings(corpus_db):
    found = findings(corpus_db)
    assert found["chronic-low-back-pain", "manheimer2005"] == {"benefit"}
    assert found["acute-low-back-pain", "manheimer2005"] == {"inconclusive"}
    assert found["low-back-pain", "manheimer2005"] == {"benefit", "inconclusive"}


def map_columns(html: str) -> list[str]:
    head = re.search(r"<thead>(.*?)</thead>", html, re.S).group(1)
    return re.findall(r'<th scope="col"[^>]*>([^<]+)</th>', head)[2:]  # after Condition and Studies


def map_row(html: str, label: str) -> str:
    return re.search(rf">{re.escape(label)}</a></th>(.*?)</tr>", html, re.S).group(1)


@pytest.mark.asyncio
async def test_the_map_shows_the_columns_with_studies_and_all_on_request(corpus_db):
    ds = Datasette(immutables=[str(corpus_db)])
    with sqlite3.connect(corpus_db) as conn:
        studied = [
            label
            for (label,) in conn.execute(
                "SELECT label FROM designs WHERE id IN (SELECT design FROM evidence_map_cells) ORDER BY rank"
            )
        ]
        every = [label for (label,) in conn.execute("SELECT label FROM designs ORDER BY rank")]
    page = (await ds.client.get("/-/evidence-map")).text
    assert map_columns(page) == studied and len(studied) < len(every)
    more = len(every) + 1 - len(studied)  # and the column of studies with no design
    assert f'href="/-/evidence-map?database=evidence&amp;by=design&amp;all=1">all columns ({more} more' in page
    whole = (await ds.client.get("/-/evidence-map?all=1")).text
    assert map_columns(whole) == [*every, "No design"]
    assert 'href="/-/evidence-map?database=evidence&amp;by=design">only columns with studies</a>' in whole
    table = (await ds.client.get("/evidence/evidence_map.json?_shape=objects")).json()  # the canned query too
    assert [c for c in table["columns"] if c not in ("condition", "condition_id", "studies")] == studied
    by_level = (await ds.client.get("/-/evidence-map?by=level")).text
    assert "Level 1: systematic reviews" in map_columns(by_level) and "Not graded" not in map_columns(by_level)


@pytest.mark.asyncio
async def test_the_map_colours_each_condition_by_its_own_findings_and_links_its_page(corpus_db):
    ds = Datasette(immutables=[str(corpus_db)])
    page = (await ds.client.get("/-/evidence-map")).text
    column = map_columns(page).index("Meta-analysis")

    def bubble(label: str) -> str:
        cells = re.findall(r"<td>(.*?)</td>", map_row(page, label), re.S)  # the design columns
        return re.search(r'class="bubble findings-([\w-]+)"', cells[column]).group(1)

    # manheimer2005 found benefit and rubinstein2019 no difference from other therapies
    assert bubble("Chronic low back pain") == "mixed"
    assert bubble("Acute low back pain") == "inconclusive"
    assert bubble("Low back pain") == "mixed"
    with sqlite3.connect(corpus_db) as conn:
        conditions = dict(conn.execute("SELECT label, id FROM conditions"))
    links = dict(re.findall(r'<th scope="row" class="condition"[^>]*><a href="([^"]+)">([^<]+)</a>', page))
    assert {label: href for href, label in links.items()} == {
        label: condition_url(ds, ident) for label, ident in conditions.items()
    }
    assert condition_url(ds, "chronic-low-back-pain") == "/evidence/conditions/chronic-low-back-pain"


@pytest.mark.asyncio
async def test_formatted_bibliographies_open_as_pages_with_a_way_back(corpus_db):
    ds = Datasette(immutables=[str(corpus_db)])
    table = await ds.client.get("/evidence/study_cards?design=Randomised+controlled+trial")
    assert 'href="/evidence/study_cards.apa?design=Randomised+controlled+trial"' in table.text  # Datasette's link
    page = await ds.client.get("/evidence/study_cards.apa?design=Randomised+controlled+trial")
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["content-disposition"] == 'inline; filename="evidence-study_cards-apa.html"'
    assert "script-src" not in page.headers["content-security-policy"]  # no script at all
    back = re.search(r'<a href="([^"]+)">&larr; Back to study_cards</a>', page.text).group(1)
    assert back == "/evidence/study_cards?design=Randomised+controlled+trial"
    assert (await ds.client.get(back)).status_code == 200
    assert page.text.count('class="csl-entry"') == 7
    text_link = re.search(r'<a href="([^"]+)">Download as text</a>', page.text).group(1).replace("&amp;", "&")
    text = await ds.client.get(text_link)
    assert text.headers["content-disposition"] == 'attachment; filename="evidence-study_cards-apa.txt"'
    assert len(text.text.splitlines()) == 7
    row = await ds.client.get("/evidence/studies/takano2012.vancouver")
    assert '<a href="/evidence/studies/takano2012">&larr; Back to the row</a>' in row.text
    hostile = await ds.client.get("/evidence/study_cards.apa?title__contains=%22%3E%3Cscript%3Ealert(1)%3C/script%3E")
    assert "<script>" not in hostile.text and "title__contains=%22%3E%3Cscript%3Ealert" in hostile.text


def test_format_names_take_any_case_and_the_web_names(corpus_db):
    runner = CliRunner()

    def export(name: str) -> str:
        result = runner.invoke(cli, ["export", str(corpus_db), "-f", name, "--key", "takano2012"])
        assert result.exit_code == 0, result.output
        return result.stdout

    for name in ("bib", "BibTeX", "BIB"):
        assert [e.key for e in bibtexparser.parse_string(export(name)).entries] == ["takano2012"]
    for name in ("csljson", "json", "CSL-JSON"):
        assert [item["id"] for item in json.loads(export(name))] == ["takano2012"]
    assert export("APA").startswith("Takano, T., Chen, X.")
    assert export(".ris").startswith("TY  - JOUR")
    wrong = runner.invoke(cli, ["export", str(corpus_db), "-f", "nbib"])  # MEDLINE is read, not written
    assert (
        wrong.exit_code == 2 and "'nbib' is not one of 'bibtex', 'ris', 'csl-json', 'apa', 'vancouver'" in wrong.output
    )
    loaded = runner.invoke(cli, ["load", str(corpus_db.parent / "again.db"), str(loader.DATA_DIR / "studies.bib")])
    again = runner.invoke(cli, ["load", str(corpus_db.parent / "upper.db"), str(loader.DATA_DIR / "studies.bib")])
    assert loaded.exit_code == again.exit_code == 0
    upper = runner.invoke(
        cli, ["load", str(corpus_db.parent / "bib.db"), str(loader.DATA_DIR / "studies.bib"), "--format", "BIB"]
    )
    assert upper.exit_code == 0 and "32 studies (32 added" in upper.output


def test_serve_on_a_busy_port_says_which_option_to_use(corpus_db):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-c", "from evidence.cli import cli; cli()", "serve", str(corpus_db), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert result.stderr == f"Error: port {port} is in use; choose another with --port\n"


def test_help_shows_each_command_purpose_whole():
    result = CliRunner().invoke(cli, ["--help"], terminal_width=80)
    listing = " ".join(result.output.split("Commands:")[1].split())
    assert "..." not in listing
    for name, command in cli.commands.items():
        assert f"{name} {command.short_help}" in listing


@pytest.fixture(scope="module")
def served_corpus(corpus_db):
    """`evidence serve` of the bundled corpus on a free port: its base URL."""
    with serving(corpus_db) as base:
        yield base


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (/usr/bin/chromium)")
def test_the_map_fits_a_laptop_and_scrolls_in_its_own_box_on_a_phone(served_corpus, tmp_path):
    shots = screenshots_folder(tmp_path)
    with browser_page() as (page, dialogs):
        page.set_viewport_size({"width": 1366, "height": 768})
        assert page.goto(served_corpus + "/-/evidence-map").status == 200
        assert page.evaluate("document.documentElement.scrollWidth") <= 1366
        box = page.locator(".map-box")
        assert box.evaluate("b => b.scrollWidth <= b.clientWidth")  # the whole map shows, no inner scrolling
        page.screenshot(path=str(shots / "evidence-map-1366.png"), full_page=True)
        page.goto(served_corpus + "/-/evidence-map?all=1")  # every column: wider, but only inside its box
        assert page.evaluate("document.documentElement.scrollWidth") <= 1366
        assert box.evaluate("b => b.scrollWidth > b.clientWidth")
        page.goto(served_corpus + "/-/evidence-map")
        page.set_viewport_size({"width": 390, "height": 844})
        page.reload()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # the page never scrolls sideways
        assert box.evaluate("b => b.scrollWidth > b.clientWidth")  # the map does, inside its box
        box.evaluate("b => { b.scrollLeft = b.scrollWidth; }")
        assert box.evaluate("b => b.scrollLeft") > 0
        # the condition names stay in view while the map scrolls
        label = page.get_by_role("link", name="Chronic low back pain", exact=True)
        assert label.bounding_box()["x"] >= 0
        page.screenshot(path=str(shots / "evidence-map-390.png"), full_page=True)
        label.click()
        page.wait_for_load_state()
        assert page.url == served_corpus + "/evidence/conditions/chronic-low-back-pain"
        assert dialogs == []


@pytest.fixture
def project_copy(tmp_path) -> Path:
    """scripts/serve and pyproject.toml in a folder of their own, with a real .venv: the package is reached through a
    .pth file (as an editable install reaches it) and run by a console script of the kind pip writes. Its `pip` is a
    guard that says it was asked to install and stops: the test is about when the script installs, and an install
    here would see the shared environment's packages."""
    root = Path(__file__).resolve().parent.parent
    (tmp_path / "scripts").mkdir()
    for name in ("scripts/serve", "pyproject.toml"):
        (tmp_path / name).write_bytes((root / name).read_bytes())
    (tmp_path / "scripts/serve").chmod(0o755)
    venv = tmp_path / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site_packages = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    guard = tmp_path / "guard" / "pip"
    guard.mkdir(parents=True)
    (guard / "__init__.py").write_text("")
    (guard / "__main__.py").write_text("import sys\nsys.exit('pip asked to install: ' + ' '.join(sys.argv[1:]))\n")
    ours = [p for p in sys.path if p.endswith("site-packages")]
    Path(site_packages, "evidence_editable.pth").write_text("\n".join([str(guard.parent), str(root), *ours]) + "\n")
    evidence = venv / "bin" / "evidence"
    evidence.write_text(f"#!{python}\nimport sys\nfrom evidence.cli import cli\nsys.exit(cli())\n")
    evidence.chmod(0o755)
    return tmp_path


def run_serve(folder: Path, port: int) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(
        [str(folder / "scripts" / "serve"), "--port", str(port)], capture_output=True, text=True, env=env, timeout=120
    )


def test_scripts_serve_installs_only_when_pyproject_changed(project_copy):
    import hashlib

    stamp = project_copy / ".venv" / ".installed"
    stamp.write_text(hashlib.sha256((project_copy / "pyproject.toml").read_bytes()).hexdigest() + "\n")
    with socket.socket() as taken:  # the script stops at `evidence serve`, which refuses the busy port
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        unchanged = run_serve(project_copy, port)
        assert unchanged.returncode == 1, unchanged.stderr
        assert "pip asked to install" not in unchanged.stderr
        assert "32 studies" in unchanged.stdout and (project_copy / "evidence.db").exists()
        assert unchanged.stderr.endswith(f"Error: port {port} is in use; choose another with --port\n")
        with (project_copy / "pyproject.toml").open("a") as pyproject:
            pyproject.write("# changed\n")
        changed = run_serve(project_copy, port)
    assert changed.returncode == 1 and "pip asked to install: install --quiet" in changed.stderr
