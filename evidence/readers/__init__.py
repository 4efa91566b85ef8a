"""Readers: one module per input format, each turning a file's text into StudyRecords and LoadErrors."""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..records import LoadError, StudyRecord, Tag


@dataclass
class ReadResult:
    """What a reader got out of one file: the records it could read, and what it could not."""

    records: list[StudyRecord] = field(default_factory=list)
    errors: list[LoadError] = field(default_factory=list)


# Prefixed keywords that are curated tags ("condition:low-back-pain"), as Zotero users write them.
TAG_PREFIXES = ("condition", "design")


def add_keywords(record: StudyRecord, words: Iterable[str], source: str) -> None:
    """Free keywords stay keywords; ``condition:`` and ``design:`` ones become curated tags from ``source``."""
    for word in (w.strip() for w in words):
        prefix, _, term = word.partition(":")
        if term and prefix.strip().lower() in TAG_PREFIXES:
            record.tags.append(Tag(prefix.strip().lower(), term.strip(), "curated", source))
        elif word:
            record.keywords.append(word)


def _readers() -> dict[str, Callable[[str, str], ReadResult]]:
    from . import bibtex, medline, reflist

    return {"bibtex": bibtex.read, "medline": medline.read, "reference-list": reflist.read}


# File extension -> format name (a .txt file is MEDLINE or a reference list: see format_of).
EXTENSIONS = {".bib": "bibtex", ".bibtex": "bibtex", ".nbib": "medline", ".medline": "medline",
              ".txt": "reference-list"}
FORMATS = ("bibtex", "medline", "reference-list")


def format_of(path: Path, text: str | None = None) -> str | None:
    """The format a file's extension names (for ``.txt``, what its text looks like), or None."""
    if path.suffix.lower() == ".txt" and text is not None:
        return "medline" if re.match(r"\s*PMID- ", text) else "reference-list"
    return EXTENSIONS.get(path.suffix.lower())


# What a file that is not UTF-8 is read as when no --encoding is given: the Windows encoding that
# EndNote, Excel and older Zotero exports use in Western Europe and the Americas (a superset of Latin-1).
LEGACY_ENCODING = "cp1252"


def decode(data: bytes, label: str, encoding: str | None = None) -> tuple[str | None, list[LoadError]]:
    """A file's text: UTF-8 (with or without a byte-order mark) or UTF-16 with one; otherwise the
    ``encoding`` given, or else cp1252 with a warning that shows which characters that gave."""
    if encoding:
        try:
            return data.decode(encoding), []
        except (UnicodeDecodeError, LookupError) as exc:
            return None, [LoadError(label, None, None, f"cannot be read as {encoding}: {exc}")]
    for bom, name in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            return data.decode(name), []
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError as exc:
        problem, bad_byte = f"not UTF-8 text ({exc.reason} at byte {exc.start})", exc.start
    try:
        text = data.decode(LEGACY_ENCODING)
    except UnicodeDecodeError:
        return None, [LoadError(label, None, None, f"{problem}, nor {LEGACY_ENCODING}; give its encoding with --encoding")]
    shown = " ".join(dict.fromkeys(c for c in text if not c.isascii()))
    line = data.count(b"\n", 0, bad_byte) + 1
    return text, [LoadError(label, line, None, f"{problem}: read as {LEGACY_ENCODING}, which gives {shown}; if those "
                                               "characters are wrong, give the file's encoding with --encoding",
                            severity="warning")]


def read_file(path: Path, label: str, format: str | None = None, encoding: str | None = None) -> ReadResult:
    """Read one input file with the reader for ``format`` (default: from its extension); ``label``
    names it in errors."""
    text, errors = decode(path.read_bytes(), label, encoding)
    if text is None:
        return ReadResult(errors=errors)
    format = format or format_of(path, text)
    readers = _readers()
    if format not in readers:
        known = ", ".join(sorted(e for e, f in EXTENSIONS.items() if f in readers))
        return ReadResult(errors=[LoadError(label, None, None, f"no reader for '{path.suffix}' files "
                                                               f"(known: {known}); name one with --format")])
    result = readers[format](text, label)
    result.errors[:0] = errors
    return result
