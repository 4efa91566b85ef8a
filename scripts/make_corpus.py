#!/usr/bin/env python3
"""A realistic synthetic corpus for benchmarks: N studies as BibTeX, RIS and MEDLINE, seeded.

    python scripts/make_corpus.py 100000 --out bench-data

writes ``corpus.bib``, ``corpus.ris`` and ``corpus.nbib`` (the same studies in each format) to the
folder. The BibTeX file has ``@string`` macros for journals, 1 to 30 authors with LaTeX accents,
particles, suffixes, group authors and "and others", titles with case-protecting braces, math and
dashes, abstracts of 100 to 300 words that name designs, conditions and outcome measures (so the rule
tagger has work), curated tags on some entries, and a few malformed ones (unclosed brace, missing
title, bad year, repeated key). The same seed gives the same files.
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass, field
from pathlib import Path

FAMILIES = [
    "Smith",
    "Cherkin",
    "Sherman",
    "Deyo",
    "Kim",
    "Lee",
    "Park",
    "Zhang",
    "Wang",
    "Li",
    "Chen",
    "Liu",
    "Nakamura",
    "Inoue",
    "Takano",
    "Vickers",
    "Linde",
    "Witt",
    "Brinkhaus",
    "Haake",
    "Manheimer",
    "Furlan",
    "Berman",
    "Hopton",
    "MacPherson",
    "Thomas",
    "Hansen",
    "Jensen",
    "Nielsen",
    "Andersson",
    "Johansson",
    "Karlsson",
    "Rossi",
    "Russo",
    "Bianchi",
    "Garcia",
    "Martinez",
    "Rodriguez",
    "Lopez",
    "Fernandez",
    "Silva",
    "Santos",
    "Oliveira",
    "Costa",
    "Kowalski",
    "Nowak",
    "Novak",
    "Horvath",
    "Kovacs",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Hoffmann",
    "Koch",
    "Richter",
    "Klein",
    "Wolf",
    "Neumann",
    "Schwarz",
    "Zimmermann",
    "Brown",
    "Jones",
    "Miller",
    "Davis",
    "Wilson",
    "Anderson",
    "Taylor",
    "Moore",
    "Jackson",
    "White",
    "Harris",
    "Clark",
    "Lewis",
    "Walker",
    "Hall",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Green",
    "Baker",
    "Adams",
    "Nelson",
    "Hill",
    "Campbell",
    "Mitchell",
    "Roberts",
    "Carter",
    "Phillips",
    "Evans",
    "Turner",
    "Torres",
    "Yamamoto",
    "Suzuki",
    "Tanaka",
    "Watanabe",
    "Ito",
    "Sato",
    "Kato",
    "Yoshida",
    "Yamada",
    "Sasaki",
    "Kimura",
    "Nguyen",
    "Tran",
    "Pham",
    "Hoang",
    "Huang",
    "Zhao",
    "Wu",
    "Zhou",
    "Xu",
    "Sun",
    "Ma",
    "Zhu",
    "Hu",
    "Guo",
    "Choi",
    "Jung",
    "Kang",
    "Cho",
    "Yoon",
    "Jang",
    "Lim",
    "Han",
    "Shin",
    "Seo",
    "Kwon",
    "Hwang",
    "Ahn",
    "Song",
]
ACCENTED_FAMILIES = [
    r"M{\"u}ller",
    r"Gonz{\'a}lez",
    r"{\AA}keson",
    r"{\AA}berg",
    r"Nu{\~n}ez",
    r"Pe{\~n}a",
    r"Sch{\"o}nfeld",
    r"Br{\"u}ggemann",
    r"G{\"o}tz",
    r"{\O}stergaard",
    r"S{\o}rensen",
    r"Fran{\c{c}}ois",
    r"Dvo{\v{r}}{\'a}k",
    r"Kr{\'o}l",
    r"W{\'o}jcik",
    r"Ceti{\'n}ski",
    r"{\"O}zdemir",
    r"Y{\i}lmaz",
    r"{\c{S}}ahin",
    r"Ben{\'\i}tez",
    r"Jim{\'e}nez",
    r"Mu{\~n}oz",
    r"Ram{\'\i}rez",
    r"Gr{\"o}nholm",
    r"H{\"a}m{\"a}l{\"a}inen",
    r"Lindstr{\"o}m",
]
PARTICLE_FAMILIES = [
    "van der Berg",
    "van den Bosch",
    "de Vries",
    "van Tulder",
    "de la Cruz",
    "da Silva",
    "dos Santos",
    "von Humboldt",
    "di Stefano",
    "le Roux",
    "van Dijk",
    "de Jong",
]
PROTECTED_FAMILIES = ["{Guerreiro da Silva}", "{Garc{\\'\\i}a M{\\'a}rquez}", "{Ab Rahman}"]
GROUPS = [
    "{World Health Organization}",
    "{GERAC Study Group}",
    "{Acupuncture Trialists' Collaboration}",
    "{Cochrane Back and Neck Group}",
]
GIVENS = [
    "Daniel C.",
    "Karen J.",
    "Andrew L.",
    "Janet",
    "Laura",
    "William E.",
    "Kristin",
    "Rene",
    "Alice",
    "Partap S.",
    "Richard A.",
    "Motohiro",
    "Tatsuya",
    "Miwa",
    "Hiroshi",
    "Megumi",
    "Andrew J.",
    "Klaus",
    "Claudia M.",
    "Benno",
    "Heinz G.",
    "Eric",
    "Andrea D.",
    "Brian M.",
    "Lisa",
    "Hugh",
    "Anna",
    "Soren",
    "Jorg",
    "Luiz",
    "Joao Bosco",
    "Mary Uchiyama",
    "Jose Antonio",
    "Nils",
    "Jonas",
    "Min-Ju",
    "Ji-Hoon",
    "Seo-Yeon",
    "Wei",
    "Xiao-Ming",
    "Yu",
    "Hong",
    "Mei",
    "Jie",
    "Takeshi",
    "Yuki",
    "Kenji",
    "Sakura",
    "Maria",
    "Jose",
    "Ana",
    "Luis",
    "Carlos",
    "Sofia",
    "Marco",
    "Giulia",
    "Pierre",
    "Marie",
    "Jean-Luc",
    "Ingrid",
    "Lars",
    r"Ren{\'e}e",
    r"J{\"o}rg",
    r"S{\o}ren",
    r"Jo{\~a}o",
    r"Fran{\c{c}}oise",
    r"Bj{\"o}rn",
    r"Zo{\"e}",
    "M.",
    "J. R.",
    "K.",
    "A. B.",
    "H.-J.",
]
SUFFIXES = ["Jr", "III", "Sr"]

JOURNALS = {
    "archim": "Archives of Internal Medicine",
    "jpain": "Journal of Pain",
    "pain": "Pain",
    "spine": "Spine",
    "aim": "Acupuncture in Medicine",
    "bmj": "BMJ",
    "cochrane": "Cochrane Database of Systematic Reviews",
    "ejpain": "European Journal of Pain",
    "clinjpain": "Clinical Journal of Pain",
    "ctm": "Complementary Therapies in Medicine",
    "jacm": "Journal of Alternative and Complementary Medicine",
    "ecam": "Evidence-Based Complementary and Alternative Medicine",
}
PLAIN_JOURNALS = [
    "Acta Obstetricia et Gynecologica Scandinavica",
    "Journal of Pain \\& Symptom Management",
    "Annals of Internal Medicine",
    "JAMA",
    "The Lancet",
    "PLoS One",
    "Medicine (Baltimore)",
]
MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

# Wording the rule tagger reads: designs, conditions and outcome measures.
DESIGNS = [
    ("randomised controlled trial", "Randomized Controlled Trial"),
    ("randomized controlled trial", "Randomized Controlled Trial"),
    ("systematic review", "Systematic Review"),
    ("meta-analysis", "Meta-Analysis"),
    ("individual patient data meta-analysis", "Meta-Analysis"),
    ("quasi-randomised controlled study", None),
    ("prospective cohort study", None),
    ("case-control study", None),
    ("case series", None),
    ("case report", "Case Reports"),
    ("sham-controlled trial", "Controlled Clinical Trial"),
    ("study protocol", "Clinical Trial Protocol"),
    ("narrative review", "Review"),
    ("experiment in healthy volunteers", None),
    ("study in rats", None),
    ("pilot study", None),
]
CONDITIONS = [
    "chronic low back pain",
    "low back pain",
    "acute low back pain",
    "neck pain",
    "knee osteoarthritis",
    "osteoarthritis",
    "migraine",
    "tension-type headache",
    "headache",
    "fibromyalgia",
    "shoulder pain",
    "low back pain in pregnancy",
    "pelvic girdle pain",
    "labour pain",
    "postoperative pain",
    "dental pain",
    "chemotherapy-induced nausea and vomiting",
    "nausea",
    "insomnia",
    "chronic pain",
    "musculoskeletal pain",
    "irritable bowel syndrome",
    "depression",
    "hot flushes",
]
MEASURES = [
    "visual analogue scale (VAS)",
    "numerical rating scale",
    "Roland-Morris Disability Questionnaire",
    "Oswestry Disability Index",
    "SF-36",
    "EQ-5D",
    "WOMAC",
    "adverse events",
    "analgesic use",
    "Beck Depression Inventory",
    "global impression of change",
    "bothersomeness",
    "McGill Pain Questionnaire",
]
INTERVENTIONS = [
    "acupuncture",
    "electroacupuncture",
    "sham acupuncture",
    "dry needling",
    "auricular acupuncture",
    "laser acupuncture",
    "acupressure",
    "moxibustion",
]
COMPARATORS = ["usual care", "sham needling", "physiotherapy", "waiting list", "placebo", "exercise", "medication"]
FILLER = (
    "the of and in to with for was were at by on from patients participants treatment group groups outcome "
    "outcomes follow-up baseline week weeks months significant significantly difference differences mean "
    "score scores compared reduction improvement clinical effect effects analysis primary secondary trial "
    "sessions needling points intensity function disability quality life after before during between among "
    "results conclusions methods background objective design setting intervention control data evidence "
    "reported assessed measured randomly allocated received standardised individualised those than more less"
).split()
TITLE_PROTECTED = ["{MRI}", "{Parkinson}", "{COVID-19}", "{GERAC}", "{NEEDLE}", "{UK}", "{Chinese}", "{T}rial"]
TITLE_MATH = [r"$\beta$-endorphin", r"$\alpha$-adrenergic", r"$p < 0.05$", r"$\mu$-opioid"]
CURATED_CONDITIONS = ["chronic-low-back-pain", "low-back-pain", "neck-pain", "osteoarthritis", "migraine", "headache"]
CURATED_DESIGNS = ["rct", "systematic-review", "meta-analysis", "cohort", "quasi-rct"]


@dataclass
class Study:
    """One synthetic study, written in each format by its own function."""

    key: str
    entry_type: str
    authors: list[tuple[str, str, str, str]]  # (particle, family, given, suffix), LaTeX as BibTeX writes it
    more_authors: bool
    title: str  # BibTeX text
    plain_title: str  # what RIS and MEDLINE carry
    journal_macro: str | None
    journal: str
    year: int
    month: str
    volume: str
    issue: str
    pages: tuple[int, int]
    doi: str
    pmid: str
    abstract: str
    keywords: list[str]
    publication_types: list[str]
    mesh: list[str] = field(default_factory=list)


def _author(rng: random.Random) -> tuple[str, str, str, str]:
    roll = rng.random()
    if roll < 0.02:
        return "", rng.choice(GROUPS), "", ""
    if roll < 0.10:
        particle, _, family = rng.choice(PARTICLE_FAMILIES).rpartition(" ")
        return particle, family, rng.choice(GIVENS), ""
    if roll < 0.13:
        return "", rng.choice(PROTECTED_FAMILIES), rng.choice(GIVENS), ""
    family = rng.choice(ACCENTED_FAMILIES) if roll < 0.30 else rng.choice(FAMILIES)
    suffix = rng.choice(SUFFIXES) if rng.random() < 0.01 else ""
    return "", family, rng.choice(GIVENS), suffix


def _sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(FILLER) for _ in range(words))


def _abstract(rng: random.Random, design: str, condition: str, measure: str, intervention: str) -> str:
    """100 to 300 words of abstract-like text naming the design, condition, intervention and measure."""
    target = rng.randint(100, 300)
    parts = [
        f"Background: {intervention} is widely used for {condition}.",
        f"Methods: In this {design}, {rng.randint(12, 1200)} patients with {condition} received {intervention} "
        f"or {rng.choice(COMPARATORS)}; the primary outcome was the {measure}.",
    ]
    count = sum(len(p.split()) for p in parts)
    while count < target - 20:
        words = min(rng.randint(8, 25), target - 20 - count)
        parts.append(_sentence(rng, words).capitalize() + ",  " + _sentence(rng, 3) + ".")
        count += words + 3
    parts.append(
        f"Conclusions: {intervention} was better than {rng.choice(COMPARATORS)} for {condition} "
        f"on the {rng.choice(MEASURES)}."
    )
    return " ".join(parts)


def make_studies(count: int, seed: int = 1) -> list[Study]:
    """``count`` studies, the same for the same seed."""
    rng = random.Random(seed)
    studies = []
    for n in range(count):
        design, publication_type = rng.choice(DESIGNS)
        condition, measure, intervention = rng.choice(CONDITIONS), rng.choice(MEASURES), rng.choice(INTERVENTIONS)
        authors = [_author(rng) for _ in range(min(30, int(rng.expovariate(1 / 6)) + 1))]
        title_bits = [f"{intervention.capitalize()} for {condition}", f"a {design}"]
        if rng.random() < 0.3:
            title_bits.insert(1, rng.choice(TITLE_PROTECTED) + " outcomes")
        if rng.random() < 0.1:
            title_bits.insert(1, rng.choice(TITLE_MATH) + " levels")
        sep = rng.choice([": ", "--", " -- "])
        title = sep.join([title_bits[0], ", ".join(title_bits[1:])])
        plain = title.replace("{", "").replace("}", "").replace("$", "").replace("\\", "").replace("--", "–")
        macro = rng.choice(list(JOURNALS)) if rng.random() < 0.7 else None
        year = rng.randint(1975, 2025)
        first_page = rng.randint(1, 2000)
        family = authors[0][1].strip("{}").split("\\")[0] or "anon"
        keywords = [intervention, rng.choice(CONDITIONS)]
        if rng.random() < 0.1:
            keywords = [
                f"condition:{rng.choice(CURATED_CONDITIONS)}",
                f"design:{rng.choice(CURATED_DESIGNS)}",
            ] + keywords
        studies.append(
            Study(
                key=f"{''.join(c for c in family.lower() if c.isalpha())}{year}n{n}",
                entry_type="article" if rng.random() < 0.95 else rng.choice(["inproceedings", "book", "phdthesis"]),
                authors=authors,
                more_authors=len(authors) >= 20 and rng.random() < 0.5,
                title=title,
                plain_title=plain,
                journal_macro=macro,
                journal=JOURNALS[macro] if macro else rng.choice(PLAIN_JOURNALS),
                year=year,
                month=rng.choice(MONTHS),
                volume=str(rng.randint(1, 400)),
                issue=str(rng.randint(1, 12)),
                pages=(first_page, first_page + rng.randint(3, 20)),
                doi=f"10.{rng.randint(1000, 9999)}/bench.{n}",
                pmid=str(10_000_000 + n),
                abstract=_abstract(rng, design, condition, measure, intervention),
                keywords=keywords,
                publication_types=["Journal Article"]
                + ([publication_type] if publication_type and rng.random() < 0.5 else []),
                mesh=["Acupuncture Therapy", "Humans"] + (["Low Back Pain"] if "back" in condition else []),
            )
        )
    return studies


def _bibtex_name(particle: str, family: str, given: str, suffix: str) -> str:
    if not given:
        return family
    last = f"{particle} {family}" if particle else family
    return ", ".join([last] + ([suffix] if suffix else []) + [given])


def bibtex_entry(s: Study) -> str:
    names = [_bibtex_name(*a) for a in s.authors] + (["others"] if s.more_authors else [])
    journal = s.journal_macro or "{" + s.journal + "}"
    return (
        f"@{s.entry_type}{{{s.key},\n"
        f"  author = {{{' and '.join(names)}}},\n"
        f"  title = {{{s.title}}},\n"
        f"  journal = {journal},\n"
        f"  year = {{{s.year}}},\n"
        f"  month = {s.month},\n"
        f"  volume = {{{s.volume}}},\n"
        f"  number = {{{s.issue}}},\n"
        f"  pages = {{{s.pages[0]}--{s.pages[1]}}},\n"
        f"  doi = {{{s.doi}}},\n"
        f"  pmid = {{{s.pmid}}},\n"
        f"  abstract = {{{s.abstract}}},\n"
        f"  keywords = {{{', '.join(s.keywords)}}},\n"
        f"  publicationtypes = {{{'; '.join(s.publication_types)}}},\n"
        "}\n"
    )


MALFORMED = [
    "@article{broken{n},\n  author = {Nobody, A.},\n  title = {An entry whose title brace is never closed,\n"
    "  year = {2001},\n",
    "@article{notitle{n},\n  author = {Nobody, B.},\n  journal = {Journal of Pain},\n  year = {2002},\n}}\n",
    "@article{badyear{n},\n  author = {Nobody, C.},\n  title = {An entry with a bad year},\n  year = {20x1},\n"
    "  doi = {10.5555/badyear.{n}},\n}}\n",
]


def write_bibtex(studies: list[Study], path: Path) -> int:
    """The BibTeX file; returns how many entries cannot load as written: one malformed entry in every
    2,000 (each kind at least once), and a repeated key at the end."""
    every = 2000
    bad_at = {n: MALFORMED[i % len(MALFORMED)] for i, n in enumerate(range(every // 2, len(studies), every))}
    for i in range(len(bad_at), len(MALFORMED)):
        bad_at[len(studies) - 1 - i] = MALFORMED[i]
    with path.open("w", encoding="utf-8") as out:
        out.write("% Synthetic benchmark corpus written by scripts/make_corpus.py\n\n")
        out.write('@preamble{"\\newcommand{\\noop}[1]{}"}\n\n')
        for macro, name in JOURNALS.items():
            out.write(f'@string{{{macro} = "{name}"}}\n')
        out.write("\n@comment{Journal macros above; entries below.}\n\n")
        for n, study in enumerate(studies):
            out.write(bibtex_entry(study) + "\n")
            if n in bad_at:
                out.write(bad_at[n].replace("{n}", str(n)) + "\n")
        repeated = bibtex_entry(studies[0]).replace("doi = {", "doi = {10.5555/repeated-key.")
        out.write(repeated.replace("pmid = {", "note = {") + "\n")
    return len(bad_at) + 1


def _ris_name(particle: str, family: str, given: str, suffix: str) -> str:
    plain = lambda text: text.replace("{", "").replace("}", "").replace("\\", "")  # noqa: E731
    last = plain(f"{particle} {family}".strip())
    return ", ".join([last] + ([plain(given)] if given else []) + ([suffix] if suffix else []))


def write_ris(studies: list[Study], path: Path) -> None:
    with path.open("w", encoding="utf-8") as out:
        for s in studies:
            lines = ["TY  - JOUR"] + [f"AU  - {_ris_name(*a)}" for a in s.authors]
            lines += (
                [
                    f"TI  - {s.plain_title}",
                    f"T2  - {s.journal.replace(chr(92), '')}",
                    f"PY  - {s.year}",
                    f"DA  - {s.year}/{MONTHS.index(s.month) + 1:02d}//",
                    f"VL  - {s.volume}",
                    f"IS  - {s.issue}",
                    f"SP  - {s.pages[0]}",
                    f"EP  - {s.pages[1]}",
                    f"DO  - {s.doi}",
                    f"AN  - {s.pmid}",
                    f"AB  - {s.abstract}",
                ]
                + [f"KW  - {k}" for k in s.keywords]
                + ["ER  - ", ""]
            )
            out.write("\n".join(lines) + "\n")


def write_medline(studies: list[Study], path: Path) -> None:
    with path.open("w", encoding="utf-8") as out:
        for s in studies:
            lines = [f"PMID- {s.pmid}", f"TI  - {s.plain_title}."]
            abstract, words = [], s.abstract.split()
            for start in range(0, len(words), 12):  # MEDLINE wraps long values on continuation lines
                abstract.append(("AB  - " if start == 0 else "      ") + " ".join(words[start : start + 12]))
            lines += abstract
            lines += [f"FAU - {_ris_name(*a)}" for a in s.authors]
            lines += [
                f"JT  - {s.journal.replace(chr(92), '')}",
                f"DP  - {s.year} {s.month.capitalize()}",
                f"VI  - {s.volume}",
                f"IP  - {s.issue}",
                f"PG  - {s.pages[0]}-{s.pages[1]}",
                f"LID - {s.doi} [doi]",
            ]
            lines += [f"PT  - {t}" for t in s.publication_types] + [f"MH  - {m}" for m in s.mesh]
            lines += [f"OT  - {k}" for k in s.keywords]
            out.write("\n".join(lines) + "\n\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("count", type=int, help="number of studies")
    parser.add_argument("--out", type=Path, default=Path("bench-data"), help="folder to write to (default bench-data)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--formats", default="bib,ris,nbib", help="comma-separated: bib, ris, nbib")
    parser.add_argument(
        "--split", type=int, default=1, help="write the BibTeX in this many files (for very large corpora)"
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    studies = make_studies(args.count, args.seed)
    formats = args.formats.split(",")
    if "bib" in formats and args.split > 1:  # the same studies, in files of corpus-01.bib, corpus-02.bib, ...
        size = -(-len(studies) // args.split)
        for part in range(args.split):
            path = args.out / f"corpus-{part + 1:02d}.bib"
            bad = write_bibtex(studies[part * size : (part + 1) * size], path)
            print(
                f"{path}: {len(studies[part * size : (part + 1) * size])} studies + {bad} malformed or repeated entries"
            )
    elif "bib" in formats:
        bad = write_bibtex(studies, args.out / "corpus.bib")
        print(f"{args.out / 'corpus.bib'}: {len(studies)} studies + {bad} malformed or repeated entries")
    if "ris" in formats:
        write_ris(studies, args.out / "corpus.ris")
        print(f"{args.out / 'corpus.ris'}: {len(studies)} studies")
    if "nbib" in formats:
        write_medline(studies, args.out / "corpus.nbib")
        print(f"{args.out / 'corpus.nbib'}: {len(studies)} studies")


if __name__ == "__main__":
    main()
