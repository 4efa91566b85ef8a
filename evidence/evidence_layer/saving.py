"""Saving the evidence layer: articles, their claims checked against the studies they cite, and review
inclusions; a link to something the database does not hold is reported and left out."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ..records import LoadError
from .claims import EvidenceLayer, check_details

if TYPE_CHECKING:
    from sqlite_utils import Database


def save_evidence_layer(db: Database, layer: EvidenceLayer) -> list[LoadError]:
    """Replace the articles, claims, their links and checks, and review inclusions; a link to a study,
    condition or article the database does not hold is reported (with file and line) and left out."""
    for table in (
        "claim_checks",
        "claim_conditions",
        "claim_documents",
        "claim_studies",
        "review_includes",
        "claims",
        "sources",
    ):
        db.execute(f"DELETE FROM {table}")
    errors: list[LoadError] = []
    sources_file, claims_file, includes_file = layer.labels
    known = {
        table: {k for (k,) in db.execute(f"SELECT {column} FROM {table}")}
        for table, column in (("studies", "key"), ("conditions", "id"))
    }
    db["sources"].insert_all(
        {
            "id": a.id,
            "name": a.name,
            "title": a.title,
            "publisher": a.publisher,
            "kind": a.kind,
            "topics": json.dumps(a.topics, ensure_ascii=False),
            "description": a.description,
        }
        for a in layer.articles
    )
    articles = {a.id for a in layer.articles}
    for claim in layer.claims:

        def reject(message: str) -> None:
            errors.append(LoadError(claims_file, claim.line, claim.id, message))

        if claim.source not in articles:
            reject(f"source '{claim.source}' is not in {sources_file}; the claim was not loaded")
            continue
        studies = [key for key in claim.studies if key in known["studies"]]
        for key in claim.studies:
            if key not in known["studies"]:
                reject(f"cites study '{key}', which is not in the database; that link was left out")
        for condition in claim.conditions:
            if condition not in known["conditions"]:
                reject(f"unknown condition '{condition}'; that link was left out")
        checks = [
            (key, *result)
            for key in studies
            for result in check_details(
                claim,
                dict(
                    zip(
                        ("year", "journal", "journal_abbrev", "included_studies", "participants"),
                        db.execute(
                            "SELECT year, journal, journal_abbrev, included_studies, participants FROM studies WHERE key = ?",
                            [key],
                        ).fetchone(),
                    )
                ),
            )
        ]
        db["claims"].insert(
            {
                "id": claim.id,
                "source_id": claim.source,
                "locator": claim.locator,
                "claim": claim.claim,
                "verdict": claim.verdict,
                "reason": claim.reason,
                "details_checked": len(checks),
                "details_wrong": sum(not agrees for *_, agrees in checks),
                "source_file": claims_file,
                "source_line": claim.line,
            }
        )
        db["claim_studies"].insert_all({"claim_id": claim.id, "study_key": key} for key in dict.fromkeys(studies))
        db["claim_documents"].insert_all(
            {
                "claim_id": claim.id,
                "position": i,
                "title": d.title,
                "publisher": d.publisher,
                "year": d.year,
                "url": d.url,
            }
            for i, d in enumerate(claim.documents, 1)
        )
        db["claim_conditions"].insert_all(
            {"claim_id": claim.id, "condition_id": c}
            for c in dict.fromkeys(claim.conditions)
            if c in known["conditions"]
        )
        db["claim_checks"].insert_all(
            {
                "claim_id": claim.id,
                "study_key": key,
                "field": name,
                "stated": stated,
                "recorded": recorded,
                "agrees": agrees,
            }
            for key, name, stated, recorded, agrees in checks
        )
    for inclusion in layer.inclusions:
        missing = [k for k in (inclusion.review, inclusion.study) if k not in known["studies"]]
        if missing:
            errors.append(
                LoadError(
                    includes_file,
                    inclusion.line,
                    inclusion.review,
                    f"'{missing[0]}' is not in the database; the inclusion was left out",
                )
            )
            continue
        db["review_includes"].insert(
            {"review_key": inclusion.review, "study_key": inclusion.study, "evidence": inclusion.evidence}, replace=True
        )
    return errors
