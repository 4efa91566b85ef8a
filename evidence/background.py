"""Bulk reads of a server process, counting the facets of a search or a filter over up to hundreds of thousands
of rows, in threads of lower priority, so that the pages asked for meanwhile get the CPU first. Eight clients
asking without pause keep two cores busy; with these counts in threads of the same priority, every page waited
behind them.

A thread's niceness is its own on Linux; elsewhere the threads run at the process's priority."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor

from datasette.database import QueryInterrupted
from datasette.utils.sqlite import sqlite3  # the SQLite module Datasette uses (pysqlite3, if installed)

# How much lower the bulk threads run than the threads answering pages (the export process runs as low).
NICENESS = 10
# Bulk reads at once in one server process; `evidence serve` runs a server process per core.
THREADS = 2

_executor: ThreadPoolExecutor | None = None
_local = threading.local()


def _lower_priority() -> None:
    """In each bulk thread, first: lower its own priority (on Linux, where a thread has one)."""
    if sys.platform.startswith("linux"):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), os.getpriority(os.PRIO_PROCESS, 0) + NICENESS)


def executor() -> ThreadPoolExecutor:
    """The bulk threads of this process, started at the first bulk read."""
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(THREADS, "evidence-bulk", _lower_priority)
    return _executor


async def query(datasette, database: str, sql: str, params: dict, cpu_limit_ms: int) -> list[sqlite3.Row]:
    """The rows of ``sql`` on ``database``, read in a bulk thread on a connection of its own (opened as
    Datasette opens it). The query is stopped, with Datasette's QueryInterrupted, once it has used
    ``cpu_limit_ms`` of CPU time: time spent waiting for the CPU behind pages does not count against it."""
    db = datasette.get_database(database)
    return await asyncio.get_running_loop().run_in_executor(executor(), _query, db, sql, params, cpu_limit_ms)


def _query(db, sql: str, params: dict, cpu_limit_ms: int) -> list[sqlite3.Row]:
    connections = _local.__dict__.setdefault("connections", weakref.WeakKeyDictionary())  # this thread's, by database
    conn = connections.get(db)
    if conn is None:
        conn = connections[db] = db.connect()
        # as Datasette prepares each of its connections: rows by name, and the SQL functions of Datasette
        # (escape_fts, which a search in escaped mode calls) and of its plugins
        db.ds._prepare_connection(conn, db.name)
    deadline = time.thread_time() + cpu_limit_ms / 1000
    conn.set_progress_handler(lambda: time.thread_time() >= deadline, 1000)
    try:
        return conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError as exc:
        if "interrupted" in str(exc):
            raise QueryInterrupted(exc, sql, params) from exc
        raise
    finally:
        conn.set_progress_handler(None, 1000)
