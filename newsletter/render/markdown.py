"""Entry texts: CommonMark (markdown-it-py) to sanitised HTML (nh3), or to plain text.

Raw HTML in an entry is never passed through (markdown-it runs with html off,
so `<script>` is shown as text), links other than http(s) and mailto are
dropped by markdown-it and by nh3, and nh3 removes anything else a crafted
text could smuggle in: an entry can neither break the page nor inject markup.

An image (`![Forsiden av rapporten](https://…/forside.png)`) becomes a link to
the picture, its description the link's text, in every output: nothing the
editor wrote is lost, and no subscriber's mail client is made to load a picture
from elsewhere (a tracking pixel by another name). An image inside a link
(`[![Forsiden](…/forside.png)](…/rapport.pdf)`) is the link's words instead:
the link keeps its own address. `issue check` says so.

A part in another language is marked `[Third country posted workers]{lang=en}` (the attribute syntax of
markdown-it's attrs plugin, for spans only, and only `lang`): the web page and the e-mail wrap it in
`<span lang="en">`, so a screen reader reads it in English rather than in a Norwegian voice (WCAG 2.1 SC
3.1.2, language of parts); the plain text and the archive's words keep the words alone. A value that is no
language tag is dropped, and `issue check` names it (`language_parts`). WeasyPrint 70 does not carry a
span's language into the PDF's tags.

Every text is parsed without the invisible characters that hide or reorder what a
reader sees (`textcodec.strip_hidden`: bidirectional overrides, zero-width spaces,
control characters), so no output made from the tokens carries them, and the links
`issue check` and `links` examine are the ones readers get.
"""

from __future__ import annotations

import functools
import re
import textwrap
from collections.abc import Callable, Sequence
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

import nh3
from linkify_it import LinkifyIt
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from mdit_py_plugins.attrs import attrs_plugin

from newsletter.textcodec import SOFT_HYPHEN, strip_hidden

ALLOWED_TAGS = {"p", "br", "ul", "ol", "li", "strong", "em", "a", "code", "blockquote", "sup", "span"}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title", "aria-label"},
    "sup": {"class"},
    "span": {"class", "lang"},
    "ol": {"start"},
}
# A language tag as BCP 47 (RFC 5646) writes the ones a newsletter needs: a language of two or three
# letters, then subtags ("en", "sv", "nn", "en-GB", "se-NO"; "sr-Latn").
LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*")
URL_SCHEMES = {"http", "https", "mailto"}
WIDTH = 78


# A reference marker ("her [3].") belongs to the word before it: the space between them is swapped for this
# character (from Unicode's private use area, so never in an entry's text) while wrapping, and back after.
# textwrap breaks only at ASCII whitespace, so it keeps the two together.
_GLUE = "\ue000"
_MARKER = re.compile(r" (\[\d+\])")


def wrap(text: str, first: str = "", width: int = WIDTH) -> str:
    """Wrap plain text at `width` columns; `first` prefixes the first line and indents the others.

    Words and hyphenated words are never split, so a URL stays whole on a line of its own, and a reference
    marker ("[3]") stays on the line of the word before it, never alone at the start of a line.
    """
    wrapped = textwrap.fill(
        _MARKER.sub(_GLUE + r"\1", text),
        width=width,
        initial_indent=first,
        subsequent_indent=" " * len(first),
        break_long_words=False,
        break_on_hyphens=False,
    )
    return wrapped.replace(_GLUE, " ")


def _addresses() -> LinkifyIt:
    """A linkify-it that finds e-mail addresses (bare, or written "mailto:…") and nothing else.

    The web schemes are switched off (a bare "https://…" or "www.…" in an entry stays text, as the editor
    wrote it: only `[tekst](url)` links are cited and footnoted), and so are fuzzy host names and IPs.
    "mailto:" stays on: with every schema off, linkify-it-py 2.0 compiles an empty schema pattern that
    matches everywhere and then fails. markdown-it's linkify rule skips the text of links and code spans.
    """
    schemas: dict = dict.fromkeys(("http:", "https:", "ftp:", "//"))
    return LinkifyIt(schemas=schemas, options={"fuzzy_link": False, "fuzzy_ip": False, "fuzzy_email": True})


def _parser() -> MarkdownIt:
    """CommonMark with raw HTML off, bare e-mail addresses made mailto links, and our link and break rules."""
    md = MarkdownIt("commonmark", {"html": False, "linkify": True, "typographer": False})
    # A reader clicks an address to write to it; the plain-text renderer writes a mailto link whose text is
    # its address as the address alone, so the text version is unchanged.
    md.linkify = _addresses()
    md.enable("linkify")
    # `[words]{lang=en}` and nothing else: `after=()` leaves "{…}" after a link or code as the text it was.
    md.use(attrs_plugin, after=(), spans=True, allowed=["lang"])
    md.add_render_rule("span_open", _span_open)
    md.core.ruler.before("text_join", "images_as_links", _images_as_links)
    md.add_render_rule("link_open", _link_open)
    md.add_render_rule("link_close", _link_close)
    md.add_render_rule("softbreak", _softbreak)
    return md


class Image(NamedTuple):
    """An image in an entry's Markdown, as written (`images_of`), and the link every output makes of it."""

    description: str  # "" when it has none
    picture: str  # the image's own address
    link: str | None  # the address of the link the image stands in, as link text; None when it stands in none

    @property
    def address(self) -> str:
        """The address of the link readers get in its place: the picture's, or the link's the image stands in."""
        return self.picture if self.link is None else self.link


def _address_name(url: str) -> str:
    """What names an address in a few words: its file's name, else its site's, else the address itself."""
    try:
        parts = urlsplit(url)
        name = unquote(parts.path.rstrip("/").rsplit("/", 1)[-1]) or parts.hostname or ""
    except ValueError:  # a malformed address ("https://[::1") has no parts to name
        name = ""
    return name or url


def image_label(url: str) -> str:
    """The link text of an image whose Markdown gives it no description (`![](…/forside.png)`):
    "Bilde: forside.png", its file's name, else its site's, else its address.

    WCAG 2.1 SC 2.4.4 (link purpose) and 4.1.2 (name): a link must not be nameless, and "Bilde:"
    tells a reader the link opens a picture.
    """
    return f"Bilde: {_address_name(url)}"


def _description(image: Token) -> list[Token]:
    """An image's description as inline tokens, without links (links do not nest); [] when it is blank.

    CommonMark lets a description hold emphasis, code, links and images; an image in it keeps its own
    description as text."""
    words = [
        Token("text", "", 0, level=child.level, content=child.content) if child.type == "image" else child
        for child in image.children or []
        if child.type not in ("link_open", "link_close")
    ]
    return words if "".join(child.content for child in words).strip() else []


def _images_as_links(state: StateCore) -> None:
    """Each image of the parsed text becomes a link to its picture, its description (or `image_label`) the
    link's text; an image inside a link becomes its description inside that link. Each link that holds an
    image has the `Image`s in its opening token's meta, under "images", for `images_of`.

    CommonMark lets a link's text hold an image (`[![Forsiden](…/forside.png)](…/rapport.pdf)`, the form a
    linked picture takes when pasted), but not a link: the image cannot become a link of its own. So its
    description joins the words of the link it is in, which keeps its address: the reader follows the link
    the editor wrote, to the report, not to its cover. A link left with no words at all (`[![](…/ikon.png)]
    (…/rapport.pdf)`) is named by its own address, "rapport.pdf" (WCAG 2.1 SC 2.4.4: no link is nameless;
    "Bilde: ikon.png" would promise a picture it does not open).

    Runs before markdown-it's text_join, which then merges the description's text into its neighbours.
    """
    for block in state.tokens:
        if block.type != "inline" or not block.children:
            continue
        children: list[Token] = []
        outer: int | None = None  # where in `children` the link the tokens are in opens
        for token in block.children:
            if token.type == "link_open":
                outer = len(children)
            elif token.type == "link_close" and outer is not None:
                opening, words, outer = children[outer], children[outer + 1 :], None
                if opening.meta.get("images") and not "".join(child.content for child in words).strip():
                    name = _address_name(str(opening.attrGet("href") or ""))
                    children.append(Token("text", "", 0, level=token.level + 1, content=name))
            if token.type != "image":
                children.append(token)
                continue
            picture = str(token.attrGet("src") or "")
            if outer is not None:
                opening = children[outer]
                image = Image(token.content, picture, str(opening.attrGet("href") or ""))
                opening.meta.setdefault("images", []).append(image)
                children += _description(token)
                continue
            opening = Token(
                "link_open", "a", 1, level=token.level, meta={"images": [Image(token.content, picture, None)]}
            )
            opening.attrSet("href", picture)
            if title := token.attrGet("title"):
                opening.attrSet("title", str(title))
            words = _description(token) or [Token("text", "", 0, level=token.level + 1, content=image_label(picture))]
            children += [opening, *words, Token("link_close", "a", -1, level=token.level)]
        block.children = children


# Link texts that say nothing about where a link goes ("se [her](…)"): WCAG 2.4.4 asks for a name that does.
VAGUE_LABELS = {"her", "se her", "denne", "dette", "lenke", "lenken", "les mer", "mer", "link"}


def _link_open(renderer, tokens, idx, options, env):
    """A link's start; a vague text ("her") gets an accessible name that starts with it and names the site."""
    token = tokens[idx]
    label = []
    for following in tokens[idx + 1 :]:
        if following.type == "link_close":
            break
        label.append(following.content)
    text = " ".join("".join(label).split())
    href = str(token.attrGet("href") or "")
    host = urlsplit(href).hostname if cited(href) else None
    if host and text.lower() in VAGUE_LABELS:
        # The visible text first (WCAG 2.5.3, label in name), then where the link goes.
        token.attrSet("aria-label", f"{text}: {host.removeprefix('www.')}")
    return renderer.renderToken(tokens, idx, options, env)


def _link_close(renderer, tokens, idx, options, env):
    """A link's end; for a cited link, its number (`ref_of` in env) or its address as a footnote (`footnotes`)."""
    closing = renderer.renderToken(tokens, idx, options, env)
    opening = next(t for t in reversed(tokens[:idx]) if t.type == "link_open")
    href = opening.attrGet("href")
    if not cited(href):
        return closing
    if env.get("footnotes"):
        # WeasyPrint floats the span to the foot of the page where the link is cited (CSS GCPM `float: footnote`).
        url = escapeHtml(str(href))
        return f'{closing}<span class="fn"><a href="{url}">{url}</a></span>'
    if env.get("ref_of") is not None:
        return f'{closing}<sup class="ref">{env["ref_of"](str(href))}</sup>'
    return closing


def _span_open(renderer, tokens, idx, options, env):
    """A part in another language (`[words]{lang=en}`): its `lang` kept only when it is a language tag."""
    token = tokens[idx]
    lang = str(token.attrGet("lang") or "")
    token.attrs = {"lang": lang} if LANGUAGE_TAG.fullmatch(lang) else {}
    return renderer.renderToken(tokens, idx, options, env)


def _softbreak(renderer, tokens, idx, options, env):
    """A line break in the Markdown source is a space: it must never break a printed line early."""
    return " "


# One parser for the whole process: building one is costly, and its rules read all per-call state from `env`.
_PARSER = _parser()


def parse(text: str | None) -> list[Token]:
    """An entry's Markdown parsed once, for `to_html` and `to_text` to render as often as they need.

    The invisible characters `textcodec.hidden_characters` lists are left out first.
    """
    return _PARSER.parse(strip_hidden(text or ""))


class _EveryLink(MarkdownIt):
    """CommonMark that keeps every link, also those a renderer refuses (javascript:, data:): check reports them."""

    def validateLink(self, url: str) -> bool:
        """Every scheme is a link here."""
        return True


class _AsWritten(_EveryLink):
    """`_EveryLink` that leaves each target as the editor wrote it (markdown-it percent-encodes and
    punycodes it), so `issue check` can quote a broken link as it stands in the file."""

    def normalizeLink(self, url: str) -> str:
        """The target unchanged."""
        return url


def _link_finder(parser: type[MarkdownIt]) -> MarkdownIt:
    """A `parser` that sees an image as the link every output makes of it, and a part in another
    language (`[words]{lang=en}`) as `parse` does: the links `issue check` finds are the ones readers get."""
    md = parser("commonmark")
    md.core.ruler.before("text_join", "images_as_links", _images_as_links)
    md.use(attrs_plugin, after=(), spans=True, allowed=["lang"])
    return md


_LINK_FINDER = _link_finder(_EveryLink)
_AS_WRITTEN = _link_finder(_AsWritten)


@functools.lru_cache(maxsize=512)
def _found(as_written: bool, text: str) -> tuple[Token, ...]:
    """A text parsed by `_AS_WRITTEN` or `_LINK_FINDER`, once: `issue check` asks each entry's text for its
    links (twice: normalised and as written), its images and its plain runs, and the parse is most of that.
    The tokens are shared, so only read."""
    return tuple((_AS_WRITTEN if as_written else _LINK_FINDER).parse(strip_hidden(text)))


def links_of(text: str | None, keep_empty: bool = False, as_written: bool = False) -> list[str]:
    """Every link target in an entry's Markdown text, once each, in order (parsed by markdown-it, not guessed).

    Autolinks (<https://…>) and images (made links) count; links inside code do not. Any scheme is kept: `cited`
    tells which are numbered. A link with no target (`[her]()`) is left out, or, with
    `keep_empty`, given as "" (for `issue check`, which names it). `as_written` gives each target
    as the text has it; otherwise as markdown-it normalises it (percent-encoded, as rendered).
    Invisible characters are left out, as `parse` leaves them out (`issue check` names them).
    """
    links: list[str] = []

    def walk(tokens: Sequence[Token]) -> None:
        for token in tokens:
            href = token.attrGet("href") if token.type == "link_open" else None
            if href or (keep_empty and token.type == "link_open"):
                links.append(str(href or ""))
            if token.children:
                walk(token.children)

    walk(_found(as_written, text or ""))
    return list(dict.fromkeys(links))


# What an editor meant as a link that CommonMark does not read as one: "[words]", maybe a space, "(" and an
# address. Shown as written, in every output.
_LINK_LIKE = re.compile(r"\[[^\[\]\n]*\][ \t]*\n?[ \t]*\((?P<target>[ \t]*<?(?:https?:|www\.|mailto:)[^)\n]*)\)?", re.I)


class UnreadLink(NamedTuple):
    """Text written like a Markdown link that the parser reads as plain text (`unread_links`)."""

    written: str  # as the text has it, "[her] (https://…)"
    reason: str  # what keeps it from being a link, and what to write


def _inline_texts(text: str | None) -> list[str]:
    """Each paragraph (inline block) of the parsed text as it stands in every output, in order, with a
    "\0" where a link, code span or image stands (their words are not plain text), and "\n" at a line
    break."""
    texts: list[str] = []

    def walk(tokens: Sequence[Token]) -> None:
        plain, depth = [], 0
        for token in tokens:
            if token.type == "link_open":
                depth += 1
            elif token.type == "link_close":
                depth -= 1
            elif depth == 0 and token.type == "text":
                plain.append(token.content)
            elif depth == 0 and token.type in ("softbreak", "hardbreak"):
                plain.append("\n")
            elif token.type in ("span_open", "span_close"):
                continue  # a part in another language: its words run on with those around it
            else:
                plain.append("\0")  # code, an image: nothing runs across it
            if token.children:
                walk(token.children)
        texts.append("".join(plain))

    walk(_found(True, text or ""))
    return texts


def _plain_runs(text: str | None) -> list[str]:
    """The runs of the parsed text that are neither a link nor code, in order: where the words stand
    as written in every output (a line break inside a run is "\n")."""
    return [run for joined in _inline_texts(text) for run in joined.split("\0") if run.strip()]


def unmatched_brackets(text: str | None) -> list[str]:
    """Each square bracket of `text` that every output shows as written and that has no partner in its
    paragraph, with up to 20 characters before it and 15 after (up to a link or code), in order:
    `Les [rapporten [her](…)`, a "[" left over from an edit, gives "Les [rapporten". Brackets around a
    link (`[se [her](…)]`), an aside (`[sic]`) and `[…]` pair up and are not reported; pieces
    `unread_links` reports are left to it.
    """
    found: list[str] = []
    for joined in _inline_texts(text):
        # The link-like pieces and half links are `unread_links`'; blanked, not cut, so places stay.
        runs = [_HALF_LINK.sub(_blank, _LINK_LIKE.sub(_blank, run)) for run in joined.split("\0")]
        plain = "\0".join(runs)
        opened: list[int] = []
        lone: list[int] = []
        for at, char in enumerate(plain):
            if char == "[":
                opened.append(at)
            elif char == "]":
                if opened:
                    opened.pop()
                else:
                    lone.append(at)
        for at in sorted(lone + opened):
            # The words on either side up to a link or code: what the editor can search the file for.
            before = plain[max(0, at - 20) : at].rpartition("\0")[2]
            after = plain[at + 1 : at + 16].partition("\0")[0]
            found.append(" ".join((before + plain[at] + after).split()))
    return found


def _blank(match: re.Match[str]) -> str:
    """A match's text as spaces, so what stands around it keeps its place."""
    return " " * len(match.group())


# `[[words]{lang=en}](address)`: the span takes the link's "[", and Markdown reads no link.
_SPAN_IN_LINK = re.compile(r"\[\[[^\[\]\n]*\]\{[^}\n]*\}\]\([^)\n]*\)?")
# The end of a language mark left as text (`words]{lang=en}`, `ord] {lang = en}`).
LANGUAGE_MARK_END = re.compile(r"\][ \t]*\{[^{}\n]*\blang\b[^{}\n]*\}")
# A whole mark: where no Markdown is read (an entry's title or heading), or one Markdown could not read.
LANGUAGE_MARK = re.compile(r"\[[^\[\]\n]*\][ \t]*\{[^{}\n]*\blang\b[^{}\n]*\}")


def _span_in_link(text: str, target: str) -> re.Match[str] | None:
    """The `[[words]{lang=…}](target)` of `text` whose link goes to `target`, or None."""
    wanted = target.strip().strip("<>")
    return next((m for m in _SPAN_IN_LINK.finditer(text) if wanted and wanted in m.group()), None)


class UnreadMark(NamedTuple):
    """A language mark Markdown left as text (`unread_language_marks`)."""

    written: str  # as written, with up to 30 characters before the "]" when its "[" is not there
    whole: bool  # both its [ ] and { } are there, so it is the { } that cannot be read


def unread_language_marks(text: str | None) -> list[UnreadMark]:
    """The language marks Markdown left as text in `text`, in order; every output shows them as written.

    A whole mark (`[ord]{lang = en}`, `[ord] {lang=en}`, `{lang=”en”}` with the curly quotes a word
    processor puts in): its `{…}` is not the `{lang=en}` the attrs plugin reads. Else the end of one whose
    "[" stands in another paragraph (a blank line between) or is missing.
    """
    found = []
    for run in _plain_runs(text):
        for match in LANGUAGE_MARK_END.finditer(run):
            whole = LANGUAGE_MARK.search(run, 0, match.end())
            if whole is not None and whole.end() == match.end():
                found.append(UnreadMark(" ".join(whole.group().split()), True))
            else:
                found.append(UnreadMark(" ".join(run[max(0, match.start() - 30) : match.end()].split()), False))
    return found


def unread_links(text: str | None) -> list[UnreadLink]:
    """Every piece of `text` that looks like a Markdown link to an address but is no link, in order.

    CommonMark (6.3, links) reads `[words](address)` only with no space between `]` and `(`, no
    space inside the address (unless it is written in `<…>`), and the `)` closing it; otherwise the
    brackets, parentheses and address are shown as written, in the web page, the e-mail and the
    PDF. The pieces are found in the parsed text outside links and code, so a code span showing
    Markdown is not one.
    """
    found: list[UnreadLink] = []
    for run in _plain_runs(text):
        for match in _LINK_LIKE.finditer(run):
            written, target = match.group(), match["target"]
            if not written.endswith(")") and re.match(r"\n[ \t]*[^\s()]*\)", run[match.end() :]):
                reason = "the address is broken over two lines: write it on one line"
            elif not written.endswith(")"):
                reason = "the ( before the address is not closed: end the address with )"
            elif re.search(r"\][ \t\n]", written):
                reason = "a space between ] and (: write them together, [words](address)"
            elif re.search(r"\S[ \t]+\S", target.strip()):
                reason = "a space inside the address: take it out (or write %20 where the address has a space)"
            elif (inside := _span_in_link(text or "", target)) is not None:
                written = inside.group()  # as the editor wrote it, mark and all: what to look for in the file
                reason = "a part marked in another language inside a link's words undoes the link: put the mark "
                reason += "around the whole link, [[words](address)]{lang=en}"
            else:
                reason = "Markdown cannot read it as a link: write it as [words](https://…)"
            found.append(UnreadLink(" ".join(written.split()), reason))
        # A bracket left out: what is left of the run holds no `[…](…)`, so a `[` or `]` at an address is one
        # half of a link whose other half is missing.
        rest = _LINK_LIKE.sub(" ", run)
        for match in _HALF_LINK.finditer(rest):
            reason = (
                "the ] after the link's words is missing: write [words](address)"
                if match["open"]
                else "the [ before the link's words is missing: write [words](address)"
            )
            found.append(UnreadLink(" ".join(match.group().split()), reason))
    return found


# `[words(address` with no `]`, or `words](address` with no `[` (CommonMark 6.3 reads neither as a link).
# The ( right after the words, as in a link: "[see the programme (https://…)]", an aside in brackets
# with an address in parentheses, is no half link.
_HALF_LINK = re.compile(
    r"(?P<open>\[[^\[\]\n]*?[^\s\[\]])?(?(open)|\S*\])\((?:https?:|www\.|mailto:)[^)\s]*\)?",
    re.I,
)


_BARE = LinkifyIt(options={"fuzzy_link": False, "fuzzy_ip": False, "fuzzy_email": False})


def bare_addresses(text: str | None) -> list[str]:
    """The web addresses (`https://…`, `http://…`) written bare in `text`, outside links and code, in order.

    Every output shows such an address as text, not a link (`_addresses`: only `[words](address)`
    links are cited and numbered), so `issue check` asks for a link. Those inside a piece
    `unread_links` reports are left to it.
    """
    found: list[str] = []
    for run in _plain_runs(text):
        run = _HALF_LINK.sub(" ", _LINK_LIKE.sub(" ", run))
        found += [m.url for m in _BARE.match(run) or [] if m.schema.lower() in ("http:", "https:")]
    return list(dict.fromkeys(found))


def images_of(text: str | None) -> list[Image]:
    """Every image in an entry's Markdown, in order, as written: `issue check` tells the editor each is
    shown as a link (`Image.address`), and which. An image inside a link (CommonMark allows it) has that
    link's address as its `link`."""
    images: list[Image] = []
    for block in _found(True, text or ""):
        for token in block.children or []:
            if token.type == "link_open":
                images += token.meta.get("images", [])
    return images


class LanguagePart(NamedTuple):
    """A part of a text marked `[words]{…}` (`language_parts`)."""

    words: str  # the part's words, as plain text
    lang: str  # its `lang` as written; "" when it has none


def language_parts(text: str | None) -> list[LanguagePart]:
    """The parts of an entry's Markdown marked as in another language, in order; `issue check` names those
    whose `lang` is missing or no language tag (`LANGUAGE_TAG`), which every output then drops.

    `[words]{.x}` is parsed as such a part too (the attrs plugin keeps only `lang`), with "" as its lang.
    """
    parts: list[LanguagePart] = []
    for block in parse(text):
        children = block.children or []
        for n, token in enumerate(children):
            if token.type == "span_open":
                end = next(i for i in range(n + 1, len(children)) if children[i].type == "span_close")
                words = _inline_text(children[n + 1 : end], None, addresses=False)
                parts.append(LanguagePart(words, str(token.attrGet("lang") or "")))
    return parts


def cited_links(tokens: list[Token]) -> list[str]:
    """The http(s) link targets of parsed Markdown (from `parse`), once each, in order."""
    links: list[str] = []

    def walk(tokens: list[Token]) -> None:
        for token in tokens:
            href = token.attrGet("href") if token.type == "link_open" else None
            if href and cited(str(href)):
                links.append(str(href))
            if token.children:
                walk(token.children)

    walk(tokens)
    return list(dict.fromkeys(links))


def cited(url: str | None) -> bool:
    """True for a link that is numbered and listed: http(s) only (a mail address is written out)."""
    return bool(url) and str(url).split(":", 1)[0].lower() in ("http", "https")


def to_html(
    text: str | list[Token] | None, ref_of: Callable[[str], int] | None = None, *, footnotes: bool = False
) -> str:
    """Safe HTML for an entry's Markdown (text or tokens from `parse`).

    With `ref_of`, each http(s) link is followed by its number (`<sup class="ref">n</sup>`); with
    `footnotes`, by `<span class="fn">` holding its address, for the print CSS to float to the page's foot.
    """
    tokens = parse(text) if text is None or isinstance(text, str) else text
    html = _PARSER.renderer.render(tokens, _PARSER.options, {"ref_of": ref_of, "footnotes": footnotes})
    return nh3.clean(
        html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes=URL_SCHEMES, link_rel="noopener noreferrer"
    ).strip()


def to_text(
    text: str | list[Token] | None, ref_of: Callable[[str], int] | None, width: int | None = WIDTH, indent: str = ""
) -> str:
    """Plain text for an entry's Markdown: paragraphs and lists wrapped at `width`, links as "tekst [n]".

    Without `ref_of`, links are written out in place ("tekst (https://…)"); with
    `width` None, nothing is wrapped (for calendars, which fold lines themselves).
    """
    tokens = parse(text) if text is None or isinstance(text, str) else text
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
            out.append(wrap(body, lead, width))
    # List items sit together; other blocks are separated by a blank line.
    text_out = ""
    for index, ((prefix, _), rendered) in enumerate(zip(blocks, out)):
        if index:
            text_out += "\n" if prefix and blocks[index - 1][0] else "\n\n"
        text_out += rendered
    return text_out


_ADDRESS_WORD = re.compile(r"^[(<\[]*(?:[a-z][a-z0-9+.-]*://|www\.)\S*$", re.IGNORECASE)


# A link's words that only point at it ("se [her](…)", "[les mer](…)"): with the link gone, they point at nothing.
_POINTER_LABELS = frozenset(
    {"her", "se her", "les her", "les mer", "les mer her", "mer", "lenke", "denne lenken", "here"}
)
# What leads up to such a link in the text before it: ", se" of "Tyskland, se [her](…)", ", eller" of
# ", eller [les mer](…)".
_POINTER_LEAD = re.compile(
    r"[,;]?\s*(?:\b(?:og|eller)\s+)?(?:\b(?:se|les(?: mer)?(?: om (?:dette|det))?)\s*)?$", re.IGNORECASE
)
_EMPTY_PARENS = re.compile(r"\(\s*\)")  # "(se [her](…))" once its pointer went
_SPACE_BEFORE_MARK = re.compile(r"\s+([.,;:!?)])")


def to_words(text: str) -> str:
    """The words of Markdown on one line, without an address: links as their text alone, bare addresses dropped.

    For the archive's listings and its search index, where an entry is read (and found) by its words:
    "Rapporten [Decoding …](https://…)" → "Rapporten Decoding …", and "https" matches nothing. A link
    whose words only point at it ("se [her](…)", "les mer") goes with them: without the link they would
    point at nothing. A list's items are kept apart by "; " ("fire land: Tyskland; Finland"), not run
    together. Soft hyphens go too, so that "menneskehandel" finds a word the editor marked where it may break.
    """
    runs: list[tuple[str, bool]] = []  # (words, in a list item)
    depth = 0
    for token in parse((text or "").replace(SOFT_HYPHEN, "")):
        depth += {"list_item_open": 1, "list_item_close": -1}.get(token.type, 0)
        if token.type == "inline":
            words = _inline_text(token.children or [], None, addresses=False)
            words = " ".join(word for word in words.split() if not _ADDRESS_WORD.match(word))
            if words:
                runs.append((words, depth > 0))
    out = ""
    for n, (words, listed) in enumerate(runs):
        if n and out.endswith((".", "!", "?", ";", ":")):
            out += " "
        elif n:  # a run that does not end its sentence: "; " between a list's items, else a full stop
            out += "; " if listed and runs[n - 1][1] else ". "
        out += words
    return " ".join(_SPACE_BEFORE_MARK.sub(r"\1", _EMPTY_PARENS.sub("", out)).split())


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
                if " ".join("".join(parts[label_start:]).split()).lower() in _POINTER_LABELS:
                    # The words leading up to it may stand on the line before ("se\n[her](…)"): a line
                    # break is a part of its own, so the lead is looked for in all that came before.
                    parts[:] = [_POINTER_LEAD.sub("", "".join(parts[:label_start]))]
            elif href and href.lower().startswith("mailto:"):
                address = href[len("mailto:") :]
                if "".join(parts[label_start:]).strip() not in (address, href):
                    parts.append(f" ({address})")  # an address is written out, not numbered
            elif href and cited(href):
                parts.append(f" [{ref_of(href)}]" if ref_of else f" ({href})")
            href = None
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif child.type in ("text", "code_inline"):
            parts.append(child.content)
    return " ".join("".join(parts).split())
