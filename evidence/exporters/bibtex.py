"""BibTeX writer: every loaded field, curated tags as prefixed keywords, LaTeX that BibTeX and biber accept.

Written by hand rather than with bibtexparser's writer: the entries are flat and fully known here,
and string building is several times faster on large exports.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from operator import attrgetter

from pylatexenc.latexencode import UnicodeToLatexEncoder

from ..records import MONTHS, Person, StudyRecord
from ..readers.bibtex import LIST_FIELDS
from ..tagger import TaggedStudy

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
_ASCII_SPECIALS = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "%": r"\%", "#": r"\#",
    "_": r"\_", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
}
# Where pylatexenc's choice is read back wrongly: biber and pandoc take {\'\i} as "ı́", not "í".
_OVERRIDES = {"í": r"{\'i}", "ì": r"{\`i}", "î": r"{\^i}", "ï": r"{\"i}", "\u2013": "--", "\u2014": "---"}
# The characters encode looks at: specials, hyphens (two in a row) and anything not ASCII.
_TO_ENCODE = re.compile(r"[\\{}$&%#_~^\-]|[^\x00-\x7f]")
_encoder = UnicodeToLatexEncoder(non_ascii_only=True, replacement_latex_protection="braces-all",
                                 unknown_char_policy="keep")
logging.getLogger("pylatexenc.latexencode").setLevel(logging.ERROR)  # characters without LaTeX stay Unicode


def encode(text: str) -> str:
    """LaTeX for Unicode text: specials escaped, accents as ``{\\~a}`` (which BibTeX sorts and
    abbreviates correctly), dashes as ``--``; characters with no LaTeX form stay as UTF-8 for biber."""
    if text.isascii() and "--" not in text:  # the usual case, found by substring searches (faster than a regex)
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
        elif char == "-":
            out.append("{}-" if out and out[-1] == "-" else "-")  # two typed hyphens are not an en dash
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
