"""The controlled vocabularies in data/vocabularies/: conditions, designs, outcomes, comparators."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import VocabularyError
from ..yamlsource import YamlProblem, load_with_lines

KINDS = ("conditions", "designs", "outcomes", "comparators")
# "unknown": the result was not read; rule-made outcome rows, which only know that a measure was named.
# "inconclusive": the authors found the evidence too sparse to say.
DIRECTIONS = ("benefit", "no-difference", "harm", "mixed", "inconclusive", "not-applicable", "unknown")
# What a rule-made outcome row was compared with, and which way it went: not read.
RULE_COMPARATOR = "unspecified"  # a term of comparators.yaml
RULE_DIRECTION = "unknown"
# The lists each kind's terms may give the rule tagger; missing ones are empty.
RULE_FIELDS = {
    "conditions": ("synonyms", "mesh_headings"),
    "designs": ("publication_types", "mesh_headings", "title_patterns", "patterns", "yields_to"),
    "outcomes": ("patterns",),
    "comparators": (),
}


@dataclass
class Vocabulary:
    """Terms by kind (each a dict of columns keyed by id) and the condition hierarchy."""

    terms: dict[str, dict[str, dict]] = field(default_factory=dict)

    def known(self, kind: str, term: str) -> bool:
        return term in self.terms[kind]

    def suggest(self, kind: str, term: str) -> list[str]:
        """Nearest known ids (by spelling, then by label) for an unknown term."""
        ids = list(self.terms[kind])
        near = difflib.get_close_matches(term, ids, n=3, cutoff=0.5)
        by_label = {t["label"].lower(): i for i, t in self.terms[kind].items()}
        near += [
            by_label[m] for m in difflib.get_close_matches(term.lower().replace("-", " "), by_label, n=3, cutoff=0.5)
        ]
        return list(dict.fromkeys(near))[:3]

    def unknown_message(self, kind: str, term: str) -> str:
        singular = kind[:-1]
        hint = self.suggest(kind, term)
        nearest = f"; nearest known: {', '.join(hint)}" if hint else ""
        return f"unknown {singular} '{term}' (not in data/vocabularies/{kind}.yaml){nearest}"

    def ancestors(self, condition: str) -> dict[str, int]:
        """Every condition above ``condition`` (and itself at depth 0), with its depth."""
        depths = {condition: 0}
        frontier = [condition]
        while frontier:
            nxt = []
            for term in frontier:
                for parent in self.terms["conditions"][term]["parents"]:
                    if parent not in depths:
                        depths[parent] = depths[term] + 1
                        nxt.append(parent)
            frontier = nxt
        return depths

    def tree_path(self, condition: str) -> str:
        """Path through first parents from the root, e.g. ``pain/back-pain/low-back-pain``."""
        path, term = [], condition
        while term:
            path.append(term)
            parents = self.terms["conditions"][term]["parents"]
            term = parents[0] if parents else None
        return "/".join(reversed(path))


def load_vocabulary(directory: Path) -> Vocabulary:
    """Read every kind's YAML file; VocabularyError if a file is missing or inconsistent."""
    vocab = Vocabulary()
    for kind in KINDS:
        path = directory / f"{kind}.yaml"
        if not path.exists():
            raise VocabularyError(f"{path}: vocabulary file is missing")
        try:
            items = load_with_lines(path) or []
        except YamlProblem as exc:
            raise VocabularyError(f"{path}:{exc.line}: {exc}") from exc
        terms: dict[str, dict] = {}
        for rank, item in enumerate(items, start=1):
            line = item.pop("__line__")
            if not item.get("id") or not item.get("label"):
                raise VocabularyError(f"{path}:{line}: every term needs an id and a label")
            if item["id"] in terms:
                raise VocabularyError(f"{path}:{line}: duplicate id '{item['id']}'")
            for name in RULE_FIELDS[kind]:
                item.setdefault(name, [])
            if kind == "designs" and not isinstance(item.get("precedence"), int):
                raise VocabularyError(
                    f"{path}:{line}: design '{item['id']}' needs a whole-number precedence "
                    "(which design the rules prefer when several match)"
                )
            item["rank"] = rank
            terms[item["id"]] = item
        vocab.terms[kind] = terms
    _check_hierarchy(vocab, directory / "conditions.yaml")
    for design in vocab.terms["designs"].values():
        for other in design["yields_to"]:
            if other not in vocab.terms["designs"]:
                raise VocabularyError(
                    f"{directory / 'designs.yaml'}: '{design['id']}' yields to unknown design '{other}'"
                )
    if RULE_COMPARATOR not in vocab.terms["comparators"]:
        raise VocabularyError(
            f"{directory / 'comparators.yaml'}: needs the term '{RULE_COMPARATOR}' "
            "(the comparator of rule-made outcome rows)"
        )
    return vocab


def _check_hierarchy(vocab: Vocabulary, path: Path) -> None:
    conditions = vocab.terms["conditions"]
    for term in conditions.values():
        term.setdefault("parents", [])
        for parent in term["parents"]:
            if parent not in conditions:
                raise VocabularyError(f"{path}: '{term['id']}' has unknown parent '{parent}'")
    for term_id, term in conditions.items():
        if any(term_id in vocab.ancestors(parent) for parent in term["parents"]):
            raise VocabularyError(f"{path}: '{term_id}' is its own ancestor (parent cycle)")
