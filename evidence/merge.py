"""One study from many sources: records of the same study (matched as evidence.matching says) become one, keeping the curated or most complete value of each field and recording
where the sources disagree."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from . import fields
from .matching import Entry, clusters, doubt_warning
from .records import LoadError, OutcomeTag, StudyRecord, TakenKeys, fold, split_source


@dataclass
class Source:
    """One entry of one input file, with the curated outcomes its sidecar gives it."""

    record: StudyRecord
    outcomes: list[OutcomeTag] = field(default_factory=list)
    order: int = 0  # when it was first loaded: merging takes sources in this order, whatever file is reloaded

    @property
    def where(self) -> str:
        return f"{self.record.source_file}:{self.record.source_line}"

    @property
    def is_curated(self) -> bool:
        return bool(self.record.tags or self.outcomes)

    @property
    def is_printed(self) -> bool:
        """Parsed from a printed reference list: what a citing article printed, not a checked record."""
        return self.record.source_format == "reference-list"


# The kinds of Disagreement: two sources give different values, or the value kept comes from a printed
# citation because no other source of the study gives one (``other_value`` is then empty).
DIFFERS = "differs"
AS_PRINTED = "as printed, not verified"


@dataclass
class Disagreement:
    """Two sources of one study that give a field different values; ``kept`` is the one the study shows."""

    field: str
    kept_value: str
    kept_source: str
    other_value: str
    other_source: str
    kind: str = DIFFERS


@dataclass
class MergedStudy:
    """A study made from one or more sources, best first: ``sources[0]`` gives every field it has, the
    others fill the fields it lacks."""

    record: StudyRecord
    outcomes: list[OutcomeTag]
    sources: list[Source]
    matched_on: list[str]  # per source: "first" (it started the study), "doi", "pmid" or "title-year-author"
    named_by: Source  # the source whose key the study has
    disagreements: list[Disagreement] = field(default_factory=list)

    def as_printed(self, source: Source) -> list[str]:
        """The fields the study takes from ``source`` as printed, unconfirmed by any other source."""
        return [d.field for d in self.disagreements if d.kind == AS_PRINTED and d.kept_source == source.where]


# Fields merged by value (the best source's: see _rank), and by the union of every source's items (the field
# table's merge rules); the rest (key, source, authors, tags) are handled on their own.
TEXT_FIELDS = ("entry_type", "title", *(f.attribute for f in fields.FIELDS if f.merge == "first"))
LIST_FIELDS = tuple(f.attribute for f in fields.LIST_FIELDS if f.merge == "union")


@dataclass(slots=True)  # one for each study of a large load
class Planned:
    """A study as merging plans it: its entries (first loaded first), what matched each, and the key it gets
    when a made-up key must give way (None: the key of its named_by source)."""

    entries: list[Entry]
    matched_on: list[str]
    rename: bool = False
    key: str | None = None  # the key it takes instead (made when it is combined in order)


@dataclass
class Plan:
    """The studies a load makes, the errors and warnings it gives, and the possible duplicates it left apart
    (which ``evidence check`` tells)."""

    studies: list[Planned]
    errors: list[LoadError]
    possible_duplicates: list[LoadError]


def plan(
    entries: list[Entry], read_back: Callable, read_now: set[str] | None = None, adds_only: frozenset[str] = frozenset()
) -> Plan:
    """Group the entries (in the order they were first loaded) into studies, as evidence.matching says,
    whatever the order they come in; an identifier that joins two titles, or would join different items,
    is a warning on the entry of a file in ``read_now`` (None: any) naming both (titles read back with
    ``read_back``). A key two studies claim stays with the first; a later study with the same key is an
    error and not loaded, unless its key was made up: then it takes another (``rename``; made-up keys
    always give way to given ones). Entries of the files in ``adds_only`` (printed citations loaded as a second
    source) only add to studies of other files: one that matches none is a warning and not loaded."""
    found, doubts = clusters(entries)
    studies = [Planned([e for e, _ in cluster], [how for _, how in cluster]) for cluster in found]
    unmatched = [study for study in studies if all(e.file in adds_only for e in study.entries)]
    studies = [study for study in studies if study not in unmatched]
    named = [_named_by(study.entries) for study in studies]
    owner: dict[str, Entry] = {}
    kept: list[int] = []
    errors: list[LoadError] = []
    given_first = sorted(range(len(studies)), key=lambda i: named[i].key_made)
    for index in given_first:
        study, name = studies[index], named[index]
        if name.key in owner and name.key_made:
            study.rename = True
        elif name.key in owner:
            for entry in study.entries:
                errors.append(
                    LoadError(
                        entry.file,
                        entry.line,
                        entry.key,
                        f"duplicate key: {owner[name.key].file}:"
                        f"{owner[name.key].line} holds this key for a different study; this entry "
                        "was not loaded",
                    )
                )
            continue
        owner[name.key] = name
        kept.append(index)
    errors += [
        LoadError(e.file, e.line, e.key, UNMATCHED, severity="warning") for study in unmatched for e in study.entries
    ]
    told = [d for d in doubts if d.kind != "near"]
    records = read_back([e.place for d in told for e in (d.entry, d.other)])
    pairs = zip(records[0::2], records[1::2])
    errors += [doubt_warning(d, (here.title, there.title), read_now) for d, (here, there) in zip(told, pairs)]
    near = [doubt_warning(d, None, read_now) for d in doubts if d.kind == "near"]
    return Plan([studies[i] for i in sorted(kept)], [e for e in errors if e], [e for e in near if e])


UNMATCHED = (
    "this printed citation matches no study of the other files, so it was not loaded: a printed source only "
    "adds to the studies it matches"
)


def study_keys(studies: list[Planned]) -> TakenKeys:
    """The keys the planned studies have before any gives way: those a new made-up key must avoid."""
    return TakenKeys(_named_by(study.entries).key for study in studies)


def _named_by(entries: list):
    """The source whose key a study has: its first curated one, or else the first loaded (so that loading a
    richer record later, or reloading one file, does not rename a study)."""
    return next((e for e in entries if e.is_curated), entries[0])


def combine(records: list[StudyRecord], study: Planned) -> MergedStudy:
    """The study made of the planned entries' records (read back from the spool), with the key made for it
    if it has one (rename)."""
    sources = [Source(record, entry.outcomes, entry.order) for record, entry in zip(records, study.entries)]
    merged = _combine(list(zip(sources, study.matched_on)))
    if study.key is not None:
        merged.record.key = study.key
    return merged


def _rank(item: tuple[int, tuple[Source, str]]) -> tuple:
    """Curated sources first, then sources read from structured formats, then the most complete."""
    order, (source, _) = item
    r = source.record
    filled = sum(bool(getattr(r, name)) for name in TEXT_FIELDS) + bool(r.authors)
    return (not source.is_curated, r.source_format == "reference-list", -filled, order)


def _combine(cluster: list[tuple[Source, str]]) -> MergedStudy:
    ranked = [item for _, item in sorted(enumerate(cluster), key=_rank)]
    sources = [source for source, _ in ranked]
    named_by = _named_by([source for source, _ in cluster])  # its key, and where the study is said to come from
    values = {
        name: next((getattr(s.record, name) for s in sources if getattr(s.record, name)), None) for name in TEXT_FIELDS
    }
    # the first of the longest lists (rank breaks ties), of a printed citation only if no other source has one
    with_authors = [s for s in sources if s.record.authors and not s.is_printed] or sources
    longest = max(with_authors, key=lambda s: len(s.record.authors))
    authors_source = next(s for s in with_authors if len(s.record.authors) == len(longest.record.authors))
    record = replace(
        named_by.record,
        **values,
        title_nocase=next((s.record.title_nocase for s in sources if s.record.title == values["title"]), []),
        authors=list(authors_source.record.authors),
        more_authors=authors_source.record.more_authors,
        tags=_union(s.record.tags for s in sources),
        mesh_major=_union(s.record.mesh_major for s in sources),
        extra={k: v for s in reversed(sources) for k, v in s.record.extra.items()},
        **{name: _union(getattr(s.record, name) for s in sources) for name in LIST_FIELDS},
    )
    study = MergedStudy(record, _union(s.outcomes for s in sources), sources, [how for _, how in ranked], named_by)
    if len(sources) > 1:  # one source cannot disagree with itself
        study.disagreements = _disagreements(study, authors_source)
    return study


def _union(lists) -> list:
    return list(dict.fromkeys(item for items in lists for item in items))


def _disagreements(study: MergedStudy, authors_source: Source) -> list[Disagreement]:
    """Every field where a source gives a value that differs from the kept one (beyond case and punctuation), and
    every field kept from a printed citation that no other source of the study confirms (AS_PRINTED)."""
    found = []
    checked = next((s for s in study.sources if not s.is_printed), None)
    kept_from = {
        name: next(s for s in study.sources if getattr(s.record, name) == getattr(study.record, name))
        for name in TEXT_FIELDS
        if getattr(study.record, name)
    }
    if checked is not None:
        for name, kept in kept_from.items():
            if kept.is_printed:
                found.append(
                    Disagreement(name, str(getattr(study.record, name)), kept.where, "", checked.where, AS_PRINTED)
                )
        if authors_source.is_printed and study.record.authors:
            names = "; ".join(p.family for p in study.record.authors)
            found.append(Disagreement("authors", names, authors_source.where, "", checked.where, AS_PRINTED))
    for source in study.sources:
        for name, kept in kept_from.items():
            value = getattr(source.record, name)
            if value and fold(str(value)) != fold(str(getattr(study.record, name))):
                found.append(Disagreement(name, str(getattr(study.record, name)), kept.where, str(value), source.where))
        families = [p.family for p in source.record.authors]
        kept_families = [p.family for p in study.record.authors]
        if families and [fold(f) for f in families] != [fold(f) for f in kept_families[: len(families)]]:
            found.append(
                Disagreement(
                    "authors", "; ".join(kept_families), authors_source.where, "; ".join(families), source.where
                )
            )
    return found


def warnings(study: MergedStudy) -> list[LoadError]:
    """What ``evidence check`` says of a study of several sources: which entries are the same study, and
    the fields they disagree on."""
    found = []
    key_source = f"{study.record.source_file}:{study.record.source_line} [{study.record.key}]"
    for source, how in zip(study.sources, study.matched_on):
        r = source.record
        if source is not study.named_by:
            found.append(
                LoadError(
                    r.source_file,
                    r.source_line,
                    r.key,
                    f"same study as {key_source} (matched on {how}); they load as one",
                    severity="warning",
                )
            )
    key_at = {s.where: s.record.key for s in study.sources}  # a place names one entry (or the first of a line)
    for d in study.disagreements:
        if d.kind == AS_PRINTED:
            file, line = split_source(d.kept_source)
            found.append(
                LoadError(
                    file,
                    line,
                    key_at[d.kept_source],
                    f"{d.field} {d.kept_value!r} kept {AS_PRINTED}: {d.other_source} gives none",
                    severity="warning",
                )
            )
            continue
        file, line = split_source(d.other_source)
        found.append(
            LoadError(
                file,
                line,
                key_at[d.other_source],
                f"{d.field} differs: {d.other_value!r} here, {d.kept_value!r} at {d.kept_source} (kept)",
                severity="warning",
            )
        )
    return found
