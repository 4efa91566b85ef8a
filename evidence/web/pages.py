"""The pages for people: a condition, a study and a claim, each read from the evidence database the plugin
serves and drawn by a template that extends Datasette's base.html (evidence/web/templates)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import PurePath
from urllib.parse import urlencode

from datasette.utils.asgi import NotFound, Response
from markupsafe import Markup

from .. import store
from ..formats import citeproc
from . import harvest, urls
from .evidence_map import FINDINGS

# OCEBM 2011 Levels of Evidence, question "Does this intervention help?" (as data/vocabularies/designs.yaml).
LEVELS = {
    1: "Level 1 of 5, the strongest: a systematic review of randomised trials.",
    2: "Level 2 of 5: a randomised trial.",
    3: "Level 3 of 5: a non-randomised controlled cohort or follow-up study.",
    4: "Level 4 of 5: case series, case-control or historically controlled studies.",
    5: "Level 5 of 5, the weakest: mechanism-based reasoning.",
}
UNGRADED = "Not graded by the OCEBM 2011 levels."
DIRECTIONS = {**FINDINGS, "not-applicable": "does not apply", "unknown": "not read (rule-made)"}
VERDICTS = {
    "supported": "Supported",
    "supported-with-caveats": "Supported, with caveats",
    "overstated": "Overstated",
    "detail-wrong": "A detail is wrong",
    "misrepresented": "Misrepresented",
    "not-in-database": "Not in the database",
    "unverified": "Unverified",
}
# The study-card export formats offered on the pages: (label, extension, extra arguments).
EXPORTS = [
    ("BibTeX", "bib", []),
    ("RIS", "ris", []),
    ("CSL-JSON", "csljson", []),
    ("APA (page)", "apa", [("_markup", "html")]),
    ("Vancouver (page)", "vancouver", [("_markup", "html")]),
]
# A condition page lists this many studies, the strongest, and links to the table of them all.
STUDIES_SHOWN = 100
ROUTE = r"^/(?P<database>[^/]+)/(?P<kind>studies|conditions|claims)/(?P<ident>[^/.]+)$"


def source_place(source: str | None) -> str:
    """A tag's source or an entry's file as file name and line ("studies.bib:20"), without the server's folders."""
    return PurePath(source).name if source else ""


def _rows(conn: sqlite3.Connection, sql: str, params=()) -> list[dict]:
    cursor = conn.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def _one(conn: sqlite3.Connection, sql: str, params=()) -> dict | None:
    rows = _rows(conn, sql, params)
    return rows[0] if rows else None


def export_links(datasette, database: str, filters: list[tuple[str, str]]) -> list[dict]:
    """Links exporting the study cards that ``filters`` select (Datasette table filters), in each format."""
    table = datasette.urls.table(database, "study_cards")
    return [
        {"label": label, "href": f"{table}.{extension}?{urlencode(filters + extra)}"}
        for label, extension, extra in EXPORTS
    ]


def condition_page(conn: sqlite3.Connection, condition_id: str) -> dict | None:
    """The condition, its broader and narrower conditions, its strongest studies (narrower conditions' included),
    their outcome rows that speak for it, and the claims about it or a narrower condition."""
    condition = _one(
        conn, "SELECT id, label, mesh_id, synonyms, description FROM conditions WHERE id = ?", [condition_id]
    )
    if condition is None:
        return None
    condition["synonyms"] = json.loads(condition["synonyms"] or "[]")
    broader = _rows(
        conn,
        """SELECT c.id, c.label FROM condition_ancestors ca JOIN conditions c ON c.id = ca.ancestor_id
           WHERE ca.condition_id = ? AND ca.depth > 0 ORDER BY ca.depth, c.label""",
        [condition_id],
    )
    narrower = _rows(
        conn,
        f"""SELECT c.id, c.label, ca.depth, {store.STUDIES_UNDER_CONDITION} AS studies
           FROM condition_ancestors ca JOIN conditions c ON c.id = ca.condition_id
           WHERE ca.ancestor_id = ? AND ca.depth > 0 ORDER BY c.tree_path""",
        [condition_id],
    )
    total = conn.execute(
        f"SELECT {store.STUDIES_UNDER_CONDITION} FROM conditions c WHERE c.id = ?", [condition_id]
    ).fetchone()[0]
    studies = _rows(
        conn,
        """SELECT sc.key, sc.title, sc.authors, sc.year, sc.design, sc.evidence_level, sc.population,
                  sc.participants, sc.included_studies, sc.finding, cs.tagged_conditions
           FROM condition_studies cs JOIN study_cards sc ON sc.key = cs.study_key
           WHERE cs.condition_id = ?
           ORDER BY cs.evidence_order, cs.design_rank, cs.year DESC, cs.study_key
           LIMIT ?""",
        [condition_id, STUDIES_SHOWN],
    )
    # the outcome rows of these studies that speak for this condition (as condition_findings reads them)
    outcomes = _rows(
        conn,
        """SELECT so.study_key, o.label AS outcome, o.domain, so.direction
           FROM study_outcomes so JOIN outcomes o ON o.id = so.outcome_id
           WHERE so.study_key IN (SELECT value FROM json_each(?)) AND so.direction != 'unknown'
             AND (so.condition_id IS NULL
                  OR so.condition_id IN (SELECT ancestor_id FROM condition_ancestors WHERE condition_id = ?)
                  OR so.condition_id IN (SELECT condition_id FROM condition_ancestors WHERE ancestor_id = ?))
           ORDER BY so.study_key, so.position""",
        [json.dumps([s["key"] for s in studies]), condition_id, condition_id],
    )
    for number, study in enumerate(studies, 1):
        study["number"] = number
        study["directions"] = list(dict.fromkeys(o["direction"] for o in outcomes if o["study_key"] == study["key"]))
    claims = _rows(
        conn,
        """SELECT DISTINCT c.id, c.claim, c.verdict, src.name AS article
           FROM claim_conditions cc JOIN claims c ON c.id = cc.claim_id JOIN sources src ON src.id = c.source_id
           WHERE cc.condition_id IN (SELECT condition_id FROM condition_ancestors WHERE ancestor_id = ?)
           ORDER BY src.name, c.source_line""",
        [condition_id],
    )
    return {
        "condition": condition,
        "broader": broader,
        "narrower": narrower,
        "studies": studies,
        "total": total,
        "plot": harvest.plot(studies, outcomes),
        "claims": claims,
    }


def study_page(conn: sqlite3.Connection, key: str) -> dict | None:
    """Everything about one study a reader asks for, without the columns only the program needs."""
    study = _one(conn, "SELECT * FROM studies WHERE key = ?", [key])
    if study is None:
        return None
    design = _one(conn, "SELECT id, label, evidence_level, description FROM designs WHERE id = ?", [study["design"]])
    if design:
        design["level_text"] = LEVELS.get(design["evidence_level"], UNGRADED)
    tagged = next(iter(store.studies_for_export(conn, [key])), None)
    reference = Markup(citeproc.html_entries([tagged], "apa")[0]) if tagged else None
    return {
        "study": study,
        "reference": reference,
        "authors": [
            r["display"]
            for r in _rows(
                conn,
                """SELECT a.display FROM study_authors sa JOIN authors a ON a.id = sa.author_id
                   WHERE sa.study_key = ? ORDER BY sa.position""",
                [key],
            )
        ],
        "design": design,
        "conditions": _rows(
            conn,
            """SELECT c.id, c.label, sc.provenance, sc.source FROM study_conditions sc
               JOIN conditions c ON c.id = sc.condition_id WHERE sc.study_key = ? ORDER BY c.label""",
            [key],
        ),
        "outcomes": _rows(
            conn,
            """SELECT o.label AS outcome, so.measure, k.label AS comparator, so.direction, so.finding,
                      c.id AS condition_id, c.label AS condition, so.provenance, so.source
               FROM study_outcomes so JOIN outcomes o ON o.id = so.outcome_id
               JOIN comparators k ON k.id = so.comparator LEFT JOIN conditions c ON c.id = so.condition_id
               WHERE so.study_key = ? ORDER BY so.position""",
            [key],
        ),
        "claims": _rows(
            conn,
            """SELECT c.id, c.claim, c.verdict, src.name AS article FROM claim_studies cs
               JOIN claims c ON c.id = cs.claim_id JOIN sources src ON src.id = c.source_id
               WHERE cs.study_key = ? ORDER BY src.name, c.source_line""",
            [key],
        ),
        "included_in": _rows(
            conn,
            """SELECT ri.review_key AS key, s.title, s.year, ri.evidence FROM review_includes ri
               JOIN studies s ON s.key = ri.review_key WHERE ri.study_key = ? ORDER BY s.year, ri.review_key""",
            [key],
        ),
        "includes": _rows(
            conn,
            """SELECT ri.study_key AS key, s.title, s.year, ri.evidence FROM review_includes ri
               JOIN studies s ON s.key = ri.study_key WHERE ri.review_key = ? ORDER BY s.year, ri.study_key""",
            [key],
        ),
        "sources": _rows(
            conn,
            """SELECT file, line, format, entry_key, is_primary, matched_on, printed, as_printed FROM study_sources
               WHERE study_key = ? ORDER BY load_order""",
            [key],
        ),
        "disagreements": _rows(
            conn,
            """SELECT field, kept_value, kept_source, other_value, other_source, kind FROM field_disagreements
               WHERE study_key = ? ORDER BY kind, field""",
            [key],
        ),
        "keywords": [k.strip() for k in (study["keywords"] or "").split(",") if k.strip()],
    }


def claim_page(conn: sqlite3.Connection, claim_id: str) -> dict | None:
    """The claim, its article, verdict and reason, the details checked and the studies and documents it rests on."""
    claim = _one(
        conn,
        """SELECT c.*, src.name AS article, src.title AS article_title, src.publisher AS article_publisher
           FROM claims c JOIN sources src ON src.id = c.source_id WHERE c.id = ?""",
        [claim_id],
    )
    if claim is None:
        return None
    return {
        "claim": claim,
        "studies": _rows(
            conn,
            """SELECT s.key, s.title, s.year, d.label AS design, d.evidence_level FROM claim_studies cs
               JOIN studies s ON s.key = cs.study_key LEFT JOIN designs d ON d.id = s.design
               WHERE cs.claim_id = ? ORDER BY coalesce(d.evidence_level, 9), s.year DESC, s.key""",
            [claim_id],
        ),
        "checks": _rows(
            conn,
            """SELECT study_key, field, stated, recorded, agrees FROM claim_checks WHERE claim_id = ?
               ORDER BY agrees, study_key, field""",
            [claim_id],
        ),
        "documents": _rows(
            conn,
            "SELECT title, publisher, year, url FROM claim_documents WHERE claim_id = ? ORDER BY position",
            [claim_id],
        ),
        "conditions": _rows(
            conn,
            """SELECT c.id, c.label FROM claim_conditions cc JOIN conditions c ON c.id = cc.condition_id
               WHERE cc.claim_id = ? ORDER BY c.label""",
            [claim_id],
        ),
    }


READERS = {"conditions": condition_page, "studies": study_page, "claims": claim_page}
TEMPLATES = {"conditions": "evidence_condition.html", "studies": "evidence_study.html", "claims": "evidence_claim.html"}
WHAT = {"conditions": "condition", "studies": "study", "claims": "claim"}


async def page(datasette, request) -> Response:
    """A condition, study or claim page of an evidence database the server serves; a 404 page otherwise."""
    route = urls.decode(request.url_vars["database"])
    kind = request.url_vars["kind"]
    ident = urls.decode(request.url_vars["ident"])
    try:
        db = datasette.get_database(route=route)
    except KeyError:
        raise NotFound(f"There is no database named {route!r} here.") from None
    database = db.name
    if database == "_internal":
        raise NotFound(f"There is no database named {route!r} here.")
    if await db.execute_fn(store.schema_problem) is not None:
        raise NotFound(f"{database} is not an evidence database, so it has no {kind} pages.")
    context = await db.execute_fn(lambda conn: READERS[kind](conn, ident))
    if context is None:
        raise NotFound(f"There is no {WHAT[kind]} {ident!r} in {database}.")
    if kind == "conditions":
        selection = [("condition_groups__arraycontains", context["condition"]["label"])]
        context["exports"] = export_links(datasette, database, selection)
        context["all_studies_url"] = f"{datasette.urls.table(database, 'study_cards')}?{urlencode(selection)}"
    elif kind == "studies":
        context["exports"] = export_links(datasette, database, [("key", ident)])
    context.update(
        database=database,
        directions=DIRECTIONS,
        verdicts=VERDICTS,
        source_place=source_place,
        study_url=lambda key: urls.study_url(datasette, key, database),
        condition_url=lambda cid: urls.condition_url(datasette, cid, database),
        claim_url=lambda cid: urls.claim_url(datasette, cid, database),
    )
    return Response.html(await datasette.render_template(TEMPLATES[kind], context, request=request))
