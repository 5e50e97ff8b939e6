"""Entry texts: CommonMark (markdown-it-py) to sanitised HTML (nh3), or to plain text.

Raw HTML in an entry is never passed through (markdown-it runs with html off,
so `<script>` is shown as text), links other than http(s) and mailto are
dropped by markdown-it and by nh3, and nh3 removes anything else a crafted
text could smuggle in: an entry can neither break the page nor inject markup.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token

ALLOWED_TAGS = {"p", "br", "ul", "ol", "li", "strong", "em", "a", "code", "blockquote", "sup"}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "sup": {"class"}, "ol": {"start"}}
URL_SCHEMES = {"http", "https", "mailto"}
WIDTH = 78


def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})


class _EveryLink(MarkdownIt):
    """CommonMark that keeps every link, also those a renderer refuses (javascript:, data:): check reports them."""

    def validateLink(self, url: str) -> bool:
        """Every scheme is a link here."""
        return True


_LINK_FINDER = _EveryLink("commonmark")


def links_of(text: str | None) -> list[str]:
    """Every link target in an entry's Markdown text, once each, in order (parsed by markdown-it, not guessed).

    Autolinks (<https://…>) count; links inside code and images do not. Any scheme is kept: `cited`
    tells which are numbered.
    """
    links: list[str] = []

    def walk(tokens: list[Token]) -> None:
        for token in tokens:
            href = token.attrGet("href") if token.type == "link_open" else None
            if href:
                links.append(str(href))
            if token.children:
                walk(token.children)

    walk(_LINK_FINDER.parse(text or ""))
    return list(dict.fromkeys(links))


def cited(url: str | None) -> bool:
    """True for a link that is numbered and listed: http(s) only (a mail address is written out)."""
    return bool(url) and str(url).split(":", 1)[0].lower() in ("http", "https")


def to_html(text: str, ref_of: Callable[[str], int] | None = None) -> str:
    """Safe HTML for an entry's Markdown; with `ref_of`, each http(s) link is followed by its number [n]."""
    md = _parser()
    if ref_of is not None:

        def link_close(renderer, tokens, idx, options, env):
            opening = next(t for t in reversed(tokens[:idx]) if t.type == "link_open")
            closing = renderer.renderToken(tokens, idx, options, env)
            if not cited(opening.attrGet("href")):
                return closing
            return f'{closing}<sup class="ref">{ref_of(opening.attrGet("href"))}</sup>'

        md.add_render_rule("link_close", link_close)
    html = md.render(text or "")
    return nh3.clean(
        html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes=URL_SCHEMES, link_rel="noopener noreferrer"
    ).strip()


def to_text(text: str, ref_of: Callable[[str], int] | None, width: int | None = WIDTH, indent: str = "") -> str:
    """Plain text for an entry's Markdown: paragraphs and lists wrapped at `width`, links as "tekst [n]".

    Without `ref_of`, links are written out in place ("tekst (https://…)"); with
    `width` None, nothing is wrapped (for calendars, which fold lines themselves).
    """
    tokens = _parser().parse(text or "")
    blocks: list[tuple[str, str]] = []  # (prefix, text)
    list_depth = 0
    ordered: list[int | None] = []
    pending_prefix = ""
    for token in tokens:
        if token.type in ("bullet_list_open", "ordered_list_open"):
            list_depth += 1
            ordered.append(int(token.attrGet("start") or 1) if token.type == "ordered_list_open" else None)
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            list_depth -= 1
            ordered.pop()
        elif token.type == "list_item_open":
            number = ordered[-1]
            pending_prefix = "  " * (list_depth - 1) + (f"{number}. " if number is not None else "- ")
            if number is not None:
                ordered[-1] = number + 1
        elif token.type == "inline":
            blocks.append((pending_prefix, _inline_text(token.children or [], ref_of)))
            pending_prefix = ""
        elif token.type in ("code_block", "fence"):
            blocks.append(("", token.content.rstrip()))
    out = []
    for prefix, body in blocks:
        lead = indent + prefix
        if not body:
            out.append(lead.rstrip())
        elif width is None:
            out.append(lead + body)
        else:
            out.append(
                textwrap.fill(
                    body,
                    width=width,
                    initial_indent=lead,
                    subsequent_indent=" " * len(lead),
                    break_long_words=False,
                    break_on_hyphens=False,
                )
            )
    # List items sit together; other blocks are separated by a blank line.
    text_out = ""
    for index, ((prefix, _), rendered) in enumerate(zip(blocks, out)):
        if index:
            text_out += "\n" if prefix and blocks[index - 1][0] else "\n\n"
        text_out += rendered
    return text_out


_ADDRESS_WORD = re.compile(r"^[(<\[]*(?:[a-z][a-z0-9+.-]*://|www\.)\S*$", re.IGNORECASE)


def to_words(text: str) -> str:
    """The words of Markdown on one line, without an address: links as their text alone, bare addresses dropped.

    For the archive's listings and its search index, where an entry is read (and found) by its words:
    "se [her](https://…)" → "se her", and "https" matches nothing.
    """
    inline = [t for t in _parser().parse(text or "") if t.type == "inline"]
    runs = [_inline_text(t.children or [], None, addresses=False) for t in inline]
    return " ".join(word for word in " ".join(runs).split() if not _ADDRESS_WORD.match(word))


def _inline_text(children: list[Token], ref_of: Callable[[str], int] | None, addresses: bool = True) -> str:
    """An inline run as plain text: links written out ("tekst (https://…)"), numbered ("tekst [n]"), or, without
    `addresses`, as their text alone."""
    parts: list[str] = []
    href: str | None = None
    label_start = 0
    for child in children:
        if child.type == "link_open":
            value = child.attrGet("href")
            href = str(value) if value else None
            label_start = len(parts)
        elif child.type == "link_close":
            if not addresses:
                pass
            elif href and href.lower().startswith("mailto:"):
                address = href[len("mailto:") :]
                if "".join(parts[label_start:]).strip() != address:
                    parts.append(f" ({address})")  # an address is written out, not numbered
            elif href and cited(href):
                parts.append(f" [{ref_of(href)}]" if ref_of else f" ({href})")
            href = None
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif child.type in ("text", "code_inline") or child.type == "image":
            parts.append(child.content)
    return " ".join("".join(parts).split())
