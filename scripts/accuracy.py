"""How well the rules tag: their designs and conditions against the ones a person gave the same records."""

from __future__ import annotations

import operator
from dataclasses import dataclass, field, replace
from pathlib import Path

from evidence.formats import read_file
from evidence.records import StudyRecord
from evidence.tagging.tagger import conditions_by_rule, design_by_rule
from evidence.tagging.vocabulary import Vocabulary
from evidence.yamlsource import YamlProblem, load_with_lines

NO_DESIGN = "none"  # a design label: no design of the vocabulary fits the record


@dataclass
class Labelled:
    """A record with the answers a person gave it; None where that kind was not labelled (not scored)."""

    record: StudyRecord
    design: str | None
    conditions: list[str] | None


@dataclass
class Tally:
    """Rule tags against labels: how many rule tags were right, and how many labels the rules found."""

    found_right: int = 0
    found: int = 0
    labels_found: int = 0
    labels: int = 0

    @property
    def precision(self) -> float:
        return self.found_right / self.found if self.found else 0.0

    @property
    def recall(self) -> float:
        return self.labels_found / self.labels if self.labels else 0.0

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0

    def line(self, name: str) -> str:
        return (
            f"{name:<24} precision {self.precision:.2f} ({self.found_right}/{self.found})  "
            f"recall {self.recall:.2f} ({self.labels_found}/{self.labels})  F1 {self.f1:.2f}"
        )


@dataclass
class Report:
    """Per-kind tallies and every record where the rules and the labels disagree."""

    design: Tally = field(default_factory=Tally)
    conditions: Tally = field(default_factory=Tally)
    conditions_same_branch: Tally = field(default_factory=Tally)
    by_term: dict[str, dict[str, Tally]] = field(default_factory=lambda: {"design": {}, "condition": {}})
    misses: list[str] = field(default_factory=list)

    def count(self, kind: str, given: set[str], labels: set[str]) -> None:
        """One record's rule tags (``given``) and labels of one kind, in the tallies of each term."""
        for term in given | labels:
            tally = self.by_term[kind].setdefault(term, Tally())
            tally.found += term in given
            tally.labels += term in labels
            right = term in given and term in labels
            tally.found_right += right
            tally.labels_found += right

    def text(self) -> str:
        lines = [
            self.design.line("design (exact)"),
            self.conditions.line("conditions (exact id)"),
            self.conditions_same_branch.line("conditions (same branch)"),
        ]
        for kind, tallies in self.by_term.items():
            lines += [f"by {kind}:"] + [f"  {tallies[term].line(term)}" for term in sorted(tallies)]
        return "\n".join(lines + [f"misses ({len(self.misses)}):"] + [f"  {miss}" for miss in self.misses])


def score(labelled: list[Labelled], vocab: Vocabulary) -> Report:
    """Tag each record by the rules alone (its own curated tags set aside) and compare with its labels.
    Design: exact match. Conditions: per id; an ancestor or descendant of a label is wrong, but counts in
    the same-branch tally (both ways: a rule tag near some label, a label near some rule tag)."""
    report = Report()
    for item in labelled:
        record = replace(item.record, tags=[])
        if item.design is not None:
            _score_design(report, record, item.design, vocab)
        if item.conditions is not None:
            _score_conditions(report, record, item.conditions, vocab)
    return report


def _score_design(report: Report, record: StudyRecord, label: str, vocab: Vocabulary) -> None:
    """A label of ``NO_DESIGN`` (no design of the vocabulary fits) scores any rule tag as wrong, and has no
    design to be found (it does not count in recall)."""
    tag = design_by_rule(record, vocab)
    right = tag is not None and tag.value == label
    report.design.found += tag is not None
    report.design.found_right += right
    report.design.labels += label != NO_DESIGN
    report.design.labels_found += right
    report.count("design", {tag.value} if tag else set(), {label} - {NO_DESIGN})
    if not right and (tag is not None or label != NO_DESIGN):
        given = f"{tag.value} ({tag.source})" if tag else "none"
        report.misses.append(f"{record.key}: design by rule {given}, labelled {label}")


def _score_conditions(report: Report, record: StudyRecord, labels: list[str], vocab: Vocabulary) -> None:
    tags = {t.value: t for t in conditions_by_rule(record, vocab)}

    def same_branch(a: str, b: str) -> bool:
        return a in vocab.ancestors(b) or b in vocab.ancestors(a)

    for tally, near in ((report.conditions, operator.eq), (report.conditions_same_branch, same_branch)):
        tally.found += len(tags)
        tally.found_right += sum(any(near(t, label) for label in labels) for t in tags)
        tally.labels += len(labels)
        tally.labels_found += sum(any(near(t, label) for t in tags) for label in labels)
    report.count("condition", set(tags), set(labels))
    extra = [f"{t.value} ({t.source})" for t in tags.values() if t.value not in labels]
    missed = [label for label in labels if label not in tags]
    if extra or missed:
        report.misses.append(
            f"{record.key}: conditions by rule not labelled: {', '.join(extra) or 'none'}; "
            f"labelled, not found: {', '.join(missed) or 'none'}"
        )


def labelled_by_curation(paths: list[Path]) -> list[Labelled]:
    """The records of these files, labelled with their own curated tags (kinds without any are not scored)."""
    labelled = []
    for path in paths:
        for record in read_file(path, path.name).records:
            designs = [t.value for t in record.tags if t.kind == "design"]
            conditions = [t.value for t in record.tags if t.kind == "condition"]
            labelled.append(Labelled(record, designs[0] if designs else None, conditions or None))
    return labelled


def labels_path(path: Path) -> Path:
    """Where the labels of a file of records live: ``FILE.nbib`` -> ``FILE.labels.yaml``."""
    return path.with_suffix(".labels.yaml")


def labelled_by_file(path: Path, vocab: Vocabulary) -> list[Labelled]:
    """The records of ``path`` (any format the readers know) with the labels ``FILE.labels.yaml`` gives them
    by PMID: ``{design: id, conditions: [ids]}``. ValueError if the files disagree or name unknown terms."""
    if not path.exists():
        raise ValueError(f"{path}: no such file")
    result = read_file(path, path.name)
    if not result.records:
        raise ValueError("; ".join(str(e) for e in result.errors) or f"{path}: no records")
    try:
        document = load_with_lines(labels_path(path)) or {}
    except (OSError, YamlProblem) as exc:
        raise ValueError(f"{labels_path(path)}: {exc}") from exc
    labels = {str(pmid): entry for pmid, entry in document.items() if pmid != "__line__"}
    by_pmid = {record.pmid: record for record in result.records if record.pmid}
    problems = [f"PMID {pmid} is labelled but not in {path.name}" for pmid in labels if pmid not in by_pmid]
    labelled = []
    for pmid, entry in labels.items():
        design, conditions = entry.get("design"), entry.get("conditions")
        problems += [
            vocab.unknown_message(kind, term)
            for kind, terms in (
                ("designs", [design] if design and design != NO_DESIGN else []),
                ("conditions", conditions or []),
            )
            for term in terms
            if not vocab.known(kind, term)
        ]
        if pmid in by_pmid:
            labelled.append(Labelled(by_pmid[pmid], design, conditions))
    if problems:
        raise ValueError(f"{labels_path(path)}: " + "; ".join(problems))
    return labelled
