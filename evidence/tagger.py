"""Apply the vocabularies: curated tags first, rules second, provenance always."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

try:  # the parser behind re, to find the literal text a pattern's matches must hold
    from re import _parser as sre_parse
    from re._constants import (AT, AT_BEGINNING, AT_BEGINNING_STRING, AT_BOUNDARY, AT_END, AT_END_STRING, BRANCH,
                               LITERAL, SUBPATTERN)
except ImportError:  # Python 3.10
    import sre_parse
    from sre_constants import (AT, AT_BEGINNING, AT_BEGINNING_STRING, AT_BOUNDARY, AT_END, AT_END_STRING, BRANCH,
                               LITERAL, SUBPATTERN)

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
    in_abstract = _named(designs, lambda d: d["patterns"], _texts(abstract=record.abstract or ""))
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
    in_abstract = _named(conditions, _name_patterns, _texts(abstract=record.abstract or ""))
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
    texts = {**_front_matter(record), **_texts(abstract=record.abstract or "")}
    rows = []
    for outcome in vocab.terms["outcomes"].values():
        for pattern in outcome["patterns"]:
            match = _first_match([pattern], texts)
            if match:
                where, text = match
                rows.append(OutcomeTag(outcome["id"], text, RULE_COMPARATOR, RULE_DIRECTION, "", "rule",
                                       f"rule:outcome-{where} matched '{text}'"))
    return rows


_AS_TOPIC = re.compile(r"\bas topic\b", re.IGNORECASE)


def _front_matter(record: StudyRecord) -> dict[str, _Text]:
    """The texts read before the abstract; keywords that are MeSH "... as Topic" headings (a study about
    meta-analyses or trials, not one) left out."""
    keywords = [word for word in record.keywords if not _AS_TOPIC.search(word)]
    return _texts(title=record.title or "", keywords="; ".join(keywords))


@dataclass(frozen=True)
class _Text:
    """A text the rules read, with its folded copy (see ``_fold``) and the words (runs of \\w) of that."""

    text: str
    folded: str
    words: frozenset[str]


def _texts(**texts: str) -> dict[str, _Text]:
    return {where: _prepared(text) for where, text in texts.items()}


_WORD = re.compile(r"\w+")
# The non-ASCII characters that re.IGNORECASE matches with ASCII letters (İ ı ſ K), as those letters.
CASE_FOLDS = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"})


def _fold(text: str) -> str:
    """The text in lower case, with every character that a case-insensitive expression takes for an ASCII letter
    made that letter, one character for one: a literal ASCII piece of a pattern that matches the text
    (re.IGNORECASE) is then a plain substring of it."""
    return (text if text.isascii() else text.translate(CASE_FOLDS)).lower()


@lru_cache(maxsize=16)  # the rules of each kind read the same texts in turn
def _prepared(text: str) -> _Text:
    folded = _fold(text)
    return _Text(text, folded, frozenset(_WORD.findall(folded)))


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


def _named(terms: dict[str, dict], patterns_of: Callable[[dict], list[str]], texts: dict[str, _Text]) -> list[_Match]:
    """Terms whose patterns match one of ``texts``; the first text that names a term says where."""
    matches = []
    for term in terms.values():
        match = _first_match(patterns_of(term), texts)
        if match:
            matches.append(_Match(term["id"], *match))
    return matches


def _name_patterns(condition: dict) -> tuple[str, ...]:
    """A condition's label and synonyms, as whole words."""
    return _whole_words(condition["label"], *condition["synonyms"])


@lru_cache(maxsize=1024)
def _whole_words(*names: str) -> tuple[str, ...]:
    return tuple(r"\b" + re.escape(name) + r"\b" for name in names)


def _first_match(patterns: list[str], texts: dict[str, _Text]) -> tuple[str, str] | None:
    """(where, matched text) of the first text any pattern matches, texts in order."""
    for where, text in texts.items():
        for pattern in map(_compiled, patterns):
            found = pattern.first(text)
            if found is not None:
                return where, found
    return None


class _Pattern:
    """A rule's regular expression, case-insensitive, with clues one of which every match leaves in the folded
    text (a whole word, or else a piece of text): where a text has none, the search is skipped. A pattern that
    is a literal between word boundaries (a condition's name) is looked for with ``str.find``."""

    def __init__(self, pattern: str):
        self.regex = re.compile(pattern, re.IGNORECASE)
        items = list(sre_parse.parse(pattern, re.IGNORECASE))
        clues = _clues(items, False, False)
        self.has_clues = clues is not None
        self.words = frozenset(clue for is_word, clue in clues or [] if is_word)
        self.pieces = tuple(clue for is_word, clue in clues or [] if not is_word)
        self.literal = _whole_word_literal(items)

    def first(self, text: _Text) -> str | None:
        """The text of the pattern's first match in ``text``, or None."""
        if self.has_clues and self.words.isdisjoint(text.words) and not any(map(text.folded.__contains__, self.pieces)):
            return None
        if self.literal is None:
            match = self.regex.search(text.text)
            return match.group(0) if match else None
        at = text.folded.find(self.literal)
        while at >= 0:
            end = at + len(self.literal)
            if not (at and _is_word(text.text[at - 1])) and not (end < len(text.text) and _is_word(text.text[end])):
                return text.text[at:end]
            at = text.folded.find(self.literal, at + 1)
        return None


def _is_word(char: str) -> bool:
    """Whether a character is one of \\w (what \\b in a str pattern looks at)."""
    return char.isalnum() or char == "_"


def _whole_word_literal(items: list) -> str | None:
    """The lower-case ASCII text of a pattern that is ``\\b`` literal ``\\b`` (beginning and ending with a word
    character), or None. In a folded text, such a pattern matches where the literal is and its ends are
    word boundaries."""
    if len(items) < 3 or items[0] != (AT, AT_BOUNDARY) or items[-1] != (AT, AT_BOUNDARY):
        return None
    if any(op is not LITERAL or argument >= 128 for op, argument in items[1:-1]):
        return None
    literal = "".join(chr(argument) for _, argument in items[1:-1]).lower()
    return literal if _is_word(literal[0]) and _is_word(literal[-1]) else None


_BOUNDARIES = {AT_BOUNDARY, AT_BEGINNING, AT_BEGINNING_STRING, AT_END, AT_END_STRING}


def _clues(items: list, bounded_before: bool, bounded_after: bool) -> list[tuple[bool, str]] | None:
    """(is a whole word, lower-case text) pairs one of which every match of the parsed items holds, or None if
    none is known; ``bounded_before`` / ``after``: whether a word boundary surrounds the items. The clues come
    from the most telling of the runs of literal characters and the groups and alternatives every match passes."""

    def bounded(index: int, outside: bool) -> bool:
        return outside if index in (-1, len(items)) else items[index][0] is AT and items[index][1] in _BOUNDARIES

    candidates, run = [], []
    for index, (op, argument) in enumerate(items + [(None, None)]):
        if op is LITERAL and argument < 128:
            run.append(chr(argument).lower())
            continue
        if run:
            start = index - len(run)
            candidates.append([_run_clue("".join(run), bounded(start - 1, bounded_before), bounded(index, bounded_after))])
            run = []
        if op is SUBPATTERN:
            candidates.append(_clues(list(argument[-1]), bounded(index - 1, bounded_before), bounded(index + 1, bounded_after)))
        elif op is BRANCH:
            alternatives = [_clues(list(branch), bounded(index - 1, bounded_before), bounded(index + 1, bounded_after))
                            for branch in argument[1]]
            candidates.append(None if None in alternatives else [clue for clues in alternatives for clue in clues])
    candidates = [c for c in candidates if c and None not in c]
    return max(candidates, key=lambda clues: (min(len(c) for _, c in clues), all(w for w, _ in clues)), default=None)


def _run_clue(run: str, bounded_before: bool, bounded_after: bool) -> tuple[bool, str] | None:
    """A clue from a run of literal characters: a word of it that must be a whole word of the text where one
    is long enough to tell much (or is the whole run), else the run itself, if it has two characters or more."""
    words = [m.group(0) for m in _WORD.finditer(run)  # inside the run, \\W characters bound each word
             if (m.start() > 0 or bounded_before) and (m.end() < len(run) or bounded_after)]
    longest = max(words, key=len, default="")
    if len(longest) >= 6 or longest == run:
        return True, longest
    return (False, run) if len(run) >= 2 else None


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> _Pattern:
    return _Pattern(pattern)
