"""Command line: parses arguments and hands over to the loader and Datasette."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from . import loader
from .vocabulary import VocabularyError

stderr = Console(stderr=True, soft_wrap=True)


@click.group()
@click.version_option()
def cli():
    """evidence: a tagged SQLite database of research citations, published with Datasette."""


@cli.command()
@click.argument("db", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--strict", is_flag=True, help="Exit with status 1 if any entry had an error.")
@click.option("--vocab", "vocab_dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              default=loader.DATA_DIR / "vocabularies", show_default="data/vocabularies",
              help="Folder with conditions.yaml, designs.yaml, outcomes.yaml and comparators.yaml.")
@click.option("-q", "--quiet", is_flag=True, help="Print only errors and the summary line.")
def load(db, files, strict, vocab_dir, quiet):
    """Load BibTeX FILES into the SQLite database DB (created if missing).

    Without FILES the bundled corpus in data/ is loaded. Curated outcomes for NAME.bib are read from
    NAME.outcomes.yaml beside it. Every entry that can be loaded is loaded; the rest are printed with
    file, line and key, and kept in the load_errors table. Loading the same files again changes
    nothing; loading a changed file updates only the studies that changed. The database is written
    to a temporary file and swapped in at the end, so a running Datasette never sees a half-built one.
    """
    files = list(files) or loader.default_inputs()
    if not files:
        raise click.ClickException(f"no FILES given and no .bib files in {loader.DATA_DIR}")
    with Progress(TextColumn("loading"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=stderr, transient=True, disable=quiet) as progress:
        task = progress.add_task("load", total=None)
        try:
            summary = loader.load(db, files, vocab_dir,
                                  progress=lambda done, total: progress.update(task, completed=done, total=total))
        except VocabularyError as exc:
            raise click.ClickException(str(exc)) from exc
    for note in summary.notes:
        stderr.print(note, markup=False, style="yellow", highlight=False)
    for error in summary.errors:
        if error.severity == "error" or not quiet:
            stderr.print(str(error), markup=False, style="red" if error.severity == "error" else "yellow", highlight=False)
    click.echo(f"{db}: {summary.line()}")
    if strict and summary.error_count:
        raise SystemExit(1)


@cli.command()
@click.argument("db", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("-h", "--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("-p", "--port", default=8001, show_default=True, type=int, help="Port to listen on.")
def serve(db, host, port):
    """Serve the database DB read-only in Datasette, with the project's metadata, facets and queries."""
    from datasette.cli import cli as datasette_cli

    datasette_cli.main(["serve", "--immutable", str(db), "--host", host, "--port", str(port)],
                       prog_name="evidence serve")
