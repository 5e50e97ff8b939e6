"""The editor's ranking (`newsletter.curate.ranking`) on the small labelled quarter in tests/data/ranking/.

What is checked: a pick with no keyword ranks above off-topic items once a similar past entry
exists; a skip pushes similar items down; with nothing to learn from the order is the keyword
order exactly; probabilities are in [0, 1] and add up to the picks expected; `why` names words
of the item and the past entry it resembles; the suggested place comes from the closest past
entry citing the same site; the feature cache; the estimate below; twins listed together.
(Triage ranking afresh after each decision is tested through the CLI in test_curate.py.)
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy import sparse

from newsletter.curate import ranking
from newsletter.curate.ranking import Document, PastEntry, item_document, past_entry, rank_items
from newsletter.models import ArchiveSettings, Entry, Item, Settings

DATA = Path(__file__).parent / "data" / "ranking" / "quarter.json"


def load():
    data = json.loads(DATA.read_text(encoding="utf-8"))
    items = [
        Item(
            id=i["id"],
            source=i["source"],
            url=i["url"],
            title=i["title"],
            summary=i["summary"],
            kind=i["kind"],
            score=float(i["score"]),
            terms=("menneskehandel",) if i["score"] else (),
            published=dt.date(2022, 5, 1 + n),
        )
        for n, i in enumerate(data["items"])
    ]
    groups = {i["id"]: i["group"] for i in data["items"]}
    history = [
        past_entry(h["issue"], h["section"], Entry(heading=h["heading"], title=h["title"], text=h["text"]))
        for h in data["history"]
    ]
    return items, groups, history


def ranked_ids(result):
    return [r.item.id for r in result.ranked]


def test_adjacent_picks_without_keywords_rank_above_off_topic_items_once_past_entries_exist():
    items, groups, history = load()
    documents = [item_document(i) for i in items]
    without = rank_items(items, documents)
    with_history = rank_items(items, documents, history, expected_picks=4)
    assert not without.learned and with_history.learned
    order = ranked_ids(with_history)
    adjacent = [order.index(i.id) for i in items if groups[i.id] == "adjacent"]
    offtopic = [order.index(i.id) for i in items if groups[i.id] == "offtopic"]
    assert max(adjacent) < min(offtopic), order
    # Without the history they sit among the off-topic items (all score 0): the history made the difference.
    plain = ranked_ids(without)
    assert max(plain.index(i.id) for i in items if groups[i.id] == "adjacent") > min(
        plain.index(i.id) for i in items if groups[i.id] == "offtopic"
    )


def test_with_nothing_to_learn_from_the_order_is_the_keyword_order():
    items, _, _ = load()
    result = rank_items(items, [item_document(i) for i in items])
    expected = sorted(items, key=lambda i: (-i.score, -i.published.toordinal(), i.id))
    assert ranked_ids(result) == [i.id for i in expected]
    assert not result.learned
    # A single pick is not enough either: no non-pick to tell it from, and one pick alone says too little.
    pick = item_document(items[0])
    assert not rank_items(items[1:], [item_document(i) for i in items[1:]], (), [(pick, 1, 1.0)]).learned


def test_enough_picks_alone_are_learned_from_against_the_undecided_items():
    # An issue written by hand, the links of its items pasted in: picks and no non-pick, no history.
    items, groups, _ = load()
    adjacent = [i for i in items if groups[i.id] == "adjacent"]
    picked = [next(i for i in items if groups[i.id] == "core"), adjacent[0], adjacent[2]]
    assert len(picked) == ranking.PICKS_ALONE
    rest = [i for i in items if i not in picked]
    labelled = [(item_document(i), 1, 1.0) for i in picked]
    result = rank_items(rest, [item_document(i) for i in rest], (), labelled, decided_here=len(labelled))
    assert result.learned and result.picks == ranking.PICKS_ALONE
    # The other asylum item has no keyword (every item left scores 0): the asylum pick lifts it.
    assert ranked_ids(result)[0] == adjacent[1].id, ranked_ids(result)
    fewer = labelled[:-1]
    assert not rank_items(rest, [item_document(i) for i in rest], (), fewer, decided_here=len(fewer)).learned


def test_probabilities_are_in_0_1_and_add_up_to_the_picks_expected():
    items, _, history = load()
    result = rank_items(items, [item_document(i) for i in items], history, expected_picks=2)
    probabilities = [r.probability for r in result.ranked]
    assert all(0.0 <= p <= 1.0 for p in probabilities)
    in_order = [r.probability for r in result.ranked if r.beside is None]  # twins follow their partner
    assert in_order == sorted(in_order, reverse=True)
    assert result.unread_estimate(0) == pytest.approx(2.0, abs=0.01)
    assert result.unread_estimate(len(items)) == 0.0
    # More than MAX_PICK_SHARE of the items are never expected, whatever the history says.
    many = rank_items(items, [item_document(i) for i in items], history, expected_picks=8)
    assert many.unread_estimate(0) == pytest.approx(ranking.MAX_PICK_SHARE * len(items), abs=0.01)


def test_the_estimate_below_is_corrected_by_what_the_decisions_found():
    # Before any decision: what the history expects. Reading found fewer picks than the prior put
    # there: fewer are expected below, in proportion (softened by the pseudo-count).
    assert ranking.remaining_picks(20.0, 0.0, 0) == pytest.approx(20.0)
    assert ranking.remaining_picks(20.0, 12.0, 3) == pytest.approx(20.0 * 6 / 15)
    assert ranking.remaining_picks(20.0, 12.0, 3, unread=200, read=30) == pytest.approx(
        (20.0 * 6 / 15) * 27 / 28 + 29 / 28
    )
    # More picks than the prior put there are no sign of more below (the editor chose them for
    # what they are): the ratio is capped at 1, so the unread items keep what the history gives
    # them, however many skips follow, and never fall to the floor in a quarter richer than that.
    assert ranking.remaining_picks(20.0, 5.0, 9) == pytest.approx(20.0)
    assert ranking.remaining_picks(20.0, 5.0, 9, unread=200, read=9) == pytest.approx(25.0 - 9)  # picks alone
    for skips in (1, 3, 300):
        weight = skips / (skips + 1)
        expected = weight * 20.0 + (1 - weight) * (25.0 - 9)
        assert ranking.remaining_picks(20.0, 5.0, 9, unread=200, read=9 + skips) == pytest.approx(expected)
    assert ranking.remaining_picks(10.0, 10.0, 22, unread=200, read=40) == pytest.approx(10.0 * 18 / 19)
    # Never more than MAX_PICK_SHARE of the items left: one item left after every read one was picked.
    assert ranking.remaining_picks(0.4, 1.5, 1, unread=1) == pytest.approx(ranking.MAX_PICK_SHARE)
    # Only picks decided (an issue written by hand, nothing skipped): no sample of reading to scale
    # by; the quarter's expected picks less those made. The skips weigh the ratio in by s / (s + 1).
    assert ranking.remaining_picks(20.0, 12.0, 3, unread=200, read=3) == pytest.approx(32.0 - 3)
    assert ranking.remaining_picks(20.0, 12.0, 3, unread=200, read=4) == pytest.approx((20.0 * 6 / 15 + 29) / 2)
    assert ranking.remaining_picks(20.0, 5.0, 0, unread=200, read=3) == pytest.approx(20.0 * 3 / 8)  # skips alone
    assert ranking.remaining_picks(0.0, 30.0, 0) == 0.5  # never a promise of nothing at all
    # The editor read the prior's three best and all were skips: the quarter holds fewer picks
    # than the history promised, and the estimate below says so.
    first, after = read_the_top_three(label=0, expected=4)
    assert after.unread_estimate(0) < first.unread_estimate(3) < 4.0
    assert after.expected_picks == pytest.approx(after.unread_estimate(0), abs=0.01)


def test_a_skip_pushes_similar_items_down():
    items, _, history = load()
    by_id = {i.id: i for i in items}
    before = rank_items(items, [item_document(i) for i in items], history, expected_picks=4)
    # The editor picks the GRETA report and skips the asylum proposal: the other asylum item loses
    # ground on the child-welfare report it stood above (the odds of the one over the other shrink),
    # and falls below it once the editor skips a second proposal like the first.
    decided = [(item_document(by_id["core0001"]), 1, 1.0), (item_document(by_id["adj0001"]), 0, 1.0)]
    undecided = [i for i in items if i.id not in ("core0001", "adj0001")]
    after = rank_items(
        undecided, [item_document(i) for i in undecided], history, decided, expected_picks=4, decided_here=2
    )

    def odds(result, one, other):
        p = {r.item.id: r.probability for r in result.ranked}
        return (p[one] / (1 - p[one])) / (p[other] / (1 - p[other]))

    assert ranked_ids(before).index("adj0002") < ranked_ids(before).index("adj0003"), ranked_ids(before)
    assert odds(after, "adj0002", "adj0003") < odds(before, "adj0002", "adj0003") / 1.2
    again = replace(by_id["adj0001"], id="adj0009", title="Forslag om asylsøkeres rett til arbeid")
    decided.append((item_document(again), 0, 1.0))
    twice = rank_items(
        undecided, [item_document(i) for i in undecided], history, decided, expected_picks=4, decided_here=3
    )
    assert ranked_ids(twice).index("adj0002") > ranked_ids(twice).index("adj0003"), ranked_ids(twice)


def test_a_source_with_no_decision_this_quarter_is_listed_higher_and_its_probability_kept(monkeypatch):
    items, _, history = load()
    by_id = {i.id: i for i in items}
    # The editor has judged a Council of Europe item and a Storting item, none of the government's.
    decided = [(item_document(by_id["core0001"]), 1, 1.0), (item_document(by_id["adj0001"]), 0, 1.0)]
    undecided = [i for i in items if i.id not in ("core0001", "adj0001")]
    documents = [item_document(i) for i in undecided]

    def ranked(lift):
        monkeypatch.setattr(ranking, "EXPLORE_LIFT", lift)
        return rank_items(undecided, documents, history, decided, expected_picks=4, decided_here=2)

    plain, lifted = ranked(0.0), ranked(2.0)
    probability = {r.item.id: r.probability for r in plain.ranked}
    # The lift orders, it does not change what the ranking expects of an item (nor the estimate below).
    assert {r.item.id: r.probability for r in lifted.ranked} == pytest.approx(probability)
    assert [r.probability for r in plain.ranked if r.beside is None] == sorted(
        (r.probability for r in plain.ranked if r.beside is None), reverse=True
    )
    order = ranked_ids(lifted)
    # The government's best item goes above the Storting's likelier one, whose source has a decision.
    assert probability["adj0003"] < probability["adj0002"] and order.index("adj0003") < order.index("adj0002")
    # Within a source the order stays the probability's (every item of a source is lifted alike).
    for source in ("regjeringen", "stortinget"):
        mine = [r for r in lifted.ranked if r.item.source == source and r.beside is None]
        assert [r.probability for r in mine] == sorted((r.probability for r in mine), reverse=True)

    def moved(result):
        return ranking.moved_up_positions(
            [r.probability for r in result.ranked], [r.beside is not None for r in result.ranked]
        )

    assert moved(lifted) and not moved(plain)
    # Each item listed above a likelier one, and only such an item, says why: its source, how many of
    # the source's items are picked or skipped this quarter. A twin is placed by its partner, not so.
    said = "listed higher, so the ranking learns what you choose from it"
    for position, r in enumerate(lifted.ranked):
        assert (said in "; ".join(r.why)) == (position in moved(lifted)), (r.item.id, r.why)
    why = {r.item.id: r.why for r in lifted.ranked}
    assert f"no item from regjeringen picked or skipped this quarter yet: {said}" in why["adj0003"]
    assert any(r.beside is not None for r in lifted.ranked)
    assert not any(said in w for r in plain.ranked for w in r.why)  # no lift, not said
    # Only this quarter's decisions count: another quarter's skipped government item changes nothing.
    older = replace(by_id["aaof001"], id="old0001", title="Bredbåndsstøtte for forrige år")
    more = [*decided, (item_document(older), 0, 1.0)]
    with_older = rank_items(undecided, documents, history, more, expected_picks=4, decided_here=2)
    assert (
        f"no item from regjeringen picked or skipped this quarter yet: {said}"
        in {r.item.id: r.why for r in with_older.ranked}["adj0003"]
    )
    # Every source left lifted alike (the quarter's decisions all of a source with nothing left
    # undecided): nothing moves, and nothing says it did.
    other = replace(by_id["core0001"], id="core0002", title="GRETA publishes its third report on Malta")
    alike = [(item_document(by_id["core0001"]), 1, 1.0), (item_document(other), 0, 1.0)]
    rest = [i for i in items if i.id != "core0001"]
    even = rank_items(rest, [item_document(i) for i in rest], history, alike, expected_picks=4, decided_here=2)
    assert not moved(even) and not any(said in w for r in even.ranked for w in r.why)
    # Before the quarter's first decision no source is lifted: every one would gain alike.
    first = rank_items(undecided, documents, history, expected_picks=4)
    assert not moved(first) and not any(said in w for r in first.ranked for w in r.why)


def test_the_items_listed_above_a_likelier_one_are_found_twins_aside():
    # A twin (third) sits where its partner put it: neither marked nor a likelier item below another.
    probabilities = [0.20, 0.409, 0.35, 0.401, 0.50, 0.10]
    twins = [False, False, True, False, False, False]
    assert ranking.moved_up_positions(probabilities, twins) == {0, 1, 3}
    assert ranking.moved_up_positions([0.409, 0.401, 0.30], [False] * 3) == set()
    assert ranking.moved_up_positions([0.1, 0.9], [False, True]) == set()  # only a twin below
    assert ranking.moved_up_positions([], []) == set()
    assert "only 1 item from rosa picked or skipped" in ranking.moved_up_reason("rosa", 1)
    assert "only 4 items from rosa picked or skipped" in ranking.moved_up_reason("rosa", 4)


def test_the_lift_shrinks_as_a_sources_items_are_decided():
    documents = [Document("a", source="a"), Document("b", source="b"), Document("c", source="c")]
    lifts = ranking.exploration_lifts(documents, {"a": 3, "b": 1})
    assert lifts == pytest.approx([ranking.EXPLORE_LIFT / 2, ranking.EXPLORE_LIFT / 2**0.5, ranking.EXPLORE_LIFT])
    assert ranking.exploration_lifts(documents, {}) == [0.0, 0.0, 0.0]


def test_a_ranking_with_a_drafts_untouched_items_left_unlisted_is_served_from_the_results_cache(tmp_path, model_builds):
    items, _, history = load()
    results = ranking.RankingResults(tmp_path / "var" / ranking.RESULTS_CACHE)
    documents = [item_document(i) for i in items]
    first = rank_items(items, documents, history, (), 4.0, results=results, unlisted=1)
    again = rank_items(items, documents, history, (), 4.0, results=results, unlisted=1)
    assert len(model_builds) == 1, "the kept ranking was not served"
    assert [r.item.id for r in again.ranked] == [r.item.id for r in first.ranked]
    assert items[-1].id not in {r.item.id for r in again.ranked}


def test_the_prior_keeps_its_say_while_this_quarters_decisions_are_few():
    items, _, history = load()
    by_id = {i.id: i for i in items}
    # One pick and one skip, and every unread item a weak non-pick: the classifier alone would learn
    # from two items what a pick looks like (it put an item about milk prices first). The prior stays
    # beside it (`model.PRIOR_ALONGSIDE`): the off-topic items stay below the adjacent subjects.
    decided = [(item_document(by_id["core0001"]), 1, 1.0), (item_document(by_id["adj0001"]), 0, 1.0)]
    undecided = [i for i in items if i.id not in ("core0001", "adj0001")]
    after = rank_items(
        undecided, [item_document(i) for i in undecided], history, decided, expected_picks=4, decided_here=2
    )
    order = ranked_ids(after)
    assert after.learned
    assert max(order.index("adj0002"), order.index("adj0003")) < min(
        order.index(i) for i in order if i.startswith("aaof")
    ), order
    # And `why` says so: an item the history raises, none of whose words the classifier has learned
    # yet, is not shown "none of its words weighs toward a pick" but the words past entries use.
    why = {r.item.id: r.why for r in after.ranked}
    assert any(w.startswith("words past entries use (") and "mindreårige" in w for w in why["adj0002"]), why
    assert not any(w.startswith("words past entries use") for w in why["aaof004"]), why


def test_the_prior_stands_beside_the_classifier_until_another_quarters_pick_is_a_label():
    from newsletter.curate import model as model_module
    from newsletter.curate.model import Model

    items, _, history = load()
    by_id = {i.id: i for i in items}
    quarter = [item_document(i) for i in items]
    pick, skip = items.index(by_id["core0001"]), items.index(by_id["adj0001"])
    labels = dict.fromkeys(range(len(quarter)), (0, ranking.UNDECIDED_WEIGHT)) | {pick: (1, 1.0), skip: (0, 1.0)}
    # Another quarter's skip (an item of the store skipped before) says nothing of how far the history
    # foretells a pick: the prior stays. Its pick does: the classifier learns the prior's weight from it.
    old_skip = item_document(replace(by_id["aaof001"], id="old0001", title="Vedtak om havbruksavgift"))
    old_pick = item_document(replace(by_id["core0001"], id="old0002", title="GRETA publishes its report on Malta"))
    for others, alongside in (([], True), ([(old_skip, 0)], True), ([(old_skip, 0), (old_pick, 1)], False)):
        model = Model([*quarter, *(doc for doc, _ in others)], history, quarter=len(quarter))
        scores = model.scores(labels | {len(quarter) + n: (label, 1.0) for n, (_, label) in enumerate(others)})
        assert model.prior_alongside is alongside
        learned = model.classifier.decision_function(
            sparse.hstack([model._matrix(), sparse.csr_matrix(_column(model))], format="csr")
        )
        expected = learned + (model_module.PRIOR_ALONGSIDE * model.prior if alongside else 0.0)
        assert np.allclose(scores, expected)
    # Without a history the prior is the keyword score alone: the first picks teach what there is.
    model = Model(quarter, [])
    model.scores(labels)
    assert model.prior_alongside is False


def _column(model):
    from newsletter.curate.model import NEAREST_PICK_WEIGHT, _standardised

    return _standardised(model.nearest_pick_cosine)[:, None] * NEAREST_PICK_WEIGHT


def test_why_names_words_of_the_item_and_the_past_entry_it_resembles():
    items, _, history = load()
    picked = [i for i in items if i.id in ("adj0001", "aaof001")]
    decided = [(item_document(picked[0]), 1, 1.0), (item_document(picked[1]), 0, 1.0)]
    undecided = [i for i in items if i not in picked]
    result = rank_items(undecided, [item_document(i) for i in undecided], history, decided, decided_here=2)
    top = next(r for r in result.ranked if r.item.id == "adj0002")
    words = [w for w in top.why if not w.startswith(("like ", "its site cited in ")) and "moved up" not in w]
    assert words, top.why
    # The item's words: the classifier's, and those past entries use (the prior stands beside it).
    words = [part for w in words for part in re.sub(r"^words past entries use \((.*)\)$", r"\1", w).split(", ")]
    text = (top.item.title + " " + top.item.summary).lower()
    assert all(w in text for w in words), top.why
    assert top.like is not None and top.like.heading == "Representantforslag"
    assert "like «Forslag om tilsyn med omsorgen for enslige mindreårige asylsøkere» (2021-q4)" in top.why
    # Function words are never a reason, however they weigh ("blant", "hvilke": no help to the editor).
    from newsletter.curate.model import _STOP

    assert not {w for r in result.ranked for w in r.why} & _STOP
    assert {"blant", "hvilke", "og", "the"} <= _STOP
    # Every item has a reason; one whose words all weigh against a pick says so rather than nothing.
    assert all(r.why for r in result.ranked)
    bottom = result.ranked[-1]
    assert bottom.why[0] == "none of its words weighs toward a pick" or all(
        w in (bottom.item.title + " " + bottom.item.summary).lower()
        for w in bottom.why
        if not w.startswith("like ") and "moved up" not in w
    )


def test_the_suggested_place_comes_from_the_closest_past_entry_citing_the_same_site(tmp_path):
    items, _, history = load()
    result = rank_items(items, [item_document(i) for i in items], history)
    by_id = {r.item.id: r for r in result.ranked}
    greta = by_id["core0001"]  # coe.int, like the past GRETA entry that cites coe.int
    assert greta.filed_like is not None and (greta.filed_like.section, greta.filed_like.heading) == (
        "international",
        "GRETA",
    )
    asylum = by_id["adj0001"]  # stortinget.no: filed where past Stortinget entries went
    assert asylum.filed_like is not None and asylum.filed_like.heading == "Representantforslag"
    # A regjeringen.no report resembles the child-welfare entry (bufdir.no): `why` may say so,
    # but the newsletter files by organisation, and no past entry cites regjeringen.no.
    child = by_id["adj0003"]
    assert child.like is not None and child.like.heading == "Barnevern"
    assert child.filed_like is None
    farm = by_id["aaof006"]
    assert farm.like is None and farm.filed_like is None  # nothing the editor picked is close


def test_where_the_issue_files_an_organisations_pick_is_suggested_for_its_next_close_item(tmp_path, model_builds):
    """The editor renamed the past issue's "Representantforslag" to "Stortinget" this quarter: the next
    close item of stortinget.no is suggested there, ahead of the past entry; an item of another site,
    or a far one of the same site, is not; under a heading made for one story, only the same story."""
    items, _, history = load()
    by_id = {i.id: i for i in items}
    picked = by_id["adj0001"]  # Representantforslag om asylsøkeres rett til arbeid (stortinget.no)
    follow_up = Item(
        id="adj0009",
        source="stortinget",
        url="https://www.stortinget.no/sak/19",
        kind="news",
        title="Representantforslag om tolketjenester i asylsaker",
        summary="Stortinget behandler et forslag om bruk av tolk.",
        published=dt.date(2022, 5, 20),
    )
    undecided = [follow_up, *(i for i in items if i is not picked)]
    documents = [item_document(i) for i in undecided]

    results = ranking.RankingResults(tmp_path / ranking.RESULTS_CACHE)

    def suggested(
        kept: bool, kind: str = "news", heading: str = "Stortinget", configured: tuple[str, str] = ("norway", "Forslag")
    ) -> dict[str, tuple[str, str] | None]:
        result = rank_items(
            undecided,
            documents,
            history,
            [(item_document(replace(picked, kind=kind)), 1, 1.0), (item_document(by_id["aaof001"]), 0, 1.0)],
            4,
            decided_here=2,
            results=results,
            # The pick's index among the model's documents: the undecided ones', then the labelled.
            filed_here={len(documents): ranking.FiledPlace("norway", heading, kept, configured)},
        )
        return {r.item.id: r.filed_here[:2] if r.filed_here else None for r in result.ranked}

    places = suggested(kept=True)
    # Kept with the ranking, and served again as made (the place is part of what the key fixes).
    assert suggested(kept=True) == places and len(model_builds) == 1
    assert places["adj0009"] == ("norway", "Stortinget")
    assert places["core0001"] is None  # coe.int: the issue files none of its items yet
    assert places["aaof004"] is None  # stortinget.no, about the farm agreement: not close
    assert places["adj0003"] is None  # regjeringen.no
    # A heading the editor keeps nowhere else (made for one story) takes only the same story; so does a
    # consultation's place for a news item ("Høringer" is no place for the next proposal).
    assert suggested(kept=False)["adj0009"] is None
    assert suggested(kept=True, kind="consultation")["adj0009"] is None
    # A place the defaults gave it, its past entry's or its source's, is no news: each item has its own.
    assert suggested(kept=True, heading="representantforslag")["adj0009"] is None
    assert suggested(kept=True, configured=("norway", "Stortinget"))["adj0009"] is None


def test_past_entries_learn_from_earlier_issues_only(tmp_path):
    for issue_id in ("2021-q4", "2022-q2", "2022-q3"):
        (tmp_path / f"{issue_id}.yaml").write_text("", encoding="utf-8")
    assert ranking.history_ids(tmp_path, "2022-q2") == ["2021-q4"]
    assert ranking.history_ids(tmp_path, "2022-q2", learn_from_later=True) == ["2021-q4", "2022-q3"]


def test_expected_picks_is_the_median_of_past_issues_citing_collected_hosts():
    entries = [
        PastEntry("2021-q3", "norway", "H", "t", "x", ("stortinget.no",)),
        PastEntry("2021-q3", "norway", "H", "t", "x", ("regjeringen.no",)),
        PastEntry("2021-q3", "kom", "H", "t", "x", ()),  # a hand-written note: not a collected item
        PastEntry("2021-q4", "norway", "H", "t", "x", ("stortinget.no",)),
        PastEntry("2021-q4", "norway", "H", "t", "x", ("elsewhere.org",)),
    ]
    assert ranking.expected_picks(entries, {"stortinget.no", "regjeringen.no"}) == 1.5
    assert ranking.expected_picks([], set()) == ranking.DEFAULT_EXPECTED_PICKS
    # Past issues citing no collected site expect none, not the default for no history.
    assert ranking.expected_picks(entries, {"lovdata.no"}) == 0.0
    assert ranking.expected_picks([*entries, PastEntry("2022-q1", "kom", "H", "t", "x", ())], {"stortinget.no"}) == 1.0


def test_the_feature_cache_serves_the_next_decision_and_ranks_exactly_as_without_it(tmp_path, monkeypatch):
    from newsletter.curate import model

    items, _, history = load()
    by_id = {i.id: i for i in items}
    cache = tmp_path / "var" / ranking.RANKING_CACHE

    def after_a_decision(use_cache):
        decided = [(item_document(by_id["core0001"]), 1, 1.0), (item_document(by_id["adj0001"]), 0, 1.0)]
        undecided = [i for i in items if i.id not in ("core0001", "adj0001")]
        documents = [item_document(i) for i in undecided]
        return rank_items(undecided, documents, history, decided, 4, cache if use_cache else None, decided_here=2)

    # The first ranking writes the cache; the editor's decision moves two documents from the
    # undecided to the labelled, which changes their order but not the texts: the cache serves it.
    rank_items(items, [item_document(i) for i in items], history, expected_picks=4, cache=cache)
    assert cache.exists()
    uncached = after_a_decision(use_cache=False)
    computed = []
    monkeypatch.setattr(model.Features, "compute", lambda *a: computed.append(a) or pytest.fail("not cached"))
    cached = after_a_decision(use_cache=True)
    assert not computed
    assert [(r.item.id, round(r.probability, 9), r.why) for r in cached.ranked] == [
        (r.item.id, round(r.probability, 9), r.why) for r in uncached.ranked
    ]
    monkeypatch.undo()
    # A damaged file, or a changed text, is computed afresh, never served stale.
    cache.write_bytes(b"not a cache")
    assert [r.item.id for r in after_a_decision(use_cache=True).ranked] == [r.item.id for r in uncached.ranked]
    documents = [item_document(i) for i in items]
    assert model.Features.load(cache, documents, history) is not None  # the same texts, in another order
    changed = [*documents[:-1], replace(documents[-1], text=documents[-1].text + " endret")]
    assert model.Features.load(cache, changed, history) is None
    assert model.Features.load(cache, documents, history[:-1]) is None


def test_a_ranking_asked_for_again_is_served_from_the_results_cache_never_stale(tmp_path, monkeypatch, model_builds):
    """`issue add` or `show` right after `items --issue` rank what it ranked: kept, the model is not loaded."""
    import json

    items, _, history = load()
    results = ranking.RankingResults(tmp_path / "var" / ranking.RESULTS_CACHE)
    documents = [item_document(i) for i in items]
    built = model_builds

    def shown(r: ranking.Ranking) -> list[tuple]:
        return [(x.item.id, x.probability, x.why, x.like, x.filed_like, x.beside, x.filed_here) for x in r.ranked]

    def rank(docs=documents, labelled=(), expected=4.0):
        return rank_items(items, docs, history, labelled, expected, results=results)

    first = rank()
    assert len(built) == 1 and results.path.exists()
    again = rank()
    assert len(built) == 1, "the kept ranking was not served"
    assert shown(again) == shown(first)
    assert (again.learned, again.history, again.expected_picks) == (first.learned, first.history, first.expected_picks)
    assert any(x.like for x in again.ranked) and any(x.filed_like for x in again.ranked)
    # Anything the ranking reads, changed, is ranked afresh: a decision, another text, another weight.
    decided = rank(labelled=[(documents[0], 0, 1.0)])
    assert len(built) == 2 and shown(decided) != shown(first)
    rank(docs=[*documents[:-1], replace(documents[-1], text=documents[-1].text + " endret")])
    assert len(built) == 3
    monkeypatch.setattr(ranking, "UNDECIDED_WEIGHT", 0.2)
    rank()
    assert len(built) == 4
    monkeypatch.setattr(ranking, "UNDECIDED_WEIGHT", 0.05)
    assert shown(rank()) == shown(first) and len(built) == 4  # kept beside the others (`RESULTS_KEPT`)
    real_versions = ranking._library_versions
    monkeypatch.setattr(ranking, "_library_versions", lambda: [*real_versions()[1:], "scikit-learn 99.0"])
    ranking._code_digest.cache_clear()  # as a new process after the upgrade would find it
    rank()
    assert len(built) == 5  # an upgraded library ranks afresh
    monkeypatch.setattr(ranking, "_library_versions", real_versions)
    ranking._code_digest.cache_clear()
    # A damaged or doctored file is never served: ranked afresh, the same as before.
    data = json.loads(results.path.read_text(encoding="utf-8"))
    for damage in (
        lambda r: r["ranked"][0].__setitem__(1, 2.0),  # a probability above 1
        lambda r: r["ranked"][0].__setitem__(0, 999),  # no such candidate
        lambda r: r["ranked"].append(r["ranked"][0]),  # a candidate twice
        lambda r: r["ranked"][0].__setitem__(3, -1),  # no such past entry
        lambda r: r["ranked"][0].__setitem__(2, [7]),  # a reason that is not text
        lambda r: r["ranked"][0].__setitem__(1, 10**400),  # an int too large for a float
        lambda r: r["ranked"][0].__setitem__(0, True),  # JSON's true, which Python counts as 1
        lambda r: r["ranked"][0].__setitem__(6, 0),  # a place from the issue, where it files nothing
        lambda r: r["ranked"][0].__setitem__(6, ["norway", "Stortinget"]),  # a place not by its index
        lambda r: r.__setitem__("expected_picks", float("nan")),  # json.dumps writes NaN, loads reads it
        lambda r: r.__setitem__("picks", -1),
    ):
        doctored = json.loads(json.dumps(data))
        for r in doctored["rankings"]:
            damage(r)
        results.path.write_text(json.dumps(doctored), encoding="utf-8")
        count = len(built)
        assert shown(rank()) == shown(first)
        assert len(built) == count + 1
    for garbage in ("not json", "[" * 100_000 + "]" * 100_000, '{"format": 1, "rankings": 7}'):
        results.path.write_text(garbage, encoding="utf-8")
        assert shown(rank()) == shown(first)


def test_a_press_release_and_the_report_it_announces_are_listed_together_a_series_is_not():
    items, _, history = load()
    text = (
        "Norges niende rapport til FNs torturkomité er sendt. Rapporten omtaler tiltak mot menneskehandel, "
        "vold i nære relasjoner og forholdene i fengsler og politiarrest."
    )
    release = Item(
        id="pair001",
        source="regjeringen",
        url="https://www.regjeringen.no/aktuelt/cat",
        kind="news",
        title="Norges niende rapport til FNs torturkomité",
        summary=text,
        score=4.0,
    )
    report = Item(
        id="pair002",
        source="regjeringen-rapporter",
        url="https://www.regjeringen.no/dokument/cat",
        kind="report",
        title="Norges niende periodiske rapport til FNs torturkomité (CAT)",
        summary=text,
    )
    series = [
        Item(
            id=f"ser00{n}",
            source="coe-greta",
            url=f"https://www.coe.int/greta-{c}",
            kind="report",
            title=f"GRETA publishes its third report on {c}",
            summary=f"GRETA has published its third evaluation report on {c}, on access to justice for victims.",
        )
        for n, c in enumerate(["Latvia", "Malta", "Cyprus"])
    ]
    everything = [*items, release, report, *series]
    result = rank_items(everything, [item_document(i) for i in everything], history)
    order = ranked_ids(result)
    assert order.index("pair002") == order.index("pair001") + 1, order
    moved = next(r for r in result.ranked if r.item.id == "pair002")
    assert moved.beside == "pair001" and "goes with pair001 «Norges niende rapport til FNs torturkomité»" in moved.why
    assert all(r.beside is None for r in result.ranked if r.item.id.startswith("ser"))
    # The list says it: the twin's title is marked, and --json names its partner.
    from newsletter.curate.listing import TWIN_MARK, item_lines

    listed = [replace(r.item, probability=r.probability, goes_with=r.beside) for r in result.ranked]
    lines = dict(zip(order, item_lines(listed, learned=True), strict=True))
    assert lines["pair002"].endswith(TWIN_MARK + "Norges niende periodiske rapport til FNs torturkomité (CAT)")
    assert TWIN_MARK not in lines["pair001"] and not any(TWIN_MARK in lines[i] for i in order if i.startswith("ser"))
    assert all((TWIN_MARK in lines[item.id]) == bool(item.goes_with) for item in listed)
    assert listed[order.index("pair002")].to_json()["goes_with"] == "pair001"
    # A filter that leaves the partner out (--source): no mark claims it is the line above.
    alone = [item for item in listed if item.id != "pair001"]
    assert not any(TWIN_MARK in line and "CAT" in line for line in item_lines(alone, learned=True))
    # A partner ranked but not listed (a draft's untouched entry, last among the candidates): no twin.
    drafted = [*items, report, *series, release]
    hidden = rank_items(drafted, [item_document(i) for i in drafted], history, unlisted=1)
    assert "pair001" not in ranked_ids(hidden) and len(hidden.ranked) == len(drafted) - 1
    [alone_report] = [r for r in hidden.ranked if r.item.id == "pair002"]
    assert alone_report.beside is None and not any(w.startswith("goes with") for w in alone_report.why)


def test_a_past_entry_citing_two_items_teaches_both_as_picks():
    entry = Entry(
        heading="Fafo",
        title="To rapporter",
        text="Se [her](https://fafo.no/a) og [her](https://fafo.no/b).",
        items=("fafo001", "fafo002"),
    )
    past = past_entry("2024-q2", "norway", entry)
    assert past.items == ("fafo001", "fafo002") and past.hosts == ("fafo.no",)


def test_the_newsletters_own_earlier_issue_is_listed_last_with_no_chance(tmp_path):
    """The unit's page lists its own newsletter; the next issue never cites the previous one."""
    from click.testing import CliRunner

    from newsletter.cli import cli
    from newsletter.collect.urls import identify
    from newsletter.config import Workspace
    from newsletter.models import RawItem
    from newsletter.store import Store
    from tests.conftest import KOM_SECTIONS, write_workspace
    from tests.test_editor_loop import FEEDS, RAWS, SOURCE

    own = RawItem(
        url="https://www.politiet.no/nyhetsbrev-fra-kom-januar-mars-2025.pdf",
        title="Nyhetsbrev fra KOM – januar–mars 2025: menneskehandel",  # every keyword it could want
        summary="Koordineringsenheten mot menneskehandel (KOM) om menneskehandel.",
        published=dt.date(2025, 4, 3),
        date_precision="day",
    )
    root = write_workspace(tmp_path / "ws", FEEDS, KOM_SECTIONS)
    settings = root / "newsletter.yaml"
    settings.write_text(settings.read_text(encoding="utf-8").replace("name: Test", "name: Nyhetsbrev fra KOM", 1))
    with Store(Workspace(root).db_path) as store:
        now = dt.datetime(2025, 6, 30, 12, 0, tzinfo=dt.UTC)
        store.upsert_items(SOURCE, [(identify(r.url), r) for r in [own, *RAWS[:2]]], now)
    run = CliRunner().invoke
    assert run(cli, ["--workspace", str(root), "issue", "new", "2025-q2"]).exit_code == 0
    listed = json.loads(run(cli, ["--workspace", str(root), "items", "--issue", "2025-q2", "--json"]).stdout)
    assert [i["title"] for i in listed][-1] == own.title
    assert listed[-1]["probability"] == 0.0 and listed[-1]["why"] == ["an issue of «Nyhetsbrev fra KOM» itself"]
    assert len(listed) == 3
    drafted = run(cli, ["--workspace", str(root), "issue", "draft", "2025-q2"])
    assert drafted.exit_code == 0 and "2 entries added" in drafted.stdout
    assert not any(own.title in line for line in drafted.stdout.splitlines() if line.startswith("added "))
    own_id = listed[-1]["id"]
    assert f"left out {own_id} «{own.title}»: an issue of the newsletter itself\n" in drafted.stdout
    again = run(cli, ["--workspace", str(root), "issue", "draft", "2025-q2"]).stdout
    assert again.splitlines() == [
        "nothing added to 2025-q2",
        f"left out {own_id} «{own.title}»: an issue of the newsletter itself",
    ]
    # Added by id all the same, it goes in, with a word: most often the id was a slip.
    added = run(cli, ["--workspace", str(root), "issue", "add", "2025-q2", own_id])
    assert added.exit_code == 0 and added.stdout.splitlines()[1] == (
        f"  note: {own_id} «{own.title}» is an issue of Nyhetsbrev fra KOM itself, which issues do not cite as "
        f"news; if it is a slip, `newsletter issue remove 2025-q2 {own_id} --undecided`"
    )
    assert run(cli, ["--workspace", str(root), "issue", "remove", "2025-q2", own_id, "--undecided"]).exit_code == 0
    # Without a `name:` of its own the newsletter is called by its publisher's name, or "Nyhetsbrev":
    # words that begin many titles, so nothing is set aside by them.
    text = settings.read_text(encoding="utf-8")
    settings.write_text(text.replace("name: Nyhetsbrev fra KOM", "publisher: Nyhetsbrev fra KOM", 1), encoding="utf-8")
    again = json.loads(run(cli, ["--workspace", str(root), "items", "--issue", "2025-q2", "--json"]).stdout)
    [mine] = [i for i in again if i["title"] == own.title]
    assert not any("itself" in w for w in mine["why"])


@pytest.mark.parametrize(
    ("title", "own"),
    [
        ("Nyhetsbrev fra KOM – januar–mars 2022", True),
        ("NYHETSBREV FRA KOM: april", True),
        ("Nyhetsbrev fra KÖM", True),  # accents folded
        ("Nyhetsbrevet fra KOMMUNEN", False),
        ("Nytt nyhetsbrev fra KOM", False),
    ],
)
def test_own_issue_is_recognised_by_its_words(title, own):
    assert ranking.is_own_issue(title, "Nyhetsbrev fra KOM") is own
    assert ranking.is_own_issue(title, "") is False


def test_quarter_coverage_is_the_share_collected_so_far():
    """A quarter collected up to 11 July expects 11/92 of a whole quarter's picks (the 2022-q3 trial)."""
    since, until = dt.date(2022, 7, 1), dt.date(2022, 9, 30)

    def item(day, kind="news"):
        return Item(id=f"i{day.isoformat()}", source="s", url="https://x.no/a", title="t", kind=kind, published=day)

    july = [item(dt.date(2022, 7, 2)), item(dt.date(2022, 7, 11)), item(dt.date(2022, 9, 20), kind="event")]
    assert ranking.quarter_coverage(july, since, until, dt.date(2026, 12, 1)) == pytest.approx(11 / 92)
    # A quarter still running: never past today, even when an item is dated ahead.
    assert ranking.quarter_coverage(july, since, until, dt.date(2022, 7, 5)) == pytest.approx(5 / 92)
    assert ranking.quarter_coverage([item(dt.date(2022, 9, 30))], since, until, dt.date(2026, 1, 1)) == 1.0
    assert ranking.quarter_coverage([], since, until, dt.date(2026, 1, 1)) == pytest.approx(1 / 92)


def test_a_past_place_naming_the_same_organisation_as_the_configured_one_keeps_the_configured_heading():
    """feeds.yaml's heading is the editor's word; a past issue's other name for one organisation is not news."""
    from newsletter.curate.inbox import same_place
    from newsletter.models import ArchiveSettings, Organisation, Settings

    settings = Settings(
        archive=ArchiveSettings(
            organisations=(
                Organisation(
                    "A-krim", headings=("Arbeidstilsynet og a-krim", "Rapporter fra tverretatlig a-krim samarbeid")
                ),
                Organisation("Fafo"),
            )
        )
    )
    item = Item(id="x", source="s", url="https://a.no", title="t")
    item.section, item.heading = "norway", "Rapporter fra tverretatlig a-krim samarbeid"

    def past(section, heading):
        return PastEntry("2024-q2", section, heading, "t", "x", ("a.no",))

    assert same_place(past("norway", "Arbeidstilsynet og a-krim"), item, settings)
    assert same_place(past("norway", "rapporter fra  tverretatlig a-krim samarbeid"), item, settings)
    assert not same_place(past("norway", "Fafo"), item, settings)  # another organisation: learned
    assert not same_place(past("highlights", "Arbeidstilsynet og a-krim"), item, settings)  # another section


def test_a_steeper_prior_puts_more_of_the_expected_picks_among_the_top_items(monkeypatch):
    # ESTIMATE_PRIOR_SLOPE: the steeper the prior's log-odds are taken when it splits the expected picks
    # between read and unread, the more of them the top items read are said to hold, so after two of
    # the best three turn out picks, fewer are said to be left below. At face value (1) since a
    # quarter of another year, where the history foretold the picks less well, was said to hold half
    # the picks it held with a slope of 2.
    estimates = {}
    for slope in (1.0, 2.0):
        monkeypatch.setattr(ranking, "ESTIMATE_PRIOR_SLOPE", slope)
        estimates[slope] = read_the_top_three(label=(1, 1, 0), expected=4.0)[1].unread_estimate(0)
    assert 0.5 - 1e-9 <= estimates[2.0] < estimates[1.0]  # never below half a pick (`remaining_picks`)


def read_the_top_three(label: int | tuple[int, int, int], expected: float):
    """The first ranking of the small quarter, and the ranking once its three best are decided `label`
    (one label for all three, or one each)."""
    items, _, history = load()
    documents = {i.id: item_document(i) for i in items}
    first = rank_items(items, list(documents.values()), history, expected_picks=expected)
    read = [r.item.id for r in first.ranked[:3]]
    rest = [i for i in items if i.id not in read]
    labels = label if isinstance(label, tuple) else (label,) * 3
    decided = [(documents[i], each, 1.0) for i, each in zip(read, labels, strict=True)]
    return first, rank_items(rest, [documents[i.id] for i in rest], history, decided, expected, decided_here=3)


@pytest.mark.parametrize(
    ("titles", "entries"),
    [
        (["Ny rapport om menneskehandel"], 1),  # two texts in all
        (["Ny rapport om menneskehandel"], 2),  # three: min_df=2 and max_df=0.5 cannot both hold
        (["EU"], 1),  # no word of three letters: the word vectoriser has no vocabulary
        (["EU", "FN"], 0),  # and no past entry either, only a pick and a skip
    ],
)
def test_a_quarter_of_one_or_two_items_is_ranked_however_little_text_there_is(titles, entries):
    _items, _groups, history = load()
    items = [Item(id=f"i{n}", source="s", url=f"https://x.no/{n}", title=t, summary="") for n, t in enumerate(titles)]
    labelled = [] if entries else [(item_document(items[0]), 1, 1.0), (item_document(items[-1]), 0, 1.0)]
    result = rank_items(
        items,
        [item_document(i) for i in items],
        history[:entries],
        labelled,
        expected_picks=1,
        decided_here=len(labelled),
    )
    assert result.learned
    assert sorted(ranked_ids(result)) == sorted(i.id for i in items)
    assert all(0.0 <= r.probability <= 1.0 and r.why for r in result.ranked)


def test_a_damaged_or_hostile_feature_cache_is_computed_afresh_and_never_run(tmp_path):
    """The cache in var/ is anyone's to damage: a flipped byte, a cut file, matrices whose indices point
    outside them (SciPy's C code would crash the process), or a pickle that would run code. Each is
    ignored and the ranking comes out as computed afresh."""
    import pickle
    import random

    import numpy as np

    from newsletter.curate import model

    items, _, history = load()
    documents = [item_document(i) for i in items]
    cache = tmp_path / ranking.RANKING_CACHE
    fresh = [(r.item.id, round(r.probability, 9)) for r in rank_items(items, documents, history, (), 4).ranked]
    rank_items(items, documents, history, (), 4, cache)
    good = cache.read_bytes()
    assert model.Features.load(cache, documents, history) is not None

    def damaged_ranks_as_fresh(content: bytes) -> None:
        cache.write_bytes(content)
        assert [
            (r.item.id, round(r.probability, 9)) for r in rank_items(items, documents, history, (), 4, cache).ranked
        ] == fresh

    chance = random.Random(11)
    for _ in range(40):  # flipped bytes anywhere, or the file cut short
        content = bytearray(good)
        if chance.random() < 0.25:
            content = content[: chance.randrange(len(content))]
        else:
            for _ in range(chance.randint(1, 4)):
                content[chance.randrange(len(content))] ^= 1 << chance.randrange(8)
        damaged_ranks_as_fresh(bytes(content))
    with np.load(__import__("io").BytesIO(good), allow_pickle=False) as data:
        arrays = dict(data)
    for name, value in (
        ("chars_indices", arrays["chars_indices"] + 10**8),  # would read far outside the matrix
        ("row_numbers", arrays["row_numbers"] + len(documents)),
        ("similarity", arrays["similarity"][:, :-1]),
        ("format", np.array([model.CACHE_FORMAT + 1])),
        ("similarity", np.full_like(arrays["similarity"], np.nan)),
        ("words_data", np.full_like(arrays["words_data"], np.inf)),
    ):
        buffer = __import__("io").BytesIO()
        np.savez(buffer, **(arrays | {name: value}))
        cache.write_bytes(buffer.getvalue())
        assert model.Features.load(cache, documents, history) is None, name
        damaged_ranks_as_fresh(buffer.getvalue())
    ran = tmp_path / "ran"
    hostile = pickle.dumps(type("Run", (), {"__reduce__": lambda self: (ran.touch, ())})())
    damaged_ranks_as_fresh(hostile)
    assert not ran.exists()


def test_a_quarter_of_a_few_items_is_not_shown_as_all_certain_picks(tmp_path):
    """Past issues cited dozens of collected items a quarter; a store holding three of this quarter's
    says no more than a quarter of them are picks, rather than each one at 100%."""
    import shutil

    from click.testing import CliRunner

    from newsletter.cli import cli
    from newsletter.collect.urls import identify
    from newsletter.config import Workspace
    from newsletter.store import Store
    from tests.conftest import KOM_SECTIONS, write_workspace
    from tests.test_editor_loop import FEEDS, RAWS, SOURCE

    root = write_workspace(tmp_path / "ws", FEEDS, KOM_SECTIONS)
    (root / "issues").mkdir()
    shutil.copy(Path(__file__).parent.parent / "issues" / "2024-q2.yaml", root / "issues")
    with Store(Workspace(root).db_path) as store:
        store.upsert_items(SOURCE, [(identify(r.url), r) for r in RAWS[:3]], dt.datetime(2025, 6, 30, tzinfo=dt.UTC))
    listed = json.loads(
        CliRunner().invoke(cli, ["--workspace", str(root), "items", "--issue", "2025-q2", "--json"]).stdout
    )
    assert len(listed) == 3
    chances = [i["probability"] for i in listed]
    assert sum(chances) <= ranking.MAX_PICK_SHARE * 3 + 0.01 and max(chances) < 0.9, chances


def test_an_item_another_issue_cites_is_no_candidate_and_draft_leaves_it(tmp_path):
    """An entry written by hand (`item: ID`) leaves the item's status `new`: it is still picked there, so
    neither `items --issue` nor `issue draft` offers it again, whether that issue is earlier or later."""
    from click.testing import CliRunner

    from newsletter.cli import cli
    from newsletter.collect.urls import identify
    from newsletter.config import Workspace
    from newsletter.store import Store
    from tests.conftest import KOM_SECTIONS, write_workspace
    from tests.test_editor_loop import FEEDS, RAWS, SOURCE

    root = write_workspace(tmp_path / "ws", FEEDS, KOM_SECTIONS)
    with Store(Workspace(root).db_path) as store:
        store.upsert_items(SOURCE, [(identify(r.url), r) for r in RAWS[:3]], dt.datetime(2025, 6, 30, tzinfo=dt.UTC))
        ids = [i.id for i in store.iter_items()]

    def run(*args):
        return CliRunner().invoke(cli, ["--workspace", str(root), *args], catch_exceptions=False)

    for other, item in (("2025-q1", ids[0]), ("2025-q3", ids[1])):  # earlier and later than 2025-q2
        assert run("issue", "new", other).exit_code == 0
        assert run("issue", "add", other, item).exit_code == 0
    with Store(Workspace(root).db_path) as store:
        store.set_status(ids[:2], "new")  # as if the entries were written by hand
    listed = json.loads(run("items", "--issue", "2025-q2", "--all", "--json").stdout)
    assert [i["id"] for i in listed] == [ids[2]]
    assert run("issue", "new", "2025-q2").exit_code == 0
    drafted = run("issue", "draft", "2025-q2").stdout
    assert ids[0] not in drafted and ids[1] not in drafted


def test_an_entry_written_by_hand_with_an_items_link_cites_that_item(tmp_path):
    """An entry whose text links to a collected item (pasted in, any spelling of the URL) cites it, as
    `issue add` would: the item is no candidate of this quarter or any other, and it is learned from
    as a pick, so an issue written by hand with three or more such links ranks the rest by them."""
    from click.testing import CliRunner

    from newsletter.cli import cli
    from newsletter.collect.urls import identify
    from newsletter.config import Workspace
    from newsletter.models import RawItem
    from newsletter.store import Store
    from tests.conftest import KOM_SECTIONS, write_workspace
    from tests.test_editor_loop import FEEDS, SOURCE

    topics = ["asylsøkere i mottak", "enslige mindreårige asylsøkere", "retur av asylsøkere", "asylsøkeres rett"]
    topics += ["veivedlikehold", "bredbånd i distriktene", "fiskerikvoter", "jordbruksavtalen"]
    raws = [
        RawItem(
            url=f"https://www.stortinget.no/sak/{n}",
            title=f"Representantforslag om {topic}",
            summary=f"Stortinget behandler et forslag om {topic}.",
            published=dt.date(2025, 4, 1 + n),
            date_precision="day",
        )
        for n, topic in enumerate(topics)
    ]
    root = write_workspace(tmp_path / "ws", FEEDS, KOM_SECTIONS)
    with Store(Workspace(root).db_path) as store:
        store.upsert_items(SOURCE, [(identify(r.url), r) for r in raws], dt.datetime(2025, 6, 30, tzinfo=dt.UTC))
        ids = {i.url: i.id for i in store.iter_items()}
    url = [r.url for r in raws]

    def run(*args):
        return CliRunner().invoke(cli, ["--workspace", str(root), *args], catch_exceptions=False)

    def note(issue_id, link):
        text = f"Stortinget behandler forslaget, se [her]({link})."
        result = run("issue", "note", issue_id, "--section", "norway", "--heading", "Stortinget", "--text", text)
        assert result.exit_code == 0, result.output
        return result.stdout

    def listed(issue_id="2025-q2"):
        return [i["id"] for i in json.loads(run("items", "--issue", issue_id, "--all", "--json").stdout)]

    assert run("issue", "new", "2025-q2").exit_code == 0
    said = note("2025-q2", url[0].replace("https://www.", "http://") + "/")  # another spelling of the page
    assert said.splitlines()[1] == f"  cites item {ids[url[0]]} «Representantforslag om {topics[0]}» by its link"
    assert ids[url[0]] not in listed() and len(listed()) == 7
    shown = json.loads(run("show", ids[url[0]], "--json").stdout)  # picked, as by `issue add`, and where
    assert (shown["status"], shown["cited_in"]) == (
        "picked",
        [{"issue": "2025-q2", "entry": "norway:1", "by": "link", "heading": "Stortinget"}],
    )
    assert "cited_in:       2025-q2 norway:1 (by link)\n" in run("show", ids[url[0]]).stdout
    assert json.loads(run("show", ids[url[5]], "--json").stdout)["cited_in"] == []
    # Two picks by hand, nothing else to learn from: the keyword order; three: learned from them.
    note("2025-q2", url[1])
    assert "by keyword score" in run("items", "--issue", "2025-q2", "--all").output
    note("2025-q2", url[2])
    order = listed()
    assert "by keyword score" not in run("items", "--issue", "2025-q2", "--all").output
    assert order[0] == ids[url[3]], order  # the other asylum case first, above the older roads and farms
    assert run("issue", "new", "2025-q3").exit_code == 0
    note("2025-q3", url[7])  # a later issue's, by hand: picked there, so no candidate here
    assert ids[url[7]] not in listed()
    assert run("issue", "check", "2025-q2").exit_code == 0
    # Skipping it is refused as for an item added by id, naming the entry to take out.
    skipped = run("issue", "skip", ids[url[1]])
    assert skipped.exit_code == 1 and skipped.stderr.strip() == (
        f"Error: item {ids[url[1]]} is in 2025-q2 as norway:2, whose text links to it; take the link out of "
        f"that text first ({root / 'issues' / '2025-q2.yaml'}); nothing was changed"
    )
    assert run("issue", "unskip", ids[url[1]]).exit_code == 0  # harmless: it was never skipped
    # Adding an item linked by hand says where it is, and how to record its id in that entry.
    again = run("issue", "add", "2025-q2", ids[url[0]])
    assert again.exit_code == 1 and again.stderr.strip() == (
        f"Error: item {ids[url[0]]} is already in 2025-q2 as norway:1 (its text links to the item; "
        f"`newsletter issue add 2025-q2 {ids[url[0]]} --to norway:1` records the item there); nothing was written"
    )
    assert run("issue", "add", "2025-q2", ids[url[0]], "--to", "norway:1").exit_code == 0
    shown = json.loads(run("issue", "show", "2025-q2", "--json").stdout)["sections"]["norway"][0]
    assert shown["item"] == ids[url[0]], shown
    assert f"    item: {ids[url[0]]}\n" in (root / "issues" / "2025-q2.yaml").read_text(encoding="utf-8")
    assert run("issue", "add", "2025-q2", ids[url[0]], "--to", "norway:1").exit_code == 1  # now by id
    # An item another issue links to by hand is said to be there too, as one it names by id.
    added = run("issue", "add", "2025-q2", ids[url[7]])
    assert added.exit_code == 0 and f"warning: item {ids[url[7]]} is also in 2025-q3" in added.stderr
    # And `issue check` says an item was used before when an earlier issue linked to it by hand.
    assert run("issue", "new", "2025-q1").exit_code == 0
    note("2025-q1", url[4])
    assert run("issue", "add", "2025-q2", ids[url[4]]).exit_code == 0
    checked = run("issue", "check", "2025-q2").output
    assert f"item {ids[url[4]]} was already used in 2025-q1" in checked, checked
    # An entry linking two items, given the id of one (`--to`), names both: once it names an item it
    # cites only what it names, and the other must not fall back among the candidates.
    text = f"To forslag, se [her]({url[5]}) og [her]({url[6]}), og [det tidligere]({url[4]})."
    noted = run("issue", "note", "2025-q2", "--section", "highlights", "--heading", "Forslag", "--text", text)
    assert noted.exit_code == 0 and noted.stdout.startswith("added highlights:1 "), noted.output
    assert run("issue", "add", "2025-q2", ids[url[5]], "--to", "highlights:1").exit_code == 0
    entry = json.loads(run("issue", "show", "2025-q2", "--json").stdout)["sections"]["highlights"][0]
    assert entry["items"] == [ids[url[5]], ids[url[6]]], entry  # not url[4]: added by id to another
    assert ids[url[6]] not in listed()
    assert json.loads(run("show", ids[url[6]], "--json").stdout)["status"] == "picked"
    assert run("issue", "check", "2025-q2").exit_code == 0


def test_the_link_of_an_item_sharing_its_page_cites_no_other_item(tmp_path):
    """A feed may give several entries one page: one item is the page's, the others carry a guid. The
    entry `issue add` makes for one of those links to the shared page, and must not cite the page's
    item with it; an entry written by hand whose link has a fragment cites the item of that fragment."""
    from click.testing import CliRunner

    from newsletter.cli import cli
    from newsletter.collect.urls import identify, shared_link_identity
    from newsletter.config import Workspace
    from newsletter.models import RawItem
    from newsletter.store import Store
    from tests.conftest import KOM_SECTIONS, write_workspace
    from tests.test_editor_loop import FEEDS, SOURCE

    page = "https://www.stortinget.no/liste"

    def raw(url, title):
        return RawItem(url=url, title=title, summary=title, published=dt.date(2025, 5, 2), date_precision="day")

    root = write_workspace(tmp_path / "ws", FEEDS, KOM_SECTIONS)
    with Store(Workspace(root).db_path) as store:
        pairs = [
            (identify(page), raw(page, "Sakslisten")),
            (shared_link_identity(page, "sak-2"), raw(page, "Sak 2 på listen")),
            (shared_link_identity(page + "#sak-3", None), raw(page + "#sak-3", "Sak 3 på listen")),
            (shared_link_identity(page + "#høring", None), raw(page + "#høring", "Høring på listen")),
        ]
        store.upsert_items(SOURCE, pairs, dt.datetime(2025, 6, 30, tzinfo=dt.UTC))
        ids = {i.title: i.id for i in store.iter_items()}

    def run(*args):
        return CliRunner().invoke(cli, ["--workspace", str(root), *args], catch_exceptions=False)

    def listed():
        return {i["id"] for i in json.loads(run("items", "--issue", "2025-q2", "--all", "--json").stdout)}

    assert run("issue", "new", "2025-q2").exit_code == 0
    assert run("issue", "add", "2025-q2", ids["Sak 2 på listen"]).exit_code == 0
    assert page in (root / "issues" / "2025-q2.yaml").read_text(encoding="utf-8")  # its link: the shared page
    assert listed() == {ids["Sakslisten"], ids["Sak 3 på listen"], ids["Høring på listen"]}
    # `show` and the other commands read an address with a fragment as a link is read.
    assert json.loads(run("show", f"{page}#sak-3", "--json").stdout)["id"] == ids["Sak 3 på listen"]
    assert json.loads(run("show", f"{page}#høring", "--json").stdout)["id"] == ids["Høring på listen"]
    text = f"Se [sak 3]({page}#sak-3) og [høringen]({page}#høring)."  # Markdown escapes the ø: h%C3%B8ring
    noted = run("issue", "note", "2025-q2", "--section", "norway", "--heading", "Stortinget", "--text", text)
    assert noted.exit_code == 0 and "«Høring på listen» by its link" in noted.stdout, noted.output
    assert listed() == {ids["Sakslisten"]}
    assert run("issue", "add", "2025-q2", ids["Sakslisten"]).exit_code == 0


ARTICLE = "https://www.coe.int/en/web/anti-human-trafficking/news/-/asset_publisher/fX6Z/content/"
SLUG = "greta-issues-guidance-note-on-the-risks-of-trafficking"


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        # The same case with a display parameter more: the item's query is part of the link's.
        ("https://www.stortinget.no/no/Saker/Sak/?p=87609&target=case-status", "case"),
        ("http://stortinget.no/no/Saker/Sak?target=case-status&p=87609", "case"),
        # Not the document's own parameter: nothing to tell which case.
        ("https://www.stortinget.no/no/Saker/Sak/?target=case-status", None),
        ("https://www.stortinget.no/no/Saker/Sak/?p=1&target=case-status", None),
        ("https://www.stortinget.no/no/Saker/Sak/?p=87609&p=99999", None),  # two cases named: which?
        # The article under its short path: the same slug, on the same host.
        (f"https://www.coe.int/en/web/anti-human-trafficking/-/{SLUG}", "note"),
        (f"https://www.coe.int/-/{SLUG}?redirect=x", "note"),
        (f"https://www.osce.org/-/{SLUG}", None),  # another host
        ("https://www.coe.int/en/web/anti-human-trafficking/-/nyheter", None),  # no article's slug
        # Two items end in this slug: which one is not for the tool to guess.
        ("https://www.coe.int/-/annual-report-of-the-group-of-experts", None),
        # A yearly report's slug: another year's path is another report; a path naming no year agrees.
        ("https://www.fafo.no/nyheter/2025/arsrapport-om-menneskehandel-i-norge", None),
        ("https://www.fafo.no/-/arsrapport-om-menneskehandel-i-norge", "fafo 2026"),
    ],
)
def test_a_link_to_another_address_of_an_items_document_cites_it(tmp_path, link, expected):
    from newsletter.collect.urls import identify
    from newsletter.models import RawItem, Source
    from newsletter.store import Store

    source = Source(key="s", name="S", kind="rss", url="https://example.org/rss", section="norway", heading="S")
    urls = {
        "case": "https://www.stortinget.no/no/Saker/Sak/?p=87609",
        "other case": "https://www.stortinget.no/no/Saker/Sak/?p=87610",
        "note": ARTICLE + SLUG,
        "report 2022": ARTICLE + "annual-report-of-the-group-of-experts",
        "report 2023": "https://www.coe.int/en/web/greta/-/annual-report-of-the-group-of-experts",
        "fafo 2026": "https://www.fafo.no/nyheter/2026/arsrapport-om-menneskehandel-i-norge",
    }
    with Store(tmp_path / "n.db") as store:
        raws = [
            (identify(url), RawItem(url=url, title=name, summary="", published=dt.date(2025, 5, 2)))
            for name, url in urls.items()
        ]
        store.upsert_items(source, raws, dt.datetime(2025, 6, 30, tzinfo=dt.UTC))
        ids = {i.title: i.id for i in store.iter_items()}
        targets = ranking.link_targets(store, [link])
        assert targets.get(link) == (ids[expected] if expected else None)
        # Items known only from a decisions record are found the same way.
        recorded = {identify(url).key: f"r-{name}" for name, url in urls.items()}
        store.db.execute("DELETE FROM items")
        elsewhere = ranking.link_targets(store, [link], recorded)
        assert elsewhere.get(link) == (f"r-{expected}" if expected else None)


def test_before_any_decision_why_names_how_often_past_issues_cited_the_items_site():
    history = [
        PastEntry("2024-q2", "norway", "Fafo", "Rapport", "Fafo om arbeidsliv og utnytting", ("fafo.no",)),
        PastEntry("2024-q2", "norway", "Fafo", "Seminar", "Fafo-seminar om lønn", ("fafo.no",)),
        PastEntry("2024-q2", "norway", "Stortinget", "Forslag", "Representantforslag", ("stortinget.no",)),
    ]
    items = [
        Item(id="f1", source="fafo", url="https://www.fafo.no/a", title="Pensjon i små bedrifter", summary=""),
        Item(id="x1", source="x", url="https://x.no/b", title="Nytt veiledningsmateriell", summary=""),
    ]
    result = rank_items(items, [item_document(i) for i in items], history, expected_picks=1)
    why = {r.item.id: r.why for r in result.ranked}
    assert "its site cited in 2 past entries" in why["f1"]
    assert not any("site cited" in w for w in why["x1"])


def test_past_entries_read_each_issue_file_once_until_it_changes(tmp_path, monkeypatch):
    """Triage ranks after every decision, and every listing needs the whole history: the issue files
    are read again only when they change, in the process and, through the cache file, in the next."""
    import json
    import shutil

    from newsletter.config import Workspace
    from newsletter.curate import issuefile

    issues = tmp_path / "issues"
    issues.mkdir()
    shutil.copy(Path(__file__).parent.parent / "issues" / "2024-q2.yaml", issues)
    settings = Workspace(Path(__file__).parent.parent).settings()
    cache = tmp_path / "var" / ranking.PAST_ENTRIES_CACHE
    cache.parent.mkdir()
    reads = []
    real = issuefile.IssueDocument.load
    monkeypatch.setattr(issuefile.IssueDocument, "load", lambda path: reads.append(path) or real(path))
    first = ranking.past_entries(issues, settings, ["2024-q2"], cache)
    assert ranking.past_entries(issues, settings, ["2024-q2"], cache) == first and len(reads) == 1
    monkeypatch.setattr(ranking, "_PAST_ENTRIES", {})  # the next command: only the cache file is left
    assert ranking.past_entries(issues, settings, ["2024-q2"], cache) == first and len(reads) == 1
    path = issues / "2024-q2.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("GRETA", "Greta", 1), encoding="utf-8")
    again = ranking.past_entries(issues, settings, ["2024-q2"], cache)
    assert len(reads) == 2 and again != first
    # A ranking of an earlier quarter, with a shorter history, keeps the other files' entries.
    shutil.copy(path, issues / "2024-q3.yaml")
    ranking.past_entries(issues, settings, ["2024-q2", "2024-q3"], cache)
    ranking.past_entries(issues, settings, ["2024-q2"], cache)
    assert len(json.loads(cache.read_text(encoding="utf-8"))["files"]) == 2
    # A damaged or altered cache file is read past, never trusted: the issue file is read instead.
    for content in ("not json", json.dumps({"format": ranking._PAST_ENTRIES_FORMAT, "files": {"x": [{"issue": 1}]}})):
        cache.write_text(content, encoding="utf-8")
        monkeypatch.setattr(ranking, "_PAST_ENTRIES", {})
        assert ranking.past_entries(issues, settings, ["2024-q2"], cache) == again
    key = next(iter(json.loads(cache.read_text(encoding="utf-8"))["files"]))
    cache.write_text(
        json.dumps({"format": ranking._PAST_ENTRIES_FORMAT, "files": {key: [{"hosts": "x"}]}}), encoding="utf-8"
    )
    monkeypatch.setattr(ranking, "_PAST_ENTRIES", {})
    assert ranking.past_entries(issues, settings, ["2024-q2"], cache) == again
    # A cache an earlier version wrote (format 1: no `links`) is read afresh, however sound it looks.
    old = {f: getattr(again[0], f) for f in ranking._PAST_ENTRY_FIELDS[:5]} | {"hosts": [], "items": []}
    cache.write_text(json.dumps({"format": 1, "files": {key: [old]}}), encoding="utf-8")
    monkeypatch.setattr(ranking, "_PAST_ENTRIES", {})
    assert ranking.past_entries(issues, settings, ["2024-q2"], cache) == again


def test_draft_names_an_item_whose_source_left_feeds_yaml_and_how_to_file_it(tmp_path):
    """An item whose source is gone from feeds.yaml has no section to go to: draft says so, by name."""
    from click.testing import CliRunner

    from newsletter.cli import cli
    from newsletter.collect.urls import identify
    from newsletter.config import Workspace
    from newsletter.store import Store
    from tests.conftest import KOM_SECTIONS, write_workspace
    from tests.test_editor_loop import FEEDS, RAWS, SOURCE

    only_consultations = (
        FEEDS[: FEEDS.index("  - key: horinger")].replace("stortinget", "gone")
        + FEEDS[FEEDS.index("  - key: horinger") :]
    )
    root = write_workspace(tmp_path / "ws", only_consultations, KOM_SECTIONS)
    with Store(Workspace(root).db_path) as store:
        store.upsert_items(SOURCE, [(identify(r.url), r) for r in RAWS[:1]], dt.datetime(2025, 6, 30, tzinfo=dt.UTC))
        (item,) = store.iter_items()
        store.set_score(item.id, 20.0, ["menneskehandel"], "test")  # a candidate by its keywords alone
    run = CliRunner().invoke
    assert run(cli, ["--workspace", str(root), "issue", "new", "2025-q2"]).exit_code == 0
    drafted = run(cli, ["--workspace", str(root), "issue", "draft", "2025-q2"])
    assert drafted.exit_code == 0, drafted.output
    assert drafted.stdout.splitlines()[-1] == (
        f"left out {item.id} «{item.title}»: no source in feeds.yaml gives it a section "
        f"(`newsletter issue add 2025-q2 {item.id} --section KEY` files it)"
    )


def test_a_heading_made_for_one_story_or_another_kinds_place_is_only_the_same_storys():
    """Where to file an item: a heading the editor keeps (configured, or in two issues) for any close
    item of its site; one made for one story only for the same story told again; an entry with a
    deadline (a consultation) or an event date only for an item of that kind."""
    from newsletter.curate import model as model_module
    from newsletter.curate.model import Model
    from newsletter.models import Organisation, SectionConfig

    strategy = "Regjeringen vil lage en strategi mot menneskehandel og har bedt om innspill fra fagmiljøene"
    consultation = "Forslag til endringer i barnevernsloven om omsorg for enslige mindreårige på høring"
    history = [
        PastEntry("2024-q1", "highlights", "Ny strategi mot menneskehandel", "t", strategy, ("regjeringen.no",)),
        PastEntry("2024-q1", "norway", "Høringer", "t", consultation, ("regjeringen.no",), kind="consultation"),
        PastEntry(
            "2024-q1", "norway", "Politiske tiltak", "t", "Statsbudsjettet for 2025 er lagt fram", ("regjeringen.no",)
        ),
        PastEntry(
            "2024-q2", "norway", "Politiske tiltak", "t", "Ny lov om offentlige anskaffelser", ("regjeringen.no",)
        ),
    ]
    settings = Settings(
        section_configs=(
            SectionConfig("highlights", "Verdt å merke seg"),
            SectionConfig("norway", "Norge", ("Høringer",)),
        ),
        # An organisation's `headings` map one issue's headings onto its archive page: no sign of a kept one.
        archive=ArchiveSettings(
            organisations=(Organisation("Regjeringen", headings=("Ny strategi mot menneskehandel",)),)
        ),
    )
    kept = ranking.durable_places(history, settings)
    assert kept == [1, 2, 3]  # configured (Høringer), and in two issues (Politiske tiltak)
    # For the issue being written, a heading one past issue has is kept: with this one, two issues have it.
    keeps = ranking.kept_headings(history[:3], settings)
    assert not keeps("norway", "Politiske tiltak", False) and keeps("norway", "politiske  tiltak", True)
    assert not keeps("norway", "Representantforslag", True)  # in this issue alone: made for one issue, maybe
    assert not keeps("kom", "Politiske tiltak", True)  # in another section
    documents = [
        Document(strategy + " og lanserer arbeidet i dag", kind="news", host="regjeringen.no"),  # the story again
        Document(
            "Regjeringen vil lage en handlingsplan mot sosial dumping i byggebransjen",
            kind="news",
            host="regjeringen.no",
        ),
        Document("Regjeringen styrker omsorgen for enslige mindreårige", kind="news", host="regjeringen.no"),
        Document("Regjeringen styrker omsorgen for enslige mindreårige", kind="consultation", host="regjeringen.no"),
        Document(consultation + " og andre endringer", kind="news", host="regjeringen.no"),  # the same story
    ]
    model = Model(documents, history)
    # Close enough for a kept heading, not the same story.
    assert model_module.LIKE_THRESHOLD <= model.similarity[1, 0] < model_module.TWIN_THRESHOLD
    filed = [model.filed_like(n, kept) for n in range(len(documents))]
    assert filed[0] is history[0]  # the same story: its heading
    assert filed[1] is None  # another item of the site: not under one story's heading; no kept one is close
    assert model.filed_like(1) is history[0]  # as it was with every entry's place suggested
    # A consultation's place: a consultation's when close, another kind's only when the same story
    # (an item's kind is often guessed from its title).
    assert model_module.LIKE_THRESHOLD <= model.similarity[2, 1] < model_module.TWIN_THRESHOLD
    assert filed[2] is None and filed[3] is history[1] and filed[4] is history[1]


def test_the_cache_of_past_entries_of_an_earlier_format_is_read_afresh(tmp_path, monkeypatch):
    issues = tmp_path / "issues"
    issues.mkdir()
    (issues / "2024-q2.yaml").write_text(
        "id: 2024-q2\nsections:\n  norway:\n    - heading: Høringer\n      text: Et forslag på høring.\n"
        "      deadline: 2024-09-01\n",
        encoding="utf-8",
    )
    cache = tmp_path / "past-entries.json"
    settings = Settings()
    entries = ranking.past_entries(issues, settings, ["2024-q2"], cache)
    assert [e.kind for e in entries] == ["consultation"]
    data = json.loads(cache.read_text(encoding="utf-8"))
    for file_entries in data["files"].values():
        for entry in file_entries:
            del entry["kind"]
    cache.write_text(json.dumps(data | {"format": 2}), encoding="utf-8")  # as the version before `kind` wrote it
    monkeypatch.setattr(ranking, "_PAST_ENTRIES", {})
    assert [e.kind for e in ranking.past_entries(issues, settings, ["2024-q2"], cache)] == ["consultation"]


def test_why_leaves_out_a_sources_page_furniture_and_compounds_cut_short():
    """Words most of a source's pages share ("Sist oppdatert", "Send inn høringssvar") say nothing of why
    an item ranks high, nor does "lønns" of "lønns- og arbeidsvilkår"; the model still weighs them."""
    from newsletter.curate.model import Model

    footer = " Sist oppdatert 13.06.2022. Send inn høringssvar innen fristen."
    topics = [
        "Tvangsarbeid i landbruket: lønns- og arbeidsvilkår for sesongarbeidere",
        "Tvangsarbeid på byggeplasser i Oslo",
        "Tvangsarbeid i renholdsbransjen",
        "Endringer i skatteloven for næringsdrivende",
        "Nye regler for fiskekvoter",
        "Endringer i vegtrafikkloven",
        "Nye regler for barnehager",
        "Endringer i tolloven",
    ]
    documents = [Document(text=title + "." + footer, source="horinger", kind="consultation") for title in topics]
    documents += [
        Document(text=f"Fotballturnering nummer {n} i regnvær", source="sport", kind="news") for n in range(4)
    ]
    model = Model(documents, [])
    labels = {0: (1, 1.0), 1: (1, 1.0), 3: (0, 1.0), 8: (0, 1.0), 9: (0, 1.0)}
    model.scores(labels)
    why = model.terms(2)
    assert "tvangsarbeid" in why, why
    assert not {"sist", "oppdatert", "send", "høringssvar", "fristen", "innen"} & set(why), why
    assert "lønns" not in model.terms(0), model.terms(0)
    # A word the text has in full too is no half: "lønn" stays though "lønns-" (the same stem) is cut short.
    whole = Document(
        text="Tvangsarbeid: lønns- og arbeidsvilkår, og lønn under minstelønn." + footer, source="horinger"
    )
    weighs = {**labels, len(documents): (1, 1.0)}
    again = Model([*documents, whole, Document(text="Lønn i fotball", source="sport")], [])
    again.scores({**weighs, len(documents) + 1: (1, 1.0)})
    assert "lønn" in again.terms(len(documents)), again.terms(len(documents))
    # An item none of whose own words weighs toward a pick may still come from a source that does.
    assert model.source_weighs(2) and not model.source_weighs(10)


def test_why_quotes_a_past_title_in_guillemets_once():
    assert ranking.quoted("«Decoding the EU's most threatening criminal networks»") == (
        "«Decoding the EU's most threatening criminal networks»"
    )
    assert ranking.quoted("Ny rapport om «Ny tid»") == "«Ny rapport om «Ny tid»»"
    # Cut to the limit, the last character an ellipsis; a title as long as the limit is whole.
    assert ranking.quoted("Representantforslag om tiltak", 20) == "«Representantforslag…»"
    assert ranking.quoted("Representantforslag", 19) == "«Representantforslag»"


def _entry(text: str, heading: str = "Stortinget") -> PastEntry:
    return past_entry("2022-q1", "norway", Entry(heading=heading, title="", text=text))


VOCABULARY_HISTORY = [
    _entry("Stortinget behandlet i juni et forslag om omsorg for enslige mindreårige asylsøkere."),
    _entry("UDI la i juni fram nye tall for asylsøkere i mottak.", "UDI"),
    _entry("Bufdir skrev i juni om tilsyn med mindreårige i omsorgssentre.", "Bufdir"),
    _entry("Regjeringen vil bosette flere mindreårige flyktninger raskere.", "Regjeringen"),
]


def test_the_newsletters_vocabulary_lifts_an_item_like_no_single_entry_and_why_names_its_words():
    """Words past entries keep using ("mindreårige", "asylsøkere"), each entry about something else: an item
    using them scores above an item of the same shape about roads, and `why` names them; a date word
    ("juni"), which entries use for how they are written, weighs nothing."""
    from newsletter.curate.model import Model

    texts = [
        "Nye regler for mindreårige asylsøkere i statlige mottak",
        "Nye regler for kjøretøy i statlige tunneler",
        "Møte i juni om vedlikehold av tunneler",
        "Statlige regler for tunneler og veier",
        "Nye tall for kjøretøy på veiene",
    ]
    model = Model([Document(t, "s", "news", 0.0, "x.no") for t in texts], VOCABULARY_HISTORY)
    vocabulary = model.parts[:, 3]
    assert vocabulary[0] > vocabulary[1]
    assert set(model.vocabulary_terms(0)) >= {"mindreårige", "asylsøkere"}
    assert "juni" not in model.vocabulary_terms(2)
    assert model.vocabulary_terms(1) == []  # none of its words is more the entries' than the items'


def test_an_earlier_pick_is_weighed_without_the_entries_written_about_it():
    """The prior of an earlier quarter's pick leaves out the entries about it (`Document.own_entries`), as a
    candidate has none: else its own entry's words would vouch for it, and the classifier learn to trust
    the vocabulary more than it earns."""
    from newsletter.curate.model import Model

    history = [*VOCABULARY_HISTORY, _entry("Riksrevisjonen om kommunenes beredskapsplaner.", "Riksrevisjonen")]
    text = "Riksrevisjonen: kommunenes beredskapsplaner er mangelfulle"
    others = [
        Document(t, "s", "news", 0.0, "x.no")
        for t in ("Nye tall for kjøretøy", "Statlige tunneler", "Vedlikehold av veier", "Ny bro", "Ferjer", "Bompenger")
    ]
    as_candidate = Model([Document(text, "s", "report", 0.0, "x.no"), *others], history)
    as_pick = Model([Document(text, "s", "report", 0.0, "x.no", own_entries=(4,)), *others], history)
    assert as_pick._vocabulary()[0] < as_candidate._vocabulary()[0]


def _greta(n: int, title: str, summary: str) -> Item:
    return Item(
        id=f"g{n:04d}",
        source="coe-greta",
        url=f"https://www.coe.int/en/web/anti-human-trafficking/-/n{n}",
        title=title,
        summary=summary,
        kind="news",
        score=0.0,
        published=dt.date(2022, 5, 1),
    )


def test_the_next_of_a_series_the_editor_picks_is_lifted_by_its_nearest_pick_and_why_names_it(monkeypatch):
    """Editors follow series ("GRETA publishes its third report on …"): an item close to one pick weighs
    toward a pick through its cosine with that pick (`model.NEAREST_PICK_WEIGHT`), and `why` names it."""
    from newsletter.curate import model

    report = "GRETA's third evaluation report on {0} focuses on access to justice and effective remedies in {0}."
    picks = [
        _greta(n, f"GRETA publishes its third report on {c}", report.format(c))
        for n, c in enumerate(("Malta", "Cyprus", "Latvia"))
    ]
    not_picked = [
        _greta(10 + n, title, summary)
        for n, (title, summary) in enumerate(
            [
                ("GRETA holds its 42nd plenary meeting", "GRETA adopted country reports and discussed its work."),
                (
                    "Online course on trafficking for lawyers",
                    "The HELP course on trafficking is open to legal professionals.",
                ),
                (
                    "GRETA carries out evaluation visit to Greece",
                    "A GRETA delegation visited Greece to evaluate its action.",
                ),
                ("Round-table on trafficking in Rome", "A round-table on labour exploitation was held in Rome."),
            ]
        )
    ]
    candidates = [
        _greta(30, "GRETA publishes its third report on Iceland", report.format("Iceland")),
        _greta(
            31,
            "GRETA holds its 45th plenary meeting",
            "GRETA adopted country reports and discussed its work in Europe.",
        ),
        _greta(
            32,
            "GRETA carries out evaluation visit to Spain",
            "A GRETA delegation visited Spain to evaluate its action.",
        ),
        _greta(33, "Round-table on trafficking in Lisbon", "A round-table on labour exploitation was held in Lisbon."),
    ]
    labelled = [(item_document(i), 1, 1.0) for i in picks] + [(item_document(i), 0, 1.0) for i in not_picked]
    documents = [item_document(i) for i in candidates]
    result = rank_items(candidates, documents, (), labelled, decided_here=len(labelled))
    top = result.ranked[0]
    assert top.item.id == "g0030"
    assert any(w.startswith("close to a pick: «GRETA publishes its third report on") for w in top.why), top.why
    # Nothing unlike any pick is said to be close to one.
    assert not any(w.startswith("close to a pick") for r in result.ranked[1:] for w in r.why), result.ranked
    # The cosine is what lifted it: without its column the same item is less likely.
    monkeypatch.setattr(model, "NEAREST_PICK_WEIGHT", 0.0)
    without = rank_items(candidates, documents, (), labelled, decided_here=len(labelled))
    assert without.ranked[0].item.id == "g0030"
    assert top.probability > without.ranked[0].probability + 0.02, (top.probability, without.ranked[0].probability)


def test_a_pick_is_measured_against_the_other_picks_not_itself():
    """A training pick's nearest pick is another: measured against itself (cosine 1) every pick would look
    like the next of a series, and the classifier learn the column says nothing."""
    from newsletter.curate.model import Model

    texts = [
        "GRETA report on Malta access to justice",
        "GRETA report on Cyprus access to justice",
        "Ny bro over fjorden",
    ]
    built = Model([Document(t, "s", "news", 0.0, "x.no") for t in texts], ())
    built._nearest_picks([0, 1, 2])
    assert list(built.nearest_pick[:2]) == [1, 0]
    assert 0.0 < built.nearest_pick_cosine[0] < 1.0
    assert built.nearest_pick_cosine[2] < built.nearest_pick_cosine[0]


def test_a_keyword_term_that_lowered_the_score_is_said_to_count_against_never_listed_as_a_reason():
    """Collection's negative terms ("-narkotika") lower the keyword score; bare among the reasons for a
    pick, an editor read "-våpen" as one."""
    seized = replace(
        _greta(40, "Ulovlige våpen og narkotika beslaglagt", "Menneskehandel mistenkt."),
        score=1.0,
        terms=("menneskehandel", "-narkotika", "-våpen"),
    )
    plain = replace(_greta(41, "GRETA report", ""), score=2.0, terms=("GRETA",))
    result = rank_items([seized, plain], [item_document(seized), item_document(plain)])
    assert not result.learned
    assert {r.item.id: r.why for r in result.ranked} == {
        "g0041": ["GRETA"],
        "g0040": ["menneskehandel", "counts against: narkotika, våpen"],
    }
    # Once the ranking has learned, the keyword terms stand in only as reasons for a pick.
    assert ranking.keyword_reasons(("-våpen",), 3, against=False) == []
    assert ranking.keyword_reasons(("a", "b", "-c", "d"), 2, against=False) == ["a", "b"]


def test_a_records_source_habit_yields_to_this_quarters_decisions(monkeypatch):
    """Another quarter's record says the editor never picks from a source; this quarter the editor has
    picked from it twice. Its source column is then shared at SOURCE_SHARED with a column of this
    quarter's own, so the source's next item ranks higher than with one column for all (the habit
    of 2022, which cited no consultation, held 2024's consultation picks down); with no other
    quarter among the documents the model is exactly the one-column model."""
    from newsletter.curate import model as model_module

    texts = [
        "Høring om endringer i forskrift om {} i kommunene",
        "Nyhet om {} fra departementet i dag",
    ]
    topics = ["barnevern", "skole", "vei", "helse", "jordbruk", "fiske", "skatt", "energi", "post", "kultur"]
    # This quarter: one undecided consultation, two consultations picked, two news items skipped.
    quarter = [
        Document(texts[0].format("krisesentre"), source="horinger", kind="consultation"),
        Document(texts[0].format("barnevern"), source="horinger", kind="consultation"),
        Document(texts[0].format("partnerdrap"), source="horinger", kind="consultation"),
        Document(texts[1].format("vei"), source="nyheter", kind="news"),
        Document(texts[1].format("skatt"), source="nyheter", kind="news"),
    ]
    labels = {0: (0, 0.05), 1: (1, 1.0), 2: (1, 1.0), 3: (0, 1.0), 4: (0, 1.0)}
    # The record of another quarter: every consultation left out, the news items picked.
    record = [Document(texts[0].format(t), source="horinger", kind="consultation") for t in topics]
    record += [Document(texts[1].format(t), source="nyheter", kind="news") for t in topics]
    labels |= {len(quarter) + n: (0, 1.0) for n in range(len(topics))}
    labels |= {len(quarter) + len(topics) + n: (1, 1.0) for n in range(len(topics))}
    documents = [*quarter, *record]
    one_model = model_module.Model(documents, [], quarter=len(documents))
    one_column = one_model.scores(labels)
    split = model_module.Model(documents, [], quarter=len(quarter))
    scores = split.scores(labels)
    assert scores[0] > one_column[0] + 0.1
    assert split.source_weighs(0) and not split.source_weighs(len(quarter))  # this quarter's picks, the record's skips
    # This quarter's copy of the 2 source and 2 kind columns; none when every document is this quarter's.
    assert split._matrix().shape[1] == one_model._matrix().shape[1] + 4
    # Then SOURCE_SHARED changes nothing: the model is the one from before the split existed.
    mine = {n: labels[n] for n in range(len(quarter))}
    scores_alone = model_module.Model(quarter, []).scores(mine)
    monkeypatch.setattr(model_module, "SOURCE_SHARED", 0.1)
    assert model_module.Model(quarter, []).scores(mine) == pytest.approx(scores_alone)
    assert model_module.Model(documents, [], quarter=len(quarter)).scores(labels)[0] != pytest.approx(scores[0])


def test_words_are_stemmed_by_snowballs_c_stemmers_with_the_pure_python_stems():
    """PyStemmer is a dependency so that `why`, which stems every listed item's words on each listing,
    does not pay for pure-Python stemming; snowballstemmer uses it when installed. Same stems either way:
    the cached features of a store do not depend on which one computed them."""
    from snowballstemmer.english_stemmer import EnglishStemmer
    from snowballstemmer.norwegian_stemmer import NorwegianStemmer

    from newsletter.curate.model import _StemmedWords

    stemmed = _StemmedWords()
    assert type(stemmed._nb).__module__ == "Stemmer", type(stemmed._nb)
    words = (
        "menneskehandelsarbeidet menneskehandel arbeidslivskriminalitet utnyttelse utnytting tvangsarbeid "
        "människohandel människoexploatering menneskehandelen trafficking exploitation rapporteurs "
        "høringsnotat barnevernsloven æreskriminalitet voldsutsatte"
    ).split()
    nb, en = NorwegianStemmer(), EnglishStemmer()
    assert [stemmed.stem(w) for w in words] == [en.stemWord(nb.stemWord(w)) for w in words]
    assert stemmed.stem("menneskehandelsarbeidet") != stemmed.stem("menneskehandel")  # why char n-grams too
