"""Inputs whose reading used to take time in the square of their size: many keys made from one stem, and a
RIS value of many continuation lines. Checked without timing: by counting the work, or by reading a size that
the old way would take minutes over."""

from evidence import records
from evidence.formats import read_file
from evidence.formats.ris import read as read_ris


def test_keys_made_from_one_stem_are_found_in_linear_work(tmp_path, monkeypatch):
    count = 2000
    path = tmp_path / "same.nbib"
    path.write_text(
        "".join(f"PMID- {i + 1}\nTI  - Study {i}.\nFAU - Smith, John\nDP  - 2010\n\n" for i in range(count))
    )
    calls = []
    real = records._base26
    monkeypatch.setattr(records, "_base26", lambda n: calls.append(n) or real(n))
    result = read_file(path, path.name)
    suffixes = ["".join(chr(ord("a") + d) for d in real(n)) for n in range(count)]
    assert [r.key for r in result.records] == [f"smith2010{s}" for s in suffixes]  # the keys made as ever
    assert suffixes[:3] == ["", "a", "b"] and suffixes[26:28] == ["z", "aa"]
    assert len(calls) <= 2 * count  # the old way tried every earlier suffix again: two million calls


def test_a_ris_value_of_many_continuation_lines_is_read_whole():
    lines = 300_000  # the old way joined them one by one: minutes
    text = "TY  - JOUR\nTI  - Title\n" + "".join(f"more {i}\n" for i in range(lines)) + "DO  - 10.1000/x\nER  - \n"
    [record] = read_ris(text, "long.ris").records
    assert record.title == "Title " + " ".join(f"more {i}" for i in range(lines)) and record.doi == "10.1000/x"
