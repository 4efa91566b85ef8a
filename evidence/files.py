"""Writing an export to disk: the bibliography whole or not at all, and its curated outcomes beside it."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from .records import OutcomeTag
from .tagging import curation


def write_whole(path: Path, chunks: Iterable[str]) -> None:
    """Write the chunks to a file beside ``path``, moved into place once all are written: an export that
    fails leaves no part of a file (and an earlier one as it was). Errors name ``path``."""
    partial = path.with_name(path.name + ".part")
    try:
        with partial.open("w", encoding="utf-8") as out:
            out.writelines(chunks)
        partial.replace(path)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(path)) from exc
    finally:
        partial.unlink(missing_ok=True)


def write_outcomes_beside(bib_path: Path, exported: dict[str, list[OutcomeTag]]) -> Path | None:
    """Write the curated outcomes of the exported studies to ``NAME.outcomes.yaml`` beside the BibTeX
    export ``NAME.bib``, where the loader reads them; return that path, or None when no exported study has
    outcomes and there is no earlier file (always replaced, so that a stale one never loads with the export)."""
    sidecar = curation.sidecar_path(bib_path)
    if not any(exported.values()) and not sidecar.exists():
        return None
    sidecar.write_text(curation.format_outcomes(exported), encoding="utf-8")
    return sidecar
