"""The Datasette application `evidence serve` runs, once in each of its worker processes."""

from __future__ import annotations

import json
import os
from pathlib import Path

from datasette.app import Datasette

from ..store.swap import identity

# Environment variable through which `evidence serve` tells its worker processes what to serve.
CONFIG = "EVIDENCE_SERVE"
SETTINGS = {"suggest_facets": False}  # suggestions would count distinct values of every column on each page


def configure(db: Path, inspect_file: Path) -> None:
    """Say what the workers started after this serve: the database, read-only, with its counts from ``inspect_file``."""
    os.environ[CONFIG] = json.dumps({"db": str(db), "inspect_file": str(inspect_file)})


def app():
    """The ASGI application of one worker (a factory for uvicorn); plugin start-up runs on its first request."""
    config = json.loads(os.environ[CONFIG])
    inspect_data = json.loads(Path(config["inspect_file"]).read_text())
    datasette = Datasette(immutables=[config["db"]], inspect_data=inspect_data, settings=SETTINGS)
    return OneVersion(datasette.app(), Path(config["db"]))


class OneVersion:
    """ASGI middleware: answers only while the database file is the one the server opened. Datasette keeps
    reading the file it opened; a load swaps in a new one, which exports would read; so once the file has
    changed, every request (and every response not yet started) gets 503, asking for a restart, instead of
    pages of one version and exports of another."""

    def __init__(self, app, db: Path) -> None:
        self.app = app
        self.db = db
        self.version = identity(db)

    def changed(self) -> bool:
        return identity(self.db) != self.version

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if self.changed():
            return await self.refuse(send)
        refused = False

        async def send_if_unchanged(message):
            nonlocal refused
            if message["type"] == "http.response.start" and self.changed():
                refused = True
                await self.refuse(send)
            if not refused:
                await send(message)

        await self.app(scope, receive, send_if_unchanged)

    async def refuse(self, send) -> None:
        body = (
            f"{self.db.name} was reloaded since this server started; restart evidence serve to serve the new version\n"
        ).encode()
        headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": body})
