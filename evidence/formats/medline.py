"""PubMed MEDLINE reader (``.nbib``, PubMed's "Save as PubMed format").

Records are separated by blank lines; each line is ``TAG - value`` with the tag left-justified in four
columns (``PMID- ``, ``TI  - ``, ``FAU - ``), and continuation lines start with spaces and join the
line above with one space. What is read, and the choices made where MEDLINE allows several readings:

- ``TI`` title: NLM ends every title with a period, which no other reader keeps, so one trailing
  period is dropped. A title NLM translated into English stays in its square brackets, which is how
  a reader can tell it is not the original title.
- ``FAU`` full names ("Cherkin, Daniel C"), leading lower-case words of the family name as particle
  ("van Tulder"); ``AU`` ("Cherkin DC") only for records without any ``FAU``; ``CN`` collective names
  as one family name, in their place in the list.
- ``DP`` "2009 May 11" gives the year and the month ("may"); a season or range gives the first month
  if it names one.
- ``LID`` / ``AID`` "10.1001/x [doi]" give the DOI; other identifiers (``[pii]``) are not kept.
- ``IS``: the ``(Linking)`` ISSN (ISSN-L, one per journal whatever the medium), else ``(Print)``,
  else the first given.
- ``PT`` publication types and ``MH`` MeSH descriptors (without qualifiers or the star of a major
  topic), in order without repeats; the descriptors starred, themselves or in a qualifier (PubMed's
  major topics), also in ``mesh_major``, which the tagger reads and the store does not keep. ``OT``
  other terms are keywords (``condition:...`` ones curated tags).
- Every record is an ``article``: MEDLINE indexes journal articles. The citation key is made from the
  first author and year (MEDLINE has none). Tags not listed here (``OWN``, ``STAT``, ``AD``, ...) are
  bookkeeping or affiliations and are not kept.

Lines starting with ``#`` are comments (PubMed never writes them; a hand-kept file may say where its
records come from). A record without a title is loaded with a warning; a line that is neither ``TAG - value`` nor a
continuation, and a value of the wrong shape, are warnings: the line or field is left out.
"""

from __future__ import annotations

import re

from ..fields import FIELDS, named_in
from ..records import (
    MONTHS,
    NORMALISERS,
    Person,
    StudyRecord,
    normalise_doi,
    normalise_year,
)
from .reading import (
    Draft,
    Format,
    PieceRule,
    ReadResult,
    add_keywords,
    finish,
    split_particle,
)

_LINE = re.compile(r"(?=[A-Z][A-Z0-9 ]{3}-)([A-Z][A-Z0-9]{1,3}) *-(?: (.*))?")  # the tag fills four columns
_CONTINUATION = re.compile(r"\s+(\S.*)")
# MEDLINE tag -> the field table's row, for the fields read by their shape (the list fields are read below).
TABLE_TAGS = named_in("medline", FIELDS)
ISSN_PREFERENCE = ("Linking", "Print")


def read(text: str, label: str) -> ReadResult:
    """Read MEDLINE text; malformed lines become LoadErrors, the rest records."""
    return finish(drafts(text, label), label)


# Where a large file may be cut into pieces (evidence.fast.pieces): at a line that follows a blank line (a
# comment line too: it is skipped).
PIECES = PieceRule(re.compile(rb"(?<=\n\n)(?=\S)|(?<=\n\r\n)(?=\S)"))


def drafts(text: str, label: str, lines_before: int = 0) -> list[Draft]:
    """The records of MEDLINE text (which comes after ``lines_before`` lines of its file), keys not yet made."""
    return [_draft(lines, label) for lines in _records(text, lines_before)]


def _records(text: str, lines_before: int) -> list[list[tuple[int, str]]]:
    """The text's records: runs of non-blank lines, each line with its 1-based number; comments left out."""
    records: list[list[tuple[int, str]]] = [[]]
    for number, line in enumerate(re.split(r"\r\n|\r|\n", text), start=lines_before + 1):
        if line.startswith("#"):
            continue
        if line.strip():
            records[-1].append((number, line.rstrip()))
        elif records[-1]:
            records.append([])
    return [r for r in records if r]


def _fields(lines: list[tuple[int, str]]) -> tuple[list[tuple[str, int, str]], list[tuple[int, str]]]:
    """A record's (tag, line, value) fields with continuation lines joined, and the lines that are neither."""
    fields: list[tuple[str, int, str]] = []
    malformed = []
    for number, line in lines:
        continuation = _CONTINUATION.fullmatch(line)
        field = _LINE.fullmatch(line)
        if continuation and fields:
            tag, first, value = fields[-1]
            fields[-1] = (tag, first, f"{value} {continuation.group(1)}".strip())
        elif field:
            fields.append((field.group(1), number, (field.group(2) or "").strip()))
        else:
            malformed.append((number, line))
    return fields, malformed


def _draft(lines: list[tuple[int, str]], label: str) -> Draft:
    """The record of one run of lines; field problems are noted and the field left empty."""
    fields, malformed = _fields(lines)
    line = next((n for tag, n, _ in fields if tag == "PMID"), lines[0][0])
    record = StudyRecord(key="", source_file=label, source_line=line, source_format="medline")
    draft = Draft(
        record,
        None,
        "\n".join(text for _, text in lines),
        [(n, f"line is not 'TAG - value' nor a continuation, ignored: {text.strip()!r}") for n, text in malformed],
    )
    if not fields:
        draft.failure, draft.makes_key = "no 'TAG - value' line: not a MEDLINE record; nothing was read", False
    full_names: list[Person] = []
    short_names: list[Person] = []
    issns: list[str] = []

    def parsed(parse, tag: str, field_line: int, value: str):
        try:
            return parse(value)
        except ValueError as exc:
            draft.problems.append((field_line, f"field '{tag}': {exc}; left empty"))
            return None

    for tag, field_line, value in fields:
        if tag == "TI":
            record.title = _title(value)
        elif tag == "FAU":
            full_names.append(_full_name(value))
        elif tag == "AU":
            short_names.append(_short_name(value))
        elif tag == "CN":
            full_names.append(Person(family=value))
            short_names.append(Person(family=value))
        elif tag == "DP":
            record.year, record.month = parsed(_date, tag, field_line, value) or (None, None)
        elif tag in ("LID", "AID") and value.endswith("[doi]") and not record.doi:
            record.doi = parsed(normalise_doi, tag, field_line, value.removesuffix("[doi]").strip())
        elif tag == "IS":
            issns.append(value)
        elif tag == "PT" and value not in record.publication_types:
            record.publication_types.append(value)
        elif tag == "MH":
            descriptor = value.split("/")[0].lstrip("*").strip()
            if descriptor not in record.mesh_headings:
                record.mesh_headings.append(descriptor)
            if "*" in value and descriptor not in record.mesh_major:
                record.mesh_major.append(descriptor)
        elif tag == "OT":
            add_keywords(record, [value], f"{label}:{field_line}")
        elif tag in TABLE_TAGS:
            field = TABLE_TAGS[tag]
            setattr(record, field.attribute, parsed(NORMALISERS[field.shape], tag, field_line, value))
    record.authors = full_names if any(tag == "FAU" for tag, _, _ in fields) else short_names
    record.issn = _issn(issns)
    return draft


def _title(value: str) -> str | None:
    """The title without the period NLM ends every title with."""
    title = value[:-1] if value.endswith(".") and not value.endswith("..") else value
    return title.strip() or None


def _full_name(value: str) -> Person:
    """``FAU`` "van Tulder, Maurits W" -> family "Tulder", particle "van", given "Maurits W"."""
    family, _, given = value.partition(",")
    particle, family = split_particle(family)
    return Person(family=family, given=given.strip(), particle=particle)


def _short_name(value: str) -> Person:
    """``AU`` "Cherkin DC" -> family "Cherkin", given "D C" (initials are all MEDLINE gives)."""
    family, _, initials = value.rpartition(" ")
    if not family:
        return Person(family=initials)
    return Person(family=family, given=" ".join(initials) if initials.isupper() else initials)


def _date(value: str) -> tuple[int | None, str | None]:
    """``DP`` "2009 May 11" -> (2009, "may"); ValueError if it does not start with a year."""
    year, _, rest = value.partition(" ")
    month = rest[:3].lower()
    return normalise_year(year), month if month in MONTHS else None


def _issn(values: list[str]) -> str | None:
    """The preferred ISSN of ``IS`` values like "0003-9926 (Print)"."""
    for medium in ISSN_PREFERENCE:
        for value in values:
            if value.endswith(f"({medium})"):
                return value.removesuffix(f"({medium})").strip()
    return values[0].split("(")[0].strip() if values else None


FORMAT = Format(
    "medline",
    "PubMed MEDLINE",
    suffixes=(".nbib", ".medline"),
    signature=re.compile(r"^PMID- ", re.MULTILINE),
    read=read,
    drafts=drafts,
    pieces=PIECES,
)
