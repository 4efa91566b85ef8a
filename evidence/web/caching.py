"""HTTP caching for immutable databases: URLs that change with the data, long-lived Cache-Control, gzip.

With the plugin setting ``hashed_urls`` (metadata ``{"plugins": {"evidence": {"hashed_urls": true}}}``, which
`evidence serve --metadata FILE` and every `evidence publish` image set), an immutable database whose hash is known
(from its inspect file, or counted by Datasette) is served under the route NAME-HASH, the idea of
datasette-hashed-urls: /evidence-1a2b3c4/studies/... A request for /evidence/...,
or for the route of an older hash, is redirected to the current one, so a bookmark always reaches today's data,
and every successful answer under the hashed route may be kept by browsers and CDNs for a year: when the data
change, so do the addresses. Other pages (/, /-/search, the evidence map) are kept for Datasette's
``default_cache_ttl`` seconds. A page whose facets ran out of time is not kept longer than Datasette says.
Answers of 1 KB or more are gzip-compressed (level 1) for clients that accept it (asgi-gzip), database downloads
aside.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from asgi_gzip import GZipMiddleware
from datasette.utils import tilde_decode, tilde_encode

HASH_LENGTH = 7
YEAR = 365 * 24 * 3600
HASHED_FOR_A_YEAR = f"public, max-age={YEAR}, immutable".encode()
FACETS_TIMED_OUT = b'class="facets-timed-out"'  # Datasette's page when a facet count ran out of time
COMPRESS_FROM = 1024
# zlib's fastest level, as nginx compresses by default: a 20 MB BibTeX export of 10,000 studies takes 138 ms at
# level 1 (4.7 to 3.7 times smaller) and 613 ms at level 6, CPU a server under load has better uses for
COMPRESS_LEVEL = 1


def hash_routes(datasette) -> None:
    """Serve each immutable database whose hash is known under NAME-HASH (at start-up; order kept), when the
    plugin setting ``hashed_urls`` asks for it."""
    if not (datasette.plugin_config("evidence") or {}).get("hashed_urls"):
        return
    served = [(name, db) for name, db in datasette.databases.items() if name != "_internal"]
    if not any(_hashed(db) for _, db in served):
        return
    for name, _ in served:
        datasette.remove_database(name)
    for name, db in served:
        datasette.add_database(db, name=name, route=f"{name}-{db.hash[:HASH_LENGTH]}" if _hashed(db) else db.route)


def _hashed(db) -> bool:
    return not db.is_mutable and not db.is_memory and bool(db.hash)


def wrap(datasette, app):
    """``app`` with hashed-route redirects, Cache-Control headers and gzip."""
    return GZipMiddleware(_Caching(datasette, app), minimum_size=COMPRESS_FROM, compresslevel=COMPRESS_LEVEL)


class _Caching:
    """ASGI middleware: redirects to the hashed route, and Cache-Control on the answers of GET and HEAD."""

    def __init__(self, datasette, app) -> None:
        self.datasette = datasette
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            return await self.app(scope, receive, send)
        await self.datasette.invoke_startup()  # the routes are hashed at start-up: before reading them
        path = self._within_base(scope["path"])
        first, slash, rest = path.lstrip("/").partition("/")
        route, dot, extension = first.partition(".")
        if extension == "db":  # a download of the database file itself: not compressed on the fly
            scope = {**scope, "headers": [(k, v) for k, v in scope["headers"] if k.lower() != b"accept-encoding"]}
        hashed, current = self._route_of(tilde_decode(route))
        if current is not None:
            moved = quote(f"/{tilde_encode(current)}{dot}{extension}{slash}{rest}", safe="/~-._!$'()*+,;=:@")
            location = self.datasette.urls.path(moved)
            if scope.get("query_string"):
                location += "?" + scope["query_string"].decode("latin-1")
            return await _redirect(send, location)
        if hashed:
            cache_control = HASHED_FOR_A_YEAR
        elif path.startswith("/-/") or path == "/":
            ttl = self.datasette.setting("default_cache_ttl")
            cache_control = f"public, max-age={ttl}".encode() if ttl and self._all_immutable() else None
        else:
            cache_control = None
        if cache_control is None:
            return await self.app(scope, receive, send)
        await self.app(scope, receive, _with_cache_control(send, cache_control, replace=hashed))

    def _within_base(self, path: str) -> str:
        base = self.datasette.setting("base_url")
        return "/" + path[len(base) :] if base != "/" and path.startswith(base) else path

    def _route_of(self, route: str) -> tuple[bool, str | None]:
        """Whether ``route`` is a hashed route, and the route to redirect it to (None: no redirect)."""
        for name, db in self.datasette.databases.items():
            if db.route == name:
                continue
            if route == db.route:
                return True, None
            if route == name or re.fullmatch(re.escape(name) + f"-[0-9a-f]{{{HASH_LENGTH}}}", route):
                return False, db.route
        return False, None

    def _all_immutable(self) -> bool:
        return all(not db.is_mutable for name, db in self.datasette.databases.items() if name != "_internal")


def _with_cache_control(send, cache_control: bytes, replace: bool):
    """``send`` that gives a successful answer ``cache_control``, in place of Datasette's own when ``replace``;
    the headers wait for the first part of the body, which tells whether the facets ran out of time."""
    start = None

    async def send_with_cache_control(message):
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
            return
        if start is not None:
            headers = list(start.get("headers", []))
            has_own = any(k.lower() == b"cache-control" for k, _ in headers)
            timed_out = FACETS_TIMED_OUT in message.get("body", b"")
            if start["status"] == 200 and not timed_out and (replace or not has_own):
                headers = [(k, v) for k, v in headers if k.lower() != b"cache-control"]
                headers.append((b"cache-control", cache_control))
            await send({**start, "headers": headers})
            start = None
        await send(message)

    return send_with_cache_control


async def _redirect(send, location: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 302,
            "headers": [(b"location", location.encode("latin-1")), (b"content-length", b"0")],
        }
    )
    await send({"type": "http.response.body", "body": b""})
