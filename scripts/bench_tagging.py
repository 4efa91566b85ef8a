#!/usr/bin/env python3
"""Rule tagging benchmark: the tagger's fast path (the pre-filter) against its plain rules, on a corpus made by
scripts/make_corpus.py, and, with ``--before``, against the fast path of an older checkout.

    python scripts/make_corpus.py 20000 --out /tmp/tagbench --formats bib
    python scripts/bench_tagging.py /tmp/tagbench/corpus.bib --before /tmp/before

Studies are read with ``evidence.formats.read_file``, then every one is tagged (``tag_study``, no curated
outcomes) by each path in turn, the best of ``--repeat`` runs counted; the vocabulary's rules are made before
timing. The older checkout (whose tagger is ``evidence.tagger``) runs in its own process, on the same file and
vocabulary, read with its own reader; its time is set against the plain path timed here, and its tags are
compared with the fast path's.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
VOCAB = PROJECT / "data" / "vocabularies"

# Run in the older checkout's process: best seconds to tag every study, the tags' digest and the study count.
OLD_FAST_PATH = """
import json, sys, time
from pathlib import Path
from evidence.readers import read_file
from evidence.tagger import tag_study
from evidence.vocabulary import load_vocabulary
path, vocab_dir, repeat = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
records, vocab = read_file(path, path.name).records, load_vocabulary(vocab_dir)
tag_study(records[0], [], vocab)
best = float("inf")
for _ in range(repeat):
    start = time.perf_counter()
    tagged = [tag_study(record, [], vocab)[0] for record in records]
    best = min(best, time.perf_counter() - start)
print(json.dumps([best, [[t.record.key, t.design and t.design.source, [c.source for c in t.conditions],
                          [o.source for o in t.outcomes]] for t in tagged]]))
"""


def digest(tags: list) -> str:
    """A short hash of the tags (design, condition and outcome sources, with the matched text) of each study."""
    return hashlib.sha256(json.dumps(tags).encode()).hexdigest()[:12]


def timed_tagging(records: list, vocab, repeat: int) -> tuple[float, list]:
    """Best seconds to tag every record, and the tags of the last run."""
    from evidence.tagging.tagger import tag_study

    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        tagged = [tag_study(record, [], vocab)[0] for record in records]
        best = min(best, time.perf_counter() - start)
    return best, [[t.record.key, t.design and t.design.source, [c.source for c in t.conditions],
                   [o.source for o in t.outcomes]] for t in tagged]


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
    fast.ENABLED = False
    plain, plain_tags = timed_tagging(records, vocab, args.repeat)
    fast.ENABLED = True
    quick, fast_tags = timed_tagging(records, vocab, args.repeat)
    print(f"plain rules      {plain:7.2f} s  1.00")
    print(f"fast path        {quick:7.2f} s  {quick / plain:.3f} of plain  ({plain / quick:.1f} times as fast)  "
          f"tags {'the same' if fast_tags == plain_tags else 'DIFFERENT'}")
    if args.before:
        done = subprocess.run([sys.executable, "-c", OLD_FAST_PATH, str(args.corpus.resolve()), str(VOCAB),
                               str(args.repeat)], cwd=args.before, env={**os.environ, "PYTHONPATH": str(args.before)},
                              capture_output=True, text=True)
        if done.returncode:
            sys.exit(f"the older checkout's tagging failed:\n{done.stderr}")
        old, old_tags = json.loads(done.stdout)
        print(f"old fast path    {old:7.2f} s  {old / plain:.3f} of plain  ({plain / old:.1f} times as fast)  "
              f"tags {'the same' if old_tags == fast_tags else 'DIFFERENT'} ({digest(old_tags)}, {digest(fast_tags)})")
        print(f"new fast / old fast: {quick / old:.3f}")


if __name__ == "__main__":
    main()
