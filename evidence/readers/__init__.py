"""Readers: one module per input format, each producing StudyRecords and LoadErrors."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..records import LoadError, StudyRecord


@dataclass
class ReadResult:
    """What a reader got out of one file: the records it could read, and what it could not."""

    records: list[StudyRecord] = field(default_factory=list)
    errors: list[LoadError] = field(default_factory=list)


def read_file(path: Path, label: str) -> ReadResult:
    """Read one input file with the reader for its extension; ``label`` names it in errors."""
    from . import bibtex

    readers = {".bib": bibtex.read, ".bibtex": bibtex.read}
    reader = readers.get(path.suffix.lower())
    if reader is None:
        known = ", ".join(sorted(readers))
        return ReadResult(errors=[LoadError(label, None, None, f"no reader for '{path.suffix}' files (known: {known})")])
    return reader(path, label)
