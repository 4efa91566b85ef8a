"""LaTeX and Unicode both ways, as BibTeX values hold it: decoding with pylatexenc only where a value has LaTeX,
case-protected spans of titles, and encoding that BibTeX and biber read back to the same text."""

from __future__ import annotations

import hashlib
import logging
import re
from functools import lru_cache

from pylatexenc import latexwalker
from pylatexenc.latex2text import (
    LatexNodes2Text,
    MacroTextSpec,
    SpecialsTextSpec,
    get_default_latex_context_db,
)
from pylatexenc.latexencode import UnicodeToLatexEncoder
from pylatexenc.macrospec import MacroSpec

from .. import fast
from ..fast.latex_text import decode_in_parts
from ..records import StudyRecord

# What pylatexenc reads as more than braces and dashes: commands, math, ties, comments, alignment, quotes ('').
_NEEDS_PYLATEXENC = re.compile(r"[\\$~%&`]")
_latex_macros = get_default_latex_context_db()
# Logo commands and their text; the space after one is kept, as a reader of "\LaTeX and" means it.
LOGOS = {
    "TeX": "TeX",
    "LaTeX": "LaTeX",
    "LaTeXe": "LaTeX2e",
    "BibTeX": "BibTeX",
    "XeTeX": "XeTeX",
    "LuaTeX": "LuaTeX",
    "ConTeXt": "ConTeXt",
    "AmSTeX": "AMS-TeX",
    "AMSTeX": "AMS-TeX",
    "SliTeX": "SliTeX",
    "MF": "Metafont",
    "MP": "MetaPost",
    "TUB": "TUGboat",
    "TUG": "TUG",
    "AMS": "AMS",
    "VAX": "VAX",
}


def _logo(text: str):
    return lambda node, *_: text + node.macro_post_space


# Symbols pylatexenc does not know (it would drop them): their text.
SYMBOLS = {
    "S": "§",
    "textsection": "§",
    "pounds": "£",
    "euro": "€",
    "newline": " ",
    "slash": "/",
    "Dash": "\u2014",
    "hyphen": "-",
    "thinspace": "\u2009",
    "bs": "\\",
    "/": "",  # italic correction
}
# Old font switches ({\tt code}): they change no text.
FONT_SWITCHES = ("tt", "it", "sl", "em", "bf", "rm", "sf", "sc", "SC")
# Commands that only style or box their argument.
FONT_AND_BOX_COMMANDS = (
    "textsf",
    "texttt",
    "textrm",
    "textmd",
    "textup",
    "textsl",
    "textnormal",
    "textbf",
    "textit",
    "textsc",
    "emph",
    "mbox",
    "hbox",
    "text",
    "textsuperscript",
    "textsubscript",
    "sout",
    "uline",
)
_latex_macros.add_context_category(
    "bibtex-specials",
    prepend=True,
    specials=[SpecialsTextSpec("&", "&")],  # "Smith & Jones" as typed, not a table's column break
    macros=[
        MacroTextSpec("textasciicircum", "^"),  # not the modifier letter ˆ
        MacroTextSpec("textbraceleft", "{"),
        MacroTextSpec("textbraceright", "}"),
        # logos, and a thin space (biber prints these; pylatexenc would drop them)
        *(MacroTextSpec(name, _logo(text)) for name, text in LOGOS.items()),
        MacroTextSpec(",", "\u2009"),
        MacroTextSpec("noopsort", discard=True),
        MacroTextSpec("sortnoop", discard=True),
        *(MacroTextSpec(name, text) for name, text in SYMBOLS.items()),
        *(MacroTextSpec(name, "") for name in FONT_SWITCHES),
        MacroTextSpec("mkbibquote", "\u201c%(1)s\u201d"),
        # font and box commands whose argument pylatexenc would drop: their text is kept
        *(MacroTextSpec(name, discard=False) for name in FONT_AND_BOX_COMMANDS),
    ],
)
# Commands whose argument is not text (a length, a sort key): left out with it, without a note.
NOT_TEXT_COMMANDS = {
    "hspace",
    "vspace",
    "hskip",
    "vskip",
    "kern",
    "phantom",
    "hphantom",
    "vphantom",
    "noopsort",
    "sortnoop",
}
# How commands are parsed, built once (pylatexenc builds it for each value otherwise); BibTeX's sort-key
# commands and biblatex's \mkbibquote take an argument, and \href two.
_parsing = latexwalker.get_default_latex_context_db()
_parsing.add_context_category(
    "bibtex-arguments",
    prepend=True,
    macros=[
        MacroSpec("noopsort", "{"),
        MacroSpec("sortnoop", "{"),
        MacroSpec("href", "{{"),
        MacroSpec("mkbibquote", "{"),
    ],
)


class _Decoder(LatexNodes2Text):
    """pylatexenc's LaTeX to text, noting in ``noted`` each command it does not know (left out, its argument
    kept as text) and each it leaves out with an argument that has text."""

    def __init__(self, **options):
        super().__init__(**options)
        self.noted: list[str] = []

    def macro_node_to_text(self, node) -> str:
        spec = self.latex_context.get_macro_spec(node.macroname)
        arguments = [n for n in node.nodeargd.argnlist if n] if node.nodeargd and node.nodeargd.argnlist else []
        if spec is None:
            self.noted.append(f"unknown LaTeX command \\{node.macroname} left out (its argument kept as text)")
            return self.nodelist_to_text(arguments)
        if spec.discard and not spec.simplify_repl and arguments and node.macroname not in NOT_TEXT_COMMANDS:
            dropped = self.nodelist_to_text(arguments).strip()
            if dropped:
                self.noted.append(f"LaTeX command \\{node.macroname} left out with its text '{dropped}'")
        return super().macro_node_to_text(node)


_latex = _Decoder(latex_context=_latex_macros)
logging.getLogger("pylatexenc.latex2text").setLevel(logging.CRITICAL)  # a macro it cannot fill in stays as written


# What decoding found since the list was last emptied (LaTeX that could not be decoded, commands left out): a
# reader empties it before a field and reports each note after it.
NOTES: list[str] = []
UNDECODED = "its LaTeX could not be decoded (nested too deeply?); kept as written"


def decode_latex(value: str) -> str:
    """Unicode text of a BibTeX value, on one line as BibTeX reads it; LaTeX is decoded only where there is some.
    What could not be decoded is noted in ``NOTES`` (a value pylatexenc cannot decode is kept as written)."""
    text, notes = decode_noted(value)
    if notes:
        NOTES.extend(notes)
    return text


def decode_noted(value: str) -> tuple[str, tuple[str, ...]]:
    """``decode_latex``'s text and notes, the notes returned rather than added to ``NOTES``. A value seen
    lately is decoded once: short ones (names, journals, keywords) repeat anywhere, long ones where a string
    macro gives every entry the same text (an address, an acknowledgement)."""
    try:
        return _decode_repeated(value, fast.ENABLED) if len(value) <= 200 else _decode_long(value, fast.ENABLED)
    except Exception:  # pylatexenc on LaTeX nested too deeply (RecursionError, or a TypeError raised from one)
        return " ".join(value.split()), (UNDECODED,)


def _decode(value: str, in_parts: bool = False) -> tuple[str, tuple[str, ...]]:
    """``decode_noted`` of one value; ``in_parts``: its atoms decoded on their own, where that gives the same
    (evidence.fast.latex_text)."""
    # No LaTeX: looking for each character on its own is faster than one pattern for them all.
    if (
        "--" not in value
        and "\\" not in value
        and "{" not in value
        and "}" not in value
        and "$" not in value
        and "~" not in value
    ):
        return " ".join(value.split()), ()
    # Braces and dashes only: what pylatexenc makes of them, faster.
    if "''" not in value and not _NEEDS_PYLATEXENC.search(value):
        return " ".join(
            value.replace("---", "\u2014").replace("--", "\u2013").replace("{", "").replace("}", "").split()
        ), ()
    if in_parts:
        decoded = decode_in_parts(value, _argspec, _decode_atom)
        if decoded is not None:
            return decoded
    _latex.noted = []
    if "%" in value:  # a percent sign, as BibTeX and biber keep it, not a comment to drop
        value = _BARE_PERCENT.sub(r"\1\\%", value)
    return " ".join(_latex.latex_to_text(value, latex_context=_parsing).split()), tuple(dict.fromkeys(_latex.noted))


_decode_repeated = lru_cache(maxsize=65536)(_decode)
_decode_long = lru_cache(maxsize=256)(_decode)


@lru_cache(maxsize=65536)
def _decode_atom(atom: str) -> tuple[str, tuple[str, ...]]:
    """pylatexenc's text of a part of a value (its spaces as they are) and the notes on it."""
    _latex.noted = []
    return _latex.latex_to_text(atom, latex_context=_parsing), tuple(_latex.noted)


@lru_cache(maxsize=4096)
def _argspec(name: str) -> str | None:
    """The arguments pylatexenc's parser gives a command (as in ``{{``: two mandatory ones), "" for none."""
    spec = _parsing.get_macro_spec(name)
    return "" if spec is None else getattr(spec.args_parser, "argspec", None)


_BARE_PERCENT = re.compile(r"(?<!\\)((?:\\\\)*)%")


def extra_text(record: StudyRecord, name: str) -> str | None:
    """The Unicode text of a field the record keeps only raw in ``extra`` (booktitle, publisher, ...)."""
    value = record.extra.get(name)
    return decode_noted(value)[0] or None if value else None  # for a writer: nobody to tell of notes


_COMMAND = re.compile(r"\\([A-Za-z]+|[^A-Za-z\s])\s*$")
# Accent commands: their braced argument is a letter to accent, not text to protect.
_ACCENTS = set("'`^\"~=.") | {"c", "v", "u", "H", "r", "k", "d", "b", "t"}
_OPEN, _CLOSE = "\ue000", "\ue001"  # private-use marks around protected text while decoding


def decode_title(value: str) -> tuple[str, list[tuple[int, int]]]:
    """A raw title's text, and the (start, end) spans of it that braces protect from case changes.

    As in BibTeX: a top-level group ("{MRI}", "{Parkinson}") and the argument of a command
    ("\\textit{E. coli}") keep their case; a special character ("{\\'E}") does not, though groups
    nested inside it do.
    """
    if "{" not in value:
        return decode_latex(value).strip(), []
    text, spans, opened = [], [], 0
    for char in decode_latex(_mark_protected(value)).strip():
        if char == _OPEN:
            opened = len(text)
        elif char == _CLOSE:
            if len(text) > opened:
                spans.append((opened, len(text)))
        else:
            text.append(char)
    return "".join(text), spans


def _mark_protected(value: str) -> str:
    """The value with the text of each protected group between private-use marks (inside its braces,
    so that command arguments stay arguments)."""
    out, i = [], 0
    while True:
        special = _ESCAPE_OR_GROUP.search(value, i)
        if special is None:
            out.append(value[i:])
            return "".join(out)
        at = special.start()
        out.append(value[i:at])
        if value[at] == "\\":
            out.append(value[at : at + 2])
            i = at + 2
            continue
        end = _closing_brace(value, at)
        inner = value[at + 1 : end]
        command = _COMMAND.search(value[:at])
        if command and command.group(1) in _ACCENTS:
            out.append("{" + inner + "}")
        elif inner.startswith("\\") and not command:
            out.append("{" + _mark_protected(inner) + "}")
        else:
            out.append("{" + _OPEN + inner + _CLOSE + "}")
        i = end + 1


_ESCAPE_OR_GROUP = re.compile(r"[\\{]")
_ESCAPE_OR_BRACE = re.compile(r"\\.|[{}]", re.DOTALL)


def _closing_brace(value: str, start: int) -> int:
    """Index of the brace closing the one at ``start`` (the end of the value if it is never closed)."""
    depth = 0
    for token in _ESCAPE_OR_BRACE.finditer(value, start):
        char = token.group()
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return token.start()
    return len(value)


_ASCII_SPECIALS = {
    "\\": r"\textbackslash{}",
    "{": r"\textbraceleft{}",  # not \{, which BibTeX and biber count as a brace: one alone ends the value
    "}": r"\textbraceright{}",
    "$": r"\$",
    "&": r"\&",
    "%": r"\%",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
# Where pylatexenc's choice is read back wrongly: biber and pandoc take {\'\i} as "ı́", not "í".
_OVERRIDES = {"í": r"{\'i}", "ì": r"{\`i}", "î": r"{\^i}", "ï": r"{\"i}", "\u2013": "--", "\u2014": "---"}
# The characters encode looks at: specials, hyphens and quotes (two in a row) and anything not ASCII.
_TO_ENCODE = re.compile(r"[\\{}$&%#_~^\-'`]|[^\x00-\x7f]")
_LINE_BREAK = re.compile(r"[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
_encoder = UnicodeToLatexEncoder(
    non_ascii_only=True, replacement_latex_protection="braces-all", unknown_char_policy="keep"
)
logging.getLogger("pylatexenc.latexencode").setLevel(logging.ERROR)  # characters without LaTeX stay Unicode


def encode(text: str) -> str:
    """LaTeX for Unicode text: specials escaped, accents as ``{\\~a}`` (which BibTeX sorts and
    abbreviates correctly), dashes as ``--``; characters with no LaTeX form stay as UTF-8 for biber."""
    text = _LINE_BREAK.sub(" ", text)  # BibTeX reads a line break as a space; a line starting "@" starts an entry
    # the usual case, found by substring searches (faster than a regex)
    if text.isascii() and "--" not in text and "''" not in text and "``" not in text:
        for char in _ASCII_SPECIALS:
            if char in text:
                break
        else:
            return text
    out = []
    at = 0
    for match in _TO_ENCODE.finditer(text):
        start = match.start()
        if start > at:
            out.append(text[at:start])  # ASCII without specials or hyphens: as it is
        at = start + 1
        char = text[start]
        if char in _ASCII_SPECIALS:
            out.append(_ASCII_SPECIALS[char])
        elif char in "-'`":  # two typed hyphens are not an en dash, nor two quotes a double quote
            out.append("{}" + char if out and out[-1].endswith(char) else char)
        elif char in _OVERRIDES:
            out.append(_OVERRIDES[char])
        else:
            out.append(_latex_for(char))
    out.append(text[at:])
    return "".join(out)


@lru_cache(maxsize=4096)
def _latex_for(char: str) -> str:
    """pylatexenc's LaTeX for one character; math symbols as ``$\\beta$``, which is not read back as a
    case-protected group."""
    latex = _encoder.unicode_to_latex(char)
    math = re.fullmatch(r"\{\\ensuremath\{(.*)\}\}", latex)
    return f"${math.group(1)}$" if math else latex


def encode_title(title: str, protected: list[tuple[int, int]]) -> str:
    """The title in LaTeX, with its case-protected spans in braces."""
    parts, at = [], 0
    for start, end in protected:
        parts += [encode(title[at:start]), "{" + encode(title[start:end]) + "}"]
        at = end
    parts.append(encode(title[at:]))
    return "".join(parts)


# Characters a written citation key keeps; any other run becomes "_" (and the key a digest of the original).
_UNSAFE_IN_KEY = re.compile(r"[^\w:.+/-]+")


@lru_cache(maxsize=65536)
def citation_key(key: str) -> str:
    """The key as every writer writes it: itself if it has only letters, digits and ``_:.+/-``, else those
    characters with a digest of the whole key, so that different keys stay different. The key as read is
    kept in ``study_sources.entry_key``."""
    if not _UNSAFE_IN_KEY.search(key):
        return key
    digest = hashlib.sha1(key.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{_UNSAFE_IN_KEY.sub('_', key)[:60].strip('_') or 'key'}-{digest}"


def braced_safely(value: str) -> bool:
    """Whether ``{value}`` is one BibTeX value to every reader: braces nested and closed whether those after a
    backslash count (biber) or not (bibtexparser), and no line break (a line starting "@" starts an entry)."""
    if _LINE_BREAK.search(value) or value.endswith("\\"):
        return False
    return _nested(re.sub(r"[^{}]", "", value)) and _nested(re.sub(r"\\.|[^{}]", "", value))


def _nested(braces: str) -> bool:
    depth = 0
    for char in braces:
        depth += 1 if char == "{" else -1
        if depth < 0:
            return False
    return depth == 0


def verbatim(value: str) -> str:
    """An identifier or address written as it is, on one line; where its braces would not read back as one
    value, they (and backslashes) are percent-encoded, as an address can hold them."""
    value = _LINE_BREAK.sub(" ", value)
    if "{" not in value and "}" not in value and "\\" not in value or braced_safely(value):
        return value
    return value.replace("\\", "%5C").replace("{", "%7B").replace("}", "%7D")
