"""Bytes from the network to text, trusting labels only as far as the bytes agree."""

from __future__ import annotations

import codecs
import re

_XML_DECL = re.compile(rb'^\s*<\?xml[^>]*encoding=["\']([A-Za-z0-9._-]+)["\']')
_SINGLE_BYTE = {"latin_1", "iso8859-1", "cp1252", "iso8859-15", "ascii"}
_META_CHARSET = re.compile(rb'<meta[^>]+charset=["\']?([A-Za-z0-9._-]+)', re.I)


def _known(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode_body(body: bytes, charset: str | None = None) -> tuple[str, str | None]:
    """Decode a body; returns the text and a warning when its label was wrong.

    Tries, in order, a byte-order mark, the HTTP charset, the XML declaration or
    HTML meta charset, then UTF-8, strictly; a body that fits none of them is
    read as Windows-1252 (a superset of ISO-8859-1's printable range), which is
    what a page "labelled UTF-8 but written in Latin-1" turns out to be.
    """
    for bom, name in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if body.startswith(bom):
            return body.decode(name, errors="replace").lstrip("\ufeff"), None
    head = body[:2048]
    declared = _XML_DECL.search(head) or _META_CHARSET.search(head)
    found = [_known(charset), _known(declared.group(1).decode("ascii")) if declared else None]
    labels = [label for label in found if label]
    if labels and labels[0] in _SINGLE_BYTE and not body.isascii():
        # A single-byte label never fails to decode, so it cannot be trusted on its own:
        # bytes that are valid UTF-8 are UTF-8 ("Høring" must not become "HÃ¸ring").
        try:
            return body.decode("utf-8"), f"body labelled {labels[0]} is UTF-8; read as UTF-8"
        except UnicodeDecodeError:
            pass
    for label in [*labels, "utf-8"]:
        try:
            return body.decode(label), None
        except (UnicodeDecodeError, LookupError):
            continue
    text = body.decode("cp1252", errors="replace")
    said = labels[0] if labels else "no charset"
    return text, f"body is not valid {said}; read as Windows-1252/ISO-8859-1"
