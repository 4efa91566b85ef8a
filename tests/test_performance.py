"""The benchmarks still work (small versions, counts checked, no times), and the shortcuts taken for speed
give what the plain way gives: parsing in pieces, pre-filtered rule patterns, decoding without pylatexenc,
LaTeX encoding by runs, and exports of studies read for export and streamed."""

import codecs
import random
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FIXTURES, VOCAB

from evidence import exporting as exporters
from evidence import loader, store
from evidence.cli import cli
from evidence.fast import parallel, pieces, prefilter
from evidence.fast.spool import Spool
from evidence.formats import FORMATS, bibtex, latex, read_file
from evidence.formats import citeproc as formatted
from evidence.selection import Selection, select_keys
from evidence.tagging import curation, tagger
from evidence.tagging.vocabulary import load_vocabulary

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


def run_script(name: str, *args: str) -> str:
    done = subprocess.run([sys.executable, str(SCRIPTS / name), *args], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    output = run_script("make_corpus.py", "300", "--out", str(folder))
    assert "corpus.bib: 300 studies + 4 malformed or repeated entries" in output
    return folder


def test_corpus_is_seeded_and_has_every_format(corpus, tmp_path):
    run_script("make_corpus.py", "300", "--out", str(tmp_path))
    for name in ("corpus.bib", "corpus.ris", "corpus.nbib"):
        assert (tmp_path / name).read_bytes() == (corpus / name).read_bytes()


def test_load_benchmark_counts(corpus):
    output = run_script("bench.py", str(corpus), "--naive", "50", "--apa", "20")
    assert "(a) bibtexparser.parse_file" in output and "c/a = " in output and "b/c = " in output
    # 300 + the one with a bad year + the one without a title (loaded with a warning)
    assert "302 studies (302 added, 0 updated, 0 unchanged, 0 removed)" in output
    assert "300 studies (300 added" in output  # RIS and MEDLINE
    assert "evidence export -f bibtex (302 studies)" in output
    assert "evidence export -f apa (20 studies)" in output


def test_real_files_benchmark_counts(tmp_path):
    """bench.py --real on a folder of two real libraries: both timed, each on its own, and the load profiled."""
    for name in ("jabref-test.bib", "jabref-chocolate.bib"):
        (tmp_path / name).write_bytes((FIXTURES / "real" / name).read_bytes())
    output = run_script("bench.py", "--real", str(tmp_path), "--per-file", "--profile", "5")
    assert "2 files in" in output and "c/a = " in output
    rows = {line.split()[0]: line.split()[1:] for line in output.splitlines() if line.startswith("  jabref-")}
    assert rows["jabref-test.bib"][1] == "19" and rows["jabref-chocolate.bib"][1] == "15"  # entries
    assert re.search(r"LaTeX decoding +\d+\.\d\d s", output) and "ncalls" in output


def test_serve_benchmark_counts(tmp_path):
    output = run_script(
        "bench_serve.py",
        "--studies",
        "2000",
        "--work",
        str(tmp_path),
        "--seconds",
        "3",
        "--clients",
        "2",
        "--export",
        "500",
    )
    rows = {
        line.split("  ")[1].strip(): line.split()
        for line in output.splitlines()
        if line.startswith("  ") and "ms" not in line and "load average" not in line and "per second" not in line
    }
    assert set(rows) == {
        "faceted page",
        "full-text search",
        "search page with facets",
        "studies for a condition",
        "evidence map",
        "BibTeX export of 500 studies",
    }
    for *_, count, _p50, _p95, _most, errors, timed_out in rows.values():
        assert int(count) > 0 and int(errors) == 0 and int(timed_out) == 0
    assert re.search(r"load average \(1 min\): [\d.]+ before, [\d.]+ at most during the run", output)
    server, clients = map(float, re.search(r"CPU time: server ([\d.]+) s, clients ([\d.]+) s", output).groups())
    assert server > 0 and clients > 0
    assert float(re.search(r"\(PSS\) at most ([\d,]+) MB", output).group(1).replace(",", "")) > 0


def test_a_large_file_read_from_disk_in_pieces_gives_what_its_text_gives(monkeypatch, tmp_path):
    text = (FIXTURES / "pieces.bib").read_text() + (
        "\n@article{accents, title = {Étude sur la lombalgie}, author = {Müller, Jürgen and Ø, Åse}}\n"
        "@artïcle{odd, title = {A block start bibtexparser reads, but not as an entry}}\n"
        "% Ünïcode in a comment line that is longer than the scan window of the test\n"
        "@article{last, title = {Last one}, journal = late}\n"
    )
    path = tmp_path / "pieces.bib"
    path.write_text(text, encoding="utf-8")
    whole = bibtex.read(text, "pieces.bib")
    monkeypatch.setattr(pieces, "PARALLEL_FROM", 0)
    for piece, scan in ((1, 7), (60, 50), (400, 1000), (10**6, 10**6)):
        monkeypatch.setattr(pieces, "PIECE", piece)
        monkeypatch.setattr(pieces, "SCAN", scan)
        from_disk, has_text = pieces.read_in_pieces(
            path, "pieces.bib", FORMATS["bibtex"], Spool(tmp_path, lambda record, place: record)
        )
        assert has_text
        assert [(str(e), e.raw) for e in from_disk.errors] == [(str(e), e.raw) for e in whole.errors]
        assert from_disk.records == whole.records
    assert "Müller" in [p.family for r in whole.records for p in r.authors]


def test_a_file_that_is_not_plain_utf8_is_read_as_text_whatever_its_size(monkeypatch, tmp_path):
    monkeypatch.setattr(pieces, "PARALLEL_FROM", 0)
    for name, data in (
        ("latin.bib", "@article{a, title = {Caf\u00e9}}\n".encode("cp1252")),
        ("bom.bib", codecs.BOM_UTF8 + "@article{a, title = {Caf\u00e9}}\n".encode()),
    ):
        path = tmp_path / name
        path.write_bytes(data)
        spool = Spool(tmp_path, lambda record, place: record)
        assert pieces.read_in_pieces(path, name, FORMATS["bibtex"], spool) is None
        spooled = pieces.read_file(path, name, spool=spool)
        plain = read_file(path, name)
        assert spooled.records == plain.records and [r.title for r in plain.records] == ["Café"]
        assert [str(e) for e in spooled.errors] == [str(e) for e in plain.errors]


def test_a_load_in_worker_processes_gives_the_same_database(corpus, tmp_path, monkeypatch):
    serial = tmp_path / "serial.db"
    loader.load(serial, [corpus / "corpus.bib"])
    monkeypatch.setattr(pieces, "PARALLEL_FROM", 0)
    monkeypatch.setattr(pieces, "PIECE", 50_000)
    monkeypatch.setattr(loader, "TAG_BATCH", 40)
    monkeypatch.setattr(loader, "BUILD_IN_WORKERS_FROM", 0)
    monkeypatch.setattr(parallel, "cores", lambda: 2)
    spread = tmp_path / "spread.db"
    loader.load(spread, [corpus / "corpus.bib"])
    for table in (
        "studies",
        "authors",
        "study_authors",
        "study_conditions",
        "study_outcomes",
        "study_sources",
        "load_errors",
        "study_cards",
        "evidence_map_cells",
    ):
        query = f"select * from {table} order by rowid"
        with sqlite3.connect(serial) as one, sqlite3.connect(spread) as other:
            assert one.execute(query).fetchall() == other.execute(query).fetchall(), table


def test_case_folds_are_every_non_ascii_character_ignorecase_takes_for_ascii():
    letter = re.compile("[a-z]", re.IGNORECASE)
    found = {c for c in map(chr, range(0x80, 0x110000)) if letter.match(c)}
    assert found == {chr(c) for c in prefilter.CASE_FOLDS}
    assert all(not re.search("[a-z]", c.lower()) for c in map(chr, range(0x80, 0x30000)) if c not in found)


def test_prefiltered_rule_patterns_match_what_plain_regular_expressions_match():
    vocab = load_vocabulary(VOCAB)
    patterns = {
        p
        for kind in ("designs", "outcomes")
        for term in vocab.terms[kind].values()
        for p in term.get("patterns", []) + term.get("title_patterns", [])
    }
    patterns |= {p for term in vocab.terms["conditions"].values() for p in tagger._name_patterns(term)}
    words = [
        "randomised",
        "randomly assigned",
        "Quasi-random",
        "cohort study",
        "IPD",
        "meta-analysis",
        "RCTs",
        "low back pain",
        "Low-Back Pain",
        "LBP",
        "ſystematic review",
        "İnsomnia",
        "K",
        "SF-36",
        "sf36",
        "EQ-5D",
        "adverse events",
        "side-effects",
        "migraine_headache",
        "chronic pain",
        "rats",
        "Oswestry",
        "Schober",
        "placebo-controlled",
        "case series",
        "12-year-old woman",
        "–",
        "é",
        "Protocol: a",
        ",",
        " ",
    ]
    rng = random.Random(3)
    texts = [
        "".join(rng.choice(words) + rng.choice([" ", "", "-", ". ", "_"]) for _ in range(rng.randint(1, 8)))
        for _ in range(600)
    ]
    for pattern in patterns:
        plain = re.compile(pattern, re.IGNORECASE)
        for text in texts:
            match = plain.search(text)
            assert prefilter.compiled(pattern).first(prefilter.prepared(text)) == (match.group(0) if match else None), (
                pattern,
                text,
            )


def test_braces_and_dashes_decode_as_pylatexenc_decodes_them():
    rng = random.Random(5)
    alphabet = "aB -{}'\".,:;()/?!0#\n\ue000é"
    for _ in range(3000):
        value = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 14)))
        if "''" in value:
            continue
        plain = " ".join(latex._latex.latex_to_text(value, latex_context=latex._parsing).split())
        assert latex._decode(value) == (plain, ()), value


def _encode_char_by_char(text: str) -> str:
    """The BibTeX writer's LaTeX encoding the plain way: every character looked at in turn."""
    out = []
    for char in text:
        if char in latex._ASCII_SPECIALS:
            out.append(latex._ASCII_SPECIALS[char])
        elif char in "-'`" and out and out[-1].endswith(char):  # not an en dash, nor a double quote
            out.append("{}" + char)
        elif char.isascii():
            out.append(char)
        elif char in latex._OVERRIDES:
            out.append(latex._OVERRIDES[char])
        else:
            out.append(latex._latex_for(char))
    return "".join(out)


def test_latex_encoding_by_runs_gives_what_encoding_char_by_char_gives():
    rng = random.Random(7)
    alphabet = "aB -{}\\$&%#_~^.0é\u2013\u2014\u2010íβø\u00ad字'`"
    for _ in range(5000):
        value = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 16)))
        assert latex.encode(value) == _encode_char_by_char(value), value


def test_exports_of_studies_read_for_export_are_those_of_studies_read_whole(corpus, tmp_path, monkeypatch):
    """Studies read for export (curated tags only, in batches written by worker processes, streamed) give the
    same text in every format as every study read whole and written at once."""
    db = tmp_path / "corpus.db"
    loader.load(db, [corpus / "corpus.bib", FIXTURES / "tricky.bib", loader.DATA_DIR / "studies.bib"])
    monkeypatch.setattr(store.read, "READ_BATCH", 7)  # many reads, and authors met in earlier ones
    monkeypatch.setattr(exporters, "BATCH", 50)  # many batches, in both workers
    with sqlite3.connect(db) as conn:
        keys = select_keys(conn, Selection())
        whole = store.read_studies(conn, keys)
    assert len(whole) == 341 and [s.record.key for s in whole] == keys  # one without a title among them
    with parallel.workers():
        for name in ("bibtex", "ris", "csl-json", "apa"):
            studies = whole[:40] if name == "apa" else whole
            written: dict[str, list] = {}
            chunks = list(exporters.export(db, keys[: len(studies)], name, written=written))
            assert "".join(chunks) == exporters.render(studies, name), name
            assert len(chunks) == (1 if name == "apa" else 8), name  # 7 batches of 50 and the end
            assert written == {s.record.key: [o for o in s.outcomes if o.provenance == "curated"] for s in studies}, (
                name
            )
    to_stdout = CliRunner().invoke(cli, ["export", str(db), "-f", "csl-json"])
    assert to_stdout.exit_code == 0 and to_stdout.stdout == exporters.render(whole, "csl-json")
    assert CliRunner().invoke(cli, ["export", str(db), "-o", str(tmp_path / "all.bib")]).exit_code == 0
    assert (tmp_path / "all.bib").read_text(encoding="utf-8") == exporters.render(whole, "bibtex")
    assert (tmp_path / "all.outcomes.yaml").read_text(encoding="utf-8") == curation.format_outcomes(
        {s.record.key: s.outcomes for s in whole}
    )
    assert exporters.render([], "csl-json") == "[]\n" and exporters.render([], "bibtex") == ""
    assert {name for name, f in exporters.FORMATS.items() if f.formatted} == set(formatted.STYLES)
