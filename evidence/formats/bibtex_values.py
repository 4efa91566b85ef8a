"""An entry's fields as biber reads them. A value is parts joined by ``#`` (``{...}``, ``"..."``, a number, or
the name of a @string macro): macro names are case-insensitive, a @string may be defined from the ones before
it, the month macros (``jan`` ... ``dec``) are predefined as BibTeX styles define them, and a name no @string
defines reads as empty text (a field that is nothing else is left out). A field given twice keeps its last
value; of a biblatex field and its BibTeX name given together, the biblatex one is kept."""

from __future__ import annotations

import re
from collections.abc import Callable

import bibtexparser
from bibtexparser.library import Library
from bibtexparser.model import DuplicateBlockKeyBlock, String

from ..records import _MONTH_NAMES

MONTH_MACROS = {name[:3]: name.capitalize() for name in _MONTH_NAMES}

# A delimiter that counts: not right after a backslash (bibtexparser's rule, which the fast path follows).
_DELIMITER = re.compile(r'(?<!\\)[{}"#]')


def strings_library(text: str) -> Library:
    """The blocks of a text (its @string definitions among them) as bibtexparser splits them, every value as
    written: the context every piece of a large file is read with (see evidence.fast.pieces)."""
    return bibtexparser.parse_string(text, parse_stack=[])


class Macros:
    """The macros a text's entries can use: the month macros, then the @string definitions of ``library`` in
    their order, each read with those before it (a name defined again takes its last value; an undefined name
    in a definition is reported where the macro is used)."""

    def __init__(self, library: Library | None = None) -> None:
        self.values = dict(MONTH_MACROS)
        self.undefined: dict[str, list[str]] = {}  # macro -> the undefined names its definition uses
        for string in library.blocks if library is not None else ():
            if isinstance(string, DuplicateBlockKeyBlock):  # bibtexparser's block for a name defined again
                string = string.ignore_error_block
            if not isinstance(string, String):
                continue
            name = string.key.lower()
            self.values[name], undefined = self.resolve(string.value)
            if undefined:
                self.undefined[name] = undefined

    def resolve(self, expression: str) -> tuple[str, list[str]]:
        """The text of a value as written (``{A} # jan # "B"``), and the macro names in it no @string defines."""
        if "#" not in expression:  # one part: most values
            return self._part(expression.strip())
        texts, undefined = [], []
        for part in _parts(expression):
            text, missing = self._part(part)
            texts.append(text)
            undefined += missing
        return "".join(texts), undefined

    def _part(self, part: str) -> tuple[str, list[str]]:
        if not part:  # "#" at an end, or twice
            return "", []
        if part[:1] == "{" and part[-1:] == "}" or part[:1] == '"' and part[-1:] == '"' and len(part) > 1:
            return part[1:-1], []
        if part.isdigit():
            return part, []
        value = self.values.get(part.lower())
        return (value, self.undefined.get(part.lower(), [])) if value is not None else ("", [part])


def _parts(expression: str) -> list[str]:
    """The parts of a value joined by ``#`` outside braces and quotes, each stripped."""
    parts, start, depth, quoted = [], 0, 0, False
    for match in _DELIMITER.finditer(expression):
        char = match.group()
        if char == "{":
            depth += 1
        elif char == "}":
            depth = max(depth - 1, 0)
        elif char == '"' and depth == 0:
            quoted = not quoted
        elif char == "#" and depth == 0 and not quoted:
            parts.append(expression[start : match.start()].strip())
            start = match.end()
    parts.append(expression[start:].strip())
    return parts


# biblatex's name of a field -> BibTeX's: where an entry gives both, biber keeps biblatex's.
BIBLATEX_OVER_BIBTEX = {"journaltitle": "journal", "location": "address", "institution": "school"}
# biblatex names kept under the BibTeX name, which the writers read (a place is an ``address`` to them).
KEPT_AS = {"location": "address"}


def entry_fields(
    fields: list[tuple[str, str, int, bool]], macros: Macros, problem: Callable[[int, str], None]
) -> list[tuple[str, str, int]]:
    """(name in lower case, value, line) of an entry's fields (name, value, line, whether the value is as
    written, to be resolved with ``macros``), as biber reads them; what it changes is a ``problem``."""
    read: dict[str, tuple[str, int]] = {}
    for name, value, line, written in fields:
        name = name.lower()
        if written:
            value, undefined = macros.resolve(value)
            for word in undefined:
                what = "read as empty text" if value else "the field was left out"
                problem(line, f"field '{name}': no @string defines '{word}'; {what}, as biber does")
            if undefined and not value:
                continue
        if name in read:
            first = read.pop(name)[0]
            differ = f": {first!r}, then {value!r}; the last is kept, as biber keeps it" if first != value else ""
            problem(line, f"field '{name}' given twice{differ}")
        read[name] = (value, line)
    for biblatex, bibtex in BIBLATEX_OVER_BIBTEX.items():
        if biblatex in read and bibtex in read:
            (value, line), kept = read.pop(bibtex), read[biblatex][0]
            if value != kept:
                problem(
                    line, f"'{bibtex}' and '{biblatex}' both given: {kept!r} of '{biblatex}' kept, as biber keeps it"
                )
    return [(KEPT_AS.get(name, name), value, line) for name, (value, line) in read.items()]
