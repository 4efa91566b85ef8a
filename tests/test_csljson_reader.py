"""The CSL-JSON reader on an export shaped like Zotero's (tests/fixtures/zotero.json), on markup, names, dates
and broken input, and on our own CSL-JSON export."""

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from conftest import FIXTURES, assert_reads_back, exported_and_read_back

from evidence import loader
from evidence.formats import FORMATS, format_of, read_file
from evidence.formats.csljson import CSL_TYPES, ENTRY_TYPES, plain_title, read
from evidence.records import Person


def items(*objects: dict) -> str:
    return json.dumps(list(objects), indent=2, ensure_ascii=False)


def one(**fields):
    """The one record read from an item with these fields (and a DOI, so that no warning is about its lack)."""
    result = read(items({"id": "k", "DOI": "10.1000/x", **fields}), "one.json")
    return result.records[0] if result.records else None, result.errors


def test_json_files_are_read_by_this_reader_and_types_invert_the_writers():
    assert format_of(Path("library.json")) == "csl-json" and "csl-json" in FORMATS
    assert all(CSL_TYPES[bibtex_type] == csl_type for csl_type, bibtex_type in ENTRY_TYPES.items())
    assert set(ENTRY_TYPES) == set(CSL_TYPES.values())
    assert (ENTRY_TYPES["chapter"], ENTRY_TYPES["article"]) == ("incollection", "misc")


def test_zotero_export():
    result = read_file(FIXTURES / "zotero.json", "zotero.json")
    lines = (FIXTURES / "zotero.json").read_text(encoding="utf-8").splitlines()
    cherkin, vickers, untitled = result.records
    assert [(r.key, r.source_line) for r in result.records] == [
        ("cherkin2009", 2),
        ("vickersAcupunctureChronicPain2018", 78),
        ("takano2012", 143),
    ]
    assert all(lines[r.source_line - 1] == "\t{" for r in result.records)
    assert (cherkin.source_format, cherkin.entry_type, cherkin.title) == (
        "csl-json",
        "article",
        "A randomized trial comparing acupuncture, simulated acupuncture, and usual care for chronic low back pain",
    )
    assert len(cherkin.authors) == 12 and cherkin.authors[0] == Person("Cherkin", "Daniel C.")
    assert (cherkin.year, cherkin.month) == (2009, "may")  # Zotero writes the year as a string: [["2009", 5, 11]]
    assert (cherkin.journal, cherkin.journal_abbrev, cherkin.volume, cherkin.issue, cherkin.pages) == (
        "Archives of Internal Medicine",
        "Arch Intern Med",
        "169",
        "9",
        "858-866",
    )
    assert (cherkin.doi, cherkin.pmid, cherkin.pmcid) == ("10.1001/archinternmed.2009.65", "19433697", "PMC2832641")
    assert cherkin.keywords == ["acupuncture", "sham acupuncture"]
    assert [(t.kind, t.value, t.source) for t in cherkin.tags] == [
        ("condition", "chronic-low-back-pain", "zotero.json:75"),
        ("design", "rct", "zotero.json:75"),
    ]
    assert lines[74].lstrip().startswith('"keyword": "condition:chronic-low-back-pain')
    assert vickers.authors[-1] == Person("Acupuncture Trialists' Collaboration") and vickers.month == "may"
    assert untitled.title is None and untitled.doi == "10.1016/j.jpain.2012.09.012"  # loaded without a title
    assert [(e.line, e.entry_key, e.severity, e.message) for e in result.errors] == [
        (143, "takano2012", "warning", "no title; loaded without one")
    ]


@pytest.mark.parametrize(
    "markup, title, protected",
    [
        (
            '<span class="nocase">MRI</span> and <span class="nocase">Parkinson</span>\'s disease',
            "MRI and Parkinson's disease",
            ["MRI", "Parkinson"],
        ),
        ("Needling <i>in vivo</i>: <b>H<sub>2</sub>O</b> and Ca<sup>2+</sup>", "Needling in vivo: H2O and Ca2+", []),
        (
            '<i>The <span class="nocase">NEEDLE</span> study</i> of <span style="font-variant:small-caps;">Sham</span>',
            "The NEEDLE study of Sham",
            ["NEEDLE"],
        ),
        ('<span class="nocase">An <span class="nocase">iPad</span> trial</span>', "An iPad trial", ["An iPad trial"]),
        ("p < 0.05 & a stray </i> tag", "p < 0.05 & a stray  tag", []),
    ],
)
def test_title_markup_is_dropped_and_nocase_spans_are_kept(markup, title, protected):
    text, spans = plain_title(markup)
    assert text == title and [text[a:b] for a, b in spans] == protected


def test_names_particles_suffixes_and_groups():
    record, errors = one(
        title="T",
        author=[
            {"family": "Berg", "given": "Anna", "non-dropping-particle": "van der"},
            {"family": "Fontaine", "given": "Jean", "dropping-particle": "de", "non-dropping-particle": "La"},
            {"family": "van Gogh", "given": "Vincent"},  # no particle given: split as BibTeX would
            {"family": "van Gogh", "given": "Theo", "parse-names": "false"},
            {"family": "Kulay", "given": "Luiz", "suffix": "Jr"},
            {"literal": "World Health Organization"},
            {"given": "Nobody"},
        ],
    )
    assert record.authors == [
        Person("Berg", "Anna", "van der"),
        Person("Fontaine", "Jean", "de La"),
        Person("Gogh", "Vincent", "van"),
        Person("van Gogh", "Theo"),
        Person("Kulay", "Luiz", "", "Jr"),
        Person("World Health Organization"),
    ]
    assert [e.message for e in errors] == [
        "field 'author': name 7 has no family name or literal; that name was left out"
    ]


@pytest.mark.parametrize(
    "issued, year, month",
    [
        ({"date-parts": [[2009, 5, 11]]}, 2009, "may"),
        ({"date-parts": [["2018", "5"]]}, 2018, "may"),
        ({"date-parts": [[2004, 21]]}, 2004, None),  # 21-24 are seasons in CSL-JSON
        ({"raw": "2009-05"}, 2009, "may"),
        ({"literal": "March 2004"}, 2004, "mar"),
        ("2012-12", 2012, "dec"),  # an EDTF string, as pandoc reads it
    ],
)
def test_issued_dates(issued, year, month):
    record, errors = one(title="T", issued=issued)
    assert (record.year, record.month, errors) == (year, month, [])


def test_bad_values_are_warnings_naming_the_field_at_its_line():
    result = read(
        items(
            {
                "id": "k",
                "title": "T",
                "DOI": "nope",
                "PMID": "PMC123",
                "issued": {"raw": "in press"},
                "volume": ["12"],
                "page": "e101-9",
            }
        ),
        "bad.json",
    )
    record = result.records[0]
    assert (record.doi, record.pmid, record.year, record.volume, record.pages) == (None, None, None, None, "e101-e109")
    assert [(e.line, e.entry_key, e.message) for e in result.errors] == [
        (2, "k", "no DOI or PMID: the study cannot be verified against a public record"),
        (5, "k", "field 'DOI': not a DOI: 'nope'; left empty"),
        (6, "k", "field 'PMID': not a PMID: 'PMC123'; left empty"),
        (7, "k", "field 'issued': no four-digit year in 'in press'; left empty"),
        (10, "k", "field 'volume': not text: [\"12\"]; left empty"),
    ]


def test_one_item_keys_record_numbers_duplicates_and_items_that_are_not_objects():
    single = read('{"id": "solo", "title": "One item, not in an array", "DOI": "10.1000/x"}', "solo.json")
    assert [(r.key, r.source_line) for r in single.records] == [("solo", 1)] and single.errors == []
    result = read(
        items(
            {
                "id": 7,
                "title": "Numbered",
                "author": [{"family": "Smith"}],
                "issued": {"date-parts": [[2001]]},
                "DOI": "10.1000/a",
            },
            {"id": "smith2001", "title": "Named like the made key", "DOI": "10.1000/b"},
            "not an item",
            {"id": "smith2001", "title": "Same id again", "DOI": "10.1000/c"},
        ),
        "mixed.json",
    )
    assert [r.key for r in result.records] == ["smith2001a", "smith2001"]  # a made key never takes one the file uses
    assert [(e.line, e.entry_key, e.message) for e in result.errors] == [
        (24, None, "item 3 is not a JSON object; it was not loaded"),
        (25, "smith2001", "duplicate key: already used at line 19; this entry was not loaded"),
    ]
    assert result.errors[1].raw.startswith('{\n    "id": "smith2001",\n    "title": "Same id again"')


def test_invalid_json_is_one_error_and_the_file_keeps_what_it_loaded(tmp_path):
    path = tmp_path / "library.json"
    shutil.copy(FIXTURES / "zotero.json", path)
    db_path = tmp_path / "evidence.db"
    assert loader.load(db_path, [path]).studies == 3
    path.write_text('[\n  {"id": "a", "title": "T"}\n  {"id": "b"}\n]\n', encoding="utf-8")
    assert [(e.line, e.message) for e in read(path.read_text(encoding="utf-8"), "library.json").errors] == [
        (None, "not valid JSON: Expecting ',' delimiter at line 3 column 3; nothing was loaded from it")
    ]
    summary = loader.load(db_path, [path])
    assert (summary.removed, summary.error_count) == (0, 1)
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM studies").fetchone() == (3,)
    assert read("42", "n.json").errors[0].message == "not CSL-JSON: expected an array of items or one item"


@pytest.mark.parametrize("db", ["corpus_db", "tricky_db"])
def test_our_csl_json_export_reads_back_to_the_database(db, request):
    for study, record in exported_and_read_back(request.getfixturevalue(db), "csl-json", read):
        assert_reads_back(study, record, ("title_nocase",))


def test_loading_a_csl_json_file_end_to_end(tmp_path):
    shutil.copy(FIXTURES / "zotero.json", tmp_path / "zotero.json")
    db_path = tmp_path / "evidence.db"
    summary = loader.load(db_path, [tmp_path / "zotero.json"])
    assert (summary.studies, summary.error_count, summary.warning_count) == (3, 0, 1)
    with sqlite3.connect(db_path) as conn:
        rows = conn.execute(
            "SELECT key, year, month, journal_abbrev, pmcid, design, design_source, source_line "
            "FROM studies ORDER BY key"
        ).fetchall()
        assert rows == [
            ("cherkin2009", 2009, "may", "Arch Intern Med", "PMC2832641", "rct", "zotero.json:75", 2),
            ("takano2012", 2012, "dec", None, None, None, None, 143),
            (
                "vickersAcupunctureChronicPain2018",
                2018,
                "may",
                "J Pain",
                "PMC5927830",
                "ipd-meta-analysis",
                "zotero.json:140",
                78,
            ),
        ]
        assert conn.execute("SELECT title, doi FROM studies WHERE key = 'takano2012'").fetchone() == (
            None,
            "10.1016/j.jpain.2012.09.012",
        )
        assert conn.execute(
            "SELECT a.family, a.display FROM study_authors sa JOIN authors a ON a.id = sa.author_id "
            "WHERE sa.study_key LIKE 'vickers%' AND sa.position = 10"
        ).fetchone() == ("Acupuncture Trialists' Collaboration", "Acupuncture Trialists' Collaboration")
        conditions = conn.execute(
            "SELECT condition_id FROM study_conditions WHERE study_key LIKE 'vickers%' ORDER BY condition_id"
        ).fetchall()
        assert conditions == [("chronic-pain",), ("headache",)]
        assert conn.execute("SELECT file, line, entry_key FROM load_errors").fetchall() == [
            ("zotero.json", 143, "takano2012")
        ]
