"""Worker processes for the steps of a large load that split into independent batches (parsing a large
BibTeX file, tagging many studies). Within ``workers()`` the batches of ``map_batches`` go to a pool of
processes, one per core, started at the first call that has more than one batch (or earlier, by ``reserve``);
elsewhere, or on a machine with one core, they run in this process. Results come back in the order of the
batches."""

from __future__ import annotations

import ctypes
import gc
import itertools
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

MAX_WORKERS = 4
PR_SET_PDEATHSIG = 1  # prctl's option (linux/prctl.h): a signal sent to this process when its parent ends
_enabled = False
_pool: Any = None
_reserved: Any = None  # a pool forked early, for the map_batches after the next release


@contextmanager
def workers() -> Iterator[None]:
    """Let ``map_batches`` in the block use worker processes; they are stopped when the block ends."""
    global _enabled, _pool, _reserved
    if _enabled:
        yield
        return
    _enabled = True
    try:
        yield
    finally:
        _enabled = False
        for pool in (_pool, _reserved):
            if pool is not None:
                pool.terminate()
        _pool = _reserved = None


def cores() -> int:
    """How many processes are worth running at once here."""
    return min(os.cpu_count() or 1, MAX_WORKERS)


def map_batches(function: Callable, batches: Iterable) -> Iterable:
    """``function(batch)`` for each batch, in order; in the workers where that helps. The batches are taken
    as the workers are ready for them."""
    global _pool
    batches = iter(batches)
    first = list(itertools.islice(batches, 2))
    if not _in_use() or len(first) < 2:
        return map(function, itertools.chain(first, batches))
    if _pool is None:
        _pool = _new_pool()
    return _pool.imap(function, itertools.chain(first, batches))


def reserve() -> None:
    """Start now the workers that ``map_batches`` uses after the next ``release``. Forked while this process
    holds little, they share only that with it; forked later, they would share all it holds by then, and
    each page of that which it goes on to change (a reference count is enough) would be copied: held twice."""
    global _reserved
    if _in_use() and _reserved is None:
        _reserved = _new_pool()


def release() -> None:
    """Stop the workers (when their batches are done): what they kept from them is given back, and the next
    ``map_batches`` uses the reserved ones, if any, else starts new ones."""
    global _pool, _reserved
    if _pool is not None:
        _pool.close()
        _pool.join()
    _pool, _reserved = _reserved, None


def _in_use() -> bool:
    """Whether worker processes help here: within ``workers()``, on the fast path, with several cores."""
    from . import ENABLED

    return _enabled and ENABLED and cores() >= 2


def _new_pool() -> Any:
    """A pool of ``cores()`` worker processes, forked where the system can."""
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    gc.freeze()  # forked workers leave this process's objects alone, so their pages stay shared
    try:
        return multiprocessing.get_context(method).Pool(cores(), _start_worker, (os.getpid(),))
    finally:
        gc.unfreeze()


def _start_worker(parent: int) -> None:
    """In each worker, first: Ctrl-C is for the parent (which stops the workers), SIGTERM ends the worker at once,
    and on Linux the worker is killed when the parent ends, however it ends (even by SIGKILL): a pool's worker
    does not notice on its own, and would wait for work forever."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent ended before the line above took effect
        os._exit(1)
