"""BibTeX and biblatex files read as biber reads them (issue 16): entries without a title kept, a field given
twice, @string macros, biblatex's field names. Where biber is installed, each behaviour is checked against what
``biber --tool --output-resolve`` makes of the same file."""

import json
import re
import shutil
import sqlite3
import subprocess

import bibtexparser
import pytest
import rispy
from click.testing import CliRunner
from datasette.app import Datasette
from test_read_in_pieces import keep, outcome

from evidence import fast
from evidence.cli import cli
from evidence.fast import pieces
from evidence.fast.spool import Spool
from evidence.formats import FORMATS, read_file

needs_biber = pytest.mark.skipif(shutil.which("biber") is None, reason="biber is not installed")

STRINGS = r"""@string{a = "x"}
@string{b = a # " y"}
@STRING ( pn = "Paren Name" )
@String{JAMA = "J Am Med Assoc"}
@string{loop = loop}
@article{chained, title = {T1}, author = {Doe, Jane}, year = 2012, journal = b, note = pn}
@article{upper, title = {T2}, author = {Doe, Jane}, year = 2012, journal = jama, month = feb}
@article{partly, title = {T3}, journal = tcs # { Letters}, year = {2000}}
@article{joined, title = {T4}, journal = "A " # JAMA # b, year = {2000}, month = aug}
@article{undefined, title = {T5}, journal = tcs, year = {2000}, month = sept}
@article{selfmade, title = {T6}, journal = loop, year = {2000}}
"""

TWICE = """@article{same, title = {Same}, year = 2012, year = 2012}
@article{differ, title = {Differ}, year = 2012, year = {2013}, journal = {A}, journal = {B}}
@article{cased, title = {Cased}, Year = 2001, YEAR = 2002}
@article{good, title = {Good}, year = 2010}
"""

BIBLATEX = """@article{both, title = {Both}, journal = {Jnl}, journaltitle = {JT}, address = {A}, location = {L},
  school = {S}, institution = {I}}
@article{reversed, title = {Reversed}, journaltitle = {JT}, journal = {Jnl}, location = {L}, address = {A}}
@article{pubmed, title = {PubMed}, eprint = {19433697}, eprinttype = {pubmed}, urldate = {2020-01-02}}
@article{pmc, title = {PMC}, eprint = {PMC2832641}, eprinttype = {pmc}}
@article{doi, title = {DOI}, eprint = {10.1001/archinternmed.2009.65}, eprinttype = {doi}}
@article{arxiv, title = {arXiv}, eprint = {1234.5678}, eprinttype = {arxiv}, eprintclass = {cs.LG}}
@online{badurl, title = {Bad urldate}, url = {https://example.org}, urldate = {2020-13-01}}
"""

UNTITLED = """@online{web1, author = {Doe, Jane}, year = 2020, url = {https://example.org/x}, urldate = {2021-03-04}}
@misc{empty1, }
@article{anon1, author = {Roe, R.}, journal = {J Pain}, year = 2019, volume = 1}
@article{anon2, author = {Roe, R.}, journal = {J Pain}, year = 2019, volume = 2}
@article{punct1, title = {---}, author = {Roe, R.}, year = 2019}
@article{punct2, title = {...}, author = {Roe, R.}, year = 2019}
@article{titled, title = {A trial}, author = {Roe, R.}, year = 2019, doi = {10.1000/t}}
"""


def read_both_ways(path):
    """What the reader gives for a file with the fast path on and off (they must agree), as plain data."""
    outcomes = []
    for enabled in (True, False):
        fast.ENABLED = enabled
        try:
            result = read_file(path, path.name)
        finally:
            fast.ENABLED = True
        outcomes.append(({r.key: r for r in result.records}, [str(e) for e in result.errors]))
    assert outcomes[0] == outcomes[1]
    return outcomes[0]


def written(tmp_path, text, name="in.bib"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def biber_reads(path) -> dict[str, dict[str, str]]:
    """Fields (lower-case names, @string names resolved) of each entry as biber's tool mode writes them back."""
    out = path.with_suffix(".biber.bib")
    subprocess.run(
        ["biber", "--tool", "--output-resolve", "--output-format=bibtex", f"--output-file={out}", str(path)],
        check=True,
        capture_output=True,
        cwd=path.parent,
    )
    library = bibtexparser.parse_string(out.read_text(encoding="utf-8"))
    return {entry.key: {f.key.lower(): f.value for f in entry.fields} for entry in library.entries}


def test_string_macros_chained_parenthesised_case_insensitive_and_undefined(tmp_path):
    records, errors = read_both_ways(written(tmp_path, STRINGS))
    assert records["chained"].journal == "x y" and records["chained"].note == "Paren Name"
    assert (records["upper"].journal, records["upper"].month) == ("J Am Med Assoc", "feb")
    assert records["partly"].journal == "Letters"
    assert (records["joined"].journal, records["joined"].month) == ("A J Am Med Assocx y", "aug")
    assert (records["undefined"].journal, records["undefined"].month) == (None, None)
    assert records["selfmade"].journal is None
    assert [e for e in errors if "no DOI" not in e] == [
        "in.bib:8 [partly]: warning: field 'journal': no @string defines 'tcs'; read as empty text, as biber does",
        "in.bib:10 [undefined]: warning: field 'journal': no @string defines 'tcs'; the field was left out, as "
        "biber does",
        "in.bib:10 [undefined]: warning: field 'month': no @string defines 'sept'; the field was left out, as "
        "biber does",
        "in.bib:11 [selfmade]: warning: field 'journal': no @string defines 'loop'; the field was left out, as "
        "biber does",
    ]


def test_a_macro_defined_twice_is_no_entry_and_takes_its_last_value(tmp_path):
    text = '@string{jx = "Late"}\n@article{k, title = {T}, journal = jx}\n@STRING{JX = "Later"}\n'
    records, errors = read_both_ways(written(tmp_path, text))
    assert records["k"].journal == "Later" and [e for e in errors if "no DOI" not in e] == []


@needs_biber
def test_string_macros_give_what_biber_gives(tmp_path):
    path = written(tmp_path, STRINGS)
    records, _ = read_both_ways(path)
    biber = biber_reads(path)
    assert set(biber) == set(records)
    for key, fields in biber.items():
        assert records[key].journal == fields.get("journaltitle"), key
        assert records[key].note == fields.get("note"), key
        month = fields["date"][5:7] if len(fields["date"]) > 4 else None
        assert (str(records[key].year), records[key].month) == (
            fields["date"][:4],
            ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"][int(month) - 1]
            if month
            else None,
        ), key


def test_a_field_given_twice_keeps_the_entry_and_its_last_value_with_a_warning(tmp_path):
    records, errors = read_both_ways(written(tmp_path, TWICE))
    assert list(records) == ["same", "differ", "cased", "good"]
    assert (records["same"].year, records["differ"].year, records["differ"].journal) == (2012, 2013, "B")
    assert records["cased"].year == 2002
    assert [e for e in errors if "no DOI" not in e] == [
        "in.bib:1 [same]: warning: field 'year' given twice",
        "in.bib:2 [differ]: warning: field 'year' given twice: '2012', then '2013'; the last is kept, as biber keeps it",
        "in.bib:2 [differ]: warning: field 'journal' given twice: 'A', then 'B'; the last is kept, as biber keeps it",
        "in.bib:3 [cased]: warning: field 'year' given twice: '2001', then '2002'; the last is kept, as biber keeps it",
    ]


@needs_biber
def test_a_field_given_twice_keeps_what_biber_keeps(tmp_path):
    path = written(tmp_path, TWICE)
    records, _ = read_both_ways(path)
    for key, fields in biber_reads(path).items():
        assert (str(records[key].year), records[key].journal) == (fields["date"], fields.get("journaltitle")), key


def test_biblatex_names_over_bibtex_names_and_eprint_identifiers(tmp_path):
    records, errors = read_both_ways(written(tmp_path, BIBLATEX))
    for key in ("both", "reversed"):
        assert (records[key].journal, records[key].extra.get("address")) == ("JT", "L"), key
        assert "location" not in records[key].extra
    assert records["both"].extra["institution"] == "I" and "school" not in records["both"].extra
    assert records["pubmed"].pmid == "19433697" and records["pubmed"].extra["urldate"] == "2020-01-02"
    assert records["pmc"].pmcid == "PMC2832641"
    assert records["doi"].doi == "10.1001/archinternmed.2009.65"
    arxiv = records["arxiv"]
    assert (arxiv.doi, arxiv.pmid, arxiv.extra["eprint"], arxiv.extra["eprinttype"]) == (
        None,
        None,
        "1234.5678",
        "arxiv",
    )
    assert records["badurl"].url == "https://example.org"
    warnings = [e for e in errors if "no DOI" not in e]
    assert warnings[:3] == [
        "in.bib:1 [both]: warning: 'journal' and 'journaltitle' both given: 'JT' of 'journaltitle' kept, as biber "
        "keeps it",
        "in.bib:1 [both]: warning: 'address' and 'location' both given: 'L' of 'location' kept, as biber keeps it",
        "in.bib:2 [both]: warning: 'school' and 'institution' both given: 'I' of 'institution' kept, as biber keeps it",
    ]
    assert warnings[-1].startswith("in.bib:8 [badurl]: warning: field 'urldate': month 13 in '2020-13-01' is not one")


@needs_biber
def test_biblatex_names_are_those_biber_keeps(tmp_path):
    path = written(tmp_path, BIBLATEX.replace("urldate = {2020-13-01}", "urldate = {2020-12-01}"))
    records, _ = read_both_ways(path)
    for key, fields in biber_reads(path).items():
        record = records[key]
        assert (record.journal, record.extra.get("address"), record.extra.get("institution")) == (
            fields.get("journaltitle"),
            fields.get("location"),
            fields.get("institution"),
        ), key
        assert (record.extra.get("eprint"), record.extra.get("urldate")) == (
            fields.get("eprint"),
            fields.get("urldate"),
        )


def test_entries_without_a_title_load_and_every_consumer_handles_them(tmp_path):
    path = written(tmp_path, UNTITLED)
    records, errors = read_both_ways(path)
    assert list(records) == ["web1", "empty1", "anon1", "anon2", "punct1", "punct2", "titled"]
    assert [e for e in errors if "no DOI" not in e] == [
        "in.bib:1 [web1]: warning: no title; loaded without one",
        "in.bib:2 [empty1]: warning: no title, author, year or identifier; loaded, but nothing in it says what it is",
        "in.bib:3 [anon1]: warning: no title; loaded without one",
        "in.bib:4 [anon2]: warning: no title; loaded without one",
    ]
    runner, db = CliRunner(), str(tmp_path / "e.db")
    result = runner.invoke(cli, ["load", db, str(path)])
    assert result.exit_code == 0 and "7 studies (7 added" in result.output, result.output
    with sqlite3.connect(db) as conn:  # the same first author and year, no title: never one study
        assert conn.execute("SELECT count(*) FROM studies WHERE title IS NULL").fetchone() == (4,)
        assert conn.execute("SELECT count(*) FROM study_cards").fetchone() == (7,)
    exports = {}
    for name in ("bibtex", "ris", "csl-json", "apa", "vancouver"):
        result = runner.invoke(cli, ["export", db, "-f", name])
        assert result.exit_code == 0 and "None" not in result.output, (name, result.output)
        exports[name] = result.output
    assert "title = {}" not in exports["bibtex"] and exports["bibtex"].count("title =") == 3
    assert [r.get("title") for r in rispy.loads(exports["ris"].split("\n7 studies")[0])].count(None) == 4
    csl = json.loads(exports["csl-json"][: exports["csl-json"].rindex("]") + 1])
    assert sum("title" not in item for item in csl) == 4
    assert "Roe, R. (2019). J Pain, 1." in exports["apa"]
    search = runner.invoke(cli, ["export", db, "--search", "Doe", "-f", "bibtex"])
    assert "@online{web1," in search.output
    check = runner.invoke(cli, ["check", str(path)])
    assert "in.bib:2 [empty1]: warning: no title, author, year or identifier" in check.output
    assert "1 files, 7 entries, 7 studies" in check.output


@needs_biber
def test_the_export_of_entries_without_a_title_is_read_by_biber(tmp_path):
    path = written(tmp_path, UNTITLED)
    db = str(tmp_path / "e.db")
    CliRunner().invoke(cli, ["load", db, str(path)])
    exported = tmp_path / "export.bib"
    assert CliRunner().invoke(cli, ["export", db, "-o", str(exported)]).exit_code == 0
    assert (
        set(biber_reads(exported))
        == set(biber_reads(path))
        == {
            "web1",
            "empty1",
            "anon1",
            "anon2",
            "punct1",
            "punct2",
            "titled",
        }
    )


@pytest.mark.asyncio
async def test_datasette_pages_show_studies_without_a_title(tmp_path):
    path = written(tmp_path, UNTITLED)
    db = tmp_path / "e.db"
    assert CliRunner().invoke(cli, ["load", str(db), str(path)]).exit_code == 0
    ds = Datasette(immutables=[str(db)])
    for page in ("/e/study_cards", "/e/studies/web1", "/e/studies/empty1", "/e/study_cards?_search=Doe", "/e"):
        response = await ds.client.get(page)
        assert response.status_code == 200, (page, response.text[:300])
    cards = (await ds.client.get("/e/study_cards.json?_shape=array&_search=Doe")).json()
    assert [(c["key"], c["title"]) for c in cards] == [("web1", None)]


def test_a_large_file_read_in_pieces_reads_them_as_its_whole_text(tmp_path, monkeypatch):
    """As a load reads a large file: in pieces of about 300 bytes, each with the file's @string definitions;
    the entries come five times, four of them with new keys and one repeating the first keys."""
    entries = re.sub(r"(?m)^@string.*\n|^@STRING.*\n|^@String.*\n", "", STRINGS) + TWICE + BIBLATEX + UNTITLED
    copies = [re.sub(r"(?m)^@(\w+)\{", rf"@\1{{c{i}", entries) for i in range(4)]
    path = written(tmp_path, STRINGS + TWICE + BIBLATEX + UNTITLED + "".join(copies) + entries)
    whole = outcome(read_file(path, path.name))
    assert len(whole[0]) == 5 * 24 and sum(e[4].startswith("duplicate key") for e in whole[1]) == 24
    monkeypatch.setattr(pieces, "PARALLEL_FROM", 0)
    monkeypatch.setattr(pieces, "PIECE", 300)
    monkeypatch.setattr(pieces, "SCAN", 1000)
    assert len(pieces.scan(path, FORMATS["bibtex"].pieces.record_start)[0]) >= 10
    assert outcome(pieces.read_file(path, path.name, spool=Spool(tmp_path, keep))) == whole
