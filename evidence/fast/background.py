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
from datasette.plugins import pm
from datasette.utils import escape_fts
from datasette.utils.sqlite import sqlite3  # the SQLite module Datasette uses (pysqlite3, if installed)

# How much lower the bulk threads run than the threads answering pages (the export process runs as low).
NICENESS = 10
# Bulk reads at once in one server process; `evidence serve` runs a server process per core.
THREADS = 2
# How many times its time limit a bulk query may take in all, waiting for a thread and the CPU included.
WAIT_LIMIT = 10
# SQLite steps between two looks at the clocks (about a millisecond): each look takes the GIL, which the
# threads answering pages need.
CHECK_EVERY = 10_000

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


async def query(datasette, database: str, sql: str, params: dict | list, time_limit_ms: int) -> list:
    """The rows of ``sql`` on ``database``, read in a bulk thread on a connection of its own (opened and
    prepared as Datasette opens and prepares its own). ``time_limit_ms`` is capped by ``sql_time_limit_ms``, as
    Datasette caps a query's custom limit, but counts the CPU time the query uses: time spent waiting for the
    CPU behind pages does not count against it. Waiting has a limit of its own, WAIT_LIMIT times as long. A
    query past either limit is stopped with Datasette's QueryInterrupted."""
    limit = datasette.setting("sql_time_limit_ms")
    if time_limit_ms and time_limit_ms < limit:
        limit = time_limit_ms
    wall_deadline = time.monotonic() + WAIT_LIMIT * limit / 1000  # from now: waiting for a bulk thread counts
    return await asyncio.get_running_loop().run_in_executor(
        executor(), _query, datasette, database, sql, params, limit, wall_deadline
    )


def _query(datasette, database: str, sql: str, params: dict | list, cpu_limit_ms: int, wall_deadline: float) -> list:
    if time.monotonic() >= wall_deadline:
        raise QueryInterrupted(sqlite3.OperationalError("interrupted"), sql, params)
    conn = _connection(datasette, database)
    cpu_deadline = time.thread_time() + cpu_limit_ms / 1000
    conn.set_progress_handler(
        lambda: time.thread_time() >= cpu_deadline or time.monotonic() >= wall_deadline, CHECK_EVERY
    )
    try:
        return conn.execute(sql, params).fetchall()
    except (sqlite3.OperationalError, sqlite3.DatabaseError) as exc:
        if exc.args == ("interrupted",):  # as Datasette tells an interrupted query from a failed one
            raise QueryInterrupted(exc, sql, params) from exc
        raise
    finally:
        conn.set_progress_handler(None, CHECK_EVERY)


def _connection(datasette, database: str) -> sqlite3.Connection:
    """This thread's connection to the database named ``database`` of ``datasette``, opened at its first query."""
    db = datasette.get_database(database)
    connections = _local.__dict__.setdefault("connections", weakref.WeakKeyDictionary())
    conn = connections.get(db)
    if conn is None:
        conn = db.connect()
        prepare(conn, datasette, database)
        connections[db] = conn
    return conn


def prepare(conn: sqlite3.Connection, datasette, database: str) -> None:
    """Prepare ``conn`` for the SQL Datasette runs, by public means: rows by name, text decoded as Datasette
    decodes it, its cache size setting, escape_fts (which a search in escaped mode calls), and the SQL
    functions of every plugin, through the documented prepare_connection hook (Datasette registers its own
    escape_fts there too; registered here first, the bulk reads do not depend on that)."""
    conn.row_factory = sqlite3.Row
    conn.text_factory = lambda data: str(data, "utf-8", "replace")
    if datasette.setting("cache_size_kb"):
        conn.execute(f"PRAGMA cache_size=-{datasette.setting('cache_size_kb')}")
    conn.create_function("escape_fts", 1, escape_fts)
    pm.hook.prepare_connection(conn=conn, database=database, datasette=datasette)
