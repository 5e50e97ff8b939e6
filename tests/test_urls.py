"""Canonical URLs, the cross-source de-duplication key, and short item ids."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from newsletter.collect.urls import ID_ALPHABET, address_problem, canonical_url, dedup_key, item_id

REGJERINGEN = "https://www.regjeringen.no/no/aktuelt/styrket-innsats/id2918001/"


@pytest.mark.parametrize(
    "url, expected",
    [
        # tracking parameters, as regjeringen.no's feed appends them
        (REGJERINGEN + "?utm_source=rss&utm_medium=aktuelt-nyheter&utm_campaign=regjeringen", REGJERINGEN),
        (REGJERINGEN + "?UTM_Source=rss", REGJERINGEN),
        ("https://www.example.org/a?fbclid=IwAR0abc", "https://www.example.org/a"),
        ("https://www.example.org/a?gclid=xyz&mc_cid=1&mc_eid=2", "https://www.example.org/a"),
        # Liferay (coe.int) navigation state
        (
            "https://www.coe.int/en/web/anti-human-trafficking/-/greta-report?inheritRedirect=false"
            "&redirect=https%3A%2F%2Fwww.coe.int%2Fen%2Fweb%2Fanti-human-trafficking%2Fnews",
            "https://www.coe.int/en/web/anti-human-trafficking/-/greta-report",
        ),
        # fragments, default ports, case of scheme and host
        ("https://www.example.org/a#section-2", "https://www.example.org/a"),
        ("https://www.example.org:443/a", "https://www.example.org/a"),
        ("http://www.example.org:80/a", "http://www.example.org/a"),
        ("HTTPS://WWW.Regjeringen.NO/no/Aktuelt/", "https://www.regjeringen.no/no/Aktuelt/"),  # path case kept
        ("https://www.example.org", "https://www.example.org/"),
        ("  https://www.example.org/a  ", "https://www.example.org/a"),
        # meaningful parameters stay
        (
            "https://www.stortinget.no/no/Saker-og-publikasjoner/Saker/Sak/?p=87609",
            "https://www.stortinget.no/no/Saker-og-publikasjoner/Saker/Sak/?p=87609",
        ),
        (
            "https://www.stortinget.no/no/Saker-og-publikasjoner/Saker/Sak/?p=87609&utm_source=x#top",
            "https://www.stortinget.no/no/Saker-og-publikasjoner/Saker/Sak/?p=87609",
        ),
        ("https://www.osce.org/press-releases?page=1&utm_medium=email", "https://www.osce.org/press-releases?page=1"),
    ],
)
def test_canonical_url(url, expected):
    assert canonical_url(url) == expected


def test_canonical_url_keeps_a_non_default_port():
    assert canonical_url("https://www.example.org:8443/a") == "https://www.example.org:8443/a"
    assert canonical_url("http://www.example.org:443/a") == "http://www.example.org:443/a"


def test_canonical_url_keeps_meaningful_query_values():
    url = canonical_url(
        "https://www.regjeringen.no/no/rss/Rss/2581966/?documentType=aktuelt/nyheter&ownerid=466&utm_source=rss"
    )
    query = parse_qs(urlsplit(url).query)
    assert query == {"documentType": ["aktuelt/nyheter"], "ownerid": ["466"]}
    assert urlsplit(url).path == "/no/rss/Rss/2581966/"


def test_canonical_url_is_idempotent():
    for url in (
        REGJERINGEN + "?utm_source=rss#x",
        "HTTP://Example.org:80/a b/?q=æ&fbclid=1",
        "https://www.regjeringen.no/no/rss/Rss/2581966/?documentType=dokumenter/h%C3%B8ringer",
    ):
        once = canonical_url(url)
        assert canonical_url(once) == once


@pytest.mark.parametrize(
    "a, b",
    [
        ("http://www.fafo.no/zoo-publikasjoner/rapport", "https://fafo.no/zoo-publikasjoner/rapport"),
        ("https://www.fafo.no/zoo-publikasjoner/rapport/", "https://fafo.no/zoo-publikasjoner/rapport"),
        ("https://fafo.no/zoo-publikasjoner/rapport#innhold", "https://fafo.no/zoo-publikasjoner/rapport"),
        (
            "https://WWW.FAFO.NO/zoo-publikasjoner/rapport?utm_source=nyhetsbrev",
            "https://fafo.no/zoo-publikasjoner/rapport",
        ),
        ("https://www.example.org:443/", "http://example.org"),
    ],
)
def test_dedup_key_equates_the_same_document(a, b):
    assert dedup_key(a) == dedup_key(b)


@pytest.mark.parametrize(
    "a, b",
    [
        ("https://fafo.no/zoo-publikasjoner/rapport-1", "https://fafo.no/zoo-publikasjoner/rapport-2"),
        ("https://fafo.no/a/b", "https://fafo.no/a"),
        ("https://www.stortinget.no/Sak/?p=87609", "https://www.stortinget.no/Sak/?p=87610"),
        ("https://fafo.no/a", "https://fafo.no.example.org/a"),
        ("https://fafo.no/a", "https://fafo.no:8080/a"),
    ],
)
def test_dedup_key_keeps_different_documents_apart(a, b):
    assert dedup_key(a) != dedup_key(b)


def test_dedup_key_has_no_scheme_or_www():
    key = dedup_key("https://www.fafo.no/zoo-publikasjoner/rapport/")
    assert key == "fafo.no/zoo-publikasjoner/rapport"


def test_item_id_shape_and_stability():
    key = dedup_key(REGJERINGEN)
    first = item_id(key)
    assert len(first) == 7
    assert set(first) <= set(ID_ALPHABET)
    assert ID_ALPHABET == "0123456789abcdefghjkmnpqrstvwxyz"
    assert not set(first) & set("ilou")
    assert item_id(key) == first  # stable across calls
    assert item_id(dedup_key(REGJERINGEN + "?utm_source=rss")) == first


def test_item_id_differs_for_different_keys():
    keys = [f"example.org/news/{n}" for n in range(500)]
    ids = {item_id(k) for k in keys}
    assert len(ids) == len(keys)
    assert all(len(i) == 7 and set(i) <= set(ID_ALPHABET) for i in ids)


@pytest.mark.parametrize("length", [8, 10, 12])
def test_item_id_with_a_length(length):
    long = item_id("fafo.no/rapport", length)
    assert len(long) == length
    assert set(long) <= set(ID_ALPHABET)
    assert item_id("fafo.no/rapport", length) == long
    assert item_id("fafo.no/rapport-2", length) != long


@pytest.mark.parametrize(
    "url, expected",
    [
        ("http://[::1]:8080/x", "http://[::1]:8080/x"),
        ("https://a.test/a%2Fb%25c", "https://a.test/a%2Fb%25c"),
        ("https://a.test/p?id", "https://a.test/p?id"),
        ("https://a.test/p?x=1&utm_source=y&z", "https://a.test/p?x=1&z"),
    ],
)
def test_canonical_url_keeps_what_the_source_wrote(url, expected):
    assert canonical_url(url) == expected


HORING = "https://www.regjeringen.no/no/dokumenter/h%C3%B8ring-om-menneskehandel/id2900004/"


@pytest.mark.parametrize(
    "url, expected",
    [
        # RFC 3986 §6.2.2.1: the case of percent-escapes
        ("https://www.regjeringen.no/no/dokumenter/h%c3%b8ring-om-menneskehandel/id2900004/", HORING),
        ("https://www.example.org/s?q=s%c3%b8k&x=%2f", "https://www.example.org/s?q=s%C3%B8k&x=%2F"),
        # the same path written with the character itself: percent-encoded as UTF-8
        ("https://www.regjeringen.no/no/dokumenter/høring-om-menneskehandel/id2900004/", HORING),
        # §6.2.2.2: escaped unreserved characters decoded; reserved ones kept escaped
        ("https://www.example.org/%7Eola/%41%2D%5F%2E", "https://www.example.org/~ola/A-_."),
        ("https://www.example.org/a%2Fb%3Fc%23d", "https://www.example.org/a%2Fb%3Fc%23d"),
        # §6.2.2.3: dot segments (also escaped ones), never above the root
        ("https://www.example.org/a/./b/../c", "https://www.example.org/a/c"),
        ("https://www.example.org/a/b/..", "https://www.example.org/a/"),
        ("https://www.example.org/../../a", "https://www.example.org/a"),
        ("https://www.example.org/a/%2e%2E/b", "https://www.example.org/b"),
        ("https://www.example.org/a..b/.c", "https://www.example.org/a..b/.c"),  # dots inside a name stay
        # IDNA host (UTS #46: upper case and full-width characters mapped, as browsers do)
        ("https://Bølgen.NO/nyheter", "https://xn--blgen-vua.no/nyheter"),
        ("https://xn--blgen-vua.no/nyheter", "https://xn--blgen-vua.no/nyheter"),
    ],
)
def test_canonical_url_normalises_as_rfc_3986_says(url, expected):
    assert canonical_url(url) == expected
    assert canonical_url(expected) == expected


def test_one_document_in_every_spelling_is_one_item_id():
    spellings = [
        HORING,
        HORING.replace("%C3%B8", "%c3%b8"),
        HORING.replace("%C3%B8", "ø"),
        HORING.replace("/no/", "/no/./aktuelt/../"),
        HORING.replace("https://www.", "HTTPS://WWW.") + "#innhold",
    ]
    assert len({item_id(dedup_key(url)) for url in spellings}) == 1


def test_canonical_url_rejects_a_broken_host():
    with pytest.raises(ValueError):
        canonical_url("http://[::1/x")


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://www.regjeringen.no/no/dokumenter/høring/id1/", None),
        ("https://bølgen.no/", None),
        ("https://xn--blgen-vua.no/a", None),
        ("http://localhost:8080/x", None),
        ("http://[::1]:8080/x", None),
        ("http://127.0.0.1/x", None),
        ("https://under_score.example.org/", None),
        ("https://www.politiet.no./", None),  # a trailing dot: the root, still the host
        ("https://", "it names no host"),
        ("http://%5Dx", "'%5Dx' is not a host name"),
        ("https://www.politiet.no../", "'www.politiet.no..' is not a host name"),
        ("http://example.com:99999/x", "its port is out of range (0–65535)"),
        ("http://example.com:abc/", "its port is not a number"),
        ("http://[::1", "it cannot be read as an address (Invalid IPv6 URL)"),
    ],
)
def test_address_problem_says_why_no_reader_could_open_a_link(url, problem):
    assert address_problem(url) == problem
