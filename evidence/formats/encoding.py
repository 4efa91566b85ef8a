"""How a file's bytes become text: a byte-order mark, else the ``--encoding`` given, else UTF-8, else the
encoding the file's first lines declare, else the one charset-normalizer finds, with a warning that shows the
characters it gave. Binary files (PDF, Word, ZIP, images) are refused by their first bytes."""

from __future__ import annotations

import codecs
import re

from ..records import LoadError

# What a file that is not UTF-8 is read as when it declares nothing and cp1252 reads it as cleanly as what
# charset-normalizer prefers (a short Latin text fits many 8-bit encodings equally well), or when
# charset-normalizer finds nothing: the Windows encoding of EndNote, Excel and older Zotero exports.
LEGACY_ENCODING = "cp1252"

# A file that is not UTF-8 and has a NUL byte this near its start is a binary one (an image, a PDF, a
# spreadsheet), not text in another encoding: text formats start with a tag or an entry.
BINARY_START = 32

# The first bytes of files that are documents or archives, not bibliographies.
MAGIC = {
    b"%PDF-": "a PDF document",
    b"PK\x03\x04": "a ZIP archive (a .docx, .xlsx or .odt file is one)",
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1": "a Microsoft Office document (.doc, .xls)",
    b"{\\rtf": "an RTF document",
    b"\x1f\x8b": "a gzip archive",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
}

# An encoding declared in the first lines, in a comment: Emacs's "-*- coding: latin-9 -*-", TeX's
# "% !TeX encoding = ISO-8859-1", JabRef's "% Encoding: Cp1252", "% coding: utf-8".
_DECLARED = re.compile(
    rb"^[ \t]*(?:%|#|@comment\b|.*-\*-).*?\b(?:en)?coding[ \t]*[:=][ \t]*([A-Za-z0-9][-\w.:]*)",
    re.IGNORECASE | re.MULTILINE,
)
DECLARED_WITHIN = 5  # lines


def codec_name(name: str) -> str | None:
    """Python's name for a text encoding as a user or a file names it ("latin-9", "Cp1252", "UTF8", "gbk"),
    or None if Python has no such text encoding."""
    for spelling in (name, re.sub(r"[-_ ]", "", name)):
        try:
            b"ab".decode(spelling, "replace")
            return codecs.lookup(spelling).name
        except (LookupError, UnicodeError):
            continue
    return None


def declared_encoding(data: bytes) -> str | None:
    """The encoding a file's first lines declare (as written), or None."""
    match = _DECLARED.search(b"\n".join(data[:1024].splitlines()[:DECLARED_WITHIN]))
    return match.group(1).decode("ascii").rstrip("-.:") if match else None


def binary_kind(data: bytes) -> str | None:
    """What a file is when its first bytes show a document or archive format ("a PDF document"), else None."""
    return next((kind for magic, kind in MAGIC.items() if data.startswith(magic)), None)


def decode(data: bytes, label: str, encoding: str | None = None) -> tuple[str | None, list[LoadError]]:
    """A file's text: as its byte-order mark says (UTF-8, UTF-16), else in the ``encoding`` given, else UTF-8,
    else as its first lines declare, else as charset-normalizer finds (cp1252 where that reads it as cleanly),
    with a warning that shows which characters that gave. None, with an error, for a binary file."""
    kind = binary_kind(data)
    if kind:
        message = f"{kind}, not a bibliography; export the references as RIS, BibTeX or plain text; nothing was read"
        return None, [LoadError(label, None, None, message)]
    for bom, name in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if data.startswith(bom):  # a byte-order mark says what the file is, whatever --encoding says
            return _without_nul(*_decode_marked(data, len(bom), name, label), label)
    if encoding:
        try:
            return _without_nul(data.decode(codec_name(encoding) or encoding), [], label)
        except (UnicodeDecodeError, LookupError) as exc:
            return None, [LoadError(label, None, None, f"cannot be read as {encoding}: {exc}")]
    utf16 = _utf16_without_mark(data)
    if utf16:
        return None, [
            LoadError(
                label,
                None,
                None,
                f"looks like UTF-16 ({utf16}) without a byte-order mark: every other byte is 0; save it as UTF-8, "
                f"or give --encoding {utf16}",
            )
        ]
    text, errors = _decode_unmarked(data, label)
    return _without_nul(text, errors, label) if text is not None else (None, errors)


def _decode_marked(data: bytes, mark: int, name: str, label: str) -> tuple[str, list[LoadError]]:
    """A file with a byte-order mark (of ``mark`` bytes) decoded as it says; bytes that do not fit it are
    replaced, with a warning."""
    try:
        return data[mark:].decode(name), []
    except UnicodeDecodeError as exc:
        at = mark + exc.start
        line = data.count(b"\n", 0, at) + 1  # in UTF-16 as well: a 0x0a byte of its own is rare there
        shown, encoding = data[at : at + 4].hex(" "), name.upper()[:6]
        return data[mark:].decode(name, "replace"), [
            LoadError(
                label,
                line,
                None,
                f"starts with a {encoding} byte-order mark, but bytes {shown} at byte {at} are not {encoding} "
                f"({exc.reason}); each such character was replaced by \ufffd",
                severity="warning",
            )
        ]


def _utf16_without_mark(data: bytes) -> str | None:
    """ "utf-16-le" or "utf-16-be" for bytes that look like UTF-16 text (a 0 byte every other byte), else None."""
    sample = data[:4096]
    if len(sample) < 8 or sample.count(0) < len(sample) // 3:
        return None
    if sample[1::2].count(0) > len(sample) // 3:
        return "utf-16-le"
    return "utf-16-be" if sample[0::2].count(0) > len(sample) // 3 else None


def _without_nul(text: str, errors: list[LoadError], label: str) -> tuple[str, list[LoadError]]:
    """The text without NUL characters (never text of a bibliography: binary data, or a broken export), with a
    warning that says where they were."""
    if "\0" not in text:
        return text, errors
    first = text.index("\0")
    line = text.count("\n", 0, first) + 1
    warning = LoadError(
        label,
        line,
        None,
        f"{text.count(chr(0))} NUL bytes (0x00), the first at line {line}: is part of it binary? They were removed",
        severity="warning",
    )
    return text.replace("\0", ""), [*errors, warning]


def _decode_unmarked(data: bytes, label: str) -> tuple[str | None, list[LoadError]]:
    """UTF-8 text, else text in the encoding declared or detected, with a warning that shows which characters
    that gave."""
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError as exc:
        bad_byte = exc.start
        problem = f"not UTF-8 text ({exc.reason} at byte {bad_byte}: {data[bad_byte : bad_byte + 4].hex(' ')})"
    if b"\x00" in data[:BINARY_START]:  # no line: the loader keeps what the file loaded before
        return None, [
            LoadError(
                label,
                None,
                None,
                f"a binary file, not text: {problem}, and a NUL byte at byte {data.index(0)}; nothing was read from it",
            )
        ]
    declared = declared_encoding(data)
    if declared:
        name = codec_name(declared)
        if name is None:
            problem += f"; it declares {declared}, an encoding Python does not know"
        else:
            try:
                return data.decode(name), []
            except UnicodeDecodeError as exc:
                problem += f"; it declares {declared}, but is not ({exc.reason} at byte {exc.start})"
    line = data.count(b"\n", 0, bad_byte) + 1
    name, how = _detected(data)
    try:
        text = data.decode(name)
    except UnicodeDecodeError:  # no line: the loader keeps what the file loaded before
        return None, [
            LoadError(
                label,
                None,
                None,
                f"{problem} at line {line}, nor {LEGACY_ENCODING} nor any encoding charset-normalizer recognises; "
                "give its encoding with --encoding",
            )
        ]
    shown = " ".join(list(dict.fromkeys(re.findall(r"[^\x00-\x7f]", text)))[:30])
    return text, [
        LoadError(
            label,
            line,
            None,
            f"{problem}: read as {name} ({how}), which gives {shown}; if those characters are wrong, give the "
            "file's encoding with --encoding",
            severity="warning",
        )
    ]


# charset-normalizer is given the lines with non-ASCII bytes, from the first DETECT_WITHIN bytes, up to
# DETECT_SAMPLE bytes of them: the evidence, without the time that reading a whole large file takes it.
_NON_ASCII = re.compile(rb"[\x80-\xff]")
DETECT_WITHIN = 16 << 20
DETECT_SAMPLE = 256 << 10


def _non_ascii_lines(data: bytes) -> bytes:
    """The lines of ``data`` that have a non-ASCII byte, each once (see DETECT_WITHIN and DETECT_SAMPLE): a line
    repeated many times would weigh as much as many different ones."""
    lines: dict[bytes, None] = {}
    size = at = 0
    while size < DETECT_SAMPLE and (found := _NON_ASCII.search(data, at, DETECT_WITHIN)):
        start = data.rfind(b"\n", 0, found.start()) + 1
        end = data.find(b"\n", found.start())
        end = len(data) if end < 0 else end
        if data[start:end] not in lines:
            lines[data[start:end]] = None
            size += end - start + 1
        at = end + 1
    return b"\n".join(lines)


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _detected(data: bytes) -> tuple[str, str]:
    """The encoding to read a file that is not UTF-8 in, and how it was chosen: charset-normalizer's choice among
    those that read the whole file, or cp1252 where that reads the bytes as cleanly (or nothing else reads them)."""
    from charset_normalizer import from_bytes  # imported only for a file that needs it

    matches = list(from_bytes(_non_ascii_lines(data)))
    western = next((m for m in matches if LEGACY_ENCODING in m.could_be_from_charset), None)
    if western is not None and western.chaos <= matches[0].chaos and _decodes(data, LEGACY_ENCODING):
        return LEGACY_ENCODING, "detected by charset-normalizer"
    chosen = next((m.encoding for m in matches if _decodes(data, m.encoding)), None)
    if chosen is None:
        return LEGACY_ENCODING, "charset-normalizer found no encoding; the Windows default"
    return chosen, "detected by charset-normalizer"
