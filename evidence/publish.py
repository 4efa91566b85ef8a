"""Datasette plugin: metadata and canned queries for every database that holds an evidence schema."""

from __future__ import annotations

from datasette import hookimpl

from .metadata import evidence_map_sql, instance_metadata


def _database_names(datasette) -> list[str]:
    return [name for name in datasette.databases if name != "_internal"]


@hookimpl
def get_metadata(datasette, key, database, table):
    return instance_metadata(_database_names(datasette))


@hookimpl
def canned_queries(datasette, database, actor):
    async def inner():
        db = datasette.get_database(database)
        if "designs" not in await db.table_names():
            return {}
        designs = [(row["id"], row["label"]) for row in await db.execute("select id, label from designs order by rank")]
        return {
            "evidence_map": {
                "title": "Evidence map: studies per condition and design",
                "description": "Every condition in the vocabulary, indented by its place in the hierarchy, against "
                               "every design. Counts include narrower conditions; a row of zeros is an evidence gap.",
                "sql": evidence_map_sql(designs),
            }
        }

    return inner
