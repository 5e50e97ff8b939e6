"""The item store: migrations, WAL, idempotent upserts, precedence of sources, id collisions."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest

from newsletter.collect.urls import dedup_key, identify, item_id, reference_key
from newsletter.errors import NotFound, StoreError
from newsletter.models import ItemIdentity, RawItem, Source
from newsletter.store import MIGRATIONS, Store

NOW = dt.datetime(2022, 7, 11, 8, 15)
FEED = Source(key="feed", name="Feed", kind="rss", url="https://a.test/rss", section="norway", heading="A")
LISTING = Source(
    key="listing",
    name="Listing",
    kind="html",
    url="https://b.test/",
    section="international",
    heading="B",
    item_kind="report",
)


def raw(url="https://a.test/news/1?utm_source=rss", title="Tittel", **kw):
    """An item as collection hands it to the store: its identity and what the parser read."""
    return identify(url), RawItem(url=url, title=title, **kw)


def test_new_store_is_migrated_and_in_wal_mode(tmp_path):
    with Store(tmp_path / "var" / "n.db") as store:
        assert store.schema_version == len(MIGRATIONS)
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"items", "item_sources", "fetch_state", "pages"} <= tables


def test_store_from_a_newer_tool_is_refused(tmp_path):
    path = tmp_path / "n.db"
    Store(path).close()
    sqlite3.connect(path).execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(StoreError, match="newer version of newsletter"):
        Store(path)


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path):
    path = tmp_path / "n.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a usable item store"):
        Store(path)


def test_upsert_is_idempotent_and_keeps_status(tmp_path):
    with Store(tmp_path / "n.db") as store:
        first = store.upsert_items(FEED, [raw(published=dt.date(2022, 6, 1), date_precision="day")], NOW)
        assert (first.new, first.updated, first.unchanged) == (1, 0, 0)
        ident = first.seen_ids[0]
        assert store.set_status([ident], "skipped") == 1
        again = store.upsert_items(
            FEED,
            [raw(url="https://a.test/news/1?utm_medium=email", published=dt.date(2022, 6, 1), date_precision="day")],
            NOW,
        )
        assert (again.new, again.updated, again.unchanged) == (0, 0, 1)
        changed = store.upsert_items(FEED, [raw(title="Ny tittel", published=dt.date(2022, 6, 1))], NOW)
        assert (changed.new, changed.updated) == (0, 1) and changed.changed_ids == [ident]
        item = store.get_item(ident)
        assert item.title == "Ny tittel" and item.status == "skipped" and item.url == "https://a.test/news/1"
        assert store.count_items() == 1


def test_other_source_fills_gaps_but_does_not_overwrite(tmp_path):
    with Store(tmp_path / "n.db") as store:
        precedence = {"feed": 0, "listing": 1}
        store.upsert_items(FEED, [raw(summary="")], NOW, precedence)
        store.upsert_items(
            LISTING,
            [
                raw(
                    url="http://www.a.test/news/1/",
                    title="Annen tittel",
                    summary="Fra listen",
                    published=dt.date(2022, 5, 2),
                )
            ],
            NOW,
            precedence,
        )
        item = store.get_item(item_id(dedup_key("https://a.test/news/1")))
        assert item.title == "Tittel"  # the primary source's title stays
        assert item.summary == "Fra listen" and item.published == dt.date(2022, 5, 2)  # gaps filled
        assert item.kind == "news"  # the listing's default kind says nothing about this page
        assert item.sources == ("feed", "listing")


def test_earlier_source_in_feeds_yaml_takes_over(tmp_path):
    with Store(tmp_path / "n.db") as store:
        precedence = {"feed": 0, "listing": 1}
        store.upsert_items(LISTING, [raw(title="Fra listen")], NOW, precedence)
        result = store.upsert_items(FEED, [raw(title="Fra feeden")], NOW, precedence)
        assert result.updated == 1
        item = store.get_item(result.seen_ids[0])
        assert item.source == "feed" and item.title == "Fra feeden"


def test_colliding_short_ids_are_lengthened(tmp_path):
    """The store gives a new item the first id of its identity that no other item has."""
    ids = tuple(("same" + "x" * 10)[:length] for length in range(7, 13))
    first, second = (ItemIdentity(f"https://a.test/{n}", f"a.test/{n}", ids) for n in (1, 2))
    with Store(tmp_path / "n.db") as store:
        result = store.upsert_items(FEED, [(first, raw()[1]), (second, raw()[1])], NOW)
        assert sorted(result.seen_ids) == ["samexxx", "samexxxx"]


def test_identity_lengthens_ids_from_seven_to_twelve_characters():
    identity = identify("https://www.a.test/news/1/?utm_source=rss#top")
    assert identity.url == "https://www.a.test/news/1/"
    assert identity.key == dedup_key(identity.url) == "a.test/news/1"
    assert identity.ids == tuple(item_id(identity.key, n) for n in range(7, 13))


def test_get_item_by_prefix_url_and_errors(tmp_path):
    with Store(tmp_path / "n.db") as store:
        ident = store.upsert_items(FEED, [raw()], NOW).seen_ids[0]
        assert store.get_item(ident[:5].upper()).id == ident
        url = "https://www.a.test/news/1#top"
        assert store.get_item(url, reference_key(url)).id == ident
        with pytest.raises(NotFound, match="no item 'nothing'"):
            store.get_item("nothing")


def test_iter_items_filters(tmp_path):
    with Store(tmp_path / "n.db") as store:
        store.upsert_items(
            FEED,
            [
                raw(url="https://a.test/old", published=dt.date(2022, 3, 31)),
                raw(url="https://a.test/in", published=dt.date(2022, 4, 1)),
                raw(url="https://a.test/undated"),
            ],
            NOW,
        )
        store.upsert_items(LISTING, [raw(url="https://b.test/in", published=dt.date(2022, 6, 30))], NOW)
        quarter = {i.url for i in store.iter_items(dt.date(2022, 4, 1), dt.date(2022, 6, 30))}
        assert quarter == {"https://a.test/in", "https://a.test/undated", "https://b.test/in"}
        dated_only = {i.url for i in store.iter_items(dt.date(2022, 4, 1), None, include_undated=False)}
        assert dated_only == {"https://a.test/in", "https://b.test/in"}
        assert {i.url for i in store.iter_items(sources=["listing"])} == {"https://b.test/in"}


def test_iter_items_in_keyword_order_and_newest_first_with_a_limit(tmp_path):
    """The store sorts as `keyword_order` does (score, newest, undated last, id), so the inbox streams."""
    from newsletter.curate.ranking import keyword_order

    with Store(tmp_path / "n.db") as store:
        dates = [dt.date(2022, 4, 2), None, dt.date(2022, 5, 1), dt.date(2022, 4, 2), None, dt.date(2022, 6, 9)]
        store.upsert_items(FEED, [raw(url=f"https://a.test/{n}", published=d) for n, d in enumerate(dates)], NOW)
        for n, item in enumerate(sorted(store.iter_items(), key=lambda i: i.url)):
            store.set_score(item.id, [2.0, 2.0, 0.5, 2.0, 0.5, 0.0][n], [], "v1")
        every = list(store.iter_items())
        assert [i.id for i in store.iter_items(order="keyword")] == [i.id for i in sorted(every, key=keyword_order)]
        newest = [i.published for i in store.iter_items(order="newest")]
        assert newest == [
            dt.date(2022, 6, 9),
            dt.date(2022, 5, 1),
            dt.date(2022, 4, 2),
            dt.date(2022, 4, 2),
            None,
            None,
        ]
        assert len(list(store.iter_items(order="keyword", limit=2))) == 2


def test_fetch_state_round_trip(tmp_path):
    from newsletter.models import FetchState

    with Store(tmp_path / "n.db") as store:
        assert store.get_state("feed").consecutive_failures == 0
        store.save_state(
            FetchState(
                source="feed",
                etag='"x"',
                consecutive_failures=2,
                last_error="HTTP 500",
                newest=dt.date(2022, 6, 1),
                warnings=("w1",),
            ),
            "https://a.test/rss",
        )
        state = store.get_state("feed")
        assert (state.etag, state.consecutive_failures, state.newest, state.warnings) == (
            '"x"',
            2,
            dt.date(2022, 6, 1),
            ("w1",),
        )
        assert store.state_url("feed") == "https://a.test/rss"


def test_a_store_in_memory_is_one_line():
    store = Store(":memory:")
    assert store.schema_version == len(MIGRATIONS) and store.in_memory
    assert store.upsert_items(FEED, [raw()], NOW).new == 1
    assert store.count_items() == 1
    store.close()
