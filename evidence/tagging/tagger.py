"""Apply the vocabularies: curated tags first, rules second, provenance always."""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property, lru_cache
from typing import NamedTuple

try:  # the parser behind re, to find the literal text a pattern's matches must hold
    from re import _parser as sre_parse
    from re._constants import (ASSERT_NOT, AT, AT_BEGINNING, AT_BEGINNING_STRING, AT_BOUNDARY, AT_END, AT_END_STRING,
                               BRANCH, CATEGORY, CATEGORY_SPACE, CATEGORY_WORD, IN, LITERAL, MAX_REPEAT, MAXREPEAT,
                               MIN_REPEAT, NEGATE, SUBPATTERN)
except ImportError:  # Python 3.10
    import sre_parse
    from sre_constants import (ASSERT_NOT, AT, AT_BEGINNING, AT_BEGINNING_STRING, AT_BOUNDARY, AT_END, AT_END_STRING,
                               BRANCH, CATEGORY, CATEGORY_SPACE, CATEGORY_WORD, IN, LITERAL, MAX_REPEAT, MAXREPEAT,
                               MIN_REPEAT, NEGATE, SUBPATTERN)

from ..records import LoadError, OutcomeTag, StudyRecord, Tag, TaggedStudy, split_source
from .vocabulary import DIRECTIONS, RULE_COMPARATOR, RULE_DIRECTION, Vocabulary


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
    its abstract; of several, the lowest ``precedence`` in designs.yaml. Abstract wording also counts when
    it narrows a design found first to one with the same MeSH publication type (meta-analysis -> IPD)."""
    return _design(_Reading(record, vocab))


def conditions_by_rule(record: StudyRecord, vocab: Vocabulary) -> list[Tag]:
    """Conditions the record's MeSH headings, or a label or synonym in its title or keywords, name; those its
    abstract names only when there were none, or when narrower than one found. Only the most specific are kept."""
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
    if not found:
        return None
    return min(found, key=lambda m: designs[m.term]["precedence"]).tag("design")


def _conditions(reading: _Reading) -> list[Tag]:
    """See ``conditions_by_rule``."""
    rules = reading.rules
    found = _most_specific(_conditions_in_headings(rules.condition_headings, reading.record.mesh_headings) +
                           rules.condition_names.matches(reading.front), rules)
    narrower = {term for match in found for term in rules.narrower[match.term]}
    found += rules.condition_names.matches(reading.abstract, narrower if found else None)
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
    return [OutcomeTag(m.term, m.text, RULE_COMPARATOR, RULE_DIRECTION, "", "rule",
                       f"rule:outcome-{m.where} matched '{m.text}'")
            for m in reading.rules.measures.matches(reading.front + reading.abstract)]


def _indexed(indexing: _Indexing, where: str, indexed: list[str]) -> list[_Match]:
    """Terms that list one of the record's indexing terms (publication types or MeSH headings)."""
    given = {name.casefold(): name for name in indexed}
    return [_Match(term, where, given[name.casefold()])
            for term, names in indexing.terms_listing(given) for (name,) in names if name.casefold() in given]


def _conditions_in_headings(indexing: _Indexing, mesh_headings: list[str]) -> list[_Match]:
    """Conditions whose MeSH headings (one descriptor, or several that must all be present) the record has."""
    given = {name.casefold() for name in mesh_headings}
    matches = []
    for term, headings in indexing.terms_listing(given):
        for names in headings:
            if all(name.casefold() in given for name in names):
                matches.append(_Match(term, "mesh", " + ".join(names)))
                break
    return matches


def _name_patterns(condition: dict) -> list[str]:
    """A condition's label and synonyms, as whole words."""
    return [r"\b" + re.escape(name) + r"\b" for name in (condition["label"], *condition["synonyms"])]


class _Rules:
    """A vocabulary's rules made ready to run: its terms indexed by the indexing terms and the patterns that name
    them, and those patterns compiled and filed by their clues (see ``_Clues``)."""

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
        self.front_clues = _Clues(pattern for rules in (self.designs_named, self.condition_names, self.measures)
                                  for pattern in rules.patterns)
        self.abstract_clues = _Clues(pattern for rules in (self.designs_described, self.condition_names, self.measures)
                                     for pattern in rules.patterns)


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
        self.items = [(term["id"], [[item] if isinstance(item, str) else list(item) for item in term[field_name]])
                      for term in terms.values()]
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
        self.entries = [(term, [_compiled(p) for p in patterns]) for term, patterns in entries]
        positions: dict[_Pattern, set[int]] = {}
        for position, (_, patterns) in enumerate(self.entries):
            for pattern in patterns:
                positions.setdefault(pattern, set()).add(position)
        self.positions = {pattern: sorted(found) for pattern, found in positions.items()}
        self.patterns = list(self.positions)

    def matches(self, texts: list[_Read], terms: set[str] | None = None) -> list[_Match]:
        """Terms (all, or those of ``terms``) whose patterns match one of ``texts``; the first text that names a
        term says where. Only terms with a pattern that may match (by its clues) are looked at."""
        if terms is not None and not terms:
            return []
        live: set[int] = set()
        for read in texts:
            for pattern in self.positions.keys() & read.candidates.keys():
                live.update(self.positions[pattern])
        matches = []
        for term, patterns in map(self.entries.__getitem__, sorted(live)):
            if terms is None or term in terms:
                match = _first_match(patterns, texts)
                if match:
                    matches.append(_Match(term, *match))
        return matches


def _first_match(patterns: list[_Pattern], texts: list[_Read]) -> tuple[str, str] | None:
    """(where, matched text) of the first text any pattern matches, texts in order."""
    for read in texts:
        for pattern in patterns:
            routes = read.candidates.get(pattern)
            if routes:
                found = pattern.first(read.text, routes)
                if found is not None:
                    return read.where, found
    return None


class _Clues:
    """Which of many patterns may match a text, from its clues: each route (see ``_Route``) of a pattern is filed
    under its longest word (long words are rare), or, needing no word, its longest piece of text; a route that
    needs neither is looked at in every text."""

    def __init__(self, patterns: Iterable[_Pattern]):
        routes = [(route, pattern) for pattern in set(patterns) for route in pattern.routes]
        shared: dict[bytes, int] = {}  # how many routes need each word: of two as long, the rarer tells more
        for route, _ in routes:
            for word in route.words:
                shared[word] = shared.get(word, 0) + 1
        self.by_word: dict[bytes, list[tuple[_Route, _Pattern]]] = {}
        self.by_piece: dict[str, list[tuple[_Route, _Pattern]]] = {}
        self.anywhere: list[tuple[_Route, _Pattern]] = []
        for route, pattern in routes:
            if route.words:
                word = min(sorted(route.words), key=lambda word: (-len(word), shared[word]))
                self.by_word.setdefault(word, []).append((route, pattern))
            elif route.pieces:
                longest = max((piece for piece, _ in route.pieces), key=len)
                self.by_piece.setdefault(longest, []).append((route, pattern))
            else:
                self.anywhere.append((route, pattern))
        self.filed_words = frozenset(self.by_word)
        self.wanted = frozenset(word for route, _ in routes for word in route.words)  # the words routes need

    def candidates(self, text: _Text) -> dict[_Pattern, list[_Route]]:
        """The patterns that may match the text, each with its routes whose words (all), or piece, the text holds."""
        candidates: dict[_Pattern, list[_Route]] = {}
        for route, pattern in self.anywhere:
            candidates.setdefault(pattern, []).append(route)
        for word in self.filed_words & text.words:
            for route, pattern in self.by_word[word]:
                if route.words <= text.words:
                    candidates.setdefault(pattern, []).append(route)
        for piece, filed in self.by_piece.items() if text.folded else ():
            if piece in text.folded:
                for route, pattern in filed:
                    candidates.setdefault(pattern, []).append(route)
        return candidates


_AS_TOPIC = re.compile(r"\bas topic\b", re.IGNORECASE)


class _Reading:
    """What the rules read of a record, each text prepared once when first needed: the title and keywords (its
    front matter), then the abstract."""

    def __init__(self, record: StudyRecord, vocab: Vocabulary):
        self.record = record
        self.rules = _rules(vocab)

    @cached_property
    def front(self) -> list[_Read]:
        """Title and keywords; keywords that are MeSH "... as Topic" headings (a study about meta-analyses or
        trials, not one) left out."""
        keywords = [word for word in self.record.keywords if not _AS_TOPIC.search(word)]
        clues = self.rules.front_clues
        return [_Read.of("title", self.record.title or "", clues), _Read.of("keywords", "; ".join(keywords), clues)]

    @cached_property
    def abstract(self) -> list[_Read]:
        return [_Read.of("abstract", self.record.abstract or "", self.rules.abstract_clues)]


class _Text(NamedTuple):
    """A text the rules read, with its folded copy (see ``_fold``) and the ASCII words (runs of \\w) of that, as
    bytes (quicker to split and compare; the rules' words are ASCII): all, or those that some rules look for."""

    text: str
    folded: str
    words: frozenset[bytes]


class _Read(NamedTuple):
    """A text of a record, where it was (title, keywords, abstract), and the patterns that may match it."""

    where: str
    text: _Text
    candidates: dict[_Pattern, list[_Route]]

    @staticmethod
    def of(where: str, text: str, clues: _Clues) -> _Read:
        prepared = _prepared(text, clues.wanted)
        return _Read(where, prepared, clues.candidates(prepared))


_WORD = re.compile(r"\w+")
# The non-ASCII characters that re.IGNORECASE matches with ASCII letters (İ ı ſ K), as those letters.
CASE_FOLDS = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"})


def _fold(text: str) -> str:
    """The text in lower case, with every character that a case-insensitive expression takes for an ASCII letter
    made that letter, one character for one: a literal ASCII piece of a pattern that matches the text
    (re.IGNORECASE) is then a plain substring of it."""
    return (text if text.isascii() else text.translate(CASE_FOLDS)).lower()


def _is_word(char: str) -> bool:
    """Whether a character is one of \\w (what \\b in a str pattern looks at)."""
    return char.isalnum() or char == "_"


# Bytes outside ASCII \w, as spaces: an ASCII text's words are then what bytes.split gives (faster than \w+).
_ASCII_WORDS = bytes(c if c < 128 and _is_word(chr(c)) else ord(" ") for c in range(256))


def _prepared(text: str, wanted: frozenset[bytes] | None = None) -> _Text:
    """The text, folded, with its ASCII words: all, or those of ``wanted``."""
    folded = _fold(text)
    if folded.isascii():
        words = folded.encode().translate(_ASCII_WORDS).split()
    else:
        words = [word.encode() for word in _WORD.findall(folded) if word.isascii()]
    return _Text(text, folded, frozenset(words) if wanted is None else wanted.intersection(words))


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> _Pattern:
    return _Pattern(pattern)


class _Pattern:
    """A rule's regular expression, case-insensitive, with the routes (see ``_Route``) its matches can take: a
    text that holds the clues of no route is not searched, and one that does only from where the clues allow a
    match to begin. A pattern that is a literal between word boundaries (a condition's name) is looked for with
    ``str.find``."""

    def __init__(self, pattern: str):
        self.regex = re.compile(pattern, re.IGNORECASE)
        parsed = sre_parse.parse(pattern, re.IGNORECASE)
        routes = list(dict.fromkeys(map(_Route.along, _ways(list(parsed), parsed.state))))
        self.routes = [route for index, route in enumerate(routes)  # those no other covers (of equals, the first)
                       if not any(other.covers(route) and (at < index or not route.covers(other))
                                  for at, other in enumerate(routes) if at != index)]
        self.literal = _whole_word_literal(list(parsed))

    def first(self, text: _Text, routes: list[_Route] | None = None) -> str | None:
        """The text of the pattern's first match in ``text``, or None. ``routes``: those of its routes that matches
        in the text can take, if fewer than all."""
        if self.literal is None:
            routes = self.routes if routes is None else routes
            starts = [start for route in routes if (start := route.earliest_start(text)) is not None]
            match = self.regex.search(text.text, min(starts)) if starts else None
            return match.group(0) if match else None
        at = text.folded.find(self.literal)
        while at >= 0:
            end = at + len(self.literal)
            if not (at and _is_word(text.text[at - 1])) and not (end < len(text.text) and _is_word(text.text[end])):
                return text.text[at:end]
            at = text.folded.find(self.literal, at + 1)
        return None


class _Step(Enum):
    """A step of a way through a pattern other than literal text (a str) or some characters (an int: at most
    that many): any number of characters; one character outside \\w; or, taking no characters, a word
    boundary, or where the character before, or the one after, is not one of \\w (or there is none)."""

    GAP = "gap"
    NON_WORD = "non-word"
    BOUNDARY = "boundary"
    NON_WORD_BEFORE = "non-word before"
    NON_WORD_AFTER = "non-word after"


_AT_STEPS = {AT_BOUNDARY: _Step.BOUNDARY,
             AT_BEGINNING: _Step.NON_WORD_BEFORE, AT_BEGINNING_STRING: _Step.NON_WORD_BEFORE,
             AT_END: _Step.NON_WORD_AFTER, AT_END_STRING: _Step.NON_WORD_AFTER}
# Ways through a pattern worth telling apart; beyond, a part counts as unknown text (fewer clues, still true).
_MOST_WAYS = 32


def _ways(items: list, state) -> list[tuple]:
    """The ways through parsed items, each a tuple of steps (see ``_Step``; literal text in lower case): one
    for each alternative of a branch, and with and without an optional part."""
    ways: list[tuple] = [()]
    for item in items:
        op, argument = item
        if op is LITERAL and argument < 128:
            parts = [(chr(argument).lower(),)]
        elif op is IN and _non_word_characters(argument):
            parts = [(_Step.NON_WORD,)]
        elif op is AT:
            parts = [(_AT_STEPS[argument],) if argument in _AT_STEPS else ()]
        elif op is ASSERT_NOT and _is_word_class(argument[1]):  # (?<!\w) or (?!\w)
            parts = [(_Step.NON_WORD_BEFORE if argument[0] < 0 else _Step.NON_WORD_AFTER,)]
        elif op is SUBPATTERN:
            parts = _ways(list(argument[-1]), state)
        elif op is BRANCH:
            parts = [way for branch in argument[1] for way in _ways(list(branch), state)]
        elif op in (MAX_REPEAT, MIN_REPEAT) and argument[1] == 1:  # optional, or once
            parts = ([()] if argument[0] == 0 else []) + _ways(list(argument[2]), state)
        elif op in (MAX_REPEAT, MIN_REPEAT) and argument[0] >= 1:  # once, then unknown
            parts = [way + (_Step.GAP,) for way in _ways(list(argument[2]), state)]
        else:
            parts = [_unknown(item, state)]
        if len(ways) * len(parts) > _MOST_WAYS:
            parts = [_unknown(item, state)]
        ways = [_joined(way, part) for way in ways for part in parts]
    return ways


def _unknown(item: tuple, state) -> tuple:
    """The steps of an item whose text is not looked into: as many characters as it can take."""
    most = sre_parse.SubPattern(state, [item]).getwidth()[1]
    return (_Step.GAP,) if most >= MAXREPEAT else (most,) if most else ()


def _joined(way: tuple, part: tuple) -> tuple:
    """``way`` followed by ``part``, literal text where they meet made one."""
    if way and part and isinstance(way[-1], str) and isinstance(part[0], str):
        return way[:-1] + (way[-1] + part[0],) + part[1:]
    return way + part


def _is_word_class(pattern) -> bool:
    """Whether a parsed pattern is one character of a set that holds \\w."""
    return (len(pattern) == 1 and pattern[0][0] is IN and (CATEGORY, CATEGORY_WORD) in pattern[0][1]
            and all(op is not NEGATE for op, _ in pattern[0][1]))


def _non_word_characters(members: list) -> bool:
    """Whether a set only holds characters outside \\w (ASCII ones, which case folding leaves alone)."""
    return all((op is LITERAL and value < 128 and not _is_word(chr(value)))
               or (op is CATEGORY and value is CATEGORY_SPACE) for op, value in members)


@dataclass(frozen=True)
class _Route:
    """What every match that goes one way through a pattern leaves in the folded text: whole words, and pieces
    of text, each with the most characters such a match can hold before it (None: no limit)."""

    words: frozenset[bytes]
    pieces: tuple[tuple[str, int | None], ...]

    @staticmethod
    def along(steps: tuple) -> _Route:
        """The route of a way (see ``_ways``): its literal text, and the words of it that the steps beside, or its
        own other characters, bound."""
        words: set[bytes] = set()
        pieces, before = [], 0
        for index, step in enumerate(steps):
            if isinstance(step, str):
                pieces.append((step, before))
                bounded_before = _bounded(steps, index, -1, _Step.NON_WORD_BEFORE)
                bounded_after = _bounded(steps, index, 1, _Step.NON_WORD_AFTER)
                words.update(m.group(0).encode() for m in _WORD.finditer(step)
                             if (m.start() > 0 or bounded_before) and (m.end() < len(step) or bounded_after))
            most = _most_characters(step)
            before = None if before is None or most is None else before + most
        return _Route(frozenset(words), tuple(pieces))

    def earliest_start(self, text: _Text) -> int | None:
        """Where in ``text`` a match this way can begin at the earliest, or None where its clues are not all there."""
        if not self.words <= text.words:
            return None
        start = 0
        for piece, before in self.pieces:
            at = text.folded.find(piece)
            if at < 0:
                return None
            if before is not None and at - before > start:
                start = at - before
        return start

    def covers(self, route: _Route) -> bool:
        """Whether a text that holds ``route``'s clues holds these, with a match this way beginning no later: the
        words are among its words, and each piece is in one of its pieces, no nearer the match's beginning."""
        return self.words <= route.words and all(
            any(piece in other and (before is None or other_before is not None
                                    and before >= other_before + other.index(piece))
                for other, other_before in route.pieces)
            for piece, before in self.pieces)


def _most_characters(step) -> int | None:
    """The most characters a step (see ``_ways``) takes; None: no limit."""
    if isinstance(step, str):
        return len(step)
    if isinstance(step, int):
        return step
    return None if step is _Step.GAP else 1 if step is _Step.NON_WORD else 0


def _bounded(steps: tuple, index: int, direction: int, mark: _Step) -> bool:
    """Whether the character beside the text at ``steps[index]`` (before it: ``direction`` -1; after: 1) is outside
    \\w, or there is none, by the steps there: a word boundary, a character outside \\w, or ``mark``, past
    other steps that take no characters."""
    index += direction
    while 0 <= index < len(steps) and isinstance(steps[index], _Step):
        if steps[index] in (_Step.BOUNDARY, _Step.NON_WORD, mark):
            return True
        if steps[index] is _Step.GAP:
            return False
        index += direction
    return False


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
