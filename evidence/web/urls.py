"""Addresses of the pages for people: one function per page, so that every page links to them the same way."""

from __future__ import annotations

from datasette.utils import tilde_encode

DEFAULT_DATABASE = "evidence"


def condition_url(condition_id: str, database: str | None = None) -> str:
    """The condition page of ``condition_id``: /evidence/conditions/<id>."""
    return f"/{tilde_encode(database or DEFAULT_DATABASE)}/conditions/{tilde_encode(str(condition_id))}"
