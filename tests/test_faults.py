"""Faults: two loads of one database at once, a load killed or stopped midway, a full disk, an export and a
server during a reload. Real processes (the command line run by the interpreter), real files, real SQLite."""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from evidence import exporting, loader
from evidence.fast import parallel
from evidence.web import server

ROOT = Path(__file__).resolve().parent.parent
STUDIES = loader.DATA_DIR / "studies.bib"
FIXTURES = Path(__file__).parent / "fixtures"


def evidence(*arguments, **popen) -> subprocess.Popen:
    """`evidence ARGUMENTS` in a process of its own, running this checkout."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-c", "from evidence.cli import cli; cli()", *map(str, arguments)]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def finished(process: subprocess.Popen, timeout: float = 300) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def rows(db: Path) -> dict[str, list]:
    """Every row of every table, sorted."""
    conn = sqlite3.connect(db)
    try:
        tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: sorted(map(repr, conn.execute(f'SELECT * FROM "{t}"'))) for t in tables}
    finally:
        conn.close()


def keys(db: Path) -> set[str]:
    conn = sqlite3.connect(db)
    try:
        return {key for (key,) in conn.execute("SELECT key FROM studies")}
    finally:
        conn.close()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".build-" in p.name or "spool" in p.name or p.suffix == ".tmp")


@pytest.fixture(scope="module")
def large_bib(tmp_path_factory) -> Path:
    """3,000 generated studies (about 6 MB: read in pieces by the workers), a load of several seconds."""
    folder = tmp_path_factory.mktemp("large")
    subprocess.run(
        [sys.executable, ROOT / "scripts" / "make_corpus.py", "3000", "--out", folder, "--formats", "bib"],
        check=True,
        capture_output=True,
    )
    return folder / "corpus.bib"


def test_two_loads_at_once_keep_both_files(tmp_path):
    """Two loads of different files into one database, started together: both exit 0 and both files' studies
    are in the database (the second waited for the first)."""
    db = tmp_path / "evidence.db"
    first, second = evidence("load", db, STUDIES), evidence("load", db, FIXTURES / "zotero.ris")
    results = [finished(first), finished(second)]
    assert [code for code, _, _ in results] == [0, 0], results
    alone = tmp_path / "alone"
    alone.mkdir()
    loader.load(alone / "a.db", [STUDIES])
    loader.load(alone / "b.db", [FIXTURES / "zotero.ris"])
    assert keys(db) == keys(alone / "a.db") | keys(alone / "b.db")
    assert leftovers(tmp_path) == []


def test_a_second_load_waits_or_fails_at_once_with_no_wait(tmp_path):
    db = tmp_path / "evidence.db"
    with open(tmp_path / "evidence.db.lock", "a+") as lock:  # as a running load holds it
        fcntl.flock(lock, fcntl.LOCK_EX)
        lock.write("12345")
        lock.flush()
        code, _, err = finished(evidence("load", "--no-wait", db, STUDIES))
        assert code == 1
        assert err.strip() == (f"Error: {db} is being loaded by another process (pid 12345); not waiting (--no-wait)")
        waiting = evidence("load", db, STUDIES)
        time.sleep(3)
        assert waiting.poll() is None and not db.exists()  # still waiting
    code, out, err = finished(waiting)
    assert code == 0, err
    assert f"waiting for another load of {db} (pid 12345) to finish..." in err
    assert "32 studies" in out


def test_a_load_swaps_in_only_over_the_database_it_started_from(tmp_path):
    """A database changed by another program during a build is not overwritten: a clear error, no build left."""
    from evidence import store
    from evidence.errors import DatabaseChanged

    db = tmp_path / "evidence.db"
    loader.load(db, [STUDIES])
    before = rows(db)
    with pytest.raises(DatabaseChanged, match="was changed by another program while this load was building"):
        with store.building(db) as build:
            build.execute("DELETE FROM studies_fts")
            os.utime(db, ns=(0, 0))  # another program's write
    assert rows(db) == before
    assert leftovers(tmp_path) == []


def orphans(marker: str) -> list[int]:
    """Processes still running whose command line names ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    status = (entry / "status").read_text()
                    if "State:\tZ" not in status:
                        found.append(int(entry.name))
            except OSError:
                continue
    return found


def started_building(folder: Path, process: subprocess.Popen, timeout: float = 120) -> None:
    """Wait until the load has a spool folder (it reads), and a little more."""
    deadline = time.monotonic() + timeout
    while not any("spool" in p.name for p in folder.iterdir()):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.05)
    time.sleep(1.5)


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_a_load_stopped_midway_leaves_the_database_as_it_was(tmp_path, large_bib, how):
    """Killed (SIGKILL): the old database is intact, its worker processes end with it, and the next load removes
    what it left behind. Stopped (SIGTERM, Ctrl-C): it removes its own temporary files on the way out."""
    folder = tmp_path / "db"
    folder.mkdir()
    db = folder / "evidence.db"
    loader.load(db, [STUDIES])
    before = rows(db)
    process = evidence("load", db, large_bib)
    started_building(folder, process)
    process.send_signal(how)
    code, _, err = finished(process)
    assert code != 0
    assert "Traceback" not in err
    assert rows(db) == before
    time.sleep(0.5)
    assert orphans(str(large_bib)) == []  # no worker outlives the load
    if how == signal.SIGKILL:
        assert leftovers(folder)  # the spool folder at least
        summary = loader.load(db, [STUDIES])
        assert summary.unchanged == 32
    assert leftovers(folder) == []


def tmpfs(folder: Path, size: str) -> None:
    folder.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs to fill takes root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", folder], capture_output=True)
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")


@pytest.fixture
def small_disk(tmp_path):
    folder = tmp_path / "disk"
    yield folder
    subprocess.run(["umount", folder], capture_output=True)


def test_a_full_disk_while_spooling_is_one_line_and_changes_nothing(small_disk, large_bib):
    tmpfs(small_disk, "2m")
    db = small_disk / "evidence.db"
    loader.load(db, [STUDIES])
    before = rows(db)
    code, _, err = finished(evidence("load", db, large_bib))
    assert code == 1
    assert err.strip().splitlines() == [
        f"Error: no space left on device while writing the load's records in {small_disk}/"
        + err.split(f"{small_disk}/")[1].split(";")[0]
        + "; the database is unchanged"
    ]
    assert ".evidence-spool-evidence.db-" in err
    assert rows(db) == before
    assert leftovers(small_disk) == []


def test_a_full_disk_while_copying_the_database_is_one_line_and_changes_nothing(tmp_path, small_disk):
    built = tmp_path / "evidence.db"
    loader.load(built, [STUDIES, FIXTURES / "tricky.bib", FIXTURES / "zotero.ris"])
    size = built.stat().st_size
    tmpfs(small_disk, str(size * 3 // 2))  # the database fits once, not twice
    db = small_disk / "evidence.db"
    shutil.copy(built, db)
    before = rows(db)
    code, _, err = finished(evidence("load", db, STUDIES))
    assert code == 1
    assert err.strip() == (
        f"Error: no space left on device while writing the new copy of {db}; the database is unchanged"
    )
    assert rows(db) == before
    assert leftovers(small_disk) == []


def test_an_export_during_a_reload_is_of_one_version(tmp_path, monkeypatch):
    """A BibTeX export read in batches, with a load swapping in another version between two batches: every
    entry is of the version the export started from; the next export is all of the new one."""
    db, bib = tmp_path / "evidence.db", tmp_path / "studies.bib"
    original = STUDIES.read_text(encoding="utf-8")
    changed = original.replace("title = {", "title = {Changed ")

    def load(text: str) -> None:
        bib.write_text(text, encoding="utf-8")
        loader.load(db, [bib])

    load(original)
    keys_then = sorted(keys(db))
    old = "".join(exporting.export(db, keys_then, "bibtex"))
    monkeypatch.setattr(exporting, "BATCH", 2)
    for with_workers in (False, True):
        load(original)
        with parallel.workers() if with_workers else open(os.devnull):
            chunks = exporting.export(db, keys_then, "bibtex")
            text = next(chunks) + next(chunks)
            load(changed)
            text += "".join(chunks)
        assert text == old
    new = "".join(exporting.export(db, keys_then, "bibtex"))
    assert new.count("title = {Changed") == len(keys_then)


@pytest.fixture
def served(tmp_path) -> Path:
    """A database as `evidence serve` serves it (its counts counted once into DB.inspect.json)."""
    db = tmp_path / "evidence.db"
    loader.load(db, [STUDIES])
    server.configure(db, server.inspect_file(db, tmp_path, print))
    return db


@pytest.mark.asyncio
async def test_the_server_refuses_to_mix_versions_after_a_reload(served):
    """Pages are read from the file the server opened: once a load swaps in another, the server answers 503,
    asking for a restart, rather than pages of the old version beside exports of the new."""
    db = served
    transport = httpx.ASGITransport(app=server.app())
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        assert (await client.get("/evidence/studies.json")).status_code == 200
        assert (await client.get("/evidence/studies.bib")).status_code == 200
        loader.load(db, [STUDIES, FIXTURES / "zotero.ris"])
        for path in ("/evidence/studies.json", "/evidence/studies.bib", "/-/evidence-map"):
            response = await client.get(path)
            assert response.status_code == 503
            assert response.text == (
                "evidence.db was reloaded since this server started; restart evidence serve to serve the new version\n"
            )
