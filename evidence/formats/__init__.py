"""The bibliography formats, one module each (reader, writer, suffixes, content signature, type map), registered
here; and how a file's format is found: by its text among the formats its suffix names, else by its suffix."""

from __future__ import annotations

from pathlib import Path

from . import bibtex, citeproc, csljson, medline, reflist, ris
from .reading import Format, ReadResult, read_file

FORMATS: dict[str, Format] = {
    f.name: f for f in (bibtex.FORMAT, ris.FORMAT, medline.FORMAT, csljson.FORMAT, reflist.FORMAT, *citeproc.FORMATS)
}
READABLE = tuple(name for name, f in FORMATS.items() if f.read is not None)
WRITABLE = tuple(name for name, f in FORMATS.items() if f.entry is not None or f.formatted)

__all__ = ["FORMATS", "READABLE", "WRITABLE", "Format", "ReadResult", "detect", "format_of", "read_file"]


def detect(path: Path, text: str | None = None) -> Format | None:
    """The format of a file: of those that read its suffix, the first whose signature its text has, else the
    first of them (None if no format reads the suffix)."""
    named = [f for f in FORMATS.values() if f.read is not None and path.suffix.lower() in f.suffixes]
    if text is not None:
        for found in named:
            if found.looks_like(text):
                return found
    return named[0] if named else None


def format_of(path: Path, text: str | None = None) -> str | None:
    """The name of ``detect``'s format, or None."""
    found = detect(path, text)
    return found.name if found else None


def reader_suffixes() -> str:
    """The suffixes some format reads, for messages."""
    return ", ".join(sorted({suffix for f in FORMATS.values() for suffix in f.suffixes}))
