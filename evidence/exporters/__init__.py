"""Exporters: one writer per bibliography format, all reading studies as the store returns them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice

from ..tagger import TaggedStudy
from . import bibtex, csljson, ris


@dataclass(frozen=True)
class Format:
    """A bibliography format: how it is named and, for data formats, saved and served."""

    name: str
    label: str
    extension: str | None = None  # formatted styles take theirs from the markup
    media_type: str | None = None

    @property
    def formatted(self) -> bool:
        """A formatted reference list (APA, Vancouver) rather than data."""
        return self.extension is None


FORMATS = {f.name: f for f in (
    Format("bibtex", "BibTeX", "bib", "application/x-bibtex"),
    Format("ris", "RIS", "ris", "application/x-research-info-systems"),
    Format("csl-json", "CSL-JSON", "json", "application/vnd.citationstyles.csl+json"),
    Format("apa", "APA 7"),
    Format("vancouver", "Vancouver"),
)}
# Formatted references (apa, vancouver) come as text, Markdown or HTML: markup -> (extension, media type).
MARKUPS = {"text": ("txt", "text/plain"), "markdown": ("md", "text/markdown"), "html": ("html", "text/html")}
# Data formats, written study by study: each writer yields one piece of text per study, separators included.
PIECES = {"bibtex": bibtex.pieces, "ris": ris.pieces, "csl-json": csljson.pieces}
# Pieces are joined into chunks of this many studies for writing.
CHUNK = 1000


def file_type(name: str, markup: str = "text") -> tuple[str, str]:
    """The file extension and media type (with charset) of an export."""
    fmt = FORMATS[name]
    extension, media_type = (fmt.extension, fmt.media_type) if fmt.extension else MARKUPS[markup]
    return extension, f"{media_type}; charset=utf-8"


def render(studies: Iterable[TaggedStudy], name: str, markup: str = "text") -> str:
    """The studies in one format; ``markup`` applies to the formatted styles only."""
    return "".join(stream(studies, name, markup))


def stream(studies: Iterable[TaggedStudy], name: str, markup: str = "text") -> Iterator[str]:
    """``render``'s text in chunks to be written as they come, so that a large export is never held whole;
    formatted styles (which sort and number the whole list) come as one chunk."""
    if FORMATS[name].formatted:
        from . import formatted  # citeproc-py: imported only for the formats that need it

        yield formatted.write(list(studies), name, markup)
        return
    pieces = PIECES[name](studies)
    while chunk := "".join(islice(pieces, CHUNK)):
        yield chunk
