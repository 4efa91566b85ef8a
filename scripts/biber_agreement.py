#!/usr/bin/env python3
"""How far ``evidence load`` agrees with biber, entry by entry, on BibTeX and biblatex files.

    python scripts/biber_agreement.py                  # every .bib file in tests/fixtures/real
    python scripts/biber_agreement.py my.bib refs/     # these files, and the .bib files in these folders
    python scripts/biber_agreement.py --list 0         # figures only, no list of disagreements

Each file is loaded by the real loader (fast path on, as the CLI loads) into a database of its own, and
given to ``biber --tool --output-resolve --output-xname --output-format=bibtex``. biber's own output is
read back (its names in the extended name format, so its split into family, given, prefix and suffix is
taken as biber made it); both sides are decoded by evidence's LaTeX decoder and normalised (Unicode NFC,
whitespace, the dots of initials, braces) before they are compared. Compared for each entry biber writes:
whether evidence stored it, and its title, year, authors, journal and booktitle, as stored (an entry merged
into another study is compared with that study). Entries biber leaves out (@xdata, @set, a repeated key)
are not counted; a file biber cannot read (it stops on an error) is listed with biber's error.
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import subprocess
import sys
import tempfile
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import bibtexparser

from evidence import loader
from evidence.formats.latex import decode_latex, decode_title

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
CORPUS = FIXTURES / "real"
# biblatex's inheritance rules (biber's default tool configuration passes ids, label and shorthand to children)
INHERITANCE_RULES = FIXTURES / "inheritance" / "biblatex-inheritance.conf"
BIBTEX_SUFFIXES = (".bib", ".bibtex", ".biblatex")
FIELDS = ("present", "title", "year", "names", "journal", "booktitle")
BIBER = [
    "biber",
    "--quiet",
    "--tool",
    "--output-resolve",
    "--output-xname",
    "--output-format=bibtex",
    f"--configfile={INHERITANCE_RULES}",
]
NOT_REFERENCES = {"xdata", "set"}  # biber's containers of fields and of entries, not references
Name = tuple[str, str, str, str]  # family, given, prefix, suffix
NAME_PARTS = ("family", "given", "prefix", "suffix")


@dataclass
class Side:
    """What one side (evidence or biber) made of an entry, normalised for comparison."""

    title: str | None = None
    year: str | None = None
    names: tuple[Name, ...] = ()
    journal: str | None = None
    booktitle: str | None = None


@dataclass
class Difference:
    key: str
    field: str
    evidence: str
    biber: str
    note: str = ""  # "inherits" (crossref, xref or xdata), "merged into KEY" (stored in another study)

    def line(self, file: str) -> str:
        why = f" ({self.note})" if self.note else ""
        return f"{file} [{self.key}] {self.field}{why}: evidence {self.evidence!r}, biber {self.biber!r}"


@dataclass
class FileAgreement:
    """One file's comparison: per field, how many entries were compared and how many agreed."""

    file: str
    compared: Counter = field(default_factory=Counter)
    agreed: Counter = field(default_factory=Counter)
    differences: list[Difference] = field(default_factory=list)
    biber_error: str | None = None


_DOTLESS_I = re.compile("\u0131([\u0300-\u036f])")  # LaTeX's \'\i, which biber leaves a dotless i with an accent


def normal(text: str | None) -> str | None:
    """Text as compared: NFC (an accented dotless i as the accented i), no braces, one space for any run of
    whitespace; None when empty."""
    if text is None:
        return None
    text = _DOTLESS_I.sub(r"i\1", text)
    text = " ".join(unicodedata.normalize("NFC", text).replace("{", "").replace("}", "").split())
    return text or None


def normal_name_part(part: str) -> str:
    """A name part as compared: ``R.J.``, ``R. J.`` and ``R J`` are the same initials."""
    return " ".join((normal(part) or "").replace(".", " ").split())


def normal_name(family: str, given: str, prefix: str, suffix: str) -> Name:
    """A name as compared, part by part."""
    return (
        normal_name_part(family),
        normal_name_part(given),
        normal_name_part(prefix),
        normal_name_part(suffix),
    )


def _top_level_split(text: str, separator: re.Pattern) -> list[str]:
    """``text`` split at ``separator`` where it is outside braces."""
    parts, depth, start, at = [], 0, 0, 0
    while at < len(text):
        char = text[at]
        depth += char == "{"
        depth -= char == "}"
        match = separator.match(text, at) if depth == 0 else None
        if match and match.end() > at:
            parts.append(text[start:at])
            start = at = match.end()
            continue
        at += 1
    parts.append(text[start:])
    return [part.strip() for part in parts if part.strip()]


# biber writes the parts unbraced (family=U.S. Securities and Exchange Commission): a name starts with a part.
_AND = re.compile(r"\s+and\s+(?=[a-z-]+=|others$)")
_COMMA = re.compile(r",\s*")


def biber_names(value: str) -> tuple[Name, ...]:
    """The names of a list biber wrote in its extended name format (``family=Eel, given=Egbert, prefix=von``);
    a trailing ``others`` ("and others") is not a name, nor are options of the list (``useprefix=false``)."""
    names = []
    for name in _top_level_split(value, _AND):
        parts = {}
        for part in _top_level_split(name, _COMMA):
            label, equals, text = part.partition("=")
            if equals:
                parts[label.strip().lower()] = text
        if not any(label in parts for label in NAME_PARTS):
            if name == "others" or "=" in name:
                continue
            parts = {"family": name}  # a name biber wrote without parts
        names.append(normal_name(*(decode_latex(parts.get(label, "")) for label in NAME_PARTS)))
    return tuple(names)


_YEAR = re.compile(r"^\s*(-\d{1,4}|\d{4}|\d{3}X|\d{2}XX)(?!\d)")  # biber writes -0379 as -379


def biber_year(fields: dict[str, str]) -> str | None:
    """The year biber gives: the start of its ``date`` (``1997/1999``, ``1997~``, ``2016-05``, ``199X`` as
    1990), else ``year``."""
    for name in ("date", "year"):
        match = _YEAR.match(fields.get(name, ""))
        if match:
            return str(int(match.group(1).replace("X", "0")))
    return None


def biber_side(fields: dict[str, str]) -> Side:
    """An entry of biber's output (field names in lower case, values as biber wrote them), normalised."""
    text = {
        name: normal(decode_latex(value))
        for name, value in fields.items()
        if name in ("journaltitle", "journal", "booktitle")
    }
    return Side(
        title=normal(decode_title(fields["title"])[0]) if "title" in fields else None,
        year=biber_year(fields),
        names=biber_names(fields["author"]) if "author" in fields else (),
        journal=text.get("journaltitle") or text.get("journal"),
        booktitle=text.get("booktitle"),
    )


def parse_biber_output(text: str) -> dict[str, dict[str, str]]:
    """biber's BibTeX output: each reference's fields (names in lower case), @string macros expanded."""
    library = bibtexparser.parse_string(text)
    return {
        entry.key: {f.key.lower(): str(f.value) for f in entry.fields}
        for entry in library.entries
        if entry.entry_type.lower() not in NOT_REFERENCES
    }


def run_biber(bib: Path, work: Path) -> tuple[dict[str, dict[str, str]] | None, str | None]:
    """biber's entries for ``bib``, or None and biber's first error when it stops on one."""
    out = work / f"{bib.stem}.biber.bib"
    logfile = f"--logfile={work / bib.stem}"  # not beside the input, in the fixtures
    done = subprocess.run([*BIBER, f"--output-file={out}", logfile, str(bib)], capture_output=True, text=True, cwd=work)
    if done.returncode != 0 or not out.exists():
        errors = [line for line in (done.stdout + done.stderr).splitlines() if "ERROR" in line]
        error = errors[0] if errors else f"biber exited {done.returncode}"
        return None, re.sub(r"/\S*biber_tmp\S*, ", "", error).strip()  # its temporary copy's name tells nothing
    return parse_biber_output(out.read_text(encoding="utf-8")), None


_STORED = """
select ss.entry_key, ss.study_key, s.title, s.year, s.journal, s.extra, ss.record,
       (select json_group_array(json_array(a.family, a.given, a.particle, a.suffix))
          from (select * from study_authors where study_key = s.key order by position) sa
          join authors a on a.id = sa.author_id)
from study_sources ss join studies s on s.key = ss.study_key
"""


def stored_entries(db_path: Path) -> tuple[dict[str, Side], dict[str, str], dict[str, str]]:
    """What a database holds for each entry key: the study it is stored in (normalised), a note on the entry
    (it inherits through crossref, xref or xdata; it was merged into another study), and the first load
    error of each key that was not loaded."""
    sides, notes, errors = {}, {}, {}
    with sqlite3.connect(db_path) as db:
        entries_of = {}
        for key, study_key in db.execute("select entry_key, study_key from study_sources"):
            entries_of.setdefault(study_key, []).append(key)
        for key, study_key, title, year, journal, extra, record, names in db.execute(_STORED):
            if key in sides:
                continue
            extra = json.loads(extra or "{}")
            own_extra = json.loads(record)["record"]["extra"]
            sides[key] = Side(
                title=normal(title),
                year=str(year) if year is not None else None,
                names=tuple(normal_name(*name) for name in json.loads(names or "[]")),
                journal=normal(journal),
                booktitle=normal(decode_latex(extra["booktitle"])) if extra.get("booktitle") else None,
            )
            inherits = any(name in own_extra for name in ("crossref", "xref", "xdata"))
            others = [other for other in entries_of[study_key] if other != key]
            merged = f"merged into {study_key}" if study_key != key else ""
            merged = merged or (f"merged with {', '.join(others)}" if others else "")
            notes[key] = ", ".join(note for note in ("inherits" if inherits else "", merged) if note)
        for key, message in db.execute("select entry_key, message from load_errors where severity = 'error'"):
            errors.setdefault(key, message)
    return sides, notes, errors


def load_with_evidence(bib: Path, db_path: Path) -> tuple[dict[str, Side], dict[str, str], dict[str, str]]:
    """``bib`` loaded by the real loader into a new database at ``db_path``; what it stored per entry key."""
    loader.load(db_path, [bib])
    return stored_entries(db_path)


def _shown(value) -> str:
    if isinstance(value, tuple):
        return " and ".join("|".join(part for part in name) for name in value)
    return "" if value is None else str(value)


def compare(
    file: str,
    biber: dict[str, dict[str, str]],
    ours: dict[str, Side],
    notes: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> FileAgreement:
    """Entry by entry, what evidence stored against what biber wrote: a field is compared where either side
    has a value (names where biber has an author list); an entry evidence lacks counts against ``present``
    only, with its load error if there was one."""
    result = FileAgreement(file)
    notes, errors = notes or {}, errors or {}
    for key, fields in biber.items():
        result.compared["present"] += 1
        if key not in ours:
            result.differences.append(Difference(key, "present", errors.get(key, "not stored"), "entry"))
            continue
        result.agreed["present"] += 1
        theirs, mine = biber_side(fields), ours[key]
        for name in FIELDS[1:]:
            biber_value, our_value = getattr(theirs, name), getattr(mine, name)
            if not biber_value and not our_value:
                continue
            result.compared[name] += 1
            if biber_value == our_value:
                result.agreed[name] += 1
            else:
                result.differences.append(
                    Difference(key, name, _shown(our_value), _shown(biber_value), notes.get(key, ""))
                )
    return result


def agreement(bib: Path, work: Path) -> FileAgreement:
    """One file compared: loaded by evidence and read by biber, in the folder ``work``."""
    biber, error = run_biber(bib, work)
    if biber is None:
        result = FileAgreement(bib.name)
        result.biber_error = error
        return result
    ours, notes, errors = load_with_evidence(bib, work / f"{bib.stem}.db")
    return compare(bib.name, biber, ours, notes, errors)


def bibtex_files(paths: list[Path]) -> list[Path]:
    """The BibTeX files among ``paths`` and in the folders among them."""
    found = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.suffix.lower() in BIBTEX_SUFFIXES)
        else:
            found.append(path)
    return found


def _ratio(agreed: int, compared: int) -> str:
    return f"{agreed}/{compared} {agreed / compared:6.1%}" if compared else "-"


def report(results: list[FileAgreement], limit: int) -> None:
    """Agreement per file and per field, then the disagreements (at most ``limit``; all when negative)."""
    width = max(len(r.file) for r in results)
    print(f"{'file':<{width}}  " + "  ".join(f"{name:>15}" for name in FIELDS))
    total_compared, total_agreed = Counter(), Counter()
    for r in results:
        if r.biber_error:
            print(f"{r.file:<{width}}  biber could not read it: {r.biber_error}")
            continue
        total_compared += r.compared
        total_agreed += r.agreed
        print(f"{r.file:<{width}}  " + "  ".join(f"{_ratio(r.agreed[n], r.compared[n]):>15}" for n in FIELDS))
    print(f"{'all':<{width}}  " + "  ".join(f"{_ratio(total_agreed[n], total_compared[n]):>15}" for n in FIELDS))
    fields = sum(total_compared[n] for n in FIELDS[1:])
    agreed = sum(total_agreed[n] for n in FIELDS[1:])
    print(
        f"entries present: {_ratio(total_agreed['present'], total_compared['present'])}; fields: {_ratio(agreed, fields)}"
    )
    differences = [(r.file, d) for r in results for d in r.differences]
    kinds = Counter(
        d.field + (" (inherits)" if "inherits" in d.note else "") + (" (merged)" if "merged" in d.note else "")
        for _, d in differences
    )
    print("disagreements: " + ", ".join(f"{kind} {count}" for kind, count in kinds.most_common()))
    for file, difference in differences[: limit if limit >= 0 else None]:
        print(difference.line(file))
    if 0 <= limit < len(differences):
        print(f"... and {len(differences) - limit} more (--list -1 lists them all)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n", 2)[2],
    )
    parser.add_argument(
        "paths", type=Path, nargs="*", default=[CORPUS], help=f"BibTeX files or folders (default {CORPUS})"
    )
    parser.add_argument("--list", type=int, default=200, help="disagreements listed at most (-1: all; default 200)")
    args = parser.parse_args()
    files = bibtex_files(args.paths)
    if not files:
        sys.exit("no BibTeX files given")
    with tempfile.TemporaryDirectory() as work:
        results = [agreement(bib.resolve(), Path(work)) for bib in files]
    report(results, args.list)


if __name__ == "__main__":
    main()
