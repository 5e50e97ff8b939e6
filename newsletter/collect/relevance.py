"""Relevance: a weighted, multilingual vocabulary of the newsletter's field, and a score per item.

The score adds, for every vocabulary entry that matches, its weight times the
factor of the best field it matched in (title 1.5, summary 1.0, article text
0.6), plus a little for each further field it appears in. Negative entries
(drug, firearms and wildlife trafficking) pull down items that share words
with the field but not its subject. `feeds.yaml` can add terms, globally or
per source; they are matched as literal words.

A specialised source (`relevance: all`) adds a prior, so that its items rank
above marginal hits from broad sources.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from newsletter.models import ItemKind

TITLE, SUMMARY, ARTICLE = 1.5, 1.0, 0.6
FIELD_BONUS = 0.5
SPECIALISED_PRIOR = 2.0


@dataclass(frozen=True)
class Term:
    """One vocabulary entry: a label shown to the editor, a pattern, and a weight.

    `needles` are lower-case literal texts one of which every match of
    `pattern` contains (a prefix of each alternative); empty when some
    alternative has no literal prefix. A field that holds none of them cannot
    match, so the pattern is not run on it (`score_text`).
    """

    label: str
    pattern: re.Pattern
    weight: float
    needles: tuple[str, ...] = ()


# Characters that end a literal prefix of a pattern; a quantifier makes the character before it optional.
_META = set("\\()[]{}|.^$?*+")
_QUANTIFIERS = set("?*+{")


def _literal_prefix(pattern: str) -> str:
    """The literal text every match of `pattern` (one alternative, no lookbehind) starts with, lower-case."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern) and not pattern[i + 1].isalnum():
            char, step = pattern[i + 1], 2  # an escaped literal, as re.escape writes them
        elif char in _META:
            break
        else:
            step = 1
        if i + step < len(pattern) and pattern[i + step] in _QUANTIFIERS:
            break  # the character is optional or repeated: the prefix ends before it
        out.append(char)
        i += step
    return fold("".join(out))


# re.IGNORECASE compares simple lower-case mappings, and also matches ASCII 's' with the long s and
# 'i' with the dotless i (Python's `re` documentation); str.lower() uses the full mapping, which turns
# 'İ' into two characters. Those three are mapped first, so a needle is found wherever re would match.
_FOLD = str.maketrans({"ſ": "s", "ı": "i", "İ": "i"})


def fold(text: str) -> str:
    """`text` lower-cased so that a literal lower-case needle found by `in` is found as re.I would find it."""
    return text.translate(_FOLD).lower()


def _t(label: str, weight: float, *patterns: str) -> Term:
    # Patterns start at a word boundary and allow any ending, which covers
    # inflection ("menneskehandelen", "trafficked") and compounds that start with
    # the stem ("menneskehandelsfeltet"); a leading `~` also allows a prefix
    # ("antimenneskehandel", "a-krimsenteret").
    parts, needles = [], []
    for pattern in patterns:
        bare = pattern.removeprefix("~")
        parts.append(bare if pattern.startswith("~") else r"(?<![\w-])" + bare)
        needles.append(_literal_prefix(bare))
    # One alternative without a literal prefix means any text may match: no needles, always searched.
    usable = tuple(dict.fromkeys(needles)) if all(needles) else ()
    return Term(label, re.compile("|".join(f"(?:{p})" for p in parts), re.I), weight, usable)


VOCABULARY: tuple[Term, ...] = (
    # Trafficking in human beings, in every language the sources write.
    _t(
        "menneskehandel",
        5,
        r"~menneskehandel",
        r"~menneskehandlere?",
        r"~människohandel",
        r"~ihmiskaup",
        r"~mansal",
        r"~menneskjehandel",
    ),
    _t(
        "human trafficking",
        5,
        r"human trafficking",
        r"trafficking in (?:human beings|persons|women|children)",
        r"trafficking of (?:human beings|persons|women|children|migrants)",
        r"anti-?trafficking",
        r"counter-?trafficking",
        r"victims? of trafficking",
        r"trafficked (?:persons?|people|women|children|victims?)",
        r"traite des (?:êtres humains|personnes)",
        r"menschenhandel",
    ),
    _t("THB", 4, r"THB\b", r"CTHB\b", r"TIP report"),
    _t("GRETA", 5, r"GRETA\b", r"group of experts on action against trafficking"),
    _t("Palermo-protokollen", 5, r"palermo[- ]?protok", r"palermo protocol"),
    _t("trafficking", 2, r"traffick", r"trafficking"),
    _t("menneskesmugling", 1, r"menneskesmugl", r"människosmuggl", r"migrant smuggling", r"smuggling of migrants"),
    # Forced labour, slavery, servitude.
    _t(
        "tvangsarbeid",
        4,
        r"~tvangsarbeid",
        r"~tvångsarbete",
        r"~tvangsarbejde",
        r"~pakkotyö",
        r"forced labou?r",
        r"compulsory labou?r",
    ),
    _t(
        "slaveri",
        4,
        r"modern slavery",
        r"moderne slaveri",
        r"slavery",
        r"~slaveri",
        r"debt bondage",
        r"~gjeldsslaveri",
        r"servitude",
        r"~orjuu",
    ),
    _t("tvangstjenester", 4, r"~tvangstjenest", r"forced criminality", r"forced begging", r"tvangstigging"),
    # Exploitation.
    _t(
        "arbeidsutnyttelse",
        3,
        r"labou?r exploitation",
        r"~arbeidsutnytt",
        r"exploitation of (?:migrant )?workers",
        r"utnytt\w* av (?:utenlandske )?arbeidstakere",
        r"grov utnytt",
        r"exploited workers",
        r"~arbetskraftsexploatering",
        r"exploatering av arbetskraft",
        r"~arbejdsudnyttelse",
        r"työperäi\w* hyväksikäyt",
    ),
    _t(
        "seksuell utnyttelse",
        3,
        r"seksuell utnytt",
        r"sexual exploitation",
        r"sexuell exploatering",
        r"seksuel udnyttelse",
        r"seksuaalinen hyväksikäyt",
        r"commercial sexual",
    ),
    _t(
        "utnyttelse til kriminalitet",
        3,
        r"utnytt\w* til kriminalitet",
        r"criminal exploitation",
        r"exploited for crim",
        r"utnyttet til kriminalitet",
    ),
    _t(
        "utnyttelse",
        1.5,
        r"~utnytt(?:else|ing|et|ede|es)",
        r"exploitation",
        r"~exploater",
        r"~udnyttelse",
        r"~hyväksikäyt",
    ),
    _t(
        "arbeidslivskriminalitet",
        1.5,
        r"~arbeidslivskrim",
        r"a-krim",
        r"akrim",
        r"~arbetslivskrim",
        r"work-related crime",
        r"labou?r market crime",
        r"~arbejdsmarkedskrim",
    ),
    _t("sosial dumping", 0.5, r"sosial dumping", r"social dumping", r"social dumpning"),
    _t("prostitusjon", 1.5, r"~prostitu", r"sexkjøp", r"sexköp", r"sex work", r"sexarbeid"),
    _t("tvangsekteskap", 2, r"~tvangsekteskap", r"~tvångsäktenskap", r"~tvangsægteskab", r"forced marriage"),
    _t("barnearbeid", 2, r"~barnearbeid", r"child labou?r", r"~barnarbete", r"~børnearbejde", r"lapsityö"),
    _t(
        "ofre",
        2,
        r"identifi\w* (?:av|of) (?:mulige |potential |presumed )?(?:ofre|victims)",
        r"victim identification",
        r"antatte ofre",
        r"mulige ofre",
        r"presumed victims",
        r"potential victims",
        r"non-punishment",
        r"refleksjonsperiode",
        r"reflection period",
        r"referral mechanism",
        r"henvisningsmekanism",
        r"~bistandstiltak",
    ),
    _t(
        "sårbare migranter",
        1,
        r"migrant workers",
        r"arbeidsinnvandrere",
        r"utenlandske arbeidstakere",
        r"enslige mindreårige",
        r"unaccompanied (?:minors|children)",
        r"fleeing (?:the )?war",
        r"fordrevne",
    ),
    _t(
        "koordineringsenhet",
        2,
        r"national (?:anti-trafficking )?co-?ordinators?",
        r"national rapporteurs?",
        r"koordineringsenhet",
        r"anti-trafficking co-?ordinator",
    ),
    # Subjects that borrow the word "trafficking" but are not the newsletter's.
    _t(
        "-narkotika",
        -3,
        r"drug trafficking",
        r"drugs? trafficking",
        r"narcotics",
        r"~narkotika",
        r"cocaine",
        r"~kokain",
        r"heroin",
    ),
    _t(
        "-våpen",
        -3,
        r"firearms",
        r"arms trafficking",
        r"weapons trafficking",
        r"~våpenregelverk",
        r"ulovlige (?:skyte)?våpen",
    ),
    _t("-dyreliv", -3, r"wildlife", r"timber trafficking", r"cultural goods", r"counterfeit"),
)


def vocabulary_fingerprint(extra: dict[str, float]) -> str:
    """A short hash of the vocabulary and the configured keywords: items scored with another are rescored."""
    text = "|".join(f"{t.label}:{t.weight}:{t.pattern.pattern}" for t in VOCABULARY)
    text += "|" + "|".join(f"{k}:{v}" for k, v in sorted(extra.items()))
    text += f"|{TITLE}:{SUMMARY}:{ARTICLE}:{FIELD_BONUS}:{SPECIALISED_PRIOR}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def keyword_terms(keywords: dict[str, float]) -> tuple[Term, ...]:
    """Terms from `feeds.yaml` keywords: literal words, matched at a word start."""
    return tuple(_t(word, weight, re.escape(word)) for word, weight in keywords.items())


@dataclass(frozen=True)
class Score:
    """A relevance score and the labels of the terms behind it, strongest first."""

    value: float
    terms: tuple[str, ...]


def score_text(
    title: str, summary: str = "", article: str = "", extra: tuple[Term, ...] = (), specialised: bool = False
) -> Score:
    """Score an item from its title, summary and (optionally) its article page's text."""
    fields = [
        (text, fold(text), factor) for text, factor in ((title, TITLE), (summary, SUMMARY), (article, ARTICLE)) if text
    ]
    total, hits = 0.0, []
    for term in (*VOCABULARY, *extra):
        # Most fields hold none of a term's needles: a substring test (C speed) saves running the
        # regex, whose lookbehind at every position is what made scoring slow.
        factors = [
            factor
            for text, folded, factor in fields
            if (not term.needles or any(needle in folded for needle in term.needles)) and term.pattern.search(text)
        ]
        if not factors:
            continue
        if term.weight < 0:
            contribution = term.weight  # once, wherever it appears
        else:
            contribution = term.weight * max(factors) + FIELD_BONUS * (len(factors) - 1)
        total += contribution
        hits.append((contribution, term.label))
    if specialised:
        total += SPECIALISED_PRIOR
    hits.sort(key=lambda hit: -hit[0])
    return Score(round(max(total, 0.0), 2), tuple(label for _, label in hits))


# Words in a title that say what kind of publication an item is, in the
# languages of the sources. Only a source's default `news` is refined: a
# consultation listing's items stay consultations.
_EVENT_WORDS = re.compile(
    r"(?<![\w-])(?:webinar|seminar|seminarium|konferanse|konferens|konference|conference|round-?table|"
    r"rundebordsmøte|workshop|expert meeting|ekspertmøte|frokostmøte|lanseringsmøte|arrangement|"
    r"(?:annual |plenary )?meeting|meets\b|forum\b)",
    re.I,
)
_REPORT_WORDS = re.compile(
    r"(?<![\w-])(?:report|rapport|årsmelding|årsrapport|annual report|guidance note|policy brief|evaluation|"
    r"evaluering|handbook|håndbok|veileder|guidelines?|publishes|publication|action plan|handlingsplan|"
    r"strategi|strategy|kartlegging|undersøkelse|statistikk|statistics|study\b|studie\b|utredning|NOU\b)",
    re.I,
)
_JUDGMENT_WORDS = re.compile(r"(?<![\w-])(?:dom i|dommen|judgment|judgement|ruling|rettsavgjørelse|høyesterett)", re.I)


def infer_kind(title: str, url: str, default: ItemKind) -> ItemKind:
    """The kind an item's title (or a PDF link) reveals; the source's default otherwise."""
    if default != "news":
        return default
    if _EVENT_WORDS.search(title):
        return "event"
    if _REPORT_WORDS.search(title) or url.lower().split("?")[0].endswith(".pdf"):
        return "report"  # an overview of judgments published as a PDF is a report
    if _JUDGMENT_WORDS.search(title):
        return "judgment"
    return default
