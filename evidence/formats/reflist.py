"""Printed reference lists (.txt): APA, AMA / Vancouver and consumer-article styles, parsed by rules.

One reference per paragraph, or numbered ("1.", "[1]", "1)") one per line or wrapped over lines.
Every field comes from free text, so every record is marked ``source_format = "reference-list"``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from ..records import Person, StudyRecord, normalise_doi, normalise_pages
from .reading import Draft, Format, ReadResult, finish

SOURCE_FORMAT = "reference-list"


@dataclass
class Reference:
    """One printed reference: its text on one line, the file line it starts on, and its lines as printed."""

    text: str
    line: int
    raw: str


def read(text: str, label: str) -> ReadResult:
    """Read a printed reference list; a reference without a title, or without a year and an identifier,
    is an error; one missing other fields loads with a warning naming them."""
    return finish([_draft(reference, label) for reference in split_references(text)], label, warn_unverifiable=False)


def _draft(reference: Reference, label: str) -> Draft:
    """The draft of one reference: failed if it has no title, or neither year nor identifier."""
    parsed = parse_reference(reference.text)
    missing = [] if parsed.title else ["title"]
    if not (parsed.year or parsed.doi or parsed.pmid):
        missing.append("year, DOI or PMID")
    if missing:
        return Draft(
            StudyRecord("", label, reference.line),
            None,
            reference.raw,
            makes_key=False,
            failure=f"reference could not be parsed (no {' and no '.join(missing)} found); it was not loaded",
        )
    not_found = [
        name
        for name, value in (
            ("authors", parsed.authors),
            ("year", parsed.year),
            ("journal", parsed.journal),
            ("volume", parsed.volume),
            ("pages", parsed.pages),
        )
        if not value
    ]
    if not (parsed.doi or parsed.pmid):
        not_found.append("DOI or PMID")
    problems = [(reference.line, f"parsed from free text; not found: {', '.join(not_found)}")] if not_found else []
    return Draft(replace(parsed, source_file=label, source_line=reference.line), None, reference.raw, problems)


# --- a file into references ----------------------------------------------------------------------

_NUMBER = re.compile(r"^\s*(?:\[(\d{1,4})\]|(\d{1,4})[.)])\s+(?=\S)")
_HEADING = re.compile(r"^\s*(?:references?|bibliography|works cited|literature cited|sources)\s*:?\s*$", re.IGNORECASE)


def split_references(text: str) -> list[Reference]:
    """The references in a file, in order. A numbered line starts a reference when its number follows the
    previous one; otherwise blank lines separate references, and a paragraph whose every line is a
    complete reference by itself holds one reference per line."""
    groups: list[tuple[bool, list[tuple[int, str]]]] = []  # (numbered, [(line number, line)])
    current: list[tuple[int, str]] | None = None
    last_number: int | None = None
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            current = None
            continue
        if current is None and _HEADING.match(line):
            continue
        match = _NUMBER.match(line)
        number = int(match.group(1) or match.group(2)) if match else None
        if number is not None and (current is None or last_number is not None and number == last_number + 1):
            current, last_number = [(line_number, line[match.end() :])], number
            groups.append((True, current))
        elif current is None:
            current, last_number = [(line_number, line)], None
            groups.append((False, current))
        else:
            current.append((line_number, line))
    references = []
    for numbered, group in groups:
        one_per_line = [Reference(" ".join(line.split()), number, line) for number, line in group]
        if not numbered and len(group) > 1 and all(_is_complete(parse_reference(r.text)) for r in one_per_line):
            references.extend(one_per_line)
        else:
            references.append(
                Reference(_join([line for _, line in group]), group[0][0], "\n".join(line for _, line in group))
            )
    return references


def _is_complete(parsed: StudyRecord) -> bool:
    return bool(parsed.title and parsed.year and parsed.journal)


_LINK_AT_END = re.compile(r"(?:https?://|doi:\s*|\b10\.\d{4,9}/)\S*$", re.IGNORECASE)


def _join(lines: list[str]) -> str:
    """The lines of a wrapped reference as one line. A word broken after its hyphen, and a DOI or URL
    broken after "/" (or after "." or "-" when the next line goes on in lower case or digits), join
    without a space."""
    text = " ".join(lines[0].split())
    for line in lines[1:]:
        line = " ".join(line.split())
        broken_word = re.search(r"\w[-–]$", text) is not None
        broken_link = _LINK_AT_END.search(text) is not None and (
            text.endswith("/") or text.endswith((".", "-")) and (line[:1].islower() or line[:1].isdigit())
        )
        text += ("" if broken_word or broken_link else " ") + line
    return text


# --- identifiers ---------------------------------------------------------------------------------

_DOI = re.compile(r"(?:\bdoi\s*:?\s*|https?://(?:dx\.)?doi\.org/)?(10\.\d{4,9}/\S+)", re.IGNORECASE)
_PMID = re.compile(r"(?:\bPubMed\s+)?\bPMID\s*:?\s*(\d{1,9})\b", re.IGNORECASE)
_PMCID = re.compile(r"(?:\bPubMed\s+Central\s+)?\bPMCID\s*:?\s*(PMC\d+)\b", re.IGNORECASE)
_URL = re.compile(r"(?:\b(?:Available (?:from|at)|URL)\s*:?\s*)?(https?://\S+)", re.IGNORECASE)
_NOISE = re.compile(
    r"\[(?:Epub ahead of print|PubMed|PMC free article|CrossRef|Google Scholar)[^\]]*\]"
    r"|\b(?:Epub|Published(?: online)?)\s+(?:ahead of print)?"
    r"\s*(?:(?:1[5-9]|20)\d{2}(?:\s+[A-Z][a-z]{2,8}\.?)?(?:\s+\d{1,2})?)?"
    r"|\b(?:Accessed|Cited)\s+[^.\]]*[.\]]",
    re.IGNORECASE,
)


def _trim_identifier(value: str) -> str:
    """An identifier without the sentence punctuation and unbalanced closing brackets printed after it."""
    while value:
        last = value[-1]
        opening = {")": "(", "]": "["}.get(last)
        if last not in ".,;:" and not (opening and value.count(opening) < value.count(last)):
            break
        value = value[:-1]
    return value


def _take_identifiers(text: str, parsed: StudyRecord) -> str:
    """Move the DOI, PMID, PMCID and URL out of ``text`` into ``parsed``; the rest is the citation."""
    match = _DOI.search(text)
    if match:
        doi = _trim_identifier(match.group(1))
        try:
            parsed.doi = normalise_doi(doi)
        except ValueError:
            pass  # "10.1234/" and nothing after: not a DOI, the text stays in the citation
        else:
            text = text[: match.start()] + " " + text[match.start(1) + len(doi) :]
    for pattern, attribute in ((_PMID, "pmid"), (_PMCID, "pmcid")):
        match = pattern.search(text)
        if match:
            setattr(parsed, attribute, match.group(1).upper())
            text = text[: match.start()] + " " + text[match.end() :]
    match = _URL.search(text)
    if match:
        parsed.url = _trim_identifier(match.group(1))
        text = text[: match.start()] + " " + text[match.start(1) + len(parsed.url) :]
    text = " ".join(_NOISE.sub(" ", text).split())
    text = re.sub(r"([.;,])(?:\s+[.;,])+", r"\1", text)  # "858-866. ." where a DOI was
    return re.sub(r"\s+([.;,])", r"\1", text).strip(" ;,")


# --- names ---------------------------------------------------------------------------------------

_PARTICLES = {
    "van",
    "von",
    "der",
    "den",
    "de",
    "del",
    "della",
    "di",
    "da",
    "das",
    "do",
    "dos",
    "du",
    "la",
    "le",
    "ten",
    "ter",
    "te",
    "bin",
    "ibn",
    "al",
    "el",
    "y",
}
_SUFFIX = re.compile(r"(?:Jr|Sr|II|III|IV|2nd|3rd)\.?")
_ET_AL = re.compile(r"(?:and\s+)?et\.?\s*al\.?", re.IGNORECASE)
_APA_INITIALS = re.compile(r"[A-Z][a-z]?\.(?:\s?-?\s?[A-Z][a-z]?\.)*")
_BARE_INITIALS = re.compile(r"[A-Z](?:\.?\s?-?\s?[A-Z]){0,3}\.?")
_GROUP_WORDS = re.compile(
    r"\b(?:Collaboration|Collaborative|Group|Consortium|Committee|Conference|Association|Society|Organi[sz]ation"
    r"|Institute|Council|Network|Investigators|Trialists|Panel|Task Force|Working Party|College|Academy|Agency"
    r"|Foundation|Cent(?:re|er)|Team|Board|Federation|Department|Ministry|Authority)\b"
)
_ELLIPSIS = re.compile(r",?\s*(?:…|\.\s?\.\s?\.)\s*")


def _dotted(initials: str) -> str:
    """Initials as "D. C." (hyphenated ones as "M.-R."), however they were printed."""
    groups = [re.findall(r"[A-Z][a-z]?", part) for part in initials.split("-")]
    return "-".join(" ".join(f"{letter}." for letter in group) for group in groups if group)


def _is_family_word(word: str) -> bool:
    return word[:1].isupper() and any(c.islower() for c in word) and all(c.isalpha() or c in "'’-" for c in word)


def _family(words: list[str]) -> tuple[str, str] | None:
    """``(particle, family)`` from a family name's words ("van der Berg"), or None if they are not a name."""
    if not words or len(words) > 4:
        return None
    start = 0
    while start < len(words) - 1 and words[start] in _PARTICLES:
        start += 1
    if not all(_is_family_word(w) or w in _PARTICLES for w in words[start:]) or not _is_family_word(words[-1]):
        return None
    return " ".join(words[:start]), " ".join(words[start:])


def _group(text: str) -> Person | None:
    """A group author ("Acupuncture Trialists' Collaboration"), recognised by words such as Group or Society."""
    name = re.sub(r"^(?:for|on behalf of)\s+(?:the\s+)?", "", text.strip().rstrip("."), flags=re.IGNORECASE)
    if ". " in name or not name[:1].isupper() or not _GROUP_WORDS.search(name):
        return None
    return Person(family=name)


def _vancouver_name(text: str) -> Person | None:
    """A name printed family name first, then initials: "Cherkin DC", "van der Berg A", "Kim M-R", "Kulay L Jr"."""
    words = text.split()
    suffix = words.pop().rstrip(".") if len(words) > 2 and _SUFFIX.fullmatch(words[-1]) else ""
    split = len(words) - 1
    while split > 1 and _BARE_INITIALS.fullmatch(" ".join(words[split - 1 :])):
        split -= 1
    if split < 1 or not _BARE_INITIALS.fullmatch(" ".join(words[split:])):
        return None
    family = _family(words[:split])
    if family is None:
        return None
    return Person(family=family[1], given=_dotted(" ".join(words[split:])), particle=family[0], suffix=suffix)


def _vancouver_names(text: str) -> tuple[list[Person], bool] | None:
    """A list of names as "Cherkin DC, Sherman KJ, et al" (commas or semicolons), or None."""
    pieces = [p.strip() for p in re.split(r"[,;]", text.strip().rstrip(",;"))]
    people, truncated = [], False
    for position, piece in enumerate(pieces):
        if _ET_AL.fullmatch(piece):
            truncated = True
            if position != len(pieces) - 1:
                return None
            continue
        person = _vancouver_name(piece) or _group(piece)
        if person is not None:
            people.append(person)
            continue
        pair = [_vancouver_name(p) for p in re.split(r"\s+(?:and|&)\s+", piece)]
        if len(pair) < 2 or None in pair:
            return None
        people.extend(pair)
    return (people, truncated) if people else None


def _apa_names(text: str) -> tuple[list[Person], bool] | None:
    """A list of names as "Cherkin, D. C., Sherman, K. J., & Deyo, R. A." (APA), or None."""
    truncated = bool(_ELLIPSIS.search(text))
    text = re.sub(r",?\s+(?:&|and)\s+", ", ", _ELLIPSIS.sub(", ", text))
    parts = [p.strip() for p in text.split(",") if p.strip()]
    people, position = [], 0
    while position < len(parts):
        part = parts[position]
        if _ET_AL.fullmatch(part):
            truncated, position = True, position + 1
            continue
        family = _family(part.split())
        if family and position + 1 < len(parts) and _APA_INITIALS.fullmatch(parts[position + 1]):
            suffix = ""
            if position + 2 < len(parts) and _SUFFIX.fullmatch(parts[position + 2]):
                suffix = parts[position + 2].rstrip(".")
            people.append(
                Person(family=family[1], given=_dotted(parts[position + 1]), particle=family[0], suffix=suffix)
            )
            position += 3 if suffix else 2
            continue
        group = _group(part)
        if group is None:
            return None
        people.append(group)
        position += 1
    return (people, truncated) if people else None


_SENTENCE_END = re.compile(r"(?<=[.?!])[\"”’]?\s+(?=\S)")


def _leading_names(head: str) -> tuple[list[Person], bool, int] | None:
    """The author list that opens a Vancouver-style reference, and where the rest begins: the longest run
    of sentences from the start that reads as names ("Cherkin D. C., Sherman K. J." has several)."""
    found = None
    ends = [(m.start(), m.end()) for m in _SENTENCE_END.finditer(head)] + [(len(head), len(head))]
    for end, rest in ends:
        names = _vancouver_names(head[:end].rstrip(". "))
        if names is None:
            break
        found = (*names, rest)
    if found and all(not p.given for p in found[0]) and not _SENTENCE_END.search(head[found[2] :]):
        return None  # a lone group name needs a title and a journal after it, or it is a title
    return found


# --- title, journal and the numbers --------------------------------------------------------------

_YEAR = r"(?P<year>(?:1[5-9]|20)\d{2})[a-z]?"
_PAGES = r"(?P<pages>[A-Za-z]{0,3}\d+[A-Za-z]?(?:\s*[-–—]\s*[A-Za-z]{0,3}\d+[A-Za-z]?)?)"
_APA_DATE = re.compile(r"\(\s*" + _YEAR + r"(?:\s*,\s*[^)]*)?\s*\)\.?\s*")
_APA_SOURCE = re.compile(  # the volume may be glued to a journal name copied from a web page's italics
    r"(?:,\s*|\s+|(?<=[a-z]))(?P<volume>\d+[A-Za-z]?)\s*(?:\((?P<issue>[^)]+)\))?"
    r"(?:(?:\s*,\s*(?:Article\s+|pp?\.\s*)?|\s*:\s*)" + _PAGES + r")?\s*\.?$"
)
_AMA_SOURCE = re.compile(
    r"\b" + _YEAR + r"(?:\s+[A-Z][a-z]{2,8}\.?(?:\s+\d{1,2})?(?:\s*[-–]\s*(?:[A-Z][a-z]{2,8}\.?)?\s*\d{0,2})?)?"
    r"(?:\s*;\s*|\s*,\s*(?=\d+(?:\([^)]*\))?\s*:))"
    r"(?P<volume>\d+[A-Za-z]?)?\s*(?:\((?P<issue>[^)]+)\))?\s*(?::\s*" + _PAGES + r")?"
)
_YEAR_AT_END = re.compile(r"(?:^|[\s,(])" + _YEAR + r"\)?\s*[.,;]?\s*$")
_ABBREVIATION = re.compile(r"[A-Z][a-z]{0,7}\.")  # "J.", "Invent.", "Gynecol."


def _title_and_journal(text: str) -> tuple[str | None, str | None]:
    """Split "Title. Journal" at the last sentence end; a title keeps its "?" and may hold full stops,
    and a journal abbreviated with full stops ("Am. J. Med.") stays whole."""
    text = text.strip().rstrip(".,;: ")
    ends = list(_SENTENCE_END.finditer(text))
    if not ends:
        return _title(text), None
    cut = len(ends) - 1
    while cut > 0 and _ABBREVIATION.fullmatch(text[ends[cut - 1].end() : ends[cut].start()].strip()):
        cut -= 1
    return _title(text[: ends[cut].start()]), text[ends[cut].end() :].strip() or None


def _title(text: str) -> str | None:
    title = text.strip().strip('"“”‘’').strip()
    title = title[:-1].rstrip() if title.endswith(".") else title
    return title or None


def parse_reference(text: str) -> StudyRecord:
    """The fields of one printed reference, as far as the rules find them."""
    parsed = StudyRecord(key="", source_file="", source_line=0, source_format=SOURCE_FORMAT)
    body = _take_identifiers(text, parsed)
    date = _APA_DATE.search(body)
    if date and (_names_before(body, date) or not _ama_sources(body)):
        _parse_apa(body, date, parsed)
    else:  # no "(Year)", or one inside a title of a reference with "Year;volume"
        _parse_vancouver(body, parsed)
    if parsed.pages:
        parsed.pages = normalise_pages(parsed.pages)
    return parsed


def _names_before(body: str, date: re.Match) -> tuple[list[Person], bool] | None:
    """The authors printed before an APA "(Year)", or None."""
    prefix = body[: date.start()].strip()
    return (_apa_names(prefix) or _vancouver_names(prefix.rstrip("."))) if prefix else None


def _ama_sources(body: str) -> list[re.Match]:
    """Every "Year;volume(issue):pages" in the text (a year followed by volume or issue)."""
    return [m for m in _AMA_SOURCE.finditer(body) if m.group("volume") or m.group("issue")]


def _parse_apa(body: str, date: re.Match, parsed: StudyRecord) -> None:
    """Authors (Year). Title. Journal, volume(issue), pages. (also "Authors (Year) Title. Journal vol:pages")"""
    parsed.year = int(date.group("year"))
    prefix, rest = body[: date.start()].strip(), body[date.end() :].strip()
    names = _names_before(body, date)
    if names:
        parsed.authors, parsed.more_authors = names
    elif prefix:
        rest = f"{prefix} {rest}"  # no author: the title comes first
    source = _APA_SOURCE.search(rest)
    if source:
        parsed.volume, parsed.issue, parsed.pages = source.group("volume", "issue", "pages")
        rest = rest[: source.start()]
    parsed.title, parsed.journal = _title_and_journal(rest)


def _parse_vancouver(body: str, parsed: StudyRecord) -> None:
    """Authors. Title. Journal. Year;volume(issue):pages. (also "Title. Journal Year")"""
    sources = _ama_sources(body)
    source = sources[-1] if sources else _YEAR_AT_END.search(body)
    head = body
    if source:
        parsed.year = int(source.group("year"))
        head = body[: source.start()]
        if sources:
            parsed.volume, parsed.issue, parsed.pages = source.group("volume", "issue", "pages")
    names = _leading_names(head)
    if names:
        parsed.authors, parsed.more_authors, start = names
        head = head[start:]
    parsed.title, parsed.journal = _title_and_journal(head)


FORMAT = Format("reference-list", "printed reference list", suffixes=(".txt",), read=read)
