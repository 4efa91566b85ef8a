"""BibTeX: the reader (bibtexparser 2 splits the file; LaTeX is decoded only where a field holds it) and the
writer (every loaded field, curated tags as prefixed keywords, LaTeX that BibTeX and biber accept; written by
hand: the entries are flat and fully known, and string building is several times faster on large exports)."""

from __future__ import annotations

import logging
import re
from bisect import bisect_right
from operator import attrgetter

import bibtexparser
from bibtexparser.library import Library
from bibtexparser.model import (
    Block,
    DuplicateBlockKeyBlock,
    DuplicateFieldKeyBlock,
    Entry,
    ImplicitComment,
    ParsingFailedBlock,
    String,
)

from .. import fast
from ..fast import bibtex_split
from ..fields import FIELDS, LIST_FIELDS, named_in
from ..records import (
    MONTHS,
    NORMALISERS,
    StudyRecord,
    TaggedStudy,
)
from . import biblatex_inheritance
from .bibtex_names import AND_OTHERS, encode_name, parse_authors
from .bibtex_values import Macros, entry_fields, strings_library
from .latex import (
    NOTES,
    braced_safely,
    citation_key,
    decode_latex,
    decode_noted,
    decode_title,
    encode,
    encode_title,
    verbatim,
)
from .reading import Draft, Format, Layout, PieceRule, ReadResult, add_keywords, edtf_date, finish

# bibtexparser logs every failed block; this reader reports them itself, with file and key.
logging.getLogger("bibtexparser").setLevel(logging.CRITICAL)

# BibTeX field -> the field table's row (keywords, read as tags too, are read on their own).
NAMED = named_in("bibtex", FIELDS + tuple(f for f in LIST_FIELDS if f.attribute != "keywords"))
# Shapes whose values are text to decode from LaTeX; the others (identifiers, numbers, addresses) are read as
# written, as BibTeX styles print them ("~" and "%" are part of a URL).
DECODED = {"text", "month", "pages", "list"}

_SWALLOWED_FIELD = re.compile(r"(?:^|\n)\s*([A-Za-z][\w-]*)\s*=\s*[{\"\d]")
_ENTRY_KEY = re.compile(r"@\s*\w+\s*[{(]\s*([^,\s{}()]+)\s*,")


def read(text: str, label: str) -> ReadResult:
    """Read BibTeX text; malformed and duplicate entries become LoadErrors, the rest records (with what they
    inherit by crossref and @xdata)."""
    found = drafts(text, label)
    if not biblatex_inheritance.inherits(text):
        return finish(found, label)
    inheriting, errors = biblatex_inheritance.resolve(found, label, read_fields)
    return finish(inheriting, label, errors)


# Where a large file may be cut into pieces (evidence.fast.pieces): at a line that starts a block, which
# bibtexparser reads the same way whatever came before (it starts a new block there, ending one left open);
# each @string block is a piece of its own, read before the pieces after it.
BLOCK_START = re.compile(r"^@\w*[ \t]*[{(]", re.MULTILINE)
PIECES = PieceRule(
    record_start=re.compile(rb"^@(?:\w|[\x80-\xff])*[ \t]*[{(]", re.MULTILINE),  # some a non-ASCII byte makes none
    confirm=lambda start: start.isascii() or bool(BLOCK_START.match(start.decode())),
    apart=lambda start: start[:7].lower() == b"@string",
    following=BLOCK_START,
    context=strings_library,  # the @string definitions, for every piece
    # a @string after other text on its line defines its name for the rest of the text, not for every piece
    whole_if_inline=re.compile(rb"(?i)@string(?:\w|[\x80-\xff])*[ \t]*[{(]"),
    whole_if=biblatex_inheritance.inherits,  # an entry inherits from others: read it with them
)


def drafts(
    text: str, label: str, lines_before: int = 0, own_lines: int | None = None, seed: Library | None = None
) -> list[Draft]:
    """The drafts of the text's blocks, in order (a block that failed to parse is a failed draft). The text
    comes after ``lines_before`` lines of its file; blocks starting past ``own_lines`` are not its own;
    ``seed``: a library whose @string definitions the text can use (it is added to).

    bibtexparser reads the text: with the fast path on, entries of the regular shape are read by
    evidence.fast.bibtex_split instead and only the rest (every @string among it) by bibtexparser, in one
    parse, which also gives the @string macros those entries use."""
    cut = bibtex_split.pieces(text) if fast.ENABLED else [bibtex_split.Piece(0, len(text), 0, None)]
    given = _given_to_bibtexparser(cut)
    seen = set(seed.entries_dict) if seed is not None else set()  # keys of the entries so far
    parsed, macros = _parse_rest(text, cut, given, seed)
    found = []
    for piece, to_bibtexparser in zip(cut, given):
        if to_bibtexparser:
            after_entry = False
            for block, offset in parsed.pop(piece.start, ()):
                line = block.start_line + offset
                if own_lines is not None and line >= own_lines:
                    continue
                if isinstance(block, Entry) or (  # not a @string defined again: see bibtex_values.Macros
                    isinstance(block, ParsingFailedBlock) and not isinstance(block.ignore_error_block, String)
                ):
                    found.append(_block_draft(block, label, lines_before, offset, seen, macros))
                elif after_entry and isinstance(block, ImplicitComment):
                    _note_fields_after_end(found[-1], block.comment, lines_before + line + 1)
                after_entry = type(block) in (Entry, DuplicateFieldKeyBlock)
        elif piece.entry and (own_lines is None or piece.line < own_lines):
            entry = piece.entry
            found.append(
                _draft(
                    entry.key, entry.entry_type, entry.line, entry.raw, entry.fields, label, lines_before, macros, seen
                )
            )
    return found


_FIELDS_AFTER_END = re.compile(r"([A-Za-z][\w-]*)\s*=\s*[{\"\w]")


def _note_fields_after_end(draft: Draft, comment: str, line: int) -> None:
    """A problem for an entry followed by what looks like more of its fields: a closing brace too many in a
    value ended it early, and bibtexparser passes over the rest as a comment."""
    match = _FIELDS_AFTER_END.search(comment)
    if match:
        draft.problems.append(
            (
                line + comment.count("\n", 0, match.start()),
                f"'{match.group(1)} = ...' comes after the end of the entry (a closing brace too many before it?); "
                "the fields from there to the next entry were not read",
            )
        )


def _block_draft(block: Block, label: str, lines_before: int, offset: int, seen: set[str], macros: Macros) -> Draft:
    """The draft of an entry bibtexparser read (a field given twice in it too), a block that failed, or one
    repeating an earlier entry's key (``offset``: what to add to its start_line for its line in the text)."""
    line = lines_before + block.start_line + offset + 1
    if isinstance(block, DuplicateFieldKeyBlock):
        block = block.ignore_error_block
    if isinstance(block, Entry):
        fields = [(f.key, str(f.value), f.start_line + offset, True) for f in block.fields]  # values as written
        return _draft(
            block.key, block.entry_type, block.start_line + offset, block.raw, fields, label, lines_before, macros, seen
        )
    if isinstance(block, DuplicateBlockKeyBlock):
        return _repeated(StudyRecord(block.key, label, line), block.raw)
    match = _ENTRY_KEY.match(block.raw or "")
    key = match.group(1) if match else None
    reason = getattr(block.error, "abort_reason", None) or str(block.error) or type(block.error).__name__
    return Draft(
        StudyRecord(key or "", label, line),
        key,
        block.raw or "",
        failure=f"malformed entry: {' '.join(reason.split())}",
        makes_key=False,
    )


def _repeated(record: StudyRecord, raw: str) -> Draft:
    """The draft of an entry repeating an earlier one's key, not read (``finish`` reports the repeated key)."""
    return Draft(record, record.key, raw, failure="not read: its key was used before")


def _given_to_bibtexparser(pieces: list[bibtex_split.Piece]) -> list[bool]:
    """Which pieces bibtexparser reads: those not read by bibtex_split, and the piece after each run of
    them, so that a block they leave open ends at the same block start as in the whole text."""
    given, after_unread = [], False
    for piece in pieces:
        unread = piece.entry is None and not piece.blank
        given.append(unread or after_unread)
        after_unread = unread
    return given


def _parse_rest(
    text: str, pieces: list[bibtex_split.Piece], given: list[bool], seed: Library | None
) -> tuple[dict[int, list[tuple[Block, int]]], Macros]:
    """bibtexparser's reading of the pieces given to it, as one text (with ``seed``), values as written: the
    blocks of each run of them, by where the run starts, each with what to add to its start_line to get its
    line in ``text``; and the macros of the @string definitions (in ``seed`` too)."""
    runs: list[tuple[int, int, int]] = []  # start, end, line
    for piece, to_bibtexparser in zip(pieces, given):
        if not to_bibtexparser:
            continue
        if runs and runs[-1][1] == piece.start:
            runs[-1] = (runs[-1][0], piece.end, runs[-1][2])
        else:
            runs.append((piece.start, piece.end, piece.line))
    if not runs:
        return {}, Macros(seed)
    known = len(seed.blocks) if seed is not None else 0
    library = bibtexparser.parse_string(
        "".join(text[start:end] for start, end, _ in runs), parse_stack=[], library=seed
    )
    parsed: dict[int, list[tuple[Block, int]]] = {}
    starts, offsets = [], []  # line of each run in the parsed text, and in text
    line = 0
    for start, end, text_line in runs:
        starts.append(line)
        offsets.append(text_line - line)
        line += text.count("\n", start, end)
    for block in library.blocks[known:]:
        run = bisect_right(starts, block.start_line) - 1
        parsed.setdefault(runs[run][0], []).append((block, offsets[run]))
    return parsed, Macros(library)


def _draft(
    key: str,
    entry_type: str,
    line: int,
    raw: str,
    fields: list[tuple[str, str, int, bool]],
    label: str,
    lines_before: int,
    macros: Macros,
    seen: set[str],
) -> Draft:
    """The draft of one entry from its fields, (name, value, line, as written) as bibtex_split gives them (lines
    0-based after ``lines_before`` lines; a value as written, such as a bare word, is resolved with ``macros``),
    read as biber reads them (see bibtex_values); a field that cannot be read is a problem, and left empty.
    Fields the field table names are read by their shape; the rest kept raw in ``extra``. An entry repeating
    the key of one in ``seen`` is not read: ``finish`` rejects it."""
    if key in seen:
        return _repeated(StudyRecord(key, label, lines_before + line + 1), raw)
    seen.add(key)
    record = StudyRecord(key=key, source_file=label, source_line=lines_before + line + 1, entry_type=entry_type.lower())
    draft = Draft(record, key, raw)
    draft.fields = [
        (name, value, lines_before + field_line)
        for name, value, field_line in entry_fields(
            fields, macros, lambda field_line, message: draft.problems.append((lines_before + field_line + 1, message))
        )
    ]
    read_fields(record, draft.fields, problem=lambda line, message: draft.problems.append((line + 1, message)))
    return draft


def read_fields(record: StudyRecord, fields: list[tuple[str, str, int]], problem) -> None:
    """Fields (name, value, 0-based line) read into the record; a field that cannot be read is a ``problem``
    (line, message), and left empty."""
    lines = {}
    for name, value, field_line in fields:
        NOTES.clear()
        _read_field(record, name, value, field_line, problem)
        for note in dict.fromkeys(NOTES):
            problem(field_line, f"field '{name}': {note}")
        lines[name] = field_line
    if "date" in lines:  # after every field: biblatex takes the date over year and month, wherever they are
        _read_date_field(record, decode_latex(record.extra["date"]), lines["date"], problem)
    if "urldate" in lines:
        _read_date_field(record, record.extra["urldate"], lines["urldate"], problem, "urldate")
    if "eprint" in lines:
        _read_eprint(record, lines["eprint"], problem)


# biblatex's eprinttype of an identifier the record has a field for -> the field's shape and attribute
# (an arXiv or other eprint stays in ``extra`` with its type, as written).
EPRINT_TYPES = {"pubmed": "pmid", "pmid": "pmid", "pmc": "pmcid", "pmcid": "pmcid", "doi": "doi"}


def _read_eprint(record: StudyRecord, field_line: int, problem) -> None:
    """biblatex's ``eprint`` (kept in ``extra``) of a PubMed, PMC or DOI ``eprinttype`` as the PMID, PMCID or
    DOI, unless the entry gives that field too."""
    attribute = EPRINT_TYPES.get(record.extra.get("eprinttype", "").strip().lower())
    if attribute and not getattr(record, attribute):
        try:
            setattr(record, attribute, NORMALISERS[attribute](record.extra["eprint"]))
        except ValueError as exc:
            problem(field_line, f"field 'eprint': {exc}; not read as a {attribute}")


def _read_date_field(record: StudyRecord, value: str, field_line: int, problem, name: str = "date") -> None:
    """biblatex's ``date`` (kept as written in ``extra``): its year and month are the record's, as biblatex
    takes them over ``year`` and ``month``; an invalid date is a problem and changes nothing. Another date
    field (``urldate``) is only checked."""
    try:
        year, month = edtf_date(value)
    except ValueError as exc:
        problem(
            field_line,
            f"field '{name}': {exc}; " + ("year and month not taken from it" if name == "date" else "kept as written"),
        )
        return
    if name != "date":
        return
    record.year = year
    record.month = month or record.month


def _read_field(record: StudyRecord, name: str, value: str, field_line: int, problem):
    """One field's value read into the record by its shape (a problem reported with ``problem``)."""
    swallowed = "=" in value and _SWALLOWED_FIELD.search(value)
    if swallowed:
        problem(
            field_line,
            f"field '{name}' contains '{swallowed.group(1)} = ...': "
            "probably a missing comma before it; the value was kept as written",
        )
    if name == "author":
        record.authors = parse_authors(value)
        record.more_authors = "others" in value and bool(AND_OTHERS.search(value))
    elif name == "keywords":
        add_keywords(record, re.split(r"[,;]", decode_latex(value)), f"{record.source_file}:{field_line + 1}")
    elif name == "title":
        title, record.title_nocase = decode_title(value)
        record.title = title or None
    elif name in NAMED:
        field = NAMED[name]
        try:
            decoded = decode_latex(value) if field.shape in DECODED else value
            setattr(record, field.attribute, NORMALISERS[field.shape](decoded))
        except ValueError as exc:
            problem(field_line, f"field '{name}': {exc}; left empty")
    else:
        record.extra[name] = value


# Writing

# The table's fields with a BibTeX name, in the order they are written: (attribute, name, shape).
_WRITTEN = [(f.attribute, f.bibtex, f.shape) for f in FIELDS if f.bibtex]
# Shapes written as they are: identifiers and numbers, which styles print verbatim.
VERBATIM = {"verbatim", "year", "count", "doi", "pmid", "pmcid"}
_LISTS_WRITTEN = [(f.bibtex, f.attribute) for f in LIST_FIELDS if f.bibtex and f.attribute != "keywords"]
_field_values = attrgetter(*(attribute for attribute, _, _ in _WRITTEN))  # all at once: faster than one by one
_ENTRY_TYPE = re.compile(r"[A-Za-z]+")
_FIELD_NAME = re.compile(r"[A-Za-z][\w:.+-]*")
_PAGE_RANGE = re.compile(r"^[A-Za-z]?\d+-[A-Za-z]?\d+$")  # as records.normalise_pages leaves a range


def entry(study: TaggedStudy) -> str:
    """One study as a BibTeX entry."""
    r: StudyRecord = study.record
    entry_type = r.entry_type if _ENTRY_TYPE.fullmatch(r.entry_type or "") else "misc"
    lines = [f"@{entry_type}{{{citation_key(r.key)},\n"]  # then one line per field: name = value as written
    if r.authors:
        written = [name for name in map(encode_name, r.authors) if name]
        if r.more_authors:
            written.append("others")
        lines.append(f"  author = {{{' and '.join(written)}}},\n")
    if r.title:
        lines.append(f"  title = {{{encode_title(r.title, r.title_nocase)}}},\n")
    for (_, name, shape), value in zip(_WRITTEN, _field_values(r)):
        if value is None or value == "":
            continue
        if shape in VERBATIM:
            lines.append(f"  {name} = {{{verbatim(str(value))}}},\n")
        elif shape == "month" and value in MONTHS:
            lines.append(f"  {name} = {value},\n")  # the standard macro, as BibTeX styles expect
        elif shape == "pages" and _PAGE_RANGE.match(value):
            lines.append(f"  {name} = {{{value.replace('-', '--')}}},\n")
        else:
            lines.append(f"  {name} = {{{encode(value)}}},\n")
    for name, attribute in _LISTS_WRITTEN:
        values = getattr(r, attribute)
        if values:
            lines.append(f"  {name} = {{{'; '.join([encode(v) for v in values])}}},\n")
    keywords = study.keywords()
    if keywords:
        lines.append(f"  keywords = {{{', '.join([encode(k) for k in keywords])}}},\n")
    if r.extra:
        lines += [
            f"  {name} = {_raw(value)},\n" for name, value in sorted(r.extra.items()) if _FIELD_NAME.fullmatch(name)
        ]
    lines.append("}\n")
    return "".join(lines)


def _raw(value: str) -> str:
    """A field kept as read (booktitle, publisher, ...), written as read where it reads back as one value."""
    if not braced_safely(value):
        return "{" + encode(decode_noted(value)[0]) + "}"
    return "{" + value + "}"


FORMAT = Format(
    "bibtex",
    "BibTeX",
    suffixes=(".bib", ".bibtex"),
    signature=re.compile(r"^[ \t]*@[A-Za-z]\w*[ \t]*[{(]", re.MULTILINE),
    read=read,
    drafts=drafts,
    pieces=PIECES,
    entry=entry,
    layout=Layout(),
    extension="bib",
    media_type="application/x-bibtex",
)
