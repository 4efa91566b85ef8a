"""evidence: a tagged SQLite database of research citations, published with Datasette."""

__version__ = "0.1.0"
