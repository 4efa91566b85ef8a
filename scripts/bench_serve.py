#!/usr/bin/env python3
"""Serving benchmark: a large database built by `evidence load`, served by `evidence serve`, driven by
concurrent clients on the loopback interface for a bounded time.

    python scripts/bench_serve.py --studies 1000000 --work bench-serve

builds (once; kept in the work folder for later runs) a corpus with scripts/make_corpus.py and loads it
with `evidence load`, starts `evidence serve` on 127.0.0.1 on a free port as a published replica serves
(the settings and metadata `evidence publish` writes, ``--workers`` processes), and has ``--clients``
clients request, in turn, for ``--seconds``: the study cards page with its default facets, a full-text
search (the JSON of the first page of matches, as a search box asks for it), the search results page
with its facets, the "studies for a condition" canned query, the evidence map, and a BibTeX export of
``--export`` studies, at the database's hashed route (as its pages link), asking for
gzip as browsers do (``--no-gzip``: not). Prints p50 / p95 / max latency, the errors and the pages whose
facets ran out of time, of each; the load average before and during the run; and the CPU time the server
(all its processes) and the clients used, against the CPU time the machine's cores had; then stops the
server. The server runs the `evidence` package this script imports: to
measure other code on the same database, put that code first on PYTHONPATH (the header names the package).
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from gzip import decompress
from pathlib import Path
from urllib.parse import quote

from bench import process_tree, tree_memory_kb  # scripts/bench.py, beside this script

import evidence
from evidence import publish, store

BIN = Path(sys.executable).parent
SCRIPTS = Path(__file__).resolve().parent
SEARCHES = ["migraine", "insomnia", "fibromyalgia", "moxibustion", "Oswestry", "pelvic girdle"]
CONDITIONS = ["migraine", "insomnia", "neck-pain", "fibromyalgia"]
FACETS_TIMED_OUT = b'class="facets-timed-out"'  # what Datasette's page says when a facet ran out of time
FACETED = ("faceted page", "search page with facets")  # the pages read for it (the clients' CPU counts too)


def requests(route: str, export: int) -> dict[str, list[str]]:
    """What the clients ask for: kind -> paths (taken in turn), under the database's ``route``."""
    return {
        "faceted page": [f"/{route}/study_cards"],
        "full-text search": [f"/{route}/study_cards.json?_search={quote(term)}&_nofacet=1" for term in SEARCHES],
        "search page with facets": [f"/{route}/study_cards?_search={quote(term)}" for term in SEARCHES],
        "studies for a condition": [f"/{route}/studies_for_condition?condition={c}" for c in CONDITIONS],
        "evidence map": [f"/{route}/evidence_map"],
        f"BibTeX export of {export} studies": [
            f"/{route}.bib?sql=" + quote(f"select key from studies where rowid <= {export}")
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


def get(port: int, path: str, gzip: bool = False) -> tuple[int, bytes]:
    """Status and body (as sent: compressed when ``gzip``) of one GET on a connection of its own."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("GET", path, headers={"Accept-Encoding": "gzip"} if gzip else {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def database_route(port: int) -> str:
    """The route of the database named evidence: /evidence, or /evidence-HASH when the server hashes its URLs."""
    databases = json.loads(get(port, "/-/databases.json")[1])
    return next(d["route"] for d in databases if d["name"] == "evidence")


def machine_busy(seconds: float = 2) -> float:
    """The share of the machine's CPU time that was not idle over the next ``seconds`` (from /proc/stat)."""

    def times() -> list[int]:
        with open("/proc/stat") as stat:
            return [int(value) for value in stat.readline().split()[1:]]

    before = times()
    time.sleep(seconds)
    spent = [after - start for after, start in zip(times(), before)]
    return 1 - (spent[3] + spent[4]) / sum(spent)  # idle and iowait


def cpu_seconds(root: int) -> float:
    """User and system CPU time of process ``root`` and all its descendants, from /proc."""
    total = 0.0
    for pid in process_tree(root):
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


class LoadAverage:
    """The 1-minute load average, and the memory of the server's processes, sampled every second while a run
    lasts."""

    def __init__(self, server: int) -> None:
        self.server = server
        self.samples: list[float] = []
        self.memory_kb = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.sample, daemon=True)

    def sample(self) -> None:
        while not self.stop.wait(1):
            self.samples.append(os.getloadavg()[0])
            self.memory_kb = max(self.memory_kb, tree_memory_kb(self.server))

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()


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


def drive(port: int, kinds: dict[str, list[str]], clients: int, seconds: float, gzip: bool) -> dict[str, dict]:
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
                status, body = get(port, next(paths[kind]), gzip)
                failed = status != 200
                timed_out = kind in FACETED and FACETS_TIMED_OUT in (decompress(body) if gzip else body)
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
    parser.add_argument("--no-gzip", dest="gzip", action="store_false", help="clients do not ask for gzip")
    parser.add_argument(
        "--workers", type=int, default=publish.WORKERS, help="server processes (as a published replica)"
    )
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    db = build(args.studies, args.work)
    port = free_port()
    as_published = []  # as a replica that `evidence publish` builds serves it: its settings, its hashed URLs
    for option, name, content in (
        ("--settings", "settings.json", publish.served_settings()),
        ("--metadata", "metadata.json", publish.METADATA),
    ):
        (args.work / name).write_text(json.dumps(content))
        as_published += [option, str(args.work / name)]
    server = subprocess.Popen(
        [str(BIN / "evidence"), "serve", str(db), "--port", str(port), "--workers", str(args.workers), *as_published],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_up(port, server)
        route = database_route(port)
        kinds = requests(route, args.export)
        for paths in kinds.values():  # once each, so that every run starts with warm caches
            for path in paths:
                get(port, path, args.gzip)
        busy_before, load_before = machine_busy(), os.getloadavg()[0]
        server_cpu, clients_cpu, started = cpu_seconds(server.pid), time.process_time(), time.perf_counter()
        with LoadAverage(server.pid) as load:
            results = drive(port, kinds, args.clients, args.seconds, args.gzip)
        server_cpu, clients_cpu = cpu_seconds(server.pid) - server_cpu, time.process_time() - clients_cpu
        wall = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait()
    print(
        f"{db} ({args.studies} studies) at /{route}, {args.clients} clients for {args.seconds:.0f} s"
        f"{', asking for gzip' if args.gzip else ''}, served by {Path(evidence.__file__).parent}:"
    )
    cores = os.cpu_count()
    answered = sum(len(result["times"]) for result in results.values())
    print(
        f"  {answered} requests answered in {wall:.1f} s: {answered / wall:.1f} per second; memory of the server's"
        f" processes (PSS) at most {load.memory_kb / 1024:,.0f} MB"
    )
    print(
        f"  CPU busy in the 2 s before the run: {busy_before:.0%}; load average (1 min): {load_before:.2f} before,"
        f" {max(load.samples, default=load_before):.2f} at most during"
        f" the run; CPU time: server {server_cpu:.1f} s, clients {clients_cpu:.1f} s, of {wall * cores:.1f} s that"
        f" {cores} cores had ({(server_cpu + clients_cpu) / (wall * cores):.0%})"
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
