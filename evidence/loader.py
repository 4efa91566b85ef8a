"""Load input files into the database: read, tag, store; report what could not be loaded."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from . import parallel, store
from .claims import read_layer
from .curation import read_outcomes, sidecar_path
from .merge import MergedStudy, Source, merge
from .readers import read_file
from .records import LoadError, split_source
from .tagger import TaggedStudy, tag_study
from .vocabulary import Vocabulary, load_vocabulary

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

    @property
    def error_count(self) -> int:
        return sum(e.severity == "error" for e in self.errors)

    @property
    def warning_count(self) -> int:
        return sum(e.severity == "warning" for e in self.errors)

    def line(self) -> str:
        merged = f"; {self.merged} duplicate entries merged" if self.merged else ""
        claims = f", {self.claims} claims" if self.claims else ""
        return (f"{self.studies} studies ({self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
                f"{self.removed} removed{merged}), {self.tags} tags{claims}, {self.error_count} errors, "
                f"{self.warning_count} warnings in {self.seconds:.2f}s")


def default_inputs(data_dir: Path = DATA_DIR) -> list[Path]:
    """The bundled corpus: every BibTeX file in data/."""
    return sorted(data_dir.glob("*.bib"))


def display_path(path: Path, base: Path) -> str:
    """How a file is named in errors and provenance: relative to the database's folder when inside it,
    so the same file keeps the same name whatever directory the load runs from."""
    relative = os.path.relpath(path.resolve(), base.resolve())
    return path.resolve().as_posix() if relative.startswith("..") else Path(relative).as_posix()


@dataclass
class Inputs:
    """Everything read from the input files: their names, their entries as sources, and what failed."""

    labels: list[str] = field(default_factory=list)  # the files and their outcome sidecars
    sources: list[Source] = field(default_factory=list)
    errors: list[LoadError] = field(default_factory=list)

    def unreadable(self, label: str) -> bool:
        """Whether the file could not be read at all (so what it loaded before stays)."""
        return any(e.file == label and e.severity == "error" and e.line is None and e.entry_key is None
                   for e in self.errors)

    def keeps_earlier(self, label: str, key: str) -> bool:
        """Whether an entry the file held before keeps its earlier version: it was not read this time and
        failed (by its key), or some entry of the file failed without a key to tell which one it was."""
        if any(s.record.source_file == label and s.record.key == key for s in self.sources):
            return False
        failed = [e for e in self.errors if e.file == label and e.severity == "error"]
        return any(e.entry_key == key or e.entry_key is None for e in failed)


def read_inputs(files: list[Path], base: Path, format: str | None = None, encoding: str | None = None) -> Inputs:
    """Read every file (once, whatever the spelling of its path) and the outcomes sidecar beside it."""
    inputs = Inputs()
    for path in dict.fromkeys(p.resolve() for p in files):
        label = display_path(path, base)
        inputs.labels.append(label)
        if not path.exists():
            inputs.errors.append(LoadError(label, None, None, "file not found"))
            continue
        result = read_file(path, label, format, encoding)
        inputs.errors.extend(result.errors)
        sidecar = sidecar_path(path)
        sidecar_label = display_path(sidecar, base)
        inputs.labels.append(sidecar_label)  # so errors of a sidecar that was since fixed or deleted are cleared
        outcomes: dict = {}
        if sidecar.exists():
            outcomes, sidecar_errors = read_outcomes(sidecar, sidecar_label)
            inputs.errors.extend(sidecar_errors)
            known = {r.key for r in result.records}
            for key in sorted(set(outcomes) - known):
                _, line = split_source(outcomes[key][0].source)
                inputs.errors.append(LoadError(sidecar_label, line, key,
                                               f"outcomes given for '{key}', which {label} does not load"))
        inputs.sources += [Source(record, outcomes.get(record.key, [])) for record in result.records]
    return inputs


def combine(sources: list[Source], vocab: Vocabulary, errors: list[LoadError]) -> tuple[list[MergedStudy], Iterator[TaggedStudy]]:
    """Merge the sources into studies, and tag each as the second result is read (so that what is tagged
    can be stored while the workers tag the rest); problems are added to ``errors``."""
    studies, merge_errors = merge(sources)
    errors.extend(merge_errors)

    def tagged() -> Iterator[TaggedStudy]:
        for one, tag_errors in tag_all(studies, vocab):
            errors.extend(tag_errors)
            yield one

    return studies, tagged()


# Studies tagged together in one worker.
TAG_BATCH = 500


def tag_all(studies: list[MergedStudy], vocab: Vocabulary) -> Iterator[tuple[TaggedStudy, list[LoadError]]]:
    """``tag_study`` for each study, in order, in batches (spread over the workers when there are several)."""
    batches = [(vocab, [(s.record, s.outcomes) for s in studies[i:i + TAG_BATCH]])
               for i in range(0, len(studies), TAG_BATCH)]
    for (_, batch), results in zip(batches, parallel.map_batches(_tag_batch, batches)):
        for (record, _), (design, conditions, outcomes, errors) in zip(batch, results):
            yield TaggedStudy(record, design, conditions, outcomes), errors


def _tag_batch(work: tuple[Vocabulary, list[tuple]]) -> list[tuple]:
    """The tags of each (record, curated outcomes), without the record (the caller has it)."""
    vocab, batch = work
    results = []
    for record, outcomes in batch:
        one, errors = tag_study(record, outcomes, vocab)
        results.append((one.design, one.conditions, one.outcomes, errors))
    return results


def load(db_path: Path, files: list[Path], vocab_dir: Path = DATA_DIR / "vocabularies",
         progress: Callable[[int, int], None] | None = None, format: str | None = None,
         encoding: str | None = None, claims_dir: Path | None = None) -> LoadSummary:
    """Load ``files`` into the database at ``db_path``; every loadable entry loads, whatever else fails.
    Entries of one study in several files (or twice in one) become one study. ``format`` and
    ``encoding`` override what each file's extension and bytes say. With ``claims_dir``, the articles,
    claims and review inclusions there replace those in the database."""
    started = time.perf_counter()
    summary = LoadSummary()
    vocab = load_vocabulary(vocab_dir)
    with parallel.workers():
        inputs = read_inputs(files, db_path.parent, format, encoding)
        summary.errors = inputs.errors
        if db_path.exists() and not store.is_current(db_path):
            summary.notes.append(f"{db_path} was built by another version of evidence: rebuilt from the given files only")
        studies, tagged = _store(db_path, vocab, inputs, summary, progress, claims_dir)
    summary.studies = len(tagged)
    summary.merged = sum(len(study.sources) - 1 for study in studies)
    summary.seconds = time.perf_counter() - started
    return summary


def _store(db_path: Path, vocab: Vocabulary, inputs: Inputs, summary: LoadSummary,
           progress: Callable[[int, int], None] | None,
           claims_dir: Path | None) -> tuple[list[MergedStudy], list[TaggedStudy]]:
    """Merge what was read with what the database holds from other files, tag, and write it all."""
    with store.building(db_path) as db, store.indexes_after(db):
        store.save_vocabulary(db, vocab)
        stored = store.read_sources(db)
        kept = [s for s in stored if _keep(s, inputs)]
        _number(inputs.sources, stored)
        studies, tagging = combine(sorted(kept + inputs.sources, key=lambda s: s.order), vocab, summary.errors)
        tagged: list[TaggedStudy] = []

        def collected() -> Iterator[TaggedStudy]:  # stored as the workers tag them, and kept for the summary
            for one in tagging:
                tagged.append(one)
                yield one

        counts = store.save_studies(db, collected(), progress and (lambda done: progress(done, len(studies))))
        summary.added, summary.updated, summary.unchanged = counts["added"], counts["updated"], counts["unchanged"]
        summary.tags = sum(len(one.conditions) + len(one.outcomes) + (one.design is not None) for one in tagged)
        store.save_sources(db, studies)
        summary.removed = store.remove_studies_except(db, {t.record.key for t in tagged})
        store.prune_vocabulary(db, vocab)
        store.prune_authors(db)
        if claims_dir is not None:
            layer = read_layer(claims_dir, lambda path: display_path(path, db_path.parent))
            summary.errors += layer.errors + store.save_evidence_layer(db, layer)
            summary.claims = len(layer.claims)
            inputs.labels += layer.labels
        store.refresh_summaries(db)
        store.replace_errors(db, inputs.labels, summary.errors)
    return studies, tagged


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
        return (f"{self.files} files, {self.entries} entries, {self.studies} studies "
                f"({duplicates} duplicate {'entry' if duplicates == 1 else 'entries'}): {errors} errors, "
                f"{len(self.problems) - errors} warnings")


def check(files: list[Path], vocab_dir: Path = DATA_DIR / "vocabularies", format: str | None = None,
          encoding: str | None = None) -> CheckReport:
    """Everything a load would report for ``files``, plus duplicate entries and fields their sources
    disagree on, without touching a database."""
    vocab = load_vocabulary(vocab_dir)
    with parallel.workers():
        inputs = read_inputs(files, Path.cwd(), format, encoding)
        problems = list(inputs.errors)
        studies, tagging = combine(inputs.sources, vocab, problems)
        list(tagging)  # tagging finds unknown terms
    for study in studies:
        key_source = f"{study.record.source_file}:{study.record.source_line} [{study.record.key}]"
        for source, how in zip(study.sources, study.matched_on):
            r = source.record
            if source is not study.named_by:
                problems.append(LoadError(r.source_file, r.source_line, r.key,
                                          f"same study as {key_source} (matched on {how}); they load as one",
                                          severity="warning"))
        key_at = {s.where: s.record.key for s in study.sources}  # a place names one entry (or the first of a line)
        for d in study.disagreements:
            file, line = split_source(d.other_source)
            problems.append(LoadError(file, line, key_at[d.other_source],
                                      f"{d.field} differs: {d.other_value!r} here, {d.kept_value!r} at {d.kept_source} "
                                      "(kept)", severity="warning"))
    problems.sort(key=lambda p: (p.file, p.line or 0))
    return CheckReport(len(inputs.labels) - sum(label.endswith(".outcomes.yaml") for label in inputs.labels),
                       len(inputs.sources), len(studies), problems)


def _number(new: list[Source], stored: list[Source]) -> None:
    """Give each source read now its place in the load order: the one it had, if it was loaded before."""
    had = {(s.record.source_file, s.record.key): s.order for s in stored}
    following = max(had.values(), default=0)
    for source in new:
        order = had.get((source.record.source_file, source.record.key))
        if order is None:
            following += 1
            order = following
        source.order = order


def _keep(source: Source, inputs: Inputs) -> bool:
    """Whether a source recorded by an earlier load stays: its file was not loaded now, could not be
    read, or its entry failed this time."""
    file = source.record.source_file
    return file not in inputs.labels or inputs.unreadable(file) or inputs.keeps_earlier(file, source.record.key)
