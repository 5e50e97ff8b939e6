"""Text of unsure origin: one charset guesser for fetched bodies and imported CSV files, and XML's character rule.

The guesser: fetched feeds and imported CSV files come as UTF-8 (with or without
a byte-order mark), UTF-16 with one, and Windows-1252 from older Windows
programs and servers, often labelled as something else. A label is trusted only
as far as the bytes agree.

The rule: `strip_xml_forbidden` keeps the archive's feed, sitemap and pages
well-formed whatever an issue file holds, and `xml_forbidden` lets `issue
check` name such characters to the editor.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable

# Labels not taken at their word on non-ASCII bytes: a single-byte encoding decodes any bytes, so it
# cannot vouch for them, and "ascii" is what a server says when it has not looked.
_SINGLE_BYTE = {"latin_1", "iso8859-1", "cp1252", "iso8859-15", "ascii"}

_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))

# Windows-1252 as the WHATWG Encoding Standard (and so every browser) reads it: Latin-1 except for
# 0x80–0x9F, where Windows puts € „ … ‰ Š ‹ Œ Ž ‘ ’ “ ” • – — ˜ ™ š › œ ž Ÿ. The five bytes Windows
# leaves undefined (0x81 0x8D 0x8F 0x90 0x9D) stay the C1 controls Latin-1 makes of them, so nothing
# fails to decode and no byte is lost.
_C1_AS_WINDOWS_1252 = {b: bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in range(0x80, 0xA0)}


def _known(label: str | None) -> str | None:
    """Python's name for an encoding label ("ISO-8859-1" → "iso8859-1"), None when unknown or empty."""
    if not label:
        return None
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def _windows_1252(data: bytes) -> str:
    """Bytes read as Windows-1252 the WHATWG way, which never fails."""
    return data.decode("latin-1").translate(_C1_AS_WINDOWS_1252)


def decode_text(data: bytes, labels: Iterable[str | None] = ()) -> tuple[str, str | None]:
    """Decode bytes; returns the text and, when a label had to be overruled, why (else None).

    Tries, in order: a byte-order mark (UTF-8, UTF-16); the `labels` given
    (e.g. an HTTP charset, then the document's own declaration; unknown ones
    are skipped); UTF-8, strictly; and last Windows-1252 (as browsers read it),
    which is what a file "labelled UTF-8 but written in Latin-1" turns out to
    be. A single-byte label on non-ASCII bytes that are valid UTF-8 is
    overruled: such bytes are UTF-8 ("Høring" must not become "HÃ¸ring").
    The reason reads "labelled iso8859-1 is UTF-8; read as UTF-8" or
    "is not valid utf-8; read as Windows-1252/ISO-8859-1": the caller names
    the thing ("body …").
    """
    for bom, name in _BOMS:
        if data.startswith(bom):
            return data.decode(name, errors="replace").lstrip("\ufeff"), None
    usable = [known for label in labels if (known := _known(label))]
    if usable and usable[0] in _SINGLE_BYTE and not data.isascii():
        try:
            return data.decode("utf-8"), f"labelled {usable[0]} is UTF-8; read as UTF-8"
        except UnicodeDecodeError:
            pass
    for encoding in [*usable, "utf-8"]:
        try:
            return data.decode(encoding), None
        except (UnicodeDecodeError, LookupError):
            continue
    said = usable[0] if usable else "no charset"
    return _windows_1252(data), f"is not valid {said}; read as Windows-1252/ISO-8859-1"


# XML 1.0 (5th ed.) §2.2 `Char`: tab, LF, CR, U+0020–U+D7FF, U+E000–U+FFFD and U+10000–U+10FFFF. Anything
# else (the other C0 controls, lone surrogates, U+FFFE, U+FFFF) makes a document not well-formed, even
# when escaped as a character reference; HTML parsers report the same controls as parse errors.
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_forbidden(text: str) -> list[str]:
    """The characters of `text` that XML 1.0 forbids, each once, as "U+000C"; [] when there are none."""
    return list(dict.fromkeys(f"U+{ord(c):04X}" for c in _NOT_XML_CHAR.findall(text)))


def strip_xml_forbidden(text: str) -> str:
    """`text` without the characters XML 1.0 forbids (see `xml_forbidden`)."""
    return _NOT_XML_CHAR.sub("", text)
