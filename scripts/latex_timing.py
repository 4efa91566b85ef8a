"""How long LaTeX decoding takes on the titles of real BibTeX files: the loader's hot path on TeX-heavy libraries.

Run from the project root:  python scripts/latex_timing.py FILE.bib ... [--repeat 5]

Reads each file's titles as written (bibtexparser), then decodes them all, the cache emptied first, as one load
does; prints the best time of ``--repeat`` runs, per title, how many titles needed pylatexenc, and how many
warnings decoding gave (unknown commands, text left out).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import bibtexparser

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from evidence.formats import latex  # noqa: E402


def titles(paths: list[Path]) -> list[str]:
    """The titles of the files' entries, in their LaTeX."""
    logging.getLogger("bibtexparser").setLevel(logging.CRITICAL)
    found = []
    for path in paths:
        library = bibtexparser.parse_string(path.read_text(encoding="utf-8", errors="replace"))
        found += [entry.fields_dict["title"].value for entry in library.entries if "title" in entry.fields_dict]
    return found


def best_time(values: list[str], repeat: int) -> float:
    """The shortest of ``repeat`` runs of decoding every value, each starting with an empty cache."""
    best = float("inf")
    for _ in range(repeat):
        latex._decode_repeated.cache_clear()
        start = time.perf_counter()
        for value in values:
            latex.decode_noted(value)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    values = titles(args.files)
    if not values:
        sys.exit("no titles in those files")
    seconds = best_time(values, args.repeat)
    heavy = sum(1 for value in values if "''" in value or latex._NEEDS_PYLATEXENC.search(value))
    warnings = sum(len(latex.decode_noted(value)[1]) for value in values)
    print(
        f"{len(values)} titles from {len(args.files)} files ({heavy} through pylatexenc): "
        f"{seconds * 1000:.1f} ms, {seconds / len(values) * 1e6:.1f} µs a title; {warnings} warnings"
    )


if __name__ == "__main__":
    main()
