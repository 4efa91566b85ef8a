"""What Datasette shows about the database: titles, descriptions, facets, search and canned queries."""

from __future__ import annotations

from ..evidence_layer.claims import BY_SEVERITY
from ..store import CARD_FACETS
from ..synonyms import conditions_named

LICENSE = "CC BY 4.0 (curated tags and summaries); bibliographic facts are public record"

STUDIES_FOR_CONDITION = f"""
-- Studies under the condition named (id, label, synonym or MeSH heading: see evidence/synonyms.py) or any
-- narrower one, strongest evidence first.
with named as ({conditions_named("condition")})
select
  s.key,
  s.title,
  s.finding,
  s.design,
  s.evidence_level,
  (select group_concat(c.label, '; ') from study_conditions sc join conditions c on c.id = sc.condition_id
    where sc.study_key = s.key and sc.condition_id in (select condition_id from condition_ancestors
      where ancestor_id in (select condition_id from named))) as tagged_conditions,
  s.participants,
  s.year,
  s.authors,
  s.journal,
  s.doi,
  s.pmid
from study_cards s
-- read in the cards' stored order, strongest first (= strength_rank), until the page is full: at 1M studies, 40 ms
-- for a condition with 90,000 of them instead of 600 to sort them all; 270 ms at most, for one with none
where exists (select 1 from condition_studies cs
              where cs.study_key = s.key and cs.condition_id in (select condition_id from named))
order by s.rowid
"""


CLAIMS_NOT_FULLY_SUPPORTED = f"""
-- Claims whose verdict is anything but "supported", or whose stated details disagree with the cited record.
select
  c.id,
  src.name as article,
  c.locator,
  c.claim,
  c.verdict,
  c.reason,
  (select group_concat(ch.field || ': stated ' || ch.stated || ', recorded ' || ch.recorded, '; ')
     from claim_checks ch where ch.claim_id = c.id and not ch.agrees) as wrong_details,
  (select group_concat(study_key, ', ') from claim_studies cs where cs.claim_id = c.id) as studies,
  (select group_concat(title, '; ') from claim_documents cd where cd.claim_id = c.id) as documents
from claims c join sources src on src.id = c.source_id
where c.verdict != 'supported' or c.details_wrong > 0
order by case c.verdict {" ".join(f"when '{v}' then {i}" for i, v in enumerate(BY_SEVERITY))} end, c.id
"""

CONDITIONS_WITHOUT_STUDIES = """
-- Conditions an article names (in a claim or as a topic) that no loaded study is tagged with,
-- counting narrower conditions: the evidence gaps of the articles.
with named as (
  select cc.condition_id, 'claim ' || cc.claim_id as named_by from claim_conditions cc
  union all
  select t.value, 'article ' || s.id from sources s, json_each(s.topics) t
  where t.value in (select id from conditions)
)
select c.id as condition_id, c.label as condition, group_concat(distinct n.named_by) as named_by
from named n join conditions c on c.id = n.condition_id
where not exists (select 1 from condition_studies cs where cs.condition_id = c.id)
group by c.id
order by c.label
"""

STRONGEST_EVIDENCE = """
-- For each condition with studies (narrower conditions included): the best evidence level, the studies
-- at that level, and which way their findings went.
with tagged as (
  select cs.condition_id, cs.study_key as key, d.label as design, cs.evidence_level
  from condition_studies cs join designs d on d.id = cs.design
  where cs.evidence_level is not null
),
best as (select condition_id, min(evidence_level) as level from tagged group by condition_id)
select
  substr('                    ', 1, 2 * (length(c.tree_path) - length(replace(c.tree_path, '/', '')))) || c.label as condition,
  c.id as condition_id,
  b.level as best_evidence_level,
  count(distinct t.key) as studies_at_that_level,
  group_concat(distinct t.design) as designs,
  group_concat(distinct t.key) as study_keys,
  (select group_concat(distinct cf.direction) from condition_findings cf
     where cf.condition_id = b.condition_id
       and cf.study_key in (select key from tagged t2 where t2.condition_id = b.condition_id and t2.evidence_level = b.level)
  ) as directions
from best b
join conditions c on c.id = b.condition_id
join tagged t on t.condition_id = b.condition_id and t.evidence_level = b.level
group by c.id
order by replace(c.tree_path, '/', char(1))
"""


def evidence_map_sql(designs: list[tuple[str, str]]) -> str:
    """Conditions (in tree order, with their depth) against designs; each cell counts studies
    tagged with the condition or a narrower one (counted at load time in evidence_map_cells).
    Zero rows show where evidence is missing."""

    def literal(value: str) -> str:
        return "'" + value.replace("'", "''") + "'"

    def name(value: str) -> str:
        return '"' + value.replace('"', '""') + '"'

    columns = ",\n".join(
        f"  coalesce(sum(case when m.design = {literal(design_id)} then m.studies end), 0) as {name(label)}"
        for design_id, label in designs
    )
    return f"""
-- Evidence map: studies per condition (including narrower conditions) and design.
select
  substr('                    ', 1, 2 * (length(c.tree_path) - length(replace(c.tree_path, '/', '')))) || c.label as condition,
  c.id as condition_id,
  coalesce(sum(m.studies), 0) as studies,
{columns}
from conditions c
left join evidence_map_cells m on m.condition_id = c.id
group by c.id
order by replace(c.tree_path, '/', char(1))
"""


# Join tables and tables the load computes for pages, left out of the database's list of tables.
HIDDEN_TABLES = (
    "study_authors",
    "study_conditions",
    "study_bibtex",
    "study_card_facets",
    "condition_ancestors",
    "condition_studies",
    "condition_findings",
    "evidence_map_cells",
    "claim_studies",
    "claim_documents",
    "claim_conditions",
    "claim_checks",
    "review_includes",
)


def database_metadata() -> dict:
    """Per-database metadata for an evidence database."""
    metadata = {
        "description": "Studies, tagged by condition, design and outcome, with where each tag came from.",
        "tables": {
            "study_cards": {
                "description": "One row per study, strongest evidence first, with its finding, conditions, "
                "outcomes and comparators (JSON arrays in .json and .csv; rebuilt by each load). Start here: facet "
                "on condition (narrower conditions counted, as on the evidence map), design, evidence level, "
                "year or journal, or search titles, abstracts, keywords, population and findings.",
                # the plugin's facet type (facets.CardFacet) that reads the counts made at load time when it can
                "facets": [{"card": column} for column in CARD_FACETS],
                "fts_table": "study_cards_fts",
                "fts_pk": "rowid",
                "searchmode": "raw",
                "columns": {
                    "rowid": "The cards' order, strongest evidence first (as strength_rank); the full-text index is keyed on it",
                    "conditions": "Conditions the study is tagged with",
                    "condition_groups": "Those conditions and every broader one (low back pain -> back pain -> pain)",
                    "evidence_level": "OCEBM 2011 level of the design: 1 strongest, 5 mechanism-based reasoning",
                    "directions": "Directions of the study's results against their comparators",
                    "participants": "Participants randomised or analysed; for reviews, the total across included studies",
                    "included_studies": "For reviews: number of included studies",
                    "finding": "One-sentence summary of the result, written for this database",
                    "strength_rank": "1 for the strongest evidence: evidence level (ungraded last), design, newest first",
                },
            },
            "studies": {
                "description": "Every study with its bibliographic record and design. Identifiers were checked "
                "against public records; what could not be checked is empty and explained in `note`.",
                "facets": ["design", "design_provenance", "year", "journal"],
                "sort_desc": "year",
                "columns": {
                    "key": "Citation key, as in the BibTeX source",
                    "author_list": 'Authors in order, family name and initials; "et al." where the list is incomplete',
                    "more_authors": '1 if the source\'s author list is incomplete ("and others", "et al.")',
                    "doi": "DOI, lower case, without a URL prefix",
                    "pmid": "PubMed ID",
                    "pmcid": "PubMed Central ID",
                    "pages": "Page range, both ends in full",
                    "design": "Study design (see designs)",
                    "design_provenance": "curated: stated in the source file; rule: from publication types, MeSH headings or wording",
                    "design_source": "File and line, or the rule and the text it matched",
                    "note": "What could not be verified, and other remarks",
                    "extra": "BibTeX fields that have no column of their own, as JSON",
                    "publication_types": "Publication types as indexed (e.g. MEDLINE PT), as a JSON array",
                    "mesh_headings": "MeSH descriptors the study is indexed with, as a JSON array",
                    "title": "Title; empty where no source gives one (such an entry is loaded with a warning)",
                    "title_nocase": "Spans of the title whose capitals BibTeX braces protect, as JSON [start, end] pairs",
                    "source_file": "The file the study was loaded from",
                    "source_line": "Line of the entry in that file",
                    "content_hash": "Changes when the study or its tags change; used to update only changed studies",
                },
            },
            "study_bibtex": {
                "description": "Each study's BibTeX entry as `evidence export` writes it (curated tags as "
                "keywords), made at load time so that BibTeX exports read it "
                "rather than format it."
            },
            "conditions": {
                "description": "Condition vocabulary with MeSH descriptor IDs. `parent` is the broader condition "
                "the tree is drawn under; condition_ancestors holds every broader condition.",
                "label_column": "label",
                "sort": "tree_path",
            },
            "condition_ancestors": {
                "description": "Each condition with itself and every broader condition, and how many steps up it is."
            },
            "evidence_map_cells": {
                "description": "Studies per condition (narrower conditions included) and design, "
                "counted at load time for the evidence map."
            },
            "condition_studies": {
                "description": "Every study under each condition (tagged with it or a narrower "
                "one, listed alphabetically in tagged_conditions), made at load "
                "time: the one place the condition hierarchy is joined, read by "
                "the study cards, the evidence map, the queries and exports."
            },
            "condition_findings": {
                "description": "Which way each study's results went for each condition it is "
                "under: a result for one condition speaks for it and the broader ones, not for a "
                "narrower part of it nor for other conditions the study covers; a result for no "
                "condition in particular speaks for each of the study's conditions."
            },
            "designs": {
                "description": "Study designs with their MeSH publication type and OCEBM 2011 evidence level "
                "(1 systematic review of randomised trials ... 5 mechanism-based reasoning).",
                "label_column": "label",
                "sort": "rank",
            },
            "outcomes": {
                "description": "Outcome vocabulary by IMMPACT domain, plus physiological markers.",
                "label_column": "label",
            },
            "comparators": {"description": "What acupuncture was compared with.", "label_column": "label"},
            "authors": {"description": "Authors, one row per distinct name.", "label_column": "display"},
            "study_authors": {"description": "Authors of each study, in order (position 1 is the first author)."},
            "study_conditions": {
                "description": "Conditions of each study, with provenance: curated (file and line) or rule (rule and matched text).",
                "facets": ["condition_id", "provenance"],
            },
            "study_outcomes": {
                "description": "What each study measured, against which comparator, which way the result went, and the finding. "
                "Rule-made rows (provenance rule) only know the measure named: comparator unspecified, direction unknown.",
                "facets": ["outcome_id", "comparator", "direction", "provenance"],
            },
            "study_sources": {
                "description": "Every entry of every input file and the study it became: entries of one study in "
                "several files (or twice in one) are merged, matched on DOI, then PMID, then title, "
                "year and first author. `record` is the entry as read.",
                "facets": ["format", "matched_on", "file"],
                "columns": {
                    "is_primary": "1 for the source whose values the study shows first (curated, then most complete)",
                    "matched_on": "first: the entry that started the study; else what matched it to the study",
                    "entry_key": "The entry's key in its file (made up for formats without keys)",
                    "printed": "1 for a printed citation (a reference list): what an article printed, not a checked "
                    "record; it never overrides another source's value",
                    "as_printed": "The fields the study takes from this printed citation because no other source gives "
                    "them: as printed, not verified",
                },
            },
            "field_disagreements": {
                "description": "Fields on which the sources of one study disagree (beyond case and punctuation), "
                "with the value kept and the value set aside, and where each came from; kind 'as printed, not "
                "verified' marks a value kept from a printed citation that no other source of the study gives.",
                "facets": ["field", "kind"],
            },
            "sources": {
                "description": "The articles that cite the studies and make claims about acupuncture, described in our own words.",
                "label_column": "name",
                "facets": ["kind"],
            },
            "claims": {
                "description": "Each factual claim of the source articles, paraphrased, with where it is in the article, "
                "a verdict against the cited evidence and the reason, written from the studies' own records.",
                "facets": ["verdict", "source_id"],
                "label_column": "id",
                "columns": {
                    "verdict": "supported, supported-with-caveats, overstated, detail-wrong, misrepresented, "
                    "not-in-database (no loaded study bears on it), unverified (an official figure not checked)",
                    "details_checked": "Details the claim states (year, journal, counts) that were compared with the cited records",
                    "details_wrong": "How many of them disagree with the record, whatever the verdict",
                },
            },
            "claim_cards": {
                "description": "One row per claim with its article, cited studies and documents, conditions and "
                "any stated detail that disagrees with the record.",
                "facets": ["verdict", "article"],
            },
            "claim_studies": {"description": "The studies each claim cites or leans on."},
            "claim_documents": {"description": "Official and other documents (not studies) a claim rests on."},
            "claim_conditions": {"description": "The conditions a claim is about."},
            "claim_checks": {
                "description": "Details a claim states about a cited study, compared automatically with the study's "
                "record: agrees = 0 flags a mismatch even where no verdict has been written.",
                "facets": ["field", "agrees"],
            },
            "review_includes": {
                "description": "Which studies of the database a systematic review or meta-analysis includes, and "
                "where that was seen. study_cards.reviewed_in shows it for each primary study.",
                "facets": ["review_key"],
            },
            "load_errors": {
                "description": "Everything the last load of each file could not load as written: file, line, entry and reason. "
                "Entries with errors keep their raw text here, so nothing is lost.",
                "facets": ["file", "severity"],
            },
        },
        "queries": {
            "claims_not_fully_supported": {
                "title": "Claims the cited evidence does not fully support",
                "description": 'Claims of the source articles whose verdict is not "supported", or whose stated '
                "details (year, journal, counts) disagree with the cited study's record; most serious first.",
                "sql": CLAIMS_NOT_FULLY_SUPPORTED,
            },
            "conditions_without_studies": {
                "title": "Conditions named in the articles with no study",
                "description": "Conditions an article names, in a claim or as a topic, that no loaded study is tagged "
                "with (narrower conditions counted): where the articles go beyond this database's evidence.",
                "sql": CONDITIONS_WITHOUT_STUDIES,
            },
            "strongest_evidence_per_condition": {
                "title": "Strongest evidence per condition",
                "description": "For each condition with studies (narrower ones included), the best OCEBM level, the "
                "studies at that level and the directions of their findings.",
                "sql": STRONGEST_EVIDENCE,
            },
        },
    }
    for table in HIDDEN_TABLES:  # still there for SQL, JSON and CSV: only left out of the list of tables
        metadata["tables"].setdefault(table, {})["hidden"] = True
    for query in metadata["queries"].values():
        query["hide_sql"] = True
    return metadata


def instance_metadata(database_names: list[str]) -> dict:
    """Instance-level metadata, with the per-database part for each evidence database."""
    return {
        "title": "evidence: acupuncture research",
        "description_html": "A tagged database of acupuncture studies: condition, study design and outcome, with "
        "verified identifiers and the provenance of every tag, and the claims of the articles "
        'that cite them checked against the studies. See the <a href="/-/evidence-map">evidence '
        "map</a>: conditions against designs, with the gaps.",
        "license": LICENSE,
        "source": "Studies cited by consumer articles on acupuncture, checked against PubMed, PMC and publisher records",
        "databases": {name: database_metadata() for name in database_names},
    }
