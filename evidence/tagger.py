"""Apply the vocabularies: curated tags first, rules second, provenance always."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from .curation import OutcomeTag
from .records import LoadError, StudyRecord, Tag, split_source
from .vocabulary import DIRECTIONS, Vocabulary


@dataclass
class TaggedStudy:
    """A record with its checked tags."""

    record: StudyRecord
    design: Tag | None = None
    conditions: list[Tag] = field(default_factory=list)
    outcomes: list[OutcomeTag] = field(default_factory=list)

    def keywords(self) -> list[str]:
        """Curated tags as ``condition:<id>`` / ``design:<id>`` keywords (as they are read), then free keywords."""
        curated = [t for t in [*self.conditions, self.design] if t is not None and t.provenance == "curated"]
        return [f"{t.kind}:{t.value}" for t in curated] + self.record.keywords


def tag_study(record: StudyRecord, curated_outcomes: list[OutcomeTag], vocab: Vocabulary) -> tuple[TaggedStudy, list[LoadError]]:
    """Check curated tags against the vocabulary; where a kind has none, let the rules tag it."""
    errors: list[LoadError] = []
    tagged = TaggedStudy(record)

    def reject(source: str, message: str) -> None:
        file, line = split_source(source)
        errors.append(LoadError(file, line, record.key, message))

    for tag in record.tags:
        kind = tag.kind + "s"
        if not vocab.known(kind, tag.value):
            reject(tag.source, vocab.unknown_message(kind, tag.value))
        elif tag.kind == "design":
            if tagged.design and tagged.design.value != tag.value:
                reject(tag.source, f"two designs given ('{tagged.design.value}', '{tag.value}'); kept the first")
            else:
                tagged.design = tag
        elif all(c.value != tag.value for c in tagged.conditions):
            tagged.conditions.append(tag)

    for outcome in curated_outcomes:
        problems = [vocab.unknown_message(kind, value) for kind, value in
                    (("outcomes", outcome.outcome), ("comparators", outcome.comparator)) if not vocab.known(kind, value)]
        if outcome.direction not in DIRECTIONS:
            problems.append(f"unknown direction '{outcome.direction}' (one of: {', '.join(DIRECTIONS)})")
        for problem in problems:
            reject(outcome.source, problem)
        if not problems:
            tagged.outcomes.append(outcome)

    curated_kinds = {tag.kind for tag in record.tags}  # even a rejected curated tag keeps the rules out
    if "design" not in curated_kinds:
        tagged.design = design_by_rule(record, vocab)
    if "condition" not in curated_kinds:
        tagged.conditions = conditions_by_rule(record, vocab)
    return tagged, errors


def _text_for_rules(record: StudyRecord) -> list[tuple[str, str]]:
    return [("title", record.title or ""), ("keywords", "; ".join(record.keywords)), ("abstract", record.abstract or "")]


def design_by_rule(record: StudyRecord, vocab: Vocabulary) -> Tag | None:
    """The first design (in vocabulary order) whose pattern the title, keywords or abstract contains."""
    for where, text in _text_for_rules(record):
        for design in vocab.terms["designs"].values():
            for pattern in design.get("patterns", []):
                match = _compiled(pattern).search(text)
                if match:
                    return Tag("design", design["id"], "rule", f"rule:design-{where} matched '{match.group(0)}'")
    return None


def conditions_by_rule(record: StudyRecord, vocab: Vocabulary) -> list[Tag]:
    """Conditions whose label or synonym the title or keywords name; only the most specific are kept."""
    found: dict[str, Tag] = {}
    for where, text in _text_for_rules(record)[:2]:
        for condition in vocab.terms["conditions"].values():
            for name in [condition["label"], *condition["synonyms"]]:
                match = _compiled(r"\b" + re.escape(name) + r"\b").search(text)
                if match and condition["id"] not in found:
                    found[condition["id"]] = Tag("condition", condition["id"], "rule",
                                                 f"rule:condition-{where} matched '{match.group(0)}'")
    broader = {a for term in found for a, depth in vocab.ancestors(term).items() if depth > 0}
    return [tag for term, tag in found.items() if term not in broader]


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern:
    return re.compile(pattern, re.IGNORECASE)
