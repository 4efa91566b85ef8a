"""The one normalised record type every reader produces, and its normalisers."""

from __future__ import annotations

import gc
import re
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, make_dataclass
from functools import cache, lru_cache
from operator import attrgetter

from .fields import FIELDS, LIST_FIELDS


@dataclass(frozen=True, slots=True)  # slots: a large load holds millions of these
class Person:
    """An author. ``family`` excludes the particle ("van", "da") which has its own slot."""

    family: str
    given: str = ""
    particle: str = ""
    suffix: str = ""

    @property
    def display(self) -> str:
        """Family name with particle and suffix, then initials: "van der Berg A"."""
        return _display(self.family, self.given, self.particle, self.suffix)


@lru_cache(maxsize=65536)  # names repeat across studies
def _display(family: str, given: str, particle: str, suffix: str) -> str:
    family = " ".join(p for p in (particle, family) if p)
    initials = "".join(w[0].upper() for w in _NAME_PARTS.split(given) if w)
    name = f"{family} {initials}".strip()
    return f"{name} {suffix}".strip()


_NAME_PARTS = re.compile(r"[\s.\-]+")


@dataclass(frozen=True, slots=True)
class Tag:
    """A curated or rule-made tag on a study, with where it came from."""

    kind: str  # "condition" | "design"
    value: str
    provenance: str  # "curated" | "rule"
    source: str  # "data/studies.bib:14" or "rule:title-randomised 'randomized'"


def split_source(source: str) -> tuple[str, int]:
    """``"data/studies.bib:14"`` -> ``("data/studies.bib", 14)``: the file and line a curated tag came from."""
    file, _, line = source.rpartition(":")
    return file, int(line)


@dataclass(frozen=True, slots=True)
class OutcomeTag:
    """What a study measured, against what, which way the result went, and where that was said."""

    outcome: str
    measure: str
    comparator: str
    direction: str
    finding: str
    provenance: str  # "curated" | "rule"
    source: str  # "data/studies.outcomes.yaml:12"
    condition: str | None = None  # the condition the result is for, where the study covers several


# One study as read from any input format, before tagging: what every record has, then an attribute for each
# field of the field table (evidence.fields), then its lists, tags and the fields no column holds.
StudyRecord = make_dataclass(
    "StudyRecord",
    [
        ("key", str),
        ("source_file", str),
        ("source_line", int),  # 1-based line of the entry's first line
        ("key_made", bool, False),  # the key was made up (make_key): it may change to avoid another study's key
        ("source_format", str, "bibtex"),  # the reader that made it; "reference-list": parsed from free text
        ("entry_type", str, "article"),
        ("title", "str | None", None),
        ("title_nocase", "list[tuple[int, int]]", field(default_factory=list)),  # spans whose capitals must stay
        ("authors", "list[Person]", field(default_factory=list)),
        ("more_authors", bool, False),  # the list is known to be incomplete ("and others", "et al.")
        *((f.attribute, "int | None" if f.sql_type == "INTEGER" else "str | None", None) for f in FIELDS),
        *((f.attribute, "list[str]", field(default_factory=list)) for f in LIST_FIELDS),
        ("mesh_major", "list[str]", field(default_factory=list)),  # MeSH headings marked major topics (MEDLINE *)
        ("tags", "list[Tag]", field(default_factory=list)),
        ("extra", "dict[str, str]", field(default_factory=dict)),  # fields no column holds, raw
    ],
    slots=True,
    namespace={
        "__module__": __name__,
        "__doc__": "One study as read from any input format, before "
        "tagging (an attribute for each field of evidence.fields).",
    },
)


def _pickled_by_slots(cls: type) -> type:
    """Let instances of a slots dataclass pickle as the tuple of their slots: the dataclass default looks up
    its fields on every object, which spooling a large load does hundreds of thousands of times."""
    names = cls.__slots__
    values = attrgetter(*names)
    cls.__getstate__ = (lambda self: values(self)) if len(names) > 1 else lambda self: (values(self),)

    def restore(self, state: tuple) -> None:
        for name, value in zip(names, state):
            object.__setattr__(self, name, value)

    cls.__setstate__ = restore
    return cls


for _cls in (Person, Tag, OutcomeTag, StudyRecord):
    _pickled_by_slots(_cls)


@dataclass
class TaggedStudy:
    """A record with its checked tags."""

    record: StudyRecord
    design: Tag | None = None
    conditions: list[Tag] = field(default_factory=list)
    outcomes: list[OutcomeTag] = field(default_factory=list)

    def keywords(self) -> list[str]:
        """Curated tags as ``condition:<id>`` / ``design:<id>`` keywords (as they are read), then free keywords."""
        curated = [t for t in [*self.conditions, self.design] if t is not None and t.provenance == "curated"]
        return [f"{t.kind}:{t.value}" for t in curated] + self.record.keywords


@contextmanager
def many_objects() -> Iterator[None]:
    """Pause Python's cycle collector while the block builds many objects that form no cycles (records,
    names, tags): its passes over every object alive cost more than building them."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def shallow_dict(item) -> dict:
    """A dataclass instance's fields as a dict, in their order, values as they are (``dataclasses.asdict``
    without its deep copies)."""
    return {name: getattr(item, name) for name in _field_names(type(item))}


@cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


def fold(text: str) -> str:
    """Text for matching and sorting: accents dropped, case folded, punctuation as single spaces
    ("Åkeson, J." -> "akeson j"; "treatment–a" -> "treatment a": a dash or quote of any script is a space too)."""
    spaced = re.sub(r"[^\w\s]+", " ", text)  # before the accents come apart from their letters
    ascii_text = unicodedata.normalize("NFKD", spaced).encode("ascii", "ignore").decode().casefold()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", ascii_text).split())


def make_key(record: StudyRecord, taken: TakenKeys) -> str:
    """A citation key for a record whose format has none, in the corpus's style: first author's family
    name and year ("cherkin2009"; "nd" without a year), then "a", "b", ... while ``taken`` holds it.
    The key is added to ``taken``, and the record marked as having a made-up key."""
    record.key_made = True
    return free_key(key_stem(record), taken)


def key_stem(record: StudyRecord) -> str:
    """The start of the key ``make_key`` makes: first author's family name (else the title's first word) and year."""
    name = record.authors[0].family if record.authors else ((record.title or "").split() or ["anon"])[0]
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return (re.sub(r"[^a-z0-9]", "", ascii_name) or "anon") + (str(record.year) if record.year else "nd")


class TakenKeys(set):
    """Keys in use, which only ever grow: for each stem, ``free_key`` remembers the suffix to try next, so that
    making many keys of one stem takes time in proportion to their number."""

    def __init__(self, keys=()):
        super().__init__(keys)
        self.next_suffix: dict[str, int] = {}


def free_key(stem: str, taken: TakenKeys) -> str:
    """The stem, then with "a", "b", ... until ``taken`` does not hold it; added to ``taken``."""
    suffix = taken.next_suffix.get(stem, 0)
    key = _with_suffix(stem, suffix)
    while key in taken:
        suffix += 1
        key = _with_suffix(stem, suffix)
    taken.next_suffix[stem] = suffix + 1
    taken.add(key)
    return key


def _with_suffix(stem: str, suffix: int) -> str:
    return stem + "".join(chr(ord("a") + int(d)) for d in _base26(suffix))


def _base26(n: int) -> list[int]:
    digits = []
    while n:
        n, d = divmod(n - 1, 26)
        digits.append(d)
    return digits[::-1]


@dataclass
class LoadError:
    """Something in an input that could not be loaded as written."""

    file: str
    line: int | None
    entry_key: str | None
    message: str
    severity: str = "error"  # "error" | "warning"
    raw: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        entry = f" [{self.entry_key}]" if self.entry_key else ""
        return f"{where}{entry}: {self.severity}: {self.message}"


_DOI_PREFIX = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", re.IGNORECASE)
_DOI_SHAPE = re.compile(r"^10\.\d{4,9}/\S+$")


def normalise_doi(value: str | None) -> str | None:
    """Lower-case DOI without URL or ``doi:`` prefix; ValueError if it is not DOI-shaped."""
    if not value or not value.strip():
        return None
    doi = _DOI_PREFIX.sub("", value.strip()).strip().lower()
    if not _DOI_SHAPE.match(doi):
        raise ValueError(f"not a DOI: {value!r}")
    return doi


def normalise_pmid(value: str | None) -> str | None:
    """PubMed ID as digits only; ValueError otherwise."""
    if not value or not value.strip():
        return None
    pmid = re.sub(r"^(?:pmid:?\s*)", "", value.strip(), flags=re.IGNORECASE)
    if not pmid.isdigit():
        raise ValueError(f"not a PMID: {value!r}")
    return pmid


def normalise_pmcid(value: str | None) -> str | None:
    """PMC ID as ``PMC`` followed by digits; ValueError otherwise."""
    if not value or not value.strip():
        return None
    digits = re.sub(r"^pmc", "", value.strip(), flags=re.IGNORECASE)
    if not digits.isdigit():
        raise ValueError(f"not a PMCID: {value!r}")
    return f"PMC{digits}"


_PAGE_RANGE = re.compile(r"^\s*([A-Za-z]?)(\d+)\s*(?:-+|–|—)\s*([A-Za-z]?)(\d+)\s*$")


def normalise_pages(value: str | None) -> str | None:
    """One hyphen between full page numbers: "246--50" and "246–50" become "246-250"."""
    if not value or not value.strip():
        return None
    match = _PAGE_RANGE.match(value)
    if not match:
        return value.strip()
    prefix, first, end_prefix, last = match.groups()
    if len(last) < len(first) and not end_prefix:
        last = first[: len(first) - len(last)] + last
    return f"{prefix}{first}-{end_prefix or prefix}{last}"


MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def normalise_month(value: str | None) -> str | None:
    """A month as BibTeX's three-letter name ("June", "Jun.", "6" -> "jun"); other text (a season, a
    range) is kept as written."""
    if value is None or not str(value).strip():
        return None
    text = str(value).strip().rstrip(".").lower()
    if text.isdigit() and 1 <= int(text) <= 12:
        return MONTHS[int(text) - 1]
    if len(text) >= 3 and any(full.startswith(text) for full in _MONTH_NAMES):
        return text[:3]
    return str(value).strip()


_MONTH_NAMES = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)


def month_number(month: str | None) -> int | None:
    """1-12 for a normalised month, None for anything else."""
    return MONTHS.index(month) + 1 if month in MONTHS else None


def normalise_year(value: str | None) -> int | None:
    """Four-digit year as an integer, also the start of a range ("1995--1996") and a year with a letter that
    tells two works apart ("1985a"), as biber reads them; ValueError if there is none."""
    if value is None or not str(value).strip():
        return None
    match = re.fullmatch(r"\s*(\d{4})(?:[a-z]|\s*(?:-+|–|/)\s*\d{2,4})?\s*", str(value))
    if not match:
        raise ValueError(f"year is not a four-digit number: {value!r}")
    return int(match.group(1))


def normalise_count(value: str | None) -> int | None:
    """A whole number written in a field ("1,162" allowed); ValueError otherwise."""
    if value is None or not str(value).strip():
        return None
    digits = str(value).strip().replace(",", "")
    if not digits.isdigit():
        raise ValueError(f"not a whole number: {value!r}")
    return int(digits)


def _text(value: str | None) -> str | None:
    return value.strip() or None if value else None


def _items(value: str | None) -> list[str]:
    return [item.strip() for item in value.split(";") if item.strip()] if value else []


# How a value of each shape of the field table (evidence.fields.Field) is read from text: ValueError if it is
# not of that shape. Readers give it the text their format holds (BibTeX: with its LaTeX decoded).
NORMALISERS = {
    "text": _text,
    "verbatim": _text,
    "year": normalise_year,
    "count": normalise_count,
    "doi": normalise_doi,
    "pmid": normalise_pmid,
    "pmcid": normalise_pmcid,
    "month": normalise_month,
    "pages": normalise_pages,
    "list": _items,
}
