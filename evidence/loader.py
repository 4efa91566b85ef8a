"""Load input files into the database: read → plan (merge) → build (tag, rows) → save → refresh; report what
could not be loaded."""

from __future__ import annotations

import os
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from . import store
from .evidence_layer.claims import read_layer
from .evidence_layer.saving import save_evidence_layer
from .fast import parallel, pieces
from .fast.pieces import read_files
from .fast.spool import Kept, Spool, keeper
from .matching import Entry, describe
from .merge import Planned, combine, plan, study_keys, warnings
from .records import LoadError, StudyRecord, make_key, split_source
from .tagging.curation import read_outcomes, sidecar_of
from .tagging.tagger import tag_study
from .tagging.vocabulary import Vocabulary, load_vocabulary

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("EVIDENCE_DATA", PROJECT_ROOT / "data"))


@dataclass
class LoadSummary:
    """What a load did, for the one-line report and for tests."""

    studies: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    merged: int = 0  # entries that turned out to be a study already read, and joined it
    claims: int = 0
    tags: int = 0
    errors: list[LoadError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    keys: set[str] = field(default_factory=set, repr=False)  # of the studies saved

    @property
    def error_count(self) -> int:
        return sum(e.severity == "error" for e in self.errors)

    @property
    def warning_count(self) -> int:
        return sum(e.severity == "warning" for e in self.errors)

    def line(self) -> str:
        merged = f"; {self.merged} duplicate entries merged" if self.merged else ""
        claims = f", {self.claims} claims" if self.claims else ""
        return (
            f"{self.studies} studies ({self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.removed} removed{merged}), {self.tags} tags{claims}, {self.error_count} errors, "
            f"{self.warning_count} warnings in {self.seconds:.2f}s"
        )


def default_inputs(data_dir: Path = DATA_DIR) -> list[Path]:
    """The bundled corpus: every BibTeX file in data/."""
    return sorted(data_dir.glob("*.bib"))


def default_printed(data_dir: Path = DATA_DIR) -> list[Path]:
    """The bundled printed citations, a second source of the corpus: every reference list in data/printed/."""
    return sorted((data_dir / "printed").glob("*.txt"))


PRINTED_FORMAT = "reference-list"  # how a file given as printed citations is read, whatever else is said


def display_path(path: Path, base: Path) -> str:
    """How a file is named in errors and provenance: relative to the database's folder when inside it,
    so the same file keeps the same name whatever directory the load runs from."""
    resolved = os.path.realpath(path)  # unlike Path.resolve, never raises (a symlink loop stays as it is)
    relative = os.path.relpath(resolved, os.path.realpath(base))
    return Path(resolved).as_posix() if relative.startswith("..") else Path(relative).as_posix()


def unreadable(path: Path) -> str | None:
    """Why an input file cannot be read, or None if it can: missing, a symlink loop, a directory, a pipe or
    device (which could block for ever), or not readable."""
    try:
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            return "is a folder, not a file; give the files in it"
        if not stat.S_ISREG(mode):
            return "is not a regular file (a pipe, socket or device); save it to a file first"
        with open(path, "rb"):
            return None
    except FileNotFoundError:
        return "file not found"
    except OSError as exc:
        return f"cannot be read: {exc.strerror or exc}"


@dataclass
class Inputs:
    """Everything read from the input files: their names, their entries (the records themselves spooled),
    and what failed."""

    labels: list[str] = field(default_factory=list)  # the files and their outcome sidecars
    printed: frozenset[str] = frozenset()  # the files of printed citations, which only add to other files' studies
    entries: list[Entry] = field(default_factory=list)
    errors: list[LoadError] = field(default_factory=list)

    @cached_property
    def read(self) -> set[tuple[str, str]]:
        """(file, key) of each entry read."""
        return {(entry.file, entry.key) for entry in self.entries}

    def unreadable(self, label: str) -> bool:
        """Whether the file could not be read at all (so what it loaded before stays)."""
        return any(
            e.file == label and e.severity == "error" and e.line is None and e.entry_key is None for e in self.errors
        )

    def keeps_earlier(self, label: str, key: str) -> bool:
        """Whether an entry the file held before keeps its earlier version: it was not read this time and
        failed (by its key), or some entry of the file failed without a key to tell which one it was."""
        if (label, key) in self.read:
            return False
        failed = [e for e in self.errors if e.file == label and e.severity == "error"]
        return any(e.entry_key == key or e.entry_key is None for e in failed)


def read_inputs(
    files: list[Path],
    base: Path,
    spool: Spool | Kept,
    format: str | None = None,
    encoding: str | None = None,
    printed: list[Path] = (),
) -> Inputs:
    """Read every file (once, whatever the spelling of its path) and the outcomes sidecar beside it, and the
    ``printed`` files as reference lists, writing the records to ``spool``."""
    printed_paths = {Path(os.path.realpath(p)) for p in printed}
    inputs = Inputs(printed=frozenset(display_path(p, base) for p in printed_paths))
    files = [*files, *printed]
    if sum(path.stat().st_size for path in files if path.is_file()) >= pieces.PARALLEL_FROM:
        parallel.reserve()  # the workers of the steps after reading, forked before this process holds the entries
    given = [(path, display_path(path, base)) for path in dict.fromkeys(Path(os.path.realpath(p)) for p in files)]
    problems = [unreadable(path) for path, _ in given]
    results = read_files(
        [
            (path, label, PRINTED_FORMAT if path in printed_paths else format)
            for (path, label), problem in zip(given, problems)
            if not problem
        ],
        encoding,
        spool,
    )
    for (path, label), problem in zip(given, problems):
        inputs.labels.append(label)
        if problem:
            inputs.errors.append(LoadError(label, None, None, problem))
            continue
        result = next(results)
        inputs.errors.extend(result.errors)
        sidecar = sidecar_of(path)
        outcomes: dict = {}
        if sidecar is not None:
            sidecar_label = display_path(sidecar, base)
            inputs.labels.append(sidecar_label)  # so errors of a sidecar since fixed or deleted are cleared
            outcomes = _sidecar_outcomes(sidecar, sidecar_label, label, result.records, inputs.errors)
        for entry in result.records:
            if entry.key in outcomes:
                entry.outcomes = outcomes[entry.key]
        inputs.entries += result.records
    spool.close()
    parallel.release()  # the workers that read the files kept much of what they read with; tagging needs none of it
    return inputs


def _sidecar_outcomes(sidecar: Path, sidecar_label: str, label: str, records: list, errors: list[LoadError]) -> dict:
    """The curated outcomes in a BibTeX file's sidecar, if it has one, by key; its problems added to ``errors``."""
    problem = unreadable(sidecar)
    if problem == "file not found":
        return {}
    if problem:
        errors.append(LoadError(sidecar_label, None, None, problem))
        return {}
    outcomes, sidecar_errors = read_outcomes(sidecar, sidecar_label)
    errors.extend(sidecar_errors)
    known = {entry.key for entry in records}
    for key in sorted(set(outcomes) - known):
        _, line = split_source(outcomes[key][0].source)
        errors.append(LoadError(sidecar_label, line, key, f"outcomes given for '{key}', which {label} does not load"))
    return outcomes


# Studies combined and tagged together in one worker; with fewer studies than BUILD_IN_WORKERS_FROM, they are
# built here: starting workers, whose caches start empty, would cost more than it saves.
TAG_BATCH = 500
BUILD_IN_WORKERS_FROM = 2000


def build(studies: list[Planned], vocab: Vocabulary, read_back: Callable, rows: bool = True) -> Iterator[tuple]:
    """For each planned study, in order: its database rows (``rows``), the problems its tags have, and
    (for a study of several sources) what ``evidence check`` says of them. The studies are combined from
    their spooled records, tagged and turned into rows in batches, in the workers when there are several."""
    taken = study_keys(studies)

    def batches() -> Iterator[tuple]:
        for start in range(0, len(studies), TAG_BATCH):
            batch = studies[start : start + TAG_BATCH]
            for study in batch:  # rare: a made-up key gives way to another study's (in order, as keys are taken)
                if study.rename:
                    study.key = make_key(combine(_records(study.entries, read_back), study).record, taken)
            yield vocab, batch, rows, read_back

    in_workers = len(studies) >= BUILD_IN_WORKERS_FROM
    for results in parallel.map_batches(_build_batch, batches()) if in_workers else map(_build_batch, batches()):
        yield from results


def _build_batch(work: tuple[Vocabulary, list[Planned], bool, Callable]) -> list[tuple]:
    """In a worker: ``build``'s results for a batch of planned studies."""
    vocab, batch, rows, read_back = work
    records = iter(_records([e for study in batch for e in study.entries], read_back))
    results = []
    for study in batch:
        merged = combine([next(records) for _ in study.entries], study)
        tagged, errors = tag_study(merged.record, merged.outcomes, vocab)
        results.append(
            (
                store.study_rows(tagged, merged) if rows else None,
                errors,
                warnings(merged) if len(merged.sources) > 1 else [],
            )
        )
    return results


def _records(entries: list[Entry], read_back: Callable) -> list[StudyRecord]:
    """The entries' spooled records, each with the key its entry has (a file read in pieces settles keys
    after its records are spooled)."""
    records = read_back([e.place for e in entries])
    for record, entry in zip(records, entries):
        record.key, record.key_made = entry.key, entry.key_made
    return records


def load(
    db_path: Path,
    files: list[Path],
    vocab_dir: Path = DATA_DIR / "vocabularies",
    progress: Callable[[int, int], None] | None = None,
    format: str | None = None,
    encoding: str | None = None,
    claims_dir: Path | None = None,
    wait: bool = True,
    waiting: Callable[[str], None] | None = None,
    printed: list[Path] = (),
) -> LoadSummary:
    """Load ``files`` into the database at ``db_path``; every loadable entry loads, whatever else fails.
    Entries of one study in several files (or twice in one) become one study. ``format`` and
    ``encoding`` override what each file's extension and bytes say. With ``claims_dir``, the articles,
    claims and review inclusions there replace those in the database. The ``printed`` files (reference lists,
    such as an article's printed citations) are a second source: their entries join the studies of the other
    files they match, never override a value another source gives, and one that matches none is a warning
    and not loaded. One load of a database runs at a
    time: another waits for it (told so through ``waiting``), or without ``wait`` raises LoadInProgress.

    Read the files, plan which entries are one study (with those an earlier load holds from other files),
    build each study (combine, tag, make its rows), save the rows, refresh what is computed from them."""
    started = time.perf_counter()
    summary = LoadSummary()
    vocab = load_vocabulary(vocab_dir)
    with (
        store.one_writer(db_path, wait, waiting),
        parallel.workers(),
        tempfile.TemporaryDirectory(dir=db_path.parent, prefix=store.spool_prefix(db_path)) as folder,
    ):
        kept = keeper(Path(folder), describe)
        inputs = read_inputs(files, db_path.parent, kept, format, encoding, printed)
        summary.errors = inputs.errors
        if db_path.exists() and not store.is_current(db_path):
            summary.notes.append(
                f"{db_path} was built by another version of evidence: rebuilt from the given files only"
            )
        with store.building(db_path) as db, store.indexes_after(db):
            store.save_vocabulary(db, vocab)
            planned = plan(_with_stored(db, inputs, kept), kept.read_back, set(inputs.labels), inputs.printed)
            studies = planned.studies
            summary.errors += planned.errors
            summary.studies = len(studies)
            summary.merged = sum(len(study.entries) - 1 for study in studies)
            built = _rows_of(build(studies, vocab, kept.read_back), summary)
            counts = store.save_studies(db, built, progress and (lambda done: progress(done, len(studies))))
            summary.added, summary.updated, summary.unchanged = counts["added"], counts["updated"], counts["unchanged"]
            _refresh(db, db_path, vocab, inputs, summary, claims_dir)
    summary.seconds = time.perf_counter() - started
    return summary


def _rows_of(built: Iterator[tuple], summary: LoadSummary) -> Iterator[store.StudyRows]:
    """The rows of the studies as they are built, their tags' problems and their keys noted in ``summary``."""
    summary.keys = set()
    for rows, tag_errors, _ in built:
        summary.errors.extend(tag_errors)
        summary.tags += rows.tags
        summary.keys.add(rows.key)
        yield rows


def _refresh(
    db, db_path: Path, vocab: Vocabulary, inputs: Inputs, summary: LoadSummary, claims_dir: Path | None
) -> None:
    """After the studies are saved: remove those no input holds, prune unused terms and authors, save the
    evidence layer, refresh the summary tables and record the load's errors."""
    summary.removed = store.remove_studies_except(db, summary.keys)
    store.prune_vocabulary(db, vocab)
    store.prune_authors(db)
    if claims_dir is not None:
        layer = read_layer(claims_dir, lambda path: display_path(path, db_path.parent))
        summary.errors += layer.errors + save_evidence_layer(db, layer)
        summary.claims = len(layer.claims)
        inputs.labels += layer.labels
    store.refresh_summaries(db)
    store.replace_errors(db, inputs.labels, summary.errors)


def _with_stored(db, inputs: Inputs, spool: Spool | Kept) -> list[Entry]:
    """The entries read now and those recorded by an earlier load that stay (spooled too), in load order:
    each entry read now keeps the place it had, if it was loaded before."""
    had: dict[tuple[str, str], int] = {}
    kept: list[Entry] = []
    for source, file, key, order in store.read_sources(db, lambda file, key: _keep(file, key, inputs)):
        had[file, key] = order
        if source is not None:
            entry = spool(source.record)
            entry.outcomes, entry.order = source.outcomes, order
            kept.append(entry)
    spool.close()
    following = max(had.values(), default=0)
    for entry in inputs.entries:
        order = had.get((entry.file, entry.key))
        if order is None:
            following += 1
            order = following
        entry.order = order
    return sorted(kept + inputs.entries, key=lambda e: e.order)


@dataclass
class CheckReport:
    """What ``evidence check`` found: every problem as a LoadError, and the counts for its last line."""

    files: int
    entries: int
    studies: int
    problems: list[LoadError]

    def line(self) -> str:
        errors = sum(p.severity == "error" for p in self.problems)
        duplicates = self.entries - self.studies
        return (
            f"{self.files} files, {self.entries} entries, {self.studies} studies "
            f"({duplicates} duplicate {'entry' if duplicates == 1 else 'entries'}): {errors} errors, "
            f"{len(self.problems) - errors} warnings"
        )


def check(
    files: list[Path],
    vocab_dir: Path = DATA_DIR / "vocabularies",
    format: str | None = None,
    encoding: str | None = None,
    printed: list[Path] = (),
) -> CheckReport:
    """Everything a load would report for ``files`` (and ``printed``, as ``load`` reads them), plus duplicate
    entries and fields their sources disagree on, without touching a database."""
    vocab = load_vocabulary(vocab_dir)
    with parallel.workers(), tempfile.TemporaryDirectory(prefix="evidence-spool-") as folder:
        kept = keeper(Path(folder), describe)
        inputs = read_inputs(files, Path.cwd(), kept, format, encoding, printed)
        problems = list(inputs.errors)
        planned = plan(inputs.entries, kept.read_back, adds_only=inputs.printed)
        studies = planned.studies
        problems += planned.errors + planned.possible_duplicates
        merged: list[LoadError] = []
        for _, tag_errors, notes in build(studies, vocab, kept.read_back, rows=False):  # tagging finds unknown terms
            problems += tag_errors
            merged += notes
    problems += merged
    problems.sort(key=lambda p: (p.file, p.line or 0))
    return CheckReport(
        len(inputs.labels) - sum(label.endswith(".outcomes.yaml") for label in inputs.labels),
        len(inputs.entries),
        len(studies),
        problems,
    )


def _keep(file: str, key: str, inputs: Inputs) -> bool:
    """Whether a source recorded by an earlier load stays: its file was not loaded now, could not be
    read, or its entry failed this time."""
    return file not in inputs.labels or inputs.unreadable(file) or inputs.keeps_earlier(file, key)
