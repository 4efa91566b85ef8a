"""The Datasette application `evidence serve` runs, once in each of its worker processes."""

from __future__ import annotations

import difflib
import errno
import json
import os
import socket
from collections.abc import Callable
from pathlib import Path

from datasette.app import SETTINGS as DATASETTE_SETTINGS
from datasette.app import Datasette
from datasette.utils import BadMetadataError, parse_metadata

from ..errors import EvidenceError
from ..store.swap import identity

# Environment variable through which `evidence serve` tells its worker processes what to serve.
CONFIG = "EVIDENCE_SERVE"
SETTINGS = {"suggest_facets": False}  # suggestions would count distinct values of every column on each page


class BadSettings(EvidenceError):
    """A settings file that is not a JSON object of Datasette's settings with values of their kind."""


class BadHost(EvidenceError):
    """A --host that names no address."""


class PortUnavailable(EvidenceError):
    """A port that cannot be listened on, most often because another program does."""


def configure(db: Path, inspect_file: Path, settings: dict | None = None, metadata: dict | None = None) -> None:
    """Say what the workers started after this serve: the database, read-only, with its counts from ``inspect_file``,
    Datasette's ``settings`` over ours, and Datasette ``metadata`` (the plugin's settings among them)."""
    merged = {**SETTINGS, **(settings or {})}
    config = {"db": str(db), "inspect_file": str(inspect_file), "settings": merged, "metadata": metadata or {}}
    os.environ[CONFIG] = json.dumps(config)


def app():
    """The ASGI application of one worker (a factory for uvicorn); plugin start-up runs on its first request."""
    config = json.loads(os.environ[CONFIG])
    inspect_data = json.loads(Path(config["inspect_file"]).read_text())
    datasette = Datasette(
        immutables=[config["db"]], inspect_data=inspect_data, settings=config["settings"], metadata=config["metadata"]
    )
    return OneVersion(datasette.app(), Path(config["db"]))


def read_settings(path: Path) -> dict:
    """Datasette settings from ``path``, a JSON object as Datasette's settings.json (``{"sql_time_limit_ms": 3000}``);
    BadSettings naming the file and the first name or value Datasette would not take."""
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BadSettings(f"{path}: not a JSON file of settings ({getattr(exc, 'strerror', None) or exc})") from exc
    if not isinstance(settings, dict):
        raise BadSettings(f'{path}: should be a JSON object of Datasette settings, e.g. {{"sql_time_limit_ms": 3000}}')
    defaults = {setting.name: setting.default for setting in DATASETTE_SETTINGS}
    for name, value in settings.items():
        if name not in defaults:
            nearest = difflib.get_close_matches(name, defaults, n=1)
            hint = f" (did you mean {nearest[0]}?)" if nearest else " (datasette --help-settings lists them)"
            raise BadSettings(f"{path}: {name!r} is not a Datasette setting{hint}")
        kind = type(defaults[name])
        if type(value) is not kind:  # exactly: true is no integer, 3 is no boolean
            raise BadSettings(f"{path}: {name} should be {KIND_NAMES[kind]}, not {json.dumps(value)}")
    return settings


KIND_NAMES = {bool: "true or false", int: "a whole number", str: "a string"}


def read_metadata(path: Path) -> dict:
    """Datasette metadata from ``path`` (JSON or YAML, as `datasette --metadata` reads it); BadSettings if it is not
    an object."""
    try:
        metadata = parse_metadata(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, BadMetadataError) as exc:
        raise BadSettings(
            f"{path}: not a JSON or YAML file of metadata ({getattr(exc, 'strerror', None) or exc})"
        ) from exc
    if not isinstance(metadata, dict):
        raise BadSettings(
            f'{path}: should be an object of Datasette metadata, e.g. {{"title": "Acupuncture evidence"}}'
        )
    return metadata


def refuse_port_in_use(host: str, port: int) -> None:
    """Refuse, in one line, a port that another program listens on (uvicorn would print a traceback-like log)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise BadHost(f"--host {host}: {exc.strerror}") from exc
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: a closing port is free
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise PortUnavailable(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
            raise PortUnavailable(f"port {port} is in use; choose another with --port") from exc


def inspect_file(db: Path, spare: Path, say: Callable[[str], None]) -> Path:
    """``datasette inspect`` output for the database (its counts and hash), made again when the database changed:
    DB.inspect.json beside it, or in the folder ``spare`` if the database's folder cannot be written; ``say`` is told
    which, when the rows are counted."""
    path = db.with_name(db.name + ".inspect.json")
    if path.exists() and path.stat().st_mtime_ns >= db.stat().st_mtime_ns:
        return path
    if os.access(db.parent, os.W_OK) and (not path.exists() or os.access(path, os.W_OK)):
        say(f"counting the rows of {db} once, into {path}")
    else:
        path = spare / path.name
        say(
            f"{db.resolve().parent} cannot be written: counting the rows of {db} for this run only "
            "(count them once with `datasette inspect DB --inspect-file FILE` and pass --inspect-file FILE)"
        )
    write_inspect_file(db, path)
    return path


def write_inspect_file(db: Path, path: Path) -> None:
    """``datasette inspect`` of ``db`` (its table counts and hash) into ``path``."""
    from datasette.cli import cli as datasette_cli

    datasette_cli.main(["inspect", str(db), "--inspect-file", str(path)], standalone_mode=False)


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
