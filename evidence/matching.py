"""Which entries are one study. Entries sharing a DOI or PMID are one study, unless both their titles and
their first authors (or years) differ: then the identifier is wrong in one of them, and they stay apart.
Entries with no identifier in common are one study when their title, year and first author match and
nothing else tells them apart (volume, issue, first page or journal, where both give one), except items
that recur under one title (by "Anonymous", or titled "Calendar", "Index of advertisers", ...), which only
an identifier merges; a key given in two files names one reference. What is doubtful is told with both
places: an identifier that joins two titles, and two same-title entries left apart ("possible duplicate")."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import lru_cache

from .formats.latex import extra_text
from .records import LoadError, OutcomeTag, StudyRecord, fold


@dataclass(slots=True)
class Entry:
    """What merging needs to know of one source: its identifiers, what tells it from another item of its
    title, its curated outcomes, and where its record was spooled (the record itself is read back only to
    combine the study it joins)."""

    key: str
    file: str
    line: int
    key_made: bool
    doi: str | None
    pmid: str | None
    heading: bytes | None  # a digest of the title, normalised (matching_form)
    year: int | None
    author: str | None  # the first author's family name, normalised
    marks: str | None  # volume, issue, first page, journal (or booktitle), joined by SEPARATOR; None: none
    recurring: bool  # by "Anonymous" or with a title that recurs issue after issue: merged only by identifier
    tagged: bool  # the record has curated tags
    place: object  # where the record was kept (evidence.fast.spool)
    outcomes: list[OutcomeTag] | tuple = ()  # most have none: one empty tuple for all
    order: int = 0

    @property
    def is_curated(self) -> bool:
        return self.tagged or bool(self.outcomes)

    @property
    def identity(self) -> tuple | None:
        """Title, year and first author: what matches entries without an identifier in common."""
        return (self.heading, self.year, self.author) if self.heading and self.year and self.author else None

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line} [{self.key}]"


# Authors who are no one in particular, and titles a journal reuses issue after issue (compared folded).
ANONYMOUS = frozenset(
    fold(name) for name in ("Anonymous", "Anon.", "Anonym", "Anonymus", "No author", "[No authors listed]", "Unknown")
) | {"n n", "nn", "the editors"}
RECURRING_TITLES = frozenset(
    fold(title)
    for title in (
        "Abstracts", "Acknowledgements", "Acknowledgment", "Acknowledgement of reviewers", "Addendum",
        "Advertisers' index", "Agenda", "Announcements", "Author index", "Author's reply", "Authors' reply",
        "Back matter", "Book reviews", "Books received", "Calendar", "Calendar of events", "Classified advertising",
        "Contents", "Contents of volume", "Correction", "Corrections", "Correspondence", "Corrigendum",
        "Cover", "Cumulative index", "Editorial", "Editorial board", "Editorial note", "Editor's note", "Erratum",
        "Errata", "Foreword", "Forthcoming events", "Forthcoming papers", "Front matter", "Guide for authors",
        "In memoriam", "In this issue", "Index", "Index of advertisers", "Information for authors",
        "Instructions for authors", "Introduction", "Issue information", "Letter to the editor", "Letters",
        "Letters to the editor", "List of reviewers", "Masthead", "Meetings", "Name index", "News", "Notices",
        "Obituary", "Preface", "Publisher's note", "Reply", "Reviewers", "Subject index", "Table of contents",
        "Title page", "Upcoming events", "Volume contents", "Volume index",
    )
)  # fmt: skip
MARKS = ("volume", "issue", "pages", "journal")
SEPARATOR = "\x1f"  # between an entry's marks
# How many items of one title, year and author a new entry is compared with: a title that recurs more
# often than this is an anonymous series, and the comparisons stay in proportion to the entries.
SCAN_LIMIT = 16


def matching_form(text: str) -> str:
    """Text as matching compares it: accents dropped, case folded, punctuation as spaces (records.fold);
    text in a script without a Latin spelling (which fold empties) keeps its letters."""
    return fold(text) or " ".join(re.sub(r"[\W_]+", " ", text.casefold()).split())


def describe(record: StudyRecord, place: object) -> Entry:
    """The Entry of a record spooled at ``place``."""
    title = matching_form(record.title) if record.title else ""
    author = matching_form(record.authors[0].family) if record.authors else ""
    container = record.journal or extra_text(record, "booktitle")
    first_page = record.pages.split("-")[0] if record.pages else None
    marks = (record.volume or "", record.issue or "", first_page or "", container or "")
    return Entry(
        record.key,
        record.source_file,
        record.source_line,
        record.key_made,
        record.doi,
        record.pmid,
        hashlib.blake2b(title.encode(), digest_size=12).digest() if title else None,
        record.year,
        author or None,
        SEPARATOR.join(marks) if any(marks) else None,  # one string: a large load holds many
        author in ANONYMOUS or title in RECURRING_TITLES,
        bool(record.tags),
        place,
    )


@dataclass
class Doubt:
    """Two entries matching is not sure of: ``entry`` and ``other``, loaded before it. ``kind``: "retitled"
    (one identifier, two titles: one study), "conflict" (one identifier, but title and first author or
    year differ: two studies) or "near" (same title, year and first author, two studies); ``reason``
    names the identifier, or says what kept them apart when no mark did."""

    entry: Entry
    other: Entry
    kind: str
    reason: str = ""
    differences: list[tuple[str, str, str]] = field(default_factory=list)  # (mark, entry's, other's)


class _Studies:
    """Union-find over the entries: each root, the first entry of its study, knows the DOIs, PMIDs and
    marks its study has, so that no link joins two DOIs or PMIDs, or items a mark tells apart."""

    def __init__(self, entries: list[Entry]) -> None:
        self.entries = entries
        self.parent = list(range(len(entries)))
        self.joined: dict[int, tuple[set, set, tuple | None]] = {}  # of a root with others under it

    def root(self, i: int) -> int:
        parent = self.parent
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def summary(self, i: int) -> tuple[set, set, tuple | None]:
        """The DOIs, PMIDs and marks of the study of entry ``i``."""
        i = self.root(i)
        entry = self.entries[i]
        return self.joined.get(i) or ({entry.doi} - {None}, {entry.pmid} - {None}, _split(entry.marks))

    def marks(self, i: int) -> tuple | None:
        """The marks of the study of entry ``i``: of its first entry, each filled in by the others."""
        i = self.root(i)
        joined = self.joined.get(i)
        return joined[2] if joined else _split(self.entries[i].marks)

    def can_join(self, i: int, j: int) -> bool:
        i, j = self.root(i), self.root(j)
        if i not in self.joined and j not in self.joined:  # most studies are one entry: no sets to make
            a, b = self.entries[i], self.entries[j]
            return (not (a.doi and b.doi) or a.doi == b.doi) and (not (a.pmid and b.pmid) or a.pmid == b.pmid)
        (dois_a, pmids_a, _), (dois_b, pmids_b, _) = self.summary(i), self.summary(j)
        return len(dois_a | dois_b) <= 1 and len(pmids_a | pmids_b) <= 1

    def join(self, i: int, j: int) -> bool:
        """Put the studies of ``i`` and ``j`` together, unless that joins two DOIs or two PMIDs."""
        a, b = sorted((self.root(i), self.root(j)))
        if a == b:
            return True
        if not self.can_join(a, b):
            return False
        (dois_a, pmids_a, marks_a), (dois_b, pmids_b, marks_b) = self.summary(a), self.summary(b)
        marks = tuple(x or y for x, y in zip(marks_a, marks_b)) if marks_a and marks_b else marks_a or marks_b
        self.parent[b] = a  # a root is the first entry of its study
        self.joined[a] = (dois_a | dois_b, pmids_a | pmids_b, marks)
        self.joined.pop(b, None)
        return True


def clusters(entries: list[Entry]) -> tuple[list[list[tuple[Entry, str]]], list[Doubt]]:
    """The studies the entries (in load order) make, in first-entry order, each entry with what matched it
    ("first" for the one that comes first), and the doubts. Entries with one value of an identifier, or
    one title, year and author, are kept in buckets of the first entry of each study they started
    (at most SCAN_LIMIT of a bucket), so that matching takes time in proportion to the entries."""
    studies = _Studies(entries)
    doubts: list[Doubt] = []
    for name in ("doi", "pmid"):
        _match_identifier(studies, name, doubts)
    _match_titles(studies, doubts)
    others: dict[int, list[int]] = {}
    for i in range(len(entries)):
        if studies.root(i) != i:
            others.setdefault(studies.root(i), []).append(i)
    found = [
        [(entries[i], "first")] + [(entries[j], _matched_on(entries[j], entries[i])) for j in others.get(i, ())]
        for i in range(len(entries))
        if studies.parent[i] == i
    ]
    once: dict[tuple[int, int], Doubt] = {}  # a pair that shares a DOI and a PMID is told of once
    for doubt in doubts:
        once.setdefault((id(doubt.entry), id(doubt.other)), doubt)
    return found, list(once.values())


def _match_identifier(studies: _Studies, name: str, doubts: list[Doubt]) -> None:
    """Join the entries that share a value of the identifier ``name``, unless title and author or year say
    they are different items."""
    entries = studies.entries
    bucket: dict[str, list[int]] = {}
    for i, entry in enumerate(entries):
        value = getattr(entry, name)
        if value is None:
            continue
        started = bucket.setdefault(value, [])
        conflict = None
        for j in started:
            if studies.root(i) == studies.root(j):
                break
            verdict = _titles_verdict(entry, entries[j])
            if verdict == "different":
                conflict = j if conflict is None else conflict
            elif studies.join(j, i):
                if verdict == "retitled":
                    doubts.append(Doubt(entry, entries[j], "retitled", name.upper()))
                break
        else:
            if conflict is not None:
                doubts.append(Doubt(entry, entries[conflict], "conflict", name.upper()))
            if len(started) < SCAN_LIMIT:
                started.append(i)


def _titles_verdict(a: Entry, b: Entry) -> str:
    """Of two entries with one identifier: "same" title (after matching_form, or one has none), "retitled"
    (another title, but the same first author and year, give or take a year), or "different" items."""
    if a.heading is None or b.heading is None or a.heading == b.heading:
        return "same"
    if a.key == b.key and not (a.key_made or b.key_made):  # one reference, given one key in two files
        return "retitled"
    if (a.author and b.author and a.author != b.author) or (a.year and b.year and abs(a.year - b.year) > 1):
        return "different"
    return "retitled"


def _match_titles(studies: _Studies, doubts: list[Doubt]) -> None:
    """Join entries of one title, year and first author that no mark or identifier tells apart, or that have
    one key; tell of two that only marks keep apart (three or more are a series, a column of each issue)."""
    entries = studies.entries
    bucket: dict[tuple, list[int]] = {}
    given: dict[str, int] = {}  # the first entry of each key given in a file
    apart_of: list[tuple[Doubt, list[int]]] = []  # entries kept apart by their marks, and their bucket
    for i, entry in enumerate(entries):
        identity = entry.identity
        if identity is None:
            continue
        if not entry.key_made:  # one reference copied into two files, the volume since corrected in one
            j = given.setdefault(entry.key, i)
            if j != i and entries[j].identity == identity and studies.join(j, i):
                continue
        started = bucket.setdefault(identity, [])
        if started and entry.recurring:  # a recurring title: told of only where nothing tells it apart
            first = started[0]
            if (
                studies.root(first) != studies.root(i)
                and studies.can_join(first, i)
                and not _differences(studies.marks(i), studies.marks(first))
            ):
                doubts.append(
                    Doubt(
                        entry,
                        entries[first],
                        "near",
                        "it recurs (anonymous, or a title such as Calendar): only a DOI or PMID merges it",
                    )
                )
            continue
        apart = None
        for j in started:  # the first entry of each study of this title, year and author
            if studies.root(i) == studies.root(j):
                break
            if not studies.can_join(j, i):  # their DOIs or PMIDs differ: different items, nothing to tell
                continue
            differences = _differences(studies.marks(i), studies.marks(j))
            if not differences:
                studies.join(j, i)
                break
            if apart is None:
                apart = Doubt(entry, entries[j], "near", "", differences)
        else:
            if apart is not None:
                apart_of.append((apart, started))
            if len(started) < SCAN_LIMIT:
                started.append(i)
    doubts += [doubt for doubt, started in apart_of if len(started) == 2]  # three or more: a series


def _matched_on(entry: Entry, first: Entry) -> str:
    """What joins an entry to the study its first entry started (the strongest shared identifier)."""
    if entry.doi and entry.doi == first.doi:
        return "doi"
    if entry.pmid and entry.pmid == first.pmid:
        return "pmid"
    if entry.identity and entry.identity == first.identity:
        return "title-year-author"
    return "doi" if entry.doi else "pmid" if entry.pmid else "title-year-author"  # through another entry


def _split(marks: str | None) -> tuple | None:
    return tuple(marks.split(SEPARATOR)) if marks else None


def _differences(a: tuple | None, b: tuple | None) -> list[tuple[str, str, str]]:
    """The marks two items both have and give differently: (name, value of a, value of b)."""
    if a is None or b is None or a == b:
        return []
    found = []
    for name, x, y in zip(MARKS, a, b):
        if x and y and x != y and not (_same_container(x, y) if name == "journal" else _number(x) == _number(y)):
            found.append((name, x, y))
    return found


def _number(value: str | None) -> str:
    """A volume, issue or page as compared: "03", "3" and "Vol. 3" are one."""
    if not value:
        return ""
    return value.lstrip("0") if value.isdigit() else _LABEL.sub("", fold(value)).lstrip("0")


_LABEL = re.compile(r"^(?:vol|volume|no|nr|num|number|issue|iss|pp|p|pages?)\b ?")


STOP_WORDS = frozenset("of the and for in on a an de la le der und fur".split())


@lru_cache(maxsize=4096)  # journal names repeat
def _same_container(a: str | None, b: str | None) -> bool:
    """Whether two journal names may name one journal: equal, or one abbreviates the other ("Arch Intern Med",
    "Archives of Internal Medicine"; "Proc Natl Acad Sci U S A"; "JAMA", "Journal of the American Medical
    Association")."""
    if not (a and b):
        return True
    words_a, words_b = tuple(fold(a).split()), tuple(fold(b).split())
    return (
        words_a == words_b
        or _abbreviates(words_a, words_b)
        or _abbreviates(words_b, words_a)
        or _initials(words_a, words_b)
        or _initials(words_b, words_a)
    )


def _abbreviates(short: tuple[str, ...], long: tuple[str, ...]) -> bool:
    """Each word of ``short`` is, in order, the start of a word of ``long`` with letters left out (natl, national)."""
    words = iter(long)
    return bool(short) and all(any(w[0] == s[0] and _in_order(s, w) for w in words) for s in short)


def _in_order(letters: str, word: str) -> bool:
    rest = iter(word)
    return all(letter in rest for letter in letters)


def _initials(short: tuple[str, ...], long: tuple[str, ...]) -> bool:
    """``short`` is one word of the initials of ``long``'s words, or of its words other than "of", "the", ..."""
    return len(short) == 1 and short[0] in (
        "".join(w[0] for w in long),
        "".join(w[0] for w in long if w not in STOP_WORDS),
    )


def doubt_warning(
    doubt: Doubt, titles: tuple[str, str] | None = None, read_now: set[str] | None = None
) -> LoadError | None:
    """The one-line warning of a doubt, on its entry of a file read now (``read_now``; None: any), naming
    the other entry's place; ``titles`` (of an identifier's doubt) are the entry's and the other's, as read.
    None for a title that only adds to the other (a subtitle), or when neither file was read now."""
    entry, other, titles, differences = doubt.entry, doubt.other, titles or ("", ""), doubt.differences
    if read_now is not None and entry.file not in read_now:
        if other.file not in read_now:
            return None  # an earlier load told of it
        entry, other, titles = other, entry, titles[::-1]
        differences = [(name, there, here) for name, here, there in differences]
    here, there = (_short(title) for title in titles)
    identifier = doubt.reason
    if doubt.kind == "retitled":
        a, b = sorted((matching_form(titles[0]), matching_form(titles[1])), key=len)
        if b.startswith(a + " "):
            return None
        message = (
            f"same {identifier} as {other.where}, with another title ({here!r} here, {there!r} there): loaded "
            f"as one study; if the {identifier} is wrong in one of them, correct it"
        )
    elif doubt.kind == "conflict":
        what = "first author" if entry.author and other.author and entry.author != other.author else "year"
        message = (
            f"same {identifier} as {other.where}, but another title and {what} ({here!r} here, {there!r} "
            f"there): not merged, loaded as two studies; the {identifier} is wrong in one of them"
        )
    else:
        reason = doubt.reason or ", ".join(f"{name} {a!r} here, {b!r} there" for name, a, b in differences)
        message = f"possible duplicate of {other.where}, not merged: same title, year and first author, but {reason}"
    return LoadError(entry.file, entry.line, entry.key, message, severity="warning")


def _short(title: str, most: int = 80) -> str:
    title = " ".join(title.split())
    return title if len(title) <= most else title[: most - 1] + "…"
