"""biblatex inheritance, as biber resolves it: ``xdata`` (the fields of @xdata entries given to the entries that
name them, over their own, @xdata entries in turn taking from others) first, then ``crossref`` (a child takes
what it lacks of its parent's fields, renamed by the type rules of biblatex.def, through chains of parents).
``xref`` links without inheriting. Fields are inherited as written, before they are read into records; dates
part by part (a child's own year keeps its parent's month), as biber does. @xdata entries are not studies."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from ..records import LoadError
from .reading import Draft

# What follows the name of a field that links entries (crossref, xref, xdata): its "=", or the line's end.
_AFTER_NAME = re.compile(r"[^\S\n]*(?:=|\n|$)")
_AFTER_NAME_BYTES = re.compile(_AFTER_NAME.pattern.encode())
_LINKS = ("crossref", "xref", "xdata")

# biblatex's driver source map (biblatex.def, \DeclareDriverSourcemap): BibTeX names biber reads as biblatex's.
FIELD_ALIASES = {
    "address": "location",
    "school": "institution",
    "annote": "annotation",
    "archiveprefix": "eprinttype",
    "journal": "journaltitle",
    "primaryclass": "eprintclass",
    "key": "sortkey",
    "pdf": "file",
    "hyphenation": "langid",
}
TYPE_ALIASES = {
    "conference": "inproceedings",
    "electronic": "online",
    "www": "online",
    "mastersthesis": "thesis",
    "phdthesis": "thesis",
    "techreport": "report",
}

# \DeclareDataInheritance{*}{*}: fields no child inherits.
NOT_INHERITED = frozenset(
    "ids crossref xref xdata entryset entrysubtype execute label options presort related relatedoptions "
    "relatedstring relatedtype shorthand shorthandintro sortkey".split()
)
# Fields an @xdata entry does not give (biber: never the aliases; the links are its own).
NOT_GIVEN_BY_XDATA = frozenset({"ids", "crossref", "xref", "xdata"})
# Date parts: inherited one by one on the records (year, month), never as the fields that give them.
DATE_FIELDS = frozenset({"date", "year", "month"})

_TITLES_KEPT = ("shorttitle", "sorttitle", "indextitle", "indexsorttitle")


def _titles(prefix: str) -> dict[str, tuple[str, ...]]:
    return {part: (prefix + part,) for part in ("title", "subtitle", "titleaddon")}


# biblatex.def's \DeclareDataInheritance rules: (parent types, child types, field -> the child's fields it
# becomes, fields not inherited). A field a matching rule names goes only where the rule sends it.
RULES = (
    (("mvbook", "book"), ("inbook", "bookinbook", "suppbook"), {"author": ("author", "bookauthor")}, ()),
    (("mvbook",), ("book", "inbook", "bookinbook", "suppbook"), _titles("main"), _TITLES_KEPT),
    (
        ("mvcollection", "mvreference"),
        ("collection", "reference", "incollection", "inreference", "suppcollection"),
        _titles("main"),
        _TITLES_KEPT,
    ),
    (("mvproceedings",), ("proceedings", "inproceedings"), _titles("main"), _TITLES_KEPT),
    (("book",), ("inbook", "bookinbook", "suppbook"), _titles("book"), _TITLES_KEPT),
    (("collection", "reference"), ("incollection", "inreference", "suppcollection"), _titles("book"), _TITLES_KEPT),
    (("proceedings",), ("inproceedings",), _titles("book"), _TITLES_KEPT),
    (
        ("periodical",),
        ("article", "suppperiodical"),
        {"title": ("journaltitle",), "subtitle": ("journalsubtitle",), "titleaddon": ("journaltitleaddon",)},
        _TITLES_KEPT,
    ),
)


def _rules(parent: str, child: str) -> tuple[dict[str, tuple[str, ...]], frozenset[str]]:
    """Where each renamed field of a ``parent`` type goes in a ``child`` type, and the fields not inherited."""
    renamed: dict[str, tuple[str, ...]] = {}
    not_inherited: set[str] = set(NOT_INHERITED)
    for parents, children, fields, kept in RULES:
        if parent in parents and child in children:
            for source, targets in fields.items():
                renamed[source] = renamed.get(source, ()) + targets
            not_inherited.update(kept)
    return renamed, frozenset(not_inherited)


# biblatex's list fields (names and literal lists), whose items a granular xdata reference may name.
LIST_FIELDS = frozenset(
    "author editor editora editorb editorc translator annotator commentator introduction foreword afterword "
    "bookauthor holder namea nameb namec shortauthor shorteditor sortname institution language location "
    "organization origlocation origpublisher publisher lista listb listc listd liste listf".split()
)
_GRANULAR = re.compile(r"(?i)xdata=([^-\s]+)-([^-\s]+)(?:-(\d+))?")


def _list_items(value: str) -> list[str]:
    """The items of a list field: split at "and" between spaces outside braces."""
    items, depth, start = [], 0, 0
    for match in re.finditer(r"[{}]|\s+and\s+", value, re.IGNORECASE):
        text = match.group()
        if text == "{":
            depth += 1
        elif text == "}":
            depth -= 1
        elif depth == 0:
            items.append(value[start : match.start()])
            start = match.end()
    return items + [value[start:]]


@dataclass(frozen=True)
class _Reference:
    """A granular xdata reference: item ``position`` of field ``name`` is ``field`` (item ``wanted``, else all
    of it) of xdata entry ``key``."""

    name: str
    position: int
    key: str
    field: str
    wanted: int | None
    line: int


@dataclass
class _Entry:
    """An entry as inheritance sees it: its type, its fields by biblatex name (name as written, value, 0-based
    line) and its year and month; ``changed`` once it has taken anything."""

    draft: Draft
    kind: str
    fields: dict[str, tuple[str, str, int]]
    year: int | None
    month: str | None
    changed: bool = False

    @classmethod
    def of(cls, draft: Draft) -> _Entry:
        fields = {FIELD_ALIASES.get(name, name): (name, value, line) for name, value, line in draft.fields}
        kind = (draft.record.entry_type or "").lower()
        return cls(draft, TYPE_ALIASES.get(kind, kind), fields, draft.record.year, draft.record.month)

    def link(self, name: str) -> tuple[list[str], int]:
        """The keys a field the entry has (crossref, xref, xdata) names, and its 0-based line."""
        _, value, line = self.fields[name]
        return [key.strip() for key in value.split(",") if key.strip()], line

    def take_xdata(self, given: _Entry) -> None:
        """Every field of an @xdata entry, over the entry's own."""
        for name, field in given.fields.items():
            if name not in NOT_GIVEN_BY_XDATA and name not in DATE_FIELDS:
                self.fields[name] = field
        self.year = given.year if given.year is not None else self.year
        self.month = given.month or self.month
        self.changed = True

    def references(self) -> list[_Reference]:
        """The granular xdata references in its fields (``xdata=key-field`` or ``xdata=key-field-N``)."""
        found = []
        for name, (_, value, line) in self.fields.items():
            if "xdata=" in value.lower() and name not in DATE_FIELDS:
                items = _list_items(value) if name in LIST_FIELDS else [value]
                for position, item in enumerate(items):
                    match = _GRANULAR.fullmatch(item.strip())
                    if match:
                        wanted = int(match.group(3)) if match.group(3) else None
                        found.append(_Reference(name, position, match.group(1), match.group(2).lower(), wanted, line))
        return found

    def take_reference(self, ref: _Reference, given: _Entry) -> str | None:
        """The value (or list item) a granular reference names put in its place; else what is wrong."""
        source = given.fields.get(FIELD_ALIASES.get(ref.field, ref.field))
        if source is None:
            return f"field '{ref.name}': xdata entry '{ref.key}' has no field '{ref.field}'; kept as written"
        if ref.name not in LIST_FIELDS:
            self.fields[ref.name] = (self.fields[ref.name][0], source[1], self.fields[ref.name][2])
            self.changed = True
            return None
        items = _list_items(source[1])
        if ref.wanted is not None and not 1 <= ref.wanted <= len(items):
            return f"field '{ref.name}': '{ref.field}' of xdata entry '{ref.key}' has no item {ref.wanted}; kept as written"
        written, value, line = self.fields[ref.name]
        own = _list_items(value)
        own[ref.position] = " and ".join(items if ref.wanted is None else [items[ref.wanted - 1]])
        self.fields[ref.name] = (written, " and ".join(own), line)
        self.changed = True
        return None

    def take_crossref(self, parent: _Entry) -> None:
        """What the entry lacks of its parent's fields, renamed by the rules of the two types."""
        renamed, not_inherited = _rules(parent.kind, self.kind)
        for name, (written, value, line) in parent.fields.items():
            if name in not_inherited or name in DATE_FIELDS:
                continue
            for target, written_as in [(t, t) for t in renamed[name]] if name in renamed else [(name, written)]:
                self.fields.setdefault(target, (written_as, value, line))
        self.year = self.year if self.year is not None else parent.year
        self.month = self.month or parent.month
        self.changed = True


def resolve(drafts: list[Draft], label: str, read_fields: Callable) -> tuple[list[Draft], list[LoadError]]:
    """The drafts of a file with what they inherit read into their records (``read_fields(record, fields,
    problem)``: fields inherited are not checked again), @xdata entries left out; and the problems: a key
    named that no entry has (a warning), a cycle (an error on each entry in it, which inherits nothing along
    it), problems with the fields of @xdata entries."""
    entries = {draft.key: _Entry.of(draft) for draft in drafts if draft.fields is not None and draft.key}
    errors: list[LoadError] = []

    def problem(entry: _Entry, line: int, message: str, severity: str = "warning") -> None:
        errors.append(LoadError(label, line + 1, entry.draft.key, message, severity=severity))

    aliases = {alias: key for key, entry in entries.items() if "ids" in entry.fields for alias in entry.link("ids")[0]}

    def named(entry: _Entry, field: str, keys: list[str], line: int) -> list[str]:
        """The keys of the entries named (by key, or an alias in their ids; an @xdata one for xdata), a warning
        for each other name."""
        found = []
        for key in (key if key in entries else aliases.get(key, key) for key in keys):
            if key not in entries:
                problem(entry, line, f"{field} names '{key}', which no entry of this file has; ignored")
            elif "xdata" in field and entries[key].kind != "xdata":
                problem(entry, line, f"{field} names '{key}', a @{entries[key].kind}, not an @xdata entry; ignored")
            else:
                found.append(key)
        return found

    whole = {
        key: named(entry, "xdata", *entry.link("xdata")) for key, entry in entries.items() if "xdata" in entry.fields
    }
    granular = {key: entry.references() for key, entry in entries.items()}
    xdata = {
        key: whole.get(key, [])
        + [
            ref.key
            for ref in refs
            if named(entries[key], f"field '{ref.name}': its xdata reference", [ref.key], ref.line)
        ]
        for key, refs in granular.items()
        if refs or key in whole
    }
    crossref = {
        key: named(entry, "crossref", *entry.link("crossref"))[:1]
        for key, entry in entries.items()
        if "crossref" in entry.fields
    }
    for entry in entries.values():
        if "xref" in entry.fields:
            named(entry, "xref", *entry.link("xref"))

    def take_xdata(entry: _Entry, parents: list[str]) -> None:
        for parent in whole.get(entry.draft.key, ()):
            entry.take_xdata(entries[parent])
        for ref in reversed(granular[entry.draft.key]):  # the last first: a list spliced in moves those after it
            if ref.key in entries and entries[ref.key].kind == "xdata":
                message = entry.take_reference(ref, entries[ref.key])
                if message:
                    problem(entry, ref.line, message)

    def take_crossref(entry: _Entry, parents: list[str]) -> None:
        entry.take_crossref(entries[parents[0]]) if parents else None

    for field, links, take in (("xdata", xdata, take_xdata), ("crossref", crossref, take_crossref)):
        order, cycles = _parents_first(links)
        for cycle in cycles:
            for key in dict.fromkeys(cycle):
                problem(
                    entries[key],
                    entries[key].draft.record.source_line - 1,
                    f"{field} cycle: {' -> '.join(cycle)}; nothing inherited along it, the entry keeps its own fields",
                    "error",
                )
        in_cycle = {key for cycle in cycles for key in cycle}
        for key in order:
            if key not in in_cycle and key in links:
                take(entries[key], links[key])
    for entry in entries.values():
        if entry.changed and entry.kind != "xdata":
            _read_inherited(entry, read_fields)
    kept = []
    for draft in drafts:
        if draft.key in entries and entries[draft.key].kind == "xdata" and draft is entries[draft.key].draft:
            errors += [
                LoadError(label, line, draft.key, message, severity="warning") for line, message in draft.problems
            ]
        else:
            kept.append(draft)
    return kept, errors


def _read_inherited(entry: _Entry, read_fields: Callable) -> None:
    """The entry's record read again from its fields, its own and those it took, and its date parts set."""
    draft = entry.draft
    record = draft.record
    fresh = type(record)(
        key=record.key, source_file=record.source_file, source_line=record.source_line, entry_type=record.entry_type
    )
    read_fields(fresh, list(entry.fields.values()), lambda line, message: None)  # its own were reported
    fresh.year, fresh.month = entry.year, entry.month
    draft.record = fresh


def _parents_first(links: dict[str, list[str]]) -> tuple[list[str], list[list[str]]]:
    """The keys that link to others (``links``) and those they link to, each after the ones it links to;
    and the cycles found, each as the keys along it back to its first. Without recursion: chains may be long."""
    order: list[str] = []
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 on the path being walked, 2 done
    for root in links:
        if root in state:
            continue
        path, walks = [root], [iter(links.get(root, ()))]
        state[root] = 1
        while path:
            parent = next(walks[-1], None)
            if parent is None:
                state[path[-1]] = 2
                order.append(path.pop())
                walks.pop()
            elif parent not in state:
                state[parent] = 1
                path.append(parent)
                walks.append(iter(links.get(parent, ())))
            elif state[parent] == 1:
                cycles.append(path[path.index(parent) :] + [parent])
    return order, cycles


def inherits(text: str | bytes) -> bool:
    """Whether a text (or bytes of it, whole lines) may use crossref, xref or @xdata: it has a field of one of
    those names or an @xdata entry (a quick look, which may find one in a value; str.find is fast, a
    case-insensitive pattern is not)."""
    lowered = text.lower()
    found = isinstance(lowered, bytes)
    after, words, entry = (
        (_AFTER_NAME_BYTES, [w.encode() for w in _LINKS], b"@xdata") if found else (_AFTER_NAME, _LINKS, "@xdata")
    )
    for word in words:
        at = lowered.find(word)
        while at >= 0:
            if after.match(lowered, at + len(word)):
                return True
            at = lowered.find(word, at + 1)
    return entry in lowered
