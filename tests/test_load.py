import shutil
import sqlite3
import sys
from pathlib import Path

from click.testing import CliRunner
from sqlite_utils import Database

from evidence import loader, store
from evidence.cli import cli

# The reference list of the source article, as verified facts (identifiers checked against public
# records; None where no record could confirm one, see each entry's note).
VERIFIED = {
    "cherkin2009": ("10.1001/archinternmed.2009.65", "19433697", "PMC2832641", 2009, "858-866"),
    "chung2003": (None, None, None, 2003, None),
    "guerreirodasilva2004": ("10.1136/aim.22.2.60", None, None, 2004, None),
    "inoue2009": (None, None, None, 2009, None),
    "ernst1998": ("10.1038/sj.bdj.4809654", "9617000", None, 1998, "443-447"),
    "ezzo2006": (None, None, None, 2006, None),
    "kim2025": ("10.3390/medicina61071287", "40731916", None, 2025, "1287"),
    "lee2015pc6": ("10.1002/14651858.cd003281.pub4", "26522652", "PMC4679372", 2015, "CD003281"),
    "lee2025pc6": ("10.1002/14651858.cd003281.pub5", "40938065", None, 2025, "CD003281"),
    "lin2026": ("10.3389/fneur.2025.1692411", None, "PMC12812548", 2026, None),
    "linde2016": ("10.1002/14651858.cd001218.pub3", "27351677", None, 2016, "CD001218"),
    "muller2023": ("10.1016/j.jdsr.2023.02.005", "36950225", "PMC10025006", 2023, "114-128"),
    "smith2020": ("10.1002/14651858.cd009232.pub2", "32032444", "PMC7007200", 2020, "CD009232"),
    "sun2008": ("10.1093/bja/aen146", None, None, 2008, "151-160"),
    "wu2016": ("10.1371/journal.pone.0150367", "26959661", "PMC4784927", 2016, "e0150367"),
    "inoue2006": ("10.1136/aim.24.3.103", "17013356", None, 2006, "103"),
    "kvorning2004": ("10.1111/j.0001-6349.2004.0215.x", "14995919", None, 2004, "246-250"),
    "lee2013": ("10.1097/ajp.0b013e31824909f9", None, None, 2013, "172-185"),
    "manheimer2005": ("10.7326/0003-4819-142-8-200504190-00014", "15838072", None, 2005, "651-663"),
    "shin2013": ("10.1016/j.pain.2013.03.013", None, None, 2013, "1030-1037"),
    "takano2012": ("10.1016/j.jpain.2012.09.012", None, None, 2012, "1215-1223"),
    "vickers2018": ("10.1016/j.jpain.2017.11.005", "29198932", "PMC5927830", 2018, "455-474"),
    # issue 18: reviews and trials that answer the claims that were not in the database
    "deare2013": ("10.1002/14651858.cd007070.pub2", "23728665", "PMC4105202", 2013, "CD007070"),
    "cao2013": ("10.1155/2013/362831", "24454493", "PMC3877582", 2013, "362831"),
    "cheuk2012": ("10.1002/14651858.cd005472.pub3", "22972087", None, 2012, "CD005472"),
    "cao2009": ("10.1089/acm.2009.0041", "19922248", "PMC3156618", 2009, "1171-1186"),
    "park2013": ("10.1186/1472-6882-13-55", None, None, 2013, "55"),
    "kwon2018": ("10.1016/j.imr.2018.01.002", "30271710", "PMC6160503", 2018, "219-230"),
    "hsieh2006": ("10.1136/bmj.38744.672616.ae", "16488895", "PMC1410852", 2006, "696-700"),
    "hsieh2010": ("10.1142/s0192415x10007634", "20128040", None, 2010, "1-14"),
    "furlan2015": ("10.1002/14651858.cd001929.pub3", "26329399", None, 2015, "CD001929"),
    "rubinstein2019": ("10.1136/bmj.l689", "30867144", "PMC6396088", 2019, "l689"),
}


def test_every_cited_study_is_loaded_with_its_verified_identifiers(corpus_db):
    db = Database(corpus_db)
    rows = {
        r["key"]: (r["doi"], r["pmid"], r["pmcid"], r["year"], r["pages"]) for r in db.query("select * from studies")
    }
    assert rows == VERIFIED
    unverified = [r["key"] for r in db.query("select key from studies where doi is null and pmid is null")]
    notes = {r["key"]: r["note"] for r in db.query("select key, note from studies")}
    assert all("verif" in notes[key].lower() for key in unverified)


def test_authors_are_kept_in_order_with_diacritics(corpus_db):
    db = Database(corpus_db)
    authors = [
        r["display"]
        for r in db.query(
            "select a.display from study_authors sa join authors a on a.id = sa.author_id "
            "where sa.study_key = 'kvorning2004' order by sa.position"
        )
    ]
    assert authors == ["Kvorning N", "Holmberg C", "Grennert L", "Åberg A", "Åkeson J"]
    cherkin = db.execute("select count(*) from study_authors where study_key = 'cherkin2009'").fetchone()[0]
    assert cherkin == 12
    guerreiro = db.execute(
        "select family, given from authors a join study_authors sa on sa.author_id = a.id "
        "where sa.study_key = 'guerreirodasilva2004' and sa.position = 1"
    ).fetchone()
    assert guerreiro == ("Guerreiro da Silva", "João Bosco")


def test_tags_record_their_provenance(corpus_db):
    db = Database(corpus_db)
    bib_lines = (loader.DATA_DIR / "studies.bib").read_text(encoding="utf-8").splitlines()
    for row in db.query("select study_key, condition_id, provenance, source from study_conditions"):
        assert row["provenance"] == "curated"
        file, _, line = row["source"].rpartition(":")
        assert file.endswith("data/studies.bib")
        assert f"condition:{row['condition_id']}" in bib_lines[int(line) - 1]
    design = db.execute(
        "select design, design_provenance, design_source from studies where key = 'vickers2018'"
    ).fetchone()
    assert design[:2] == ("ipd-meta-analysis", "curated")
    outcome_lines = (loader.DATA_DIR / "studies.outcomes.yaml").read_text(encoding="utf-8").splitlines()
    rows = list(db.query("select * from study_outcomes where study_key = 'cherkin2009' order by position"))
    assert [(r["outcome_id"], r["comparator"], r["direction"]) for r in rows[:2]] == [
        ("back-function", "usual-care", "benefit"),
        ("back-function", "sham-acupuncture", "no-difference"),
    ]
    for row in rows:
        line = int(row["source"].rpartition(":")[2])
        assert "outcome:" in outcome_lines[line - 1]


def test_condition_hierarchy_rolls_up(corpus_db):
    db = Database(corpus_db)
    ancestors = {
        r["ancestor_id"]
        for r in db.query("select ancestor_id from condition_ancestors where condition_id = 'pelvic-girdle-pain'")
    }
    assert {"pregnancy-complications", "pain", "musculoskeletal-pain"} <= ancestors
    under_back_pain = {
        r["study_key"]
        for r in db.query(
            "select distinct sc.study_key from study_conditions sc join condition_ancestors ca "
            "on ca.condition_id = sc.condition_id where ca.ancestor_id = 'back-pain'"
        )
    }
    assert under_back_pain == {
        "cherkin2009",
        "furlan2015",
        "hsieh2006",
        "rubinstein2019",
        "guerreirodasilva2004",
        "inoue2006",
        "inoue2009",
        "kvorning2004",
        "lee2013",
        "manheimer2005",
        "shin2013",
    }


def test_missing_identifiers_are_warned_about(corpus_db):
    db = Database(corpus_db)
    warned = {
        r["entry_key"] for r in db.query("select entry_key from load_errors where message like 'no DOI or PMID%'")
    }
    assert warned == {"chung2003", "inoue2009", "ezzo2006"}


def dump(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        return list(conn.iterdump())


def test_loading_twice_gives_the_same_database(tmp_path):
    first, second = tmp_path / "a.db", tmp_path / "b.db"
    loader.load(first, loader.default_inputs())
    loader.load(second, loader.default_inputs())
    summary = loader.load(second, loader.default_inputs())
    assert (summary.added, summary.updated, summary.unchanged) == (0, 0, 32)
    assert dump(first) == dump(second)
    assert not (tmp_path / "b.db.tmp").exists()


def test_content_hash_depends_on_values_only():
    """Equal rows hash alike however their strings were made: one object in two places or two equal objects,
    interned or not. Any changed value, or text moved from one field to the next, changes the hash."""
    key = "".join(["cherkin", "2009"])  # made at run time: not interned
    once = (
        (key, "Acupuncture for back pain", 2009, None),
        "@article{...}",
        [("Cherkin", "Daniel C.")],
        [(key, "low-back-pain", "curated", "")],
        [(key, 1, "pain", "", "usual-care", "better")],
    )
    twice = (
        (sys.intern("cherkin2009"), "".join(["Acupuncture ", "for back pain"]), 2009, None),
        "@article{...}",
        [("Cherkin", "Daniel C.")],
        [("".join(["cherkin", "2009"]), "low-back-pain", "curated", "")],
        [("cherkin" + str(2009), 1, "pain", "", "usual-care", "better")],
    )
    assert once == twice and store.write.content_hash(*once) == store.write.content_hash(*twice)
    changed = once[:3] + ([(key, "back-pain", "curated", "")],) + once[4:]
    assert store.write.content_hash(*once) != store.write.content_hash(*changed)
    assert store.write.content_hash(("ab", "c")) != store.write.content_hash(("a", "bc"))
    assert store.write.content_hash(("2009",)) != store.write.content_hash((2009,))


def test_changed_file_updates_only_changed_studies(tmp_path, corpus_copy):
    db_path = tmp_path / "e.db"
    loader.load(db_path, [corpus_copy])
    text = corpus_copy.read_text(encoding="utf-8")
    text = text.replace("condition:acute-low-back-pain, design:rct", "condition:low-back-pain, design:rct")
    start = text.index("@article{chung2003")
    text = text[:start] + text[text.index("@article{guerreirodasilva2004") :]
    corpus_copy.write_text(text, encoding="utf-8")
    summary = loader.load(db_path, [corpus_copy])
    # shin2013 changed its tag; the 29 others after chung2003 moved up, so their provenance lines changed
    assert (summary.updated, summary.removed, summary.unchanged) == (30, 1, 1)
    db = Database(db_path)
    assert db.execute("select count(*) from studies where key = 'chung2003'").fetchone()[0] == 0
    assert [
        r["condition_id"] for r in db.query("select condition_id from study_conditions where study_key = 'shin2013'")
    ] == ["low-back-pain"]
    # the BibTeX entries kept for exports follow: chung2003's is gone, shin2013's carries its new tag
    entries = dict(db.execute("select study_key, entry from study_bibtex").fetchall())
    assert len(entries) == 31 and "chung2003" not in entries
    assert "keywords = {condition:low-back-pain, design:rct" in entries["shin2013"]


def test_stored_bibtex_is_a_cache_outside_the_content_hash(tmp_path, corpus_copy, monkeypatch):
    """A change to the BibTeX writer changes no study (the entries are not in the content hash), and the next load
    writes every stored entry again: they are stamped with the writer that wrote them."""
    from evidence.formats import bibtex

    db_path = tmp_path / "e.db"
    loader.load(db_path, [corpus_copy])
    written = bibtex.entry
    monkeypatch.setattr(bibtex, "entry", lambda study: written(study) + "% a newer writer\n")
    monkeypatch.setattr(store.write, "bibtex_writer", lambda: "newer")
    summary = loader.load(db_path, [corpus_copy])
    assert (summary.unchanged, summary.updated, summary.added) == (32, 0, 0)
    with sqlite3.connect(db_path) as conn:
        rows = conn.execute("select entry, writer from study_bibtex").fetchall()
    assert len(rows) == 32 and all(entry.endswith("% a newer writer\n") and writer == "newer" for entry, writer in rows)
    monkeypatch.undo()
    assert loader.load(db_path, [corpus_copy]).unchanged == 32
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("select count(*) from study_bibtex where entry like '%newer writer%'").fetchone()[0] == 0


def write_bib(path: Path, body: str) -> Path:
    path.write_text(body, encoding="utf-8")
    return path


def test_malformed_entry_and_unknown_tag_beside_good_entries(tmp_path):
    bib = write_bib(
        tmp_path / "mixed.bib",
        """
@article{ok1,
  title = {A good study},
  doi = {10.1000/ok1},
  keywords = {condition:low-back-pains, design:rct},
}

@article{bad,
  title = {Never closed,
  doi = {10.1000/bad},
}

@article{ok2,
  title = {Another good study of chronic low back pain},
  pmid = {1000002},
}
""",
    )
    db_path = tmp_path / "e.db"
    summary = loader.load(db_path, [bib])
    db = Database(db_path)
    assert sorted(r["key"] for r in db.query("select key from studies")) == ["ok1", "ok2"]
    errors = {(r["entry_key"], r["line"]): r for r in db.query("select * from load_errors where severity = 'error'")}
    assert "malformed entry" in errors[("bad", 8)]["message"]
    assert "Never closed" in errors[("bad", 8)]["raw"]
    unknown = errors[("ok1", 5)]["message"]
    assert "unknown condition 'low-back-pains'" in unknown and "nearest known: low-back-pain" in unknown
    assert summary.error_count == 2
    # ok1 keeps its valid curated design; ok2 has no curated tags, so the rules tag it, saying why
    assert db.execute("select design, design_provenance from studies where key = 'ok1'").fetchone() == (
        "rct",
        "curated",
    )
    rule = db.execute(
        "select condition_id, provenance, source from study_conditions where study_key = 'ok2'"
    ).fetchone()
    assert rule == ("chronic-low-back-pain", "rule", "rule:condition-title matched 'chronic low back pain'")


def test_one_study_in_two_files_becomes_one_row_with_both_sources(tmp_path):
    first = write_bib(tmp_path / "one.bib", "@article{a, title={First}, doi={10.1000/same}}\n")
    second = write_bib(
        tmp_path / "two.bib",
        "@article{b, title={Second}, doi={10.1000/SAME}, year={2001}}\n@article{a, title={Clash}, pmid={5}}\n",
    )
    db_path = tmp_path / "e.db"
    summary = loader.load(db_path, [first, second])
    db = Database(db_path)
    # the first file names the study; the more complete entry gives its fields
    assert [tuple(r) for r in db.execute("select key, title, year from studies")] == [("a", "Second", 2001)]
    assert summary.merged == 1 and summary.studies == 1
    assert [
        tuple(r)
        for r in db.execute(
            "select file, line, entry_key, format, is_primary, matched_on from study_sources order by file"
        )
    ] == [("one.bib", 1, "a", "bibtex", 0, "first"), ("two.bib", 1, "b", "bibtex", 1, "doi")]
    assert [
        tuple(r)
        for r in db.execute("select field, kept_value, kept_source, other_value, other_source from field_disagreements")
    ] == [("title", "Second", "two.bib:1", "First", "one.bib:1")]
    clash = [e for e in summary.errors if e.message.startswith("duplicate key")]
    assert [(e.file, e.line, e.entry_key) for e in clash] == [("two.bib", 2, "a")]
    assert "one.bib:1 holds this key for a different study" in clash[0].message
    again = loader.load(db_path, [second])  # reloading one of the files keeps the other's source
    assert again.studies == 1 and again.unchanged == 1 and again.merged == 1


def test_cli_load_reports_and_strict_fails(tmp_path):
    bib = write_bib(
        tmp_path / "bad.bib", "@article{x, title={Fine}, doi={10.1000/x}}\n@article{y,\n title={Broken\n}\n"
    )
    runner = CliRunner()
    db_path = str(tmp_path / "e.db")
    result = runner.invoke(cli, ["load", db_path, str(bib)])
    assert result.exit_code == 0
    assert "1 studies (1 added" in result.output and "1 errors" in result.output
    assert "bad.bib:2 [y]: error: malformed entry" in result.output
    strict = runner.invoke(cli, ["load", "--strict", db_path, str(bib)])
    assert strict.exit_code == 1
    default = runner.invoke(cli, ["load", db_path])
    assert default.exit_code == 0 and "33 studies (32 added, 0 updated, 1 unchanged" in default.output


def test_broken_vocabulary_is_a_clear_error(tmp_path):
    vocab = tmp_path / "vocab"
    vocab.mkdir()
    for name in ("designs", "outcomes", "comparators"):
        (vocab / f"{name}.yaml").write_text((loader.DATA_DIR / "vocabularies" / f"{name}.yaml").read_text())
    (vocab / "conditions.yaml").write_text("- {id: a, label: A, parents: [b]}\n- {id: b, label: B, parents: [a]}\n")
    result = CliRunner().invoke(cli, ["load", "--vocab", str(vocab), str(tmp_path / "e.db")])
    assert result.exit_code == 1 and "parent cycle" in result.output


def test_file_names_do_not_depend_on_the_working_directory(tmp_path, corpus_copy, monkeypatch):
    db_path = tmp_path / "e.db"
    loader.load(db_path, [corpus_copy])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    summary = loader.load(Path("../e.db"), [Path("../studies.bib")])
    assert (summary.unchanged, summary.error_count) == (32, 0)
    assert Database(db_path).execute("select distinct source_file from studies").fetchall() == [("studies.bib",)]


def test_unreadable_file_or_broken_entry_keeps_what_was_loaded_before(tmp_path, corpus_copy):
    db_path = tmp_path / "e.db"
    loader.load(db_path, [corpus_copy])
    text = corpus_copy.read_text(encoding="utf-8")
    corpus_copy.write_text(
        text.replace("@article{chung2003,\n  author = {Chung", "@article{chung2003,\n  author {Chung"), encoding="utf-8"
    )
    summary = loader.load(db_path, [corpus_copy])
    assert summary.removed == 0 and any(e.entry_key == "chung2003" for e in summary.errors)
    assert Database(db_path).execute("select count(*) from studies").fetchone()[0] == 32
    # a file that is not text (an image saved over it): it cannot be read at all
    corpus_copy.write_bytes(b"\x89PNG\r\n\x1a\n" + text.encode("utf-8"))
    summary = loader.load(db_path, [corpus_copy])
    assert summary.removed == 0 and summary.errors[0].message.startswith("a PNG image, not a bibliography")
    assert Database(db_path).execute("select count(*) from studies").fetchone()[0] == 32


def test_outcomes_file_with_a_key_twice_is_an_error(tmp_path):
    bib = write_bib(tmp_path / "s.bib", "@article{k1, title={T}, doi={10.1000/k1}}\n")
    (tmp_path / "s.outcomes.yaml").write_text(
        "k1:\n  - {outcome: pain-intensity, measure: VAS, comparator: none, direction: benefit, finding: F}\n"
        "k1:\n  - {outcome: adverse-events, measure: AE, comparator: none, direction: harm, finding: G}\n"
    )
    summary = loader.load(tmp_path / "e.db", [bib])
    assert [(e.file, e.line, e.message) for e in summary.errors if e.severity == "error"] == [
        ("s.outcomes.yaml", 3, "key 'k1' appears twice")
    ]


def test_a_database_of_another_schema_version_is_rebuilt(tmp_path):
    db_path = tmp_path / "old.db"
    old = Database(db_path)
    old["studies"].insert({"key": "stale", "title": "From an old version"})  # no user_version: version 0
    old.close()
    summary = loader.load(db_path, loader.default_inputs())
    assert summary.notes == [f"{db_path} was built by another version of evidence: rebuilt from the given files only"]
    db = Database(db_path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == store.SCHEMA_VERSION
    assert db["studies"].count == 32 and "title_nocase" in db["studies"].columns_dict
    assert loader.load(db_path, loader.default_inputs()).notes == []


def test_check_reports_duplicates_disagreements_and_unknown_terms_without_a_database(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copy(loader.DATA_DIR / "studies.bib", tmp_path / "studies.bib")
    write_bib(
        tmp_path / "other.bib",
        "@article{dup1, title={Acupuncture relieves pelvic and low-back pain in late pregnancy},\n"
        "  author={Kvorning, N.}, year={2004}, journal={Acta Obstet Gynecol Scand}, doi={10.1111/J.0001-6349.2004.0215.X}}\n"
        "@article{bad, title={Needling}, keywords={condition:back-pian}, doi={10.1000/x}}\n",
    )
    result = CliRunner().invoke(cli, ["check", "studies.bib", "other.bib"])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert (
        "other.bib:1 [dup1]: warning: same study as studies.bib:81 [kvorning2004] (matched on doi); they load as one"
        in lines
    )
    assert (
        "other.bib:1 [dup1]: warning: journal differs: 'Acta Obstet Gynecol Scand' here, "
        "'Acta Obstetricia et Gynecologica Scandinavica' at studies.bib:81 (kept)"
    ) in lines
    assert any(line.startswith("other.bib:3 [bad]: error: unknown condition 'back-pian'") for line in lines)
    assert "studies.bib:27 [chung2003]: warning: no DOI or PMID" in result.stdout
    assert result.stderr.strip() == "2 files, 34 entries, 33 studies (1 duplicate entry): 1 errors, 5 warnings"
    assert not list(tmp_path.glob("*.db"))
    clean = CliRunner().invoke(cli, ["check", "studies.bib"])
    assert clean.exit_code == 0


def test_a_made_up_key_gives_way_to_a_study_that_holds_it(tmp_path):
    other = tmp_path / "refs.txt"
    other.write_text(
        "1. Cherkin DC, Eisenberg D, Sherman KJ. Randomized trial comparing traditional Chinese medical "
        "acupuncture, therapeutic massage, and self-care education for chronic low back pain. "
        "Arch Intern Med. 2001;161(8):1081-8. doi:10.1001/archinte.161.8.1081\n",
        encoding="utf-8",
    )
    summary = loader.load(tmp_path / "e.db", [*loader.default_inputs(), other])
    assert summary.error_count == 0 and summary.studies == 33
    db = Database(tmp_path / "e.db")
    assert (
        db.execute("select key from studies where doi = '10.1001/archinte.161.8.1081'").fetchone()[0] == "cherkin2001"
    )
    other.write_text(other.read_text().replace("2001;161(8)", "2009;161(8)"))  # same family name and year now
    summary = loader.load(tmp_path / "e.db", [*loader.default_inputs(), other])
    assert summary.error_count == 0 and summary.studies == 33
    db = Database(tmp_path / "e.db")  # the load swapped in a new file
    assert (
        db.execute("select key from studies where doi = '10.1001/archinte.161.8.1081'").fetchone()[0] == "cherkin2009a"
    )
    assert (
        db.execute("select doi from studies where key = 'cherkin2009'").fetchone()[0] == "10.1001/archinternmed.2009.65"
    )
