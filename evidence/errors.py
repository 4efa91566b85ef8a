"""The named errors a user is told about in one line: the command line turns each into a message, never a
traceback. Problems with single entries are not raised: they are ``records.LoadError`` rows."""

import errno
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager


class EvidenceError(Exception):
    """Something the user asked for cannot be done; the message says why and what to do."""


class NotAnEvidenceDatabase(EvidenceError, ValueError):
    """A database file that is missing, not SQLite, or not built by this version of evidence."""


class SelectionError(EvidenceError, ValueError):
    """A selection of studies that cannot be made (an unknown term, bad SQL)."""


class VocabularyError(EvidenceError, ValueError):
    """A vocabulary file that cannot be used."""


class LoadInProgress(EvidenceError):
    """Another load holds the database's lock, and this one was asked not to wait."""


class DatabaseChanged(EvidenceError):
    """The database file changed while a load was building its new copy: the copy is thrown away."""


class NoSpace(EvidenceError):
    """The disk filled up while a load wrote its temporary files; the database is unchanged."""


@contextmanager
def no_space_as_error(what: str) -> Iterator[None]:
    """A full disk in the block (OSError ENOSPC or EDQUOT, SQLite's "database or disk is full") raised as NoSpace."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        raise NoSpace(f"no space left on device while writing {what}; the database is unchanged") from exc
    except sqlite3.OperationalError as exc:
        if getattr(exc, "sqlite_errorcode", None) != sqlite3.SQLITE_FULL:
            raise
        raise NoSpace(f"no space left on device while writing {what}; the database is unchanged") from exc
