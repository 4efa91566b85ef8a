#!/usr/bin/env python3
"""Serving benchmark: a large database built by `evidence load`, served by `evidence serve`, driven by
concurrent clients on the loopback interface for a bounded time.

    python scripts/bench_serve.py --studies 1000000 --work bench-serve

builds (once; kept in the work folder for later runs) a corpus with scripts/make_corpus.py and loads it
with `evidence load`, starts `evidence serve` on 127.0.0.1 on a free port, and has ``--clients``
clients request, in turn, for ``--seconds``: the study cards page with its default facets, a full-text
search (the JSON of the first page of matches, as a search box asks for it), the search results page
with its facets, the "studies for a condition" canned query, the evidence map, and a BibTeX export of
``--export`` studies. Prints p50 / p95 / max latency, the errors and the pages whose facets ran out of
time, of each; then stops the server. The server runs the `evidence` package this script imports: to
measure other code on the same database, put that code first on PYTHONPATH (the header names the package).
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

import evidence
from evidence import store

BIN = Path(sys.executable).parent
SCRIPTS = Path(__file__).resolve().parent
SEARCHES = ["migraine", "insomnia", "fibromyalgia", "moxibustion", "Oswestry", "pelvic girdle"]
CONDITIONS = ["migraine", "insomnia", "neck-pain", "fibromyalgia"]
FACETS_TIMED_OUT = b'class="facets-timed-out"'  # what Datasette's page says when a facet ran out of time


def requests(export: int) -> dict[str, list[str]]:
    """What the clients ask for: kind -> paths (taken in turn)."""
    return {
        "faceted page": ["/evidence/study_cards"],
        "full-text search": [f"/evidence/study_cards.json?_search={quote(term)}&_nofacet=1" for term in SEARCHES],
        "search page with facets": [f"/evidence/study_cards?_search={quote(term)}" for term in SEARCHES],
        "studies for a condition": [f"/evidence/studies_for_condition?condition={c}" for c in CONDITIONS],
        "evidence map": ["/evidence/evidence_map"],
        f"BibTeX export of {export} studies": [
            "/evidence.bib?sql=" + quote(f"select key from studies where rowid <= {export}")
        ],
    }


def build(studies: int, work: Path) -> Path:
    """The database of ``studies`` synthetic studies, loaded by `evidence load` (reused when already built with
    this version's schema)."""
    db = work / f"studies-{studies}" / "evidence.db"  # served as /evidence, as the README's examples
    db.parent.mkdir(parents=True, exist_ok=True)
    if store.is_current(db):  # a database of an older schema is built again
        with sqlite3.connect(db) as conn:
            if conn.execute("select count(*) from studies").fetchone()[0] >= studies:
                return db
    corpus = work / f"corpus-{studies}"
    files = max(1, studies // 100_000)  # files of 100,000 entries: one file's parse stays small in memory
    subprocess.run(
        [
            sys.executable,
            str(SCRIPTS / "make_corpus.py"),
            str(studies),
            "--out",
            str(corpus),
            "--formats",
            "bib",
            "--split",
            str(files),
        ],
        check=True,
    )
    started = time.perf_counter()
    subprocess.run(
        [str(BIN / "evidence"), "load", "-q", str(db), *sorted(map(str, corpus.glob("corpus*.bib")))],
        check=True,
        stderr=subprocess.DEVNULL,
    )
    print(f"loaded {db} in {time.perf_counter() - started:.0f} s")
    return db


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port: int, path: str) -> tuple[int, bytes]:
    """Status and body of one GET on a connection of its own."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def wait_until_up(port: int, server: subprocess.Popen, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"evidence serve exited with {server.returncode}")
        try:
            if get(port, "/-/versions.json")[0] == 200:
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit("evidence serve did not start")


def drive(port: int, kinds: dict[str, list[str]], clients: int, seconds: float) -> dict[str, dict]:
    """Every client takes the kinds in turn (each starting at a different one) until time is up."""
    results = {kind: {"times": [], "errors": 0, "timed out": 0} for kind in kinds}
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    names = list(kinds)

    def client(number: int) -> None:
        paths = {
            kind: itertools.cycle(kinds[kind][number % len(kinds[kind]) :] + kinds[kind][: number % len(kinds[kind])])
            for kind in kinds
        }
        for turn in itertools.count(number):
            if time.monotonic() >= deadline:
                return
            kind = names[turn % len(names)]
            started = time.perf_counter()
            try:
                status, body = get(port, next(paths[kind]))
                failed, timed_out = status != 200, FACETS_TIMED_OUT in body
            except OSError:
                failed, timed_out = True, False
            elapsed = time.perf_counter() - started
            with lock:
                results[kind]["times"].append(elapsed)
                results[kind]["errors"] += failed
                results[kind]["timed out"] += timed_out

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--studies", type=int, default=1_000_000)
    parser.add_argument("--work", type=Path, default=Path("bench-serve"), help="folder for the corpus and database")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--export", type=int, default=10_000, help="studies in the BibTeX export")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    db = build(args.studies, args.work)
    port = free_port()
    server = subprocess.Popen(
        [str(BIN / "evidence"), "serve", str(db), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_up(port, server)
        kinds = requests(args.export)
        for paths in kinds.values():  # once each, so that every run starts with warm caches
            for path in paths:
                get(port, path)
        results = drive(port, kinds, args.clients, args.seconds)
    finally:
        server.terminate()
        server.wait()
    print(
        f"{db} ({args.studies} studies), {args.clients} clients for {args.seconds:.0f} s, "
        f"served by {Path(evidence.__file__).parent}:"
    )
    print(
        f"  {'request':<34} {'count':>6} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'errors':>6} {'facets timed out':>16}"
    )
    for kind, result in results.items():
        times = result["times"]
        print(
            f"  {kind:<34} {len(times):>6} {1000 * percentile(times, 0.5):>8.0f} {1000 * percentile(times, 0.95):>8.0f} "
            f"{1000 * max(times, default=float('nan')):>8.0f} {result['errors']:>6} {result['timed out']:>16}"
        )


if __name__ == "__main__":
    main()
