"""Large files read in pieces straight from disk: a file is scanned in bytes for the lines where its records
start, cut at some of them into pieces of about PIECE bytes, and each piece is read back as text (in a worker)
with the number of lines before it, so that line numbers stay those of the whole file."""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..formats.reading import Draft, Format, ReadResult, checked, finish
from ..formats.reading import read_file as plain_read_file
from . import parallel
from .spool import Spool

# Files from this size are read in pieces of about PIECE bytes.
PARALLEL_FROM = 2_000_000
PIECE = 1_000_000
SCAN = 1 << 22  # bytes of a file scanned at once


@dataclass
class Piece:
    """A run of whole records, from a record start at the beginning of a line to the next piece's."""

    start: int
    end: int
    lines_before: int
    lines: int  # lines starting in it (a last one without a newline too): records starting later are the next's
    apart: bool = False  # a record kept in a piece of its own (BibTeX's @string)

    def read(self, path: Path, following: re.Pattern[str] | None = None) -> str:
        """The piece's text, from a UTF-8 file whose offsets are in bytes; with ``following``, what that
        pattern matches at the start of the next piece is added."""
        with open(path, "rb") as file:
            file.seek(self.start)
            text = file.read(self.end - self.start).decode()
            start = following.match(file.readline().decode()) if following else None
        return text + (start.group(0) if start else "")


def scan(
    path: Path,
    starts: re.Pattern[bytes],
    confirm: Callable[[bytes], bool] = lambda start: True,
    apart: Callable[[bytes], bool] = lambda start: False,
    whole_if_inline: re.Pattern[bytes] | None = None,
    whole_if: Callable[[bytes], bool] | None = None,
) -> tuple[list[Piece], bool] | None:
    """A file's pieces and whether it has any text, reading SCAN bytes at a time. ``starts`` finds the record
    starts (at line starts), ``confirm`` says whether a match is one, ``apart`` whether a record (given its
    first bytes) is a piece of its own. None for a file to read as text instead: one that is not UTF-8, starts
    with a byte-order mark, ends lines with a lone carriage return (whose lines are not counted here), has
    a match of ``whole_if_inline`` after other text on its line, or lines that ``whole_if`` is true of."""
    found: list[int] = []
    line_at = {0: 0}  # offset of each record start -> lines before it
    alone: set[int] = set()
    offset = lines = 0
    has_text = False
    rest = before = b""
    with open(path, "rb") as file:
        while True:
            data = file.read(SCAN)
            chunk = rest + data
            if offset == 0 and chunk.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                return None
            cut = chunk.rfind(b"\n") + 1 if data else len(chunk)  # whole lines: a character is never cut
            chunk, rest = chunk[:cut], chunk[cut:]
            if chunk.count(b"\r") != chunk.count(b"\r\n"):
                return None
            try:
                text = chunk.decode()  # every chunk: a byte that is not UTF-8 may come late in the file
            except UnicodeDecodeError:
                return None
            has_text = has_text or bool(text.strip())
            if whole_if and whole_if(chunk):  # whole lines: a word is never cut between two chunks
                return None
            seen = before + chunk  # with 4 bytes before the chunk, for a pattern that looks behind
            if whole_if_inline and any(
                match.start() > 0 and seen[match.start() - 1 : match.start()] != b"\n"
                for match in whole_if_inline.finditer(seen, len(before))
            ):
                return None
            at = len(before)
            for match in starts.finditer(seen, len(before)):
                if not confirm(match.group(0)):
                    continue
                lines += seen.count(b"\n", at, match.start())
                at = match.start()
                found.append(offset + at - len(before))
                line_at[found[-1]] = lines
                if apart(seen[at : at + 16]):
                    alone.add(found[-1])
            lines += seen.count(b"\n", at)
            offset += len(chunk)
            before = seen[-4:]
            if not data:
                break
    line_at[offset] = lines + (offset > 0 and not before.endswith(b"\n"))  # a last line without a newline
    return cut_pieces(found, offset, lambda start, end: line_at[end] - line_at[start], alone.__contains__), has_text


def cut_pieces(
    starts: list[int],
    length: int,
    lines_between: Callable[[int, int], int],
    is_apart: Callable[[int], bool] = lambda start: False,
) -> list[Piece]:
    """Pieces of about PIECE from record starts (and a text's length): cut only where a record starts, each
    record ``is_apart`` a piece of its own; ``lines_between`` two of those offsets (or 0, or the length). What
    comes before the first record start goes with the first piece."""
    pieces: list[Piece] = []
    start = lines_before = 0

    def cut(end: int, alone: bool = False) -> None:
        nonlocal start, lines_before
        lines = lines_between(start, end)
        pieces.append(Piece(start, end, lines_before, lines, alone))
        start, lines_before = end, lines_before + lines

    for record, end in zip(starts, starts[1:] + [length]):
        if is_apart(record):
            if record > start:
                cut(record)
            cut(end, alone=True)
        elif end - start >= PIECE:
            cut(end)
    if start < length:
        cut(length)
    return pieces


def read_file(
    path: Path, label: str, format: str | None = None, encoding: str | None = None, spool: Spool | None = None
) -> ReadResult:
    """``formats.read_file``, each record given to ``spool`` (the result holds what it gives back). With the fast
    path on, a large UTF-8 file of a format that can be cut (formats.PieceRule) is read in pieces straight from
    disk, in the worker processes, and never held whole: the same result as reading its text."""
    from .. import fast
    from ..formats import FORMATS, detect

    if fast.ENABLED and spool is not None and encoding is None and path.stat().st_size >= PARALLEL_FROM:
        with open(path, "rb") as file:
            head = file.read(SCAN).decode("utf-8", "ignore")
        found = FORMATS.get(format) if format else detect(path, head)
        read = read_in_pieces(path, label, found, spool) if found and found.pieces else None
        if read is not None:
            return checked(read[0], read[1], found.name, label)
    result = plain_read_file(path, label, format, encoding)
    if spool is not None:
        result.records = [spool(record) for record in result.records]
    return result


def read_files(
    files: list[tuple[Path, str, str | None]], encoding: str | None, spool: Spool | None
) -> Iterator[ReadResult]:
    """``read_file`` of each (path, label, format), in order. With the fast path on, when the files hold
    PARALLEL_FROM bytes together, those smaller than that are read in the workers, each whole and at once with
    the others, while the large ones are read in pieces."""
    from .. import fast

    sizes = [path.stat().st_size for path, _, _ in files]
    if not (fast.ENABLED and spool is not None and len(files) > 1 and sum(sizes) >= PARALLEL_FROM):
        yield from (read_file(path, label, format, encoding, spool) for path, label, format in files)
        return
    small = [
        (path, label, format, encoding, spool)
        for (path, label, format), size in zip(files, sizes)
        if size < PARALLEL_FROM
    ]
    read_elsewhere = iter(parallel.map_batches(_read_whole, small))
    for (path, label, format), size in zip(files, sizes):
        yield next(read_elsewhere) if size < PARALLEL_FROM else read_file(path, label, format, encoding, spool)


def _read_whole(work: tuple[Path, str, str | None, str | None, Spool]) -> ReadResult:
    """In a worker: ``read_file`` of a file smaller than PARALLEL_FROM, its records given to the spool there."""
    path, label, format, encoding, spool = work
    result = read_file(path, label, format, encoding, spool)
    spool.close()
    return result


def read_in_pieces(path: Path, label: str, fmt: Format, spool: Spool) -> tuple[ReadResult, bool] | None:
    """Read a file in pieces (each in a worker, its loadable records given to ``spool`` there), keys settled over
    the whole file here once every piece is read; also whether it has any text. None for a file to read as text:
    one that is not plain UTF-8, or of one piece."""
    rule = fmt.pieces
    scanned = scan(path, rule.record_start, rule.confirm, rule.apart, rule.whole_if_inline, rule.whole_if)
    if scanned is None or len(scanned[0]) < 2:
        return None
    cut, has_text = scanned
    strings = "".join(piece.read(path) for piece in cut if piece.apart)
    seed = rule.context("") if rule.context else None  # the pieces apart, read here in turn
    elsewhere = iter(
        parallel.map_batches(
            _piece_drafts, ((fmt.name, path, piece, label, strings, spool) for piece in cut if not piece.apart)
        )
    )
    drafts: list[Draft] = []
    given: set[str] = set()  # the keys of the entries so far
    for piece in cut:
        found = _spooled(_drafts(fmt, path, piece, label, seed), spool) if piece.apart else next(elsewhere)
        drafts += _with_repeats_text(
            found, given, lambda: _drafts(fmt, path, piece, label, rule.context(strings) if rule.context else None)
        )
    return finish(drafts, label), has_text


def _drafts(fmt: Format, path: Path, piece: Piece, label: str, seed: object) -> list[Draft]:
    """The drafts of one piece of a file, read with what its format adds from the following piece and the
    context of the pieces apart (``seed``)."""
    text = piece.read(path, fmt.pieces.following)
    if fmt.pieces.following is None:
        return fmt.drafts(text, label, piece.lines_before) or []
    return fmt.drafts(text, label, piece.lines_before, piece.lines, seed)


def _piece_drafts(work: tuple[str, Path, Piece, str, str, Spool]) -> list[Draft]:
    """In a worker: the drafts of one piece, each loadable record given to the spool and replaced by what
    settling its key needs."""
    from ..formats import FORMATS

    name, path, piece, label, strings, spool = work
    fmt = FORMATS[name]
    found = _spooled(
        _drafts(fmt, path, piece, label, fmt.pieces.context(strings) if fmt.pieces.context else None), spool
    )
    spool.close()
    return found


def _spooled(drafts: list[Draft], spool: Spool) -> list[Draft]:
    """The drafts, each loadable one's record given to the spool."""
    for draft in drafts:
        if draft.failure is None:
            draft.spool(spool)
    return drafts


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
