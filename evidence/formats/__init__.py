"""Readers: one module per input format, each turning a file's text into StudyRecords and LoadErrors."""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..records import MONTHS, LoadError, StudyRecord, Tag, free_key, key_stem, normalise_month
from ..fast import parallel, pieces
from ..fast.spool import Spool


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


# The BibTeX type a reader gives each type a writer's map names: where several BibTeX types are
# written as one (RIS "CHAP" for inbook and incollection), the one a reference manager means by it
# (Zotero's BibTeX export writes a book section as incollection, a thesis as phdthesis).
CANONICAL_TYPES = ("article", "book", "incollection", "inproceedings", "phdthesis", "techreport", "online",
                   "unpublished", "misc")


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

    def spool(self, spool: Spool) -> None:
        """Give the (loadable) record to the spool, keeping its line and its key's stem, but not its text
        (only an entry that repeats an earlier one's key needs it, for the error: see ``_with_repeats_text``)."""
        record = self.record
        self.line, self.stem = record.source_line, key_stem(record)
        self.record = spool(record)
        self.raw = ""

    def settling(self) -> tuple[int, str, bool]:
        """The record's line, the stem of a key made for it, and whether it has a title."""
        if self.line:  # spooled, having a title
            return self.line, self.stem, True
        record = self.record
        return record.source_line, key_stem(record), bool(record.title)


def finish(drafts: list[Draft], label: str) -> ReadResult:
    """Settle the keys (an entry's own, else one made in the corpus's style that no entry of the file
    uses) and report: a failure, a repeated key or a missing title is an error and the entry is not
    loaded, a field problem or the lack of both DOI and PMID a warning. The records of the result are the
    drafts' records (or what the spool gave for them), their keys set."""
    result = ReadResult()
    taken = {d.key for d in drafts if d.key}
    first_line: dict[str, int] = {}
    for draft in drafts:
        record = draft.record
        line, stem, titled = draft.settling()
        if draft.key in first_line:
            result.errors.append(LoadError(label, line, draft.key, "duplicate key: already used at "
                                           f"line {first_line[draft.key]}; this entry was not loaded", raw=draft.raw))
            continue
        record.key = draft.key or free_key(stem, taken)
        record.key_made = draft.key is None
        first_line[record.key] = line
        result.errors += [LoadError(label, problem_line, record.key, message, severity="warning")
                          for problem_line, message in draft.problems]
        if draft.failure or not titled:
            result.errors.append(LoadError(label, line, record.key,
                                           draft.failure or "entry has no title; it was not loaded", raw=draft.raw))
            continue
        if not (record.doi or record.pmid):
            result.errors.append(LoadError(label, line, record.key, "no DOI or PMID: the study cannot be "
                                           "verified against a public record", severity="warning"))
        result.records.append(record)
    return result


def _readers() -> dict[str, Callable[[str, str], ReadResult]]:
    from . import bibtex, csljson, medline, reflist, ris

    return {
        "bibtex": bibtex.read,
        "ris": ris.read,
        "medline": medline.read,
        "csl-json": csljson.read,
        "reference-list": reflist.read,
    }


# File extension -> format name (a .txt file is MEDLINE or a reference list: see format_of).
EXTENSIONS = {
    ".bib": "bibtex",
    ".bibtex": "bibtex",
    ".ris": "ris",
    ".nbib": "medline",
    ".medline": "medline",
    ".json": "csl-json",
    ".txt": "reference-list",
}
FORMATS = ("bibtex", "ris", "medline", "csl-json", "reference-list")


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
    for bom, name in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):  # a byte-order mark says what the file is, whatever --encoding says
            return data.decode(name), []
    if encoding:
        try:
            return data.decode(encoding), []
        except (UnicodeDecodeError, LookupError) as exc:
            return None, [LoadError(label, None, None, f"cannot be read as {encoding}: {exc}")]
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


def read_file(path: Path, label: str, format: str | None = None, encoding: str | None = None,
              spool: Spool | None = None) -> ReadResult:
    """Read one input file with the reader for ``format`` (default: from its extension); ``label``
    names it in errors. With ``spool``, each record is given to it as it is read, and the result holds
    what it gives back (a large BibTeX, RIS or MEDLINE file is then read in pieces, never whole)."""
    if spool is not None and encoding is None and (format or format_of(path)) in IN_PIECES:
        read = _read_in_pieces(path, label, format or format_of(path), spool)
        if read is not None:
            return _checked(*read, format or format_of(path), label)
    text, errors = decode(path.read_bytes(), label, encoding)
    if text is None:
        return ReadResult(errors=errors)
    format = format or format_of(path, text)
    readers = _readers()
    if format not in readers:
        known = ", ".join(sorted(e for e, f in EXTENSIONS.items() if f in readers))
        return ReadResult(errors=[LoadError(label, None, None, f"no reader for '{path.suffix}' files "
                                                               f"(known: {known}); name one with --format")])
    result = _checked(readers[format](text, label), bool(text.strip()), format, label)
    result.errors[:0] = errors
    if spool is not None:
        result.records = [spool(record) for record in result.records]
    return result


# Formats whose large files are read in pieces from disk, in the worker processes.
IN_PIECES = ("bibtex", "ris", "medline")


def _read_in_pieces(path: Path, label: str, format: str, spool: Spool) -> tuple[ReadResult, bool] | None:
    """Read a large UTF-8 file in pieces straight from disk, each record given to ``spool`` where it is read
    (the result holds what it gives back), with the same result as reading its text; also whether it has any
    text. None for a file to read as text: a small one, one that is not plain UTF-8, or one of one
    piece. Keys are settled here, over the whole file, once every piece is read."""
    if path.stat().st_size < pieces.PARALLEL_FROM:
        return None
    if format == "bibtex":
        from . import bibtex

        return bibtex.read_path(path, label, spool)
    reader = _line_readers()[format]
    scanned = pieces.scan(path, reader.RECORD_START)
    if scanned is None or len(scanned[0]) < 2:  # one piece (perhaps no record at all) is read as text
        return None
    cut, has_text = scanned
    drafts: list[Draft] = []
    given: set[str] = set()  # the keys of the entries so far
    for piece, found in zip(cut, parallel.map_batches(_piece_drafts, (
            (format, path, piece, label, spool) for piece in cut))):
        drafts += _with_repeats_text(found, given, lambda: reader.drafts(piece.read(path), label, piece.lines_before))
    return reader.finished(drafts, label), has_text


def _with_repeats_text(found: list[Draft], given: set[str], read_again: Callable[[], list[Draft]]) -> list[Draft]:
    """A piece's drafts, each spooled one that repeats a key ``given`` before it with its text again (the
    error about it shows the text, which the spooled drafts left behind): ``read_again`` reads the piece once
    more, rarely needed. The keys of the piece are added to ``given``."""
    repeats = []
    for draft in found:
        if draft.key in given and draft.line:  # spooled, its text left behind
            repeats.append(draft)
        elif draft.key:
            given.add(draft.key)
    if repeats:
        texts = {again.record.source_line: again.raw for again in read_again()}
        for draft in repeats:
            draft.raw = texts[draft.line]
    return found


def _line_readers() -> dict:
    from . import medline, ris

    return {"ris": ris, "medline": medline}


def _piece_drafts(work: tuple[str, Path, pieces.Piece, str, Spool]) -> list[Draft]:
    """In a worker: the drafts of one piece of a file, each loadable record given to the spool and replaced by
    what settling its key needs."""
    format, path, piece, label, spool = work
    found = _line_readers()[format].drafts(piece.read(path), label, piece.lines_before) or []
    for draft in found:
        if draft.failure is None and draft.record.title:
            draft.spool(spool)
    spool.close()
    return found


def _checked(result: ReadResult, has_text: bool, format: str, label: str) -> ReadResult:
    """The result, with an error if a file with text in it gave no entries and no reason why."""
    if has_text and not result.records and not any(e.severity == "error" and e.entry_key is None
                                                   and e.line is None for e in result.errors):
        result.errors.append(LoadError(label, None, None, f"no {format} entries could be read from it; is it a "
                                                          f"{format} file? (give --format if not)"))
    return result
