"""Exporters: one writer per bibliography format, all reading studies as the store returns them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from . import store
from .fast import parallel
from .formats import bibtex, csljson, ris
from .records import TaggedStudy


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


@dataclass(frozen=True)
class Layout:
    """How a data format's file is made of its studies' texts: ``between`` them, ``start`` and ``end`` around
    them, ``empty`` for no studies."""

    start: str = ""
    between: str = "\n"
    end: str = ""
    empty: str = ""


# Data formats, written study by study: the text of one study, and how the texts make a file.
WRITERS: dict[str, tuple[Callable[[TaggedStudy], str], Layout]] = {
    "bibtex": (bibtex.entry, Layout()),
    "ris": (ris.entry, Layout()),
    "csl-json": (csljson.entry, Layout("[\n  ", ",\n  ", "\n]\n", "[]\n")),
}
# Formats whose text of each study the load keeps (store.bibtex_entries): exported by reading it, not writing.
STORED = {"bibtex"}
# Exports of a database file are read and written this many studies at a time, in the worker processes.
BATCH = 2000


def file_type(name: str, markup: str = "text") -> tuple[str, str]:
    """The file extension and media type (with charset) of an export."""
    fmt = FORMATS[name]
    extension, media_type = (fmt.extension, fmt.media_type) if fmt.extension else MARKUPS[markup]
    return extension, f"{media_type}; charset=utf-8"


def render(studies: Iterable[TaggedStudy], name: str, markup: str = "text") -> str:
    """The studies in one format; ``markup`` applies to the formatted styles only."""
    if FORMATS[name].formatted:
        from .formats import citeproc  # citeproc-py: imported only for the formats that need it

        return citeproc.write(list(studies), name, markup)
    write, layout = WRITERS[name]
    texts = [write(study) for study in studies]
    return layout.start + layout.between.join(texts) + layout.end if texts else layout.empty


def export(path: Path, keys: list[str], name: str, markup: str = "text",
           written: dict[str, list] | None = None) -> Iterator[str]:
    """``render``'s text for the studies of ``keys`` in the database file at ``path``, in chunks to be written as
    they come: data formats are read and written a batch at a time, in the worker processes within
    ``parallel.workers()``, so that a large export is never held whole; formatted styles (which sort and number
    the whole list) come as one chunk. ``written`` is given each study's key and curated outcomes."""
    written = {} if written is None else written
    if FORMATS[name].formatted:
        with closing(store.connect_readonly(path)) as conn:
            studies = list(store.studies_for_export(conn, keys))
        written.update((study.record.key, study.outcomes) for study in studies)
        yield render(studies, name, markup)
        return
    layout = WRITERS[name][1]
    batches = ((path, keys[start:start + BATCH], name) for start in range(0, len(keys), BATCH))
    empty = True
    for text, outcomes in parallel.map_batches(_write_batch, batches):
        if outcomes:
            written.update(outcomes)
            yield (layout.start if empty else layout.between) + text
            empty = False
    yield layout.empty if empty else layout.end


def _write_batch(work: tuple[Path, list[str], str]) -> tuple[str, list[tuple[str, list]]]:
    """One batch of an export (perhaps in a worker): its studies' texts, joined, and their keys and outcomes.
    BibTeX entries are read as the load wrote them; other formats are written from the studies read."""
    path, keys, name = work
    write, layout = WRITERS[name]
    with closing(store.connect_readonly(path)) as conn:
        if name in STORED:
            texts = store.bibtex_entries(conn, keys)
        else:
            texts = [(s.record.key, write(s), s.outcomes) for s in store.studies_for_export(conn, keys)]
    return layout.between.join([text for _, text, _ in texts]), [(key, outcomes) for key, _, outcomes in texts]
