"""What every reader shares: the one protocol (each entry a Draft, ``finish`` settling keys and reporting
problems), the helpers for fields several formats write alike, and the plain way a file is read: decoded,
its format found, read whole."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

from ..records import (
    MONTHS,
    LoadError,
    StudyRecord,
    Tag,
    TaggedStudy,
    TakenKeys,
    free_key,
    key_stem,
    normalise_month,
)
from .encoding import decode

if TYPE_CHECKING:
    from ..fast.spool import Spool

R = TypeVar("R")  # a record, or what a spool gives back for one


@dataclass(frozen=True)
class Layout:
    """How a data format's file is made of its studies' texts: ``between`` them, ``start`` and ``end`` around
    them, ``empty`` for no studies."""

    start: str = ""
    between: str = "\n"
    end: str = ""
    empty: str = ""


@dataclass(frozen=True)
class PieceRule:
    """Where a large file of a format may be cut into pieces read apart (evidence.fast.pieces): at a match of
    ``record_start`` (bytes, at a line start) that ``confirm`` accepts; a record ``apart`` (given its first
    bytes) is a piece of its own; ``following``: what of the next piece's start to add to a piece so that a
    record left open ends as in the whole text."""

    record_start: re.Pattern[bytes]
    confirm: Callable[[bytes], bool] = lambda start: True
    apart: Callable[[bytes], bool] = lambda start: False
    following: re.Pattern[str] | None = None
    context: Callable[[str], object] | None = None  # what every piece needs from the text of those apart
    whole_if_inline: re.Pattern[bytes] | None = None  # found anywhere but at a line start: the file is read whole
    whole_if: Callable[[bytes], bool] | None = None  # true of some lines: the file is read whole (entries need others)


@dataclass(frozen=True)
class Format:
    """A bibliography format: its reader (``read`` a text; ``drafts`` of a piece of one, with the lines
    before it), its writer (``entry`` of one study, joined by ``layout``; or ``write_all`` of a formatted
    list, given its markup), the suffixes of the files it reads and its ``signature``: what, found at the start
    of a line near the start of a file, says that the file is in it, whatever its suffix."""

    name: str
    label: str
    suffixes: tuple[str, ...] = ()
    signature: re.Pattern[str] | None = None
    read: Callable[[str, str], ReadResult] | None = None
    drafts: Callable[..., list[Draft] | None] | None = None
    pieces: PieceRule | None = None
    entry: Callable[[TaggedStudy], str] | None = None
    layout: Layout = Layout()
    write_all: Callable[[list[TaggedStudy], str], str] | None = None
    extension: str | None = None  # of an export (formatted styles take theirs from the markup)
    media_type: str | None = None

    @property
    def formatted(self) -> bool:
        """A formatted reference list (APA, Vancouver) rather than data."""
        return self.write_all is not None


@dataclass
class ReadResult(Generic[R]):
    """What a reader got out of one file: the records it could read (or, where they were given to a spool as
    they were read, what it gave back for each), and what it could not."""

    records: list[R] = field(default_factory=list)
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


# The BibTeX type a reader gives each type a writer's map names: where several BibTeX types are
# written as one (RIS "CHAP" for inbook and incollection), the one a reference manager means by it
# (Zotero's BibTeX export writes a book section as incollection, a thesis as phdthesis).
CANONICAL_TYPES = (
    "article",
    "book",
    "incollection",
    "inproceedings",
    "phdthesis",
    "techreport",
    "online",
    "unpublished",
    "misc",
)


def entry_types(written_as: dict[str, str]) -> dict[str, str]:
    """A writer's BibTeX type -> format type map turned round: format type -> canonical BibTeX type."""
    return {written_as[bibtex_type]: bibtex_type for bibtex_type in CANONICAL_TYPES}


def split_particle(family: str) -> tuple[str, str]:
    """("van der", "Berg") for "van der Berg": the leading lower-case words are the particle, as BibTeX
    reads "von Last"; the last word stays the family name ("Guerreiro da Silva" has no particle)."""
    words = family.split()
    count = 0
    while count < len(words) - 1 and words[count][:1].islower():
        count += 1
    return " ".join(words[:count]), " ".join(words[count:])


_YEAR_AND_MONTH = re.compile(r"(?<!\d)(\d{4})(?!\d)(?:\s*[-/]\s*(\d{1,2})(?!\d))?")
_WORD = re.compile(r"[A-Za-z]{3,}")


def month_name(text: str) -> str | None:
    """The month as the BibTeX macro the store keeps ("may") for "May", "may", "5" or "05"; else None."""
    month = normalise_month(text)
    return month if month in MONTHS else None


def read_date(text: str) -> tuple[int | None, str | None]:
    """Year and month ("may") of a date as exports write it: "2009", "2009///", "2009/05/11/",
    "2009-05", "2009 May 11", "May 2009"; just the month of "May 11"; None for a part not there."""
    match = _YEAR_AND_MONTH.search(text)
    month = month_name(match.group(2)) if match and match.group(2) else None
    if month is None and (word := _WORD.search(text)):
        month = month_name(word.group(0))
    return (int(match.group(1)) if match else None), month


_EDTF = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?[~?%]?")


def edtf_date(text: str) -> tuple[int, str | None]:
    """Year and month ("may") of an ISO 8601 / EDTF date as biblatex reads its ``date`` field: "2016",
    "2016-05", "2016-05-11", approximate or uncertain ("1997~", "1997?"), and ranges, open or not ("1997/1999",
    "1997/", "/1999": the start, else the end). ValueError for anything else, or a month or day that is none."""
    start, _, end = text.strip().partition("/")
    match = _EDTF.fullmatch(start.strip() or end.strip())
    if not match:
        raise ValueError(f"not a date biblatex reads (YYYY, YYYY-MM, YYYY-MM-DD, ranges with /): {text!r}")
    year, month, day = (int(part) if part else None for part in match.groups())
    if month is not None and not (1 <= month <= 12 or 21 <= month <= 24 and day is None):  # 21-24: seasons
        raise ValueError(f"month {month:02d} in {text!r} is not one")
    if day is not None:
        try:
            date(year, month, day)
        except ValueError:
            raise ValueError(f"{text!r} is not a day of the calendar") from None
    return year, MONTHS[month - 1] if month and month <= 12 else None


def given_key(value: object) -> str | None:
    """The citation key an entry gives itself, or None: a bare number is a record number (EndNote's RIS
    ``ID``, which Zotero's RIS import ignores too), which would clash between files rather than name a study."""
    key = str(value).strip() if isinstance(value, (str, int)) else ""
    return None if key.isdigit() else key or None


@dataclass(slots=True)  # a large file read in pieces holds one for each of its entries
class Draft:
    """An entry as read, before its key is settled: the key it gives itself (if any), its text, problems
    with its fields as (line, message), and why it cannot be loaded, if it cannot. Once its record is
    spooled, ``record`` is what the spool gave for it, and ``line`` and ``stem`` keep what settling its
    key needs."""

    record: StudyRecord
    key: str | None
    raw: str
    problems: list[tuple[int, str]] = field(default_factory=list)
    failure: str | None = None
    line: int = 0
    stem: str = ""
    makes_key: bool = True  # without a key of its own it gets one made (not a BibTeX block that failed)
    fields: list[tuple[str, str, int]] | None = None  # (name, value, 0-based line) as read, for inheritance
    lacks: str | None = None  # once spooled: what the record lacks (see ``lacking``)

    def spool(self, spool: Spool) -> None:
        """Give the (loadable) record to the spool, keeping its line and its key's stem, but not its text
        (only an entry that repeats an earlier one's key needs it, for the error: see ``_with_repeats_text``)."""
        record = self.record
        self.line, self.stem = record.source_line, "" if self.key else key_stem(record)
        self.lacks = lacking(record)
        self.record = spool(record)
        self.raw = ""
        self.fields = None

    def settling(self) -> tuple[int, str | None]:
        """The record's line, and what it lacks (see ``lacking``)."""
        if self.line:  # spooled
            return self.line, self.lacks
        return self.record.source_line, lacking(self.record)

    def made_key_stem(self) -> str:
        """The stem of a key made for an entry that gives none (see records.key_stem)."""
        return self.stem if self.line else key_stem(self.record)


def lacking(record: StudyRecord) -> str | None:
    """What a warning says of a record without a title (loaded all the same, as biber keeps such an entry);
    None for one with a title."""
    if record.title:
        return None
    if record.authors or record.year or record.doi or record.pmid or record.pmcid or record.url:
        return "no title; loaded without one"
    return "no title, author, year or identifier; loaded, but nothing in it says what it is"


# Citation keys longer than this are not kept (no real one comes near it; a key is made instead).
LONGEST_KEY = 200


def finish(drafts: list[Draft], label: str, errors: list[LoadError] = (), warn_unverifiable: bool = True) -> ReadResult:
    """Settle the keys (an entry's own, else one made in the corpus's style that no entry of the file
    uses) and report: a failure or a repeated key is an error and the entry is not loaded, a field problem, a
    missing title or (``warn_unverifiable``) the lack of both DOI and PMID a warning. The records
    of the result are the drafts' records (or what the spool gave for them), their keys set; its errors are
    those and ``errors``, in the order of their lines. Every reader ends here."""
    result = ReadResult(errors=list(errors))
    for draft in drafts:
        if draft.key and len(draft.key) > LONGEST_KEY:
            draft.problems.append(
                (draft.settling()[0], f"key of {len(draft.key)} characters ({draft.key[:20]}...): one was made instead")
            )
            draft.key = None
    taken = TakenKeys(d.key for d in drafts if d.key)
    first_line: dict[str, int] = {}
    for draft in drafts:
        record = draft.record
        line, lacks = draft.settling()
        if draft.key in first_line:
            result.errors.append(
                LoadError(
                    label,
                    line,
                    draft.key,
                    f"duplicate key: already used at line {first_line[draft.key]}; this entry was not loaded",
                    raw=draft.raw,
                )
            )
            continue
        record.key = draft.key or (free_key(draft.made_key_stem(), taken) if draft.makes_key else None)
        record.key_made = draft.key is None
        if record.key:
            first_line[record.key] = line
        result.errors += [
            LoadError(label, problem_line, record.key, message, severity="warning")
            for problem_line, message in draft.problems
        ]
        if draft.failure:
            result.errors.append(LoadError(label, line, record.key, draft.failure, raw=draft.raw))
            continue
        if lacks:
            result.errors.append(LoadError(label, line, record.key, lacks, severity="warning"))
        if warn_unverifiable and not (record.doi or record.pmid):
            result.errors.append(
                LoadError(
                    label,
                    line,
                    record.key,
                    "no DOI or PMID: the study cannot be verified against a public record",
                    severity="warning",
                )
            )
        result.records.append(record)
    result.errors.sort(key=lambda e: e.line or 0)
    return result


def read_text(text: str, label: str, format: Format) -> ReadResult:
    """Read a file's text with a format's reader; an error if text gave no entries and no reason why."""
    result = format.read(text, label)
    return checked(result, bool(text.strip()), format.name, label)


def read_file(path: Path, label: str, format: str | None = None, encoding: str | None = None) -> ReadResult:
    """Read one input file whole, with the reader of ``format`` (default: found from its suffix and text);
    ``label`` names it in errors."""
    from . import FORMATS, detect, reader_suffixes

    text, errors = decode(path.read_bytes(), label, encoding)
    if text is None:
        return ReadResult(errors=errors)
    found = FORMATS.get(format) if format else detect(path, text)
    if found is None or found.read is None:
        return ReadResult(
            errors=[
                LoadError(
                    label,
                    None,
                    None,
                    f"no reader for '{path.suffix}' files (known: {reader_suffixes()}); name one with --format",
                )
            ]
        )
    result = read_text(text, label, found)
    result.errors[:0] = errors
    return result


def checked(result: ReadResult, has_text: bool, format: str, label: str) -> ReadResult:
    """The result, with an error if a file with text in it gave no entries and no reason why."""
    if (
        has_text
        and not result.records
        and not any(e.severity == "error" and e.entry_key is None and e.line is None for e in result.errors)
    ):
        result.errors.append(
            LoadError(
                label,
                None,
                None,
                f"no {format} entries could be read from it; is it a {format} file? (give --format if not)",
            )
        )
    return result
