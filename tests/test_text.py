"""Untrusted markup to plain text (`html_to_text`) and one-line titles (`clean_line`)."""

from __future__ import annotations

import re

import pytest

from newsletter.collect.sanitize import SUMMARY_LIMIT, clean_line, html_to_text

ACTIVE = ("<", "script", "alert(", "onerror", "onclick", "onload", "javascript:", "iframe", "evil.example")


@pytest.mark.parametrize(
    "markup, expected",
    [
        ("<p>Hei <b>og</b> <em>velkommen</em></p>", "Hei og velkommen"),
        ("<p>Første</p><p>andre</p>", "Første andre"),  # block elements never glue words
        ("Linje<br>to<br/>tre", "Linje to tre"),
        ("<ul><li>en</li><li>to</li></ul><h2>Tittel</h2><div>slutt</div>", "en to Tittel slutt"),
        ("<table><tr><td>a</td><td>b</td></tr></table>", "a b"),
        ("R&amp;D &quot;sitat&quot; &#8230; &hellip; &aelig;&oslash;&aring; &#x27;", 'R&D "sitat" … … æøå \''),
        ("5 &lt; 6 og 7 &gt; 3", "5 < 6 og 7 > 3"),
        ("  mange   \n\n  mellomrom\t", "mange mellomrom"),
        ("", ""),
        (None, ""),
    ],
)
def test_html_to_text(markup, expected):
    assert html_to_text(markup) == expected


@pytest.mark.parametrize(
    "markup, visible",
    [
        ("<p>Tekst<script>alert(1)</script></p>", "Tekst"),
        ("<style>p { color: red }</style>Tekst", "Tekst"),
        ('<img src="x" onerror="alert(1)">Tekst', "Tekst"),
        ('<p onclick="alert(1)">Tekst</p>', "Tekst"),
        ('<a href="javascript:alert(1)">Tekst</a>', "Tekst"),
        ('<iframe src="https://evil.example/"></iframe>Tekst', "Tekst"),
        ("<iframe><script>alert(1)</script></iframe>Tekst", "Tekst"),
        ('<svg onload="alert(1)"><script>alert(2)</script></svg>Tekst', "Tekst"),
        ("<noscript><img src=x onerror=alert(1)></noscript>Tekst", "Tekst"),
        ("<textarea><script>alert(1)</script></textarea>Tekst", "Tekst"),
        ("<!-- <script>alert(1)</script> -->Tekst", "Tekst"),
        # doubly escaped markup, as a feed's <description>&amp;lt;script&amp;gt;</description> arrives here
        ("&lt;script&gt;alert(1)&lt;/script&gt;Tekst", "Tekst"),
        ("&lt;p&gt;Tekst&lt;/p&gt;&lt;img src=x onerror=alert(1)&gt;", "Tekst"),
    ],
)
def test_html_to_text_drops_active_content(markup, visible):
    text = html_to_text(markup)
    assert text == visible
    for bad in ACTIVE:
        assert bad not in text


def test_html_to_text_truncates_long_text_at_a_word():
    words = " ".join(f"ord{n}" for n in range(1000))
    text = html_to_text(f"<p>{words}</p>")
    assert text.endswith(" …")
    body = text[:-2]
    assert len(body) <= SUMMARY_LIMIT
    assert len(body) > SUMMARY_LIMIT - 20
    assert words.startswith(body + " ")  # cut between words, never inside one


def test_html_to_text_truncation_drops_trailing_punctuation_and_honours_limit():
    text = html_to_text("Dette er en setning, som fortsetter. " * 50, limit=100)
    assert text.endswith(" …")
    assert not re.search(r"[,.;:] …$", text)
    assert len(text) <= 102


def test_html_to_text_short_text_and_no_limit_are_not_truncated():
    long = "ord " * 2000
    assert not html_to_text("Kort tekst.").endswith("…")
    assert html_to_text(long, limit=None) == long.strip()


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Linje én\r\nlinje to", "Linje én linje to"),
        ("Tittel\nBcc: angriper@example.com", "Tittel Bcc: angriper@example.com"),
        ("Tab\t\tskilt", "Tab skilt"),
        # A control character that is no break hides nothing between two letters: it goes, as from every output.
        ("Alarm\x07klokke og null\x00byte\x1b, slett\x7fet", "Alarmklokke og nullbyte, slettet"),
        # A break is a space, as in every output (`textcodec.strip_hidden`).
        (
            "Ny\u2028linje\u2029avsnitt\x85neste\x0bvert\x0cside\x1cfelt\x1ffelt",
            "Ny linje avsnitt neste vert side felt felt",
        ),
        ("Usyn\u200blig mellom\ufeffrom\u2060\u00ad", "Usynlig mellomrom"),
        ("Retning\u202e snudd\u202c", "Retning snudd"),
        ("\u2066Isolert\u2069 \u200fmerke\u200e", "Isolert merke"),
        (
            "Persisk: \u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",
            "Persisk: \u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",
        ),  # ZWNJ: spelling
        ("  mange   mellomrom  ", "mange mellomrom"),
        ("Familie: 👨\u200d👩\u200d👧", "Familie: 👨\u200d👩\u200d👧"),  # the zero-width joiner builds emoji: kept
        ("Blåbær og Ærø", "Blåbær og Ærø"),
        ("", ""),
        (None, ""),
    ],
)
def test_clean_line(text, expected):
    assert clean_line(text) == expected


def test_clean_line_output_is_one_clean_line():
    nasty = "".join(chr(c) for c in range(0, 0x20)) + "tekst" + "\u200b\u200e\u2028\x85\x9f"
    line = clean_line(nasty)
    assert line == "tekst"
