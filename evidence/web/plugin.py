"""Datasette plugin: metadata, canned queries and bibliography export links for evidence databases."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import re
import threading
import time
import weakref
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import nullcontext
from importlib.resources import files
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

from datasette import hookimpl
from datasette.database import QueryInterrupted
from datasette.facets import Facet, load_facet_configs
from datasette.utils import escape_sqlite, path_with_added_args, path_with_removed_args
from datasette.utils.asgi import Response

from .. import exporting, store
from ..fast import background, parallel
from ..selection import KEY_COLUMNS
from . import evidence_map
from .metadata import evidence_map_sql, instance_metadata

# URL extension -> export format. Formatted styles take ?_markup=text|markdown|html (default text).
RENDERERS = {"bib": "bibtex", "ris": "ris", "csljson": "csl-json", "apa": "apa", "vancouver": "vancouver"}
# Arguments of a table page that do not select rows, dropped when the export re-reads every page.
_PAGE_ARGUMENTS = {"_next", "_size", "_shape", "_format", "_markup", "_labels", "_facet", "_facet_array",
                   "_facet_date", "_json", "_extra"}


def _database_names(datasette) -> list[str]:
    return [name for name in datasette.databases if name != "_internal"]


@hookimpl
def get_metadata(datasette, key, database, table):
    return instance_metadata(_database_names(datasette))


@hookimpl
def canned_queries(datasette, database, actor):
    async def inner():
        db = datasette.get_database(database)
        if "designs" not in await db.table_names():
            return {}
        designs = [(row["id"], row["label"]) for row in await db.execute("select id, label from designs order by rank")]
        return {
            "evidence_map": {
                "title": "Evidence map: studies per condition and design",
                "description": "Every condition in the vocabulary, indented by its place in the hierarchy, against "
                               "every design. Counts include narrower conditions; a row of zeros is an evidence gap.",
                "sql": evidence_map_sql(designs),
            }
        }

    return inner


class _CardFacet(Facet):
    """A facet counted as Datasette counts it, except for the study cards' default facets (store.CARD_FACETS),
    which are counted together, once for the page: read from study_card_facets (counted at load time) when the
    page has no filter, else in one pass over the page's rows instead of one pass for each. Subclasses say
    how a value is counted and how it filters."""

    kind = None  # "column" or "array", as in store.CARD_FACETS

    @staticmethod
    def counting_sql(column: str, rows_sql: str) -> str:
        """SQL of (value, count) over the rows of ``rows_sql``, unordered."""
        raise NotImplementedError

    def filter_argument(self, column: str) -> str:
        raise NotImplementedError

    async def labels(self, column: str, values: list) -> dict:
        return {}

    def _card_columns(self) -> list[str]:
        """The card facets this page asks for, of any facet class: all are counted together."""
        if self.table != "study_cards":
            return []
        configs = load_facet_configs(self.request, self.metadata)
        return list(dict.fromkeys(column for kind, facet_type in _CARD_FACET_TYPES.items()
                                  for config in configs.get(facet_type, [])
                                  for column in [config["config"].get("column") or config["config"]["simple"]]
                                  if store.CARD_FACETS.get(column) == kind))

    async def _card_counts(self, columns: list[str], limit: int) -> dict[str, list]:
        """Counts of ``columns`` (each as ``limit`` rows at most), one query for them and for the page."""
        if self.request not in _card_counts_of:
            _card_counts_of[self.request] = asyncio.ensure_future(self._count_cards(columns, limit))
        return await _card_counts_of[self.request]

    async def _count_cards(self, columns: list[str], limit: int) -> dict[str, list]:
        # one query doing the work of len(columns) facet queries has the time they would have had together
        time_limit = self.ds.setting("facet_time_limit_ms") * len(columns)
        if (self.sql.endswith(" from study_cards ")  # no filter, search or _next
                and await self.ds.get_database(self.database).table_exists("study_card_facets")):
            counts = {column: f"select value, count from study_card_facets where facet = '{column}'"
                      for column in columns}
            rows = (await self.ds.execute(self.database, self._union(counts, limit), {}, truncate=False,
                                          custom_time_limit=time_limit)).rows
        else:  # the page's rows are read once, for every facet: bulk work, done at lower priority
            page = "with page as materialized (select {} from ({})) ".format(
                ", ".join(escape_sqlite(column) for column in columns), self.sql)
            counts = {column: _CARD_FACET_CLASSES[store.CARD_FACETS[column]].counting_sql(column, "select * from page")
                      for column in columns}
            rows = await background.query(self.ds, self.database, page + self._union(counts, limit), self.params,
                                          time_limit)
        by_column = {column: [] for column in columns}
        for row in rows:
            by_column[row["facet"]].append(row)
        return by_column

    @staticmethod
    def _union(counts: dict[str, str], limit: int) -> str:
        """One query for the (facet, value, count) rows of every column of ``counts`` (column -> counting SQL),
        the ``limit`` largest counts of each."""
        return " union all ".join(f"select * from (select '{column}' as facet, value, count from ({sql}) "
                                  f"order by count desc, value limit {limit})" for column, sql in counts.items())

    async def facet_results(self):
        results, timed_out = [], []
        size = self.get_facet_size()
        pairs = self.get_querystring_pairs()
        card_columns = self._card_columns()
        for config in self.get_configs():
            column = config["config"].get("column") or config["config"]["simple"]
            try:
                if column in card_columns:
                    rows = (await self._card_counts(card_columns, size + 1))[column]
                else:
                    rows = (await self.ds.execute(
                        self.database, f"select value, count from ({self.counting_sql(column, self.sql)}) "
                                       f"order by count desc, value limit {size + 1}",
                        self.params, truncate=False, custom_time_limit=self.ds.setting("facet_time_limit_ms"))).rows
            except QueryInterrupted:
                timed_out.append(column)
                continue
            argument = self.filter_argument(column)
            labels = await self.labels(column, [row["value"] for row in rows[:size]])
            values = []
            for row in rows[:size]:
                value = row["value"] if self.kind == "column" else str(row["value"])
                selected = (argument, str(value)) in pairs
                toggle = (path_with_removed_args(self.request, {argument: str(value)}) if selected
                          else path_with_added_args(self.request, {argument: value}))
                values.append({"value": value, "label": labels.get((column, value), value), "count": row["count"],
                               "toggle_url": self.ds.absolute_url(self.request, self.ds.urls.path(toggle)),
                               "selected": selected})
            results.append({"name": column, "type": self.type, "results": values,
                            "hideable": config["source"] != "metadata",
                            "toggle_url": self.ds.urls.path(path_with_removed_args(
                                self.request, {f"_facet_{self.type}": column})),
                            "truncated": len(rows) > size})
        return results, timed_out

    async def suggest(self):
        return []


class CountedColumnFacet(_CardFacet):
    """Datasette's column facet (rows per value of a column, filtering with ``column=value``), with the
    study cards' default facets counted together."""

    type = "counted_column"
    kind = "column"

    @staticmethod
    def counting_sql(column, rows_sql):
        column = escape_sqlite(column)
        return f"select {column} as value, count(*) as count from ({rows_sql}) where {column} is not null " \
               f"group by {column}"

    def filter_argument(self, column):
        return f"{column}__exact" if column.startswith("_") else column

    async def labels(self, column, values):
        return await self.ds.expand_foreign_keys(self.database, self.table, column, values) if self.table else {}


class GroupedArrayFacet(_CardFacet):
    """Datasette's array facet (rows counted per value of a JSON array column, filtering with
    ``column__arraycontains``), counted over the distinct arrays rather than over every row, with the study
    cards' default facets counted together."""

    type = "grouped_array"
    kind = "array"

    @staticmethod
    def counting_sql(column, rows_sql):
        return store.array_value_counts(column, rows_sql)

    def filter_argument(self, column):
        return f"{column}__arraycontains"


_CARD_FACET_CLASSES = {"column": CountedColumnFacet, "array": GroupedArrayFacet}
_CARD_FACET_TYPES = {kind: facet_class.type for kind, facet_class in _CARD_FACET_CLASSES.items()}
# the counts of the card facets of each page being served, shared by its facet classes
_card_counts_of: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@hookimpl
def register_facet_classes():
    return [CountedColumnFacet, GroupedArrayFacet]


@hookimpl
def register_output_renderer(datasette):
    return [{"extension": extension, "render": _renderer(name), "can_render": _can_export}
            for extension, name in RENDERERS.items()]


async def _can_export(datasette, database, columns) -> bool:
    """Export links appear only on pages of an evidence database whose rows carry study keys."""
    return await _export_problem(datasette, database, columns) is None


async def _export_problem(datasette, database, columns) -> str | None:
    if not any(c in KEY_COLUMNS for c in columns or []):
        return "This page has no key or study_key column, so there is no bibliography to export."
    problem = await datasette.get_database(database).execute_fn(store.schema_problem)
    return f"This database is {problem}." if problem else None


def _renderer(name: str):
    async def render(datasette, request, database, table, query_name, view_name, columns, rows, data):
        problem = await _export_problem(datasette, database, columns)
        if problem:
            return Response.text(problem, status=400)
        markup = request.args.get("_markup", "text")
        if markup not in exporting.MARKUPS:
            return Response.text(f"_markup must be one of {', '.join(exporting.MARKUPS)}", status=400)
        try:
            keys = await _selection_keys(datasette, request, database, table, view_name, columns, rows, data)
        except (ValueError, QueryInterrupted) as exc:
            return Response.text(f"The selection could not be read again for export: {exc}", status=400)
        path = datasette.get_database(database).path
        if name in exporting.STORED:  # text the load wrote: read in a thread of this process, as a page is
            body, count = await asyncio.get_running_loop().run_in_executor(None, _export, path, keys, name, markup)
        else:  # formatting thousands of references takes seconds: done in a process of lower priority
            try:
                body, count = await asyncio.get_running_loop().run_in_executor(
                    _export_process(), _export, path, keys, name, markup, True)
            except BrokenProcessPool:
                _stop_export_process()  # the next export starts another
                raise
        extension, media_type = exporting.file_type(name, markup)
        stem = "-".join(re.sub(r"[^\w.-]+", "_", part) for part in (database, table or query_name or "query") if part)
        filename = f"{stem}.{extension}" if name in ("bibtex", "ris") else f"{stem}-{name}.{extension}"
        disposition = "inline" if markup == "html" and name in ("apa", "vancouver") else "attachment"
        return Response(body, content_type=media_type,
                        headers={"content-disposition": f'{disposition}; filename="{filename}"',
                                 "x-evidence-studies": str(count)})

    return render


_export_pool: ProcessPoolExecutor | None = None


def _export_process() -> ProcessPoolExecutor:
    """The process that reads and formats this server process's exports, one at a time, started at the first.
    It runs as low as the bulk threads: a page asked for during an export takes the CPU first. `evidence
    serve` runs a server process per core, so exports can use every core when nothing else does."""
    global _export_pool
    if _export_pool is None:
        _export_pool = ProcessPoolExecutor(1, multiprocessing.get_context("spawn"), _start_export_process,
                                           (background.NICENESS,))
    return _export_pool


def _start_export_process(niceness: int) -> None:
    """In the export process, first: lower its priority, and end it when the server process that started it
    ends (however that ends: a pool's process does not notice on its own)."""
    os.nice(niceness)
    server = os.getppid()

    def end_with_server() -> None:
        while os.getppid() == server:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=end_with_server, daemon=True).start()


def _stop_export_process() -> None:
    global _export_pool
    _export_pool.shutdown(wait=False)
    _export_pool = None


def _export(path: str, keys: list[str], name: str, markup: str, workers: bool = False) -> tuple[bytes, int]:
    """The studies of ``keys`` in the database file at ``path``, formatted (UTF-8), and how many; with
    ``workers`` (in the export process only: a server process does not fork), written in worker processes."""
    written: dict[str, list] = {}
    with parallel.workers() if workers else nullcontext():
        text = "".join(exporting.export(Path(path), keys, name, markup, written))
    return text.encode("utf-8"), len(written)


async def _selection_keys(datasette, request, database, table, view_name, columns, rows, data) -> list[str]:
    """Study keys of the whole selection behind the page, not only the rows it shows, in its order."""
    column = next(c for c in KEY_COLUMNS if c in columns)
    if view_name == "row":
        return [row[column] for row in rows]
    if view_name == "table" and table:  # follow Datasette's pagination, so filters, search and sort all apply
        args = [(k, v) for k, v in parse_qsl(request.query_string, keep_blank_values=True)
                if k not in _PAGE_ARGUMENTS]
        args += [("_size", "max"), ("_shape", "objects"), ("_nocount", "1"), ("_nofacet", "1")]
        keys, next_token = [], None
        while True:
            page_args = args + ([("_next", next_token)] if next_token else [])
            response = await datasette.client.get(
                datasette.urls.table(database, table, format="json") + "?" + urlencode(page_args),
                headers={k: v for k, v in request.headers.items() if k in ("cookie", "authorization")})
            page = response.json()
            if response.status_code != 200:
                raise ValueError(page.get("error") or f"re-reading the table failed ({response.status_code})")
            keys += [row[column] for row in page["rows"]]
            next_token = page.get("next")
            if not next_token:
                return list(dict.fromkeys(k for k in keys if k is not None))
    query = data.get("query") or {}  # a canned query or SQL: run it again without the row limit
    result = await datasette.get_database(database).execute(query["sql"], query.get("params") or {}, truncate=False)
    return list(dict.fromkeys(row[column] for row in result.rows if row[column] is not None))


@hookimpl
def register_routes():
    return [(r"^/-/evidence-map$", _evidence_map_page)]


@hookimpl
def menu_links(datasette):
    return [{"href": datasette.urls.path("/-/evidence-map"), "label": "Evidence map"}]


async def _evidence_map_page(datasette, request):
    """The evidence map of an evidence database (?database=, default the first), ?by=design or level."""
    names = [name for name in _database_names(datasette)
             if await datasette.get_database(name).execute_fn(store.schema_problem) is None]
    database = request.args.get("database") or (names[0] if names else None)
    if database not in names:
        return Response.text(f"No evidence database named {database!r} here (evidence databases: "
                             f"{', '.join(names) or 'none'}).", status=404)
    by = "level" if request.args.get("by") == "level" else "design"
    the_map = await datasette.get_database(database).execute_fn(lambda conn: evidence_map.build(conn, by))
    table = datasette.urls.table(database, "study_cards")
    rows = []
    for row in the_map.rows:
        cells = []
        for column, cell in zip(the_map.columns, row.cells):
            if by == "level":
                column_filter = ("evidence_level", str(column.value)) if column.value else ("evidence_level__isnull", "1")
            else:
                column_filter = ("design", column.label) if column.value else ("design__isnull", "1")
            query = urlencode([("condition_groups__arraycontains", row.label), column_filter])
            cells.append({"count": cell.count, "findings": cell.findings, "size": the_map.diameter(cell.count),
                          "column": column.label, "href": f"{table}?{query}"})
        rows.append({"label": row.label, "depth": row.depth, "total": row.total, "cells": cells})
    template = datasette.jinja_env.from_string(
        files("evidence.web").joinpath("templates/evidence_map.html").read_text(encoding="utf-8"))
    page = datasette.urls.path("/-/evidence-map")
    context = {"database": database, "map": the_map, "rows": rows, "findings": evidence_map.FINDINGS,
               "by_design_url": f"{page}?{urlencode({'database': database})}",
               "by_level_url": f"{page}?{urlencode({'database': database, 'by': 'level'})}"}
    return Response.html(await datasette.render_template(template, context, request=request))
