"""Load input files into the database: read, tag, store; report what could not be loaded."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import store
from .curation import read_outcomes, sidecar_path
from .readers import read_file
from .records import LoadError, split_source
from .tagger import TaggedStudy, tag_study
from .vocabulary import load_vocabulary

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
        return (f"{self.studies} studies ({self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
                f"{self.removed} removed), {self.tags} tags, {self.error_count} errors, "
                f"{self.warning_count} warnings in {self.seconds:.2f}s")


def default_inputs(data_dir: Path = DATA_DIR) -> list[Path]:
    """The bundled corpus: every BibTeX file in data/."""
    return sorted(data_dir.glob("*.bib"))


def display_path(path: Path, base: Path) -> str:
    """How a file is named in errors and provenance: relative to the database's folder when inside it,
    so the same file keeps the same name whatever directory the load runs from."""
    relative = os.path.relpath(path.resolve(), base.resolve())
    return path.resolve().as_posix() if relative.startswith("..") else Path(relative).as_posix()


def load(db_path: Path, files: list[Path], vocab_dir: Path = DATA_DIR / "vocabularies",
         progress: Callable[[int, int], None] | None = None, format: str | None = None,
         encoding: str | None = None) -> LoadSummary:
    """Load ``files`` into the database at ``db_path``; every loadable entry loads, whatever else fails.
    ``format`` and ``encoding`` override what each file's extension and bytes say."""
    started = time.perf_counter()
    summary = LoadSummary()
    vocab = load_vocabulary(vocab_dir)
    base = db_path.parent
    labels: list[str] = []
    tagged_by_file: dict[str, list[TaggedStudy]] = {}
    for path in dict.fromkeys(p.resolve() for p in files):
        label = display_path(path, base)
        labels.append(label)
        result = read_file(path, label, format, encoding) if path.exists() else None
        tagged_by_file[label] = _tag(path, label, result, base, vocab, summary.errors, labels)

    if db_path.exists() and not store.is_current(db_path):
        summary.notes.append(f"{db_path} was built by another version of evidence: rebuilt from the given files only")
    with store.building(db_path) as db:
        store.save_vocabulary(db, vocab)
        kept = _drop_clashing_keys(db, tagged_by_file, summary.errors)
        _warn_duplicate_identifiers(db, kept, summary.errors)
        total = len(kept)
        for done, tagged in enumerate(kept, start=1):
            outcome = store.save_study(db, tagged)
            setattr(summary, outcome, getattr(summary, outcome) + 1)
            summary.tags += len(tagged.conditions) + len(tagged.outcomes) + (tagged.design is not None)
            if progress:
                progress(done, total)
        for label, studies in tagged_by_file.items():
            file_errors = [e for e in summary.errors if e.file == label]
            if any(e.severity == "error" and e.line is None and e.entry_key is None for e in file_errors):
                continue  # the file could not be read at all: keep what it loaded before
            # an entry that failed this time keeps its earlier version rather than vanishing
            keep = {t.record.key for t in studies} | {e.entry_key for e in file_errors if e.entry_key}
            summary.removed += store.remove_studies_not_in(db, label, keep)
        store.prune_vocabulary(db, vocab)
        store.prune_authors(db)
        store.replace_errors(db, labels, summary.errors)
    summary.studies = total
    summary.seconds = time.perf_counter() - started
    return summary


def _tag(path: Path, label: str, result, base: Path, vocab, errors: list[LoadError], labels: list[str]) -> list[TaggedStudy]:
    """Tag what was read from one file, with the curated outcomes of its sidecar."""
    if result is None:
        errors.append(LoadError(label, None, None, "file not found"))
        return []
    errors.extend(result.errors)
    outcomes: dict = {}
    sidecar = sidecar_path(path)
    sidecar_label = display_path(sidecar, base)
    labels.append(sidecar_label)  # so errors of a sidecar that was since fixed or deleted are cleared
    if sidecar.exists():
        outcomes, sidecar_errors = read_outcomes(sidecar, sidecar_label)
        errors.extend(sidecar_errors)
        known = {r.key for r in result.records}
        for key in sorted(set(outcomes) - known):
            _, line = split_source(outcomes[key][0].source)
            errors.append(LoadError(sidecar_label, line, key, f"outcomes given for '{key}', which {label} does not load"))
    tagged = []
    for record in result.records:
        study, tag_errors = tag_study(record, outcomes.get(record.key, []), vocab)
        errors.extend(tag_errors)
        tagged.append(study)
    return tagged


def _drop_clashing_keys(db, tagged_by_file: dict[str, list[TaggedStudy]], errors: list[LoadError]) -> list[TaggedStudy]:
    """A key already held by another file is not loaded again: that would silently replace a study."""
    owner = {key: (file, line) for key, file, line in
             db.execute("SELECT key, source_file, source_line FROM studies WHERE source_file NOT IN "
                        f"({', '.join('?' * len(tagged_by_file))})", list(tagged_by_file))}
    kept = []
    for label, studies in tagged_by_file.items():
        for tagged in studies:
            r = tagged.record
            if r.key in owner and owner[r.key][0] != label:
                file, line = owner[r.key]
                errors.append(LoadError(label, r.source_line, r.key,
                                        f"duplicate key: {file}:{line} already holds this key; this entry was not loaded"))
                continue
            owner[r.key] = (label, r.source_line)
            kept.append(tagged)
    return kept


def _warn_duplicate_identifiers(db, kept: list[TaggedStudy], errors: list[LoadError]) -> None:
    """Two keys with one DOI or PMID are probably one study twice: both load, and the pair is reported."""
    loading = {t.record.key for t in kept}
    for column in ("doi", "pmid"):
        seen = {value: (key, file, line) for key, value, file, line in
                db.execute(f"SELECT key, {column}, source_file, source_line FROM studies WHERE {column} IS NOT NULL")
                if key not in loading}
        for tagged in kept:
            r = tagged.record
            value = getattr(r, column)
            if not value:
                continue
            if value in seen and seen[value][0] != r.key:
                key, file, line = seen[value]
                errors.append(LoadError(r.source_file, r.source_line, r.key,
                                        f"duplicate {column.upper()} {value}: also on '{key}' ({file}:{line})",
                                        severity="warning"))
            else:
                seen.setdefault(value, (r.key, r.source_file, r.source_line))
