"""Untrusted markup to plain text: what feeds and pages say, without what they could do."""

from __future__ import annotations

import html
import re
import unicodedata

import nh3

# Tags after which a reader sees a break; a space keeps "<p>a</p><p>b</p>" from becoming "ab".
_BLOCK_TAG = re.compile(r"<(/?)(p|br|div|li|ul|ol|h[1-6]|tr|td|th|blockquote|section|article|dd|dt)\b", re.I)
_SPACES = re.compile(r"\s+")
_TAG_LIKE = re.compile(r"<[a-zA-Z/!]")
SUMMARY_LIMIT = 1200


def clean_line(text: str | None) -> str:
    """One line of plain text: control characters and line breaks collapsed into single spaces.

    Titles end up in e-mail subjects and headers; a CR/LF from a feed must never
    survive into them.
    """
    if not text:
        return ""
    out = []
    for char in text:
        category = unicodedata.category(char)
        if category == "Cc" or char in "\u2028\u2029\x85":
            out.append(" ")
        elif category == "Cf" and char not in "\u200d":
            continue  # zero-width and direction marks: invisible, and a spoofing tool
        else:
            out.append(char)
    return _SPACES.sub(" ", "".join(out)).strip()


def html_to_text(markup: str | None, limit: int | None = SUMMARY_LIMIT) -> str:
    """Plain text of an HTML fragment, sanitised with nh3: scripts, styles and handlers are gone."""
    if not markup:
        return ""
    spaced = _BLOCK_TAG.sub(r" <\1\2", markup)
    # nh3 with no allowed tags keeps only text; script/style content is dropped whole.
    stripped = nh3.clean(spaced, tags=set(), attributes={}, strip_comments=True)
    text = clean_line(html.unescape(stripped))
    if _TAG_LIKE.search(text):
        # Doubly escaped markup ("&amp;lt;script&amp;gt;") is markup once unescaped: strip it too.
        text = clean_line(html.unescape(nh3.clean(_BLOCK_TAG.sub(r" <\1\2", text), tags=set(), attributes={})))
    if limit and len(text) > limit:
        cut = text[:limit].rsplit(" ", 1)[0]
        text = cut.rstrip(",.;:") + " …"
    return text
