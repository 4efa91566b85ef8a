"""Printed citations as a second source: the back-pain article's reference list (data/printed/) joins the studies of
data/studies.bib, fills only what no checked record gives (marked as printed), records where it differs, never
overrides a checked value and never adds a study of its own."""

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from datasette.app import Datasette
from sqlite_utils import Database

from evidence import loader
from evidence.cli import cli
from evidence.merge import AS_PRINTED, UNMATCHED
from evidence.web.urls import study_url

PRINTED = loader.DATA_DIR / "printed" / "acupuncture-back-pain-article.txt"


def rows(db_path: Path, sql: str, params: tuple = ()) -> list[tuple]:
    with sqlite3.connect(db_path) as conn:
        return [tuple(row) for row in conn.execute(sql, params)]


def test_the_bundled_load_reads_the_printed_list_as_a_second_source_of_every_study(claims_db):
    assert loader.default_printed() == [PRINTED]
    printed = rows(claims_db, "select study_key, format, matched_on, is_primary from study_sources where printed")
    studies = {k for (k,) in rows(claims_db, "select key from studies")}
    assert len(printed) == 11 and {key for key, *_ in printed} < studies  # each of the article's 11 citations
    assert all(fmt == "reference-list" and how != "first" and not primary for _, fmt, how, primary in printed)
    assert rows(claims_db, "select count(*) from study_sources where not printed") == [(len(studies),)]


def test_fields_no_checked_record_gives_come_from_the_printed_citation_marked_as_such(claims_db):
    assert rows(claims_db, "select volume, issue, pages from studies where key = 'chung2003'") == [
        ("49", None, "985-989")
    ]
    assert rows(claims_db, "select as_printed from study_sources where printed and study_key = 'chung2003'") == [
        ("volume, pages",)
    ]
    marked = rows(
        claims_db,
        f"select study_key, field, kept_value, other_value from field_disagreements where kind = '{AS_PRINTED}' "
        "order by study_key, field",
    )
    assert marked == [
        ("chung2003", "pages", "985-989", ""),
        ("chung2003", "volume", "49", ""),
        ("guerreirodasilva2004", "pages", "60-67", ""),
        ("inoue2009", "issue", "4", ""),
        ("inoue2009", "pages", "174-177", ""),
        ("inoue2009", "volume", "27", ""),
    ]
    kept_in = rows(claims_db, f"select distinct kept_source from field_disagreements where kind = '{AS_PRINTED}'")
    assert kept_in and all("data/printed/acupuncture-back-pain-article.txt:" in source for (source,) in kept_in)


def test_where_the_printed_citation_differs_the_checked_value_is_kept_and_the_difference_recorded(claims_db):
    differs = {
        (key, name): (kept, other)
        for key, name, kept, other in rows(
            claims_db,
            "select study_key, field, kept_value, other_value from field_disagreements where kind = 'differs'",
        )
    }
    assert differs[("inoue2006", "pages")] == ("103", "103-108")  # only the first page is verified
    assert differs[("vickers2018", "journal")] == (
        "The Journal of Pain",
        "The journal of pain: official journal of the American Pain Society",
    )
    assert rows(claims_db, "select pages from studies where key = 'inoue2006'") == [("103",)]


def test_the_printed_source_never_changes_a_value_the_checked_records_give(claims_db, tmp_path):
    alone = tmp_path / "bib-only.db"
    loader.load(alone, loader.default_inputs())
    columns = [c for c in Database(alone)["studies"].columns_dict if c not in ("content_hash",)]
    before = {row["key"]: row for row in Database(alone).query("select * from studies")}
    after = {row["key"]: row for row in Database(claims_db).query("select * from studies")}
    for key, row in before.items():
        for column in columns:
            if row[column] not in (None, ""):
                assert after[key][column] == row[column], (key, column)
    authors = "select study_key, position, author_id from study_authors order by 1, 2"
    assert len(rows(alone, authors)) == len(rows(claims_db, authors))


@pytest.mark.asyncio
async def test_study_page_shows_printed_values_as_printed_not_verified(claims_db):
    ds = Datasette([str(claims_db)])
    response = await ds.client.get(study_url(ds, "chung2003", claims_db.stem))
    assert response.status_code == 200
    facts = response.text.split('class="facts"')[1].split("</dl>")[0]
    assert "volume 49 <small" in facts and facts.count("(as printed, not verified)") == 2
    assert "As printed, not verified" in facts and "“985-989”" in facts
    sources = response.text.split('id="sources"')[1]
    assert "a printed citation" in sources and "gives volume, pages, as printed, not verified" in sources
    checked = await ds.client.get(study_url(ds, "cherkin2009", claims_db.stem))
    assert "not verified" not in checked.text and "a printed citation" in checked.text
    differing = await ds.client.get(study_url(ds, "inoue2006", claims_db.stem))
    assert "pages: kept “103”" in differing.text.split('id="sources"')[1]


def test_a_printed_citation_that_matches_no_study_is_reported_and_not_loaded(tmp_path):
    bib, printed = tmp_path / "mine.bib", tmp_path / "cited.txt"
    bib.write_text(
        "@article{lone2001,\n  author = {Lone, Ann and Other, Bo},\n  title = {A trial of needles for sore knees},\n"
        "  journal = {Knee Journal},\n  year = {2001},\n  volume = {12},\n  doi = {10.1000/knee.1},\n}\n",
        encoding="utf-8",
    )
    printed.write_text(
        "Lone, A., Other, B., & Third, C. (2001). A trial of needles for sore knees. Knee Journal, 13(2), 5–9. "
        "https://doi.org/10.1000/knee.1\n\n"
        "Nobody, N. (1999). A study no other file names. Some Journal, 3, 1–2.\n",
        encoding="utf-8",
    )
    db = tmp_path / "e.db"
    result = CliRunner().invoke(cli, ["load", str(db), str(bib), "--printed", str(printed), "--format", "bibtex"])
    assert result.exit_code == 0, result.output
    assert f"cited.txt:3 [nobody1999]: warning: {UNMATCHED}" in result.output
    assert rows(db, "select key, volume, issue, pages from studies") == [("lone2001", "12", "2", "5-9")]
    assert rows(db, "select family from study_authors join authors on id = author_id order by position") == [
        ("Lone",),
        ("Other",),
    ]  # the printed list's longer author list does not replace the checked one
    assert rows(
        db, "select field, kept_value, other_value, kind from field_disagreements order by kind desc, field"
    ) == [
        ("authors", "Lone; Other", "Lone; Other; Third", "differs"),
        ("volume", "12", "13", "differs"),
        ("issue", "2", "", AS_PRINTED),
        ("pages", "5-9", "", AS_PRINTED),
    ]
    assert rows(db, "select file, line, entry_key from load_errors where message = ?", (UNMATCHED,)) == [
        ("cited.txt", 3, "nobody1999")
    ]
    again = CliRunner().invoke(cli, ["load", str(db), str(bib), "--printed", str(printed), "--format", "bibtex"])
    assert "1 studies (0 added, 0 updated, 1 unchanged, 0 removed" in again.output


def test_check_tells_what_a_load_with_the_printed_list_would_keep_as_printed():
    result = CliRunner().invoke(cli, ["check", str(loader.DATA_DIR / "studies.bib"), "--printed", str(PRINTED)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert sum(f"kept {AS_PRINTED}" in line for line in lines) == 6
    chung = "acupuncture-back-pain-article.txt:3 [chung2003]: warning: volume '49' kept as printed, not verified: "
    assert any(chung in line and line.endswith("studies.bib:27 gives none") for line in lines), result.output
    assert "2 files, 43 entries, 32 studies (11 duplicate entries): 0 errors" in result.output
