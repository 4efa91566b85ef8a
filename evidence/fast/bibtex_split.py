"""A fast reader for BibTeX entries of the regular shape, which leaves everything else to bibtexparser.

The text is cut at the lines that start a block (bibtexparser starts a new block there, whatever came
before). A piece that is one entry written ``@type{key, name = value, ...}``, each value ``{...}``
(nested braces), ``"..."`` or a bare word (a number or a @string name), with nothing after the entry
but comment text, is read here by jumping between the characters that matter. Any other piece
(@string, @preamble, @comment, ``(...)`` blocks, ``#`` concatenation, repeated field names, an
``@`` starting a line inside, unbalanced braces, anything unusual) is left to bibtexparser, which
stays the reference: what is read here is what bibtexparser reads, with its rules for escaped
delimiters (a delimiter right after a backslash is none) and for the line numbers of entries and fields.
"""

from __future__ import annotations

import re
from typing import NamedTuple

# A line starting a block after the first line (bibtexparser starts a new block there, ending one left
# open); a pattern starting with "\n" is found faster than one starting with "^".
_BLOCK_START = re.compile(r"\n@\w*[ \t]*[{(]")

_HEAD = re.compile(r'@(\w+)[ \t]*\{\s*+([^\s,{}()"=@\\]++)\s*+,')
_NOT_ENTRIES = ("comment", "preamble", "string")
# An "@" first on a line, which may start a block inside another: such pieces are bibtexparser's.
_AT_LINE_START = re.compile(r"\n\s*+@")
_FIELD_NAME = r'([^\s=,{}"@\\]++)\s*+(=)\s*+'  # a field's name and "=", up to its value
_NAME = re.compile(r"\s*+" + _FIELD_NAME)
_BARE_WORD = re.compile(r'[^\s,{}"#=@\\]++')
_END = re.compile(r"\s*+\}")
# After a value: a comma and the next field's name and "=", or the end of the entry (a comma before it or not).
_NEXT = re.compile(r"\s*+(?:,\s*+(?:" + _FIELD_NAME + r"|\})|\})")
_BRACE = re.compile(r"[{}](?<!\\[{}])")  # a brace not right after a backslash


class Entry(NamedTuple):
    entry_type: str  # lower case
    key: str
    line: int  # 0-based line of its "@"
    raw: str
    # (name, value, line, bare) for each field: the value without its enclosing braces or quotes, the
    # 0-based line of its "=", whether the value is a bare word (the value of a @string if one has that name)
    fields: list[tuple[str, str, int, bool]]


class Piece(NamedTuple):
    """A run of the text from one block start to the next (the text before the first is a piece too):
    ``entry`` is what it holds when read here, None when bibtexparser has to read it."""

    start: int
    end: int
    line: int  # 0-based line where it starts
    entry: Entry | None
    blank: bool = False  # comment text only, no block: nothing to read


def pieces(text: str) -> list[Piece]:
    """The text cut at the lines that start a block, each piece read here where it can be."""
    starts = [0] + [m.start() + 1 for m in _BLOCK_START.finditer(text)]
    starts.append(len(text))
    result, line = [], 0
    for start, end in zip(starts, starts[1:]):
        if text.startswith("@", start):
            result.append(Piece(start, end, line, _entry(text, start, end, line)))
        else:  # before the first block start: comment text, unless an "@" in it may start a block
            result.append(Piece(start, end, line, None, blank="@" not in text[start:end]))
        line += text.count("\n", start, end)
    return result


def _entry(text: str, start: int, end: int, line: int) -> Entry | None:
    """The entry the piece text[start:end] holds, if it has the regular shape; else None."""
    head = _HEAD.match(text, start, end)
    if not head or head.group(1).lower().startswith(_NOT_ENTRIES) or _AT_LINE_START.search(text, start, end):
        return None
    fields, names = [], set()
    at = counted = head.end()
    lines = line + text.count("\n", start, at)  # lines before ``counted``
    m = _NAME.match(text, at, end)
    if m is None:
        close = _END.match(text, at, end)
        if close is None:
            return None
        at = close.end()
    while m is not None:
        name = m.group(1)
        if name in names:
            return None
        names.add(name)
        lines += text.count("\n", counted, m.start(2))
        counted = at = m.end()
        bare = False
        opening = text[at : at + 1]
        if opening == "{":
            close = text.find("}", at + 1, end)
            if close < 0 or text.find("{", at + 1, close) >= 0 or text[close - 1] == "\\":
                close = _closing_brace(text, at, end)  # inner or escaped braces
                if close < 0:
                    return None
            value = text[at + 1 : close]
            at = close + 1
        elif opening == '"':
            close = text.find('"', at + 1, end)
            if close < 0 or text[close - 1] in "\\{":
                return None  # an escaped quote, or {"}: bibtexparser's rules, left to it
            value = text[at + 1 : close]
            at = close + 1
        else:
            word = _BARE_WORD.match(text, at, end)
            if word is None:
                return None
            value, bare, at = word.group(), True, word.end()
        fields.append((name, value, lines, bare))
        m = _NEXT.match(text, at, end)
        if m is None:
            return None
        at = m.end()
        if m.group(1) is None:
            m = None
    if "@" in text[at:end] or "=" in text[at:end]:  # "=" after the end: fields an extra brace cut off, reported there
        return None
    return Entry(head.group(1).lower(), head.group(2), line, text[start:at], fields)


def _closing_brace(text: str, opening: int, end: int) -> int:
    """Index of the brace closing the one at ``opening`` (-1 if none before ``end``)."""
    depth = 0
    for m in _BRACE.finditer(text, opening, end):
        depth += 1 if m.group() == "{" else -1
        if depth == 0:
            return m.start()
    return -1
