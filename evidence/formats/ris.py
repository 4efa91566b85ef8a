"""RIS reader: entries are found and numbered here (rispy gives no line numbers), their tags read by rispy.

Read as EndNote, Zotero, Scopus, Embase, Ovid and PubMed-derived exports write them: authors from
``AU`` (else ``A1``) as "Family, Given, Suffix"; title ``TI`` / ``T1``; journal ``T2`` / ``JF`` / ``JO``
and its abbreviation ``J2`` / ``JA`` (``JO`` too when ``T2`` or ``JF`` already names the journal);
year and month from ``PY``, ``Y1`` and ``DA``; pages ``SP`` / ``EP`` (or a range in ``SP``); ``VL``,
``IS``, ``DO``, ``SN`` (an ISSN only for articles; otherwise an ISBN), ``UR``, ``AB`` / ``N2``; each
``KW`` (split at commas and semicolons) a keyword or curated tag; ``N1`` notes, where our writer puts
"PMCID: PMC...", as EndNote puts the PMCID in ``C2``. ``ID`` is the key unless it is a bare record
number. Tags with nothing to hold them (publisher, language, editors, custom fields) are passed over.
An entry without ER ends at the next TY line, with a warning.

Where exports disagree, this follows Zotero's RIS import (https://github.com/zotero/translators,
RIS.js): tag lines with one space before the dash; JO as the abbreviation beside a full title (the
RIS specification calls JO a full name, as Springer writes it alone); KW split at semicolons (and at
commas, as every reader here splits keywords); ID not a key; C2 as the PMCID, from its test of
EndNote's journal-article template; and the "May 11" that EndNote writes in DA beside PY's year.

The PMID comes from ``AN`` only when the record says that it is one: "PMID: 123" from any database, or
one to eight digits when ``DB`` / ``DP`` name PubMed, MEDLINE or the NLM, or neither is given (our own
export). Other databases' accession numbers (Embase "L...", Web of Science "WOS:...", CINAHL, Scopus)
are never taken for PMIDs. Where the entry gives none otherwise, the PMID, PMCID and DOI come from PubMed, PMC and
doi.org links in ``UR``, ``L1``-``L4`` or ``LK``. ``IS`` holding an ID (Ovid's NLM journal ID "uj0, 0330500") or an
ISSN is no issue number: the ID is kept in extra as ``journal_id``. ``SN`` may hold two ISSNs, on one line or two:
the print one is the ISSN, the other kept in extra as ``issn_also``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from urllib.parse import unquote

import rispy

from ..fields import FIELDS, named_in
from ..records import (
    NORMALISERS,
    LoadError,
    Person,
    StudyRecord,
    TaggedStudy,
    month_number,
    normalise_doi,
    normalise_pages,
    normalise_pmcid,
    normalise_pmid,
)
from .latex import citation_key, extra_text
from .reading import (
    Draft,
    Format,
    Layout,
    PieceRule,
    ReadResult,
    add_keywords,
    entry_types,
    finish,
    given_key,
    read_date,
    split_particle,
)

# BibTeX entry type -> RIS reference type.
RIS_TYPES = {
    "article": "JOUR",
    "book": "BOOK",
    "inbook": "CHAP",
    "incollection": "CHAP",
    "inproceedings": "CPAPER",
    "conference": "CPAPER",
    "phdthesis": "THES",
    "mastersthesis": "THES",
    "thesis": "THES",
    "techreport": "RPRT",
    "report": "RPRT",
    "online": "ELEC",
    "unpublished": "UNPB",
    "misc": "GEN",
}
# RIS type -> BibTeX type: our writer's map turned round, plus the variants other exports write, read as
# Zotero's RIS import reads them (Zotero itself writes a conference paper as CONF, EndNote an online
# article as EJOUR).
ENTRY_TYPES = entry_types(RIS_TYPES)
RIS_VARIANTS = {
    "CONF": "CPAPER",
    "EJOUR": "JOUR",
    "JFULL": "JOUR",
    "ECHAP": "CHAP",
    "EBOOK": "BOOK",
    "EDBOOK": "BOOK",
    "WEB": "ELEC",
}

# Tags this module reads and writes with code of its own (see the module's docstring); the field table's other
# RIS tags are read and written by their shape.
OWN_TAGS = {"T2", "J2", "PY", "AN", "SN", "UR", "AB", "N1", "KW"}
TABLE_TAGS = {tag: field for tag, field in named_in("ris").items() if tag not in OWN_TAGS}

# A tag line: two characters, two spaces (or one, as Zotero accepts), a dash, a space and the value.
_TAG_LINE = re.compile(r"([A-Z][A-Z0-9]) {1,2}-(?: (.*))?$")
# A TY line written otherwise ("TY-JOUR", "TY JOUR", "TY - JOUR"), which no RIS reader takes for one.
_BROKEN_TY = re.compile(r"\s*TY\b(?! {1,2}-(?: |$))")
_PMID_SOURCE = re.compile(r"pubmed|medline|\bnlm\b|national library of medicine", re.IGNORECASE)
_PMID_DIGITS = re.compile(r"\d{1,8}")
_PMCID_NOTE = re.compile(r"PMCID:\s*(\S+)", re.IGNORECASE)
_DASH = re.compile(r"[-\u2013\u2014]")
_BY_TAG = {tag: tag for tag in rispy.TAG_KEY_MAPPING}  # rispy's names for RIS tags are the tags themselves here


class _Parser(rispy.RisParser):
    """rispy's parser keyed by RIS tag ("AU", not "authors") and lenient on spacing as Zotero is, noting
    the line of each value it adds in ``lines[tag]`` (one line per value of a repeatable tag)."""

    def __init__(self, first_line: int):
        super().__init__(mapping=_BY_TAG)
        self.line = first_line - 1
        self.lines: dict[str | None, list[int]] = defaultdict(list)
        self.repeated: dict[str, list[str]] = defaultdict(list)  # a tag given again, which rispy passes over
        self._continued: tuple[dict, str, list[str]] | None = None  # a value's continuation lines, joined once

    def parse_lines(self, lines) -> list[dict]:
        try:
            return super().parse_lines(lines)
        finally:
            self._join_continued()

    def parse_line(self, line: str) -> tuple[str | None, str]:
        self.line += 1
        match = _TAG_LINE.match(line)
        return (match.group(1), (match.group(2) or "").strip()) if match else (None, line.strip())

    def _add_tag(self, record: dict, tag: str | None, content: str, extend_multiline: bool = False) -> None:
        self.lines[tag].append(self.line)
        if not extend_multiline:
            self._join_continued()
        super()._add_tag(record, tag, content, extend_multiline)

    def _add_single_value(self, record: dict, name: str, value, is_multi: bool = False) -> None:
        """rispy's, but a text value's continuation lines are gathered and joined at once (as rispy joins them,
        with spaces), not one by one, which took time in the square of their number."""
        if is_multi and isinstance(value, str) and isinstance(record.get(name), str):
            if self._continued and self._continued[0] is record and self._continued[1] == name:
                self._continued[2].append(value)
                return
            self._join_continued()
            self._continued = (record, name, [value])
            return
        self._join_continued()
        if not is_multi and name in record:  # a second SN, L2, ...: rispy keeps the first only
            self.repeated[name].append(value)
            return
        super()._add_single_value(record, name, value, is_multi)

    def _join_continued(self) -> None:
        if self._continued:
            record, name, values = self._continued
            record[name] = " ".join([record[name], *values])
            self._continued = None


def _tag(line: str) -> str | None:
    match = _TAG_LINE.match(line)
    return match.group(1) if match else None


def read(text: str, label: str) -> ReadResult:
    """Read RIS text; text outside any entry is an error, the rest records."""
    found = drafts(text, label)
    if found is None:
        lines = text.splitlines()
        broken = next((number for number, line in enumerate(lines, start=1) if _BROKEN_TY.match(line)), None)
        if broken:
            message = (
                f"'{lines[broken - 1].strip()[:40]}' is not a TY line as RIS writes one ('TY  - JOUR'); no entry starts"
            )
            return ReadResult(errors=[LoadError(label, broken, None, message)])
        errors = [LoadError(label, None, None, "no RIS entries: no line starts with 'TY  - '")] if text.strip() else []
        return ReadResult(errors=errors)
    return finish(found, label)


# Where a large file may be cut into pieces (evidence.fast.pieces): at a TY line.
PIECES = PieceRule(re.compile(rb"^TY {1,2}-(?= |\r?$)", re.MULTILINE))


def drafts(text: str, label: str, lines_before: int = 0) -> list[Draft] | None:
    """The entries of RIS text (which comes after ``lines_before`` lines of its file), keys not yet settled,
    and tags outside them as failed ones; None if no entry starts in it."""
    chunks = list(_chunks(re.split(r"\r\n|\r|\n", text), lines_before))
    if not any(is_entry for is_entry, _, _ in chunks):
        return None
    return [
        d
        for d in (
            _draft(chunk, first, label) if is_entry else _stray(chunk, first, label)
            for is_entry, first, chunk in chunks
        )
        if d
    ]


def _chunks(lines: list[str], lines_before: int):
    """(is an entry, first line number, lines): entries run from a TY line to their ER line (or, when
    that is missing, to the next TY line or the end); what lies between entries comes as it is."""
    chunk, first, in_entry = [], lines_before + 1, False
    for number, line in enumerate(lines, start=lines_before + 1):
        tag = _tag(line)
        if tag == "TY":
            if chunk:
                yield in_entry, first, chunk
            chunk, first, in_entry = [line], number, True
        elif tag == "ER" and in_entry:
            yield True, first, chunk + [line]
            chunk, first, in_entry = [], number + 1, False
        else:
            chunk.append(line)
    if chunk:
        yield in_entry, first, chunk


def _stray(chunk: list[str], first: int, label: str) -> Draft | None:
    """Tags between entries are an entry whose TY line is missing or broken: it is read only to name it
    by its key, and not loaded. Other text there (a header such as "Provider: ..." that publishers'
    sites write, blank lines, a second ER) is passed over."""
    tagged = [first + i for i, line in enumerate(chunk) if _tag(line) not in (None, "ER")]
    broken = next((first + i for i, line in enumerate(chunk) if _BROKEN_TY.match(line)), None)
    if not tagged and broken is None:
        return None
    draft = _draft(["TY  - "] + [line for line in chunk if _tag(line) != "ER"], first - 1, label)  # one entry
    start = min(line for line in (*tagged[:1], broken) if line is not None)
    draft.record.source_line, draft.problems = start, []
    draft.raw = "\n".join(chunk).strip()
    draft.failure = (
        f"lines {start}-{_last_line(chunk, first)} hold RIS tags outside any entry (no 'TY  - ' "
        "line starts them); they were not loaded"
    )
    if broken is not None:
        draft.failure += f"; line {broken}, '{chunk[broken - first].strip()[:40]}', is not a TY line as RIS writes one"
    return draft


def _draft(chunk: list[str], first: int, label: str) -> Draft:
    """The record one entry gives, with the problems found in its fields."""
    ended = _tag(chunk[-1]) == "ER"
    parser = _Parser(first)
    [ref] = parser.parse_lines(iter(chunk if ended else chunk + ["ER  - "]))
    ris_type = ref.get("TY", "").upper()
    record = StudyRecord(
        key="",
        source_file=label,
        source_line=first,
        source_format="ris",
        entry_type=ENTRY_TYPES.get(RIS_VARIANTS.get(ris_type, ris_type), "misc"),
    )
    draft = Draft(record, given_key(ref.get("ID")), "\n".join(chunk).strip())

    def line_of(tag: str) -> int:
        return parser.lines[tag][0] if parser.lines[tag] else first

    def checked(tag: str, read_value):
        try:
            return read_value()
        except ValueError as exc:
            draft.problems.append((line_of(tag), f"field '{tag}': {exc}; left empty"))
            return None

    if not ended:
        draft.problems.append((first, f"entry has no 'ER  - ' line; read as ending at line {_last_line(chunk, first)}"))
    record.title = _first(ref, "TI", "T1")
    record.authors = [_person(name) for name in ref.get("AU") or ref.get("A1") or [] if name.strip()]
    journal_tag = next((tag for tag in ("T2", "JF", "JO") if ref.get(tag)), None)
    record.journal = ref.get(journal_tag)
    abbreviation = _first(ref, "J2", "JA") or (ref.get("JO") if journal_tag != "JO" else None)
    record.journal_abbrev = abbreviation if abbreviation != record.journal else None
    _read_dates(ref, record, draft, line_of)
    record.pages = _pages(ref.get("SP", ""), ref.get("EP", ""))
    for tag, field in TABLE_TAGS.items():
        if ref.get(tag):
            setattr(record, field.attribute, checked(tag, lambda: NORMALISERS[field.shape](ref[tag])))
    record.pmid = checked("AN", lambda: _pmid(ref))
    notes = []
    for note in ref.get("N1", []):
        match = _PMCID_NOTE.fullmatch(note)
        if match:
            record.pmcid = checked("N1", lambda: normalise_pmcid(match.group(1)))
        elif note:
            notes.append(note)
    record.note = " ".join(notes) or None
    if ref.get("C2", "").upper().startswith("PMC") and not record.pmcid:
        record.pmcid = checked("C2", lambda: normalise_pmcid(ref["C2"]))
    if record.entry_type == "article":
        _read_issns([ref.get("SN", ""), *parser.repeated["SN"], record.issue or ""], record)
    if record.issue and _NOT_AN_ISSUE.search(record.issue):
        if not (_ISSN.fullmatch(record.issue) and record.entry_type == "article"):  # else read as its ISSN
            record.extra["journal_id"] = record.issue
        record.issue = None
    record.url = next((url for url in ref.get("UR", []) if url), None)
    urls = [*ref.get("UR", []), *(value for tag in LINK_TAGS for value in (ref.get(tag), *parser.repeated[tag]))]
    _identifiers_in_links([url for url in urls if url], record, draft, line_of)
    record.abstract = _first(ref, "AB", "N2")
    for keyword, line in zip(ref.get("KW", []), parser.lines["KW"]):
        add_keywords(record, re.split(r"[,;]", keyword), f"{label}:{line}")
    return draft


# What is not an issue number in IS: an ISSN, or an ID of 7 digits or more (Ovid writes the NLM journal ID
# there, "uj0, 0330500").
_ISSN = re.compile(r"\b\d{4}-\d{3}[\dXx]\b")
_NOT_AN_ISSUE = re.compile(r"\d{7}|" + _ISSN.pattern)
# Tags of links to the record or its full text; a PubMed, PMC or doi.org link in any gives its identifier.
LINK_TAGS = ("L1", "L2", "L3", "L4", "LK")
_LINKED = {
    "pmid": re.compile(
        r"(?:ncbi\.nlm\.nih\.gov/pubmed/|pubmed\.ncbi\.nlm\.nih\.gov/|[?&]list_uids=)(\d{1,8})\b", re.IGNORECASE
    ),
    "pmcid": re.compile(r"(?:ncbi\.nlm\.nih\.gov/pmc/articles/|pmc\.ncbi\.nlm\.nih\.gov/articles/)(PMC\d+)", re.I),
    "doi": re.compile(r"\bdoi\.org/(10\.\S+)", re.IGNORECASE),
}
_NORMALISE_LINKED = {"pmid": normalise_pmid, "pmcid": normalise_pmcid, "doi": normalise_doi}


def _read_issns(values: list[str], record: StudyRecord) -> None:
    """The ISSN from SN (and an ISSN written in IS): the print one where SN labels them ("1234-5678 (Print);
    8765-4321 (Electronic)", or two SN lines), else the first; the others are kept in extra, as written."""
    found = [
        (m.group(0).upper(), values[n][m.end() : m.end() + 14]) for n, v in enumerate(values) for m in _ISSN.finditer(v)
    ]
    if not found:
        record.issn = values[0] or None  # not ISSN-shaped: kept as written
        return
    issns = list(dict.fromkeys(issn for issn, _ in found))
    first = next((issn for issn, after in found if "print" in after.lower()), issns[0])
    record.issn = first
    if len(issns) > 1:
        record.extra["issn_also"] = "; ".join(issn for issn in issns if issn != first)


def _identifiers_in_links(urls: list[str], record: StudyRecord, draft: Draft, line_of) -> None:
    """The PMID, PMCID and DOI that PubMed, PMC and doi.org links name, where the entry gives none otherwise."""
    for name, pattern in _LINKED.items():
        if getattr(record, name):
            continue
        match = next((m for m in map(pattern.search, urls) if m), None)
        if match:
            try:
                setattr(record, name, _NORMALISE_LINKED[name](unquote(match.group(1)).rstrip(".,;)")))
            except ValueError as exc:
                draft.problems.append((line_of("UR"), f"link {match.group(0)!r}: {exc}; not read"))


def _last_line(chunk: list[str], first: int) -> int:
    return first + max(i for i, line in enumerate(chunk) if line.strip())


def _first(ref: dict, *tags: str) -> str | None:
    return next((ref[tag] for tag in tags if ref.get(tag)), None)


# Initials after a family name, as Embase writes them without a comma: "M.A.", "R.-J.", or "JR" as MEDLINE does.
_INITIALS = re.compile(r"(?:[A-Z]\.-?){1,4}|[A-Z]{1,2}")
_DOTTED = re.compile(r"\.(?=[A-Z])")


def _person(name: str) -> Person:
    """An author written "Family, Given, Suffix", or "Family M.A." (Embase: initials, no comma; given "M. A.");
    a name of words without initials at the end, or after a leading comma, is all family (a group author)."""
    family, given, suffix = ([part.strip() for part in name.split(",", 2)] + ["", ""])[:3]
    if "," not in name:
        words = family.rsplit(None, 1)
        if len(words) == 2 and _INITIALS.fullmatch(words[1]):
            family, given = words[0], _DOTTED.sub(". ", words[1] if "." in words[1] else ".".join(words[1]) + ".")
    if not family:  # ", PRISMA-P Group": a group author
        family, given, suffix = " ".join(part for part in (given, suffix) if part), "", ""
    particle, family = split_particle(family)
    return Person(family, given, particle, suffix)


def _read_dates(ref: dict, record: StudyRecord, draft: Draft, line_of) -> None:
    """Year from the first of PY, Y1, DA that has one; month from the first that names one."""
    dates = [(tag, read_date(ref[tag])) for tag in ("PY", "Y1", "DA") if ref.get(tag)]
    record.year = next((year for _, (year, _) in dates if year), None)
    record.month = next((month for _, (_, month) in dates if month), None)
    if dates and record.year is None:
        tag = dates[0][0]
        draft.problems.append((line_of(tag), f"field '{tag}': no four-digit year in {ref[tag]!r}; left empty"))


def _pages(first: str, last: str) -> str | None:
    """ "858-866" from SP 858 and EP 866, or from SP "858-66" alone."""
    if not first:
        return None
    return normalise_pages(first if last == "" or _DASH.search(first) else f"{first}-{last}")


def _pmid(ref: dict) -> str | None:
    """The PMID in AN, where the record says that AN holds one (see the module's docstring)."""
    number = ref.get("AN", "").strip()
    if re.match(r"pmid\b", number, re.IGNORECASE):
        return normalise_pmid(number)
    sources = [ref[tag] for tag in ("DB", "DP") if ref.get(tag)]
    if _PMID_DIGITS.fullmatch(number) and (not sources or any(_PMID_SOURCE.search(s) for s in sources)):
        return number
    return None


# Writing (rispy): one reference per study, in the tags Zotero and EndNote import.
class _Writer(rispy.RisWriter):
    """rispy's writer without the "1." counter line it puts before each reference."""

    def set_header(self, count: int) -> str:
        return ""


def reference(study: TaggedStudy) -> dict:
    """One study as a rispy reference (keys are rispy's names for RIS tags)."""
    r = study.record
    ref = {"type_of_reference": RIS_TYPES.get(r.entry_type, "GEN"), "id": citation_key(r.key)}
    if r.title:
        ref["title"] = r.title
    ref["authors"] = [name for name in map(_name, r.authors) if name]
    if r.year:
        ref["year"] = str(r.year)
        month = month_number(r.month)
        if month:
            ref["date"] = f"{r.year}/{month:02d}//"
    first, _, last = (r.pages or "").partition("-")
    values = {rispy.TAG_KEY_MAPPING[f.ris]: str(getattr(r, f.attribute) or "") for f in FIELDS if f.ris in TABLE_TAGS}
    values.update(
        {
            "secondary_title": r.journal or extra_text(r, "booktitle"),
            "alternate_title1": r.journal_abbrev,
            "publisher": extra_text(r, "publisher"),
            "place_published": extra_text(r, "address"),
            "start_page": first,
            "end_page": last,
            "accession_number": r.pmid,
            "issn": r.issn,
            "abstract": r.abstract,
            "urls": [r.url] if r.url else None,
            "keywords": study.keywords(),
            "notes": [n for n in (r.note, f"PMCID: {r.pmcid}" if r.pmcid else None) if n] or None,
        }
    )
    ref.update((k, v) for k, v in values.items() if v)
    return {k: [_one_line(x) for x in v] if isinstance(v, list) else _one_line(v) for k, v in ref.items()}


def _name(p: Person) -> str:
    """An author as "Family, Given, Suffix", read back as the same parts: the given name is kept (empty) before
    a suffix; a name without a family name is written whole as one, and a family name that would be read as a
    name and initials ("Hepatitis B") ends with a comma."""
    family = " ".join(part for part in (p.particle, p.family) if part)
    if not p.family:
        family, given, suffix = " ".join(part for part in (p.given, family, p.suffix) if part), "", ""
    else:
        given, suffix = p.given, p.suffix
    if suffix:
        return f"{family}, {given}, {suffix}"
    if given:
        return f"{family}, {given}"
    words = family.rsplit(None, 1)
    return f"{family}," if len(words) == 2 and _INITIALS.fullmatch(words[1]) else family


def _one_line(value: str) -> str:
    """RIS values cannot span lines: a line break would start a bogus tag or be dropped."""
    return " ".join(value.split())


_WRITER = _Writer()


def entry(study: TaggedStudy) -> str:
    """One study as an RIS reference, as ``rispy.dumps`` writes it."""
    return _WRITER.formats([reference(study)])


FORMAT = Format(
    "ris",
    "RIS",
    suffixes=(".ris",),
    signature=re.compile(r"^TY {1,2}- ", re.MULTILINE),
    read=read,
    drafts=drafts,
    pieces=PIECES,
    entry=entry,
    layout=Layout(),
    extension="ris",
    media_type="application/x-research-info-systems",
)
