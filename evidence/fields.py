"""The field table: every bibliographic field a study holds as a plain value or a list, with its name in each
format, its column, how sources of one study are merged, and what it means.

Readers read the fields named here without code of their own, writers write them, merging takes them by their
rule, the ``studies`` table has a column for each, and the schema documentation describes them. A format's
reader or writer may still handle a field itself where the format needs more (RIS's journal tags, CSL's
dates); each such place says so. Adding a field is adding a row (see the README's worked example).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Field:
    """One field. ``shape`` says how its value is read and written:

    - ``text``: free text (LaTeX decoded and encoded in BibTeX);
    - ``verbatim``: written as it is (an address, an ISSN);
    - ``year``, ``count``: a four-digit year, a whole number;
    - ``doi``, ``pmid``, ``pmcid``: identifiers, normalised (see records.normalise_*);
    - ``month``: BibTeX's three-letter name; ``pages``: a range with both ends in full;
    - ``list``: several values (BibTeX and RIS write them joined by "; ").
    """

    attribute: str  # the StudyRecord attribute and the `studies` column
    description: str
    shape: str = "text"
    bibtex: str | None = None  # the BibTeX/biblatex field written, and read
    bibtex_also: tuple[str, ...] = ()  # other BibTeX/biblatex fields read into it
    ris: str | None = None  # the RIS tag written, and read (unless the RIS reader reads it itself)
    csl: str | None = None  # the CSL variable written, and read
    csl_also: tuple[str, ...] = ()
    medline: str | None = None  # the MEDLINE tag read
    merge: str = "first"  # "first": the best source's value (merge._rank); "union": every source's items

    @property
    def sql_type(self) -> str:
        return "INTEGER" if self.shape in ("year", "count") else "TEXT"


FIELDS = (
    Field(
        "journal",
        "Journal (or other container) title",
        bibtex="journal",
        bibtex_also=("journaltitle",),
        ris="T2",
        csl="container-title",
        medline="JT",
    ),
    Field(
        "journal_abbrev",
        "Abbreviated journal title",
        bibtex="shortjournal",
        ris="J2",
        csl="container-title-short",
        csl_also=("journalAbbreviation",),
        medline="TA",
    ),
    Field("year", "Year of publication", "year", bibtex="year", ris="PY"),
    Field(
        "month",
        "Month of publication, as BibTeX's three-letter name (jan ... dec) or as written",
        "month",
        bibtex="month",
    ),
    Field("volume", "Volume", bibtex="volume", ris="VL", csl="volume", medline="VI"),
    Field("issue", "Issue (number)", bibtex="number", bibtex_also=("issue",), ris="IS", csl="issue", medline="IP"),
    Field(
        "pages",
        "Page range, both ends in full",
        "pages",
        bibtex="pages",
        csl="page",
        csl_also=("page-first",),
        medline="PG",
    ),
    Field("doi", "DOI, lower case, without a URL prefix", "doi", bibtex="doi", ris="DO", csl="DOI"),
    Field("pmid", "PubMed ID", "pmid", bibtex="pmid", ris="AN", csl="PMID", medline="PMID"),
    Field("pmcid", "PubMed Central ID", "pmcid", bibtex="pmcid", csl="PMCID", medline="PMC"),
    Field("issn", "ISSN of the journal", "verbatim", bibtex="issn", ris="SN", csl="ISSN"),
    Field("url", "Address of the record or full text", "verbatim", bibtex="url", ris="UR", csl="URL"),
    Field("abstract", "Abstract, as the source gives it", bibtex="abstract", ris="AB", csl="abstract", medline="AB"),
    Field("population", "Who was studied, in a few words (curated)", bibtex="population"),
    Field(
        "participants",
        "Participants randomised or analysed; for reviews, the total across included studies",
        "count",
        bibtex="participants",
    ),
    Field("included_studies", "For reviews: number of included studies", "count", bibtex="includedstudies"),
    Field("finding", "One-sentence summary of the result, written for this database (curated)", bibtex="finding"),
    Field("note", "What could not be verified, and other remarks", bibtex="note", ris="N1", csl="note"),
)

# Fields holding several values: merged as the union of every source's, in order.
LIST_FIELDS = (
    Field(
        "keywords",
        "Free keywords, comma-separated",
        "list",
        bibtex="keywords",
        ris="KW",
        csl="keyword",
        medline="OT",
        merge="union",
    ),
    Field(
        "publication_types",
        "Publication types as indexed (e.g. MEDLINE PT), as a JSON array",
        "list",
        bibtex="publicationtypes",
        medline="PT",
        merge="union",
    ),
    Field(
        "mesh_headings",
        "MeSH descriptors the study is indexed with, as a JSON array",
        "list",
        bibtex="mesh",
        medline="MH",
        merge="union",
    ),
)

BY_ATTRIBUTE = {f.attribute: f for f in FIELDS + LIST_FIELDS}
PLAIN = tuple(f.attribute for f in FIELDS)  # the `studies` columns that are record attributes as they are


def named_in(format_name: str, fields: tuple[Field, ...] = FIELDS) -> dict[str, Field]:
    """Field by its name in one format ("bibtex", "ris", "csl", "medline"), other names read included."""
    names: dict[str, Field] = {}
    for f in fields:
        for name in (getattr(f, format_name), *getattr(f, f"{format_name}_also", ())):
            if name:
                names[name] = f
    return names
