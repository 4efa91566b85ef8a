"""Worker processes for the steps of a large load that split into independent batches (parsing a large
BibTeX file, tagging many studies). Within ``workers()`` the batches of ``map_batches`` go to a pool of
processes, one per core, started at the first call that has more than one batch; elsewhere, or on a
machine with one core, they run in this process. Results come back in the order of the batches."""

from __future__ import annotations

import gc
import itertools
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

MAX_WORKERS = 4
_enabled = False
_pool: Any = None


@contextmanager
def workers() -> Iterator[None]:
    """Let ``map_batches`` in the block use worker processes; they are stopped when the block ends."""
    global _enabled, _pool
    if _enabled:
        yield
        return
    _enabled = True
    try:
        yield
    finally:
        _enabled = False
        if _pool is not None:
            _pool.terminate()
            _pool = None


def cores() -> int:
    """How many processes are worth running at once here."""
    return min(os.cpu_count() or 1, MAX_WORKERS)


def map_batches(function: Callable, batches: Iterable) -> Iterable:
    """``function(batch)`` for each batch, in order; in the workers where that helps. The batches are taken
    as the workers are ready for them."""
    global _pool
    batches = iter(batches)
    first = list(itertools.islice(batches, 2))
    if not _enabled or cores() < 2 or len(first) < 2:
        return map(function, itertools.chain(first, batches))
    if _pool is None:
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        gc.freeze()  # forked workers leave this process's objects alone, so their pages stay shared
        try:
            _pool = multiprocessing.get_context(method).Pool(cores())
        finally:
            gc.unfreeze()
    return _pool.imap(function, itertools.chain(first, batches))


def release() -> None:
    """Stop the workers (when their batches are done): what they kept from them is given back, and the next
    ``map_batches`` starts new ones."""
    global _pool
    if _pool is not None:
        _pool.close()
        _pool.join()
        _pool = None
