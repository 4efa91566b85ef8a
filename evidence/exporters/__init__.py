"""Exporters: one writer per bibliography format, all reading studies as the store returns them."""

from __future__ import annotations

from dataclasses import dataclass

from ..tagger import TaggedStudy
from . import bibtex, csljson, formatted, ris


@dataclass(frozen=True)
class Format:
    """A bibliography format: how it is named and, for data formats, saved and served."""

    name: str
    label: str
    extension: str | None = None  # formatted styles take theirs from the markup
    media_type: str | None = None


FORMATS = {f.name: f for f in (
    Format("bibtex", "BibTeX", "bib", "application/x-bibtex"),
    Format("ris", "RIS", "ris", "application/x-research-info-systems"),
    Format("csl-json", "CSL-JSON", "json", "application/vnd.citationstyles.csl+json"),
    Format("apa", "APA 7"),
    Format("vancouver", "Vancouver"),
)}
# Formatted references (apa, vancouver) come as text, Markdown or HTML: markup -> (extension, media type).
MARKUPS = {"text": ("txt", "text/plain"), "markdown": ("md", "text/markdown"), "html": ("html", "text/html")}


def file_type(name: str, markup: str = "text") -> tuple[str, str]:
    """The file extension and media type (with charset) of an export."""
    fmt = FORMATS[name]
    extension, media_type = (fmt.extension, fmt.media_type) if fmt.extension else MARKUPS[markup]
    return extension, f"{media_type}; charset=utf-8"


def render(studies: list[TaggedStudy], name: str, markup: str = "text") -> str:
    """The studies in one format; ``markup`` applies to the formatted styles only."""
    if name in formatted.STYLES:
        return formatted.write(studies, name, markup)
    return {"bibtex": bibtex.write, "ris": ris.write, "csl-json": csljson.write}[name](studies)
