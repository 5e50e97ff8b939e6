"""The relevance vocabulary: every language, every field, negative terms, configured keywords."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsletter.collect.relevance import (
    ARTICLE,
    FIELD_BONUS,
    SPECIALISED_PRIOR,
    SUMMARY,
    TITLE,
    VOCABULARY,
    Score,
    keyword_terms,
    score_text,
    vocabulary_fingerprint,
)

THRESHOLD = 3


@pytest.mark.parametrize(
    "title",
    [
        "Regjeringen legger fram ny handlingsplan mot menneskehandel",  # nb
        "Regeringen skärper kampen mot människohandel",  # sv
        "Ny rapport om menneskehandel i Danmark",  # da
        "Ihmiskaupan uhrien auttamisjärjestelmän vuosikertomus",  # fi
        "UNODC warns of human trafficking risks",  # en
        "GRETA publishes its third report on Norway",
        "Trafficking in persons report 2022",
        "New report on forced labour in supply chains",
        "Tvangsarbeid i norsk landbruk",
        "Labour exploitation of migrant workers in construction",
        "Seksuell utnyttelse av mindreårige",
        "Palermo-protokollen 20 år",
        "Modern slavery statement guidance",
    ],
)
def test_topic_in_the_title_is_a_candidate(title):
    assert score_text(title).value >= THRESHOLD, title


@pytest.mark.parametrize(
    "title",
    [
        "Jordbruksoppgjøret 2022",
        "Statsbudsjettet for 2023 lagt fram",
        "Ny veiledning om arbeidstid i helsesektoren",
        "Four tonnes of cocaine seized in joint operation",
        "Drug trafficking network dismantled",
        "Firearms trafficking: progress report on the EU action plan",
        "Wildlife trafficking in South-East Asia",
        "Tiltak mot sosial dumping i byggebransjen",
    ],
)
def test_off_topic_and_hard_negatives_stay_below_the_threshold(title):
    assert score_text(title).value < THRESHOLD, title


def test_article_text_lifts_an_item_whose_title_hides_the_subject():
    title = "Ny forskrift åpner for informasjonsdeling mellom etatene"
    alone = score_text(title)
    with_text = score_text(title, article="Dette gjør det lettere å avdekke tvangsarbeid og menneskehandel.")
    assert alone.value < THRESHOLD <= with_text.value
    assert with_text.terms[:2] == ("menneskehandel", "tvangsarbeid")


def test_fields_weigh_title_over_summary_over_article():
    word = "menneskehandel"
    in_title, in_summary, in_article = score_text(word), score_text("x", word), score_text("x", "", word)
    assert in_title.value > in_summary.value > in_article.value > 0
    everywhere = score_text(word, word, word)
    assert everywhere.value > in_title.value


def test_negative_terms_do_not_hide_human_trafficking():
    mixed = score_text("Human trafficking and drug trafficking networks dismantled")
    assert mixed.value >= THRESHOLD and "-narkotika" in mixed.terms


def test_specialised_sources_get_a_prior():
    plain, specialised = score_text("Annual meeting"), score_text("Annual meeting", specialised=True)
    assert plain.value == 0 and specialised.value > 0


def test_configured_keywords_add_to_the_vocabulary():
    extra = keyword_terms({"barnehandel": 4})
    assert score_text("Barnehandel over grensen").value == 0
    scored = score_text("Barnehandel over grensen", extra=extra)
    assert scored.value == 6 and scored.terms == ("barnehandel",)
    assert vocabulary_fingerprint({"barnehandel": 4}) != vocabulary_fingerprint({})


def test_score_is_never_negative():
    assert score_text("cocaine firearms wildlife").value == 0


@pytest.mark.parametrize(
    "title, url, default, expected",
    [
        ("Webinar on the risks of trafficking", "https://x.test/a", "news", "event"),
        ("OSCE round-table focuses on protection of refugees", "https://x.test/a", "news", "event"),
        ("GRETA publishes its third report on Norway", "https://x.test/a", "news", "report"),
        ("Ny rapport om utnyttelse i verftsindustrien", "https://x.test/a", "news", "report"),
        ("Oversikt over rettsavgjørelser", "https://x.test/oversikt.PDF", "news", "report"),
        ("Ny dom i Høyesterett om tvangsarbeid", "https://x.test/a", "news", "judgment"),
        ("Regjeringen styrker innsatsen", "https://x.test/a", "news", "news"),
        ("Høring om ny rapport", "https://x.test/a", "consultation", "consultation"),
    ],
)
def test_kind_is_inferred_from_the_title_only_for_news_sources(title, url, default, expected):
    from newsletter.collect.relevance import infer_kind

    assert infer_kind(title, url, default) == expected


def _plain_score(title: str, summary: str = "", article: str = "", extra=(), specialised: bool = False) -> Score:
    """The scoring rule written the slow, obvious way (every term's pattern on every field), as the
    reference the fast `score_text` must agree with."""
    fields = ((title, TITLE), (summary, SUMMARY), (article, ARTICLE))
    total, hits = 0.0, []
    for term in (*VOCABULARY, *extra):
        factors = [factor for text, factor in fields if text and term.pattern.search(text)]
        if not factors:
            continue
        contribution = term.weight if term.weight < 0 else term.weight * max(factors) + FIELD_BONUS * (len(factors) - 1)
        total += contribution
        hits.append((contribution, term.label))
    total += SPECIALISED_PRIOR if specialised else 0
    hits.sort(key=lambda hit: -hit[0])
    return Score(round(max(total, 0.0), 2), tuple(label for _, label in hits))


def _test_texts() -> list[str]:
    """Every line of text in the test data (feeds, listings, articles, workspace), markup and all."""
    texts = []
    for path in sorted((Path(__file__).parent / "data").rglob("*")):
        if path.is_file() and path.suffix in (".xml", ".html", ".yaml", ".json", ".txt"):
            lines = path.read_bytes().decode("utf-8", "replace").splitlines()
            texts.extend(line.strip() for line in lines if line.strip())
    return texts


TRICKY = [
    "ANTI-TRAFFICKING DAY",  # upper case
    "İdentification of victims",  # dotted capital I: re.I matches it with 'i'
    "Human traſficking",  # long s matches 's' under re.I
    "CounterTrafficking and DRUG TRAFFICKING",
    "sexkjØp",
    "non-trafficking, anti-menneskehandel, a-krim, pre-GRETA",  # the lookbehind refuses '-' before a word
    "utnyttelse av utenlandske arbeidstakere",
    "THB THBx CTHB",
]


def test_fast_scores_equal_the_plain_rule_on_the_test_data():
    """Scoring skips a term's pattern when a field holds none of its literal needles: the scores of
    every line of the test data, as title, summary and article text, are those of the plain rule."""
    extra = keyword_terms({"barnehandel": 3.0, "a.b (c)": 1.0})
    texts = _test_texts() + TRICKY
    assert len(texts) > 500
    for i, text in enumerate(texts):
        other = texts[(i * 7 + 3) % len(texts)]
        for args in ((text,), ("", text), ("x", "", text), (text, other, text)):
            assert score_text(*args, extra=extra) == _plain_score(*args, extra=extra), args
