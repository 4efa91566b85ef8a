"""The Datasette application `evidence serve` runs, once in each of its worker processes."""

from __future__ import annotations

import json
import os
from pathlib import Path

from datasette.app import Datasette

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
    return Datasette(immutables=[config["db"]], inspect_data=inspect_data, settings=SETTINGS).app()
