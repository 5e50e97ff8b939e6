"""Dates in every form the sources print them, dates written into URLs, quarter bounds, and the clock.

A date-time with a zone counts as the calendar day in Europe/Oslo (the newsletter's
quarter is an Oslo quarter); a date with only a month or a year keeps that precision.
"""

from __future__ import annotations

import datetime as dt

import pytest

from newsletter.collect.dates import ParsedDate, date_from_url, exact_date, parse_date
from newsletter.quarters import quarter_bounds

D = dt.date

# text, date_format, expected date (or None), expected precision
DATE_FORMS = [
    # RFC 822 (RSS pubDate): the Oslo day, not the UTC day
    ("Fri, 24 Jun 2022 10:00:00 +0200", None, D(2022, 6, 24), "day"),
    ("Fri, 01 Jul 2022 00:15:00 +0200", None, D(2022, 7, 1), "day"),
    ("Fri, 25 Mar 2022 00:30:00 +0100", None, D(2022, 3, 25), "day"),
    ("Thu, 30 Jun 2022 22:30:00 GMT", None, D(2022, 7, 1), "day"),
    ("Thu, 30 Jun 2022 21:30:00 GMT", None, D(2022, 6, 30), "day"),
    ("Sat, 31 Dec 2022 23:30:00 +0000", None, D(2023, 1, 1), "day"),
    # the zone's every spelling: -0000 is UTC (RFC 5322 §3.3), RFC 822's names, an unknown name is local
    ("Thu, 30 Jun 2022 23:30:00 -0000", None, D(2022, 7, 1), "day"),
    ("Thu, 30 Jun 2022 23:30:00 UT", None, D(2022, 7, 1), "day"),
    ("Thu, 30 Jun 2022 19:30:00 EDT", None, D(2022, 7, 1), "day"),
    ("Thu, 30 Jun 2022 23:30:00 CEST", None, D(2022, 6, 30), "day"),
    ("Thu, 30 Jun 2022 23:30:00", None, D(2022, 6, 30), "day"),
    # RFC 822's variants: full names, two-digit years, RFC 850 dashes, 12-hour times, other orders
    ("Thursday, 30 June 2022 23:30:00 +0000", None, D(2022, 7, 1), "day"),
    ("30 September 2022 22:15 GMT", None, D(2022, 10, 1), "day"),
    ("Thu, 02 Jun 22 07:46:24 +0000", None, D(2022, 6, 2), "day"),
    ("Thursday, 30-Jun-22 23:30:00 GMT", None, D(2022, 7, 1), "day"),
    ("Thu, 30 Jun 2022 11:30:00 PM +0000", None, D(2022, 7, 1), "day"),
    ("Thu Jun 02 07:46:24 +0000 2022", None, D(2022, 6, 2), "day"),
    ("Thu Jun 30 23:30:00 +0000 2022", None, D(2022, 7, 1), "day"),
    ("June 30, 2022 11:30 PM GMT", None, D(2022, 7, 1), "day"),
    ("Jun 30, 2022 12:15 AM GMT", None, D(2022, 6, 30), "day"),
    # ISO 8601
    ("2022-06-30", None, D(2022, 6, 30), "day"),
    ("2022-06-30T23:30:00Z", None, D(2022, 7, 1), "day"),
    ("2022-06-30T21:59:59Z", None, D(2022, 6, 30), "day"),
    ("2022-05-11T09:00:00+02:00", None, D(2022, 5, 11), "day"),
    ("2022-06-30T23:30:00-05:00", None, D(2022, 7, 1), "day"),
    ("2022-06-08T10:00:00.3315720+02:00", None, D(2022, 6, 8), "day"),
    ("2022-06-30T23:30:00", None, D(2022, 6, 30), "day"),  # naive: already local
    ("2022-06-30T23:30:00 GMT", None, D(2022, 7, 1), "day"),
    ("2022-06-30 23:30:00 UTC", None, D(2022, 7, 1), "day"),
    ("2022-06-30T23:30:00+00", None, D(2022, 7, 1), "day"),
    ("2022/06/30 23:30:00 +0000", None, D(2022, 7, 1), "day"),
    # month names in the sources' languages
    ("16 september 2025", None, D(2025, 9, 16), "day"),  # sv
    ("3 oktober 2025", None, D(2025, 10, 3), "day"),  # sv
    ("18. september 2025", None, D(2025, 9, 18), "day"),  # da / nb
    ("3. marts 2025", None, D(2025, 3, 3), "day"),  # da
    ("27. maj 2025", None, D(2025, 5, 27), "day"),  # da
    ("1. mai 2022", None, D(2022, 5, 1), "day"),  # nb
    ("6. toukokuuta 2022", None, D(2022, 5, 6), "day"),  # fi
    ("6 June 2023", None, D(2023, 6, 6), "day"),
    ("June 6, 2023", None, D(2023, 6, 6), "day"),
    ("June 30th, 2022", None, D(2022, 6, 30), "day"),
    ("08 Jun 2022", None, D(2022, 6, 8), "day"),
    ("5 Sept 2022", None, D(2022, 9, 5), "day"),
    ("Publishing date: 8 June 2022", None, D(2022, 6, 8), "day"),
    ("Tuesday, 7 June 2022", None, D(2022, 6, 7), "day"),
    ("12\xa0May\xa02022", None, D(2022, 5, 12), "day"),
    # day-first numbers
    ("1.7.2025", None, D(2025, 7, 1), "day"),
    ("01.07.2025", None, D(2025, 7, 1), "day"),
    ("22.06.22", None, D(2022, 6, 22), "day"),
    ("30/06/2022", None, D(2022, 6, 30), "day"),
    ("Publisert 10.06.2022", None, D(2022, 6, 10), "day"),
    # only a month or a year
    ("juni 2022", None, D(2022, 6, 1), "month"),
    ("June 2022", None, D(2022, 6, 1), "month"),
    ("December 2021", None, D(2021, 12, 1), "month"),
    ("Published in 2022", None, D(2022, 1, 1), "year"),
    ("2021", None, D(2021, 1, 1), "year"),
    # configured formats with literal text around the date
    ("PDF · Publisert 30.06.2022", "PDF · Publisert %d.%m.%Y", D(2022, 6, 30), "day"),
    ("PDF ·  Publisert\n 13.05.2022", "PDF · Publisert %d.%m.%Y", D(2022, 5, 13), "day"),
    ("22.06.22 | Nyhet", "%d.%m.%y | Nyhet", D(2022, 6, 22), "day"),
    ("1.7.2025", "%d.%m.%Y", D(2025, 7, 1), "day"),
    ("8 June 2022", "%d.%m.%Y", D(2022, 6, 8), "day"),  # format does not fit: the generic readers still do
    # no date
    ("0001-01-01T00:00:00", None, None, None),
    ("", None, None, None),
    ("   ", None, None, None),
    (None, None, None, None),
    ("garbage text", None, None, None),
    ("Les mer", None, None, None),
    ("12 000 kroner ble bevilget til prosjektet i 2022", None, None, None),  # a year in a sentence is no date
    ("1850", None, None, None),  # outside the plausible range
]


@pytest.mark.parametrize(
    "text, date_format, expected, precision",
    DATE_FORMS,
    ids=[repr(row[0]) + (f" fmt={row[1]!r}" if row[1] else "") for row in DATE_FORMS],
)
def test_parse_date(text, date_format, expected, precision):
    found = parse_date(text, date_format)
    if expected is None:
        assert found is None
    else:
        assert found == ParsedDate(expected, precision)


def test_parse_date_honours_the_time_zone_argument():
    assert parse_date("2022-06-30T23:30:00Z", tz="UTC") == ParsedDate(D(2022, 6, 30))
    assert parse_date("Fri, 01 Jul 2022 00:15:00 +0200", tz="UTC") == ParsedDate(D(2022, 6, 30))
    assert parse_date("Fri, 01 Jul 2022 00:15:00 +0200", tz="Europe/Oslo") == ParsedDate(D(2022, 7, 1))


def test_french_first_of_month_is_a_day():
    assert parse_date("1er juin 2022") == ParsedDate(D(2022, 6, 1), "day")


@pytest.mark.parametrize(
    "url, expected, precision",
    [
        ("https://cbss.org/2022/06/30/norwegian-presidency-concludes/", D(2022, 6, 30), "day"),
        ("https://home-affairs.ec.europa.eu/news/new-eu-strategy-2022-05-11_en", D(2022, 5, 11), "day"),
        ("https://www.example.org/news/2022/June/operation-x", D(2022, 6, 1), "month"),
        ("https://www.unodc.org/unodc/en/press/releases/2022/June/story.html", D(2022, 6, 1), "month"),
        ("https://www.example.org/news/2022/06/slug", D(2022, 6, 1), "month"),
        ("https://www.regjeringen.no/no/aktuelt/sak/id2921463/?utm_source=rss", None, None),
        ("https://www.stortinget.no/no/Saker-og-publikasjoner/Saker/Sak/?p=87609", None, None),
        ("https://www.example.org/search?from=2022/06/30", None, None),  # the query is not the path
        ("https://www.example.org/news/2022/13/40/slug", None, None),  # no such date
    ],
)
def test_date_from_url(url, expected, precision):
    found = date_from_url(url)
    if expected is None:
        assert found is None
    else:
        assert found == ParsedDate(expected, precision)


@pytest.mark.parametrize(
    "issue, first, last",
    [
        ("2022-q1", D(2022, 1, 1), D(2022, 3, 31)),
        ("2022-q2", D(2022, 4, 1), D(2022, 6, 30)),
        ("2022-q3", D(2022, 7, 1), D(2022, 9, 30)),
        ("2022-q4", D(2022, 10, 1), D(2022, 12, 31)),
        ("2024-Q1", D(2024, 1, 1), D(2024, 3, 31)),
        (" 2025-q2 ", D(2025, 4, 1), D(2025, 6, 30)),
    ],
)
def test_quarter_bounds(issue, first, last):
    assert quarter_bounds(issue) == (first, last)


@pytest.mark.parametrize("issue", ["2022-q0", "2022-q5", "2022q2", "q2-2022", "2022-2", "22-q2", "", "2022-q2-extra"])
def test_quarter_bounds_rejects_other_ids(issue):
    with pytest.raises(ValueError):
        quarter_bounds(issue)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2024-03-01", D(2024, 3, 1)),
        ("2024-3-1", D(2024, 3, 1)),
        (" 01.03.2024 ", D(2024, 3, 1)),
        ("1.3.2024", D(2024, 3, 1)),
        # What `parse_date` would find in a source's text, but a typed consent date must not be guessed from.
        ("01/03/2024", None),  # from a spreadsheet, possibly 3 January
        ("1.3.24", None),
        ("1 March 2024", None),
        ("signed 1.3.2024", None),
        ("2024-03-01T10:00:00+01:00", None),
        ("31.02.2024", None),
        ("1.3.1899", None),  # outside 1990–2100, as for `parse_date`: a typo
        ("", None),
    ],
)
def test_exact_date_reads_the_whole_text_or_refuses(text, expected):
    if expected is None:
        with pytest.raises(ValueError):
            exact_date(text)
    else:
        assert exact_date(text) == expected


def test_the_clock_is_utc_and_shows_the_oslo_day(monkeypatch):
    """`clock.now()` is an aware UTC instant; the editor's day is the Oslo one (22:30 UTC on 30 June is 1 July)."""
    from newsletter import clock

    assert clock.now().utcoffset() == dt.timedelta(0)
    late = dt.datetime(2022, 6, 30, 22, 30, tzinfo=dt.UTC)
    assert clock.local(late, "Europe/Oslo").isoformat() == "2022-07-01T00:30:00+02:00"
    assert clock.local_date(late, "Europe/Oslo") == D(2022, 7, 1)
    monkeypatch.setattr(clock, "now", lambda: late)
    assert clock.today("Europe/Oslo") == D(2022, 7, 1) and clock.today("UTC") == D(2022, 6, 30)
    with pytest.raises(ValueError, match="no UTC offset"):
        clock.local(dt.datetime(2022, 6, 30, 22, 30), "Europe/Oslo")


@pytest.mark.parametrize("issue", ["9999-q4", "0000-q1"])
def test_an_issue_id_off_the_calendar_is_a_value_error_naming_the_years_allowed(issue):
    with pytest.raises(ValueError, match="an issue id's year is 0001 to 9998"):
        quarter_bounds(issue)
