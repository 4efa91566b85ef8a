"""One study from many sources: matching, stable keys across reloads, and what a failed reload keeps."""

import itertools
from pathlib import Path

from sqlite_utils import Database

from evidence import loader


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def studies(db_path: Path) -> dict[str, tuple]:
    return {r["key"]: (r["journal"], r["doi"], r["pmid"]) for r in Database(db_path).query("select * from studies")}


def test_reloading_one_unchanged_file_changes_nothing(tmp_path):
    a = write(
        tmp_path / "a.bib",
        "@article{vickers2012, title={Acupuncture for chronic pain}, journal={Arch Intern Med},"
        " year={2012}, doi={10.1000/ipd}}\n",
    )
    b = write(
        tmp_path / "b.bib",
        "@article{vickers2012ipd, title={Acupuncture for chronic pain},"
        " journal={Archives of Internal Medicine}, year={2012}, doi={10.1000/IPD}}\n",
    )
    db = tmp_path / "e.db"
    loader.load(db, [a, b])
    before = studies(db)
    assert list(before) == ["vickers2012"]
    again = loader.load(db, [a])
    assert (again.unchanged, again.added, again.removed) == (1, 0, 0) and studies(db) == before
    again = loader.load(db, [b])
    assert (again.unchanged, again.added, again.removed) == (1, 0, 0) and studies(db) == before


def test_made_up_keys_stay_with_their_studies_when_one_file_is_reloaded(tmp_path):
    refs = write(
        tmp_path / "r.txt",
        "1. Cherkin DC, Sherman KJ. Acupuncture for low back pain: a trial. Spine J. 2009;9(1):1-10. doi:10.1000/lbp\n",
    )
    pubmed = write(
        tmp_path / "p.nbib",
        "PMID- 99999990\nTI  - Acupuncture for neck pain.\nFAU - Cherkin, Daniel C\n"
        "DP  - 2009 Jan\nJT  - Pain\nLID - 10.1000/neck [doi]\n",
    )
    db = tmp_path / "e.db"
    loader.load(db, [refs, pubmed])
    before = {k: v[1] for k, v in studies(db).items()}
    assert before == {"cherkin2009": "10.1000/lbp", "cherkin2009a": "10.1000/neck"}
    for file in (refs, pubmed, refs):
        summary = loader.load(db, [file])
        assert summary.unchanged == 2 and {k: v[1] for k, v in studies(db).items()} == before


def test_a_made_up_key_gives_way_to_a_given_key_loaded_later(tmp_path):
    pubmed = write(tmp_path / "a.nbib", "PMID- 99999991\nTI  - A trial of needling.\nFAU - Smith, Ann\nDP  - 2009\n")
    bib = write(
        tmp_path / "b.bib",
        "@article{smith2009, title={Another study}, author={Smith, Bob}, year={2009}, doi={10.1000/other}}\n",
    )
    db = tmp_path / "e.db"
    summary = loader.load(db, [pubmed, bib])
    assert summary.error_count == 0
    assert {k: v[1:] for k, v in studies(db).items()} == {
        "smith2009": ("10.1000/other", None),
        "smith2009a": (None, "99999991"),
    }


def test_matching_is_transitive_and_does_not_depend_on_file_order(tmp_path):
    files = [
        write(tmp_path / "doi.bib", "@article{x, title={One study}, doi={10.1000/one}}\n"),
        write(tmp_path / "pmid.bib", "@article{y, title={One study, again}, pmid={99999992}}\n"),
        write(tmp_path / "both.bib", "@article{z, title={One study}, doi={10.1000/one}, pmid={99999992}}\n"),
    ]
    for order in itertools.permutations(files):
        db = tmp_path / f"{'-'.join(p.stem for p in order)}.db"
        summary = loader.load(db, list(order))
        assert summary.studies == 1 and summary.merged == 2, [p.name for p in order]
    conflicting = write(tmp_path / "other.bib", "@article{w, title={One study}, doi={10.1000/two}, pmid={99999992}}\n")
    summary = loader.load(tmp_path / "conflict.db", [*files, conflicting])
    assert summary.studies == 2  # a second DOI never joins a study that has one


def test_entries_on_one_line_load_and_check_tells_them_apart(tmp_path):
    data = write(
        tmp_path / "one-line.json",
        '[{"id": "a", "type": "article-journal", "title": "First", "DOI": "10.1000/a"},'
        ' {"id": "b", "type": "article-journal", "title": "Second", "DOI": "10.1000/a"}]',
    )
    summary = loader.load(tmp_path / "e.db", [data])
    assert summary.studies == 1 and summary.merged == 1
    report = loader.check([data])
    assert any("same study as" in p.message and p.entry_key == "b" for p in report.problems)


def test_a_file_that_fails_on_reload_keeps_what_it_loaded(tmp_path):
    refs = write(
        tmp_path / "refs.txt",
        "1. Doe J, Roe R. Needling for pain. Pain. 2010;1(1):1-2. doi:10.1000/a\n\n"
        "2. Poe P. Needling for sleep. Sleep. 2011;2(2):3-4. doi:10.1000/b\n",
    )
    db = tmp_path / "e.db"
    assert loader.load(db, [refs]).studies == 2
    write(
        refs, "1. Doe J, Roe R. Needling for pain. Pain. 2010;1(1):1-2. doi:10.1000/a\n\n2. This line is no reference\n"
    )
    summary = loader.load(db, [refs])
    assert summary.error_count == 1 and summary.studies == 2  # the entry that no longer parses keeps its version
    write(refs, "TY  - JOUR\nTI  - RIS text in a .txt file\nER  - \n")
    summary = loader.load(db, [tmp_path / "refs.txt"], format="bibtex")
    assert summary.studies == 2 and "no bibtex entries could be read from it" in summary.errors[0].message
    write(refs, "")
    assert loader.load(db, [refs]).studies == 0  # an emptied file removes its studies


def test_a_byte_order_mark_wins_over_encoding(tmp_path):
    ris = tmp_path / "endnote.ris"
    ris.write_bytes("TY  - JOUR\r\nTI  - Åkeson on needling\r\nDO  - 10.1000/bom\r\nER  - \r\n".encode("utf-8-sig"))
    summary = loader.load(tmp_path / "e.db", [ris], encoding="latin-1")
    assert summary.error_count == 0
    assert next(Database(tmp_path / "e.db").query("select title from studies"))["title"] == "Åkeson on needling"
