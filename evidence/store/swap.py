"""One writer at a time: a load holds a lock on the database, builds a new copy in a temporary file of its own
and swaps it in only if the database is still the one the copy was made from. What a killed load left behind
is removed by the next load of the same database; a full disk is a named error, with the database unchanged."""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import DatabaseChanged, EvidenceError, LoadInProgress, no_space_as_error
from .read import is_current
from .schema import ensure_schema

if TYPE_CHECKING:
    from sqlite_utils import Database

# What identifies one version of a database file: a swap gives another inode, a write another size or time.
Identity = tuple[int, int, int, int] | None


def identity(path: Path) -> Identity:
    """The file's (device, inode, size, modification time in ns), None if there is none."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns


def lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


def build_prefix(path: Path) -> str:
    """How the temporary copies of a load of ``path`` are named."""
    return f".{path.name}.build-"


def spool_prefix(path: Path) -> str:
    """How the spool folders of a load of ``path`` are named."""
    return f".evidence-spool-{path.name}-"


@contextmanager
def one_writer(path: Path, wait: bool = True, waiting: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the lock of the database at ``path`` (an exclusive ``flock`` on DB.lock beside it) for the block.
    If another load holds it: wait (saying so to ``waiting``), or with ``wait`` false raise LoadInProgress.
    Once the lock is held, what earlier loads of this database left behind is removed: none of them runs.
    SIGTERM ends the block as Ctrl-C does, so that its temporary files are removed on the way out."""
    try:
        lock = open(lock_path(path), "a+")
    except OSError as exc:
        raise EvidenceError(f"cannot write the lock file {exc.filename}: {exc.strerror}") from exc
    with lock, _terminate_as_interrupt():
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "unknown"
            if not wait:
                raise LoadInProgress(
                    f"{path} is being loaded by another process (pid {holder}); not waiting (--no-wait)"
                ) from None
            if waiting:
                waiting(f"waiting for another load of {path} (pid {holder}) to finish...")
            fcntl.flock(lock, fcntl.LOCK_EX)
        lock.truncate(0)
        lock.write(str(os.getpid()))
        lock.flush()
        remove_leftovers(path)
        yield


def remove_leftovers(path: Path) -> list[Path]:
    """Remove the temporary copies and spool folders of earlier loads of ``path`` (and the DB.tmp of earlier
    versions of evidence); the paths removed. Only while holding the lock: then no load of ``path`` runs."""
    folder = path.parent
    removed = [p for p in folder.glob(f"{build_prefix(path)}*") if p.is_file()]
    removed += [p for p in folder.glob(f"{spool_prefix(path)}*") if p.is_dir()]
    removed += [p for p in (path.with_name(path.name + ".tmp"),) if p.is_file()]
    for leftover in removed:
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)
    return removed


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """In the block, SIGTERM raises KeyboardInterrupt (in the main thread only: elsewhere signals stay as they are)."""
    try:
        previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def building(path: Path) -> Iterator[Database]:
    """A writable copy of the database at ``path`` (a new one if it is missing or of another schema version),
    swapped in only if the block succeeds and the database is still the version it was copied from
    (DatabaseChanged if not). A failed build is removed; the database stays as it was.

    A running Datasette keeps reading the old file until the swap, so it never sees a half-written build."""
    started = identity(path)
    current = is_current(path)
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=build_prefix(path))
    os.close(handle)
    tmp = Path(name)
    db = None
    try:
        with no_space_as_error(f"the new copy of {path}"):
            if current:
                source, target = sqlite3.connect(path), sqlite3.connect(tmp)
                try:
                    source.backup(target)
                finally:
                    source.close()
                    target.close()
            from sqlite_utils import Database

            db = Database(tmp)
            db.execute("PRAGMA foreign_keys = ON")
            # a failed build is thrown away whole, so the copy needs no journal on disk, and is synced once at the end
            db.execute("PRAGMA journal_mode = MEMORY")
            db.execute("PRAGMA synchronous = OFF")
            ensure_schema(db)
            yield db
            db.conn.commit()
            db.close()
            with open(tmp, "rb+") as written:
                os.fsync(written.fileno())
        if identity(path) != started:
            raise DatabaseChanged(
                f"{path} was changed by another program while this load was building; nothing was written: load again"
            )
        os.replace(tmp, path)
    finally:
        if db is not None:
            db.close()
        tmp.unlink(missing_ok=True)
