"""The home page (/: search box, evidence map, conditions with their study counts, articles with their claim
verdicts, where to start) and the search page (/-/search?q=: studies by full text, conditions by any of their
names, claims by their words), for the first evidence database served."""

from __future__ import annotations

from urllib.parse import urlencode

from datasette.utils import escape_fts
from datasette.utils.asgi import Response
from markupsafe import Markup

from .. import store
from ..synonyms import conditions_named
from .urls import claim_url, condition_url, study_url

# Conditions in tree order with their depth and the studies under each (narrower conditions counted, as on the map)
CONDITION_COUNTS = f"""
select c.id, c.label, length(c.tree_path) - length(replace(c.tree_path, '/', '')) as depth,
       {store.STUDIES_UNDER_CONDITION} as studies
from conditions c {{where}} order by replace(c.tree_path, '/', char(1))
"""
ARTICLE_VERDICTS = """
select s.id, s.name, c.verdict, count(*) as claims
from sources s join claims c on c.source_id = s.id group by s.id, c.verdict order by s.name, c.verdict
"""
STUDIES_MATCHING = """
select c.key, c.title, c.design, c.year, c.finding from study_cards c
where c.rowid in (select rowid from study_cards_fts where study_cards_fts match :q) order by c.rowid limit 50
"""
CLAIMS_MATCHING = """
select c.id, s.name as article, c.claim, c.verdict from claims c join sources s on s.id = c.source_id
where c.claim like '%' || :q || '%' escape '\\' or c.reason like '%' || :q || '%' escape '\\'
order by s.name, c.id limit 50
"""
STYLE = """
.chips { display: inline-flex; flex-wrap: wrap; gap: 0.25em; }
.chip { display: inline-block; padding: 0 0.45em; border: 1px solid #c8d3dc; border-radius: 0.8em;
        background: #f2f6f9; white-space: nowrap; font-size: 0.9em; text-decoration: none; }
table.rows-and-columns td { max-width: 28em; }
table.rows-and-columns td.col-finding, table.rows-and-columns td.col-claim { min-width: 22em; }
table.rows-and-columns td.col-title { min-width: 13em; }
/* Datasette's blue buttons (white on #007bff, 4.0:1) fall short of WCAG AA's 4.5:1: a darker blue */
form input[type=submit] { background-color: #0a58ca; border-color: #0a58ca; }
form button[type=button] { color: #0a58ca; border-color: #0a58ca; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0);
                   white-space: nowrap; }
"""


async def evidence_database(datasette):
    """The name of the first evidence database served, or None."""
    for name in datasette.databases:
        if name != "_internal" and await datasette.get_database(name).execute_fn(store.schema_problem) is None:
            return name
    return None


async def home_page(datasette, request):
    database = await evidence_database(datasette)
    if database is None:  # nothing of ours to show: Datasette's own list of databases
        return Response.redirect(datasette.urls.path("/-/databases"))
    db = datasette.get_database(database)
    conditions = await condition_rows(datasette, database, "")
    articles = {}
    for row in (await db.execute(ARTICLE_VERDICTS)).rows:
        article = articles.setdefault(row["id"], {"name": row["name"], "verdicts": []})
        article["verdicts"].append(
            {
                "verdict": row["verdict"],
                "claims": row["claims"],
                "href": datasette.urls.table(database, "claim_cards")
                + f"?source_id={row['id']}&verdict={row['verdict']}",
            }
        )
        article["href"] = datasette.urls.table(database, "claim_cards") + f"?source_id={row['id']}"
    context = {
        "title": datasette.metadata("title") or "evidence",
        "database": database,
        "conditions": conditions,
        "articles": list(articles.values()),
        "start": start_links(datasette, database),
        "map_url": datasette.urls.path("/-/evidence-map"),
        "search_url": datasette.urls.path("/-/search"),
    }
    return Response.html(await datasette.render_template("evidence_home.html", context, request=request))


def start_links(datasette, database: str) -> list[tuple[str, str]]:
    table, query = datasette.urls.table, datasette.urls.query
    return [
        (table(database, "study_cards"), "Every study, strongest evidence first"),
        (query(database, "studies_for_condition"), "Studies for a condition"),
        (query(database, "strongest_evidence_per_condition"), "Strongest evidence per condition"),
        (query(database, "claims_not_fully_supported"), "Claims the cited evidence does not fully support"),
        (table(database, "claim_cards"), "Every claim with its studies"),
        (datasette.urls.database(database), "All tables and SQL"),
    ]


async def condition_rows(datasette, database: str, text: str) -> list[dict]:
    """Conditions (those ``text`` names, or all when it is empty) with their study counts and page addresses."""
    where = f"where c.id in ({conditions_named('text')})" if text else ""
    rows = await datasette.get_database(database).execute(
        CONDITION_COUNTS.format(where=where), {"text": text} if text else {}
    )
    return [{**dict(row), "href": condition_url(datasette, row["id"], database)} for row in rows.rows]


async def search_page(datasette, request):
    database = await evidence_database(datasette)
    text = (request.args.get("q") or "").strip()
    context = {"database": database, "q": text, "search_url": datasette.urls.path("/-/search")}
    if database and text:
        db = datasette.get_database(database)
        studies = await db.execute(STUDIES_MATCHING, {"q": escape_fts(text)})
        like = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        claims = await db.execute(CLAIMS_MATCHING, {"q": like})
        context |= {
            "conditions": await condition_rows(datasette, database, text),
            "studies": [{**dict(row), "href": study_url(datasette, row["key"], database)} for row in studies.rows],
            "claims": [{**dict(row), "href": claim_url(datasette, row["id"], database)} for row in claims.rows],
        }
    return Response.html(await datasette.render_template("evidence_search.html", context, request=request))


async def stylesheet(datasette, request):
    return Response(STYLE, content_type="text/css; charset=utf-8")


async def condition_choices(datasette, database: str) -> Markup:
    """Links that run "Studies for a condition" for each condition with studies: the picker beside its box."""
    page = datasette.urls.query(database, "studies_for_condition")
    links = [
        Markup('<a class="chip" href="{}">{} ({})</a>').format(
            page + "?" + urlencode({"condition": row["id"]}), row["label"], row["studies"]
        )
        for row in await condition_rows(datasette, database, "")
        if row["studies"]
    ]
    return Markup(
        "Name a condition as you would say it (its label, a synonym or MeSH heading: lumbago, CLBP, "
        'chronic back pain, pregnant), or choose one: <span class="chips">{}</span>'
    ).format(Markup(" ").join(links))


ROUTES = [(r"^/$", home_page), (r"^/-/search$", search_page), (r"^/-/evidence-tables\.css$", stylesheet)]
