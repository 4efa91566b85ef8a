"""Apply the vocabularies: curated tags first, rules second, provenance always."""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterable
from functools import cached_property
from typing import NamedTuple

from .. import fast
from ..fast import prefilter
from ..records import LoadError, OutcomeTag, StudyRecord, Tag, TaggedStudy, split_source
from .vocabulary import DIRECTIONS, RULE_COMPARATOR, RULE_DIRECTION, Vocabulary


def tag_study(
    record: StudyRecord, curated_outcomes: list[OutcomeTag], vocab: Vocabulary
) -> tuple[TaggedStudy, list[LoadError]]:
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
        problems = [
            vocab.unknown_message(kind, value)
            for kind, value in (("outcomes", outcome.outcome), ("comparators", outcome.comparator))
            if not vocab.known(kind, value)
        ]
        if outcome.direction not in DIRECTIONS:
            problems.append(f"unknown direction '{outcome.direction}' (one of: {', '.join(DIRECTIONS)})")
        if outcome.condition and not vocab.known("conditions", outcome.condition):
            problems.append(vocab.unknown_message("conditions", outcome.condition))
        for problem in problems:
            reject(outcome.source, problem)
        if not problems:
            tagged.outcomes.append(outcome)

    curated_kinds = {tag.kind for tag in record.tags}  # even a rejected curated tag keeps the rules out
    reading = _Reading(record, vocab)
    if "design" not in curated_kinds:
        tagged.design = _design(reading)
    if "condition" not in curated_kinds:
        tagged.conditions = _conditions(reading)
    if not curated_outcomes:
        tagged.outcomes = _outcomes(reading)
    return tagged, errors


def design_by_rule(record: StudyRecord, vocab: Vocabulary) -> Tag | None:
    """The design the record's publication types, MeSH headings, title or keywords name, or failing those
    its abstract; of several, the lowest ``precedence`` in designs.yaml, leaving out those that yield to
    another one found (``yields_to``: a review reporting its own case is a case report). Abstract wording
    also counts when it narrows a design found first to one with the same MeSH publication type
    (meta-analysis -> IPD, Case Reports -> case series)."""
    return _design(_Reading(record, vocab))


def conditions_by_rule(record: StudyRecord, vocab: Vocabulary) -> list[Tag]:
    """Conditions the record's MeSH headings (its major topics, where it marks them), or a label or synonym in
    its title or keywords, name; those its abstract names only when narrower than one found, or named in a
    sentence stating the study's aim. Only the most specific are kept."""
    return _conditions(_Reading(record, vocab))


def outcomes_by_rule(record: StudyRecord, vocab: Vocabulary) -> list[OutcomeTag]:
    """One row for each measure (an outcome's pattern) named in the title, keywords or abstract; the rules do
    not read what it was compared with or which way the result went."""
    return _outcomes(_Reading(record, vocab))


class _Match(NamedTuple):
    """A vocabulary term a rule found, where (publication-type, mesh, title, keywords, abstract) and on what text."""

    term: str
    where: str
    text: str

    def tag(self, kind: str) -> Tag:
        return Tag(kind, self.term, "rule", f"rule:{kind}-{self.where} matched '{self.text}'")


def _design(reading: _Reading) -> Tag | None:
    """See ``design_by_rule``."""
    rules, record = reading.rules, reading.record
    designs = rules.designs
    found = _indexed(rules.design_types, "publication-type", record.publication_types)
    found += _indexed(rules.design_headings, "mesh", record.mesh_headings)
    found += rules.designs_named.matches(reading.front)
    labels = {designs[m.term].get("mesh_label") for m in found} - {None}
    narrowing = {term for label in labels for term in rules.designs_labelled[label]}
    found += rules.designs_described.matches(reading.abstract, narrowing if found else None)
    named = {m.term for m in found}
    found = [m for m in found if not named & set(designs[m.term]["yields_to"])]
    if not found:
        return None
    return min(found, key=lambda m: designs[m.term]["precedence"]).tag("design")


def _conditions(reading: _Reading) -> list[Tag]:
    """See ``conditions_by_rule``."""
    rules, record = reading.rules, reading.record
    found = _most_specific(
        _conditions_in_headings(rules.condition_headings, record.mesh_headings, record.mesh_major)
        + rules.condition_names.matches(reading.front),
        rules,
    )
    narrower = {term for match in found for term in rules.narrower[match.term]}
    in_abstract = rules.condition_names.matches(reading.abstract) if record.abstract else []
    found += [match for match in in_abstract if match.term in narrower]
    if in_abstract:  # only then look for the sentences that state an aim
        found += rules.condition_names.matches(reading.aims, {match.term for match in in_abstract})
    return [match.tag("condition") for match in _most_specific(found, rules)]


def _most_specific(matches: list[_Match], rules: _Rules) -> list[_Match]:
    """The first match of each condition, leaving out conditions broader than another one matched."""
    first: dict[str, _Match] = {}
    for match in matches:
        first.setdefault(match.term, match)
    broader = {a for term in first for a in rules.broader[term]}
    return [match for term, match in first.items() if term not in broader]


def _outcomes(reading: _Reading) -> list[OutcomeTag]:
    """See ``outcomes_by_rule``."""
    return [
        OutcomeTag(
            m.term, m.text, RULE_COMPARATOR, RULE_DIRECTION, "", "rule", f"rule:outcome-{m.where} matched '{m.text}'"
        )
        for m in reading.rules.measures.matches(reading.front + reading.abstract)
    ]


def _indexed(indexing: _Indexing, where: str, indexed: list[str]) -> list[_Match]:
    """Terms that list one of the record's indexing terms (publication types or MeSH headings)."""
    given = {name.casefold(): name for name in indexed}
    return [
        _Match(term, where, given[name.casefold()])
        for term, names in indexing.terms_listing(given)
        for (name,) in names
        if name.casefold() in given
    ]


def _conditions_in_headings(indexing: _Indexing, mesh_headings: list[str], mesh_major: list[str]) -> list[_Match]:
    """Conditions whose MeSH headings (one descriptor, or several that must all be present) the record has; of
    a record that marks its major topics, only those of which one is a major topic (a heading such as
    Back Pain/etiology, not starred, is a symptom the patients had, not what the study is about)."""
    given = {name.casefold() for name in mesh_headings}
    major = {name.casefold() for name in mesh_major} or given
    matches = []
    for term, headings in indexing.terms_listing(major):
        for names in headings:
            if all(name.casefold() in given for name in names) and any(name.casefold() in major for name in names):
                matches.append(_Match(term, "mesh", " + ".join(names)))
                break
    return matches


def _name_patterns(condition: dict) -> list[str]:
    """A condition's label and synonyms, as whole words."""
    return [r"\b" + re.escape(name) + r"\b" for name in (condition["label"], *condition["synonyms"])]


class _Rules:
    """A vocabulary's rules made ready to run: its terms indexed by the indexing terms and the patterns that name
    them, and those patterns compiled; for the fast path, filed by their clues for the texts each set reads
    (see ``evidence.fast.prefilter.Clues``)."""

    def __init__(self, vocab: Vocabulary):
        designs, conditions, outcomes = (vocab.terms[kind] for kind in ("designs", "conditions", "outcomes"))
        self.designs = designs
        self.design_types = _Indexing(designs, "publication_types")
        self.design_headings = _Indexing(designs, "mesh_headings")
        self.designs_named = _RuleSet([(d["id"], d["title_patterns"] + d["patterns"]) for d in designs.values()])
        self.designs_described = _RuleSet([(d["id"], d["patterns"]) for d in designs.values()])
        self.designs_labelled: dict[str, set[str]] = {}  # MeSH publication type -> designs
        for design in designs.values():
            self.designs_labelled.setdefault(design.get("mesh_label"), set()).add(design["id"])
        self.condition_headings = _Indexing(conditions, "mesh_headings")
        self.condition_names = _RuleSet([(c["id"], _name_patterns(c)) for c in conditions.values()])
        self.broader = {term: {a for a, depth in vocab.ancestors(term).items() if depth > 0} for term in conditions}
        self.narrower = {term: {other for other in conditions if term in self.broader[other]} for term in conditions}
        self.measures = _RuleSet([(o["id"], [pattern]) for o in outcomes.values() for pattern in o["patterns"]])
        self.front_clues = prefilter.Clues(
            pattern
            for rules in (self.designs_named, self.condition_names, self.measures)
            for pattern in rules.fast.patterns
        )
        self.abstract_clues = prefilter.Clues(
            pattern
            for rules in (self.designs_described, self.condition_names, self.measures)
            for pattern in rules.fast.patterns
        )


_RULES: dict[int, _Rules] = {}


def _rules(vocab: Vocabulary) -> _Rules:
    """The vocabulary's rules, made once for each Vocabulary object (which is not changed once loaded)."""
    rules = _RULES.get(id(vocab))
    if rules is None:
        rules = _RULES[id(vocab)] = _Rules(vocab)
        weakref.finalize(vocab, _RULES.pop, id(vocab), None)
    return rules


class _Indexing:
    """Terms that list indexing terms (publication types, MeSH headings) under a field, each item one name or
    several that must all be present, found from a record's names without reading every term."""

    def __init__(self, terms: dict[str, dict], field_name: str):
        self.items = [
            (term["id"], [[item] if isinstance(item, str) else list(item) for item in term[field_name]])
            for term in terms.values()
        ]
        positions: dict[str, set[int]] = {}
        for position, (_, items) in enumerate(self.items):
            for name in (name for names in items for name in names):
                positions.setdefault(name.casefold(), set()).add(position)
        self.positions = {name: sorted(found) for name, found in positions.items()}

    def terms_listing(self, names: Iterable[str]) -> list[tuple[str, list[list[str]]]]:
        """(term, its items), in vocabulary order, of the terms that list one of the casefolded ``names``."""
        return [self.items[p] for p in sorted({p for name in names for p in self.positions.get(name, ())})]


class _RuleSet:
    """Terms, in vocabulary order, each with the patterns that name it (a term may come more than once)."""

    def __init__(self, entries: list[tuple[str, list[str]]]):
        self.entries = [(term, [re.compile(p, re.IGNORECASE) for p in patterns]) for term, patterns in entries]
        self.fast = prefilter.RuleSet(entries)

    def matches(self, texts: list[_Text], terms: set[str] | None = None) -> list[_Match]:
        """Terms (all, or those of ``terms``) whose patterns match one of ``texts``: the first text that names a
        term says where, the first of its patterns that matches there what. The fast path (``evidence.fast``)
        finds the same, searching only what the pre-filter says may match."""
        if fast.ENABLED:
            return self.fast.matches([text.read for text in texts], terms, _Match)
        matches = []
        for term, patterns in self.entries:
            if terms is None or term in terms:
                found = next(
                    (
                        (text.where, match.group(0))
                        for text in texts
                        for pattern in patterns
                        if (match := pattern.search(text.text))
                    ),
                    None,
                )
                if found:
                    matches.append(_Match(term, *found))
        return matches


_AS_TOPIC = re.compile(r"\bas topic\b", re.IGNORECASE)
_AIM_WORDS = (  # (?<!\w) rather than \b: faster
    r"(?<!\w)(?:aims?|aimed|objectives?|purposes?|goals?|hypothes[ie]s|hypothesi[sz]ed"
    r"|to (?:evaluate|assess|investigate|examine|compare|determine|explore|test)"
    r"|we (?:evaluated|assessed|investigated|examined|compared|tested))\b"
)
_AIM, _AIM_ANY_CASE = re.compile(_AIM_WORDS), re.compile(_AIM_WORDS, re.IGNORECASE)


class _Reading:
    """What the rules read of a record, each part made once when first needed: the title and keywords (its front
    matter), then the abstract."""

    def __init__(self, record: StudyRecord, vocab: Vocabulary):
        self.record = record
        self.rules = _rules(vocab)

    @cached_property
    def front(self) -> list[_Text]:
        """Title and keywords; keywords that are MeSH "... as Topic" headings (a study about meta-analyses or
        trials, not one) left out."""
        keywords = [word for word in self.record.keywords if not _AS_TOPIC.search(word)]
        clues = self.rules.front_clues
        return [_Text("title", self.record.title or "", clues), _Text("keywords", "; ".join(keywords), clues)]

    @cached_property
    def abstract(self) -> list[_Text]:
        return [_Text("abstract", self.record.abstract or "", self.rules.abstract_clues)]

    @cached_property
    def aims(self) -> list[_Text]:
        """The abstract's sentences that state what the study is for ("The aim of this study was to evaluate
        ...", "OBJECTIVE: To compare ..."): a condition named there is its subject, one named elsewhere may
        be a symptom, a comorbidity or an outcome."""
        abstract, aims, end = self.record.abstract or "", [], 0
        lowered = abstract.lower()  # searched without IGNORECASE, which is slower; same length: same places
        aim, searched = (_AIM, lowered) if len(lowered) == len(abstract) else (_AIM_ANY_CASE, abstract)
        for match in aim.finditer(searched):
            if match.start() >= end:  # not in the sentence last taken
                start = abstract.rfind(". ", 0, match.start()) + 1
                end = abstract.find(". ", match.end())
                end = len(abstract) if end < 0 else end
                aims.append(abstract[start:end])
        return [_Text("aim", " ".join(aims), self.rules.abstract_clues)]


class _Text:
    """A text of a record the rules read, and where it was (title, keywords, abstract); for the fast path, read
    once by the clue index of the rules that read it there."""

    def __init__(self, where: str, text: str, clues: prefilter.Clues):
        self.where = where
        self.text = text
        self.clues = clues

    @cached_property
    def read(self) -> prefilter.Read:
        return self.clues.read(self.where, self.text)
