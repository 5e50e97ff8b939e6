"""Untrusted markup to plain text: what feeds and pages say, without what they could do."""

from __future__ import annotations

import html
import re

import nh3

from newsletter.textcodec import SOFT_HYPHEN, strip_hidden

# Tags after which a reader sees a break; a space keeps "<p>a</p><p>b</p>" from becoming "ab".
_BLOCK_TAG = re.compile(r"<(/?)(p|br|div|li|ul|ol|h[1-6]|tr|td|th|blockquote|section|article|dd|dt)\b", re.I)
_SPACES = re.compile(r"\s+")
_TAG_LIKE = re.compile(r"<[a-zA-Z/!]")
SUMMARY_LIMIT = 1200


def clean_line(text: str | None) -> str:
    """One line of plain text: line breaks and runs of white space collapsed into single spaces, and the
    invisible characters `textcodec.hidden_characters` names (bidirectional overrides, zero-width spaces,
    control characters) dealt with as every output deals with them (`textcodec.strip_hidden`): a break
    such as a form feed or U+2028 is a space, the others are removed. Soft hyphens go too.

    Titles end up in e-mail subjects and headers; a CR/LF from a feed must never survive into them. A soft
    hyphen is a hint for the source's own page layout: in the store it would only keep the keyword
    "menneskehandel" from matching a title that marks where the word may break.
    """
    if not text:
        return ""
    return _SPACES.sub(" ", strip_hidden(text).replace(SOFT_HYPHEN, "")).strip()


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
