"""CSL-JSON writer: the items pandoc, Zotero and citeproc processors read."""

from __future__ import annotations

import json

from ..readers.bibtex import extra_text
from ..records import month_number
from ..tagger import TaggedStudy

# BibTeX entry type -> CSL item type.
CSL_TYPES = {
    "article": "article-journal", "book": "book", "inbook": "chapter", "incollection": "chapter",
    "inproceedings": "paper-conference", "conference": "paper-conference", "phdthesis": "thesis",
    "mastersthesis": "thesis", "thesis": "thesis", "techreport": "report", "report": "report",
    "online": "webpage", "unpublished": "manuscript", "misc": "article",
}
def title_markup(title: str, protected: list[tuple[int, int]]) -> str:
    """The title with its case-protected spans as ``<span class="nocase">``, CSL's form of BibTeX braces.
    Other text stays as it is: pandoc and citeproc-js read ``&`` and ``<`` literally, not as entities."""
    if not protected:
        return title
    parts, at = [], 0
    for start, end in protected:
        parts += [title[at:start], f'<span class="nocase">{title[start:end]}</span>']
        at = end
    parts.append(title[at:])
    return "".join(parts)


def item(study: TaggedStudy, markup: bool = True) -> dict:
    """One study as a CSL-JSON item; ``markup=False`` leaves the title as plain text."""
    r = study.record
    csl = {"id": r.key, "type": CSL_TYPES.get(r.entry_type, "article"),
           "title": title_markup(r.title or "", r.title_nocase) if markup else r.title}
    authors = []
    for p in r.authors:
        if not (p.given or p.particle or p.suffix):  # a group author ("World Health Organization")
            authors.append({"literal": p.family})
            continue
        name = {"family": p.family}
        for key, value in (("given", p.given), ("non-dropping-particle", p.particle), ("suffix", p.suffix)):
            if value:
                name[key] = value
        authors.append(name)
    if authors:
        csl["author"] = authors
    if r.year:
        month = month_number(r.month)
        csl["issued"] = {"date-parts": [[r.year, month] if month else [r.year]]}
    values = {"container-title": r.journal or extra_text(r, "booktitle"), "container-title-short": r.journal_abbrev,
              "publisher": extra_text(r, "publisher"), "publisher-place": extra_text(r, "address"), "volume": r.volume,
              "issue": r.issue, "page": r.pages, "DOI": r.doi, "PMID": r.pmid, "PMCID": r.pmcid, "ISSN": r.issn,
              "URL": r.url, "abstract": r.abstract, "keyword": ", ".join(study.keywords()), "note": r.note}
    csl.update((k, v) for k, v in values.items() if v)
    return csl


def entry(study: TaggedStudy) -> str:
    """One study as a CSL-JSON item, as ``json.dumps(items, indent=2)`` writes it inside the array."""
    return json.dumps(item(study), indent=2, ensure_ascii=False).replace("\n", "\n  ")  # one level in
