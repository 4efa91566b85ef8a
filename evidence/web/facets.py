"""The plugin's facet classes, written against Datasette's documented facet API (the register_facet_classes
hook): a subclass of datasette.facets.Facet with a ``type``, answering ``suggest()`` and ``facet_results()``
from its ds, request, database, table, sql and params, and the base class's get_configs() and
get_facet_size(). Queries go through public Database.execute, or the plugin's own bulk threads."""

from __future__ import annotations

from datasette.database import QueryInterrupted
from datasette.facets import Facet
from datasette.utils import escape_sqlite, path_with_added_args, path_with_removed_args

from .. import store
from ..fast import background

CARD_TABLE = "study_cards"
# What a facet's heading says, where its column's name would not be plain
FACET_LABELS = {"condition_groups": "conditions, narrower ones counted (as on the map)"}
# Arguments of a table page that do not choose which rows it shows: a page with no other argument shows every
# row. Anything else (a column filter, _search, _where, _through, _next...) chooses rows, or might.
NOT_SELECTING = {
    "_sort",
    "_sort_desc",
    "_size",
    "_shape",
    "_json",
    "_labels",
    "_nolabels",
    "_col",
    "_nocol",
    "_nocount",
    "_nofacet",
    "_extra",
    "_trace",
    "_timelimit",
    "_ttl",
    "_format",
    "_context",
    "_nl",
    "_stream",
    "_dl",
    "_searchmode",
    "_markup",
}


def shows_every_row(request) -> bool:
    """Whether the table page of ``request`` shows every row of its table, read from its query arguments."""
    return all(argument.startswith("_facet") or argument in NOT_SELECTING for argument in request.args)


def column_value_counts(column: str, rows_sql: str) -> str:
    """SQL of (value, count): how many rows of ``rows_sql`` have each value of ``column``, as Datasette counts."""
    column = escape_sqlite(column)
    return f"select {column} as value, count(*) as count from ({rows_sql}) where {column} is not null group by {column}"


# How a facet of each kind is counted (SQL of (value, count) over some rows), and which argument filters on it
VALUE_COUNTS = {"column": column_value_counts, "array": store.array_value_counts}


def filter_argument(column: str, kind: str) -> str:
    if kind == "array":
        return f"{column}__arraycontains"
    return f"{column}__exact" if column.startswith("_") else column


def sql_string(text: str) -> str:
    """``text`` as an SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def largest(counts_sql: str, limit: int) -> str:
    """The ``limit`` rows of (value, count) SQL with the largest counts, ordered as Datasette orders a facet."""
    return f"select value, count from ({counts_sql}) order by count desc, value limit {limit}"


class CountedFacet(Facet):
    """A facet whose (value, count) rows are made into results as Datasette makes its own facets' results."""

    async def suggest(self):
        return []

    def kind(self, column: str) -> str:
        """How ``column`` is counted and filtered on: "column" or "array"."""
        raise NotImplementedError

    def result(self, column: str, source: str, rows: list, size: int) -> dict:
        """The facet of ``column`` (configured in ``source``) with the first ``size`` of its (value, count) rows."""
        kind = self.kind(column)
        argument = filter_argument(column, kind)
        chosen = self.request.args.getlist(argument)
        values = []
        for row in rows[:size]:
            value = row["value"] if kind == "column" else str(row["value"])
            selected = str(value) in chosen
            toggle = (
                path_with_removed_args(self.request, {argument: str(value)})
                if selected
                else path_with_added_args(self.request, {argument: value})
            )
            values.append(
                {
                    "value": value,
                    "label": value,
                    "count": row["count"],
                    "toggle_url": self.ds.absolute_url(self.request, self.ds.urls.path(toggle)),
                    "selected": selected,
                }
            )
        return {
            "name": column,
            "label": FACET_LABELS.get(column, column),
            "type": self.type,
            "results": values,
            "hideable": source != "metadata",
            "toggle_url": self.ds.urls.path(path_with_removed_args(self.request, {f"_facet_{self.type}": column})),
            "truncated": len(rows) > size,
        }

    def columns(self) -> list[tuple[str, str]]:
        """(column, source) of each configuration of this facet type on the page."""
        return [
            (config["config"].get("column") or config["config"]["simple"], config["source"])
            for config in self.get_configs()
        ]


class GroupedArrayFacet(CountedFacet):
    """Datasette's array facet (rows counted per value of a JSON array column, filtering with
    ``column__arraycontains``), counted over the distinct arrays rather than over every row."""

    type = "grouped_array"

    def kind(self, column):
        return "array"

    async def facet_results(self):
        results, timed_out = [], []
        size = self.get_facet_size()
        db = self.ds.get_database(self.database)
        for column, source in self.columns():
            try:
                rows = (
                    await db.execute(
                        largest(store.array_value_counts(column, self.sql), size + 1),
                        self.params,
                        truncate=False,
                        custom_time_limit=self.ds.setting("facet_time_limit_ms"),
                    )
                ).rows
            except QueryInterrupted:
                timed_out.append(column)
                continue
            results.append(self.result(column, source, rows, size))
        return results, timed_out


class CardFacet(CountedFacet):
    """The study cards' default facets (store.CARD_FACETS; other columns count as Datasette's column facet, with
    no labels for foreign keys), counted together, in one query for the page: read from study_card_facets
    (counted at load time) when the page shows every card, else in one pass over the page's rows, in a bulk
    thread of lower priority."""

    type = "card"

    def kind(self, column):
        return store.CARD_FACETS.get(column, "column") if self.table == CARD_TABLE else "column"

    async def facet_results(self):
        configured = self.columns()
        if not configured:
            return [], []
        size = self.get_facet_size()
        columns = list(dict.fromkeys(column for column, _ in configured))
        try:
            rows = await self.counts(columns, size + 1)
        except QueryInterrupted:
            return [], columns
        by_column = {column: [] for column in columns}
        for row in rows:
            by_column[row["facet"]].append(row)
        return [self.result(column, source, by_column[column], size) for column, source in configured], []

    async def counts(self, columns: list[str], limit: int) -> list:
        """(facet, value, count) rows: the ``limit`` largest counts of each of ``columns``."""
        # one query doing the work of len(columns) facet queries has the time they would have had together
        time_limit = self.ds.setting("facet_time_limit_ms") * len(columns)
        db = self.ds.get_database(self.database)
        if (
            self.table == CARD_TABLE
            and shows_every_row(self.request)
            and set(columns) <= set(store.CARD_FACETS)
            and await db.table_exists("study_card_facets")
        ):
            counted = {
                column: f"select value, count from study_card_facets where facet = {sql_string(column)}"
                for column in columns
            }
            return (await db.execute(self.union(counted, limit), truncate=False, custom_time_limit=time_limit)).rows
        # the page's rows are read once, for every facet: bulk work, done at lower priority
        page = "with page as materialized (select {} from ({})) ".format(
            ", ".join(escape_sqlite(column) for column in columns), self.sql
        )
        counted = {column: VALUE_COUNTS[self.kind(column)](column, "select * from page") for column in columns}
        return await background.query(
            self.ds, self.database, page + self.union(counted, limit), self.params, time_limit
        )

    @staticmethod
    def union(counted: dict[str, str], limit: int) -> str:
        """One query for the (facet, value, count) rows of every column of ``counted`` (column -> SQL of
        (value, count)), the ``limit`` largest counts of each."""
        return " union all ".join(
            f"select * from (select {sql_string(column)} as facet, * from ({largest(sql, limit)}))"
            for column, sql in counted.items()
        )
