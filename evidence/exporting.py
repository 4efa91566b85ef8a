"""Exports: the studies of a selection, read from the store, written by their format's writer (evidence.formats)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import closing
from pathlib import Path

from . import store
from .fast import parallel
from .formats import FORMATS as ALL_FORMATS
from .formats import WRITABLE
from .records import TaggedStudy

# Formatted references (apa, vancouver) come as text, Markdown or HTML: markup -> (extension, media type).
MARKUPS = {"text": ("txt", "text/plain"), "markdown": ("md", "text/markdown"), "html": ("html", "text/html")}
FORMATS = {name: ALL_FORMATS[name] for name in WRITABLE}  # the formats studies are exported in
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
    fmt = FORMATS[name]
    if fmt.formatted:
        return fmt.write_all(list(studies), markup)
    layout = fmt.layout
    texts = [fmt.entry(study) for study in studies]
    return layout.start + layout.between.join(texts) + layout.end if texts else layout.empty


def export(
    path: Path, keys: list[str], name: str, markup: str = "text", written: dict[str, list] | None = None
) -> Iterator[str]:
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
    layout = FORMATS[name].layout
    batches = ((path, keys[start : start + BATCH], name) for start in range(0, len(keys), BATCH))
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
    fmt = FORMATS[name]
    with closing(store.connect_readonly(path)) as conn:
        if name in STORED:
            texts = store.bibtex_entries(conn, keys)
        else:
            texts = [(s.record.key, fmt.entry(s), s.outcomes) for s in store.studies_for_export(conn, keys)]
    return fmt.layout.between.join([text for _, text, _ in texts]), [(key, outcomes) for key, _, outcomes in texts]
