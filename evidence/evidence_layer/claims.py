"""The evidence layer: the articles that cite the studies (``sources.yaml``), their claims checked against
the cited evidence (``claims.yaml``), and which reviews include which studies (``review_includes.yaml``)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..records import LoadError, fold
from ..yamlsource import YamlProblem, load_with_lines

FILES = ("sources.yaml", "claims.yaml", "review_includes.yaml")
VERDICTS = (
    "supported",
    "supported-with-caveats",
    "overstated",
    "detail-wrong",
    "misrepresented",
    "not-in-database",
    "unverified",
)
# The verdicts from the most to the least serious, for listing problems first.
BY_SEVERITY = (
    "misrepresented",
    "detail-wrong",
    "overstated",
    "not-in-database",
    "unverified",
    "supported-with-caveats",
    "supported",
)
SOURCE_KINDS = ("consumer-article", "patient-leaflet", "clinic-blog")
# Details a claim may state about a cited study, checked against the study's record.
CHECKED_FIELDS = ("year", "journal", "included_studies", "participants")


@dataclass
class Article:
    """An article that cites studies and makes claims (a "source" in the database)."""

    id: str
    name: str  # a short name of our own, for lists
    title: str | None  # as printed; None when the copy at hand prints none
    kind: str
    description: str
    publisher: str | None = None
    topics: list[str] = field(default_factory=list)
    line: int = 0


@dataclass
class Document:
    """An official or other document a claim rests on that is not a study."""

    title: str
    publisher: str | None = None
    year: int | None = None
    url: str | None = None


@dataclass
class Claim:
    """A claim of an article, what it rests on, the details it states, and a reviewer's verdict."""

    id: str
    source: str
    locator: str
    claim: str
    verdict: str
    reason: str
    studies: list[str] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)
    conditions: list[str] = field(default_factory=list)
    checks: dict[str, str | int] = field(default_factory=dict)
    line: int = 0


@dataclass
class Inclusion:
    """A study a review includes, and where that was seen."""

    review: str
    study: str
    evidence: str
    line: int = 0


@dataclass
class EvidenceLayer:
    """Everything read from the evidence files, and what could not be read."""

    articles: list[Article] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)
    inclusions: list[Inclusion] = field(default_factory=list)
    errors: list[LoadError] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)


def read_layer(folder: Path, label_of) -> EvidenceLayer:
    """Read the evidence files in ``folder`` that exist; ``label_of(path)`` names a file in errors.
    A malformed item is reported with its file and line and left out; the others load."""
    layer = EvidenceLayer()
    for name, reader in (("sources.yaml", _articles), ("claims.yaml", _claims), ("review_includes.yaml", _inclusions)):
        path = folder / name
        label = label_of(path)
        layer.labels.append(label)
        if not path.exists():
            continue
        try:
            document = load_with_lines(path)
        except YamlProblem as exc:
            layer.errors.append(LoadError(label, exc.line, None, str(exc)))
            continue
        reader(document, label, layer)
    return layer


def _articles(document, label: str, layer: EvidenceLayer) -> None:
    for item in _items(document, label, layer, "a list of articles"):
        problem = _missing(item, ("id", "name", "kind", "description")) or (
            f"kind '{item['kind']}' is not one of {', '.join(SOURCE_KINDS)}"
            if item["kind"] not in SOURCE_KINDS
            else None
        )
        if problem:
            layer.errors.append(LoadError(label, item["__line__"], item.get("id"), problem))
            continue
        title = _text(item["title"]) if item.get("title") else None
        layer.articles.append(
            Article(
                item["id"],
                _text(item["name"]),
                title,
                item["kind"],
                _text(item["description"]),
                item.get("publisher"),
                [str(t) for t in item.get("topics") or []],
                item["__line__"],
            )
        )


def _claims(document, label: str, layer: EvidenceLayer) -> None:
    for item in _items(document, label, layer, "a list of claims"):
        problem = _missing(item, ("id", "source", "locator", "claim", "verdict", "reason"))
        if not problem and item["verdict"] not in VERDICTS:
            problem = f"verdict '{item['verdict']}' is not one of {', '.join(VERDICTS)}"
        unknown = set(item.get("checks") or {}) - {"__line__", *CHECKED_FIELDS}
        if not problem and unknown:
            problem = f"checks can state {', '.join(CHECKED_FIELDS)}, not {', '.join(sorted(unknown))}"
        if problem:
            layer.errors.append(LoadError(label, item["__line__"], item.get("id"), problem))
            continue
        documents = [
            Document(_text(d["title"]), d.get("publisher"), d.get("year"), d.get("url"))
            for d in item.get("documents") or []
            if isinstance(d, dict) and d.get("title")
        ]
        checks = {k: v for k, v in (item.get("checks") or {}).items() if k != "__line__"}
        layer.claims.append(
            Claim(
                item["id"],
                item["source"],
                _text(item["locator"]),
                _text(item["claim"]),
                item["verdict"],
                _text(item["reason"]),
                [str(s) for s in item.get("studies") or []],
                documents,
                [str(c) for c in item.get("conditions") or []],
                checks,
                item["__line__"],
            )
        )


def _inclusions(document, label: str, layer: EvidenceLayer) -> None:
    if document is None:
        return
    if not isinstance(document, dict):
        layer.errors.append(LoadError(label, 1, None, "expected a mapping of review key -> list of included studies"))
        return
    for review, rows in document.items():
        if review == "__line__":
            continue
        for row in rows if isinstance(rows, list) else []:
            if not (isinstance(row, dict) and row.get("study") and row.get("evidence")):
                layer.errors.append(
                    LoadError(
                        label,
                        row.get("__line__") if isinstance(row, dict) else None,
                        review,
                        "an included study needs `study` and `evidence`",
                    )
                )
                continue
            layer.inclusions.append(Inclusion(review, str(row["study"]), _text(row["evidence"]), row["__line__"]))


def _items(document, label: str, layer: EvidenceLayer, expected: str) -> list[dict]:
    if document is None:
        return []
    if not isinstance(document, list):
        layer.errors.append(LoadError(label, 1, None, f"expected {expected}"))
        return []
    bad = [item for item in document if not isinstance(item, dict)]
    for _ in bad:
        layer.errors.append(LoadError(label, None, None, f"expected {expected}, each a mapping"))
    return [item for item in document if isinstance(item, dict)]


def _missing(item: dict, required: tuple[str, ...]) -> str | None:
    missing = [name for name in required if not item.get(name)]
    return f"missing {', '.join(missing)}" if missing else None


def _text(value) -> str:
    return " ".join(str(value).split())


def _journal(name: str) -> str:
    """A journal name for comparison: "The Journal of Pain" and "journal of pain" are one."""
    return re.sub(r"^the ", "", fold(name))


def check_details(claim: Claim, study: dict) -> list[tuple[str, str, str, bool]]:
    """(field, stated, recorded, agrees) for each detail the claim states about a cited study;
    ``study`` is its ``studies`` row. A journal agrees with its full or abbreviated name."""
    results = []
    for name, stated in claim.checks.items():
        if name == "journal":
            recorded = study.get("journal") or ""
            names = {_journal(recorded), _journal(study.get("journal_abbrev") or "")} - {""}
            agrees = _journal(str(stated)) in names
        else:
            recorded = study.get(name)
            agrees = recorded is not None and str(recorded) == str(stated)
        results.append((name, str(stated), "" if recorded is None else str(recorded), agrees))
    return results
