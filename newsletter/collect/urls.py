"""Canonical URLs, the cross-source de-duplication key, and short item ids."""

from __future__ import annotations

import hashlib
import ipaddress
import re
import string
from urllib.parse import quote, unquote, urljoin, urlsplit, urlunsplit

import idna

from newsletter.models import ItemIdentity

# Query parameters that only track the click or carry navigation state: dropping
# them never changes the document. regjeringen.no appends utm_* per feed; Liferay
# (coe.int) appends inheritRedirect/redirect to every listing link.
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_")
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "msclkid",
        "yclid",
        "mc_cid",
        "mc_eid",
        "_hsenc",
        "_hsmi",
        "igshid",
        "ref_src",
        "cmpid",
        "wt.mc_id",
        "xtor",
        "inheritredirect",
        "redirect",
        "preflang",
        "at_medium",
        "at_campaign",
    }
)
DEFAULT_PORTS = {"http": 80, "https": 443}

# Crockford's alphabet without i, l, o, u: ids are read aloud and typed by hand.
ID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
ID_LENGTH = 7
ID_MAX_LENGTH = 12  # 7 characters make a collision unlikely but not impossible: lengthen until free


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def resolve(base: str, href: str) -> str:
    """An absolute URL for `href` as found on the page at `base`."""
    return urljoin(base, href.strip())


# A host name: dot-separated labels of letters, digits, hyphens (not at either end) and, as real
# hosts have them, underscores; 253 characters at most (RFC 1123 §2.1).
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_HOST_NAME = re.compile(rf"(?=.{{1,253}}$)(?:{_LABEL}\.)*{_LABEL}", re.I)


def address_problem(url: str) -> str | None:
    """What keeps an http(s) link from being an address a reader can open, in words, or None.

    No host (`https://`), a host that is no host name or IP literal (`http://%5Dx`: RFC 3986 §3.2.2
    with RFC 1123's names, in their IDNA form), a port that is no number or out of range, or a
    URL that cannot be parsed at all (`http://[::1`). What `issue check` says of a link before a
    reader gets it dead or mangled.
    """
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
    except ValueError as exc:  # a broken IPv6 literal
        return f"it cannot be read as an address ({exc})"
    try:
        parts.port  # noqa: B018 (raises ValueError for a port that is no number or out of range)
    except ValueError as exc:
        return "its port is out of range (0–65535)" if "range" in str(exc) else "its port is not a number"
    if not host:
        return "it names no host"
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    if not _HOST_NAME.fullmatch(_idna_host(host.removesuffix("."))):  # one trailing dot: the root
        return f"'{host}' is not a host name"
    return None


def canonical_url(url: str) -> str:
    """The URL normalised as RFC 3986 §6.2.2 says, with fragment, default port and tracking parameters removed.

    Two spellings of one document give one URL: scheme and host lower-cased,
    a non-ASCII host in its IDNA form (`bølgen.no` → `xn--blgen-vua.no`,
    UTS #46 as browsers and requests map it), percent-escapes upper-cased
    (`%c3%b8` → `%C3%B8`), escaped unreserved characters decoded (`%7E` →
    `~`), characters never valid in a URL percent-encoded as UTF-8 (`ø` →
    `%C3%B8`), and dot segments removed (`/a/./b/../c` → `/a/c`). Reserved
    characters stay as the source wrote them, escaped or not: `%2F` and
    `%25` mean something, and `?id` is not `?id=`. Raises ValueError for a
    URL that cannot be parsed (a broken IPv6 host, a port that is not a
    number).
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = _idna_host((parts.hostname or "").rstrip("."))
    if ":" in host:
        host = f"[{host}]"  # IPv6 literal
    port = parts.port  # ValueError for a port that is not a number
    netloc = host if port in (None, DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
    path = _remove_dot_segments(_normalise(parts.path)) or "/"
    pieces = [p for p in parts.query.split("&") if p and not _is_tracking(unquote(p.split("=", 1)[0]))]
    query = "&".join(_normalise(p) for p in pieces)
    return urlunsplit((scheme, netloc, path, query, ""))


_URL_SAFE = "/:@!$&'()*+,;=-._~%?[]"
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
# RFC 3986 §2.3: escaping these changes nothing, so §6.2.2.2 decodes them.
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")


def _normalise(component: str) -> str:
    """A path or query component percent-encoded where it must be, with escapes normalised (RFC 3986 §6.2.2)."""
    encoded = quote(component, safe=_URL_SAFE)

    def escape(match: re.Match[str]) -> str:
        char = chr(int(match.group(1), 16))
        return char if char in _UNRESERVED else "%" + match.group(1).upper()

    return _ESCAPE.sub(escape, encoded)


def _remove_dot_segments(path: str) -> str:
    """The path with "." and ".." segments resolved, as RFC 3986 §5.2.4 does it (an absolute path never climbs
    above its root)."""
    segments = path.split("/")
    if "." not in segments and ".." not in segments:
        return path
    out: list[str] = []
    for segment in segments:
        if segment == "..":
            if len(out) > 1 or (out and out[0]):
                out.pop()
        elif segment != ".":
            out.append(segment)
    if segments[-1] in (".", ".."):
        out.append("")  # "/a/b/.." is the folder "/a/"
    return "/".join(out)


def _idna_host(host: str) -> str:
    """A host name in the ASCII form a request carries (IDNA 2008 with UTS #46 mapping); lower-case ASCII as is.

    A name IDNA refuses is kept lower-cased as written: the item is still
    stored, and fetching it fails with its own error.
    """
    if host.isascii():
        return host.lower()
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError:
        return host.lower()


def dedup_key(url: str) -> str:
    """The identity of a document across sources: its canonical URL without scheme, `www.` or trailing slash.

    fafo.no and www.fafo.no serve the same pages, and feeds link to one where
    listings link to the other; http and https likewise.
    """
    parts = urlsplit(canonical_url(url))
    host = parts.netloc[4:] if parts.netloc.startswith("www.") else parts.netloc
    path = parts.path.rstrip("/") or "/"
    return host + path + (("?" + parts.query) if parts.query else "")


def item_id(key: str, length: int = ID_LENGTH) -> str:
    """A short, stable id derived from the de-duplication key (35 bits at 7 characters)."""
    number = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big")
    chars = []
    for _ in range(length):
        number, rest = divmod(number, 32)
        chars.append(ID_ALPHABET[rest])
    return "".join(chars)


def identify(url: str) -> ItemIdentity:
    """The identity of the document at `url`: canonical URL, de-duplication key, candidate ids (7–12 chars).

    Raises ValueError for a URL that cannot be parsed (see `canonical_url`).
    """
    canonical = canonical_url(url)
    key = dedup_key(canonical)
    return ItemIdentity(canonical, key, tuple(item_id(key, n) for n in range(ID_LENGTH, ID_MAX_LENGTH + 1)))


def shared_link_identity(url: str, guid: str | None) -> ItemIdentity:
    """The identity of one of several entries of a source that share the document at `url`.

    A feed may give entries with different guids one link (its listing page,
    or links that differ only in their fragment); each is its own item. The
    key is the document's de-duplication key with the guid (`#guid=…`) or,
    for an entry without one, the link's fragment (`#…`); the item's URL
    keeps the fragment, which says where on the page it is. Raises
    ValueError as `canonical_url` does.
    """
    canonical = canonical_url(url)
    fragment = urlsplit(url.strip()).fragment
    key = f"{dedup_key(canonical)}#" + (f"guid={guid}" if guid else fragment)
    shown = f"{canonical}#{fragment}" if fragment else canonical
    return ItemIdentity(shown, key, tuple(item_id(key, n) for n in range(ID_LENGTH, ID_MAX_LENGTH + 1)))


def reference_key(ref: str) -> str | None:
    """The de-duplication key of an item reference the editor typed when it is a URL, else None.

    `newsletter show https://www.example.no/a#top` finds the item collected as
    https://example.no/a. Raises ValueError for a URL that cannot be parsed.
    """
    return dedup_key(ref.strip()) if "://" in ref else None
