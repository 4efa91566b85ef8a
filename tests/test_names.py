"""Names as biber reads them (BibTeX, biblatex's extended format, group authors), Embase RIS names, and exports
of every shape of name, read back as the same names by biber and by the readers and never with an empty name
("and , X", on which biber crashes)."""

import json
import shutil
import subprocess
import xml.etree.ElementTree as ElementTree

import pytest
import rispy
from click.testing import CliRunner
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from evidence.cli import cli
from evidence.formats import bibtex, csljson, ris
from evidence.formats.bibtex_names import encode_name, split_names
from evidence.formats.latex import decode_latex
from evidence.formats.reading import split_particle
from evidence.records import Person, TaggedStudy

needs_biber = pytest.mark.skipif(shutil.which("biber") is None, reason="biber is not installed")
BIBLATEXML = "{http://biblatex-biber.sourceforge.net/biblatexml}"

# Names whose reading trips BibTeX readers; biber reads each as this project does (see test_biber_agrees).
TRICKY = [
    "Van de Graaff, R. J.",
    "von Neumann, J.",
    "de la Fontaine, Jean",
    "Ludwig van Beethoven",
    "{Barnes and Noble, Inc.}",
    "Doe, Jr., John",
    "Doe, John, Jr.",
    "Ford, Jr., Henry and Ford III, Henry",
    "Martin Luther King, Jr.",
    "family=Adler, given=Alfred, prefix=von, useprefix=true",
    "given={Jean Pierre}, family=Smith and Doe, John",
    "prefix=van, family=Gogh, given=Vincent",
    "family=Smith, given=John, suffix=Jr.",
    "family=Smith, given=J. and Doe, Jane and family=Roe, given=R.",
    "Jean-Pierre Dupont and {\\'E}mile Zola and \\'emile Zola and élodie Durand",
    "Charles Louis Xavier Joseph de la Vall{\\'e}e Poussin",
    "Van Dyke, Dick and van Dyke, Dick and Dick Van Dyke and Dick van Dyke",
    "{von Neumann}, John and Juan {de la} Cierva and {World Health Organization}",
    "De La Fontaine, Jean and De la Fontaine, Jean and Jean de La Fontaine and jean de la fontaine",
    "Guerreiro da Silva, Ana and Maria da Silva",
    "de Souza e Silva, Edmundo and Edmundo de Souza e Silva",
    "van 't Hoff, Jacobus and Jacobus van 't Hoff",
    "Smith-Jones, Mary-Ann and Mary-Ann Smith-Jones and jean-Pierre Fontaine",
    "Brinch Hansen, Per and Per Brinch Hansen and Per {Brinch Hansen}",
    '{\\"O}zt{\\"u}rk, Mehmet and \\"{O}zt\\"{u}rk, Mehmet and {\\"u}ber Alles, Hans',
    "J.~R. Smith and Smith, J.~R. and Jean~de~la Fontaine",
    "Aristotle and {Aristotle} and O'Brien, Sean and Sean O'Brien",
    "d'Alembert, Jean and Jean d'Alembert and Ch{\\^a}teau, Guy du and Guy du Ch{\\^a}teau",
    "ten Brink, Hans and Della Rocca, Marco and Marco Della Rocca and al-Khwarizmi, Muhammad",
    "{Van} de Graaff, R. and {\\relax van} Gogh, V and {van der} Berg, B.",
    "Doe, Jr., {} and Doe, Jr., and Gao, F.-Q. and Smith,John and Smith , John",
    "Smith, J and Doe, J and others",
]


def biber_names(tmp_path, text: str) -> dict[str, list[tuple[str, str, str, str]]]:
    """Each entry's names as biber reads them: (family, given, prefix, suffix), each part's braces taken off."""
    (tmp_path / "in.bib").write_text(text, encoding="utf-8")
    result = subprocess.run(
        ["biber", "--tool", "--output-resolve", "--output-format=biblatexml", "--output-file=out.xml", "in.bib"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    names = {}
    for entry in ElementTree.parse(tmp_path / "out.xml").getroot().iter(f"{BIBLATEXML}entry"):
        names[entry.get("id")] = [
            tuple(_biber_part(name, part) for part in ("family", "given", "prefix", "suffix"))
            for name in entry.iter(f"{BIBLATEXML}name")
        ]
    return names


def _biber_part(name, kind: str) -> str:
    part = next((p for p in name.findall(f"{BIBLATEXML}namepart") if p.get("type") == kind), None)
    if part is None:
        return ""
    words = part.findall(f"{BIBLATEXML}namepart")
    return decode_latex(" ".join(w.text or "" for w in words) if words else part.text or "")


def our_names(text: str) -> dict[str, list[tuple[str, str, str, str]]]:
    result = bibtex.read(text, "in.bib")
    return {r.key: [(p.family, p.given, p.particle, p.suffix) for p in r.authors] for r in result.records}


def bib_file(name_lists: list[str]) -> str:
    return "".join(
        f"@misc{{k{i},\n  author = {{{names}}},\n  title = {{T}},\n}}\n" for i, names in enumerate(name_lists)
    )


@needs_biber
def test_biber_agrees(tmp_path):
    text = bib_file(TRICKY)
    ours, biber = our_names(text), biber_names(tmp_path, text)
    assert [(names, ours[f"k{i}"]) for i, names in enumerate(TRICKY)] == [
        (names, biber[f"k{i}"]) for i, names in enumerate(TRICKY)
    ]


def test_names_as_biber_reads_them():
    names = our_names(bib_file(TRICKY))
    assert names["k0"] == [("Van de Graaff", "R. J.", "", "")]
    assert names["k1"] == [("Neumann", "J.", "von", "")]
    assert names["k3"] == [("Beethoven", "Ludwig", "van", "")]
    assert names["k4"] == [("Barnes and Noble, Inc.", "", "", "")]
    assert names["k5"] == [("Doe", "John", "", "Jr.")]
    assert names["k9"] == [("Adler", "Alfred", "von", "")]
    assert names["k10"] == [("Smith", "Jean Pierre", "", ""), ("Doe", "John", "", "")]
    assert names["k19"] == [("Guerreiro da Silva", "Ana", "", ""), ("Silva", "Maria", "da", "")]
    assert names["k20"] == [("Souza e Silva", "Edmundo", "de", "")] * 2


def test_where_this_reader_differs_from_biber(tmp_path):
    """A leading comma (biber crashes), a given name alone (biber: no family name) and a braced comma in an
    extended name (biber splits the part there) give group authors."""
    text = bib_file(["Smith, J and , PRISMA-P Group", "given=Madonna", "family={Barnes and Noble, Inc.}"])
    assert list(our_names(text).values()) == [
        [("Smith", "J", "", ""), ("PRISMA-P Group", "", "", "")],
        [("Madonna", "", "", "")],
        [("Barnes and Noble, Inc.", "", "", "")],
    ]


def test_an_unknown_part_of_an_extended_name_is_a_warning_with_file_line_and_key():
    text = "@misc{adler,\n  title = {T},\n  author = {family=Adler, given=Alfred, nickname=Al},\n}\n"
    result = bibtex.read(text, "in.bib")
    assert result.records[0].authors == [Person("Adler", "Alfred")]
    assert [(e.file, e.line, e.entry_key, e.message) for e in result.errors if "DOI" not in e.message] == [
        (
            "in.bib",
            3,
            "adler",
            "field 'author': 'nickname=Al' in name 'family=Adler, given=Alfred, nickname=Al' is not a part of a "
            "biblatex name; left out",
        )
    ]


def test_a_third_comma_is_a_warning_and_read_as_a_space():
    """biber leaves out an entry with such a name; this reader keeps it and says what it did."""
    result = bibtex.read("@misc{k, title = {T},\n author = {Doe, Jr., John, Extra and Roe, R}}\n", "in.bib")
    assert result.records[0].authors == [Person("Doe", "John Extra", "", "Jr."), Person("Roe", "R")]
    assert [(e.line, e.message) for e in result.errors if "DOI" not in e.message] == [
        (
            2,
            "field 'author': name 'Doe, Jr., John, Extra' has more than two commas; read with the third and later "
            "ones as spaces",
        )
    ]


def test_a_group_after_a_leading_comma_is_loaded_and_exported_without_an_empty_name(tmp_path):
    source = tmp_path / "prisma.bib"
    source.write_text(
        "@article{moher2015,\n  author = {Moher, David and , PRISMA-P Group},\n"
        "  title = {Preferred reporting items for systematic review and meta-analysis protocols},\n"
        "  year = {2015},\n  doi = {10.1186/2046-4053-4-1},\n}\n",
        encoding="utf-8",
    )
    db = tmp_path / "evidence.db"
    assert CliRunner().invoke(cli, ["load", str(db), str(source), "--quiet"]).exit_code == 0
    exported = {}
    for name, suffix in (("bibtex", "bib"), ("ris", "ris"), ("csl-json", "json")):
        out = tmp_path / f"export.{suffix}"
        result = CliRunner().invoke(cli, ["export", str(db), "-f", name, "-o", str(out)])
        assert result.exit_code == 0, result.output
        exported[name] = out.read_text(encoding="utf-8")
    assert "and ," not in exported["bibtex"]
    assert bibtex.read(exported["bibtex"], "x.bib").records[0].authors == [
        Person("Moher", "David"),
        Person("PRISMA-P Group"),
    ]
    assert rispy.loads(exported["ris"])[0]["authors"] == ["Moher, David", "PRISMA-P Group"]
    assert json.loads(exported["csl-json"])[0]["author"] == [
        {"family": "Moher", "given": "David"},
        {"literal": "PRISMA-P Group"},
    ]
    if shutil.which("biber"):
        assert biber_names(tmp_path, exported["bibtex"]) == {
            "moher2015": [("Moher", "David", "", ""), ("PRISMA-P Group", "", "", "")]
        }


# Every shape of Person, written and read back

PARTICLES = st.lists(st.sampled_from(["van", "der", "de", "la", "von", "du", "ten"]), max_size=2).map(" ".join)


def people(characters: str) -> st.SearchStrategy[Person]:
    """Persons whose parts hold words of these characters, and words that mean something in a name list."""
    words = st.text(st.sampled_from(characters), min_size=1, max_size=6)
    text = st.lists(st.one_of(words, st.sampled_from(["and", "And", "others", "Jr.", "III", "von", "de"])), max_size=3)
    return st.builds(
        Person, family=text.map(" ".join), given=text.map(" ".join), particle=PARTICLES, suffix=text.map(" ".join)
    )


PEOPLE = people("abcXYZéÉøß-.'&%$_#^~{}\\=,")
# biber decodes \textbraceleft, \textbraceright, \textbackslash, \textasciitilde and \textasciicircum before it
# splits a name, then reads them as LaTeX (a brace, a tie, an accent): names holding them are left out here.
PEOPLE_WITHOUT_BRACES = people("abcXYZéÉøß-.'&%$_#=,")


def read_back_as(p: Person) -> Person:
    """The Person an export of ``p`` reads back as: its parts on one line with single spaces; a name without
    family name, or with more than two commas in all in BibTeX, whole, as one family name."""
    family, given, particle, suffix = (" ".join(x.split()) for x in (p.family, p.given, p.particle, p.suffix))
    separators = bool(given or suffix) + bool(suffix)
    if not family or (separators or particle) and (family + given + particle + suffix).count(",") + separators > 2:
        return Person(" ".join(x for x in (given, particle, family, suffix) if x))
    return Person(family, given, particle, suffix)


def exported_names(people_lists: list[list[Person]]) -> str:
    names = [list(filter(None, map(encode_name, people))) for people in people_lists]
    written = [" and ".join(each) for each in names]
    assert [split_names(each) for each in written] == names  # "and" splits nothing else; no name starts ","
    assert not any(name.startswith(",") for each in names for name in each)
    return bib_file([names or "{Nobody}" for names in written])


def expected(people_lists: list[list[Person]]) -> dict[str, list[tuple[str, str, str, str]]]:
    read = [[read_back_as(p) for p in people if read_back_as(p).family] for people in people_lists]
    return {
        f"k{i}": [(p.family, p.given, p.particle, p.suffix) for p in people] or [("Nobody", "", "", "")]
        for i, people in enumerate(read)
    }


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.lists(st.lists(PEOPLE, min_size=1, max_size=3), min_size=1, max_size=4))
def test_every_shape_of_name_reads_back_from_bibtex(people_lists):
    assert our_names(exported_names(people_lists)) == expected(people_lists)


@needs_biber
@settings(max_examples=4, derandomize=True, deadline=None, phases=[Phase.generate])  # biber takes a second a run
@given(st.lists(st.lists(PEOPLE_WITHOUT_BRACES, min_size=1, max_size=3), min_size=30, max_size=30))
def test_biber_reads_every_shape_of_name_as_written(tmp_path_factory, people_lists):
    text = exported_names(people_lists)
    assert biber_names(tmp_path_factory.mktemp("biber"), text) == expected(people_lists)


SHAPES = [
    Person(family, given, particle, suffix)
    for family in ("", "Smith", "Hepatitis B", "World Health Organization")
    for given in ("", "J.", "Mary Ann")
    for particle in ("", "van der")
    for suffix in ("", "Jr.")
]


def unbraced(p: Person) -> Person:
    """A name as RIS gives it back, where no braces keep a family name whole: its leading lower-case words
    are a particle ("van der" without family name)."""
    if p.given or p.particle or p.suffix:
        return p
    particle, family = split_particle(p.family)
    return Person(family, particle=particle)


def test_every_shape_of_name_reads_back_from_ris_and_csl():
    """Family only, given only, particle only, an empty family name, a group: the RIS and CSL-JSON exports give
    every name back (a name without family name whole, as one), and no empty one."""
    expected_people = [read_back_as(p) for p in SHAPES if read_back_as(p).family]
    written = [ris._name(p) for p in SHAPES]
    assert all(name == "" or not name.startswith(",") for name in written)
    assert [ris._person(name) for name in written if name] == [unbraced(p) for p in expected_people]
    study = csljson.read(json.dumps([{"id": "k", "type": "article", "title": "T"}]), "k.json").records[0]
    study.authors = SHAPES
    item = csljson.item(TaggedStudy(study))
    assert all(name.get("family") or name.get("literal") for name in item["author"])
    assert csljson.read(json.dumps([item]), "x.json").records[0].authors == expected_people
