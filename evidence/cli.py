"""Command line: parses arguments and hands over to the loader, the exporters and Datasette."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path

import click
from rich.console import Console

from . import exporting, formats, loader, store
from .errors import EvidenceError, NotAnEvidenceDatabase
from .fast import parallel
from .files import write_outcomes_beside, write_whole
from .formats.encoding import codec_name
from .selection import Selection, select_keys
from .tagging import curation

stderr = Console(stderr=True, soft_wrap=True, emoji=False)  # a key such as lxd1:loop: is text


class InputError(click.ClickException):
    """An argument the command cannot use (an input file that cannot be read, an unknown encoding): one line,
    ``Error: ...``, and exit status 2, as click gives for other bad arguments, before anything is read or written."""

    exit_code = 2


class EvidenceGroup(click.Group):
    """The command group: a named error (``errors.EvidenceError``) raised by any command ends it with one line,
    ``Error: ...``, and exit status 1, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except EvidenceError as exc:
            raise click.ClickException(str(exc)) from exc


class FormatChoice(click.Choice):
    """One of the format names ``names``, in any case, or a name the web or files give it: -f bib, -f csljson,
    -f json, -f APA, --format nbib."""

    def __init__(self, names: Iterable[str]):
        super().__init__(list(names))

    def convert(self, value, param, ctx):
        name = formats.format_named(value)
        return name if name in self.choices else super().convert(value, param, ctx)  # else the usual error


# Arguments and options that several commands share.
existing_db_argument = click.argument("db", type=click.Path(dir_okay=False, exists=True, path_type=Path))
vocab_option = click.option(
    "--vocab",
    "vocab_dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=loader.DATA_DIR / "vocabularies",
    show_default="data/vocabularies",
    help=(
        "Folder with the vocabularies that tags are checked against: conditions.yaml, designs.yaml, "
        "outcomes.yaml and comparators.yaml."
    ),
)
input_format_option = click.option(
    "--format",
    "format_name",
    type=FormatChoice(formats.READABLE),
    help=(
        "Read every file as this format (default: found from each file's text, else its extension); any case, "
        "or a suffix of its files (bib, json, nbib)."
    ),
)


def known_encoding(ctx: click.Context, param: click.Parameter, name: str | None) -> str | None:
    """The --encoding given, if Python has a text encoding of that name."""
    if name is not None and codec_name(name) is None:
        raise InputError(f"--encoding {name}: Python knows no text encoding of that name (e.g. utf-8, latin-9, gbk)")
    return name


encoding_option = click.option(
    "--encoding",
    callback=known_encoding,
    help=(
        "Text encoding of the files, any name Python knows (default: UTF-8; a file that is not UTF-8 is read "
        "as its first lines declare, else as charset-normalizer detects, with a warning showing the characters "
        "that gave)."
    ),
)


@click.group(cls=EvidenceGroup)
@click.version_option()
def cli():
    """evidence: a tagged SQLite database of research citations, published with Datasette."""


printed_option = click.option(
    "--printed",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help=(
        "A printed reference list (e.g. an article's citations) read as a second source of the studies of "
        "FILES: it fills only fields no other source gives, marked 'as printed, not verified', and adds no "
        "study of its own. Repeatable (for load: data/printed/*.txt when no FILES are given)."
    ),
)


@cli.command(short_help="Load bibliography files (BibTeX, RIS, MEDLINE, CSL-JSON, reference lists) into a database.")
@click.argument("db", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option("--strict", is_flag=True, help="Exit with status 1 if any entry had an error.")
@vocab_option
@input_format_option
@encoding_option
@click.option(
    "--claims",
    "claims_dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help=(
        "Folder with sources.yaml, claims.yaml and review_includes.yaml (default: data/ when no FILES "
        "are given, else none: the claims in the database stay as they are)."
    ),
)
@printed_option
@click.option("-q", "--quiet", is_flag=True, help="Print only errors and the summary line.")
@click.option(
    "--no-wait",
    is_flag=True,
    help="If another load of DB is running, fail at once instead of waiting for it to finish.",
)
def load(db, files, strict, vocab_dir, format_name, encoding, claims_dir, printed, quiet, no_wait):
    """Load FILES (BibTeX, RIS, PubMed MEDLINE, CSL-JSON or printed reference lists) into the SQLite
    database DB (created if missing).

    Without FILES the bundled corpus in data/ is loaded, with its articles and claims. Entries of one
    study in several files (or twice in one) become one study, with every source kept. Curated outcomes
    for NAME.bib are read from NAME.outcomes.yaml beside it. Every entry that can be loaded is loaded;
    the rest are printed with file, line and key, and kept in the load_errors table. Loading the same
    files again changes nothing; loading a changed file updates only the studies that changed. The
    database is written to a temporary file and swapped in at the end, so a running Datasette never
    sees a half-built one. One load of DB runs at a time: a second one waits for the first (or, with
    --no-wait, fails at once).
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    refuse_unusable_database(db)
    refuse_unreadable_inputs([*files, *printed])
    if not files and claims_dir is None:
        claims_dir = loader.DATA_DIR
    if not files and not printed:
        printed = loader.default_printed()
    files = list(files) or loader.default_inputs()
    if not files:
        raise click.ClickException(f"no FILES given and no .bib files in {loader.DATA_DIR}")
    with Progress(
        TextColumn("loading"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=stderr,
        transient=True,
        disable=quiet or not stderr.is_terminal,  # on a terminal only: elsewhere it would leave an empty line
    ) as progress:
        task = progress.add_task("load", total=None)
        summary = loader.load(
            db,
            files,
            vocab_dir,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
            format=format_name,
            encoding=encoding,
            claims_dir=claims_dir,
            printed=list(printed),
            wait=not no_wait,
            waiting=lambda message: stderr.print(message, markup=False, highlight=False),
        )
    for note in summary.notes:
        stderr.print(note, markup=False, style="yellow", highlight=False)
    for error in summary.errors:
        if error.severity == "error" or not quiet:
            style = "red" if error.severity == "error" else "yellow"
            stderr.print(str(error), markup=False, style=style, highlight=False)
    click.echo(f"{db}: {summary.line()}")
    if strict and summary.error_count:
        raise SystemExit(1)


def refuse_unusable_database(db: Path) -> None:
    """Refuse, before anything is read, a DB argument that cannot be a database: an input file given first
    (a suffix some format reads), a path in a folder that does not exist, or one that cannot be looked at."""
    if db.suffix.lower() in {suffix for f in formats.FORMATS.values() if f.read for suffix in f.suffixes}:
        raise NotAnEvidenceDatabase(
            f"{db}: a {db.suffix} file is an input, not a database; the database comes first: evidence load DB FILES"
        )
    if not db.parent.is_dir():
        raise NotAnEvidenceDatabase(f"{db}: the folder {db.parent} does not exist; create it first")
    try:
        db.stat()
    except FileNotFoundError:
        pass  # created by the load
    except OSError as exc:  # a symlink loop, say
        raise NotAnEvidenceDatabase(f"{db}: {exc.strerror}") from exc


def refuse_unreadable_inputs(files: Iterable[Path]) -> None:
    """Refuse, before anything is read, input files that cannot be read at all: missing, a folder, a pipe or
    device, a symlink loop, or not readable (every one of them, in one line)."""
    problems = [f"{path}: {problem}" for path in files if (problem := loader.unreadable(path))]
    if problems:
        raise InputError("; ".join(problems))


@cli.command(short_help="Check files without loading them: parse errors, duplicates, disagreements, unknown tags.")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@vocab_option
@input_format_option
@encoding_option
@printed_option
def check(files, vocab_dir, format_name, encoding, printed):
    """Check FILES without loading them: parse errors with file and line, entries that are the same
    study (within a file or across files), fields those entries disagree on, missing DOI and PMID,
    and unknown vocabulary terms. Exits with status 1 if anything is an error.

    \b
    Example:
      evidence check data/studies.bib my-zotero-export.ris pubmed.nbib
    """
    refuse_unreadable_inputs([*files, *printed])
    report = loader.check(list(files), vocab_dir, format_name, encoding, list(printed))
    for problem in report.problems:
        click.echo(str(problem))
    stderr.print(report.line(), markup=False, highlight=False)
    if any(p.severity == "error" for p in report.problems):
        raise SystemExit(1)


SUFFIX_MARKUP = {".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html"}


@cli.command(short_help="Export the studies that match the options as BibTeX, RIS, CSL-JSON, APA or Vancouver.")
@existing_db_argument
@click.option(
    "-f",
    "--format",
    "format_name",
    type=FormatChoice(exporting.FORMATS),
    default="bibtex",
    show_default=True,
    help=(
        "Bibliography format; apa and vancouver are formatted reference lists. Any case, or the name the "
        "web's export links use (bib, csljson) or a file suffix (json)."
    ),
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True, allow_dash=True, path_type=Path),
    help="File to write (default, or -: standard output).",
)
@click.option(
    "--markup",
    type=click.Choice(list(exporting.MARKUPS)),
    help="For apa and vancouver: text, markdown or html (default: from the --output suffix, else text).",
)
@click.option(
    "--condition",
    multiple=True,
    help="Condition id, label, synonym or MeSH heading (lumbago, CLBP); narrower conditions are included. Repeatable.",
)
@click.option("--design", multiple=True, help="Design id or label (e.g. rct). Repeatable.")
@click.option("--outcome", multiple=True, help="Outcome id or label (e.g. pain-intensity). Repeatable.")
@click.option("--since", type=int, help="Published in or after this year.")
@click.option("--until", type=int, help="Published in or before this year.")
@click.option("--key", "keys", multiple=True, help="Citation key. Repeatable.")
@click.option("--search", help="Full-text search of title, abstract, keywords, finding and authors (FTS5 syntax).")
@click.option("--sql", help="Any SQL query returning a key or study_key column.")
@click.option(
    "--no-outcomes",
    is_flag=True,
    help="With -f bibtex -o NAME.bib, do not write the curated outcomes to NAME.outcomes.yaml.",
)
def export(db, format_name, output, markup, condition, design, outcome, since, until, keys, search, sql, no_outcomes):
    """Export a bibliography of the studies in DB that match every option given (all of them by default).

    \b
    Examples:
      evidence export evidence.db --condition back-pain --design rct -o trials.bib
      evidence export evidence.db -f apa --since 2010 -o references.html
      evidence export evidence.db -f ris --search 'pregnan*'
      evidence export evidence.db -f csl-json --sql "select study_key from study_outcomes where direction = 'harm'"

    Studies come in bibliography order (first author, year, title); the count goes to standard error.
    A BibTeX export loads back with `evidence load` to the same studies and tags; with -o NAME.bib
    the curated outcomes are written beside it as NAME.outcomes.yaml, where the loader reads them.
    """
    if output == Path("-"):
        output = None
    if markup is not None and not exporting.FORMATS[format_name].formatted:
        raise click.UsageError("--markup applies to -f apa and -f vancouver only")
    if markup is None:
        markup = SUFFIX_MARKUP.get(output.suffix.lower(), "text") if output else "text"
    selection = Selection(
        conditions=condition,
        designs=design,
        outcomes=outcome,
        since=since,
        until=until,
        keys=keys,
        search=search,
        sql=sql,
    )
    exported: dict[str, list] = {}  # key -> curated outcomes of each study written, for the sidecar
    with exporting.snapshot(db) as version, parallel.workers():  # one version, even if a load swaps in another
        keys = select_keys(version.conn, selection)
        chunks = exporting.export(version, keys, format_name, markup, exported)
        if output is None:
            for chunk in chunks:
                click.echo(chunk, nl=False)
            written = []
        else:
            written = write_export(output, chunks, exported, with_outcomes=format_name == "bibtex" and not no_outcomes)
    sidecar = curation.sidecar_path(output) if output else None
    if format_name == "bibtex" and no_outcomes and sidecar and sidecar.exists():
        stderr.print(
            f"{sidecar} is beside {output} and will be loaded with it; remove it if it is not for this export",
            markup=False,
            highlight=False,
            style="yellow",
        )
    label = exporting.FORMATS[format_name].label
    if not exported:
        stderr.print("no studies matched the selection", markup=False, highlight=False, style="yellow")
    else:
        count = f"{len(exported)} {'study' if len(exported) == 1 else 'studies'}"
        stderr.print(
            f"{count} exported as {label}" + "".join(f"; wrote {p}" for p in written), markup=False, highlight=False
        )


def write_export(output: Path, chunks: Iterable[str], exported: dict[str, list], with_outcomes: bool) -> list[Path]:
    """Write the export to ``output`` (and, ``with_outcomes``, the curated outcomes beside it); the files
    written. A file that cannot be written is a one-line error naming it."""
    try:
        write_whole(output, chunks)
        sidecar = write_outcomes_beside(output, exported) if with_outcomes else None
    except OSError as exc:
        raise click.ClickException(f"cannot write {exc.filename}: {exc.strerror}") from exc
    return [output] if sidecar is None else [output, sidecar]


def datasette_file(ctx: click.Context, param: click.Parameter, path: Path | None) -> dict:
    """The Datasette settings or metadata in the --settings or --metadata file, checked as Datasette reads them;
    {} without one."""
    from .web import server

    read = server.read_settings if param.name == "settings" else server.read_metadata
    try:
        return read(path) if path else {}
    except server.BadSettings as exc:
        raise InputError(f"--{param.name} {exc}") from exc


@cli.command(short_help="Serve a database read-only in Datasette: study pages, evidence map, exports.")
@existing_db_argument
@click.option("-h", "--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "-p", "--port", default=8001, show_default=True, type=int, envvar="PORT", help="Port to listen on (or $PORT)."
)
@click.option(
    "-w",
    "--workers",
    default=parallel.cores(),
    show_default="the machine's cores, at most 4",
    type=click.IntRange(min=1),
    help="Server processes answering requests.",
)
@click.option(
    "--inspect-file",
    "given_inspect_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The table counts to serve with, as `datasette inspect DB --inspect-file FILE` wrote them; used as it is.",
)
@click.option(
    "--settings",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    callback=datasette_file,
    help=(
        "A JSON object of Datasette settings, as Datasette's settings.json: "
        '{"sql_time_limit_ms": 3000, "max_returned_rows": 1000, "default_cache_ttl": 3600}.'
    ),
)
@click.option(
    "--metadata",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    callback=datasette_file,
    help='Datasette metadata (JSON or YAML), e.g. {"title": "...", "plugins": {"evidence": {"hashed_urls": true}}}.',
)
def serve(db, host, port, workers, given_inspect_file, settings, metadata):
    """Serve the database DB read-only in Datasette, with the project's metadata, facets and queries.

    Table counts are counted once and kept beside DB (DB.inspect.json, as `datasette inspect` writes
    them) until DB changes, so pages of large tables do not count their rows on each request; with
    --inspect-file they are read from that file instead. Nothing is written beside DB when its folder
    cannot be written (the counts then go to a temporary file). Requests are answered by several
    processes, so that one slow export does not hold up the others, and the facets of a search or a
    filter (counted over every matching study) are counted at lower priority, so that other pages
    asked for meanwhile come first.
    """
    import uvicorn

    from .web import server  # Datasette: imported only to serve

    store.connect_readonly(db).close()  # a file that is not an evidence database is refused before serving
    try:
        server.refuse_port_in_use(host, port)
    except server.BadHost as exc:
        raise InputError(str(exc)) from exc
    except server.PortUnavailable as exc:
        raise click.ClickException(str(exc)) from exc
    with tempfile.TemporaryDirectory(prefix="evidence-serve-") as spare:
        counts = given_inspect_file or server.inspect_file(db, Path(spare), say)
        server.configure(db.resolve(), counts.resolve(), settings, metadata)
        running = {"host": host, "port": port, "workers": workers, "log_level": "info", "lifespan": "on"}
        uvicorn.run("evidence.web.server:app", factory=True, **running)


def say(line: str) -> None:
    """A line of what a command is doing, on standard error."""
    stderr.print(line, markup=False, highlight=False)


@cli.command(short_help="Write a Docker build context that serves a database, and each platform's deploy files.")
@existing_db_argument
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Folder to write to.")
@click.option("--platform", type=click.Choice(["cloudrun", "fly", "kubernetes"]), help="Add its files and commands.")
@click.option("--name", default="evidence", show_default=True, help="Service, app or Deployment name.")
@click.option("--image", help="Image name and tag (default: NAME:<the first 12 digits of the database's hash>).")
@click.option("--cache-ttl", type=click.IntRange(min=0), help="Seconds a page may be cached  [default: 3600]")
@click.option("--sql-time-limit-ms", type=click.IntRange(min=1), help="Time limit of a query  [default: Datasette's]")
@click.option("--max-returned-rows", type=click.IntRange(min=1), help="Rows a page returns  [default: Datasette's]")
@click.option("--facet-time-limit-ms", type=click.IntRange(min=1), help="Time limit of a facet  [default: Datasette's]")
@click.option(
    "-w",
    "--workers",
    default=8,
    show_default=True,
    type=click.IntRange(min=1),
    help="Processes a replica runs (4 a core).",
)
@click.option("--force", is_flag=True, help="Write into --out even if it is not empty (replacing what publish writes).")
def publish(db, out, platform, name, image, workers, force, **limits):
    """Write into the folder --out (empty, unless --force) a Docker build context that serves the database DB
    as `evidence serve` does, as a non-root user, read-only, with a health check: the database (hard-linked
    when it can be) and its table counts, a wheel of this project built from its source, settings.json and a
    Dockerfile; with --platform, also fly.toml or kubernetes.yaml. Then print the commands that build and
    run it, or deploy it to --platform.

    \b
    Examples:
      evidence publish evidence.db --out build/site
      evidence publish evidence.db --out build/site --platform cloudrun --name acupuncture-evidence
      evidence publish evidence.db --out build/k8s --platform kubernetes --image ghcr.io/me/evidence:2026-12
    """
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    from . import publish as publishing
    from .errors import NotAnEvidenceDatabase

    settings = publishing.served_settings(**limits)
    columns = (TextColumn("copying the database"), BarColumn(), DownloadColumn(), TimeRemainingColumn())
    with Progress(*columns, console=stderr, transient=True, disable=not stderr.is_terminal) as progress:
        task = progress.add_task("copy", total=None)

        def copying(done: int, total: int) -> None:
            if done <= publishing.COPY_CHUNK:
                say(f"copying {db} into {out} (another file system: no hard link), {total / 2**20:,.0f} MB")
            progress.update(task, completed=done, total=total)

        try:
            named = {"name": name, "platform": platform, "image": image}
            context = publishing.publish(
                db, out, **named, settings=settings, workers=workers, force=force, copying=copying
            )
        except (NotAnEvidenceDatabase, publishing.PublishRefused) as exc:
            raise InputError(str(exc)) from exc
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    say(f"wrote {out}: {', '.join(written)}")
    for line in publishing.commands(context):
        click.echo(line)


if __name__ == "__main__":  # python -m evidence.cli, as the evidence command
    cli()
