"""RIS writer (rispy): one reference per study, in the tags Zotero and EndNote import."""

from __future__ import annotations

import rispy

from ..tagger import TaggedStudy
from ..readers.bibtex import extra_text
from ..records import month_number

# BibTeX entry type -> RIS reference type.
RIS_TYPES = {
    "article": "JOUR", "book": "BOOK", "inbook": "CHAP", "incollection": "CHAP", "inproceedings": "CPAPER",
    "conference": "CPAPER", "phdthesis": "THES", "mastersthesis": "THES", "thesis": "THES",
    "techreport": "RPRT", "report": "RPRT", "online": "ELEC", "unpublished": "UNPB", "misc": "GEN",
}


class _Writer(rispy.RisWriter):
    """rispy's writer without the "1." counter line it puts before each reference."""

    def set_header(self, count: int) -> str:
        return ""


def reference(study: TaggedStudy) -> dict:
    """One study as a rispy reference (keys are rispy's names for RIS tags)."""
    r = study.record
    ref = {"type_of_reference": RIS_TYPES.get(r.entry_type, "GEN"), "id": r.key, "title": r.title}
    ref["authors"] = [", ".join(part for part in (" ".join(filter(None, (p.particle, p.family))), p.given, p.suffix)
                                if part) for p in r.authors]
    if r.year:
        ref["year"] = str(r.year)
        month = month_number(r.month)
        if month:
            ref["date"] = f"{r.year}/{month:02d}//"
    first, _, last = (r.pages or "").partition("-")
    values = {"secondary_title": r.journal or extra_text(r, "booktitle"), "alternate_title1": r.journal_abbrev,
              "publisher": extra_text(r, "publisher"), "place_published": extra_text(r, "address"), "volume": r.volume,
              "number": r.issue, "start_page": first, "end_page": last, "doi": r.doi, "accession_number": r.pmid,
              "issn": r.issn, "abstract": r.abstract,
              "urls": [r.url] if r.url else None,
              "keywords": study.keywords(),
              "notes": [n for n in (r.note, f"PMCID: {r.pmcid}" if r.pmcid else None) if n] or None}
    ref.update((k, v) for k, v in values.items() if v)
    return {k: [_one_line(x) for x in v] if isinstance(v, list) else _one_line(v) for k, v in ref.items()}


def _one_line(value: str) -> str:
    """RIS values cannot span lines: a line break would start a bogus tag or be dropped."""
    return " ".join(value.split())


_WRITER = _Writer()


def entry(study: TaggedStudy) -> str:
    """One study as an RIS reference, as ``rispy.dumps`` writes it."""
    return _WRITER.formats([reference(study)])
