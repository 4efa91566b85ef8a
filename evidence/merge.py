"""One study from many sources: records of the same study (matched on DOI, then PMID, then title + year +
first author) become one, keeping the curated or most complete value of each field and recording
where the sources disagree."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from .curation import OutcomeTag
from .records import LoadError, StudyRecord, fold, make_key


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


# Fields merged by value; the rest (key, source, tags, lists) are handled on their own.
TEXT_FIELDS = ("entry_type", "title", "journal", "journal_abbrev", "year", "month", "volume", "issue", "pages",
               "doi", "pmid", "pmcid", "issn", "url", "abstract", "population", "participants",
               "included_studies", "finding", "note")
LIST_FIELDS = ("keywords", "publication_types", "mesh_headings")


def identity_title(record: StudyRecord) -> tuple[str, int | None, str] | None:
    """Normalised title, year and first author's family name: the last resort for matching."""
    if not (record.title and record.year and record.authors):
        return None
    return (fold(record.title), record.year, fold(record.authors[0].family))


def merge(sources: list[Source]) -> tuple[list[MergedStudy], list[LoadError]]:
    """Group the sources (in the order they were first loaded) into studies. Sources sharing a DOI, a
    PMID, or else title + year + first author are one study, whatever the order they come in, unless
    that would join different DOIs or PMIDs. A key two studies claim stays with the first; a later
    study with the same key is an error and not loaded, unless its key was made up: then it takes
    another (made-up keys always give way to given ones)."""
    clusters = _clusters(sources)
    combined = [_combine(cluster) for cluster in clusters]
    taken = {study.record.key for study in combined}
    owner: dict[str, str] = {}
    kept: list[int] = []
    errors: list[LoadError] = []
    given_first = sorted(range(len(combined)), key=lambda i: combined[i].record.key_made)
    for index in given_first:
        study = combined[index]
        if study.record.key in owner and study.record.key_made:
            study.record.key = make_key(study.record, taken)
        elif study.record.key in owner:
            for source in study.sources:
                errors.append(LoadError(source.record.source_file, source.record.source_line, source.record.key,
                                        f"duplicate key: {owner[study.record.key]} holds this key for a different "
                                        "study; this entry was not loaded"))
            continue
        owner[study.record.key] = f"{study.record.source_file}:{study.record.source_line}"
        kept.append(index)
    return [combined[i] for i in sorted(kept)], errors


def _clusters(sources: list[Source]) -> list[list[tuple[Source, str]]]:
    """Union-find over the identifiers: DOI links first, then PMID, then title + year + author; a link
    that would put two DOIs or two PMIDs in one study is not made. Clusters in first-source order,
    each source with what matched it ("first" for the one that comes first)."""
    parent = list(range(len(sources)))
    dois = [{s.record.doi} - {None} for s in sources]
    pmids = [{s.record.pmid} - {None} for s in sources]

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for identity in (lambda r: r.doi, lambda r: r.pmid, identity_title):
        first_with: dict = {}
        for i, source in enumerate(sources):
            value = identity(source.record)
            if value is None:
                continue
            if value not in first_with:
                first_with[value] = i
                continue
            a, b = sorted((root(first_with[value]), root(i)))
            if a != b and len(dois[a] | dois[b]) <= 1 and len(pmids[a] | pmids[b]) <= 1:
                parent[b] = a
                dois[a] |= dois[b]
                pmids[a] |= pmids[b]
    members: dict[int, list[int]] = {}
    for i in range(len(sources)):
        members.setdefault(root(i), []).append(i)
    clusters = []
    for indices in members.values():  # dict order: by each cluster's first source
        first = sources[indices[0]].record
        clusters.append([(sources[i], "first" if i == indices[0] else _matched_on(sources[i].record, first))
                         for i in indices])
    return clusters


def _matched_on(record: StudyRecord, first: StudyRecord) -> str:
    """What joins a source to the study its first source started (the strongest shared identifier)."""
    if record.doi and record.doi == first.doi:
        return "doi"
    if record.pmid and record.pmid == first.pmid:
        return "pmid"
    if identity_title(record) and identity_title(record) == identity_title(first):
        return "title-year-author"
    return "doi" if record.doi else "pmid" if record.pmid else "title-year-author"  # through another source


def _rank(item: tuple[int, tuple[Source, str]]) -> tuple:
    """Curated sources first, then sources read from structured formats, then the most complete."""
    order, (source, _) = item
    r = source.record
    filled = sum(bool(getattr(r, name)) for name in TEXT_FIELDS) + bool(r.authors)
    return (not source.is_curated, r.source_format == "reference-list", -filled, order)


def _combine(cluster: list[tuple[Source, str]]) -> MergedStudy:
    ranked = [item for _, item in sorted(enumerate(cluster), key=_rank)]
    sources = [source for source, _ in ranked]
    # the key (and where the study is said to come from) is that of the first curated source, or else of
    # the first source loaded: loading a richer record later, or reloading one file, does not rename a study
    named_by = next((s for s, _ in cluster if s.is_curated), cluster[0][0])
    values = {name: next((getattr(s.record, name) for s in sources if getattr(s.record, name)), None)
              for name in TEXT_FIELDS}
    longest = max(sources, key=lambda s: len(s.record.authors))  # first of the longest lists: rank breaks ties
    authors_source = next(s for s in sources if len(s.record.authors) == len(longest.record.authors))
    record = replace(
        named_by.record, **values,
        title_nocase=next((s.record.title_nocase for s in sources if s.record.title == values["title"]), []),
        authors=list(authors_source.record.authors), more_authors=authors_source.record.more_authors,
        tags=_union(s.record.tags for s in sources),
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
    kept_from = {name: next(s for s in study.sources if getattr(s.record, name) == getattr(study.record, name))
                 for name in TEXT_FIELDS if getattr(study.record, name)}
    for source in study.sources:
        for name, kept in kept_from.items():
            value = getattr(source.record, name)
            if value and fold(str(value)) != fold(str(getattr(study.record, name))):
                found.append(Disagreement(name, str(getattr(study.record, name)), kept.where, str(value), source.where))
        families = [p.family for p in source.record.authors]
        kept_families = [p.family for p in study.record.authors]
        if families and [fold(f) for f in families] != [fold(f) for f in kept_families[:len(families)]]:
            found.append(Disagreement("authors", "; ".join(kept_families), authors_source.where,
                                      "; ".join(families), source.where))
    return found

