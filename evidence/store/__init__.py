"""The database, split along the data flow: ``schema`` (its shape, declared once), ``swap`` (one writer at a time,
its build in a temporary copy swapped in at the end), ``write`` (the build's rows) and ``read`` (what exports and
pages read). The names the rest of the package uses are gathered here."""

from .read import (
    STUDIES_UNDER_CONDITION,
    bibtex_entries,
    connect_readonly,
    is_current,
    read_sources,
    read_studies,
    studies_for_export,
)
from .schema import (
    CARD_FACETS,
    SCHEMA_VERSION,
    array_value_counts,
    ensure_schema,
    schema_problem,
)
from .swap import building, one_writer, spool_prefix
from .write import (
    StudyRows,
    indexes_after,
    prune_authors,
    prune_vocabulary,
    refresh_summaries,
    remove_studies_except,
    replace_errors,
    save_studies,
    save_vocabulary,
    study_rows,
)

__all__ = [
    "CARD_FACETS",
    "SCHEMA_VERSION",
    "STUDIES_UNDER_CONDITION",
    "StudyRows",
    "array_value_counts",
    "bibtex_entries",
    "building",
    "connect_readonly",
    "ensure_schema",
    "indexes_after",
    "is_current",
    "one_writer",
    "prune_authors",
    "prune_vocabulary",
    "read_sources",
    "read_studies",
    "refresh_summaries",
    "remove_studies_except",
    "replace_errors",
    "save_studies",
    "save_vocabulary",
    "schema_problem",
    "spool_prefix",
    "studies_for_export",
    "study_rows",
]
