"""The item store: migrations, WAL, idempotent upserts, precedence of sources, id collisions, timestamps in UTC."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest

from newsletter.collect.urls import dedup_key, identify, item_id, reference_key
from newsletter.errors import NotFound, StoreError
from newsletter.models import ItemIdentity, RawItem, Source
from newsletter.store import MIGRATIONS, Store
from newsletter.store.db import TIMESTAMP_COLUMNS

NOW = dt.datetime(2022, 7, 11, 8, 15, tzinfo=dt.UTC)
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
    with pytest.raises(StoreError, match="not a usable database .*keep a copy of it"):
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


def test_an_ambiguous_prefix_names_the_items_it_matches_and_wildcards_match_nothing(tmp_path):
    with Store(tmp_path / "n.db") as store:
        seen = store.upsert_items(
            FEED, [raw("https://a.test/news/1", title="Første"), raw("https://a.test/news/2", title="Andre")], NOW
        ).seen_ids
        # Two ids sharing a prefix, as a store of thousands of items has (foreign keys off to rename them).
        store.db.execute("PRAGMA foreign_keys = OFF")
        with store.transaction():
            for old, new in zip(seen, ("abcd111", "abcd222"), strict=True):
                store.db.execute("UPDATE items SET id = ? WHERE id = ?", (new, old))
                store.db.execute("UPDATE item_sources SET item_id = ? WHERE item_id = ?", (new, old))
        store.db.execute("PRAGMA foreign_keys = ON")
        with pytest.raises(NotFound) as raised:
            store.get_item("abcd")
        assert str(raised.value) == (
            "'abcd' matches several items: abcd111 «Første»; abcd222 «Andre»; type more of the id"
        )
        assert store.get_item("abcd2").title == "Andre"
        for typed in ("abc_", "ab%d", "abc\\"):
            with pytest.raises(NotFound, match="no item"):
                store.get_item(typed)


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


def test_the_keyword_order_is_read_through_its_index_not_sorted(tmp_path):
    """With the index, `items --limit 20` stops after 20 rows; a sort would read the whole store first."""
    with Store(tmp_path / "n.db") as store:
        statements: list[str] = []
        store.db.set_trace_callback(statements.append)  # the SQL as run, parameters bound
        list(store.iter_items(statuses=("new", "picked"), order="keyword", limit=20))
        store.db.set_trace_callback(None)
        query = next(sql for sql in statements if "ORDER BY" in sql)
        plan = [row[-1] for row in store.db.execute("EXPLAIN QUERY PLAN " + query)]
    assert any("USING INDEX items_keyword" in step for step in plan), plan
    assert not any("TEMP B-TREE" in step for step in plan), plan


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


def test_a_schema_2_store_is_migrated_to_utc_timestamps(tmp_path):
    """Schema 2 stored collection's times with Oslo offsets and a ledger row's next attempt as epoch
    seconds; opening it rewrites every timestamp as UTC ISO 8601 (the same instants, now in time order
    as text), and leaves calendar dates and HTTP validators alone."""
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    for script in MIGRATIONS[:2]:
        assert isinstance(script, str)
        old.executescript(script)
    old.executescript(
        """
        INSERT INTO items (id, key, url, source, title, published, first_seen, fetched_at, updated_at) VALUES
            ('a1', 'k1', 'https://a.test/1', 'feed', 'Seen 00:30 in Oslo', '2024-04-01',
             '2024-04-01T00:30:00+02:00', '2024-04-02T09:00:00+02:00', NULL),
            ('a2', 'k2', 'https://a.test/2', 'feed', 'Seen 23:00 UTC', NULL,
             '2024-03-31T23:00:00+00:00', '2024-03-31T23:00:00+00:00', '2024-04-01T01:00:00.250000+02:00');
        INSERT INTO item_sources (item_id, source, link, last_seen) VALUES ('a1', 'feed', 'https://a.test/1',
            '2024-04-02T09:00:00+02:00');
        INSERT INTO fetch_state (source, last_modified, last_attempt, last_success, newest, newest_seen_at) VALUES
            ('feed', 'Mon, 11 Jul 2022 08:00:00 GMT', '2024-01-15T08:00:00+01:00', '2024-01-15T08:00:00+01:00',
             '2024-01-14', '2024-01-15T08:00:00+01:00');
        INSERT INTO pages (url, published, fetched_at) VALUES ('https://a.test/1', '2024-03-30',
            '2024-04-02T09:00:00+02:00');
        INSERT INTO contacts (email, email_key, consent_date, status, status_changed_at, added_at) VALUES
            ('kari@example.no', 'kari@example.no', '2024-12-24', 'bounced', '2025-03-02T12:00:00+00:00',
             '2025-03-01T12:00:00+00:00');
        INSERT INTO suppressed (hash, reason, at) VALUES ('ab12', 'bounced', '2025-03-02T12:00:00+00:00');
        INSERT INTO sends (issue, email, position, state, next_attempt_at, updated_at) VALUES
            ('2024-q4', 'kari@example.no', 0, 'temp_failed', '1733017753.123456', '2024-12-01T01:49:13+00:00');
        PRAGMA user_version = 2;
        """
    )
    old.close()

    with Store(path) as store:
        assert store.schema_version == len(MIGRATIONS)
        for table, columns in TIMESTAMP_COLUMNS.items():
            for column in columns:
                for (text,) in store.db.execute(f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL"):
                    assert len(text) == 32 and text.endswith("+00:00"), (table, column, text)
        first = store.get_item("a1")
        assert first.first_seen == dt.datetime(2024, 3, 31, 22, 30, tzinfo=dt.UTC)
        assert first.first_seen.utcoffset() == dt.timedelta(0) and first.published == dt.date(2024, 4, 1)
        assert store.get_item("a2").first_seen == dt.datetime(2024, 3, 31, 23, 0, tzinfo=dt.UTC)
        # As text, the Oslo 00:30 sorted after 23:00 UTC; as the one form it sorts by time.
        assert [r[0] for r in store.db.execute("SELECT id FROM items ORDER BY first_seen")] == ["a1", "a2"]
        assert store.db.execute("SELECT updated_at FROM items WHERE id = 'a2'").fetchone()[0] == (
            "2024-03-31T23:00:00.250000+00:00"
        )
        assert store.db.execute("SELECT last_seen FROM item_sources").fetchone()[0] == (
            "2024-04-02T07:00:00.000000+00:00"
        )
        state = store.get_state("feed")
        assert state.last_success == state.last_attempt == dt.datetime(2024, 1, 15, 7, 0, tzinfo=dt.UTC)
        assert state.newest_seen_at == dt.datetime(2024, 1, 15, 7, 0, tzinfo=dt.UTC)
        assert (state.newest, state.last_modified) == (dt.date(2024, 1, 14), "Mon, 11 Jul 2022 08:00:00 GMT")
        page = store.get_page("https://a.test/1")
        assert page is not None and page.published == dt.date(2024, 3, 30)
        assert page.fetched_at == dt.datetime(2024, 4, 2, 7, 0, tzinfo=dt.UTC)
        (contact,) = store.list_contacts()
        assert contact.consent_date == dt.date(2024, 12, 24)
        assert store.contact_status_since(contact.id) == dt.datetime(2025, 3, 2, 12, 0, tzinfo=dt.UTC)
        assert store.db.execute("SELECT at FROM suppressed").fetchone()[0] == "2025-03-02T12:00:00.000000+00:00"
        assert store.db.execute("SELECT next_attempt_at FROM sends").fetchone()[0] == (
            "2024-12-01T01:49:13.123456+00:00"
        )
        ((_, _, due),) = store.queued("2024-q4", ["temp_failed"])
        assert due == pytest.approx(1733017753.123456, abs=1e-6)


def test_timestamps_are_written_in_one_form_and_a_naive_time_is_refused(tmp_path):
    """Any zone in, UTC with microseconds out; a datetime without an offset names no instant."""
    oslo = dt.datetime(2024, 4, 1, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    with Store(tmp_path / "n.db") as store:
        store.upsert_items(FEED, [raw()], oslo)
        assert tuple(store.db.execute("SELECT first_seen, fetched_at FROM items").fetchone()) == (
            "2024-03-31T22:30:00.000000+00:00",
            "2024-03-31T22:30:00.000000+00:00",
        )
        with pytest.raises(ValueError, match="no UTC offset"):
            store.upsert_items(FEED, [raw()], dt.datetime(2024, 4, 1, 0, 30))


def store_at_schema(path, version: int) -> sqlite3.Connection:
    """A database as a tool of schema `version` left it (migrations 1 to `version` applied), still open."""
    db = sqlite3.connect(path, isolation_level=None)
    for migration in MIGRATIONS[:version]:
        if callable(migration):
            migration(db)
        else:
            db.executescript(migration)
    db.execute(f"PRAGMA user_version = {version}")
    return db


def test_migration_5_rekeys_items_to_the_normalised_canonical_url(tmp_path):
    """Keys stored before RFC 3986 normalisation are recomputed, ids kept; two rows that turn out to be one
    document keep both ids, and the one the editor decided on is the one collects find from now on."""
    path = tmp_path / "old.db"
    old = store_at_schema(path, 4)
    old.executescript(
        """
        INSERT INTO items (id, key, url, source, title, status, first_seen, fetched_at) VALUES
            ('lower00', 'regjeringen.no/no/h%c3%b8ring', 'https://www.regjeringen.no/no/h%c3%b8ring/', 'feed',
             'Høring (picked)', 'picked', '2024-05-02T10:00:00.000000+00:00', '2024-05-02T10:00:00.000000+00:00'),
            ('upper00', 'regjeringen.no/no/h%C3%B8ring', 'https://www.regjeringen.no/no/h%C3%B8ring/', 'listing',
             'Høring (seen first)', 'new', '2024-05-01T10:00:00.000000+00:00', '2024-05-01T10:00:00.000000+00:00'),
            ('idnhost', 'bølgen.no/a/./b', 'https://bølgen.no/a/./b', 'feed',
             'IDN', 'new', '2024-05-01T10:00:00.000000+00:00', '2024-05-01T10:00:00.000000+00:00'),
            ('plain00', 'a.test/x', 'https://a.test/x', 'feed',
             'Plain', 'new', '2024-05-01T10:00:00.000000+00:00', '2024-05-01T10:00:00.000000+00:00');
        INSERT INTO pages (url, text, fetched_at) VALUES ('https://bølgen.no/a/./b', 'cached',
            '2024-05-01T10:00:00.000000+00:00');
        PRAGMA user_version = 4;
        """
    )
    old.close()
    with Store(path) as store:
        assert store.schema_version == len(MIGRATIONS)
        keys = dict(store.db.execute("SELECT id, key FROM items"))
        assert keys == {
            "lower00": "regjeringen.no/no/h%C3%B8ring",
            "upper00": "regjeringen.no/no/h%C3%B8ring#upper00",
            "idnhost": "xn--blgen-vua.no/a/b",
            "plain00": "a.test/x",
        }
        assert store.get_item("idnhost").url == "https://xn--blgen-vua.no/a/b"
        assert store.get_page("https://xn--blgen-vua.no/a/b").text == "cached"
        # The next collect finds the decided item under any spelling, and stores no new one.
        found = store.upsert_items(FEED, [raw("https://www.regjeringen.no/no/høring/", "Høring")], NOW)
        assert (found.new, found.seen_ids) == (0, ["lower00"])
        found = store.upsert_items(FEED, [raw("https://BØLGEN.no/a/b", "IDN")], NOW)
        assert (found.new, found.seen_ids) == (0, ["idnhost"])
        assert store.get_item("x", key=reference_key("https://www.regjeringen.no/no/h%c3%b8ring/")).id == "lower00"
        assert store.get_item("upper00").status == "new"  # still there, by its id
