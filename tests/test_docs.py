"""README.md checked against the code: its command examples, its schema section and its module table."""

import re
import shlex
import sqlite3
from itertools import pairwise
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from evidence import store
from evidence.cli import cli

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
SHELL_FENCE = re.compile(r"^```(?:bash|sh|shell|console)\n(.*?)^```", re.MULTILINE | re.DOTALL)
BACKTICKED = re.compile(r"`([^`]+)`")
IDENTIFIER = re.compile(r"[A-Za-z_]\w*")


def section(title: str) -> str:
    """The README's text under ``## title``, up to the next heading of that level."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.MULTILINE | re.DOTALL)
    assert match, f"README.md has no '## {title}' section"
    return match.group(1)


def table_rows(text: str) -> list[list[str]]:
    """The cells of each body row of the Markdown tables in ``text`` (header and rule rows left out)."""
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in text.splitlines() if line.startswith("|")]
    rules = {i for i, row in enumerate(rows) if all(set(cell) <= set("-: ") for cell in row)}
    headers = {i - 1 for i in rules}
    return [row for i, row in enumerate(rows) if i not in rules | headers]


def command_examples() -> list[tuple[str, list[str]]]:
    """Each ``evidence ...`` command line in the README's shell blocks and in the commands' own help:
    (the line, its words after ``evidence``)."""
    lines = [line for block in SHELL_FENCE.findall(README) for line in block.splitlines()]
    helps = [line.strip() for command in cli.commands.values() for line in (command.help or "").splitlines()]
    lines += [line for line in helps if line.startswith("evidence ")]
    examples = []
    for line in lines:
        words = shlex.split(line, comments=True)
        starts = [i for i, word in enumerate(words) if word == "evidence" or word.endswith("/evidence")]
        if starts:
            examples.append((line, words[starts[0] + 1 :]))
    return examples


EXAMPLES = command_examples()


def test_the_readme_has_command_examples():
    assert {words[0] for _, words in EXAMPLES} >= {"load", "check", "export", "serve"}


@pytest.mark.parametrize("line, words", EXAMPLES, ids=[line for line, _ in EXAMPLES])
def test_command_example_names_a_real_command_and_real_options(line, words):
    assert words and words[0] in cli.commands, f"no command {words[:1]} in: {line}"
    command = cli.commands[words[0]]
    options = {opt: param for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    used = {word.split("=", 1)[0] for word in words[1:] if word.startswith("-") and word != "-"}
    assert used <= {*options, "--help"}, f"{line}: no option {sorted(used - set(options))} of `evidence {words[0]}`"
    for option, value in pairwise(words[1:]):  # a choice given is one of the option's choices, or a name for one
        choice = options[option].type if option in options else None
        if isinstance(choice, click.Choice):
            assert choice.convert(value, options[option], None) in choice.choices, f"{line}: {option} {value}?"


@pytest.mark.parametrize("arguments", [[], *([name] for name in cli.commands)], ids=["evidence", *cli.commands])
def test_help_runs(arguments):
    result = CliRunner().invoke(cli, [*arguments, "--help"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: {' '.join(['cli', *arguments])} ")
    command = cli.commands[arguments[0]] if arguments else cli
    assert [p.opts[0] for p in command.params if isinstance(p, click.Option) and p.opts[0] not in result.output] == []


def schema_objects(db: Path) -> set[str]:
    """The names of the database's tables and views, without the FTS5 index's own shadow tables."""
    with sqlite3.connect(db) as conn:
        names = [name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")]
        virtual = [name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE sql LIKE 'CREATE VIRTUAL%'")]
    conn.close()
    return {name for name in names if not any(name.startswith(f"{table}_") for table in virtual)}


def schema_names() -> set[str]:
    """The tables and views the schema section names: the first column of its table, and any marked (view)."""
    rows = table_rows(section("Schema"))
    named = {name for row in rows for name in BACKTICKED.findall(row[0])}
    named |= {name for row in rows for name in re.findall(r"`(\w+)` \(view\)", " ".join(row[1:]))}
    return named


def test_every_table_and_view_the_schema_section_names_exists(corpus_db):
    named = schema_names()
    assert {"studies", "claim_cards"} <= named  # the table is read, and a view marked as one
    assert sorted(named - schema_objects(corpus_db)) == []


def test_every_table_and_view_is_in_the_schema_section(corpus_db):
    mentioned = set(BACKTICKED.findall(section("Schema")))
    assert sorted(schema_objects(corpus_db) - mentioned) == []


def test_code_the_schema_section_names_exists():
    prose = "\n".join(line for line in section("Schema").splitlines() if not line.startswith("|"))
    names = BACKTICKED.findall(prose)
    missing = [name for name in names if "/" in name and not (ROOT / name).exists()]
    missing += [
        name
        for name in names
        if IDENTIFIER.fullmatch(name)
        and name.isupper()
        and not hasattr(store, name)
        and not hasattr(store.schema, name)
    ]
    assert missing == []


def modules() -> set[str]:
    """Every module of the package as a path from the repository (a package as its folder, ``evidence/x/``),
    without the top package itself."""
    paths = {path.relative_to(ROOT).as_posix() for path in (ROOT / "evidence").rglob("*.py")}
    return {path.removesuffix("__init__.py") for path in paths} - {"evidence/"}


def module_table_names() -> set[str]:
    """The paths the Code section's module table names: the first column, and the files a folder's row lists."""
    named = set()
    for row in table_rows(section("Code")):
        for path in BACKTICKED.findall(row[0]):
            named.add(path)
            if path.endswith("/"):
                named |= {path + name for name in BACKTICKED.findall(row[1]) if re.fullmatch(r"\w+\.\w+", name)}
    return named


def test_module_table_is_found():
    """The table and the package are both read (so that the test below fails for what it says, if it fails)."""
    assert "evidence/cli.py" in module_table_names() & modules()


def test_module_table_names_every_module_and_nothing_else():
    named = module_table_names()
    assert {"missing": sorted(modules() - named), "not there": sorted(p for p in named if not (ROOT / p).exists())} == {
        "missing": [],
        "not there": [],
    }
