"""What Datasette shows about the database: titles, descriptions, facets, search and canned queries."""

from __future__ import annotations

LICENSE = "CC BY 4.0 (curated tags and summaries); bibliographic facts are public record"

STUDIES_FOR_CONDITION = """
-- Studies tagged with the condition or any narrower one, strongest design first
-- (condition_studies holds them in this order, made at load time).
select
  s.key,
  s.title,
  s.authors,
  s.year,
  s.journal,
  s.design,
  s.evidence_level,
  cs.tagged_conditions,
  s.participants,
  s.finding,
  s.doi,
  s.pmid
from condition_studies cs
join study_cards s on s.key = cs.study_key
where cs.condition_id = (select id from conditions where id = :condition or lower(label) = lower(:condition)
                         order by id = :condition desc limit 1)
order by cs.evidence_order, cs.design_rank, cs.year desc, cs.study_key
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


def database_metadata() -> dict:
    """Per-database metadata for an evidence database."""
    return {
        "description": "Studies, tagged by condition, design and outcome, with where each tag came from.",
        "tables": {
            "study_cards": {
                "description": "One row per study with its conditions, outcomes and comparators as JSON arrays "
                               "(rebuilt by each load). Start here: facet on condition, design, evidence level, "
                               "year or journal, or search.",
                "facets": [{"grouped_array": "conditions"}, "design", "evidence_level", "year", "journal"],
                "fts_table": "studies_fts",
                "fts_pk": "rowid",
                "searchmode": "raw",
                "columns": {
                    "rowid": "Row id of the study, which links it to the full-text index",
                    "conditions": "Conditions the study is tagged with",
                    "condition_groups": "Those conditions and every broader one (low back pain -> back pain -> pain)",
                    "evidence_level": "OCEBM 2011 level of the design: 1 strongest, 5 mechanism-based reasoning",
                    "directions": "Directions of the study's results against their comparators",
                    "participants": "Participants randomised or analysed; for reviews, the total across included studies",
                    "included_studies": "For reviews: number of included studies",
                    "finding": "One-sentence summary of the result, written for this database",
                },
            },
            "studies": {
                "description": "Every study with its bibliographic record and design. Identifiers were checked "
                               "against public records; what could not be checked is empty and explained in `note`.",
                "facets": ["design", "design_provenance", "year", "journal"],
                "sort_desc": "year",
                "columns": {
                    "key": "Citation key, as in the BibTeX source",
                    "author_list": "Authors in order, family name and initials; \"et al.\" where the list is incomplete",
                    "more_authors": "1 if the source's author list is incomplete (\"and others\", \"et al.\")",
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
                    "title_nocase": "Spans of the title whose capitals BibTeX braces protect, as JSON [start, end] pairs",
                    "source_file": "The file the study was loaded from",
                    "source_line": "Line of the entry in that file",
                    "content_hash": "Changes when the study or its tags change; used to update only changed studies",
                },
            },
            "conditions": {
                "description": "Condition vocabulary with MeSH descriptor IDs. `parent` is the broader condition "
                               "the tree is drawn under; condition_ancestors holds every broader condition.",
                "label_column": "label",
                "sort": "tree_path",
            },
            "condition_ancestors": {"description": "Each condition with itself and every broader condition, and how many steps up it is."},
            "evidence_map_cells": {"description": "Studies per condition (narrower conditions included) and design, "
                                                  "counted at load time for the evidence map."},
            "condition_studies": {"description": "Every study under each condition (tagged with it or a narrower "
                                                 "one, listed alphabetically in tagged_conditions), made at load "
                                                 "time for the studies-for-a-condition query."},
            "designs": {
                "description": "Study designs with their MeSH publication type and OCEBM 2011 evidence level "
                               "(1 systematic review of randomised trials ... 5 mechanism-based reasoning).",
                "label_column": "label",
                "sort": "rank",
            },
            "outcomes": {"description": "Outcome vocabulary by IMMPACT domain, plus physiological markers.", "label_column": "label"},
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
                },
            },
            "field_disagreements": {
                "description": "Fields on which the sources of one study disagree (beyond case and punctuation), "
                               "with the value kept and the value set aside, and where each came from.",
                "facets": ["field"],
            },
            "load_errors": {
                "description": "Everything the last load of each file could not load as written: file, line, entry and reason. "
                               "Entries with errors keep their raw text here, so nothing is lost.",
                "facets": ["file", "severity"],
            },
        },
        "queries": {
            "studies_for_condition": {
                "title": "Studies for a condition, strongest design first",
                "description": "Give a condition id or label (e.g. back-pain or Low back pain). Narrower conditions are included.",
                "sql": STUDIES_FOR_CONDITION,
            },
        },
    }


def instance_metadata(database_names: list[str]) -> dict:
    """Instance-level metadata, with the per-database part for each evidence database."""
    return {
        "title": "evidence: acupuncture research",
        "description": "A tagged database of acupuncture studies: condition, study design and outcome, with "
                       "verified identifiers and the provenance of every tag.",
        "license": LICENSE,
        "source": "Studies cited by consumer articles on acupuncture, checked against PubMed, PMC and publisher records",
        "databases": {name: database_metadata() for name in database_names},
    }

