"""One study from many sources: records of the same study (matched on DOI, then PMID, then title + year +
first author) become one, keeping the curated or most complete value of each field and recording
where the sources disagree."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace

from . import fields
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


@dataclass
class Disagreement:
    """Two sources of one study that give a field different values; ``kept`` is the one the study shows."""

    field: str
    kept_value: str
    kept_source: str
    other_value: str
    other_source: str


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


# Fields merged by value (the best source's: see _rank), and by the union of every source's items (the field
# table's merge rules); the rest (key, source, authors, tags) are handled on their own.
TEXT_FIELDS = ("entry_type", "title", *(f.attribute for f in fields.FIELDS if f.merge == "first"))
LIST_FIELDS = tuple(f.attribute for f in fields.LIST_FIELDS if f.merge == "union")


def identity_title(record: StudyRecord) -> tuple[str, int | None, str] | None:
    """Normalised title, year and first author's family name: the last resort for matching."""
    if not (record.title and record.year and record.authors):
        return None
    return (fold(record.title), record.year, fold(record.authors[0].family))


@dataclass(slots=True)
class Entry:
    """What merging needs to know of one source: its identifiers, its curated outcomes, and where its
    record was spooled (the record itself is read back only to combine the study it joins)."""

    key: str
    file: str
    line: int
    key_made: bool
    doi: str | None
    pmid: str | None
    title: bytes | None  # a digest of identity_title
    tagged: bool  # the record has curated tags
    place: object  # where the record was kept (evidence.fast.spool)
    outcomes: list[OutcomeTag] | tuple = ()  # most have none: one empty tuple for all
    order: int = 0

    @property
    def is_curated(self) -> bool:
        return self.tagged or bool(self.outcomes)


def describe(record: StudyRecord, place: object) -> Entry:
    """The Entry of a record spooled at ``place``."""
    identity = identity_title(record)
    digest = hashlib.blake2b(repr(identity).encode(), digest_size=12).digest() if identity else None
    return Entry(
        record.key,
        record.source_file,
        record.source_line,
        record.key_made,
        record.doi,
        record.pmid,
        digest,
        bool(record.tags),
        place,
    )


@dataclass(slots=True)  # one for each study of a large load
class Planned:
    """A study as merging plans it: its entries (first loaded first), what matched each, and the key it gets
    when a made-up key must give way (None: the key of its named_by source)."""

    entries: list[Entry]
    matched_on: list[str]
    rename: bool = False
    key: str | None = None  # the key it takes instead (made when it is combined in order)


def plan(entries: list[Entry]) -> tuple[list[Planned], list[LoadError]]:
    """Group the entries (in the order they were first loaded) into studies. Entries sharing a DOI, a
    PMID, or else title + year + first author are one study, whatever the order they come in, unless
    that would join different DOIs or PMIDs. A key two studies claim stays with the first; a later
    study with the same key is an error and not loaded, unless its key was made up: then it takes
    another (``rename``; made-up keys always give way to given ones)."""
    studies = [Planned([e for e, _ in cluster], [how for _, how in cluster]) for cluster in _clusters(entries)]
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
    return [studies[i] for i in sorted(kept)], errors


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


def _clusters(entries: list[Entry]) -> list[list[tuple[Entry, str]]]:
    """Union-find over the identifiers: DOI links first, then PMID, then title + year + author; a link
    that would put two DOIs or two PMIDs in one study is not made. Clusters in first-entry order,
    each entry with what matched it ("first" for the one that comes first)."""
    parent = list(range(len(entries)))
    joined: dict[int, tuple[set, set]] = {}  # of a root with others under it: the DOIs and PMIDs they have

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def identifiers(i: int) -> tuple[set, set]:  # of a root
        return joined.get(i) or ({entries[i].doi} - {None}, {entries[i].pmid} - {None})

    for identity in ("doi", "pmid", "title"):
        first_with: dict = {}
        for i, entry in enumerate(entries):
            value = getattr(entry, identity)
            if value is None:
                continue
            if value not in first_with:
                first_with[value] = i
                continue
            a, b = sorted((root(first_with[value]), root(i)))
            if a == b:
                continue
            (dois_a, pmids_a), (dois_b, pmids_b) = identifiers(a), identifiers(b)
            if len(dois_a | dois_b) <= 1 and len(pmids_a | pmids_b) <= 1:
                parent[b] = a  # a root is the first entry of its cluster
                joined[a] = (dois_a | dois_b, pmids_a | pmids_b)
                joined.pop(b, None)
    others: dict[int, list[int]] = {}
    for i in range(len(entries)):
        if root(i) != i:
            others.setdefault(root(i), []).append(i)
    return [
        [(entries[i], "first")] + [(entries[j], _matched_on(entries[j], entries[i])) for j in others.get(i, ())]
        for i in range(len(entries))
        if parent[i] == i
    ]


def _matched_on(entry: Entry, first: Entry) -> str:
    """What joins an entry to the study its first entry started (the strongest shared identifier)."""
    if entry.doi and entry.doi == first.doi:
        return "doi"
    if entry.pmid and entry.pmid == first.pmid:
        return "pmid"
    if entry.title and entry.title == first.title:
        return "title-year-author"
    return "doi" if entry.doi else "pmid" if entry.pmid else "title-year-author"  # through another entry


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
    longest = max(sources, key=lambda s: len(s.record.authors))  # first of the longest lists: rank breaks ties
    authors_source = next(s for s in sources if len(s.record.authors) == len(longest.record.authors))
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
    """Every field where a source gives a value that differs from the kept one (beyond case and punctuation)."""
    found = []
    kept_from = {
        name: next(s for s in study.sources if getattr(s.record, name) == getattr(study.record, name))
        for name in TEXT_FIELDS
        if getattr(study.record, name)
    }
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
