"""The tagger's fast path (evidence/fast/prefilter.py) gives the tags the plain rules give, and the parser of the
vocabularies' regular expression subset (evidence/fast/regex_subset.py) reads them so that the pre-filter never
passes over a text a pattern matches."""

import random
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DATA, FIXTURES, VOCAB
from hypothesis import given, settings
from hypothesis import strategies as st

from evidence import fast
from evidence.fast import prefilter
from evidence.fast.regex_subset import Anchor, CharSet, Group, Literal, Look, Node, Repeat, Unsupported, parse, widest
from evidence.formats import read_file
from evidence.records import StudyRecord
from evidence.tagging import tagger
from evidence.tagging.tagger import conditions_by_rule, design_by_rule, outcomes_by_rule
from evidence.tagging.vocabulary import load_vocabulary

PROJECT = Path(__file__).resolve().parent.parent
VOCABULARY = load_vocabulary(VOCAB)
PATTERNS = sorted(
    {
        p
        for kind in ("designs", "outcomes")
        for term in VOCABULARY.terms[kind].values()
        for p in term.get("patterns", []) + term.get("title_patterns", [])
    }
    | {p for term in VOCABULARY.terms["conditions"].values() for p in tagger._name_patterns(term)}
)
# Patterns of the subset the vocabularies do not use (yet), to try the parser and clues on.
SUBSET = [
    r"\bfoo[\w-]bar\b",
    r"\bfoo[-,]bar\b",
    r"a\Bcd\b",
    r"end\.$",
    r"\Aab\b",
    r"\bab\Z",
    r"(?<=pre)fix\b",
    r"(?<=\w)tab\b",
    r"\bta(?=\w)",
    r"(?<!\w)tab(?!\w)",
    r"[^a]bc\b",
    r"\b\d+-year\b",
    r"\bcolou?r\b",
    r"\sword\s",
    r"[ -/]x\b",
    r"\bcaf[ée]\b",
    r"\b(one|two)(,? (one|two)){1,2} three\b",
    r"x.y\b",
    r"\bk\w*?s\b",
    r"\Wis\W",
    r"(?P<n>ab)\b",
    r"\bab|cd\b",
    r"\b(?:ski|sky)\b",
    r"\bi[^\W\d]{2}s\b",
]
# The letters re.IGNORECASE takes for ASCII ones, and characters near the patterns' edges (dashes, accents).
FOLDS = {"i": "\u0130\u0131", "s": "\u017f", "k": "\u212a"}
ODD = ["\u0130", "\u0131", "\u017f", "\u212a", "é", "ß", "–", "\u00a0", "_", "\n"]
SEPARATORS = ["", " ", "  ", "-", ", ", ". ", "; ", ": ", "_", "s ", "(", ") ", "/", "\n"]


def record(title="", abstract=None, keywords=(), key="k"):
    return StudyRecord(
        key=key, source_file="t.bib", source_line=1, title=title, abstract=abstract, keywords=list(keywords)
    )


def rule_tags(study: StudyRecord, enabled: bool) -> tuple:
    """The design, conditions and outcome rows the rules give, by the fast path or the plain one."""
    saved = fast.ENABLED
    fast.ENABLED = enabled
    try:
        return (
            design_by_rule(study, VOCABULARY),
            conditions_by_rule(study, VOCABULARY),
            outcomes_by_rule(study, VOCABULARY),
        )
    finally:
        fast.ENABLED = saved


def assert_both_ways_alike(studies: list[StudyRecord]) -> int:
    """Assert the fast and plain paths tag every study alike; the number of tags found."""
    found = 0
    for study in studies:
        fast_tags = rule_tags(study, True)
        assert fast_tags == rule_tags(study, False), study
        found += (fast_tags[0] is not None) + len(fast_tags[1]) + len(fast_tags[2])
    return found


def sample(node: Node, rng: random.Random) -> str:
    """Text that goes one way through a parsed pattern (with what positive lookarounds look for), in random case
    and folding."""
    if isinstance(node, Literal):
        char = rng.choice([node.char, node.char.upper(), node.char.lower()])
        return rng.choice(FOLDS[char.lower()]) if char.lower() in FOLDS and rng.random() < 0.2 else char
    if isinstance(node, CharSet):
        if node.negated:
            return rng.choice("xZ9é ")
        choices = [chr(rng.randint(low, high)) for low, high in node.ranges]
        choices += [
            rng.choice({"d": "07", "w": "aQ_é", "s": " \t", "D": "a-", "W": "- ,", "S": "a-"}[name])
            for name in node.classes
        ]
        return rng.choice(choices)
    if isinstance(node, Group):
        return "".join(sample(item, rng) for item in rng.choice(node.alternatives))
    if isinstance(node, Look):
        return "" if node.negative else sample(node.body, rng)
    if isinstance(node, Repeat):
        most = node.least + 3 if node.most is None else min(node.most, node.least + 3)
        return "".join(sample(node.body, rng) for _ in range(rng.randint(node.least, most)))
    return ""


def generated_texts(count: int, seed: int) -> list[str]:
    """Texts made of samples of the patterns (of the vocabulary and ``SUBSET``), odd characters and separators:
    ``count`` of them, then two samples of each pattern alone, two with a random part before or after, and one
    the pattern finds (a sample may not be: a \\b beside a sampled letter)."""
    rng = random.Random(seed)
    sources = PATTERNS + SUBSET
    trees = [parse(p) for p in sources]
    parts = [lambda: sample(rng.choice(trees), rng), lambda: rng.choice(ODD), lambda: rng.choice(["a", "non", "quasi"])]
    texts = [
        "".join(rng.choice(parts)() + rng.choice(SEPARATORS) for _ in range(rng.randint(1, 6))) for _ in range(count)
    ]
    for tree in trees:
        texts += [sample(tree, rng) for _ in range(2)]
        texts += [rng.choice(parts)() + rng.choice(SEPARATORS) + sample(tree, rng), sample(tree, rng) + rng.choice(ODD)]
    for source, tree in zip(sources, trees):
        regex = prefilter.compiled(source).regex
        texts.append(next((s for s in (sample(tree, rng) for _ in range(200)) if regex.search(s)), ""))
    return texts


def corpus_records() -> list[StudyRecord]:
    paths = [*sorted(DATA.glob("*.bib")), FIXTURES / "pubmed_labelled.nbib"]
    return [r for path in paths for r in read_file(path, path.name).records]


def test_the_fast_path_tags_the_bundled_corpus_and_the_labelled_pubmed_set_as_the_plain_rules_do():
    studies = corpus_records()
    assert len(studies) == 72
    assert assert_both_ways_alike(studies) > 60


def test_the_fast_path_tags_a_generated_corpus_as_the_plain_rules_do(tmp_path):
    subprocess.run(
        [
            sys.executable,
            str(PROJECT / "scripts" / "make_corpus.py"),
            "300",
            "--out",
            str(tmp_path),
            "--formats",
            "bib",
        ],
        check=True,
        capture_output=True,
    )
    studies = read_file(tmp_path / "corpus.bib", "corpus.bib").records
    assert len(studies) > 250
    assert assert_both_ways_alike(studies) > 1000


def test_the_fast_path_tags_texts_made_of_the_patterns_as_the_plain_rules_do():
    texts = generated_texts(1200, seed=11)
    studies = [record(title, abstract, [keyword]) for title, abstract, keyword in zip(texts, texts[1:], texts[2:])]
    assert assert_both_ways_alike(studies) > 2000


def test_every_pattern_finds_by_its_clues_what_it_finds_searched_in_full():
    texts = generated_texts(1500, seed=5) + [t for r in corpus_records() for t in (r.title or "", r.abstract or "")]
    unmatched = []
    for source in PATTERNS + SUBSET:
        pattern = prefilter.compiled(source)
        found = 0
        for text in texts:
            match = pattern.regex.search(text)
            assert pattern.first(prefilter.prepared(text)) == (match and match.group(0)), (source, text)
            found += match is not None
        if not found:
            unmatched.append(source)
    assert unmatched == []


def match_starts(regex: re.Pattern, text: str) -> list[int]:
    """Every place in ``text`` where a match of ``regex`` begins (overlapping matches too)."""
    starts, match = [], regex.search(text)
    while match:
        starts.append(match.start())
        match = regex.search(text, match.start() + 1) if match.start() < len(text) else None
    return starts


def test_every_match_begins_where_the_clues_allow():
    """For each pattern, each match ``re`` finds in a text begins no earlier than where some route whose clues
    the text holds lets a match begin; the matched text, taken alone, holds a route's clues from its start."""
    texts = generated_texts(1500, seed=9)
    matched = 0
    for source in PATTERNS + SUBSET:
        pattern = prefilter.compiled(source)
        clues = prefilter.Clues([pattern])
        for text in texts:
            starts = match_starts(pattern.regex, text)
            if not starts:
                continue
            matched += len(starts)
            ready = prefilter.prepared(text, clues.wanted)
            earliest = [
                at
                for route in clues.candidates(ready).get(pattern, [])
                if (at := route.earliest_start(ready)) is not None
            ]
            assert earliest and min(earliest) <= starts[0], (source, text)
            for start in starts:
                alone = prefilter.prepared(pattern.regex.match(text, start).group(0))
                assert 0 in [route.earliest_start(alone) for route in pattern.routes], (source, text, start)
    assert matched > 2000


def test_the_parser_reads_every_vocabulary_pattern():
    assert len(PATTERNS) > 100
    for source in PATTERNS + SUBSET:
        assert isinstance(parse(source), Group), source
        assert all(route.words or route.pieces for route in prefilter.compiled(source).routes), source


W = CharSet(False, (), frozenset("w"))


@pytest.mark.parametrize(
    "pattern, tree",
    [
        (r"ab", Group(((Literal("a"), Literal("b")),))),
        (r"a|", Group(((Literal("a"),), ()))),
        (r"\bx\.\ \-", Group(((Anchor("b"), Literal("x"), Literal("."), Literal(" "), Literal("-")),))),
        (r"[^]a-c\d]", Group(((CharSet(True, ((93, 93), (97, 99)), frozenset("d")),),))),
        (
            r"[-\w][s][\b\n-]",
            Group(
                (
                    (
                        CharSet(False, ((45, 45),), frozenset("w")),
                        Literal("s"),
                        CharSet(False, ((8, 8), (10, 10), (45, 45)), frozenset()),
                    ),
                )
            ),
        ),
        (
            r"(?:a|bc)?(x)+?",
            Group(
                (
                    (
                        Repeat(0, 1, Group(((Literal("a"),), (Literal("b"), Literal("c"))))),
                        Repeat(1, None, Group(((Literal("x"),),))),
                    ),
                )
            ),
        ),
        (
            r"(?P<n>y){2}z{1,}\d{0,8}?.",
            Group(
                (
                    (
                        Repeat(2, 2, Group(((Literal("y"),),))),
                        Repeat(1, None, Literal("z")),
                        Repeat(0, 8, CharSet(False, (), frozenset("d"))),
                        CharSet(True, ((10, 10),), frozenset()),
                    ),
                )
            ),
        ),
        (
            r"^(?<![-\w])(?!\w)(?<=a)(?=b)$",
            Group(
                (
                    (
                        Anchor("^"),
                        Look(True, True, Group(((CharSet(False, ((45, 45),), frozenset("w")),),))),
                        Look(False, True, Group(((W,),))),
                        Look(True, False, Group(((Literal("a"),),))),
                        Look(False, False, Group(((Literal("b"),),))),
                        Anchor("$"),
                    ),
                )
            ),
        ),
    ],
)
def test_the_parser_gives_the_tree_of_the_subset(pattern, tree):
    assert parse(pattern) == tree
    re.compile(pattern)


@pytest.mark.parametrize(
    "pattern",
    [
        "(?i)ab",
        "(?x) a b",
        "(a)\\1",
        "a*+",
        "a++",
        "(?>ab)",
        "(?P=n)",
        "(?#note)a",
        "\\x41",
        "\\u0041",
        "\\N{DASH}",
        "a{,3}",
        "a{x}",
        "{",
        "a{",
        "x{2",
        "(?(1)a|b)",
        "a)",
        "(ab",
        "[ab",
        "[z-a]",
        "*a",
        "\\",
    ],
)
def test_syntax_outside_the_subset_is_not_read_and_its_pattern_searched_in_every_text(pattern):
    with pytest.raises(Unsupported):
        parse(pattern)
    try:
        regex = re.compile(pattern, re.IGNORECASE)
    except re.error:
        return
    compiled = prefilter.Pattern(pattern)
    assert compiled.routes == [prefilter.Route(frozenset(), ())] and compiled.literal is None
    clues = prefilter.Clues([compiled])
    for text in ["", "AB", "a b", "xaay", "A{,3}", "aaab", "A", "-"]:
        match = regex.search(text)
        ready = prefilter.prepared(text, clues.wanted)
        assert clues.candidates(ready) == {compiled: compiled.routes}
        assert compiled.first(ready) == (match and match.group(0)), (pattern, text)


@pytest.mark.parametrize(
    "pattern, most",
    [
        ("ab?c{2,3}", 5),
        ("a+", None),
        ("(?=xyz)", 0),
        ("(ab|c)*", None),
        ("(?:\\b)*", 0),
        ("x|[yz]{4}", 4),
        ("(?<!abc)d", 1),
        ("", 0),
    ],
)
def test_the_widest_a_pattern_can_take(pattern, most):
    assert widest(parse(pattern)) == most


@pytest.mark.parametrize(
    "pattern, routes",
    [
        (r"(?<!\w)tab(?!\w)", [({b"tab"}, (("tab", 0),))]),
        (r"\bcase[- ]control", [({b"case"}, (("case", 0), ("control", 5)))]),
        (
            r"\bcohort stud(y|ies)\b",
            [({b"cohort", b"study"}, (("cohort study", 0),)), ({b"cohort", b"studies"}, (("cohort studies", 0),))],
        ),
        (r"^Protocol\b", [({b"protocol"}, (("protocol", 0),))]),
        (
            r"\bseries of \d+ (patients|cases)\b",
            [
                ({b"series", b"of", b"patients"}, (("series of ", 0), (" patients", None))),
                ({b"series", b"of", b"cases"}, (("series of ", 0), (" cases", None))),
            ],
        ),
        (r"tab\b(?=x)|(?<=\w)tab\b", [(set(), (("tab", 0),))]),
    ],
)
def test_the_clues_a_pattern_leaves(pattern, routes):
    """The words (bounded on both sides by the pattern) and the pieces, each with the most characters a match
    holds before it, of each route; of routes that give the same clues, one."""
    assert prefilter.compiled(pattern).routes == [prefilter.Route(frozenset(words), pieces) for words, pieces in routes]


def test_the_switch_is_read_at_call_time(monkeypatch):
    study = record("Acupuncture for chronic low back pain: a randomised trial", "Pain on a visual analogue scale.")
    calls = []
    searched = prefilter.RuleSet.matches
    monkeypatch.setattr(prefilter.RuleSet, "matches", lambda *args: calls.append(args) or searched(*args))
    monkeypatch.setattr(fast, "ENABLED", False)
    plain = rule_tags(study, False)
    assert calls == [] and plain[0].value == "rct"
    # designs: front, abstract; conditions: front, abstract, its aim sentences; outcomes
    assert rule_tags(study, True) == plain and len(calls) == 6


WORDS = sorted(
    {
        word
        for source in PATTERNS
        for route in prefilter.compiled(source).routes
        for piece, _ in route.pieces
        for word in [piece, *re.findall(r"\w+", piece)]
    }
)


def cased(text: str, how: str) -> str:
    """The text upper-cased, title-cased, or with letters IGNORECASE folds to ASCII ones in place of those."""
    if how == "fold":
        return "".join(FOLDS[c][0] if c in FOLDS else c for c in text)
    return {"upper": text.upper(), "title": text.title(), "as is": text}[how]


pieces = st.builds(cased, st.sampled_from(WORDS + ODD), st.sampled_from(["as is", "upper", "title", "fold"]))
texts = st.lists(st.tuples(pieces, st.sampled_from(SEPARATORS)), max_size=10).map(
    lambda parts: "".join(piece + separator for piece, separator in parts)
)


@settings(derandomize=True, max_examples=400, deadline=None)
@given(title=texts, keywords=st.lists(texts, max_size=3), abstract=texts)
def test_the_fast_path_tags_any_text_of_the_vocabulary_words_as_the_plain_rules_do(title, keywords, abstract):
    study = record(title, abstract, keywords)
    assert rule_tags(study, True) == rule_tags(study, False)
