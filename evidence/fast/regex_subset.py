"""A parser of the subset of regular expression syntax the rule vocabularies use, for the pre-filter.

``parse`` gives a small syntax tree (a Group of alternatives, each a tuple of nodes) that the pre-filter walks
to find the text a pattern's matches must hold. It raises Unsupported for any syntax outside the subset: the
pre-filter then searches that pattern in every text, so a pattern it does not read is slower, never wrong.
"""

from __future__ import annotations

import re
from typing import NamedTuple


def is_word(char: str) -> bool:
    """Whether a character is one of \\w (what \\b in a str pattern looks at)."""
    return char.isalnum() or char == "_"


class Literal(NamedTuple):
    """One character, as written."""

    char: str


class CharSet(NamedTuple):
    """One character of a set: of its ranges (code points, both ends in) or classes (d w s D W S), or of
    neither if negated."""

    negated: bool
    ranges: tuple[tuple[int, int], ...]
    classes: frozenset[str]

    def holds_only_non_word(self) -> bool:
        """Whether every character the set holds is outside \\w (ASCII ones, which case folding leaves alone)."""
        return (
            not self.negated
            and self.classes <= {"s", "W"}
            and all(high < 128 and not any(is_word(chr(c)) for c in range(low, high + 1)) for low, high in self.ranges)
        )


class Anchor(NamedTuple):
    """A place that takes no characters: ``b`` ``B`` ``A`` ``Z`` (as escaped), ``^`` or ``$``."""

    kind: str


class Look(NamedTuple):
    """A lookahead or lookbehind, positive or negative."""

    behind: bool
    negative: bool
    body: Group


class Group(NamedTuple):
    """Alternatives, each a tuple of nodes: a group, or the whole pattern."""

    alternatives: tuple[tuple[Node, ...], ...]


class Repeat(NamedTuple):
    """A node repeated from ``least`` to ``most`` times (None: no limit), greedy or lazy alike."""

    least: int
    most: int | None
    body: Node


Node = Literal | CharSet | Anchor | Look | Group | Repeat


class Unsupported(ValueError):
    """Syntax ``parse`` does not read."""


_CLASS_ESCAPES = set("dwsDWS")
_CHAR_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v", "a": "\a"}
_REPEAT = re.compile(r"\{(\d+)(,(\d*))?\}")


def parse(pattern: str) -> Group:
    """The syntax tree of a pattern of the subset: literals, escapes, sets, groups (capturing, named or not),
    lookarounds, alternation, greedy and lazy quantifiers and anchors. Raises Unsupported for anything else
    (flags, backreferences, possessive quantifiers, ...) and for what ``re`` would refuse."""
    parser = _Parser(pattern)
    tree = parser.group()
    if parser.at != len(pattern):
        raise Unsupported(f"unbalanced ')' at {parser.at}")
    return tree


class _Parser:
    """A reading of a pattern from left to right, ``at`` the next character."""

    def __init__(self, pattern: str):
        self.pattern = pattern
        self.at = 0

    def next(self) -> str:
        if self.at >= len(self.pattern):
            raise Unsupported("pattern ends early")
        self.at += 1
        return self.pattern[self.at - 1]

    def take(self, text: str) -> bool:
        """Whether the pattern goes on with ``text``; if so, read past it."""
        if self.pattern.startswith(text, self.at):
            self.at += len(text)
            return True
        return False

    def group(self) -> Group:
        alternatives = [self.sequence()]
        while self.take("|"):
            alternatives.append(self.sequence())
        return Group(tuple(alternatives))

    def sequence(self) -> tuple[Node, ...]:
        nodes = []
        while self.at < len(self.pattern) and self.pattern[self.at] not in "|)":
            nodes.append(self.repeated(self.atom()))
        return tuple(nodes)

    def atom(self) -> Node:
        char = self.next()
        if char == "(":
            return self.parenthesised()
        if char == "[":
            return self.char_set()
        if char == "\\":
            return self.escape()
        if char == ".":
            return CharSet(True, ((10, 10),), frozenset())
        if char in "^$":
            return Anchor(char)
        if char in "*+?{":
            raise Unsupported(f"'{char}' at {self.at - 1} repeats nothing, or is a literal brace")
        return Literal(char)

    def repeated(self, node: Node) -> Node:
        if self.take("*"):
            least, most = 0, None
        elif self.take("+"):
            least, most = 1, None
        elif self.take("?"):
            least, most = 0, 1
        elif (braces := _REPEAT.match(self.pattern, self.at)) is not None:
            self.at = braces.end()
            least = int(braces[1])
            most = least if braces[2] is None else int(braces[3]) if braces[3] else None
        else:
            return node
        self.take("?")  # lazy: the same matches, found in another order
        if self.at < len(self.pattern) and self.pattern[self.at] in "*+?{":
            raise Unsupported(f"possessive or repeated quantifier at {self.at}")
        return Repeat(least, most, node)

    def parenthesised(self) -> Node:
        if self.take("?"):
            for opening, behind, negative in (
                ("=", False, False),
                ("!", False, True),
                ("<=", True, False),
                ("<!", True, True),
            ):
                if self.take(opening):
                    node: Node = Look(behind, negative, self.group())
                    break
            else:
                named = re.compile(r"P<\w+>").match(self.pattern, self.at)
                if not (self.take(":") or named):
                    raise Unsupported(f"group kind at {self.at}")
                self.at = named.end() if named else self.at
                node = self.group()
        else:
            node = self.group()
        if not self.take(")"):
            raise Unsupported("missing ')'")
        return node

    def escape(self) -> Node:
        char = self.next()
        if char in "bBAZ":
            return Anchor(char)
        if char in _CLASS_ESCAPES:
            return CharSet(False, (), frozenset(char))
        return Literal(self.escaped_char(char))

    def escaped_char(self, char: str) -> str:
        """The character an escape other than a class stands for."""
        if char in _CHAR_ESCAPES:
            return _CHAR_ESCAPES[char]
        if char.isascii() and char.isalnum():
            raise Unsupported(f"escape '\\{char}'")
        return char

    def char_set(self) -> Node:
        negated = self.take("^")
        ranges: list[tuple[int, int]] = []
        classes: set[str] = set()
        first = True
        while first or not self.take("]"):
            first = False
            low = self.set_member()
            if isinstance(low, str):
                classes.add(low)
            elif self.pattern.startswith("-", self.at) and not self.pattern.startswith("-]", self.at):
                self.at += 1
                high = self.set_member()
                if isinstance(high, str) or high < low:
                    raise Unsupported("bad range")
                ranges.append((low, high))
            else:
                ranges.append((low, low))
        if not negated and not classes and len(ranges) == 1 and ranges[0][0] == ranges[0][1]:
            return Literal(chr(ranges[0][0]))
        return CharSet(negated, tuple(ranges), frozenset(classes))

    def set_member(self) -> int | str:
        """A character of a set (its code point), or a class escape (its letter)."""
        char = self.next()
        if char != "\\":
            return ord(char)
        char = self.next()
        if char in _CLASS_ESCAPES:
            return char
        return ord("\b" if char == "b" else self.escaped_char(char))


def widest(node: Node) -> int | None:
    """The most characters a node can take; None: no limit."""
    if isinstance(node, (Literal, CharSet)):
        return 1
    if isinstance(node, (Anchor, Look)):
        return 0
    if isinstance(node, Repeat):
        body = widest(node.body)
        if body == 0:
            return 0
        return None if body is None or node.most is None else body * node.most
    sums = [
        sum(widths) if None not in (widths := [widest(item) for item in items]) else None for items in node.alternatives
    ]
    return None if None in sums else max(sums)
