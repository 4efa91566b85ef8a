"""LaTeX decoding in parts: a value is cut into plain text, braces, and atoms (a command with the arguments it
takes, a run of special characters, inline math), and only the atoms are decoded, each once (they repeat: the
same accents, logos and dashes everywhere), by the plain path's decoder. Where pylatexenc's reading of a value
might depend on more than one atom at a time (comments, environments, optional arguments, unbalanced braces),
the value is left to the plain path whole. tests/test_latex_parts.py checks the two agree."""

from __future__ import annotations

import re
from collections.abc import Callable

# Plain text: nothing pylatexenc reads as more than characters.
_PLAIN = re.compile(r"[^\\{}$%&~\-'`!?]+")
_SPECIALS = re.compile(r"[&~\-'`!?]+")
_COMMAND = re.compile(r"\\(?:[^\W\d_]+|.)", re.DOTALL)  # pylatexenc's names: any letters, as "\\oë"
_SPACE = re.compile(r"\s*")
_MATH = re.compile(r"\$(?:[^$\\{}%]|\\[^()\[\]])*\$")
# Commands whose reading depends on what follows beyond their arguments, or that start math or environments.
# Braces nested deeper than this: left to the plain path, which may fail on them (and says so).
DEEPEST = 20
_WHOLE_ONLY = re.compile(r"\\(?:begin|end|verb|item|par)(?![^\W\d_])|\\[()\[\]]")


def decode_in_parts(
    value: str, argspec: Callable[[str], str | None], decode_atom: Callable[[str], tuple[str, tuple[str, ...]]]
) -> tuple[str, tuple[str, ...]] | None:
    """``(text, notes)`` of a value, as the plain path gives them, from its atoms decoded by ``decode_atom``
    (``argspec``: the arguments a command takes, as pylatexenc's parser spells them); None for a value to
    decode whole."""
    if _WHOLE_ONLY.search(value):  # in an argument too: an environment reads on past it
        return None
    parts: list[str] = []
    notes: list[str] = []
    depth = at = 0
    end = len(value)
    while at < end:
        char = value[at]
        if char == "{":
            depth += 1
            if depth > DEEPEST:
                return None
            at += 1
            continue
        if char == "}":
            depth -= 1
            if depth < 0:
                return None
            at += 1
            continue
        plain = _PLAIN.match(value, at)
        if plain:
            parts.append(plain.group())
            at = plain.end()
            continue
        if char == "\\":
            atom_end = _command_end(value, at, argspec, depth)
        elif char == "$":
            math = _MATH.match(value, at)
            atom_end = math.end() if math else None
        elif char == "%":
            return None
        else:
            atom_end = _SPECIALS.match(value, at).end()
        if atom_end is None:
            return None
        text, found = decode_atom(value[at:atom_end])
        parts.append(text)
        notes += found
        at = atom_end
    if depth:
        return None
    return " ".join("".join(parts).split()), tuple(dict.fromkeys(notes))


def _command_end(value: str, at: int, argspec: Callable[[str], str | None], depth: int) -> int | None:
    """Where the command at ``at`` (inside ``depth`` groups) ends with its arguments (and, with none, the spaces
    after it, which LaTeX skips); None if pylatexenc might read it differently alone."""
    command = _COMMAND.match(value, at)
    if command is None:
        return None
    name = command.group()[1:]
    spec = argspec(name)
    if spec not in ("", "{"):
        return None
    after = _SPACE.match(value, command.end()).end()
    if spec == "":
        return after
    if after == len(value):
        return None
    if value[after] == "{":
        return _group_end(value, after, DEEPEST - depth)
    if value[after] == "\\":
        inner = _COMMAND.match(value, after)
        inner_name = inner.group()[1:] if inner else ""
        simple = inner_name.isalpha() and argspec(inner_name) == ""
        return _SPACE.match(value, inner.end()).end() if simple else None  # with the spaces it skips
    return after + 1 if value[after].isalnum() else None


def _group_end(value: str, start: int, deepest: int) -> int | None:
    """The index after the brace closing the one at ``start``; None if it is not closed, or nests deeper than
    ``deepest``."""
    depth = 0
    at = start
    while at < len(value):
        char = value[at]
        if char == "\\":
            at += 2
            continue
        if char == "{":
            depth += 1
            if depth > deepest:
                return None
        elif char == "}":
            depth -= 1
            if depth == 0:
                return at + 1
        at += 1
    return None
