"""Bytes from the network to text, trusting labels only as far as the bytes agree.

The guessing itself is `newsletter.textcodec.decode_text` (CSV imports use it
too); what is particular to the network is where the labels come from.
"""

from __future__ import annotations

import re

from newsletter.textcodec import decode_text

_XML_DECL = re.compile(rb'^\s*<\?xml[^>]*encoding=["\']([A-Za-z0-9._-]+)["\']')
_META_CHARSET = re.compile(rb'<meta[^>]+charset=["\']?([A-Za-z0-9._-]+)', re.I)


def decode_body(body: bytes, charset: str | None = None) -> tuple[str, str | None]:
    """Decode a body; returns the text and a warning when its label was wrong.

    The labels, in order of trust: a byte-order mark, the HTTP charset, the XML
    declaration or HTML meta charset (in the first 2 KB); see `decode_text` for
    how far each is believed and what a body that fits none of them is read as.
    """
    declared = _XML_DECL.search(body[:2048]) or _META_CHARSET.search(body[:2048])
    text, problem = decode_text(body, (charset, declared.group(1).decode("ascii") if declared else None))
    return text, f"body {problem}" if problem else None
