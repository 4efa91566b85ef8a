"""Exports: the studies of a selection, read from the store, written by their format's writer (evidence.formats)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from . import store
from .fast import parallel
from .formats import FORMATS as ALL_FORMATS
from .formats import WRITABLE
from .formats.latex import citation_key
from .records import TaggedStudy
from .store.swap import Identity, identity

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


@dataclass
class Snapshot:
    """One version of a database file: a read-only connection to it, in a read transaction, and the file's identity.
    The connection keeps reading the file it opened even once a load swaps another in."""

    path: Path
    conn: sqlite3.Connection
    version: Identity


@contextmanager
def snapshot(path: Path) -> Iterator[Snapshot]:
    """The database at ``path`` as it is now, for the block."""
    while True:  # a swap between looking at the file and opening it: look again
        version = identity(path)
        conn = store.connect_readonly(path)
        if identity(path) == version:
            break
        conn.close()
    try:
        conn.execute("BEGIN")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # holds SQLite's shared lock till the end
        yield Snapshot(path, conn, version)
    finally:
        conn.close()


def export(
    source: Path | Snapshot, keys: list[str], name: str, markup: str = "text", written: dict[str, list] | None = None
) -> Iterator[str]:
    """``render``'s text for the studies of ``keys`` in ``source`` (a database file, or a snapshot of one), in
    chunks to be written as they come: data formats are read and written a batch at a time, in the worker
    processes within ``parallel.workers()``, so that a large export is never held whole; formatted styles (which
    sort and number the whole list) come as one chunk. ``written`` is given each study's key (as the writers write it) and curated outcomes.
    Every study comes from one version of the file, even if a load swaps in another meanwhile."""
    if isinstance(source, Path):
        with snapshot(source) as pinned:
            yield from export(pinned, keys, name, markup, written)
        return
    written = {} if written is None else written
    if FORMATS[name].formatted:
        studies = list(store.studies_for_export(source.conn, keys))
        written.update((citation_key(study.record.key), study.outcomes) for study in studies)
        yield render(studies, name, markup)
        return
    layout = FORMATS[name].layout
    batches = [keys[start : start + BATCH] for start in range(0, len(keys), BATCH)]
    work = ((source.path, source.version, batch, name) for batch in batches)
    empty = True
    for batch, done in zip(batches, parallel.map_batches(_write_batch, work)):
        text, outcomes = done or _write(source.conn, batch, name)  # a worker that found another version: here
        if outcomes:
            written.update(outcomes)
            yield (layout.start if empty else layout.between) + text
            empty = False
    yield layout.empty if empty else layout.end


def _write_batch(work: tuple[Path, Identity, list[str], str]) -> tuple[str, list[tuple[str, list]]] | None:
    """One batch of an export (perhaps in a worker), read from the file at ``path`` if it is still the version
    ``version`` (else None)."""
    path, version, keys, name = work
    if identity(path) != version:
        return None
    with closing(store.connect_readonly(path)) as conn:
        if identity(path) != version:  # a swap while opening: this connection may read the new file
            return None
        return _write(conn, keys, name)


def _write(conn: sqlite3.Connection, keys: list[str], name: str) -> tuple[str, list[tuple[str, list]]]:
    """The studies' texts, joined, and their keys and outcomes. BibTeX entries are read as the load wrote them;
    other formats are written from the studies read."""
    fmt = FORMATS[name]
    if name in STORED:
        texts = store.bibtex_entries(conn, keys)
    else:
        texts = [(s.record.key, fmt.entry(s), s.outcomes) for s in store.studies_for_export(conn, keys)]
    return fmt.layout.between.join([text for _, text, _ in texts]), [
        (citation_key(key), outcomes) for key, _, outcomes in texts
    ]
