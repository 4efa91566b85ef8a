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
    """Group the sources into studies, earlier sources first. A key two different studies claim is an
    error for the later one, which is not loaded, unless its key was made up: then it takes another."""
    clusters: list[list[tuple[Source, str]]] = []
    by_doi: dict[str, int] = {}
    by_pmid: dict[str, int] = {}
    by_title: dict[tuple, int] = {}
    for source in sources:
        r = source.record
        identity = identity_title(r)
        index, how = _find(r, identity, clusters, by_doi, by_pmid, by_title)
        if index is None:
            index, how = len(clusters), "first"
            clusters.append([])
        clusters[index].append((source, how))
        if r.doi:
            by_doi.setdefault(r.doi, index)
        if r.pmid:
            by_pmid.setdefault(r.pmid, index)
        if identity:
            by_title.setdefault(identity, index)
    combined = [_combine(cluster) for cluster in clusters]
    taken = {study.record.key for study in combined}
    studies, errors, owner = [], [], {}
    for study in combined:
        key = study.record.key
        if key in owner and study.record.key_made:  # a made-up key gives way
            key = study.record.key = make_key(study.record, taken)
        elif key in owner:
            for source in study.sources:
                errors.append(LoadError(source.record.source_file, source.record.source_line, source.record.key,
                                        f"duplicate key: {owner[key]} holds this key for a different study; "
                                        "this entry was not loaded"))
            continue
        owner[key] = f"{study.record.source_file}:{study.record.source_line}"
        studies.append(study)
    return studies, errors


def _find(r: StudyRecord, identity: tuple | None, clusters, by_doi, by_pmid, by_title) -> tuple[int | None, str]:
    """The cluster this record belongs to, and what matched; identifiers that conflict never match."""
    for how, index in (("doi", by_doi.get(r.doi) if r.doi else None),
                       ("pmid", by_pmid.get(r.pmid) if r.pmid else None),
                       ("title-year-author", by_title.get(identity) if identity else None)):
        if index is not None and _compatible(r, clusters[index]):
            return index, how
    return None, ""


def _compatible(r: StudyRecord, cluster: list[tuple[Source, str]]) -> bool:
    for source, _ in cluster:
        other = source.record
        if (r.doi and other.doi and r.doi != other.doi) or (r.pmid and other.pmid and r.pmid != other.pmid):
            return False
    return True


def _rank(item: tuple[int, tuple[Source, str]]) -> tuple:
    """Curated sources first, then sources read from structured formats, then the most complete."""
    order, (source, _) = item
    r = source.record
    filled = sum(bool(getattr(r, name)) for name in TEXT_FIELDS) + bool(r.authors)
    return (not source.is_curated, r.source_format == "reference-list", -filled, order)


def _combine(cluster: list[tuple[Source, str]]) -> MergedStudy:
    ranked = [item for _, item in sorted(enumerate(cluster), key=_rank)]
    sources = [source for source, _ in ranked]
    # the key (and where the study is said to come from) stays that of the first curated source, or else
    # of the first source read, so that loading a richer record later does not rename a study
    named_by = next((s for s, _ in cluster if s.is_curated), cluster[0][0]).record
    values = {name: next((getattr(s.record, name) for s in sources if getattr(s.record, name)), None)
              for name in TEXT_FIELDS}
    longest = max(sources, key=lambda s: len(s.record.authors))  # first of the longest lists: rank breaks ties
    authors_source = next(s for s in sources if len(s.record.authors) == len(longest.record.authors))
    record = replace(
        named_by, **values,
        title_nocase=next((s.record.title_nocase for s in sources if s.record.title == values["title"]), []),
        authors=list(authors_source.record.authors), more_authors=authors_source.record.more_authors,
        tags=_union(s.record.tags for s in sources),
        extra={k: v for s in reversed(sources) for k, v in s.record.extra.items()},
        **{name: _union(getattr(s.record, name) for s in sources) for name in LIST_FIELDS},
    )
    study = MergedStudy(record, _union(s.outcomes for s in sources), sources, [how for _, how in ranked])
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

