"""Addresses of the pages for people: one function per page, so that every page links to them the same way."""

from __future__ import annotations

from datasette.utils import tilde_decode, tilde_encode

DEFAULT_DATABASE = "evidence"


def _page(datasette, kind: str, ident: str, database: str | None) -> str:
    # under the database's route (its name, or NAME-HASH when its URLs carry its hash: see caching.py), with
    # the ident tilde-encoded as Datasette encodes row keys: a key such as "smith.2020" keeps no dot, so that
    # /<db>/studies/<key>.json still reaches Datasette's own JSON of the row
    return f"{datasette.urls.database(database or DEFAULT_DATABASE)}/{kind}/{tilde_encode(str(ident))}"


def study_url(datasette, key: str, database: str | None = None) -> str:
    """The study page of ``key``: /evidence/studies/<key>."""
    return _page(datasette, "studies", key, database)


def condition_url(datasette, condition_id: str, database: str | None = None) -> str:
    """The condition page of ``condition_id``: /evidence/conditions/<id>."""
    return _page(datasette, "conditions", condition_id, database)


def claim_url(datasette, claim_id: str, database: str | None = None) -> str:
    """The claim page of ``claim_id``: /evidence/claims/<id>."""
    return _page(datasette, "claims", claim_id, database)


def decode(part: str) -> str:
    """A key or id as written, from its part of a page address."""
    return tilde_decode(part)
