"""The rule tagger's pre-filter: which of many case-insensitive patterns may match a text, and from where.

Each pattern is read by a small parser of the regular expression syntax the vocabularies use (``regex_subset``); the
literal text and word boundaries along each way through it are its clues (``Route``), filed by word (``Clues``).
A text that holds no route's clues is not searched; one that does, only from where the clues allow a match to
begin. Syntax the parser does not read makes a pattern one to search in every text, from its beginning. The
regular expression itself (``re``) always decides: ``evidence.tagging.tagger`` shows the plain way this follows.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from typing import NamedTuple, TypeVar

from .regex_subset import Anchor, CharSet, Group, Literal, Look, Node, Repeat, Unsupported, is_word, parse, widest

# The non-ASCII characters that re.IGNORECASE matches with ASCII letters (İ ı ſ K), as those letters.
CASE_FOLDS = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"})
_WORD = re.compile(r"\w+")
T = TypeVar("T")


def fold(text: str) -> str:
    """The text in lower case, with every character that a case-insensitive expression takes for an ASCII letter
    made that letter, one character for one: a literal ASCII piece of a pattern that matches the text
    (re.IGNORECASE) is then a plain substring of it."""
    return (text if text.isascii() else text.translate(CASE_FOLDS)).lower()


# Bytes outside ASCII \w, as spaces: an ASCII text's words are then what bytes.split gives (faster than \w+).
_ASCII_WORDS = bytes(c if c < 128 and is_word(chr(c)) else ord(" ") for c in range(256))


class Text(NamedTuple):
    """A text the rules read, with its folded copy (see ``fold``) and the ASCII words (runs of \\w) of that, as
    bytes (quicker to split and compare; the rules' words are ASCII): all, or those that some rules look for."""

    text: str
    folded: str
    words: frozenset[bytes]


def prepared(text: str, wanted: frozenset[bytes] | None = None) -> Text:
    """The text, folded, with its ASCII words: all, or those of ``wanted``."""
    folded = fold(text)
    if folded.isascii():
        words = folded.encode().translate(_ASCII_WORDS).split()
    else:
        words = [word.encode() for word in _WORD.findall(folded) if word.isascii()]
    return Text(text, folded, frozenset(words) if wanted is None else wanted.intersection(words))


class Step(Enum):
    """A step of a way through a pattern other than literal text (a str) or some characters (an int: at most
    that many): any number of characters; one character outside \\w; or, taking no characters, a word
    boundary, or where the character before, or the one after, is not one of \\w (or there is none)."""

    GAP = "gap"
    NON_WORD = "non-word"
    BOUNDARY = "boundary"
    NON_WORD_BEFORE = "non-word before"
    NON_WORD_AFTER = "non-word after"


_ANCHOR_STEPS = {
    "b": Step.BOUNDARY,
    "^": Step.NON_WORD_BEFORE,
    "A": Step.NON_WORD_BEFORE,
    "$": Step.NON_WORD_AFTER,
    "Z": Step.NON_WORD_AFTER,
}
# Ways through a pattern worth telling apart; beyond, a part counts as unknown text (fewer clues, still true).
_MOST_WAYS = 32


def ways(nodes: Iterable[Node]) -> list[tuple]:
    """The ways through a sequence of nodes, each a tuple of steps (see ``Step``; literal text in lower case):
    one for each alternative of a group, and with and without an optional part."""
    found: list[tuple] = [()]
    for node in nodes:
        if isinstance(node, Literal) and node.char.isascii():
            parts = [(node.char.lower(),)]
        elif isinstance(node, CharSet) and node.holds_only_non_word():
            parts = [(Step.NON_WORD,)]
        elif isinstance(node, Anchor):
            parts = [(_ANCHOR_STEPS[node.kind],) if node.kind in _ANCHOR_STEPS else ()]
        elif isinstance(node, Look) and node.negative and _is_word_set(node.body):  # (?<!\w) or (?!\w)
            parts = [(Step.NON_WORD_BEFORE if node.behind else Step.NON_WORD_AFTER,)]
        elif isinstance(node, Group):
            parts = [way for items in node.alternatives for way in ways(items)]
        elif isinstance(node, Repeat) and node.most == 1:  # optional, or once
            parts = ([()] if node.least == 0 else []) + ways([node.body])
        elif isinstance(node, Repeat) and node.least >= 1:  # once, then unknown
            parts = [way + (Step.GAP,) for way in ways([node.body])]
        else:
            parts = [_unknown(node)]
        if len(found) * len(parts) > _MOST_WAYS:
            parts = [_unknown(node)]
        found = [_joined(way, part) for way in found for part in parts]
    return found


def _unknown(node: Node) -> tuple:
    """The steps of a node whose text is not looked into: as many characters as it can take."""
    most = widest(node)
    return (Step.GAP,) if most is None else (most,) if most else ()


def _joined(way: tuple, part: tuple) -> tuple:
    """``way`` followed by ``part``, literal text where they meet made one."""
    if way and part and isinstance(way[-1], str) and isinstance(part[0], str):
        return way[:-1] + (way[-1] + part[0],) + part[1:]
    return way + part


def _is_word_set(group: Group) -> bool:
    """Whether a group is one character of a set that holds \\w."""
    return (
        len(group.alternatives) == 1
        and len(group.alternatives[0]) == 1
        and isinstance(node := group.alternatives[0][0], CharSet)
        and not node.negated
        and "w" in node.classes
    )


@dataclass(frozen=True)
class Route:
    """What every match that goes one way through a pattern leaves in the folded text: whole words, and pieces
    of text, each with the most characters such a match can hold before it (None: no limit)."""

    words: frozenset[bytes]
    pieces: tuple[tuple[str, int | None], ...]

    @staticmethod
    def along(steps: tuple) -> Route:
        """The route of a way (see ``ways``): its literal text, and the words of it that the steps beside, or its
        own other characters, bound."""
        words: set[bytes] = set()
        pieces, before = [], 0
        for index, step in enumerate(steps):
            if isinstance(step, str):
                pieces.append((step, before))
                bounded_before = _bounded(steps, index, -1, Step.NON_WORD_BEFORE)
                bounded_after = _bounded(steps, index, 1, Step.NON_WORD_AFTER)
                words.update(
                    m.group(0).encode()
                    for m in _WORD.finditer(step)
                    if (m.start() > 0 or bounded_before) and (m.end() < len(step) or bounded_after)
                )
            most = _most_characters(step)
            before = None if before is None or most is None else before + most
        return Route(frozenset(words), tuple(pieces))

    def earliest_start(self, text: Text) -> int | None:
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

    def covers(self, route: Route) -> bool:
        """Whether a text that holds ``route``'s clues holds these, with a match this way beginning no later: the
        words are among its words, and each piece is in one of its pieces, no nearer the match's beginning."""
        return self.words <= route.words and all(
            any(
                piece in other
                and (before is None or other_before is not None and before >= other_before + other.index(piece))
                for other, other_before in route.pieces
            )
            for piece, before in self.pieces
        )


def _most_characters(step) -> int | None:
    """The most characters a step (see ``ways``) takes; None: no limit."""
    if isinstance(step, str):
        return len(step)
    if isinstance(step, int):
        return step
    return None if step is Step.GAP else 1 if step is Step.NON_WORD else 0


def _bounded(steps: tuple, index: int, direction: int, mark: Step) -> bool:
    """Whether the character beside the text at ``steps[index]`` (before it: ``direction`` -1; after: 1) is outside
    \\w, or there is none, by the steps there: a word boundary, a character outside \\w, or ``mark``, past
    other steps that take no characters."""
    index += direction
    while 0 <= index < len(steps) and isinstance(steps[index], Step):
        if steps[index] in (Step.BOUNDARY, Step.NON_WORD, mark):
            return True
        if steps[index] is Step.GAP:
            return False
        index += direction
    return False


@lru_cache(maxsize=1024)
def compiled(pattern: str) -> Pattern:
    """The pattern, made once (rule sets that share a pattern share its clues)."""
    return Pattern(pattern)


class Pattern:
    """A rule's regular expression, case-insensitive, with the routes (see ``Route``) its matches can take: a
    text that holds the clues of no route is not searched, and one that does only from where the clues allow a
    match to begin. A pattern that is a literal between word boundaries (a condition's name) is looked for with
    ``str.find``. A pattern ``parse`` does not read has one route, without clues."""

    def __init__(self, pattern: str):
        self.regex = re.compile(pattern, re.IGNORECASE)
        try:
            tree = parse(pattern)
        except Unsupported:
            tree = None
        routes = list(dict.fromkeys(map(Route.along, ways([tree])))) if tree is not None else [Route(frozenset(), ())]
        self.routes = [
            route
            for index, route in enumerate(routes)  # those no other covers (of equals, the first)
            if not any(
                other.covers(route) and (at < index or not route.covers(other))
                for at, other in enumerate(routes)
                if at != index
            )
        ]
        self.literal = _whole_word_literal(tree) if tree is not None else None

    def first(self, text: Text, routes: list[Route] | None = None) -> str | None:
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
            if not (at and is_word(text.text[at - 1])) and not (end < len(text.text) and is_word(text.text[end])):
                return text.text[at:end]
            at = text.folded.find(self.literal, at + 1)
        return None


def _whole_word_literal(tree: Group) -> str | None:
    """The lower-case ASCII text of a pattern that is ``\\b`` literal ``\\b`` (beginning and ending with a word
    character), or None. In a folded text, such a pattern matches where the literal is and its ends are
    word boundaries."""
    if len(tree.alternatives) != 1:
        return None
    nodes = tree.alternatives[0]
    if len(nodes) < 3 or nodes[0] != Anchor("b") or nodes[-1] != Anchor("b"):
        return None
    if not all(isinstance(node, Literal) and node.char.isascii() for node in nodes[1:-1]):
        return None
    literal = "".join(node.char for node in nodes[1:-1]).lower()
    return literal if is_word(literal[0]) and is_word(literal[-1]) else None


class Clues:
    """Which of many patterns may match a text, from its clues: each route (see ``Route``) of a pattern is filed
    under its longest word (long words are rare), or, needing no word, its longest piece of text; a route that
    needs neither is looked at in every text."""

    def __init__(self, patterns: Iterable[Pattern]):
        routes = [(route, pattern) for pattern in dict.fromkeys(patterns) for route in pattern.routes]
        shared: dict[bytes, int] = {}  # how many routes need each word: of two as long, the rarer tells more
        for route, _ in routes:
            for word in route.words:
                shared[word] = shared.get(word, 0) + 1
        self.by_word: dict[bytes, list[tuple[Route, Pattern]]] = {}
        self.by_piece: dict[str, list[tuple[Route, Pattern]]] = {}
        self.anywhere: list[tuple[Route, Pattern]] = []
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

    def candidates(self, text: Text) -> dict[Pattern, list[Route]]:
        """The patterns that may match the text, each with its routes whose words (all), or piece, the text holds."""
        candidates: dict[Pattern, list[Route]] = {}
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

    def read(self, where: str, text: str) -> Read:
        """The text, prepared, with the patterns that may match it."""
        ready = prepared(text, self.wanted)
        return Read(where, ready, self.candidates(ready))


class Read(NamedTuple):
    """A text of a record, where it was (title, keywords, abstract), and the patterns that may match it."""

    where: str
    text: Text
    candidates: dict[Pattern, list[Route]]


class RuleSet:
    """Terms, in vocabulary order, each with the patterns that name it (a term may come more than once)."""

    def __init__(self, entries: list[tuple[str, list[str]]]):
        self.entries = [(term, [compiled(p) for p in patterns]) for term, patterns in entries]
        positions: dict[Pattern, set[int]] = {}
        for position, (_, patterns) in enumerate(self.entries):
            for pattern in patterns:
                positions.setdefault(pattern, set()).add(position)
        self.positions = {pattern: sorted(found) for pattern, found in positions.items()}
        self.patterns = list(self.positions)

    def matches(self, reads: list[Read], terms: set[str] | None, found: Callable[[str, str, str], T]) -> list[T]:
        """``found(term, where, matched text)`` of the terms (all, or those of ``terms``) whose patterns match one
        of the texts; the first text that names a term says where. Only terms with a pattern that may match are
        looked at."""
        if terms is not None and not terms:
            return []
        live: set[int] = set()
        for read in reads:
            for pattern in self.positions.keys() & read.candidates.keys():
                live.update(self.positions[pattern])
        matches = []
        for term, patterns in map(self.entries.__getitem__, sorted(live)):
            if terms is None or term in terms:
                match = _first_match(patterns, reads)
                if match:
                    matches.append(found(term, *match))
        return matches


def _first_match(patterns: list[Pattern], reads: list[Read]) -> tuple[str, str] | None:
    """(where, matched text) of the first text any pattern matches, texts in order."""
    for read in reads:
        for pattern in patterns:
            routes = read.candidates.get(pattern)
            if routes:
                found = pattern.first(read.text, routes)
                if found is not None:
                    return read.where, found
    return None
