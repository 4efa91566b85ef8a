#!/usr/bin/env python3
"""Precision, recall and F1 of the rule tagger's designs and conditions, and the list of misses.

Without --labelled: on the bundled corpus (data/*.bib, or the BibTeX files given), its curated tags set
aside in memory and used as the answers. With --labelled FILE.nbib: on real PubMed records, answered by
FILE.labels.yaml beside it (PMID: {design: id, conditions: [ids]}).

    .venv/bin/python scripts/tag_accuracy.py
    .venv/bin/python scripts/tag_accuracy.py --labelled tests/fixtures/pubmed_labelled.nbib
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from accuracy import labelled_by_curation, labelled_by_file, score

from evidence.loader import DATA_DIR, default_inputs
from evidence.tagging.vocabulary import load_vocabulary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "bib", nargs="*", type=Path, help="BibTeX files whose curated tags are the answers (default: data/*.bib)"
    )
    parser.add_argument(
        "--labelled", type=Path, metavar="FILE", help="records to tag, answered by FILE.labels.yaml beside it"
    )
    parser.add_argument("--vocab", type=Path, default=DATA_DIR / "vocabularies", help="vocabulary folder")
    args = parser.parse_args(argv)
    vocab = load_vocabulary(args.vocab)
    if args.labelled:
        try:
            labelled = labelled_by_file(args.labelled, vocab)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"{args.labelled}: {len(labelled)} labelled records")
    else:
        files = args.bib or default_inputs()
        labelled = labelled_by_curation(files)
        print(f"{', '.join(str(f) for f in files)}: {len(labelled)} records, curated tags as the answers")
    print(score(labelled, vocab).text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
