"""The evidence map page (/-/evidence-map): conditions against designs or evidence levels, only the columns that have
studies unless ?all=1, in a box of its own that scrolls sideways on a narrow screen while the page does not."""

from __future__ import annotations

from urllib.parse import urlencode

from datasette.utils.asgi import Response

from .. import store
from . import evidence_map
from .urls import condition_url

PATH = "/-/evidence-map"


async def evidence_databases(datasette) -> list[str]:
    """The databases served that are evidence databases of this version."""
    return [
        name
        for name in datasette.databases
        if name != "_internal" and await datasette.get_database(name).execute_fn(store.schema_problem) is None
    ]


def _column_filter(by: str, column: evidence_map.Column) -> tuple[str, str]:
    """The study cards filter that picks the studies of one column."""
    if by == "level":
        return ("evidence_level", str(column.value)) if column.value else ("evidence_level__isnull", "1")
    return ("design", column.label) if column.value else ("design__isnull", "1")


async def evidence_map_page(datasette, request):
    """The evidence map of an evidence database (?database=, default the first), ?by=design or level, ?all=1 for
    every column (also those without studies)."""
    names = await evidence_databases(datasette)
    database = request.args.get("database") or (names[0] if names else None)
    if database not in names:
        return Response.text(
            f"No evidence database named {database!r} here (evidence databases: {', '.join(names) or 'none'}).",
            status=404,
        )
    by = "level" if request.args.get("by") == "level" else "design"
    show_all = request.args.get("all") == "1"
    whole_map = await datasette.get_database(database).execute_fn(lambda conn: evidence_map.build(conn, by))
    the_map = whole_map if show_all else whole_map.with_studies_only()
    table = datasette.urls.table(database, "study_cards")
    rows = []
    for row in the_map.rows:
        cells = [
            {
                "count": cell.count,
                "findings": cell.findings,
                "size": the_map.diameter(cell.count),
                "column": column.label,
                "href": f"{table}?{urlencode([('condition_groups__arraycontains', row.label), _column_filter(by, column)])}",
            }
            for column, cell in zip(the_map.columns, row.cells)
        ]
        href = condition_url(datasette, row.condition_id, database)
        rows.append({"label": row.label, "href": href, "depth": row.depth, "total": row.total, "cells": cells})

    def link(**changes) -> str:
        args = {"database": database, "by": by, "all": "1" if show_all else None} | changes
        return datasette.urls.path(PATH) + "?" + urlencode({k: v for k, v in args.items() if v})

    context = {
        "database": database,
        "map": the_map,
        "rows": rows,
        "findings": evidence_map.FINDINGS,
        "show_all": show_all,
        "hidden_columns": len(whole_map.columns) - len(the_map.columns),
        "by_design_url": link(by=None),
        "by_level_url": link(by="level"),
        "all_columns_url": link(all="1"),
        "studied_columns_url": link(all=None),
    }
    return Response.html(await datasette.render_template("evidence_map.html", context, request=request))
