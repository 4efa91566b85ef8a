"""CSL-JSON reader: an array of items (or one item) as Zotero, Better BibTeX, pandoc and our writer make them.

Each item's line is found by decoding the array one item at a time (``json.JSONDecoder.raw_decode``).
``id`` is the key unless it is a bare number. The title's ``<span class="nocase">`` becomes protected
spans; other inline markup (``<i>``, ``<b>``, ``<sup>``, ``<sub>``, styled spans) is dropped, its text
kept. Names take ``family`` / ``given`` / ``suffix``, both particles, or a group's ``literal``. The date
is ``issued``: ``date-parts`` (numbers or, as Zotero writes the year, strings: see
https://github.com/zotero/dataserver/issues/119), ``raw``, ``literal``, or an EDTF string as pandoc reads.
"""

from __future__ import annotations

import bisect
import json
import re

from ..fields import FIELDS, named_in
from ..records import (
    NORMALISERS,
    LoadError,
    Person,
    StudyRecord,
    TaggedStudy,
    month_number,
    normalise_year,
)
from .latex import citation_key, extra_text
from .reading import (
    Draft,
    Format,
    Layout,
    ReadResult,
    add_keywords,
    entry_types,
    finish,
    given_key,
    month_name,
    read_date,
    split_particle,
)

# BibTeX entry type -> CSL item type.
CSL_TYPES = {
    "article": "article-journal",
    "book": "book",
    "inbook": "chapter",
    "incollection": "chapter",
    "inproceedings": "paper-conference",
    "conference": "paper-conference",
    "phdthesis": "thesis",
    "mastersthesis": "thesis",
    "thesis": "thesis",
    "techreport": "report",
    "report": "report",
    "online": "webpage",
    "unpublished": "manuscript",
    "misc": "article",
}
ENTRY_TYPES = entry_types(CSL_TYPES)  # CSL type -> BibTeX type

# CSL variable -> the field table's row (``issued`` and ``keyword`` are read on their own); the first variable
# present wins.
VARIABLES = named_in("csl", FIELDS)

_SPACE = re.compile(r"[ \t\n\r]*")
_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_INLINE_TAG = re.compile(r"<(/?)(i|b|sup|sub|span)\b([^<>]*)>", re.IGNORECASE)
_NOCASE = re.compile(r"""class\s*=\s*["']nocase["']""", re.IGNORECASE)


def read(text: str, label: str) -> ReadResult:
    """Read CSL-JSON text; text that is not JSON is one error and nothing is loaded, a bad item an error
    of its own."""
    try:
        data = json.loads(text, parse_int=_number)
    except RecursionError:  # an item nested too deeply: the others are read one by one
        return _read_items(text, label, _items_apart(text))
    except json.JSONDecodeError as exc:
        # No line of its own: an error without one tells the loader to keep what this file loaded before.
        return ReadResult(
            errors=[
                LoadError(
                    label,
                    None,
                    None,
                    f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}; nothing was loaded from it",
                )
            ]
        )
    if not isinstance(data, (list, dict)):
        return ReadResult(errors=[LoadError(label, None, None, "not CSL-JSON: expected an array of items or one item")])
    return _read_items(text, label, _items(text))


def _read_items(text: str, label: str, items) -> ReadResult:
    """The drafts of the (item, start, end) given, an item that is not an object an error (``_TOO_DEEP``: one
    nested too deeply to read)."""
    newlines = [m.start() for m in re.finditer("\n", text)]

    def line_at(offset: int) -> int:
        return bisect.bisect_left(newlines, offset) + 1

    drafts, errors = [], []
    for number, (item, start, end) in enumerate(items, start=1):
        if isinstance(item, dict):
            drafts.append(_draft(item, text, start, end, line_at, label))
        else:
            why = "is nested too deeply to read" if item is _TOO_DEEP else "is not a JSON object"
            errors.append(LoadError(label, line_at(start), None, f"item {number} {why}; it was not loaded", raw=""))
    return finish(drafts, label, errors)


class _LongNumber(str):
    """A JSON integer too long to be one (Python refuses to convert thousands of digits): kept as its digits."""


def _number(digits: str) -> int | str:
    return int(digits) if len(digits) <= 100 else _LongNumber(digits)


_TOO_DEEP = object()
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{},]', re.DOTALL)


def _items_apart(text: str):
    """(item, start, end) of each element of a top-level array, each read on its own (``_TOO_DEEP`` for one
    nested too deeply), found by counting brackets outside strings; one ``_TOO_DEEP`` for a text that is no array."""
    first = _SPACE.match(text).end()
    if not text.startswith("[", first):
        yield _TOO_DEEP, first, len(text)
        return
    depth, start = 0, None
    for token in _JSON_TOKEN.finditer(text, first):
        mark = token.group()
        if mark in "[{":
            depth += 1
        elif mark in "]}":
            depth -= 1
        if depth == 1 and mark == "[" and token.start() == first:
            start = token.end()
        elif (depth == 1 and mark == ",") or depth == 0:
            if start is not None and text[start : token.start()].strip():
                try:
                    item = json.loads(text[start : token.start()], parse_int=_number)
                except (RecursionError, ValueError):
                    item = _TOO_DEEP
                yield item, _SPACE.match(text, start).end(), token.start()
            start = token.end()
            if depth == 0:
                return


def _items(text: str):
    """(item, start offset, end offset) of each element of the top-level array, or of the one object.
    The text is known to be valid JSON."""
    decoder = json.JSONDecoder(parse_int=_number)
    at = _SPACE.match(text).end()
    if text[at] != "[":
        item, end = decoder.raw_decode(text, at)
        yield item, at, end
        return
    at = _SPACE.match(text, at + 1).end()
    while text[at] != "]":
        item, end = decoder.raw_decode(text, at)
        yield item, at, end
        at = _SPACE.match(text, end).end()
        if text[at] == ",":
            at = _SPACE.match(text, at + 1).end()


def _draft(item: dict, text: str, start: int, end: int, line_at, label: str) -> Draft:
    """The record one item gives, with the problems found in its variables."""
    line = line_at(start)
    record = StudyRecord(
        key="",
        source_file=label,
        source_line=line,
        source_format="csl-json",
        entry_type=ENTRY_TYPES.get(str(item.get("type")), "misc"),
    )
    draft = Draft(record, given_key(item.get("id")), text[start:end])

    def line_of(variable: str) -> int:
        """The line of the item's member ``variable``."""
        match = re.compile(rf'"{re.escape(variable)}"\s*:').search(text, start, end)
        return line_at(match.start()) if match else line

    def problem(variable: str, message: str) -> None:
        draft.problems.append((line_of(variable), f"field '{variable}': {message}"))

    def checked(variable: str, read_value):
        try:
            return read_value(item.get(variable))
        except ValueError as exc:
            problem(variable, f"{exc}; left empty")
            return None

    if _SURROGATE_ESCAPE.search(text, start, end):
        for variable, value in item.items():
            if _SURROGATE.search(json.dumps(value, ensure_ascii=False)):
                item[variable] = json.loads(json.dumps(value, ensure_ascii=False).encode("utf-8", "replace"))
                problem(variable, "a lone UTF-16 surrogate (such as \\ud800, half of a pair) was replaced by '?'")
    record.title, record.title_nocase = plain_title(checked("title", _text) or "")
    record.title = record.title or None
    record.authors = _authors(item.get("author") or [], lambda message: problem("author", message))
    if "issued" in item:
        record.year, record.month = checked("issued", _issued) or (None, None)
    for variable, field in VARIABLES.items():
        if variable in item and not getattr(record, field.attribute):
            normalise = NORMALISERS[field.shape]
            setattr(record, field.attribute, checked(variable, lambda value: normalise(_text(value))))
    keywords = checked("keyword", _text)
    if keywords:
        add_keywords(record, re.split(r"[,;]", keywords), f"{label}:{line_of('keyword')}")
    return draft


def _text(value: object) -> str | None:
    """A variable's value as one line of text (None when absent); ValueError for a list or an object."""
    if value is None:
        return None
    if isinstance(value, _LongNumber):
        raise ValueError(f"a number of {len(value)} digits")
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"not text: {json.dumps(value)[:60]}")
    return " ".join(str(value).split()) or None


def plain_title(markup: str) -> tuple[str, list[tuple[int, int]]]:
    """A title's text without inline HTML, and the spans ``<span class="nocase">`` protects from case
    changes (outermost only): the inverse of the writer's ``title_markup``."""
    text, spans, open_tags, at, length = [], [], [], 0, 0
    for match in _INLINE_TAG.finditer(markup):
        text.append(markup[at : match.start()])
        length += match.start() - at
        at = match.end()
        closing, name = match.group(1), match.group(2).lower()
        if not closing:
            open_tags.append((name, bool(_NOCASE.search(match.group(3))), length))
            continue
        index = next((i for i in reversed(range(len(open_tags))) if open_tags[i][0] == name), None)
        if index is None:
            continue  # a stray closing tag
        _, nocase, begin = open_tags[index]
        del open_tags[index:]
        if nocase and not any(n for _, n, _ in open_tags) and length > begin:
            spans.append((begin, length))
    text.append(markup[at:])
    return "".join(text), spans


def _authors(names: object, problem) -> list[Person]:
    """CSL names as Persons; a name with neither family name nor literal is reported and skipped."""
    if not isinstance(names, list):
        problem("not a list of names; left empty")
        return []
    people = []
    for number, name in enumerate(names, start=1):
        parts = {k: " ".join(str(v).split()) for k, v in name.items()} if isinstance(name, dict) else {}
        if parts.get("literal"):
            people.append(Person(parts["literal"]))
            continue
        if not parts.get("family"):
            problem(f"name {number} has no family name or literal; that name was left out")
            continue
        particle = " ".join(p for p in (parts.get("dropping-particle"), parts.get("non-dropping-particle")) if p)
        family = parts["family"]
        if not particle and parts.get("parse-names") not in ("False", "false"):  # CSL's way to say "no particle here"
            particle, family = split_particle(family)
        people.append(Person(family, parts.get("given", ""), particle, parts.get("suffix", "")))
    return people


def _issued(issued: object) -> tuple[int | None, str | None]:
    """Year and month of ``issued``: its first ``date-parts``, else its ``raw`` or ``literal`` text."""
    if isinstance(issued, str):
        issued = {"raw": issued}
    if not isinstance(issued, dict):
        raise ValueError(f"not a date: {json.dumps(issued)[:60]}")
    parts = issued.get("date-parts")
    if parts:
        first = parts[0] if isinstance(parts, list) and isinstance(parts[0], list) and parts[0] else None
        if first is None:
            raise ValueError(f"date-parts is not a list of [year, month, day]: {json.dumps(parts)[:60]}")
        return normalise_year(str(first[0])), month_name(str(first[1])) if len(first) > 1 else None
    text = str(issued.get("raw") or issued.get("literal") or "")
    year, month = read_date(text)
    if year is None:
        raise ValueError(f"no four-digit year in {text!r}")
    return year, month


# Writing: the items pandoc, Zotero and citeproc processors read.
def title_markup(title: str, protected: list[tuple[int, int]]) -> str:
    """The title with its case-protected spans as ``<span class="nocase">``, CSL's form of BibTeX braces.
    Other text stays as it is: pandoc and citeproc-js read ``&`` and ``<`` literally, not as entities."""
    if not protected:
        return title
    parts, at = [], 0
    for start, end in protected:
        parts += [title[at:start], f'<span class="nocase">{title[start:end]}</span>']
        at = end
    parts.append(title[at:])
    return "".join(parts)


def item(study: TaggedStudy, markup: bool = True) -> dict:
    """One study as a CSL-JSON item; ``markup=False`` leaves the title as plain text."""
    r = study.record
    csl = {
        "id": citation_key(r.key),
        "type": CSL_TYPES.get(r.entry_type, "article"),
    }
    if r.title:
        csl["title"] = title_markup(r.title, r.title_nocase) if markup else r.title
    authors = []
    for p in r.authors:
        if not p.family or not (p.given or p.particle or p.suffix):  # a group author ("World Health Organization")
            literal = " ".join(part for part in (p.given, p.particle, p.family, p.suffix) if part)
            authors.extend([{"literal": literal}] if literal else [])  # a name without family name whole, as one
            continue
        name = {"family": p.family}
        for key, value in (("given", p.given), ("non-dropping-particle", p.particle), ("suffix", p.suffix)):
            if value:
                name[key] = value
        authors.append(name)
    if authors:
        csl["author"] = authors
    if r.year:
        month = month_number(r.month)
        csl["issued"] = {"date-parts": [[r.year, month] if month else [r.year]]}
    values = {f.csl: getattr(r, f.attribute) for f in FIELDS if f.csl}
    values.update(
        {
            "container-title": r.journal or extra_text(r, "booktitle"),
            "publisher": extra_text(r, "publisher"),
            "publisher-place": extra_text(r, "address"),
            "keyword": ", ".join(study.keywords()),
        }
    )
    csl.update((k, v) for k, v in values.items() if v)
    return csl


def entry(study: TaggedStudy) -> str:
    """One study as a CSL-JSON item, as ``json.dumps(items, indent=2)`` writes it inside the array."""
    return json.dumps(item(study), indent=2, ensure_ascii=False).replace("\n", "\n  ")  # one level in


FORMAT = Format(
    "csl-json",
    "CSL-JSON",
    suffixes=(".json",),
    signature=re.compile(r'\A\s*(?:\[\s*[{\]]|\{\s*")'),
    read=read,
    entry=entry,
    layout=Layout("[\n  ", ",\n  ", "\n]\n", "[]\n"),
    extension="json",
    media_type="application/vnd.citationstyles.csl+json",
)
