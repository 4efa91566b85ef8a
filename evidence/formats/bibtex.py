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
from bibtexparser.model import Block, DuplicateBlockKeyBlock, Entry, ImplicitComment, ParsingFailedBlock

from .. import fast
from ..fast import bibtex_split
from ..fields import FIELDS, LIST_FIELDS, named_in
from ..records import (
    MONTHS,
    NORMALISERS,
    StudyRecord,
    TaggedStudy,
)
from .bibtex_names import AND_OTHERS, encode_name, parse_authors
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
    """Read BibTeX text; malformed and duplicate entries become LoadErrors, the rest records."""
    return finish(drafts(text, label), label)


# Where a large file may be cut into pieces (evidence.fast.pieces): at a line that starts a block, which
# bibtexparser reads the same way whatever came before (it starts a new block there, ending one left open);
# each @string block is a piece of its own, read before the pieces after it.
BLOCK_START = re.compile(r"^@\w*[ \t]*[{(]", re.MULTILINE)
PIECES = PieceRule(
    record_start=re.compile(rb"^@(?:\w|[\x80-\xff])*[ \t]*[{(]", re.MULTILINE),  # some a non-ASCII byte makes none
    confirm=lambda start: start.isascii() or bool(BLOCK_START.match(start.decode())),
    apart=lambda start: start[:7].lower() == b"@string",
    following=BLOCK_START,
    context=lambda strings: bibtexparser.parse_string(strings),  # the @string definitions, for every piece
    # a @string after other text on its line defines its name for the rest of the text, not for every piece
    whole_if_inline=re.compile(rb"(?i)@string(?:\w|[\x80-\xff])*[ \t]*[{(]"),
)


def drafts(
    text: str, label: str, lines_before: int = 0, own_lines: int | None = None, seed: Library | None = None
) -> list[Draft]:
    """The drafts of the text's blocks, in order (a block that failed to parse is a failed draft). The text
    comes after ``lines_before`` lines of its file; blocks starting past ``own_lines`` are not its own;
    ``seed``: a library whose @string definitions the text can use (it is added to).

    bibtexparser reads the text: with the fast path on, entries of the regular shape are read by
    evidence.fast.bibtex_split instead and only the rest (every @string among it) by bibtexparser, in one
    parse, which also gives the values of the @string names those entries use."""
    cut = bibtex_split.pieces(text) if fast.ENABLED else [bibtex_split.Piece(0, len(text), 0, None)]
    given = _given_to_bibtexparser(cut)
    bare_words = list(
        dict.fromkeys(
            value
            for piece, to_bibtexparser in zip(cut, given)
            if not to_bibtexparser and piece.entry
            for _, value, _, bare in piece.entry.fields
            if bare
        )
    )
    seen = set(seed.entries_dict) if seed is not None else set()  # keys of the entries so far
    parsed, words = _parse_rest(text, cut, given, bare_words, seed)
    found = []
    for piece, to_bibtexparser in zip(cut, given):
        if to_bibtexparser:
            after_entry = False
            for block, offset in parsed.pop(piece.start, ()):
                line = block.start_line + offset
                if own_lines is not None and line >= own_lines:
                    continue
                if isinstance(block, (Entry, DuplicateBlockKeyBlock, ParsingFailedBlock)):
                    found.append(_block_draft(block, label, lines_before, offset, seen))
                elif after_entry and isinstance(block, ImplicitComment):
                    _note_fields_after_end(found[-1], block.comment, lines_before + line + 1)
                after_entry = type(block) is Entry
        elif piece.entry and (own_lines is None or piece.line < own_lines):
            entry = piece.entry
            found.append(
                _draft(
                    entry.key, entry.entry_type, entry.line, entry.raw, entry.fields, label, lines_before, words, seen
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


_MACRO_NAME = re.compile(r"[A-Za-z_][\w.:+/-]*")


def _note_undefined(draft: Draft, name: str, word: str, line: int) -> None:
    """A problem for a bare word that no @string defines (or one defined by itself): BibTeX would stop there,
    bibtexparser keeps the word. The month macros (jan, feb, ...) and numbers are words every style knows."""
    if word.isdigit() or word.lower() in MONTHS:
        return
    draft.problems.append(
        (line, f"field '{name.lower()}': no @string defines '{word}' (or it is defined by itself); the name was kept")
    )


def _block_draft(block: Block, label: str, lines_before: int, offset: int, seen: set[str]) -> Draft:
    """The draft of an entry bibtexparser read, a block that failed, or one repeating an earlier entry's key
    (``offset``: what to add to its start_line for its line in the text)."""
    line = lines_before + block.start_line + offset + 1
    if isinstance(block, Entry):
        fields = [
            (f.key, f.value if isinstance(f.value, str) else str(f.value), f.start_line + offset, False)
            for f in block.fields
        ]
        draft = _draft(
            block.key, block.entry_type, block.start_line + offset, block.raw, fields, label, lines_before, {}, seen
        )
        for name, value, field_line, _ in fields:
            if _MACRO_NAME.fullmatch(value) and re.search(
                rf"{re.escape(name)}\s*=\s*{re.escape(value)}\s*[,)}}]", block.raw
            ):
                _note_undefined(draft, name, value, lines_before + field_line + 1)
        return draft
    if isinstance(block, DuplicateBlockKeyBlock):
        return Draft(StudyRecord(block.key, label, line), block.key, block.raw)
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


def _parse_rest(
    text: str, pieces: list[bibtex_split.Piece], given: list[bool], words: list[str], seed: Library | None
) -> tuple[dict[int, list[tuple[Block, int]]], dict[str, str]]:
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
    head = (
        "".join(["@misc{", _WORDS_KEY, ",\n"] + [f"w{i} = {word},\n" for i, word in enumerate(words)] + ["}\n"])
        if words
        else ""
    )
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


def _draft(
    key: str,
    entry_type: str,
    line: int,
    raw: str,
    fields: list[tuple[str, str, int, bool]],
    label: str,
    lines_before: int,
    words: dict[str, str],
    seen: set[str],
) -> Draft:
    """The draft of one entry from its fields, (name, value, line, bare) as bibtex_split gives them (lines
    0-based after ``lines_before`` lines; a bare word's value is in ``words``); a field that cannot be read is
    a problem, and left empty. Fields the field table names are read by their shape; the rest kept raw in
    ``extra``. An entry repeating the key of one in ``seen`` is not read: ``finish`` rejects it."""
    if key in seen:
        return Draft(StudyRecord(key, label, lines_before + line + 1), key, raw)
    seen.add(key)
    record = StudyRecord(key=key, source_file=label, source_line=lines_before + line + 1, entry_type=entry_type.lower())
    draft = Draft(record, key, raw)

    def problem(field_line: int, message: str) -> None:
        draft.problems.append((lines_before + field_line + 1, message))

    dated = None
    for name, value, field_line, bare in fields:
        if bare:
            if words[value] == value:
                _note_undefined(draft, name, value, lines_before + field_line + 1)
            value = words[value]
        name = name.lower()
        NOTES.clear()
        _read_field(record, name, value, field_line, label, lines_before, problem)
        for note in dict.fromkeys(NOTES):
            problem(field_line, f"field '{name}': {note}")
        if name == "date":
            dated = (decode_latex(value), field_line)
    if dated:  # after every field: biblatex takes the date over year and month, wherever they are
        _read_date_field(record, *dated, problem)
    return draft


def _read_date_field(record: StudyRecord, value: str, field_line: int, problem) -> None:
    """biblatex's ``date`` (kept as written in ``extra``): its year and month are the record's, as biblatex
    takes them over ``year`` and ``month``; an invalid date is a problem and changes nothing."""
    try:
        year, month = edtf_date(value)
    except ValueError as exc:
        problem(field_line, f"field 'date': {exc}; year and month not taken from it")
        return
    record.year = year
    record.month = month or record.month


def _read_field(record: StudyRecord, name: str, value: str, field_line: int, label: str, lines_before: int, problem):
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
        add_keywords(record, re.split(r"[,;]", decode_latex(value)), f"{label}:{lines_before + field_line + 1}")
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
    lines.append(f"  title = {{{encode_title(r.title or '', r.title_nocase)}}},\n")
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
    return value if _is_concatenation(value) else "{" + value + "}"


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


FORMAT = Format(
    "bibtex",
    "BibTeX",
    suffixes=(".bib", ".bibtex"),
    looks_like=lambda text: bool(BLOCK_START.search(text)),
    read=read,
    drafts=drafts,
    pieces=PIECES,
    entry=entry,
    layout=Layout(),
    extension="bib",
    media_type="application/x-bibtex",
)
