"""Fuzz every reader: real files (tests/fixtures, data/studies.bib) mutated at random, with a fixed seed, and
read as a load reads them. A reader may report any number of LoadErrors; an exception (a traceback) or an input
that takes longer than the time limit (a hang) is a failure. Prints, for each format, how many inputs were read,
the failures, the records and errors they gave and the slowest input; exits 1 on any failure.

    python scripts/fuzz.py                  # 10,000 inputs per format
    python scripts/fuzz.py -n 500 --seed 7 --format ris
"""

from __future__ import annotations

import argparse
import random
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evidence.formats import read_file  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
SEEDS = {
    "bibtex": ("bib", [FIXTURES / "tricky.bib", FIXTURES / "pieces.bib", ROOT / "data" / "studies.bib"]),
    "ris": ("ris", [FIXTURES / "databases.ris", FIXTURES / "zotero.ris", FIXTURES / "endnote.ris"]),
    "medline": ("nbib", [FIXTURES / "pubmed_labelled.nbib"]),
    "csljson": ("json", [FIXTURES / "zotero.json"]),
    "reflist": ("txt", sorted((FIXTURES / "reference_lists").glob("*.txt"))),
}
# Pieces that have broken readers, or might: deep nesting, huge numbers, bad code points, byte-order marks,
# odd record starts, LaTeX, macros.
TOKENS = [
    b"{" * 300 + b"\\'e" + b"}" * 300,
    b"[" * 2000,
    b'{"a":' * 1000,
    b"9" * 5000,
    b'"\\ud800"',
    b"\x00",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"\xfe\xff",
    b"\xff",
    b"\xc3",
    b"\r",
    b"\r\n",
    b"\n\n\n",
    b"}}}},",
    b"@string{x = x}\n",
    b"@string{a = b # a}\n",
    b"@article{k,\n title = {T},\n journal = undefinedmacro\n}\n",
    b"@comment{",
    b"@preamble{",
    b"TY-JOUR\n",
    b"TY  - JOUR\n",
    b"ER  - \n",
    b"PMID- 1\n",
    b"      continued\n",
    b"\\" * 10,
    b"\\'",
    b'\\"{',
    b"$\\frac{",
    b"and and and",
    b", , ,",
    b"k" * 10000,
    b'"id": null, "title": 5, "author": "x", "issued": {"date-parts": [["x"]]}',
    b'https://example.org/"onfocus="x',
    "Müller Ærø 東京 \U0001f600".encode(),
]


@dataclass
class Tally:
    inputs: int = 0
    records: int = 0
    errors: int = 0
    slowest: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)  # (kind, where or what)


def mutate(data: bytes, others: list[bytes], rng: random.Random) -> bytes:
    """``data`` changed by one to four random edits: bytes flipped, inserted, deleted or repeated, a token put
    in, a cut, or a splice with another seed file."""
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        at = rng.randint(0, len(data))
        edit = rng.randrange(8)
        if edit == 0 and data:
            data[min(at, len(data) - 1)] = rng.randrange(256)
        elif edit == 1:
            data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif edit == 2:
            del data[at : at + rng.randint(1, 200)]
        elif edit == 3:
            data[at:at] = data[at : at + rng.randint(1, 400)] * rng.randint(1, 20)
        elif edit in (4, 5):
            data[at:at] = rng.choice(TOKENS)
        elif edit == 6:
            data = data[:at]
        else:
            other = rng.choice(others)
            data = data[:at] + other[rng.randint(0, len(other)) :]
    return bytes(data)


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang


def read_one(path: Path, format: str, tally: Tally, limit: float) -> None:
    """Read one input as a load does, adding what came of it to ``tally``."""
    signal.setitimer(signal.ITIMER_REAL, limit)
    started = time.perf_counter()
    try:
        result = read_file(path, path.name)
    except Hang:
        tally.failures.append(("hang", f"over {limit}s"))
        return
    except Exception:
        frame = traceback.extract_tb(sys.exc_info()[2])[-1]
        tally.failures.append(("traceback", f"{sys.exc_info()[0].__name__} at {frame.filename}:{frame.lineno}"))
        return
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        tally.inputs += 1
        tally.slowest = max(tally.slowest, time.perf_counter() - started)
    tally.records += len(result.records)
    tally.errors += len(result.errors)


def fuzz(format: str, count: int, seed: int, limit: float = 10.0, keep: Path | None = None) -> Tally:
    """Read ``count`` mutated files of ``format``; with ``keep``, each input that fails is saved there."""
    suffix, paths = SEEDS[format]
    seeds = [path.read_bytes() for path in paths]
    rng = random.Random(f"{seed}:{format}")
    tally = Tally()
    previous = signal.signal(signal.SIGALRM, _alarm)
    try:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"fuzzed.{suffix}"
            for number in range(count):
                data = mutate(rng.choice(seeds), seeds, rng)
                path.write_bytes(data)
                failed = len(tally.failures)
                read_one(path, format, tally, limit)
                if keep and len(tally.failures) > failed:
                    keep.mkdir(parents=True, exist_ok=True)
                    (keep / f"{format}-{number}.{suffix}").write_bytes(data)
    finally:
        signal.signal(signal.SIGALRM, previous)
    return tally


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--count", type=int, default=10_000, help="inputs per format")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--limit", type=float, default=10.0, help="seconds an input may take")
    parser.add_argument("--format", choices=sorted(SEEDS), action="append", help="(default: every format)")
    parser.add_argument("--keep", type=Path, help="a folder to save the inputs that fail in")
    args = parser.parse_args()
    failed = False
    for format in args.format or list(SEEDS):
        started = time.perf_counter()
        tally = fuzz(format, args.count, args.seed, args.limit, args.keep)
        kinds = Counter(kind for kind, _ in tally.failures)
        print(
            f"{format:8} {tally.inputs} inputs, {kinds['traceback']} tracebacks, {kinds['hang']} hangs; "
            f"{tally.records} records, {tally.errors} errors and warnings; slowest {tally.slowest:.2f}s; "
            f"{time.perf_counter() - started:.0f}s in all"
        )
        for (kind, what), times in Counter(tally.failures).most_common(10):
            print(f"    {times} x {kind}: {what}")
        failed = failed or bool(tally.failures)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
