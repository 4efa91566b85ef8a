#!/usr/bin/env python3
"""Rule tagging benchmark: the tagger's fast path (the pre-filter) against its plain rules, on a corpus made by
scripts/make_corpus.py, and, with ``--before``, against the fast path of an older checkout.

    python scripts/make_corpus.py 20000 --out /tmp/tagbench --formats bib
    python scripts/bench_tagging.py /tmp/tagbench/corpus.bib --before /tmp/before

Studies are read with ``evidence.formats.read_file``, then every one is tagged (``tag_study``, no curated
outcomes) by the fast and plain paths in turn, ``--repeat`` times, the best run of each counted; the
vocabulary's rules are made before timing. The older checkout (whose tagger is ``evidence.tagger``) tags the
same file with the same vocabulary in a process of its own, read with its own reader, and so, to compare
like with like, does this one, in turn, twice each; their times are set against the plain path timed here,
and the older checkout's tags compared with the fast path's.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
VOCAB = PROJECT / "data" / "vocabularies"

# Run in a process of its own, on a checkout's path: the best seconds to tag every study, and the tags.
FAST_PATH = """
import gc, json, sys, time
from pathlib import Path
from evidence.{reader} import read_file
from evidence.{tagger} import tag_study
from evidence.{vocabulary} import load_vocabulary
path, vocab_dir, repeat = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
records, vocab = read_file(path, path.name).records, load_vocabulary(vocab_dir)
tag_study(records[0], [], vocab)
best = float("inf")
for _ in range(repeat):
    gc.collect()
    start = time.perf_counter()
    tagged = [tag_study(record, [], vocab)[0] for record in records]
    best = min(best, time.perf_counter() - start)
print(json.dumps([best, [[t.record.key, t.design and t.design.source, [c.source for c in t.conditions],
                          [o.source for o in t.outcomes]] for t in tagged]]))
"""
# Where each checkout keeps its reader, tagger and vocabulary.
MODULES = {
    "new": {"reader": "formats", "tagger": "tagging.tagger", "vocabulary": "tagging.vocabulary"},
    "old": {"reader": "readers", "tagger": "tagger", "vocabulary": "vocabulary"},
}


def fast_path_alone(checkout: Path, layout: str, corpus: Path, repeat: int) -> tuple[float, list]:
    """Best seconds, and tags, of a checkout's fast path tagging the corpus in a process of its own."""
    done = subprocess.run(
        [sys.executable, "-c", FAST_PATH.format(**MODULES[layout]), str(corpus.resolve()), str(VOCAB), str(repeat)],
        cwd=checkout,
        env={**os.environ, "PYTHONPATH": str(checkout)},
        capture_output=True,
        text=True,
    )
    if done.returncode:
        sys.exit(f"tagging in {checkout} failed:\n{done.stderr}")
    seconds, tags = json.loads(done.stdout)
    return seconds, tags


def digest(tags: list) -> str:
    """A short hash of the tags (design, condition and outcome sources, with the matched text) of each study."""
    return hashlib.sha256(json.dumps(tags).encode()).hexdigest()[:12]


def tagged_once(records: list, vocab) -> tuple[float, list]:
    """Seconds to tag every record, and the tags."""
    from evidence.tagging.tagger import tag_study

    gc.collect()
    start = time.perf_counter()
    tagged = [tag_study(record, [], vocab)[0] for record in records]
    seconds = time.perf_counter() - start
    return seconds, [
        [t.record.key, t.design and t.design.source, [c.source for c in t.conditions], [o.source for o in t.outcomes]]
        for t in tagged
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpus", type=Path, help="a BibTeX, RIS or MEDLINE file made by scripts/make_corpus.py")
    parser.add_argument("--before", type=Path, help="an older checkout whose tagger is evidence.tagger")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each path; the best counts (default 3)")
    args = parser.parse_args()
    sys.path.insert(0, str(PROJECT))
    from evidence import fast
    from evidence.formats import read_file
    from evidence.tagging.tagger import tag_study
    from evidence.tagging.vocabulary import load_vocabulary

    records = read_file(args.corpus, args.corpus.name).records
    vocab = load_vocabulary(VOCAB)
    tag_study(records[0], [], vocab)  # the rules made before timing
    print(f"{len(records)} studies from {args.corpus}, best of {args.repeat}")
    plain, quick = float("inf"), float("inf")
    for _ in range(args.repeat):  # in turn, so that a busy moment slows both
        fast.ENABLED = True
        seconds, fast_tags = tagged_once(records, vocab)
        quick = min(quick, seconds)
        fast.ENABLED = False
        seconds, plain_tags = tagged_once(records, vocab)
        plain = min(plain, seconds)
    fast.ENABLED = True
    print(f"plain rules                  {plain:7.2f} s")
    print(
        f"fast path                    {quick:7.2f} s  {quick / plain:.3f} of plain  ({plain / quick:.1f} times as "
        f"fast)  tags {'the same' if fast_tags == plain_tags else 'DIFFERENT'}"
    )
    if args.before:
        old = new = float("inf")
        for _ in range(2):  # in turn
            seconds, old_tags = fast_path_alone(args.before, "old", args.corpus, args.repeat)
            old = min(old, seconds)
            new = min(new, fast_path_alone(PROJECT, "new", args.corpus, args.repeat)[0])
        print(
            f"old fast path, own process   {old:7.2f} s  {old / plain:.3f} of plain  tags "
            f"{'the same' if old_tags == fast_tags else 'DIFFERENT'} ({digest(old_tags)}, {digest(fast_tags)})"
        )
        print(f"new fast path, own process   {new:7.2f} s  {new / plain:.3f} of plain")
        print(f"new fast / old fast (own processes): {new / old:.3f}")


if __name__ == "__main__":
    main()
