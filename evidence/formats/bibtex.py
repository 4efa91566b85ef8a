"""BibTeX: the reader (bibtexparser 2 splits the file; LaTeX is decoded only where a field holds it) and the
writer (every loaded field, curated tags as prefixed keywords, LaTeX that BibTeX and biber accept; written by
hand: the entries are flat and fully known, and string building is several times faster on large exports)."""

from __future__ import annotations

import logging
import re
from bisect import bisect_right
from collections.abc import Iterable
from functools import lru_cache
from operator import attrgetter
from pathlib import Path

import bibtexparser
from bibtexparser.middlewares.names import (
    InvalidNameError,
    parse_single_name_into_parts,
    split_multiple_persons_names,
)
from bibtexparser.library import Library
from bibtexparser.model import Block, DuplicateBlockKeyBlock, Entry, ParsingFailedBlock

from ..records import (
    MONTHS,
    LoadError,
    Person,
    StudyRecord,
    Tag,
    TaggedStudy,
    normalise_count,
    normalise_doi,
    normalise_month,
    normalise_pages,
    normalise_pmcid,
    normalise_pmid,
    normalise_year,
)
from ..fast import bibtex_split, parallel, pieces
from ..fast.spool import Spool
from . import ReadResult, add_keywords
from .latex import decode_latex, decode_title, encode, encode_title

# bibtexparser logs every failed block; this reader reports them itself, with file and key.
logging.getLogger("bibtexparser").setLevel(logging.CRITICAL)

# BibTeX field -> StudyRecord attribute, for plain text fields.
TEXT_FIELDS = {
    "journal": "journal",
    "journaltitle": "journal",
    "shortjournal": "journal_abbrev",
    "volume": "volume",
    "number": "issue",
    "issue": "issue",
    "issn": "issn",
    "abstract": "abstract",
    "population": "population",
    "finding": "finding",
    "note": "note",
}
# BibTeX field -> StudyRecord attribute, for lists written "a; b" (MeSH names hold commas).
LIST_FIELDS = {"publicationtypes": "publication_types", "mesh": "mesh_headings"}
# BibTeX field -> (attribute, normaliser) for fields with a fixed shape.
SHAPED_FIELDS = {
    "year": ("year", normalise_year),
    "pages": ("pages", lambda value: normalise_pages(decode_latex(value))),
    "month": ("month", lambda value: normalise_month(decode_latex(value))),
    "url": ("url", str.strip),  # verbatim, as BibTeX styles print it: "~" and "%" are part of the address
    "doi": ("doi", normalise_doi),
    "pmid": ("pmid", normalise_pmid),
    "pmcid": ("pmcid", normalise_pmcid),
    "participants": ("participants", normalise_count),
    "includedstudies": ("included_studies", normalise_count),
}

_SWALLOWED_FIELD = re.compile(r"(?:^|\n)\s*([A-Za-z][\w-]*)\s*=\s*[{\"\d]")
_ENTRY_KEY = re.compile(r"@\s*\w+\s*[{(]\s*([^,\s{}()]+)\s*,")

_AND_OTHERS = re.compile(r"\s+and\s+others\s*$")


def parse_authors(value: str) -> list[Person]:
    """Split a BibTeX name list into Persons ("and others" is not a person); InvalidNameError on a
    malformed name."""
    if "others" in value:  # faster than the pattern on its own
        value = _AND_OTHERS.sub("", value)
    return [_person(name) for name in split_names(value)]


_AND = re.compile(r"([ \t\r\n]+[aA][nN][dD][ \t\r\n]+)")
# A braced group (three levels deep at most), a backslash escaping the character after it.
_NAME_GROUP = re.compile(r"\{(?:[^{}\\]|\\.|\{(?:[^{}\\]|\\.|\{(?:[^{}\\]|\\.)*\})*\})*\}", re.DOTALL)


def split_names(value: str) -> list[str]:
    """The names of a BibTeX name list as bibtexparser's split_multiple_persons_names gives them (split at
    "and" between spaces outside braces), found with braced groups masked out; a backslash outside
    braces, unbalanced or deeper braces are left to bibtexparser's walk through the characters."""
    names = value.strip(" \r\n\t")
    if not names:
        return []
    if "{" not in names and "}" not in names and "\\" not in names:
        return _AND.split(names)[::2]
    masked = _NAME_GROUP.sub(lambda group: "x" * len(group.group()), names)
    if "{" in masked or "}" in masked or "\\" in masked:
        return split_multiple_persons_names(value)
    result, at = [], 0
    for i, part in enumerate(_AND.split(masked)):
        if i % 2 == 0:
            result.append(names[at:at + len(part)])
        at += len(part)
    return result


@lru_cache(maxsize=65536)  # names repeat across a bibliography
def _person(name: str) -> Person:
    parts = parse_single_name_into_parts(name)
    return Person(
        family=decode_latex(" ".join(parts.last)),
        given=decode_latex(" ".join(parts.first)),
        particle=decode_latex(" ".join(parts.von)),
        suffix=decode_latex(" ".join(parts.jr)),
    )


def read(text: str, label: str) -> ReadResult:
    """Read BibTeX text; malformed and duplicate entries become LoadErrors, the rest records.

    A large text is cut into pieces at lines that start a block, which bibtexparser reads the same way
    whatever came before (it starts a new block there, ending one left open), and the pieces are parsed
    in the workers (evidence.fast.parallel), each knowing every @string of the file; repeated keys are found
    across the pieces here. The result is the same as from one parse of the whole text.
    """
    if len(text) < pieces.PARALLEL_FROM:
        return _assemble(_blocks(text, label), label)
    cut = _text_pieces(text)
    strings = "".join(text[piece.start:piece.end] for piece in cut if piece.apart)
    read_elsewhere = iter(parallel.map_batches(_read_piece, (
        (_source(piece, text), label, piece.lines_before, piece.lines, strings) for piece in cut if not piece.apart)))
    seed = bibtexparser.parse_string("")  # the @string blocks, read here in turn, so repeated names are found
    return _assemble((item for piece in cut
                      for item in (_blocks(_source(piece, text), label, piece.lines_before, piece.lines, seed)
                                   if piece.apart else next(read_elsewhere))), label)


def read_path(path: Path, label: str, spool: Spool) -> tuple[ReadResult, bool] | None:
    """Read a large UTF-8 BibTeX file as ``read`` reads its text, but in pieces straight from the file (the
    workers read theirs), each record given to ``spool`` where it is read: the result's records are what
    ``spool`` gives back. Also says whether the file has any text. None for a file to read as text: one that
    is not plain UTF-8 (other encodings, byte-order marks)."""
    scanned = _scan(path)
    if scanned is None:
        return None
    cut, has_text = scanned
    strings = "".join(piece.read(path) for piece in cut if piece.apart)
    read_elsewhere = iter(parallel.map_batches(_read_file_piece, (
        (path, piece, label, strings, spool) for piece in cut if not piece.apart)))
    seed = bibtexparser.parse_string("")
    return _assemble((item for piece in cut
                      for item in (_spooled(_blocks(piece.read(path, _BLOCK_START), label, piece.lines_before,
                                                    piece.lines, seed), spool)
                                   if piece.apart else next(read_elsewhere))), label), has_text


_BLOCK_START = re.compile(r"^@\w*[ \t]*[{(]", re.MULTILINE)  # bibtexparser's block start, at the start of a line
# In a file's bytes: every block start, and some a word character outside ASCII would not make one.
_BYTES_BLOCK_START = re.compile(rb"^@(?:\w|[\x80-\xff])*[ \t]*[{(]", re.MULTILINE)


def _source(piece: pieces.Piece, text: str) -> str:
    """A piece of the text with the start of the block that follows it, so that a block left open ends as it
    does in the whole text."""
    following = _BLOCK_START.match(text, piece.end)
    return text[piece.start:piece.end] + (following.group(0) if following else "")


def _text_pieces(text: str) -> list[pieces.Piece]:
    """The text as pieces of about PIECE characters, each @string block a piece of its own."""
    starts = [m.start() for m in _BLOCK_START.finditer(text)]
    return pieces.cut_pieces(starts, len(text), lambda start, end: text.count("\n", start, end),
                             lambda block: text[block:block + 7].lower() == "@string")


def _scan(path: Path) -> tuple[list[pieces.Piece], bool] | None:
    """A file's pieces (offsets in bytes), each @string block apart, and whether it has any text."""
    return pieces.scan(path, _BYTES_BLOCK_START,
                       lambda start: start.isascii() or bool(_BLOCK_START.match(start.decode())),
                       lambda start: start[:7].lower() == b"@string")


def _read_piece(work: tuple[str, str, int, int, str]) -> list[tuple]:
    """In a worker: the blocks of one piece, its @string definitions given by the text of all of them."""
    text, label, lines_before, own_lines, strings = work
    return _blocks(text, label, lines_before, own_lines, bibtexparser.parse_string(strings))


def _read_file_piece(work: tuple[Path, pieces.Piece, str, str, Spool]) -> list[tuple]:
    """In a worker: the blocks of one piece of a file, each record given to the spool."""
    path, piece, label, strings, spool = work
    items = _spooled(_blocks(piece.read(path, _BLOCK_START), label, piece.lines_before, piece.lines,
                             bibtexparser.parse_string(strings)), spool)
    spool.close()
    return items


def _spooled(items: list[tuple], spool: Spool) -> list[tuple]:
    """The blocks with each record replaced by what ``spool`` gives for it."""
    return [item[:4] + (spool(item[4]), item[5]) if item[0] == "entry" and item[4] is not None else item
            for item in items]


def _blocks(text: str, label: str, lines_before: int = 0, own_lines: int | None = None,
            seed: Library | None = None) -> list[tuple]:
    """What each block of the text gives, in order: ("entry", key, line, raw, record or None, errors),
    ("duplicate", key, line, raw) or ("failed", error). ``lines_before`` the text, whose blocks starting past
    ``own_lines`` are not its own; ``seed``: a library whose @string definitions the text can use (it is added to).

    Entries of the regular shape are read by bibtex_split; the rest of the text (every @string among it)
    by bibtexparser in one parse, which also gives the values of the @string names those entries use.
    """
    pieces = bibtex_split.pieces(text) if SPLIT_FAST else [bibtex_split.Piece(0, len(text), 0, None)]
    given = _given_to_bibtexparser(pieces)
    bare_words = list(dict.fromkeys(value for piece, to_bibtexparser in zip(pieces, given) if not to_bibtexparser
                                    and piece.entry for _, value, _, bare in piece.entry.fields if bare))
    seen = set(seed.entries_dict) if seed is not None else set()  # keys of the entries so far
    parsed, words = _parse_rest(text, pieces, given, bare_words, seed)
    items = []
    for piece, to_bibtexparser in zip(pieces, given):
        if to_bibtexparser:
            for block, offset in parsed.pop(piece.start, ()):
                line = block.start_line + offset
                if own_lines is not None and line >= own_lines:
                    continue
                if isinstance(block, DuplicateBlockKeyBlock):
                    items.append(("duplicate", block.key, lines_before + line + 1, block.raw))
                elif isinstance(block, ParsingFailedBlock):
                    items.append(("failed", _parse_failure(block, label, lines_before + offset)))
                elif isinstance(block, Entry):
                    fields = [(f.key, f.value if isinstance(f.value, str) else str(f.value), f.start_line + offset,
                               False) for f in block.fields]
                    items.append(_entry_item(block.key, block.entry_type, line, block.raw, fields, seen, label,
                                             lines_before, words))
        elif piece.entry and (own_lines is None or piece.line < own_lines):
            entry = piece.entry
            items.append(_entry_item(entry.key, entry.entry_type, entry.line, entry.raw, entry.fields, seen, label,
                                     lines_before, words))
    return items


def _entry_item(key: str, entry_type: str, line: int, raw: str, fields: list[tuple[str, str, int, bool]],
                seen: set[str], label: str, lines_before: int, words: dict[str, str]) -> tuple:
    """The item of an entry (line: 0-based in the text after ``lines_before`` lines): a duplicate if an
    entry before it has its key."""
    if key in seen:
        return "duplicate", key, lines_before + line + 1, raw
    seen.add(key)
    errors: list[LoadError] = []
    record = _record(key, entry_type, lines_before + line + 1, raw, fields, label, errors, lines_before, words)
    return "entry", key, lines_before + line + 1, raw, record, errors


# Read entries of the regular shape with bibtex_split (False: all with bibtexparser, the reference it must equal).
SPLIT_FAST = True


def _given_to_bibtexparser(pieces: list[bibtex_split.Piece]) -> list[bool]:
    """Which pieces bibtexparser reads: those not read by bibtex_split, and the piece after each run of
    them, so that a block they leave open ends at the same block start as in the whole text."""
    given, after_unread = [], False
    for piece in pieces:
        unread = piece.entry is None and not piece.blank
        given.append(unread or after_unread)
        after_unread = unread
    return given


# The key of the entry through which bibtexparser gives the values of bare words (it cannot be a real key).
_WORDS_KEY = "\0evidence:words\0"


def _parse_rest(text: str, pieces: list[bibtex_split.Piece], given: list[bool], words: list[str],
                seed: Library | None) -> tuple[dict[int, list[tuple[Block, int]]], dict[str, str]]:
    """bibtexparser's reading of the pieces given to it, as one text (with ``seed``): the blocks of each
    run of them, by where the run starts, each with what to add to its start_line to get its line in
    ``text``; and the value of each bare word (a @string's value where the word names one)."""
    runs: list[tuple[int, int, int]] = []  # start, end, line
    for piece, to_bibtexparser in zip(pieces, given):
        if not to_bibtexparser:
            continue
        if runs and runs[-1][1] == piece.start:
            runs[-1] = (runs[-1][0], piece.end, runs[-1][2])
        else:
            runs.append((piece.start, piece.end, piece.line))
    if not runs and not words:
        return {}, {}
    head = "".join(["@misc{", _WORDS_KEY, ",\n"] + [f"w{i} = {word},\n" for i, word in enumerate(words)]
                   + ["}\n"]) if words else ""
    known = len(seed.blocks) if seed is not None else 0
    library = bibtexparser.parse_string(head + "".join(text[start:end] for start, end, _ in runs), library=seed)
    blocks = library.blocks[known:]
    values = {}
    if words:
        words_entry = blocks.pop(0)
        values = {word: field.value for word, field in zip(words, words_entry.fields)}
        if seed is not None:
            seed.remove(words_entry)
    parsed: dict[int, list[tuple[Block, int]]] = {}
    starts, offsets = [], []  # line of each run in the parsed text, and in text
    line = head.count("\n")
    for start, end, text_line in runs:
        starts.append(line)
        offsets.append(text_line - line)
        line += text.count("\n", start, end)
    for block in blocks:
        run = bisect_right(starts, block.start_line) - 1
        parsed.setdefault(runs[run][0], []).append((block, offsets[run]))
    return parsed, values


def _assemble(items: Iterable[tuple], label: str) -> ReadResult:
    """The records and errors of a file's blocks, in order: an entry whose key an earlier entry has is not loaded."""
    first: dict[str, int] = {}  # key -> line of the first entry with it
    result = ReadResult()
    repeated = []  # blocks bibtexparser found repeated: their message names the first entry with the key, wherever it is
    for item in items:
        if item[0] == "failed":
            result.errors.append(item[1])
            continue
        key, line, raw = item[1:4]
        if item[0] == "duplicate":
            repeated.append((len(result.errors), key, line, raw))
            result.errors.append(None)
        elif key in first:
            result.errors.append(_repeated_key(label, key, line, raw, first[key]))
        else:
            first[key] = line
            record, errors = item[4:]
            result.errors += errors
            if record is not None:
                result.records.append(record)
    for at, key, line, raw in repeated:
        result.errors[at] = _repeated_key(label, key, line, raw, first.get(key))
    return result


def _repeated_key(label: str, key: str, line: int, raw: str, first_line: int | None) -> LoadError:
    where = f"line {first_line}" if first_line is not None else "an earlier entry"
    return LoadError(label, line, key, f"duplicate key: already used at {where}; this entry was not loaded", raw=raw)


def _parse_failure(block: ParsingFailedBlock, label: str, lines_before: int) -> LoadError:
    match = _ENTRY_KEY.match(block.raw or "")
    reason = getattr(block.error, "abort_reason", None) or str(block.error) or type(block.error).__name__
    return LoadError(label, lines_before + block.start_line + 1, match.group(1) if match else None,
                     f"malformed entry: {' '.join(reason.split())}", raw=block.raw)


def _record(key: str, entry_type: str, line: int, raw: str, fields: list[tuple[str, str, int, bool]], label: str,
            errors: list[LoadError], lines_before: int, words: dict[str, str]) -> StudyRecord | None:
    """Build the record for one entry from its fields, (name, value, line, bare) as bibtex_split gives
    them (line 0-based after ``lines_before`` lines; a bare word's value is in ``words``); field problems
    are reported and the field left empty."""
    record = StudyRecord(key=key, source_file=label, source_line=line, entry_type=entry_type.lower())

    def problem(field_line: int, message: str) -> None:
        errors.append(LoadError(label, lines_before + field_line + 1, key, message, severity="warning"))

    for name, value, field_line, bare in fields:
        if bare:
            value = words[value]
        name = name.lower()
        swallowed = "=" in value and _SWALLOWED_FIELD.search(value)
        if swallowed:
            problem(field_line, f"field '{name}' contains '{swallowed.group(1)} = ...': "
                                "probably a missing comma before it; the value was kept as written")
        if name == "author":
            try:
                record.authors = parse_authors(value)
                record.more_authors = "others" in value and bool(_AND_OTHERS.search(value))
            except InvalidNameError as exc:
                problem(field_line, f"author list could not be split ({exc.reason}); authors left empty")
        elif name == "keywords":
            add_keywords(record, re.split(r"[,;]", decode_latex(value)), f"{label}:{lines_before + field_line + 1}")
        elif name in LIST_FIELDS:
            setattr(record, LIST_FIELDS[name], [v.strip() for v in decode_latex(value).split(";") if v.strip()])
        elif name == "title":
            title, record.title_nocase = decode_title(value)
            record.title = title or None
        elif name in TEXT_FIELDS:
            setattr(record, TEXT_FIELDS[name], decode_latex(value).strip() or None)
        elif name in SHAPED_FIELDS:
            attribute, normalise = SHAPED_FIELDS[name]
            try:
                setattr(record, attribute, normalise(value))
            except ValueError as exc:
                problem(field_line, f"field '{name}': {exc}; left empty")
        else:
            record.extra[name] = value
    if not record.title:
        errors.append(LoadError(label, line, key, "entry has no title; it was not loaded", raw=raw))
        return None
    if not (record.doi or record.pmid):
        errors.append(LoadError(label, line, key, "no DOI or PMID: the study cannot be verified against a public "
                                "record", severity="warning"))
    return record


# Writing

# StudyRecord attribute -> BibTeX field, in the order they are written; the BibTeX reader reads
# each of these names back into the same attribute.
FIELDS = [
    ("journal", "journal"), ("journal_abbrev", "shortjournal"), ("year", "year"), ("month", "month"),
    ("volume", "volume"), ("issue", "number"), ("pages", "pages"), ("doi", "doi"), ("pmid", "pmid"),
    ("pmcid", "pmcid"), ("issn", "issn"), ("url", "url"), ("abstract", "abstract"),
    ("population", "population"), ("participants", "participants"),
    ("included_studies", "includedstudies"), ("finding", "finding"), ("note", "note"),
]
# Fields written as they are: identifiers that styles print verbatim.
VERBATIM = {"year", "doi", "pmid", "pmcid", "issn", "url", "participants", "included_studies"}
_FIELD_NAMES = [(attribute, name, attribute in VERBATIM) for attribute, name in FIELDS]
_field_values = attrgetter(*(attribute for attribute, _ in FIELDS))  # all at once: faster than one by one

_PAGE_RANGE = re.compile(r"^[A-Za-z]?\d+-[A-Za-z]?\d+$")  # as records.normalise_pages leaves a range

@lru_cache(maxsize=1 << 16)  # authors repeat across studies
def encode_name(p: Person) -> str:
    """One author as "von Last, Jr, First"; a family name with spaces is braced so it stays whole."""
    family = encode(p.family)
    if " " in p.family or "," in p.family or (p.family[:1].islower() and not p.particle):
        family = "{" + family + "}"
    last = f"{encode(p.particle)} {family}" if p.particle else family
    parts = [last] + ([encode(p.suffix)] if p.suffix else []) + ([encode(p.given)] if p.given else [])
    return ", ".join(parts)


def entry(study: TaggedStudy) -> str:
    """One study as a BibTeX entry."""
    r: StudyRecord = study.record
    lines = [f"@{r.entry_type}{{{r.key},\n"]  # then one line per field: name = value as written
    if r.authors:
        written = [encode_name(p) for p in r.authors]
        if r.more_authors:
            written.append("others")
        lines.append(f"  author = {{{' and '.join(written)}}},\n")
    lines.append(f"  title = {{{encode_title(r.title or '', r.title_nocase)}}},\n")
    for (attribute, name, verbatim), value in zip(_FIELD_NAMES, _field_values(r)):
        if value is None or value == "":
            continue
        if verbatim:
            lines.append(f"  {name} = {{{value}}},\n")
        elif attribute == "month" and value in MONTHS:
            lines.append(f"  {name} = {value},\n")  # the standard macro, as BibTeX styles expect
        elif attribute == "pages" and _PAGE_RANGE.match(value):
            lines.append(f"  {name} = {{{value.replace('-', '--')}}},\n")
        else:
            lines.append(f"  {name} = {{{encode(value)}}},\n")
    for name, attribute in LIST_FIELDS.items():
        values = getattr(r, attribute)
        if values:
            lines.append(f"  {name} = {{{'; '.join([encode(v) for v in values])}}},\n")
    keywords = study.keywords()
    if keywords:
        lines.append(f"  keywords = {{{', '.join([encode(k) for k in keywords])}}},\n")
    if r.extra:
        lines += [f"  {name} = {value if _is_concatenation(value) else '{' + value + '}'},\n"
                  for name, value in sorted(r.extra.items())]
    lines.append("}\n")
    return "".join(lines)


def _is_concatenation(raw: str) -> bool:
    """Whether a raw field value joins parts with ``#`` ("{A} # { B}"), to be written as it is."""
    depth, quoted = 0, False
    for i, char in enumerate(raw):
        if char == "\\":
            continue
        if char == '"' and depth == 0:
            quoted = not quoted
        elif char in "{}" and (i == 0 or raw[i - 1] != "\\"):
            depth += 1 if char == "{" else -1
        elif char == "#" and depth == 0 and not quoted:
            return True
    return False
