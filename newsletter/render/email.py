"""The e-mail HTML (`email.html`): table layout, 600 px, every CSS rule inlined by premailer.

premailer runs here, once per build; the mailing stage only replaces the
per-recipient placeholders in the result, so it never runs per recipient.
"""

from __future__ import annotations

import html
import logging
import re

from jinja2 import Environment
from premailer import Premailer

from newsletter.render.view import UNSUBSCRIBE_URL


def render(env: Environment, view) -> str:
    """The e-mail HTML of an issue: styles inlined, one small kept <style> (narrow screens, dark mode).

    Over BUDGET bytes, a link to the web version is put where Gmail's clip would fall.
    """
    html = env.get_template("email.html").render(view=view)
    # rel="noopener" means nothing in a mail client and costs bytes toward Gmail's 100 KB.
    html = html.replace(' rel="noopener noreferrer"', "")
    inliner = Premailer(
        html,
        keep_style_tags=False,  # a <style data-premailer="ignore"> block stays: media queries cannot be inlined
        remove_classes=False,  # the kept dark-mode rules select .deadline; drop_unused_classes takes the rest
        strip_important=False,
        allow_network=False,
        disable_validation=True,
        cssutils_logging_level=logging.CRITICAL,
        preserve_handlebar_syntax=False,
        base_url=None,
        disable_link_rewrites=True,
        # Keep width="600" for Outlook; the CSS width (100%, max 600px) is for everyone else.
        disable_basic_attributes=["width", "height"],
    )
    return mark_clip_point(tighten(drop_unused_classes(inliner.transform(pretty_print=False))), view.web_version_url)


_STYLE_ELEMENT = re.compile(r"<style\b[^>]*>(.*?)</style>", re.S)
_CLASS_SELECTOR = re.compile(r"\.(-?[_a-zA-Z][\w-]*)")
_CLASS_ATTRIBUTE = re.compile(r'(<[a-zA-Z][^<>]*?)\sclass="([^"]*)"')
_BARE_SPAN = re.compile(r"<span>([^<]*)</span>")


def drop_unused_classes(html: str) -> str:
    """`html` with only the classes a <style> left in it selects, and without the <span>s left bare.

    Once premailer has inlined the rules, a class no kept rule names (class="meta", class="event", shared
    with the web page) does nothing in a mail client, and neither does a <span> with no attribute.
    """
    selected = {name for css in _STYLE_ELEMENT.findall(html) for name in _CLASS_SELECTOR.findall(css)}

    def keep_selected(match: re.Match[str]) -> str:
        names = [name for name in match.group(2).split() if name in selected]
        return match.group(1) + (f' class="{" ".join(names)}"' if names else "")

    return _BARE_SPAN.sub(r"\1", _CLASS_ATTRIBUTE.sub(keep_selected, html))


# Bytes count toward Gmail's clip. Whitespace next to the tag of a block (a line break the template or
# Markdown leaves between paragraphs, list items, cells) starts or ends a line, where CSS drops it, and it
# makes no box between blocks: it is never drawn, so it need not be sent. Inline tags keep theirs: a line
# break between two links is a space the reader sees. The e-mail has no <pre> (Markdown's code blocks are
# not among the allowed tags), where it would count.
_BLOCK = r"(?:!DOCTYPE|html|head|meta|title|style|body|div|table|tr|td|p|ul|ol|li|h[1-6]|blockquote)\b"
_WHITESPACE_BEFORE_BLOCK = re.compile(r"[ \t\r]*\n[ \t\r\n]*(?=<(?:/?" + _BLOCK + r"|!--))")
_WHITESPACE_AFTER_BLOCK = re.compile(r"(<(?:/?" + _BLOCK + r"[^>]*|!\[endif\]--)>)[ \t\r]*\n[ \t\r\n]*")


def tighten(html: str) -> str:
    """`html` without what no client shows: line breaks next to the tags of blocks.

    A line with the unsubscribe placeholder stays a line of its own: the send stage encodes only the
    lines that carry it again for each recipient (`MessageTemplate`), so they must stay short.
    """
    out: list[str] = []
    run: list[str] = []
    for line in html.split("\n"):
        if UNSUBSCRIBE_URL in line:
            out += [_tighten("\n".join(run)), line] if run else [line]
            run = []
        else:
            run.append(line)
    out.append(_tighten("\n".join(run)))
    return "\n".join(out)


def _tighten(html: str) -> str:
    html = _WHITESPACE_BEFORE_BLOCK.sub("", html)
    html = _WHITESPACE_AFTER_BLOCK.sub(r"\1", html)
    return _STYLE_ATTRIBUTE.sub(lambda m: m.group(1) + compact_style(m.group(2)) + '"', html)


# A style attribute inside a tag (text is escaped, so "<" followed by a letter opens one).
_STYLE_ATTRIBUTE = re.compile(r'(<[a-zA-Z][^<>]*?\sstyle=")([^"]*)"')
# A declaration ends at a ";" outside quotes and parentheses (a font name or url() may hold one). A
# quote or parenthesis left open (a workspace template's "Bob's Font") is kept as a character.
_DECLARATION = re.compile(r"""(?:[^;'"(]|'[^']*'|"[^"]*"|\([^)]*\)|['"(])+""")


def compact_style(value: str) -> str:
    """A style attribute's value as CSS reads it, with no space after ";" or ":" and no ";" at the end.

    premailer writes "a:1; b:2"; the spaces are a byte each on every inlined element.
    """
    css = html.unescape(value)
    declarations = []
    for declaration in _DECLARATION.findall(css):
        name, colon, rest = declaration.strip().partition(":")
        if name:
            declarations.append(name.strip() + colon + rest.strip())
    return ";".join(declarations).replace("&", "&amp;").replace('"', "&quot;")


# Gmail clips a message over 102 KB (of HTML) and hides the rest behind "[Message clipped]"; the build warns
# above BUDGET, and from there on a reader is pointed to the web version before the clip can bite.
BUDGET = 90 * 1024


def mark_clip_point(html: str, web_version_url: str) -> str:
    """`html` with a link to the web version before the last heading that starts under BUDGET bytes, when longer."""
    data = html.encode("utf-8")
    if len(data) <= BUDGET:
        return html
    notice = (
        '<p style="font-weight:bold;">Nyhetsbrevet er langt, og e-postprogrammet ditt kan klippe resten bort: '
        f'<a href="{web_version_url}">les hele nyhetsbrevet i nettleseren</a>.</p>\n'
    )
    # The whole notice must fit under the budget, so the heading it goes before starts that much earlier.
    head = data[: BUDGET - len(notice.encode("utf-8"))].decode("utf-8", errors="ignore")
    cut = max(head.rfind("<h2 "), head.rfind("<h3 "))
    if cut <= 0:
        return html
    return html[:cut] + notice + html[cut:]
