"""Formatted reference lists (APA, Vancouver) as pages in the browser: the HTML list with a way back to the page the
export was made from, and the same list as text or Markdown to download."""

from __future__ import annotations

import html
from urllib.parse import parse_qsl, urlencode

# What the web gives for a formatted style when the address names no ?_markup: a page to read.
DEFAULT_MARKUP = "html"


def _address(path: str, args: list[tuple[str, str]]) -> str:
    return path + ("?" + urlencode(args) if args else "")


def with_way_back(document: bytes, request, extension: str, source: str) -> bytes:
    """The HTML reference list ``document`` with links, above the list, back to the page of ``source`` (a table,
    query or row name) it was exported from and to the same list as text and Markdown files."""
    args = [(k, v) for k, v in parse_qsl(request.query_string, keep_blank_values=True) if k != "_markup"]
    back = _address(request.path.removesuffix(f".{extension}"), args)
    links = [f'<a href="{html.escape(back)}">&larr; Back to {html.escape(source)}</a>']
    links += [
        f'<a href="{html.escape(_address(request.path, args + [("_markup", markup)]))}">{label}</a>'
        for markup, label in (("text", "Download as text"), ("markdown", "Download as Markdown"))
    ]
    nav = '<nav style="margin-bottom: 1em">' + " &middot; ".join(links) + "</nav>\n"
    return document.replace(b"<body>\n", b"<body>\n" + nav.encode("utf-8"), 1)
