"""Datasette plugin: metadata, canned queries and bibliography export links for evidence databases."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import re
import threading
import time
import zlib
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import nullcontext
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

from datasette import hookimpl
from datasette.database import QueryInterrupted
from datasette.utils.asgi import Base400, Response
from datasette.views.base import DatasetteError
from jinja2 import ChoiceLoader, FileSystemLoader, PackageLoader
from markupsafe import Markup

from .. import exporting, formats, store
from ..fast import background, parallel
from ..selection import KEY_COLUMNS
from . import bibliography_page, caching, cells, home, map_page, pages, urls
from .facets import CardFacet, GroupedArrayFacet
from .metadata import STUDIES_FOR_CONDITION, evidence_map_sql, instance_metadata

# URL extension -> export format. Formatted styles take ?_markup=text|markdown|html (default html: a page to read).
RENDERERS = formats.WEB_SUFFIXES
RENDERER_OF = {name: extension for extension, name in RENDERERS.items()}
# Arguments of a table page that do not select rows, dropped when the export re-reads every page.
_PAGE_ARGUMENTS = {
    "_next",
    "_size",
    "_shape",
    "_format",
    "_markup",
    "_labels",
    "_facet",
    "_facet_array",
    "_facet_date",
    "_json",
    "_extra",
}


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
        designs = [  # the designs that have studies: an empty column says nothing
            (row["id"], row["label"])
            for row in await db.execute(
                "select id, label from designs where id in (select design from evidence_map_cells) order by rank"
            )
        ]
        return {
            "evidence_map": {
                "title": "Evidence map: studies per condition and design",
                "description": "Every condition in the vocabulary, indented by its place in the hierarchy, against "
                "every design that has studies. Counts include narrower conditions; a row of zeros is an evidence gap.",
                "sql": evidence_map_sql(designs),
                "hide_sql": True,
            },
            "studies_for_condition": {
                "title": "Studies for a condition, strongest evidence first",
                "description_html": await home.condition_choices(datasette, database),
                "sql": STUDIES_FOR_CONDITION,
                "hide_sql": True,
            },
        }

    return inner


@hookimpl
def register_facet_classes():
    return [CardFacet, GroupedArrayFacet]


@hookimpl
def register_output_renderer(datasette):
    return [
        {"extension": extension, "render": _renderer(name), "can_render": _can_export}
        for extension, name in RENDERERS.items()
    ]


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
        markup = request.args.get("_markup", bibliography_page.DEFAULT_MARKUP)
        if markup not in exporting.MARKUPS:
            return Response.text(f"_markup must be one of {', '.join(exporting.MARKUPS)}", status=400)
        try:
            keys = await _selection_keys(datasette, request, database, table, view_name, columns, rows, data)
        except (ValueError, QueryInterrupted) as exc:
            return Response.text(f"The selection could not be read again for export: {exc}", status=400)
        path = datasette.get_database(database).path
        page = markup == "html" and exporting.FORMATS[name].formatted  # gets its way back: compressed later
        packed = not page and "gzip" in request.headers.get("accept-encoding", "")
        try:  # reading and formatting thousands of references takes seconds: done in a process of lower priority
            body, count = await asyncio.get_running_loop().run_in_executor(
                _export_process(), _export, path, keys, name, markup, name not in exporting.STORED, packed
            )
        except BrokenProcessPool:
            _stop_export_process()  # the next export starts another
            raise
        if page:
            source = "the row" if view_name == "row" else table or query_name or "the query"
            body = bibliography_page.with_way_back(body, request, RENDERER_OF[name], source)
        extension, media_type = exporting.file_type(name, markup)
        stem = "-".join(re.sub(r"[^\w.-]+", "_", part) for part in (database, table or query_name or "query") if part)
        filename = f"{stem}.{extension}" if name in ("bibtex", "ris") else f"{stem}-{name}.{extension}"
        disposition = "inline" if markup == "html" and name in ("apa", "vancouver") else "attachment"
        headers = {"content-disposition": f'{disposition}; filename="{filename}"', "x-evidence-studies": str(count)}
        if packed:
            headers |= {"content-encoding": "gzip", "vary": "Accept-Encoding"}
        return Response(body, content_type=media_type, headers=headers)

    return render


_export_pool: ProcessPoolExecutor | None = None


def _export_process() -> ProcessPoolExecutor:
    """The process that reads and formats this server process's exports, one at a time, started at the first.
    It runs as low as the bulk threads (background.NICENESS): a page asked for during an export takes the CPU
    first. `evidence serve` runs several server processes, so exports can use every core when nothing else does."""
    global _export_pool
    if _export_pool is None:
        _export_pool = ProcessPoolExecutor(
            1, multiprocessing.get_context("spawn"), _start_export_process, (background.NICENESS,)
        )
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


def _export(path: str, keys: list[str], name: str, markup: str, workers: bool = False, packed: bool = False):
    """The studies of ``keys`` in the database file at ``path``, formatted (UTF-8; gzip-compressed if ``packed``),
    and how many; with ``workers`` (in the export process only: a server process does not fork), written in worker
    processes."""
    written: dict[str, list] = {}
    with parallel.workers() if workers else nullcontext():
        body = "".join(exporting.export(Path(path), keys, name, markup, written)).encode("utf-8")
    return (zlib.compress(body, caching.COMPRESS_LEVEL, wbits=31) if packed else body), len(written)


async def _selection_keys(datasette, request, database, table, view_name, columns, rows, data) -> list[str]:
    """Study keys of the whole selection behind the page, not only the rows it shows, in its order."""
    column = next(c for c in KEY_COLUMNS if c in columns)
    if view_name == "row":
        return [row[column] for row in rows]
    if view_name == "table" and table:  # follow Datasette's pagination, so filters, search and sort all apply
        args = [(k, v) for k, v in parse_qsl(request.query_string, keep_blank_values=True) if k not in _PAGE_ARGUMENTS]
        args += [("_size", "max"), ("_shape", "objects"), ("_nocount", "1"), ("_nofacet", "1")]
        keys, next_token = [], None
        while True:
            page_args = args + ([("_next", next_token)] if next_token else [])
            response = await datasette.client.get(
                datasette.urls.table(database, table, format="json") + "?" + urlencode(page_args),
                headers={k: v for k, v in request.headers.items() if k in ("cookie", "authorization")},
            )
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


# Every response: nothing from other origins, no framing. Datasette's own pages have inline scripts and styles.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# Formatted reference lists (HTML made from the data): no scripts at all.
EXPORT_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_log = logging.getLogger("evidence.web")


@hookimpl
def startup(datasette):
    caching.hash_routes(datasette)


@hookimpl
def asgi_wrapper(datasette):
    """Security headers on every response the server sends, around caching and compression (caching.py)."""

    def wrap(app):
        async def with_headers(scope, receive, send):
            if scope["type"] != "http":
                return await app(scope, receive, send)

            async def send_with_headers(message):
                if message["type"] == "http.response.start":
                    headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"content-security-policy"]
                    export = scope["path"].endswith(tuple(f".{extension}" for extension in RENDERERS))
                    headers += [
                        (b"content-security-policy", (EXPORT_POLICY if export else PAGE_POLICY).encode()),
                        (b"x-content-type-options", b"nosniff"),
                        (b"referrer-policy", b"same-origin"),
                    ]
                    message = {**message, "headers": headers}
                await send(message)

            await cached(scope, receive, send_with_headers)

        cached = caching.wrap(datasette, app)
        return with_headers

    return wrap


@hookimpl(wrapper=True)
def handle_exception(datasette, request, exception):
    """Errors answered with Datasette's error page and logged on one line. Datasette's own handler, whose
    answer this replaces, prints a traceback with locals for every error, 404s included (and fails on those)."""
    yield
    return [lambda: _error_page(datasette, request, exception)]


async def _error_page(datasette, request, exception) -> Response:
    if isinstance(exception, Base400):
        status, title, message = exception.status, None, str(exception.args[0] if exception.args else "Not found")
    elif isinstance(exception, DatasetteError):
        status, title = exception.status, exception.title
        message = Markup(exception.message) if exception.message_is_html else exception.message
    else:
        status, title, message = 500, None, "Internal error"
    line = f"{status} {request.method} {request.path}: {type(exception).__name__}: {exception}"
    _log.error(line[:500]) if status >= 500 else _log.info(line[:500])
    info = {"ok": False, "error": message, "status": status, "title": title}
    if request.path.endswith(".json"):
        return Response.json(info, status=status)
    return Response.html(await datasette.render_template(["error.html"], info, request=request), status=status)


@hookimpl
def prepare_jinja2_environment(env, datasette):
    """The plugin's templates (evidence/web/templates) come before Datasette's own, so that they can replace
    one (_facet_results.html); a --template-dir still comes first. Filters ``study_url``, ``condition_url`` and
    ``claim_url`` link to the pages for people: ``{{ key|study_url(database) }}``."""
    loaders = [FileSystemLoader(datasette.template_dir)] if datasette.template_dir else []
    env.loader = ChoiceLoader([*loaders, PackageLoader("evidence.web", "templates"), env.loader])
    env.filters.update(
        study_url=lambda key, database=None: urls.study_url(datasette, key, database),
        condition_url=lambda cid, database=None: urls.condition_url(datasette, cid, database),
        claim_url=lambda cid, database=None: urls.claim_url(datasette, cid, database),
    )


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    return cells.render(row, value, column, table, database, datasette)


@hookimpl
def extra_css_urls(datasette):
    return [datasette.urls.path("/-/evidence-tables.css")]


@hookimpl
def register_routes():
    return [(r"^/-/evidence-map$", map_page.evidence_map_page), *home.ROUTES, (pages.ROUTE, pages.page)]


@hookimpl
def menu_links(datasette):
    return [{"href": datasette.urls.path("/-/evidence-map"), "label": "Evidence map"}]
