"""Which entries are one study, on real files through the real loader and `evidence check`: a title match
never joins items that volume, issue, pages or journal tell apart, nor anonymous recurring items; an
identifier that joins two titles is a warning naming both places, and one that joins two different papers
(title and first author differ) joins nothing."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlite_utils import Database

from evidence import loader
from evidence.cli import cli


@pytest.fixture(autouse=True)
def in_tmp_path(tmp_path, monkeypatch):
    """`evidence check` names files relative to the working directory."""
    monkeypatch.chdir(tmp_path)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def stored(db: Path) -> dict[str, tuple]:
    return {r["key"]: (r["title"], r["volume"], r["doi"]) for r in Database(db).query("select * from studies")}


def check_lines(*files: Path) -> list[str]:
    result = CliRunner().invoke(cli, ["check", *map(str, files)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.output.splitlines()


# A journal's own bibliography: the running items of each issue, all by "Anonymous" (as TeX user group
# bibliographies have them), two of them in one issue of one year.
JOURNAL_BIB = """\
@Article{cal-1,
  author = {Anonymous}, title = {Calendar}, journal = {TUGboat}, year = {1998}, volume = {19}, number = {1}, pages = {98--99}}
@Article{cal-2,
  author = {Anonymous}, title = {Calendar}, journal = {TUGboat}, year = {1998}, volume = {19}, number = {2}, pages = {210--211}}
@Article{cal-3,
  author = {Anonymous}, title = {Calendar}, journal = {TUGboat}, year = {1998}, volume = {19}, number = {3}, pages = {330}}
@Article{adv-1,
  author = {Anonymous}, title = {Index of advertisers}, journal = {TUGboat}, year = {1998}, volume = {19}, number = {1}}
@Article{adv-2,
  author = {Anonymous}, title = {Index of Advertisers}, journal = {TUGboat}, year = {1998}, volume = {19}, number = {2}}
@Article{cal-again,
  author = {Anonymous}, title = {Calendar}, journal = {TUGboat}, year = {1998}}
"""


def test_anonymous_recurring_items_stay_apart_and_check_tells_only_the_indistinct_one(tmp_path):
    bib = write(tmp_path / "tugboat.bib", JOURNAL_BIB)
    summary = loader.load(tmp_path / "e.db", [bib])
    assert summary.studies == 6 and summary.merged == 0
    assert set(stored(tmp_path / "e.db")) == {"cal-1", "cal-2", "cal-3", "adv-1", "adv-2", "cal-again"}
    near = [line for line in check_lines(bib) if "possible duplicate" in line]
    # cal-again has nothing that tells it from cal-1: told, not merged; the others differ in issue
    assert near == [
        "tugboat.bib:11 [cal-again]: warning: possible duplicate of tugboat.bib:1 [cal-1], not merged: same title, "
        "year and first author, but it recurs (anonymous, or a title such as Calendar): only a DOI or PMID merges it"
    ]


def test_an_identifier_still_merges_recurring_items(tmp_path):
    a = write(tmp_path / "a.bib", "@article{x, author={Anonymous}, title={Erratum}, year={2001}, doi={10.1000/e1}}\n")
    b = write(tmp_path / "b.bib", "@article{y, author={Anonymous}, title={Erratum}, year={2001}, doi={10.1000/E1}}\n")
    summary = loader.load(tmp_path / "e.db", [a, b])
    assert summary.studies == 1 and summary.merged == 1


def test_same_title_year_and_author_in_another_volume_stay_apart_and_check_names_both(tmp_path):
    bib = write(
        tmp_path / "a.bib",
        "@article{part1, title={Acupuncture for chronic neck pain}, author={Irnich, Dominik}, year={2001},"
        " journal={BMJ}, volume={322}, pages={1574--1578}}\n"
        "@article{part2, title={Acupuncture for Chronic Neck Pain.}, author={Irnich, D.}, year={2001},"
        " journal={BMJ}, volume={323}, pages={1574--1578}}\n"
        "@article{sham, title={Sham needling}, author={Vickers, A.}, year={2004}, journal={BMJ}, pages={744}}\n",
    )
    ris = write(
        tmp_path / "b.ris",
        "TY  - JOUR\nID  - otherpage\nTI  - Sham needling\nAU  - Vickers, Andrew\nPY  - 2004\n"
        "T2  - BMJ\nSP  - 1600\nEP  - 1601\nER  - \n",
    )
    summary = loader.load(tmp_path / "e.db", [bib, ris])
    assert summary.studies == 4 and summary.merged == 0
    assert {k: v[1] for k, v in stored(tmp_path / "e.db").items() if k.startswith("part")} == {
        "part1": "322",
        "part2": "323",
    }
    near = [line for line in check_lines(bib, ris) if "possible duplicate" in line]
    assert near == [
        "a.bib:2 [part2]: warning: possible duplicate of a.bib:1 [part1], not merged: same title, year and first"
        " author, but volume '323' here, '322' there",
        "b.ris:1 [otherpage]: warning: possible duplicate of a.bib:3 [sham], not merged: same title, year and first"
        " author, but pages '1600' here, '744' there",
    ]


def test_a_column_in_three_issues_is_a_series_that_check_does_not_call_duplicates(tmp_path):
    bib = write(
        tmp_path / "dtk.bib",
        "".join(
            f"@article{{dtk95.{issue}:lammarsch:grusswort, author={{Joachim Lammarsch}}, title={{Grußwort}},"
            f" journal={{Die TeXnische Komödie}}, year={{1995}}, volume={{7}}, number={{{issue}}}}}\n"
            for issue in (1, 2, 3)
        ),
    )
    assert loader.load(tmp_path / "e.db", [bib]).studies == 3
    assert not [line for line in check_lines(bib) if "possible duplicate" in line]


def test_true_duplicates_still_merge_across_ris_and_bibtex(tmp_path):
    bib = write(
        tmp_path / "zotero.bib",
        "@article{haake2007, title={{German Acupuncture Trials (GERAC)} for chronic low back pain},"
        ' author={Haake, Michael and M{\\"u}ller, Hans-Helge}, year={2007}, journal={Arch Intern Med},'
        " volume={167}, number={17}, pages={1892--8}, doi={10.1001/archinte.167.17.1892}}\n"
        "@article{cherkin2009, title={A randomized trial comparing acupuncture, simulated acupuncture,"
        " and usual care for chronic low back pain}, author={Cherkin, Daniel C.}, year={2009},"
        " journal={Archives of Internal Medicine}, volume={169}}\n",
    )
    ris = write(
        tmp_path / "endnote.ris",
        "TY  - JOUR\nTI  - German acupuncture trials (GERAC) for chronic low back pain\nAU  - Haake, M.\n"
        "PY  - 2007\nJO  - Archives of Internal Medicine\nVL  - 167\nIS  - 17\nSP  - 1892\nEP  - 1898\nER  - \n"
        "TY  - JOUR\nTI  - A Randomized Trial Comparing Acupuncture, Simulated Acupuncture, and Usual Care for"
        " Chronic Low Back Pain.\nAU  - Cherkin, DC\nPY  - 2009\nJO  - Arch Intern Med\nVL  - 169\nIS  - 9\n"
        "DO  - 10.1001/archinternmed.2009.65\nER  - \n",
    )
    summary = loader.load(tmp_path / "e.db", [bib, ris])
    assert summary.studies == 2 and summary.merged == 2
    assert stored(tmp_path / "e.db")["cherkin2009"][2] == "10.1001/archinternmed.2009.65"  # the DOI joined it
    assert not [line for line in check_lines(bib, ris) if "possible duplicate" in line]


def test_titles_in_scripts_without_latin_spelling_are_not_all_one_title(tmp_path):
    bib = write(
        tmp_path / "a.bib",
        "@article{neck, title={针刺治疗颈痛的随机对照试验}, author={王, 伟}, year={2010}, journal={中国针灸}}\n"
        "@article{back, title={针刺治疗腰痛的随机对照试验}, author={王, 伟}, year={2010}, journal={中国针灸}}\n"
        "@article{back2, title={针刺治疗腰痛的随机对照试验。}, author={王, 伟}, year={2010}, journal={中国针灸}}\n",
    )
    summary = loader.load(tmp_path / "e.db", [bib])
    assert set(stored(tmp_path / "e.db")) == {"neck", "back"} and summary.merged == 1


def test_a_doi_joining_two_titles_of_one_author_merges_and_warns_naming_both(tmp_path):
    a = write(
        tmp_path / "a.bib",
        "@article{first, title={Akupunktur bei chronischen Rückenschmerzen}, author={Haake, M.}, year={2007},"
        " doi={10.1000/gerac}}\n",
    )
    b = write(
        tmp_path / "b.ris",
        "TY  - JOUR\nID  - second\nTI  - [Acupuncture for chronic low back pain]\nAU  - Haake, Michael\n"
        "PY  - 2008\nDO  - https://doi.org/10.1000/GERAC\nER  - \n",
    )
    summary = loader.load(tmp_path / "e.db", [a, b])
    assert summary.studies == 1 and summary.merged == 1
    warned = [str(e) for e in summary.errors if "same DOI" in e.message]
    assert warned == [
        "b.ris:1 [second]: warning: same DOI as a.bib:1 [first], with another title ('[Acupuncture for chronic low"
        " back pain]' here, 'Akupunktur bei chronischen Rückenschmerzen' there): loaded as one study; if the DOI is"
        " wrong in one of them, correct it"
    ]
    recorded = Database(tmp_path / "e.db").query(
        "select file, line, entry_key from load_errors where message like 'same DOI%'"
    )
    assert list(recorded) == [{"file": "b.ris", "line": 1, "entry_key": "second"}]


def test_a_doi_on_a_different_paper_joins_nothing_and_warns(tmp_path):
    bib = write(
        tmp_path / "a.bib",
        "@article{right, title={Acupuncture for chronic low back pain}, author={Haake, M.}, year={2007},"
        " doi={10.1001/archinte.167.17.1892}}\n"
        "@article{copied, title={Moxibustion for breech presentation}, author={Cardini, F.}, year={1998},"
        " doi={10.1001/archinte.167.17.1892}}\n",
    )
    db = tmp_path / "e.db"
    summary = loader.load(db, [bib])
    assert summary.studies == 2 and summary.merged == 0
    assert stored(db)["copied"] == ("Moxibustion for breech presentation", None, "10.1001/archinte.167.17.1892")
    warned = [str(e) for e in summary.errors if "same DOI" in e.message]
    assert warned == [
        "a.bib:2 [copied]: warning: same DOI as a.bib:1 [right], but another title and first author ('Moxibustion"
        " for breech presentation' here, 'Acupuncture for chronic low back pain' there): not merged, loaded as two"
        " studies; the DOI is wrong in one of them"
    ]
    assert any(line.startswith("a.bib:2 [copied]: warning: same DOI as a.bib:1 [right]") for line in check_lines(bib))
    # reloading the other file alone keeps the warning on the file read now, naming the other place
    other = write(tmp_path / "b.bib", "@article{third, title={Cupping}, author={Kim, J.}, year={2007}, pmid={123}}\n")
    loader.load(db, [bib, other])
    summary = loader.load(db, [other])
    assert summary.studies == 3 and not [e for e in summary.errors if "same DOI" in e.message]
    recorded = Database(db).query("select file, entry_key from load_errors where message like 'same DOI%'")
    assert list(recorded) == [{"file": "a.bib", "entry_key": "copied"}]  # told by the load that read a.bib


def test_titles_that_differ_only_in_case_punctuation_latex_or_a_subtitle_merge_without_a_doi_warning(tmp_path):
    a = write(
        tmp_path / "a.bib",
        '@article{one, title={{\\"U}ber {MRI} -- needling}, author={Doe, J.}, year={2010}, doi={10.1000/u1}}\n'
        "@article{two, title={Sham needles}, author={Roe, R.}, year={2011}, pmid={99999993}}\n"
        "@article{three, title={Relief after treatment--a trial}, author={Inoue, M.}, year={2006}, doi={10.1000/d}}\n",
    )
    printed = write(
        tmp_path / "printed.ris",
        "TY  - JOUR\nTI  - Relief After Treatment – a Trial\nAU  - Inoue, M\nPY  - 2006\nDO  - 10.1000/d\nER  - \n",
    )
    b = write(
        tmp_path / "b.json",
        '[{"id": "uber", "type": "article-journal", "title": "Über MRI: needling.", "DOI": "10.1000/U1",'
        ' "author": [{"family": "Doe", "given": "Jane"}], "issued": {"date-parts": [[2010]]}},'
        ' {"id": "sham", "type": "article-journal", "title": "Sham needles: a randomised trial", "PMID": "99999993",'
        ' "author": [{"family": "Roe", "given": "R"}], "issued": {"date-parts": [[2011]]}}]',
    )
    summary = loader.load(tmp_path / "e.db", [a, b, printed])
    assert summary.studies == 3 and summary.merged == 3
    assert not [e for e in summary.errors if "same DOI" in e.message or "same PMID" in e.message]


def test_matching_benchmark_counts():
    """scripts/bench_matching.py runs, and its worst shapes give the studies and warnings they should."""
    script = Path(__file__).resolve().parent.parent / "scripts" / "bench_matching.py"
    done = subprocess.run([sys.executable, str(script), "40"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    counts = {
        (line.split()[0], int(line.split()[1])): [
            int(n) for n in re.findall(r"(\d+) (?:studies|warnings|possible)", line)
        ]
        for line in done.stdout.splitlines()
    }
    assert counts == {
        ("calendar", 40): [40, 0, 0],  # every issue differs
        ("calendar", 120): [120, 0, 0],
        ("volumes", 40): [40, 0, 0],  # each compared with 16 before it; a series, so none told
        ("volumes", 120): [120, 0, 0],
        ("one-doi", 40): [40, 39, 0],  # each told it shares the first one's DOI
        ("one-doi", 120): [120, 119, 0],
        ("different", 40): [40, 0, 0],
        ("different", 120): [120, 0, 0],
    }


def test_one_key_in_two_files_is_one_reference_whatever_its_volume_or_running_title(tmp_path):
    old = write(
        tmp_path / "old.bib",
        "@article{irnich2001, title={Acupuncture for chronic neck pain}, author={Irnich, D.}, year={2001},"
        " journal={BMJ}, volume={332}}\n"
        "@article{cal-2, author={Anonymous}, title={Calendar}, journal={TUGboat}, year={1998}, number={2}}\n",
    )
    new = write(
        tmp_path / "new.bib",
        "@article{irnich2001, title={Acupuncture for chronic neck pain}, author={Irnich, D.}, year={2001},"
        " journal={BMJ}, volume={322}}\n"
        "@article{cal-1, author={Anonymous}, title={Calendar}, journal={TUGboat}, year={1998}, number={1}}\n"
        "@article{cal-2, author={Anonymous}, title={Calendar}, journal={TUGboat}, year={1998}, number={2}}\n",
    )
    summary = loader.load(tmp_path / "e.db", [old, new])
    assert summary.error_count == 0 and summary.merged == 2
    assert set(stored(tmp_path / "e.db")) == {"irnich2001", "cal-1", "cal-2"}
    lines = check_lines(old, new)
    assert "new.bib:1 [irnich2001]: warning: volume differs: '322' here, '332' at old.bib:1 (kept)" in lines
    assert not [line for line in lines if "possible duplicate" in line]


def test_one_key_and_one_doi_in_two_files_is_one_reference_even_with_another_title_and_author(tmp_path):
    a = write(tmp_path / "a.bib", "@article{k, title={Needling}, author={Doe, J.}, year={2001}, doi={10.1000/k}}\n")
    b = write(tmp_path / "b.bib", "@article{k, title={Cupping}, author={Roe, R.}, year={2001}, doi={10.1000/k}}\n")
    summary = loader.load(tmp_path / "e.db", [a, b])
    assert summary.error_count == 0 and summary.studies == 1
    assert [e.message.split(" (")[0] for e in summary.errors if "same DOI" in e.message] == [
        "same DOI as a.bib:1 [k], with another title"
    ]
