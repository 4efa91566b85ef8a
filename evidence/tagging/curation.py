"""Curated outcome rows kept beside a BibTeX file: ``NAME.bib`` -> ``NAME.outcomes.yaml``."""

from __future__ import annotations

from pathlib import Path

import yaml

from ..records import LoadError, OutcomeTag
from ..yamlsource import YamlProblem, load_with_lines

REQUIRED = ("outcome", "measure", "comparator", "direction", "finding")


def sidecar_path(bib_path: Path) -> Path:
    """Where the curated outcomes for a BibTeX file live."""
    return bib_path.with_name(bib_path.stem + ".outcomes.yaml")


def sidecar_of(path: Path) -> Path | None:
    """The outcomes file read with an input file: ``NAME.outcomes.yaml`` for ``NAME.bib``, none for other files."""
    return sidecar_path(path) if path.suffix.lower() == ".bib" else None


def read_outcomes(path: Path, label: str) -> tuple[dict[str, list[OutcomeTag]], list[LoadError]]:
    """Curated outcomes by citation key; malformed rows become LoadErrors and are skipped."""
    errors: list[LoadError] = []
    try:
        document = load_with_lines(path) or {}
    except YamlProblem as exc:
        return {}, [LoadError(label, exc.line, None, str(exc))]
    if not isinstance(document, dict):
        return {}, [LoadError(label, 1, None, "expected a mapping of citation key -> list of outcomes")]
    by_key: dict[str, list[OutcomeTag]] = {}
    for key, rows in document.items():
        if key == "__line__":
            continue
        if not isinstance(rows, list):
            errors.append(LoadError(label, None, key, "expected a list of outcomes under the key"))
            continue
        for row in rows:
            line = row.get("__line__") if isinstance(row, dict) else None
            missing = [f for f in REQUIRED if not (isinstance(row, dict) and row.get(f))]
            if missing:
                errors.append(LoadError(label, line, key, f"outcome row is missing {', '.join(missing)}"))
                continue
            values = {f: " ".join(str(row[f]).split()) for f in REQUIRED}
            values["condition"] = row.get("condition")
            by_key.setdefault(key, []).append(OutcomeTag(**values, provenance="curated", source=f"{label}:{line}"))
    return by_key, errors


def format_outcomes(by_key: dict[str, list[OutcomeTag]]) -> str:
    """The sidecar YAML for curated outcome rows (rule-made rows are not curation and are left out)."""
    rows = {
        key: [
            {f: getattr(o, f) for f in REQUIRED} | ({"condition": o.condition} if o.condition else {})
            for o in outcomes
            if o.provenance == "curated"
        ]
        for key, outcomes in by_key.items()
    }
    rows = {key: value for key, value in rows.items() if value}
    header = "# Curated outcomes, keyed by citation key (written by `evidence export`).\n"
    if not rows:
        return header + "# None of the exported studies has any.\n"
    return header + "\n" + yaml.safe_dump(rows, sort_keys=False, allow_unicode=True, width=1000)
