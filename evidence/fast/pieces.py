"""Large files read in pieces straight from disk: a file is scanned in bytes for the lines where its records
start, cut at some of them into pieces of about PIECE bytes, and each piece is read back as text (in a worker)
with the number of lines before it, so that line numbers stay those of the whole file."""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

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
    lines: int  # lines of its own: records starting later are the following piece's
    apart: bool = False  # a record kept in a piece of its own (BibTeX's @string)

    def read(self, path: Path, following: re.Pattern[str] | None = None) -> str:
        """The piece's text, from a UTF-8 file whose offsets are in bytes; with ``following``, what that
        pattern matches at the start of the next piece is added."""
        with open(path, "rb") as file:
            file.seek(self.start)
            text = file.read(self.end - self.start).decode()
            start = following.match(file.readline().decode()) if following else None
        return text + (start.group(0) if start else "")


def scan(path: Path, starts: re.Pattern[bytes], confirm: Callable[[bytes], bool] = lambda start: True,
         apart: Callable[[bytes], bool] = lambda start: False) -> tuple[list[Piece], bool] | None:
    """A file's pieces and whether it has any text, reading SCAN bytes at a time. ``starts`` finds the record
    starts (at line starts), ``confirm`` says whether a match is one, ``apart`` whether a record (given its
    first bytes) is a piece of its own. None for a file to read as text instead: one that is not UTF-8, starts
    with a byte-order mark, or ends lines with a lone carriage return (whose lines are not counted here)."""
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
            seen = before + chunk  # with 4 bytes before the chunk, for a pattern that looks behind
            at = len(before)
            for match in starts.finditer(seen, len(before)):
                if not confirm(match.group(0)):
                    continue
                lines += seen.count(b"\n", at, match.start())
                at = match.start()
                found.append(offset + at - len(before))
                line_at[found[-1]] = lines
                if apart(seen[at:at + 16]):
                    alone.add(found[-1])
            lines += seen.count(b"\n", at)
            offset += len(chunk)
            before = seen[-4:]
            if not data:
                break
    line_at[offset] = lines
    return cut_pieces(found, offset, lambda start, end: line_at[end] - line_at[start], alone.__contains__), has_text


def cut_pieces(starts: list[int], length: int, lines_between: Callable[[int, int], int],
               is_apart: Callable[[int], bool] = lambda start: False) -> list[Piece]:
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
