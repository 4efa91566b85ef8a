"""BibTeX and biblatex names, read as biber reads them and written so that biber and this reader read them back.

Reading follows btparse, biber's name parser: a list splits at "and" between spaces outside braces; a name at
its commas outside braces ("von Last", "von Last, First", "von Last, Jr, First"); the von part (the particle)
is the first run of words that begin with a lower-case letter, after LaTeX is decoded ("\\'emile" is lower
case, "{Van}" is not). Unlike BibTeX, a capitalised word before it stays in the family name ("Van de Graaff,
R. J." is family "Van de Graaff"), and so do words after it ("de Souza e Silva" is particle "de", family "Souza
e Silva"). biblatex's extended name format (``family=Adler, given=Alfred, prefix=von``) is read by its parts,
name by name. A name with a leading comma (``, PRISMA-P Group``), which biber cannot read, is a group author,
and so is a name with a given name only (biber reads it as a name without a family name)."""

from __future__ import annotations

import re
from functools import lru_cache

from ..records import Person
from .latex import NOTES, decode_noted, encode

AND_OTHERS = re.compile(r"\s+and\s+others\s*$")


def parse_authors(value: str) -> list[Person]:
    """Split a BibTeX name list into Persons ("and others" is not a person). What a name holds that is not
    read as written (an unknown part of an extended name, an unknown LaTeX command, a third comma) is added to
    ``NOTES``."""
    if "others" in value:  # faster than the pattern on its own
        value = AND_OTHERS.sub("", value)
    people = []
    for name in split_names(value):
        person, notes = _person(name)
        if person is not None:
            people.append(person)
        NOTES.extend(notes)
    return people


_AND = re.compile(r"([ \t\r\n]+[aA][nN][dD][ \t\r\n]+)")
_AND_OR_BRACE = re.compile(r"[ \t\r\n]+[aA][nN][dD][ \t\r\n]+|[{}]")


def split_names(value: str) -> list[str]:
    """The names of a BibTeX name list, split at "and" between spaces outside braces (as btparse splits it: a
    backslash is a character like any other, and after a closing brace too many nothing is split)."""
    names = value.strip(" \r\n\t")
    if not names:
        return []
    if "{" not in names and "}" not in names:
        return _AND.split(names)[::2]
    result, depth, start = [], 0, 0
    for match in _AND_OR_BRACE.finditer(names):
        token = match.group()
        if token == "{":
            depth += 1
        elif token == "}":
            depth -= 1
        elif depth == 0:
            result.append(names[start : match.start()])
            start = match.end()
    result.append(names[start:])
    return result


# biber's test for a name in the extended format: a name part's name and "=" anywhere in it.
_EXTENDED = re.compile(r"(?:family|given|prefix|suffix)\s*=")
_PARTS = {"family": "family", "given": "given", "prefix": "particle", "suffix": "suffix"}
# biblatex's per-name options, which say how to print a name, not what it is.
_NAME_OPTIONS = {"useprefix", "uniquename", "uniquepart", "sortingnamekeytemplatename"}
# A brace group that biber decodes to one character ({\'e}, {\ae}, {\i}): it has the case of that character.
_SPECIAL_CHARACTER = re.compile(r"\{\\(?:[^A-Za-z]|[A-Za-z]{1,2}(?![A-Za-z]))")


@lru_cache(maxsize=65536)  # names repeat across a bibliography
def _person(name: str) -> tuple[Person | None, tuple[str, ...]]:
    """The Person a name gives (None for an empty one) and what was not read of it."""
    notes: list[str] = []
    if _EXTENDED.search(name):
        parts = _extended_parts(name, notes)
    else:
        parts = _bibtex_parts(" ".join(name.split()), notes)
    family, given, particle, suffix = (_decoded(part, notes) for part in parts)
    if not family:  # a group author, or a single name (biber: a name without family name)
        family, given, particle, suffix = " ".join(p for p in (given, particle, suffix) if p), "", "", ""
    return (Person(family, given, particle, suffix) if family else None), tuple(notes)


def _decoded(raw: str, notes: list[str]) -> str:
    text, found = decode_noted(raw)
    notes.extend(found)
    return text


def _bibtex_parts(name: str, notes: list[str]) -> tuple[str, str, str, str]:
    """(family, given, particle, suffix) of a name in BibTeX's format, still in LaTeX, as btparse splits it."""
    tokens, commas = _tokens(name)
    if len(commas) > 2:  # biber leaves out the entry
        notes.append(f"name '{name}' has more than two commas; read with the third and later ones as spaces")
        commas = commas[:2]
    if not tokens:
        return "", "", "", ""
    if commas and commas[0] == 0:  # ", PRISMA-P Group": a group author
        return " ".join(tokens), "", "", ""
    lower = [_is_lower(token) for token in tokens]
    end = len(tokens)
    if not commas:
        first_lower = lower.index(True) if True in lower else -1
        if first_lower < 0:
            return tokens[-1], " ".join(tokens[:-1]), "", ""
        von_end = first_lower
        while von_end < end - 1 and lower[von_end]:
            von_end += 1
        return (
            " ".join(tokens[von_end:]),
            " ".join(tokens[:first_lower]),
            " ".join(tokens[first_lower:von_end]),
            "",
        )
    last_end = commas[0]
    von_end = 0
    while von_end < last_end - 1 and lower[von_end]:
        von_end += 1
    given_start = commas[1] if len(commas) > 1 else last_end
    return (
        " ".join(tokens[von_end:last_end]),
        " ".join(tokens[given_start:]),
        " ".join(tokens[:von_end]),
        " ".join(tokens[last_end:given_start]),
    )


def _tokens(name: str) -> tuple[list[str], list[int]]:
    """The words of a name (split at spaces and commas outside braces) and, for each comma, how many words
    come before it (trailing commas are dropped)."""
    tokens: list[str] = []
    commas: list[int] = []
    if "{" not in name and "}" not in name:  # the usual case: no character-by-character walk
        for i, part in enumerate(name.split(",")):
            if i:
                commas.append(len(tokens))
            tokens += part.split()
        return tokens, _without_trailing(commas, len(tokens))
    word: list[str] = []
    depth = 0
    for char in name:
        if depth == 0 and char in " ,":
            if word:
                tokens.append("".join(word))
                word = []
            if char == ",":
                commas.append(len(tokens))
            continue
        depth += (char == "{") - (char == "}")
        word.append(char)
    if word:
        tokens.append("".join(word))
    return tokens, _without_trailing(commas, len(tokens))


def _without_trailing(commas: list[int], words: int) -> list[int]:
    """The commas without those after the last word, which btparse drops."""
    while commas and commas[-1] == words:
        commas.pop()
    return commas


def _is_lower(token: str) -> bool:
    """Whether a word starts with a lower-case letter once its LaTeX is decoded ({\\'e}, \\'e); a word starting
    with any other brace group does not."""
    if token[0] == "\\" or _SPECIAL_CHARACTER.match(token):
        token = decode_noted(token)[0]
    return token[:1].islower()


def _extended_parts(name: str, notes: list[str]) -> tuple[str, str, str, str]:
    """(family, given, particle, suffix) of a name in biblatex's extended format, still in LaTeX; a part
    without "=" or of an unknown name is noted and passed over (initials, ``given-i``, and per-name options
    are not text)."""
    found = dict.fromkeys(_PARTS.values(), "")
    for part in _extended_fields(name):
        key, equals, value = part.partition("=")
        key = key.strip().lower()
        if equals and key in _PARTS:
            found[_PARTS[key]] = value.strip().strip('"')
        elif not equals or not (key.endswith("-i") or key in _NAME_OPTIONS):
            notes.append(f"'{part.strip()}' in name '{name.strip()}' is not a part of a biblatex name; left out")
    return found["family"], found["given"], found["particle"], found["suffix"]


def _extended_fields(name: str) -> list[str]:
    """The comma-separated parts of an extended name (commas inside braces or double quotes do not split)."""
    parts, start, depth, quoted = [], 0, 0, False
    for i, char in enumerate(name):
        if char == '"' and depth == 0:
            quoted = not quoted
        elif char in "{}":
            depth += 1 if char == "{" else -1
        elif char == "," and depth == 0 and not quoted:
            parts.append(name[start:i])
            start = i + 1
    parts.append(name[start:])
    return [part for part in parts if part.strip()]


# Writing

_AND_WORD = re.compile(r"(?:^|\s)and(?:\s|$)", re.IGNORECASE)


@lru_cache(maxsize=1 << 16)  # authors repeat across studies
def encode_name(p: Person) -> str:
    """One author as "von Last, Jr, First", read back by biber and this reader as the same parts; "" for a
    name with no text. The family name is braced where its words would be split or read as a particle. A
    name without a family name, or whose parts hold commas (biber reads no more than two commas in a name
    not braced whole), is written whole in one brace group, as a group author: "First von Last Jr"."""
    family, given, particle, suffix = p.family.strip(), p.given.strip(), p.particle.strip(), p.suffix.strip()
    separators = bool(given or suffix) + bool(suffix)
    if not family or (separators or particle) and (family + given + particle + suffix).count(",") + separators > 2:
        family, given, particle, suffix = " ".join(x for x in (given, particle, family, suffix) if x), "", "", ""
        if not family:
            return ""
    if family.lower() == "others" and not (given or particle or suffix):  # not "and others" to biber
        return "{" + family[0] + "}" + family[1:]
    written = _name_part(family, always=" " in family or family[:1].islower())
    if particle:
        written = f"{_name_part(particle)} {written}"
    if suffix:
        return f"{written}, {_name_part(suffix)}, {_name_part(given) if given else '{}'}"
    return f"{written}, {_name_part(given)}" if given else written


def _name_part(part: str, always: bool = False) -> str:
    """A part of a name in LaTeX, braced where a comma or "and" in it would split the name or the list of
    names; "=" is written "{=}", which biber does not take for the extended name format."""
    encoded = encode(part).replace("=", "{=}")
    return "{" + encoded + "}" if always or "," in part or _AND_WORD.search(part) else encoded
