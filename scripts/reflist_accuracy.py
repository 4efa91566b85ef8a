"""How well the reference-list reader does on the labelled set in tests/fixtures/reference_lists/.

Run from the project root:  python scripts/reflist_accuracy.py [--min-accuracy 0.9]

Prints, per field, how many references print it (expected), how many the reader filled (found), how
many of those are right, precision (right / found), recall (right / expected) and exact-match accuracy
(references where the reader's value equals the label, empty included); then the overall field
accuracy and every reference with a field wrong. Exit status 1 if overall accuracy is below
--min-accuracy, 2 if the labels do not match the references in the files.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from evidence.formats import reflist  # noqa: E402

LABELLED_SET = PROJECT_ROOT / "tests" / "fixtures" / "reference_lists"
FIELDS = ("authors", "year", "title", "journal", "volume", "issue", "pages", "doi", "pmid")


@dataclass
class Tally:
    """Counts for one field over the labelled references."""

    expected: int = 0
    found: int = 0
    correct: int = 0
    equal: int = 0  # reader's value == label, both empty included


@dataclass
class Evaluation:
    """The reader's results on the labelled set."""

    references: int = 0
    files: int = 0
    tallies: dict[str, Tally] = field(default_factory=lambda: {name: Tally() for name in FIELDS})
    failures: list[str] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return sum(t.equal for t in self.tallies.values()) / (self.references * len(FIELDS))


class LabelMismatch(Exception):
    """labels.yaml and the reference-list files do not describe the same references."""


def expected_fields(label: dict) -> dict:
    """A label's values in the form the reader stores them; fields it leaves out are empty."""
    values = {name: label.get(name) for name in FIELDS}
    for name in FIELDS:
        if values[name] is not None and name not in ("authors", "year"):
            values[name] = str(values[name])
    return values


def found_fields(record) -> dict:
    """A record's values for the measured fields (authors as "family initials")."""
    if record is None:
        return dict.fromkeys(FIELDS)
    values = {name: getattr(record, name) for name in FIELDS}
    values["authors"] = [person.display for person in record.authors] or None
    return values


def evaluate(directory: Path = LABELLED_SET) -> Evaluation:
    """Read every labelled file with the reader and compare each reference with its label."""
    labels = yaml.safe_load((directory / "labels.yaml").read_text(encoding="utf-8"))
    evaluation = Evaluation(files=len(labels))
    for file_name, file_labels in labels.items():
        text = (directory / file_name).read_text(encoding="utf-8")
        references = reflist.split_references(text)
        if sorted(file_labels) != list(range(1, len(references) + 1)):
            raise LabelMismatch(f"{file_name}: {len(references)} references, labels for {sorted(file_labels)}")
        result = reflist.read(text, file_name)
        records = {record.source_line: record for record in result.records}
        errors = {error.line: error.message for error in result.errors if error.severity == "error"}
        for number, reference in enumerate(references, start=1):
            evaluation.references += 1
            expected = expected_fields(file_labels[number])
            found = found_fields(records.get(reference.line))
            wrong = []
            for name in FIELDS:
                tally = evaluation.tallies[name]
                tally.expected += expected[name] is not None
                tally.found += found[name] is not None
                tally.correct += found[name] is not None and found[name] == expected[name]
                tally.equal += found[name] == expected[name]
                if found[name] != expected[name]:
                    wrong.append(f"{name}: expected {expected[name]!r}, got {found[name]!r}")
            if reference.line in errors:
                wrong.insert(0, f"not loaded: {errors[reference.line]}")
            if wrong:
                details = "\n    ".join(wrong)
                evaluation.failures.append(f"{file_name} #{number} (line {reference.line}):\n    {details}")
    return evaluation


def _ratio(part: int, whole: int) -> str:
    return f"{part / whole:.3f}" if whole else "  -  "


def report(evaluation: Evaluation) -> str:
    """The table, the overall accuracy and the failed references, as printed."""
    lines = [
        f"Reference-list reader on {evaluation.references} labelled references ({evaluation.files} files)",
        f"{'field':<8} {'expected':>8} {'found':>6} {'correct':>7} {'precision':>9} {'recall':>7} {'accuracy':>8}",
    ]
    for name, t in evaluation.tallies.items():
        lines.append(
            f"{name:<8} {t.expected:>8} {t.found:>6} {t.correct:>7} {_ratio(t.correct, t.found):>9} "
            f"{_ratio(t.correct, t.expected):>7} {_ratio(t.equal, evaluation.references):>8}"
        )
    equal = sum(t.equal for t in evaluation.tallies.values())
    lines.append(
        f"overall field accuracy: {evaluation.accuracy:.3f} ({equal}/{evaluation.references * len(FIELDS)} fields)"
    )
    lines.append(f"failed references: {len(evaluation.failures)}")
    lines.extend(f"  {failure}" for failure in evaluation.failures)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--min-accuracy", type=float, default=0.0, help="exit with status 1 if the overall field accuracy is below this"
    )
    args = parser.parse_args(argv)
    try:
        evaluation = evaluate()
    except LabelMismatch as exc:
        print(f"labels do not match the files: {exc}", file=sys.stderr)
        return 2
    print(report(evaluation))
    return 0 if evaluation.accuracy >= args.min_accuracy else 1


if __name__ == "__main__":
    sys.exit(main())
