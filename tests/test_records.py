import pytest

from evidence.records import (
    Person,
    StudyRecord,
    TakenKeys,
    make_key,
    normalise_doi,
    normalise_pages,
    normalise_pmid,
    normalise_year,
)


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("https://doi.org/10.1097/AJP.0b013e31824909f9", "10.1097/ajp.0b013e31824909f9"),
        ("doi: 10.1136/aim.24.3.103", "10.1136/aim.24.3.103"),
        ("http://dx.doi.org/10.1001/ARCHINTERNMED.2009.65", "10.1001/archinternmed.2009.65"),
        ("", None),
    ],
)
def test_doi_is_lower_case_without_prefix(raw, expected):
    assert normalise_doi(raw) == expected


def test_doi_that_is_not_a_doi_is_rejected():
    with pytest.raises(ValueError, match="not a DOI"):
        normalise_doi("archinternmed.2009.65")


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("246-50", "246-250"),  # PubMed style, end page shortened
        ("858--866", "858-866"),  # BibTeX en dash
        ("1215–23", "1215-1223"),  # Unicode en dash
        ("985-9", "985-989"),
        ("e1234-e1240", "e1234-e1240"),
        ("103", "103"),
    ],
)
def test_pages_are_written_in_full(raw, expected):
    assert normalise_pages(raw) == expected


def test_year_and_pmid():
    assert normalise_year(" 2004 ") == 2004
    assert normalise_pmid("PMID: 14995919") == "14995919"
    with pytest.raises(ValueError):
        normalise_year("in press")
    with pytest.raises(ValueError):
        normalise_pmid("14995919x")


def test_person_display_uses_particle_and_initials():
    assert Person("Berg", "Anna Maria", "van der").display == "van der Berg AM"
    assert Person("Kim", "Me-riong").display == "Kim MR"
    assert Person("Acupuncture Trialists' Collaboration").display == "Acupuncture Trialists' Collaboration"


def test_made_keys_follow_the_corpus_style_and_never_clash():
    record = StudyRecord(
        key="", source_file="f", source_line=1, title="A trial", authors=[Person("Åkeson", "J")], year=2004
    )
    taken = TakenKeys({"cherkin2009"})
    keys = [make_key(record, taken) for _ in range(28)]
    assert keys[:3] == ["akeson2004", "akeson2004a", "akeson2004b"] and keys[27] == "akeson2004aa"
    assert len(set(keys)) == 28 and set(keys) <= taken
    assert (
        make_key(StudyRecord(key="", source_file="f", source_line=1, title="Übersicht der Nadeln"), taken)
        == "ubersichtnd"
    )
