#!/usr/bin/env python3
"""What matching costs as entries grow, on the worst shapes for it and on a real corpus file:

    python scripts/bench_matching.py 30000 [bench-data/corpus.bib]

For N and 3N entries of each shape (one anonymous "Calendar" in many issues, one title, year and author in
many volumes, one DOI on many papers, and N different papers), the CPU seconds of describing the entries
and of planning the studies (evidence.merge.plan, which runs evidence.matching), with the studies and the
warnings it gives. Time in proportion to the entries means the 3N row takes about three times the N row.
With a BibTeX file, the same for its entries.
"""

from __future__ import annotations

import argparse
import gc
import time
from pathlib import Path

from evidence.fast.spool import Kept
from evidence.formats import read_file
from evidence.matching import describe
from evidence.merge import plan
from evidence.records import Person, StudyRecord


def shape(name: str, n: int) -> list[StudyRecord]:
    """``n`` records of one of the shapes matching must keep cheap."""
    make = {
        "calendar": lambda i: dict(
            title="Calendar", authors=[Person("Anonymous")], volume=str(i // 4), issue=str(i % 4)
        ),
        "volumes": lambda i: dict(title="Acupuncture for pain", authors=[Person("Smith")], volume=str(i)),
        "one-doi": lambda i: dict(title=f"Paper {i}", authors=[Person(f"Author{i}")], doi="10.1000/one"),
        "different": lambda i: dict(title=f"Paper {i}", authors=[Person(f"Author{i}")], doi=f"10.1000/{i}"),
    }[name]
    return [StudyRecord(f"{name}{i}", f"{name}.bib", i + 1, year=2001, **make(i)) for i in range(n)]


def measure(label: str, records: list[StudyRecord]) -> None:
    gc.collect()
    started = time.process_time()
    kept = Kept(describe)
    entries = [kept(record) for record in records]
    described = time.process_time()
    planned = plan(entries, kept.read_back)
    done = time.process_time()
    print(
        f"  {label:<28} {len(entries):>8} entries  describe {described - started:6.2f} s  plan {done - described:6.2f} s"
        f"  {len(planned.studies):>8} studies {len(planned.errors):>7} warnings"
        f" {len(planned.possible_duplicates):>7} possible duplicates",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("entries", type=int, help="N, entries of each shape")
    parser.add_argument("bibtex", nargs="?", type=Path, help="a BibTeX file to match too")
    args = parser.parse_args()
    for name in ("calendar", "volumes", "one-doi", "different"):
        for n in (args.entries, 3 * args.entries):
            measure(name, shape(name, n))
    if args.bibtex:
        measure(args.bibtex.name, read_file(args.bibtex, args.bibtex.name).records)


if __name__ == "__main__":
    main()
