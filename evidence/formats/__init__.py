"""The bibliography formats, one module each (reader, writer, suffixes, content signature, type map), registered
here; and how a file's format is found: by its text first, else by its suffix."""

from __future__ import annotations

from pathlib import Path

from . import bibtex, citeproc, csljson, medline, reflist, ris
from .reading import Format, ReadResult, read_file

FORMATS: dict[str, Format] = {
    f.name: f for f in (bibtex.FORMAT, ris.FORMAT, medline.FORMAT, csljson.FORMAT, reflist.FORMAT, *citeproc.FORMATS)
}
READABLE = tuple(name for name, f in FORMATS.items() if f.read is not None)
WRITABLE = tuple(name for name, f in FORMATS.items() if f.entry is not None or f.formatted)

# The names the web's export addresses give the formats (/evidence/study_cards.csljson).
WEB_SUFFIXES = {"bib": "bibtex", "ris": "ris", "csljson": "csl-json", "apa": "apa", "vancouver": "vancouver"}

__all__ = [
    "FORMATS",
    "READABLE",
    "WEB_SUFFIXES",
    "WRITABLE",
    "Format",
    "ReadResult",
    "detect",
    "format_named",
    "format_of",
    "read_file",
]


# How much of a file's text its format is told from.
HEAD = 65536


def detect(path: Path, text: str | None = None) -> Format | None:
    """The format of a file: the one whose signature comes first in the start of its text (a RIS "TY  - " line, a
    MEDLINE "PMID- " line, a BibTeX "@article{", a JSON array or object), whatever its suffix; else the first
    that reads its suffix (None if none does)."""
    readers = [f for f in FORMATS.values() if f.read is not None]
    if text is not None:
        head = text[:HEAD]
        found = [
            (match.start(), n) for n, f in enumerate(readers) if f.signature and (match := f.signature.search(head))
        ]
        if found:
            return readers[min(found)[1]]
    return next((f for f in readers if path.suffix.lower() in f.suffixes), None)


def format_of(path: Path, text: str | None = None) -> str | None:
    """The name of ``detect``'s format, or None."""
    found = detect(path, text)
    return found.name if found else None


def reader_suffixes() -> str:
    """The suffixes some format reads, for messages."""
    return ", ".join(sorted({suffix for f in FORMATS.values() for suffix in f.suffixes}))


def format_named(name: str) -> str | None:
    """The format ``name`` names, in any case: a format's own name, the web's name for it (bib, csljson) or a suffix
    of its files (json, nbib, .ris); None if none."""
    name = name.lower().removeprefix(".")
    if name in FORMATS or name in WEB_SUFFIXES:
        return WEB_SUFFIXES.get(name, name)
    return next((n for n, f in FORMATS.items() if f".{name}" in f.suffixes), None)
