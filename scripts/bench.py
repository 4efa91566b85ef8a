#!/usr/bin/env python3
"""Load and export benchmarks on a corpus made by scripts/make_corpus.py.

    python scripts/make_corpus.py 100000 --out bench-data
    python scripts/bench.py bench-data

Every measurement runs in its own process, timed from outside, with the peak memory of its whole process
tree (proportional set size, polled every 250 ms). For BibTeX, on the same file:
(a) ``bibtexparser.parse_file`` alone; (b) the pipeline a user would write: bibtexparser with its LaTeX
decoding and name splitting middlewares, then sqlite-utils inserts (authors looked up one by one) and a
full-text index, on the first ``--naive`` entries; (c) ``evidence load`` end to end into a new database.
Then ``evidence load`` of the RIS (against ``rispy.load``) and MEDLINE files, and exports of every study
as BibTeX (against bibtexparser's writer on the entries of (a)), RIS, CSL-JSON, and APA (on the first
``--apa`` studies: citeproc-py formats a few hundred references a second).

    python scripts/bench.py --real                      # the real files in tests/fixtures/real
    python scripts/bench.py --real ~/papers --per-file --profile 25

With ``--real``, the folder holds real BibTeX files (``.bib``, ``.bibtex``, ``.biblatex``, in it and below it):
``bibtexparser.parse_string`` of each file's text, all in one process, against one ``evidence load`` of them
all, timed the same way; ``--per-file`` does the same for each file alone (so each pays its start-up, as a
user loading one library does), and ``--profile N`` runs the load under cProfile (in one process: no worker
processes) and prints the time of each step and the N functions with the most cumulative time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

PYTHON = sys.executable
EVIDENCE = [str(Path(PYTHON).with_name("evidence"))]
REAL = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "real"
BIBTEX_SUFFIXES = (".bib", ".bibtex", ".biblatex")


@dataclass
class Run:
    """One measured command."""

    seconds: float
    peak_mb: float
    output: str


def process_tree(root: int) -> list[int]:
    """A process and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parent = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(parent, []).append(int(entry))
    tree, stack = [], [root]
    while stack:
        pid = stack.pop()
        tree.append(pid)
        stack += children.get(pid, [])
    return tree


def tree_memory_kb(root: int) -> int:
    """Memory of a process and all its descendants, in kB: the sum of their proportional set sizes (from
    /proc), so that pages forked workers share with their parent are counted once."""
    total = 0
    for pid in process_tree(root):
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("Pss:"))
        except (OSError, StopIteration):
            continue
    return total


def measure(command: list[str]) -> Run:
    """Run a command to completion; its wall time and the peak resident memory of its process tree."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        process = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        peak = 0
        while process.poll() is None:  # reading /proc costs CPU the measured process needs: not too often
            peak = max(peak, tree_memory_kb(process.pid))
            try:  # waiting, not sleeping: the time taken is the process's, not rounded up to the next poll
                process.wait(timeout=0.25)
            except subprocess.TimeoutExpired:
                pass
        seconds = time.perf_counter() - started
        out.seek(0)
        output = out.read()
    if process.returncode not in (0, 1):  # evidence load exits 1 only with --strict
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n{output}")
    return Run(seconds, peak / 1024, output)


def task(name: str, *args: str) -> list[str]:
    """A command that runs one of this script's tasks (below) in a process of its own."""
    return [PYTHON, str(Path(__file__).resolve()), "--task", name, *args]


def run_task(name: str, args: list[str]) -> None:
    """The measured work of one task, inside its own process; prints what it counted."""
    import bibtexparser

    if name == "parse":
        library = bibtexparser.parse_file(args[0])
        print(f"{len(library.entries)} entries")
    elif name == "parse-each":  # real files: any encoding, read as evidence would not; bibtexparser needs text
        entries = sum(
            len(bibtexparser.parse_string(Path(path).read_text(encoding="utf-8", errors="replace")).entries)
            for path in args
        )
        print(f"{entries} entries")
    elif name == "naive":
        naive_pipeline(Path(args[0]), Path(args[1]), int(args[2]))
    elif name == "rispy":
        import rispy

        with open(args[0], encoding="utf-8") as f:
            print(f"{len(rispy.load(f))} entries")
    elif name == "bibtex-writer":
        library = bibtexparser.parse_file(args[0])
        started = time.perf_counter()
        text = bibtexparser.write_string(library)
        print(
            f"{len(library.entries)} entries, {len(text)} characters; parse excluded: "
            f"write took {time.perf_counter() - started:.2f}s"
        )


def naive_pipeline(bib: Path, db_path: Path, limit: int) -> None:
    """What a user would write: bibtexparser decoding LaTeX and splitting names, then sqlite-utils."""
    import bibtexparser
    from bibtexparser.middlewares import LatexDecodingMiddleware, SeparateCoAuthors, SplitNameParts
    from sqlite_utils import Database

    text = bib.read_text(encoding="utf-8")
    cut = _entry_boundary(text, limit)
    library = bibtexparser.parse_string(
        text[:cut], append_middleware=[LatexDecodingMiddleware(), SeparateCoAuthors(), SplitNameParts()]
    )
    db = Database(db_path)
    for entry in library.entries:
        row = {"key": entry.key, "entry_type": entry.entry_type}
        authors = []
        for field in entry.fields:
            if field.key == "author":
                authors = field.value
            else:
                row[field.key] = str(field.value)
        db["entries"].insert(row, pk="key", alter=True, replace=True)
        for position, name in enumerate(authors, start=1):
            author_id = db["authors"].lookup(
                {
                    "family": " ".join(name.last),
                    "given": " ".join(name.first),
                    "von": " ".join(name.von),
                    "jr": " ".join(name.jr),
                }
            )
            db["entry_authors"].insert(
                {"entry_key": entry.key, "position": position, "author_id": author_id},
                pk=("entry_key", "position"),
                replace=True,
            )
    db["entries"].enable_fts(["title", "abstract", "keywords"], tokenize="porter")
    print(f"{db['entries'].count} entries")


def _entry_boundary(text: str, entries: int) -> int:
    """Offset of the start of the entry after the first ``entries`` ones (the whole text if there are fewer)."""
    at = 0
    for _ in range(entries + 1):
        at = text.find("\n@article{", at + 1)
        if at < 0:
            return len(text)
    return at + 1


def entries_in(bib: Path) -> int:
    """Entries the corpus file holds (each starts a line with @ and a type other than string, comment, preamble)."""
    count = 0
    with bib.open(encoding="utf-8") as f:
        for line in f:
            if line.startswith("@") and not line[1:].lower().startswith(("string", "comment", "preamble")):
                count += 1
    return count


def report(label: str, run: Run, entries: int, file_mb: float | None = None) -> None:
    memory = f"peak {run.peak_mb:7.0f} MB" + (
        f" (limit 1.5 x {file_mb:.0f} + 100 = {1.5 * file_mb + 100:.0f})" if file_mb else ""
    )
    print(f"  {label:<46} {run.seconds:8.2f} s {entries / run.seconds:10.0f} entries/s   {memory}", flush=True)


def real_files(folder: Path) -> list[Path]:
    """The BibTeX files in ``folder`` and below it."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in BIBTEX_SUFFIXES and p.is_file())


def counted(run: Run) -> int:
    """The entries a task counted: its last line (bibtexparser may warn before it)."""
    return int(run.output.strip().splitlines()[-1].split()[0])


def bench_real(folder: Path, per_file: bool) -> None:
    """evidence load of real BibTeX files against bibtexparser's bare parse of the same files, in the same run."""
    files = real_files(folder)
    if not files:
        raise SystemExit(f"no BibTeX files in {folder}")
    mb = sum(f.stat().st_size for f in files) / 2**20
    print(
        f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; {len(files)} files in {folder}, {mb:.1f} MB"
    )
    with tempfile.TemporaryDirectory() as work:
        a = measure(task("parse-each", *map(str, files)))
        entries = counted(a)
        report("(a) bibtexparser.parse_string, each file", a, entries)
        c = measure([*EVIDENCE, "load", "-q", str(Path(work) / "real.db"), *map(str, files)])
        report("(c) evidence load, all files at once", c, entries)
        print(f"      {c.output.strip().splitlines()[-1]}")
        print(f"  c/a = {c.seconds / a.seconds:.2f}")
        if not per_file:
            return
        print(f"  {'file':<40} {'KB':>6} {'entries':>7} {'(a) s':>7} {'(c) s':>7} {'c/a':>6}")
        for i, path in enumerate(files):
            one_a = measure(task("parse-each", str(path)))
            one_c = measure([*EVIDENCE, "load", "-q", str(Path(work) / f"{i}.db"), str(path)])
            print(
                f"  {path.name[:40]:<40} {path.stat().st_size / 1024:6.0f} {counted(one_a):7d} "
                f"{one_a.seconds:7.2f} {one_c.seconds:7.2f} {one_c.seconds / one_a.seconds:6.2f}",
                flush=True,
            )


# The load's steps, by the function that does each (file name ends with, function name); they nest.
STEPS = {
    "read the files (all readers)": ("evidence/loader.py", "read_inputs"),
    "  LaTeX decoding": ("formats/latex.py", "decode_latex"),
    "  titles (LaTeX decoding and case protection)": ("formats/latex.py", "decode_title"),
    "  names": ("formats/bibtex.py", "parse_authors"),
    "plan (which entries are one study)": ("evidence/merge.py", "plan"),
    "tag the studies": ("tagging/tagger.py", "tag_study"),
    "save the rows (SQLite)": ("store/write.py", "save_studies"),
    "refresh the summary tables": ("evidence/loader.py", "_refresh"),
    "vocabularies": ("tagging/vocabulary.py", "load_vocabulary"),
}


def profile_real(folder: Path, top: int) -> None:
    """One load of the folder's BibTeX files under cProfile, in this process: the time of each step, and the
    ``top`` functions with the most cumulative time."""
    import cProfile
    import pstats

    from evidence import loader
    from evidence.fast import parallel

    parallel.MAX_WORKERS = 1  # every batch in this process, where the profiler sees it
    profiler = cProfile.Profile()
    with tempfile.TemporaryDirectory() as work:
        profiler.enable()
        loader.load(Path(work) / "real.db", real_files(folder))
        profiler.disable()
    stats = pstats.Stats(profiler)
    total = max(cumulative for (_, _, _, cumulative, _) in stats.stats.values())
    print(f"profile of one load, in one process: {total:.2f} s")
    for step, (file_end, function) in STEPS.items():
        seconds = sum(
            cumulative
            for (file, _, name), (_, _, _, cumulative, _) in stats.stats.items()
            if name == function and file.endswith(file_end)
        )
        print(f"  {step:<48} {seconds:7.2f} s {seconds / total:6.1%}")
    stats.sort_stats("cumulative").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__
    )
    parser.add_argument(
        "corpus",
        type=Path,
        nargs="?",
        help="folder with corpus.bib, corpus.ris, corpus.nbib; with --real, a folder of real BibTeX files "
        f"(default {REAL})",
    )
    parser.add_argument("--real", action="store_true", help="time the load of a folder of real BibTeX files")
    parser.add_argument("--per-file", action="store_true", help="with --real: each file on its own too")
    parser.add_argument("--profile", type=int, metavar="N", help="with --real: profile the load, show N functions")
    parser.add_argument("--naive", type=int, default=10000, help="entries for the naive pipeline (default 10000)")
    parser.add_argument("--apa", type=int, default=10000, help="studies for the APA export (default 10000)")
    parser.add_argument(
        "--skip",
        default="",
        help="comma-separated parts to leave out: naive, ris, medline, export "
        "((a) and (c) always run: the exports read (c)'s database)",
    )
    parser.add_argument("--task", help=argparse.SUPPRESS)
    parser.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.task:
        run_task(args.task, [str(args.corpus), *args.args])
        return
    if args.real:
        bench_real(args.corpus or REAL, args.per_file)
        if args.profile:
            profile_real(args.corpus or REAL, args.profile)
        return
    if args.corpus is None:
        parser.error("give the corpus folder (or --real)")
    skip = set(args.skip.split(","))
    with tempfile.TemporaryDirectory(dir=args.corpus) as work:
        work = Path(work)
        bib, db = args.corpus / "corpus.bib", work / "bench.db"
        entries = entries_in(bib)
        bib_mb = bib.stat().st_size / 2**20
        print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; corpus {args.corpus}")
        print(f"BibTeX: {bib} ({bib_mb:.0f} MB, {entries} entries)")
        a = measure(task("parse", str(bib)))
        report("(a) bibtexparser.parse_file", a, entries, bib_mb)
        if "naive" not in skip:
            naive_entries = min(entries, args.naive)
            b = measure(task("naive", str(bib), str(work / "naive.db"), str(naive_entries)))
            report(f"(b) naive pipeline, first {naive_entries} entries", b, naive_entries)
        c = measure([*EVIDENCE, "load", "-q", str(db), str(bib)])
        report("(c) evidence load", c, entries, bib_mb)
        print(f"      {c.output.strip().splitlines()[-1]}")
        print(f"  c/a = {c.seconds / a.seconds:.2f} (target <= 1.0)")
        if "naive" not in skip:
            print(f"  b/c = {(b.seconds / naive_entries) / (c.seconds / entries):.1f} per entry (target >= 30)")
        for name, reader_task in (("ris", "rispy"), ("nbib", None)):
            path = args.corpus / f"corpus.{name}"
            if not path.exists() or {"ris": "ris", "nbib": "medline"}[name] in skip:
                continue
            mb = path.stat().st_size / 2**20
            print(f"{name.upper()}: {path} ({mb:.0f} MB)")
            if reader_task:
                bare = measure(task(reader_task, str(path)))
                report("rispy.load", bare, entries, mb)
            loaded = measure([*EVIDENCE, "load", "-q", str(work / f"{name}.db"), str(path)])
            report("evidence load", loaded, entries, mb)
            print(f"      {loaded.output.strip().splitlines()[-1]}")
            if reader_task:
                print(f"  load / rispy.load = {loaded.seconds / bare.seconds:.2f}")
        if "export" in skip:
            return
        print("Exports of the database loaded in (c), to files:")
        writer = measure(task("bibtex-writer", str(bib)))
        write_seconds = float(writer.output.rsplit("took ", 1)[1].rstrip("s\n"))
        print(
            f"  {'bibtexparser.write_string (parse excluded)':<46} {write_seconds:8.2f} s {entries / write_seconds:10.0f} entries/s"
        )
        exports = {}
        for name, extra in (
            ("bibtex", []),
            ("ris", []),
            ("csl-json", []),
            ("apa", ["--sql", f"select key from studies order by rowid limit {args.apa}"]),
        ):
            run = measure([*EVIDENCE, "export", str(db), "-f", name, "-o", str(work / f"export.{name}"), *extra])
            exports[name] = run
            count = int(run.output.split()[0])
            report(f"evidence export -f {name} ({count} studies)", run, count)
        print(
            f"  bibtexparser writer / evidence BibTeX export = {write_seconds / exports['bibtex'].seconds:.1f} "
            "(target >= 3)"
        )


if __name__ == "__main__":
    main()
