"""biblatex inheritance (crossref, xref, @xdata) read as biber resolves it: the studies a real load stores are
compared with what ``biber --tool --output-resolve`` makes of the same file, given biblatex's own inheritance
rules (tests/fixtures/inheritance/biblatex-inheritance.conf, from biblatex.def); missing keys and cycles are
reported as biber reports them, never hang, and the fast path reads such files as the plain path does."""

import re
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

import bibtexparser
import pytest
from click.testing import CliRunner
from conftest import FIXTURES
from test_fast_path import TABLES, rows

from evidence import fast, loader
from evidence.cli import cli
from evidence.fast import parallel, pieces
from evidence.formats import biblatex_inheritance, bibtex
from evidence.formats.biblatex_inheritance import FIELD_ALIASES
from evidence.records import MONTHS, TaggedStudy

INHERITANCE = FIXTURES / "inheritance"
NAME_LISTS = {"author", "editor", "bookauthor", "translator"}
needs_biber = pytest.mark.skipif(shutil.which("biber") is None, reason="biber is not installed")


def load(tmp_path: Path, *files: Path) -> tuple[Path, str]:
    """A real load of the files into a new database: its path and what the command printed."""
    db = tmp_path / "inherit.db"
    result = CliRunner().invoke(cli, ["load", str(db), *map(str, files)])
    assert result.exit_code == 0, result.output
    return db, result.output


def biber_resolved(path: Path, tmp_path: Path) -> tuple[str, str]:
    """biber's tool-mode resolution of a file with biblatex's inheritance rules: its output and its log."""
    out = tmp_path / "biber-out.bib"
    run = subprocess.run(
        [
            "biber",
            "--tool",
            f"--configfile={INHERITANCE / 'biblatex-inheritance.conf'}",
            "--output-resolve",
            "--output-format=bibtex",
            f"--output-file={out}",
            f"--logfile={tmp_path / 'biber'}",  # not beside the input, in the fixtures
            str(path),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    return (out.read_text() if out.exists() else ""), run.stdout + run.stderr


def comparable(entry) -> dict[str, str]:
    """An entry's fields by biblatex name, the date as the year and month biblatex takes from it (the store keeps
    no day or end of a range); crossref and xdata, which biber drops once resolved, left out."""
    fields = {}
    for field in entry.fields:
        name = field.key.lower()
        fields[FIELD_ALIASES.get(name, name)] = " ".join(str(field.value).split())
    for name in ("crossref", "xdata"):
        fields.pop(name, None)
    for name in NAME_LISTS & set(fields):  # names as names: biber writes "Family, Given" for "Given Family"
        fields[name] = " and ".join(f"{p.family}, {p.given}" for p in bibtex.parse_authors(fields[name]))
    date = fields.pop("date", "")
    if "year" in fields:  # as the store writes it: year and month (a macro), the date as read beside them
        month = fields.pop("month", None)
        fields["date"] = fields.pop("year") + (f"-{MONTHS.index(month) + 1:02d}" if month else "")
    elif date:  # as biber writes it: an ISO 8601 date (a range from its start)
        year, month = re.match(r"(\d{4})(?:-(\d{2}))?", date).groups()
        fields["date"] = year + (f"-{month}" if month else "")
    return fields


def stored_entries(db: Path) -> dict[str, dict[str, str]]:
    """The BibTeX entries the load stored (study_bibtex), by key."""
    with sqlite3.connect(db) as conn:
        text = "\n".join(entry for (entry,) in conn.execute("select entry from study_bibtex"))
    return {entry.key: comparable(entry) for entry in bibtexparser.parse_string(text).entries}


@needs_biber
def test_loaded_studies_have_the_fields_biber_resolves(tmp_path):
    path = INHERITANCE / "inheritance.bib"
    output, log = biber_resolved(path, tmp_path)
    expected = {
        entry.key: comparable(entry)
        for entry in bibtexparser.parse_string(output).entries
        if entry.entry_type.lower() != "xdata"
    }
    db, _ = load(tmp_path, path)
    stored = stored_entries(db)
    assert set(stored) == set(expected)  # @xdata entries are not studies, in biber's output or here
    for key, fields in expected.items():
        assert stored[key] == fields, key
    # what the comparison covers: each kind of inheritance gave something
    assert stored["letter12"]["booktitle"] == "Letters" and stored["letter12"]["maintitle"] == "Collected Works"
    assert stored["letter12"]["bookauthor"] == "Klein, Otto" and stored["letter12"]["date"] == "1999"
    assert stored["essay3"]["booktitle"] == "Essays on Pain" and "label" not in stored["essay3"]
    assert stored["talk2"]["booktitle"] == "Proceedings of the Tenth Pain Meeting"  # @conference is inproceedings
    assert stored["talk2"]["date"] == "2011-05"  # its own year, its parent's month
    assert stored["trial15"]["journaltitle"] == "Journal of Pain Studies"
    assert "editor" not in stored["letter15"]  # xref links, inherits nothing
    assert stored["monograph"]["location"] == "Oslo" and stored["monograph"]["date"] == "2009"  # xdata over its own
    assert stored["granular"]["author"] == "Berg, Jonas and Sand, Nils"


def test_stored_rows_hold_what_children_inherit(tmp_path):
    db, output = load(tmp_path, INHERITANCE / "inheritance.bib")
    with sqlite3.connect(db) as conn:
        studies = {row[0]: row[1:] for row in conn.execute("select key, year, month, journal, note from studies")}
        authors = conn.execute(
            "select a.family from study_authors s join authors a on a.id = s.author_id "
            "where s.study_key = 'granular' order by s.position"
        ).fetchall()
        errors = conn.execute("select entry_key, message from load_errors where message not like 'no DOI%'").fetchall()
    assert "nordic" not in studies and "people" not in studies and len(studies) == 14
    assert studies["talk1"][:2] == (2010, "may") and studies["letter12"][0] == 1999
    assert studies["trial15"][:3] == (2015, None, "Journal of Pain Studies")
    assert studies["letter15"][2] == "Letters in Pain"
    assert studies["granular"][3] == "Translated from Norwegian" and authors == [("Berg",), ("Sand",)]
    assert errors == []


@needs_biber
def test_biber_s_own_crossref_tests_load_as_biber_resolves_them(tmp_path):
    """Every field of every entry of biber's crossref test file, bar its cycle (where biber stops), which is an
    error on each of its entries here; an xref to a missing entry biber drops, and it is kept here."""
    text = (INHERITANCE / "biber-crossrefs.bib").read_text()
    result = bibtex.read(text, "biber-crossrefs.bib")
    cycle = [error.entry_key for error in result.errors if "cycle" in error.message]
    assert cycle == ["circ1", "circ2", "circ3"]
    path = tmp_path / "no-cycle.bib"
    path.write_text(re.sub(r"@BOOK\{circ\d,.*?\n\}\n", "", text, flags=re.DOTALL).replace("{circ1}", "{}"))
    output, _ = biber_resolved(path, tmp_path)
    expected = {entry.key: comparable(entry) for entry in bibtexparser.parse_string(output).entries}
    records = bibtex.read(path.read_text(), path.name).records
    written = "\n".join(bibtex.entry(TaggedStudy(record)) for record in records)
    found = {entry.key: comparable(entry) for entry in bibtexparser.parse_string(written).entries}
    assert len(found) >= 31 and found["mxr"].pop("xref") == "missing1"  # entries with titles (31) at least
    assert {key: expected[key] for key in found} == found
    assert (
        found["cr1"]["booktitle"] == "Graphs of the Continent" and found["ccr2"]["editor"] == "Editor, Edward"
    )  # by an alias


CYCLES = """@inproceedings{loop-a, title = {Loop A}, year = {2001}, crossref = {loop-b}}
@inproceedings{loop-b, title = {Loop B}, crossref = {loop-a}, publisher = {Press B}}
@book{mirror, title = {Mirror}, crossref = {mirror}}
@inproceedings{orphan, title = {Orphan},
  crossref = {nowhere}}
@book{loose, title = {Loose}, xdata = {nothing}}
"""


@needs_biber
def test_cycles_and_missing_parents_are_reported_as_biber_reports_them(tmp_path):
    path = tmp_path / "cycles.bib"
    path.write_text(CYCLES)
    _, log = biber_resolved(path, tmp_path)
    assert "Circular inheritance between 'loop-a'<->'loop-b'" in log  # biber stops at the first cycle
    path.write_text(CYCLES.replace("crossref = {loop-a}", "crossref = {loop-c}").replace("{mirror}}", "{none}}"))
    _, log = biber_resolved(path, tmp_path)
    assert "I didn't find a database entry for crossref 'nowhere' in entry 'orphan'" in log


def test_cycles_are_errors_on_each_entry_and_missing_parents_warnings(tmp_path):
    path = tmp_path / "cycles.bib"
    path.write_text(CYCLES)
    db, output = load(tmp_path, path)
    lines = [line for line in output.splitlines() if "DOI or PMID" not in line]
    assert any(
        line.endswith(
            "cycles.bib:1 [loop-a]: error: crossref cycle: loop-a -> loop-b -> loop-a; nothing inherited "
            "along it, the entry keeps its own fields"
        )
        for line in lines
    ), output
    assert any("cycles.bib:2 [loop-b]: error: crossref cycle: loop-a -> loop-b -> loop-a;" in line for line in lines)
    assert any("cycles.bib:3 [mirror]: error: crossref cycle: mirror -> mirror;" in line for line in lines)
    assert any(
        "cycles.bib:5 [orphan]: warning: crossref names 'nowhere', which no entry of this file has; ignored" in line
        for line in lines
    )
    assert any("cycles.bib:6 [loose]: warning: xdata names 'nothing'" in line for line in lines)
    with sqlite3.connect(db) as conn:
        studies = dict(conn.execute("select key, year from studies"))
        loop_b = conn.execute("select entry from study_bibtex where study_key = 'loop-b'").fetchone()[0]
    assert set(studies) == {"loop-a", "loop-b", "mirror", "orphan", "loose"}  # all load, with their own fields
    assert studies["loop-b"] is None and "Press B" in loop_b and studies["loop-a"] == 2001


def test_a_long_chain_is_followed_to_its_end_and_a_long_cycle_ends(tmp_path):
    chain = 5000
    text = "@proceedings{c0, title = {Root}, year = {1990}, publisher = {Root Press}}\n" + "".join(
        f"@proceedings{{c{i}, title = {{Link {i}}}, crossref = {{c{i - 1}}}}}\n" for i in range(1, chain)
    )
    text += "".join(f"@misc{{r{i}, title = {{Ring {i}}}, crossref = {{r{(i + 1) % chain}}}}}\n" for i in range(chain))
    started = time.perf_counter()
    result = bibtex.read(text, "long.bib")
    assert time.perf_counter() - started < 30
    records = {record.key: record for record in result.records}
    assert len(records) == 2 * chain
    assert records[f"c{chain - 1}"].year == 1990 and records[f"c{chain - 1}"].extra["publisher"] == "Root Press"
    ring = [error for error in result.errors if "cycle" in error.message]
    assert len(ring) == chain and {error.entry_key for error in ring} == {f"r{i}" for i in range(chain)}
    assert all(error.severity == "error" for error in ring)


def inheriting_corpus(path: Path, parents: int) -> None:
    """A file of proceedings and the papers that crossref them, some parents after their children."""
    parts = []
    for i in range(parents):
        paper = (
            f"@inproceedings{{paper{i}, author = {{Writer, Number{i}}}, title = {{Paper {i} on pain}},"
            f" pages = {{{i}--{i + 9}}}, crossref = {{proc{i}}}}}\n"
        )
        proc = f"@proceedings{{proc{i}, title = {{Meeting {i}}}, year = {{{1980 + i % 40}}}, publisher = {{P{i}}}}}\n"
        parts += [paper, proc] if i % 2 else [proc, paper]
    path.write_text("".join(parts))


def test_a_file_that_inherits_is_read_whole_by_the_fast_path_with_the_same_result(tmp_path, monkeypatch):
    path = tmp_path / "inheriting.bib"
    inheriting_corpus(path, 300)
    monkeypatch.setattr(pieces, "PARALLEL_FROM", 0)  # every file that can be is read in pieces, in workers
    monkeypatch.setattr(pieces, "PIECE", 5_000)
    monkeypatch.setattr(parallel, "cores", lambda: 2)
    rule = bibtex.PIECES
    cut = pieces.scan(path, rule.record_start, rule.confirm, rule.apart, rule.whole_if_inline)
    assert cut is not None and len(cut[0]) > 10  # without the check, it would be cut into pieces
    assert pieces.scan(path, rule.record_start, rule.confirm, rule.apart, rule.whole_if_inline, rule.whole_if) is None

    monkeypatch.setattr(fast, "ENABLED", False)
    plain = tmp_path / "plain.db"
    loader.load(plain, [path, INHERITANCE / "inheritance.bib"])
    monkeypatch.setattr(fast, "ENABLED", True)
    quick = tmp_path / "fast.db"
    loader.load(quick, [path, INHERITANCE / "inheritance.bib"])
    plain_rows, fast_rows = rows(plain), rows(quick)
    for table in TABLES:
        assert fast_rows[table] == plain_rows[table], table
    with sqlite3.connect(quick) as conn:
        inherited = conn.execute(
            "select count(*) from studies s join study_bibtex b on b.study_key = s.key "
            "where s.key like 'paper%' and s.year is not null and b.entry like '%booktitle = {Meeting%'"
        ).fetchone()[0]
    assert inherited == 300


@pytest.mark.parametrize(
    "text, links",
    [
        ("@inproceedings{a, title = {A},\n  CrossRef\n  = {b}}\n", True),  # "=" on the next line
        ("@book{a, title = {A}, XREF\t= {b}}", True),
        ("@book{a, title = {A}, author = {xdata=people-author-2}}", True),  # a granular reference
        ("@XData{people, note = {N}}", True),  # an @xdata entry no one names: not a study
        ("@misc{a, title = {A}, url = {https://api.crossref.org/works}, note = {see xref list}}", False),
    ],
)
def test_the_quick_check_finds_every_way_of_writing_a_link(text, links, tmp_path):
    assert biblatex_inheritance.inherits(text) is links and biblatex_inheritance.inherits(text.encode()) is links
    path = tmp_path / "links.bib"
    path.write_text(text)
    rule = bibtex.PIECES
    assert (pieces.scan(path, rule.record_start, rule.confirm, rule.apart, whole_if=rule.whole_if) is None) is links


def test_a_granular_reference_that_cannot_be_resolved_is_a_warning_and_kept_as_written():
    text = (
        "@book{g, title = {G}, author = {Berg, Jonas and xdata=nope-author-2},\n"
        "  note = {xdata=bk-note}, editor = {xdata=people-author-3}}\n"
        "@book{bk, title = {BK}, note = {Not an xdata entry}}\n"
        "@xdata{people, author = {Holm, Eva and Sand, Nils}}\n"
    )
    result = bibtex.read(text, "g.bib")
    messages = [(e.line, e.entry_key, e.message) for e in result.errors if "DOI" not in e.message]
    assert messages == [
        (1, "g", "field 'author': its xdata reference names 'nope', which no entry of this file has; ignored"),
        (2, "g", "field 'note': its xdata reference names 'bk', a @book, not an @xdata entry; ignored"),
        (2, "g", "field 'editor': 'author' of xdata entry 'people' has no item 3; kept as written"),
    ]
    g = next(record for record in result.records if record.key == "g")
    assert g.note == "xdata=bk-note" and g.extra["editor"] == "xdata=people-author-3"
    assert [record.key for record in result.records] == ["g", "bk"]
