"""Apply the vocabularies: curated tags first, rules second, provenance always."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from .curation import OutcomeTag
from .records import LoadError, StudyRecord, Tag, split_source
from .vocabulary import DIRECTIONS, RULE_COMPARATOR, RULE_DIRECTION, Vocabulary


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
        if outcome.condition and not vocab.known("conditions", outcome.condition):
            problems.append(vocab.unknown_message("conditions", outcome.condition))
        for problem in problems:
            reject(outcome.source, problem)
        if not problems:
            tagged.outcomes.append(outcome)

    curated_kinds = {tag.kind for tag in record.tags}  # even a rejected curated tag keeps the rules out
    if "design" not in curated_kinds:
        tagged.design = design_by_rule(record, vocab)
    if "condition" not in curated_kinds:
        tagged.conditions = conditions_by_rule(record, vocab)
    if not curated_outcomes:
        tagged.outcomes = outcomes_by_rule(record, vocab)
    return tagged, errors


@dataclass(frozen=True)
class _Match:
    """A vocabulary term a rule found, where (publication-type, mesh, title, keywords, abstract) and on what text."""

    term: str
    where: str
    text: str

    def tag(self, kind: str) -> Tag:
        return Tag(kind, self.term, "rule", f"rule:{kind}-{self.where} matched '{self.text}'")


def design_by_rule(record: StudyRecord, vocab: Vocabulary) -> Tag | None:
    """The design the record's publication types, MeSH headings, title or keywords name, or failing those
    its abstract; of several, the lowest ``precedence`` in designs.yaml. Abstract wording also counts when
    it narrows a design found first to one with the same MeSH publication type (meta-analysis -> IPD)."""
    designs = vocab.terms["designs"]
    found = _indexed(designs, "publication_types", "publication-type", record.publication_types)
    found += _indexed(designs, "mesh_headings", "mesh", record.mesh_headings)
    found += _named(designs, lambda d: d["title_patterns"] + d["patterns"], _front_matter(record))
    in_abstract = _named(designs, lambda d: d["patterns"], {"abstract": record.abstract or ""})
    labels = {designs[m.term].get("mesh_label") for m in found} - {None}
    found += [m for m in in_abstract if not found or designs[m.term].get("mesh_label") in labels]
    if not found:
        return None
    return min(found, key=lambda m: designs[m.term]["precedence"]).tag("design")


def conditions_by_rule(record: StudyRecord, vocab: Vocabulary) -> list[Tag]:
    """Conditions the record's MeSH headings, or a label or synonym in its title or keywords, name; those its
    abstract names only when there were none, or when narrower than one found. Only the most specific are kept."""
    conditions = vocab.terms["conditions"]
    found = _most_specific(_conditions_in_headings(record, conditions) +
                           _named(conditions, _name_patterns, _front_matter(record)), vocab)
    in_abstract = _named(conditions, _name_patterns, {"abstract": record.abstract or ""})
    found += [m for m in in_abstract if not found or any(vocab.ancestors(m.term).get(f.term, 0) > 0 for f in found)]
    return [match.tag("condition") for match in _most_specific(found, vocab)]


def _most_specific(matches: list[_Match], vocab: Vocabulary) -> list[_Match]:
    """The first match of each condition, leaving out conditions broader than another one matched."""
    first: dict[str, _Match] = {}
    for match in matches:
        first.setdefault(match.term, match)
    broader = {a for term in first for a, depth in vocab.ancestors(term).items() if depth > 0}
    return [match for term, match in first.items() if term not in broader]


def outcomes_by_rule(record: StudyRecord, vocab: Vocabulary) -> list[OutcomeTag]:
    """One row for each measure (an outcome's pattern) named in the title, keywords or abstract; the rules do
    not read what it was compared with or which way the result went."""
    texts = {**_front_matter(record), "abstract": record.abstract or ""}
    rows = []
    for outcome in vocab.terms["outcomes"].values():
        for pattern in outcome["patterns"]:
            match = _first_match([pattern], texts)
            if match:
                where, text = match
                rows.append(OutcomeTag(outcome["id"], text, RULE_COMPARATOR, RULE_DIRECTION, "", "rule",
                                       f"rule:outcome-{where} matched '{text}'"))
    return rows


def _front_matter(record: StudyRecord) -> dict[str, str]:
    """The texts read before the abstract; keywords that are MeSH "... as Topic" headings (a study about
    meta-analyses or trials, not one) left out."""
    keywords = [word for word in record.keywords if not _compiled(r"\bas topic\b").search(word)]
    return {"title": record.title or "", "keywords": "; ".join(keywords)}


def _indexed(terms: dict[str, dict], field_name: str, where: str, indexed: list[str]) -> list[_Match]:
    """Terms that list one of the record's indexing terms (publication types or MeSH headings) under ``field_name``."""
    given = {name.casefold(): name for name in indexed}
    return [_Match(term["id"], where, given[name.casefold()])
            for term in terms.values() for name in term[field_name] if name.casefold() in given]


def _conditions_in_headings(record: StudyRecord, conditions: dict[str, dict]) -> list[_Match]:
    """Conditions whose MeSH headings (one descriptor, or several that must all be present) the record has."""
    given = {name.casefold() for name in record.mesh_headings}
    matches = []
    for condition in conditions.values():
        for heading in condition["mesh_headings"]:
            names = [heading] if isinstance(heading, str) else heading
            if all(name.casefold() in given for name in names):
                matches.append(_Match(condition["id"], "mesh", " + ".join(names)))
                break
    return matches


def _named(terms: dict[str, dict], patterns_of: Callable[[dict], list[str]], texts: dict[str, str]) -> list[_Match]:
    """Terms whose patterns match one of ``texts``; the first text that names a term says where."""
    matches = []
    for term in terms.values():
        match = _first_match(patterns_of(term), texts)
        if match:
            matches.append(_Match(term["id"], *match))
    return matches


def _name_patterns(condition: dict) -> list[str]:
    """A condition's label and synonyms, as whole words."""
    return [r"\b" + re.escape(name) + r"\b" for name in [condition["label"], *condition["synonyms"]]]


def _first_match(patterns: list[str], texts: dict[str, str]) -> tuple[str, str] | None:
    """(where, matched text) of the first text any pattern matches, texts in order."""
    for where, text in texts.items():
        for pattern in patterns:
            match = _compiled(pattern).search(text)
            if match:
                return where, match.group(0)
    return None


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern:
    return re.compile(pattern, re.IGNORECASE)
