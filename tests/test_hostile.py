"""The hostile-input corpus (tests/hostile/cases.yaml): bad files, databases and options run through the real
command line on real files and SQLite databases. Each case must end as declared (exit status, message lines
naming file and line, the studies the database then holds) and never with a traceback."""

from __future__ import annotations

import codecs
import os
import re
import sqlite3
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from evidence.cli import cli

CASES_FILE = Path(__file__).parent / "hostile" / "cases.yaml"
CASES = yaml.safe_load(CASES_FILE.read_text(encoding="utf-8"))
KNOWN = {"id", "about", "files", "before", "args", "exit", "messages", "absent", "loaded", "queries", "unchanged"}


def part_bytes(part) -> bytes:
    """One part of a file: text (written as UTF-8), or ``{text: ...}`` / ``{bytes: ...}`` (Python escapes such as
    ``\\xff`` and ``\\r``) repeated ``times``."""
    if isinstance(part, str):
        return part.encode("utf-8")
    data = part["text"].encode("utf-8") if "text" in part else codecs.escape_decode(part["bytes"].encode("utf-8"))[0]
    return data * part.get("times", 1)


def make_file(folder: Path, name: str, spec) -> None:
    """Write one declared file: its parts joined, or a symlink, a folder or a named pipe."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(spec, dict) and "symlink" in spec:
        path.symlink_to(spec["symlink"])
    elif isinstance(spec, dict) and spec.get("folder"):
        path.mkdir()
    elif isinstance(spec, dict) and spec.get("fifo"):
        os.mkfifo(path)
    else:
        parts = spec if isinstance(spec, list) else [spec]
        path.write_bytes(b"".join(part_bytes(part) for part in parts))


def invoke(arguments: list[str]):
    """The real command group run in-process, its standard output and error together."""
    return CliRunner().invoke(cli, [str(a) for a in arguments])


def studies_in(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {key for (key,) in conn.execute("SELECT key FROM studies")}


def params() -> list:
    """Each case a test, those fixed on other branches marked xfail (strict)."""
    return [
        pytest.param(case, id=case["id"], marks=[pytest.mark.xfail(strict=True, reason=case["xfail"])])
        if "xfail" in case
        else pytest.param(case, id=case["id"])
        for case in CASES
    ]


def test_the_corpus_is_large_and_well_formed():
    ids = [case["id"] for case in CASES]
    assert len(ids) == len(set(ids)) >= 100
    for case in CASES:
        assert set(case) <= KNOWN | {"xfail"}, case["id"]
        assert {"messages", "loaded", "queries", "exit"} & set(case), f"{case['id']} expects nothing"
    suffixes = {Path(name).suffix for case in CASES for name in case.get("files", {})}
    assert {".bib", ".ris", ".nbib", ".json", ".txt"} <= suffixes


@pytest.mark.parametrize("case", params())
def test_hostile_case(case, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name, spec in case.get("files", {}).items():
        make_file(tmp_path, name, spec)
    if "before" in case:
        before = invoke(case["before"])
        assert before.exit_code == 0, before.output
    unchanged = {name: (tmp_path / name).read_bytes() for name in case.get("unchanged", [])}
    inputs = [
        name for name in case.get("files", {}) if not name.endswith(".yaml")
    ]  # sidecars are read beside their file
    result = invoke(case.get("args") or ["load", "evidence.db", *inputs])
    output = result.output
    assert "Traceback" not in output and not isinstance(result.exception, RecursionError), output
    assert result.exception is None or isinstance(result.exception, SystemExit), f"{result.exception!r}\n{output}"
    assert result.exit_code == case.get("exit", 0), output
    lines = output.splitlines()
    for pattern in case.get("messages", []):
        assert any(re.search(pattern, line) for line in lines), f"no line matches {pattern!r} in:\n{output}"
    for pattern in case.get("absent", []):
        assert not any(re.search(pattern, line) for line in lines), f"a line matches {pattern!r} in:\n{output}"
    if result.exit_code in (1, 2) and not case.get("loaded"):
        assert len([line for line in lines if line.startswith("Error: ")]) <= 1, output
    if "loaded" in case:
        assert studies_in(tmp_path / "evidence.db") == set(case["loaded"]), output
    for sql, expected in case.get("queries", []):
        with sqlite3.connect(tmp_path / "evidence.db") as conn:
            assert conn.execute(sql).fetchone()[0] == expected, sql
    for name, data in unchanged.items():
        assert (tmp_path / name).read_bytes() == data, f"{name} was changed"
