"""The field table drives readers, writers, merging and the schema: a field added as one row (the README's worked
example) is read from every format that names it, stored in its own column, and written by every writer."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from evidence import fields, merge
from evidence.formats import bibtex, csljson, medline, ris
from evidence.store import schema

PROJECT = Path(__file__).resolve().parent.parent
LANGUAGE = '    Field("language", "Language of the text", bibtex="language", ris="LA", csl="language", medline="LA"),\n'

INPUTS = {
    "a.bib": "@article{one, title = {First}, doi = {10.1/one}, language = {English}}\n",
    "b.ris": "TY  - JOUR\nTI  - Second\nDO  - 10.1/two\nLA  - German\nER  - \n",
    "c.json": '[{"id": "three", "type": "article-journal", "title": "Third", "DOI": "10.1/three", "language": "French"}]',
    "d.nbib": "PMID- 123\nTI  - Fourth.\nLA  - eng\n",
}

SCRIPT = """
import json, sqlite3, sys
from pathlib import Path
from evidence import exporting, loader, store
folder = Path(sys.argv[1])
loader.load(folder / "e.db", [folder / name for name in ("a.bib", "b.ris", "c.json", "d.nbib")])
conn = sqlite3.connect(folder / "e.db")
studies = store.read_studies(conn, [k for (k,) in conn.execute("select key from studies order by key")])
print(json.dumps({"column": dict(conn.execute("select key, language from studies")),
                  **{name: exporting.render(studies, name) for name in ("bibtex", "ris", "csl-json")}}))
"""


def test_one_row_adds_a_field_to_every_format_the_merge_and_the_schema(tmp_path):
    package = tmp_path / "code" / "evidence"
    shutil.copytree(PROJECT / "evidence", package, ignore=shutil.ignore_patterns("__pycache__"))
    table = package / "fields.py"
    text = table.read_text(encoding="utf-8")
    assert '    Field("note",' in text
    table.write_text(text.replace('    Field("note",', LANGUAGE + '    Field("note",', 1), encoding="utf-8")
    for name, content in INPUTS.items():
        (tmp_path / name).write_text(content, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "code"), "EVIDENCE_DATA": str(PROJECT / "data")}
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert sorted(out["column"].values()) == ["English", "French", "German", "eng"]
    assert "  language = {English},\n" in out["bibtex"]
    assert "LA  - German\n" in out["ris"]
    assert {item.get("language") for item in json.loads(out["csl-json"])} == {"English", "French", "German", "eng"}


def test_every_part_takes_its_fields_from_the_table():
    plain = [f.attribute for f in fields.FIELDS]
    assert list(merge.TEXT_FIELDS[2:]) == plain
    assert [name for name, in_table in ((f.attribute, f) for f in fields.FIELDS)] == plain
    assert all(f" {name} " in schema.SCHEMA for name in plain)
    assert {f.bibtex for f in fields.FIELDS} <= set(bibtex.NAMED)
    assert {field.attribute for field in ris.TABLE_TAGS.values()} <= set(plain)
    assert {field.attribute for field in medline.TABLE_TAGS.values()} <= set(plain)
    assert {field.attribute for field in csljson.VARIABLES.values()} <= set(plain)


def test_a_format_module_loads_neither_the_store_nor_the_tagger():
    """The data flows one way: formats know records and the field table, not what comes after them."""
    code = (
        "import sys, evidence.formats.ris; print(' '.join(sorted(m for m in sys.modules if m.startswith('evidence'))))"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True, timeout=60)
    loaded = run.stdout.split()
    assert "evidence.formats.ris" in loaded
    assert not [m for m in loaded if m.split(".")[1:2] in (["store"], ["tagging"], ["loader"], ["merge"], ["web"])]
