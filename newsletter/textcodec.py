"""Text of unsure origin: one charset guesser for fetched bodies and imported CSV files, and XML's character rule.

Both meet the same files: UTF-8 (with or without a byte-order mark), UTF-16
with one, and Windows-1252 from older Windows programs and servers, often
labelled as something else. A label is trusted only as far as the bytes agree.

Labels mean what the WHATWG Encoding Standard (and so every browser) says
they mean, looked up with `webencodings` (html5lib's table of it): above all,
`iso-8859-1`, `latin1`, `us-ascii` and `ascii` name windows-1252, so a page
labelled ISO-8859-1 whose bytes are Windows-1252 keeps its “curly quotes”,
dashes and €, as it does in a browser.

The rule: `strip_xml_forbidden` keeps the archive's feed, sitemap and pages
well-formed whatever an issue file holds, and `xml_forbidden` lets `issue
check` name such characters to the editor.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable

import webencodings

# Encodings (WHATWG names) whose label is not taken at its word on non-ASCII bytes: a single-byte
# encoding decodes any bytes, so it cannot vouch for them, and "ascii" (windows-1252 by WHATWG) is
# what a server says when it has not looked.
_SINGLE_BYTE = {"windows-1252", "iso-8859-15"}

_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))

# Windows-1252 as the WHATWG Encoding Standard (and so every browser) reads it: Latin-1 except for
# 0x80–0x9F, where Windows puts € „ … ‰ Š ‹ Œ Ž ‘ ’ “ ” • – — ˜ ™ š › œ ž Ÿ. The five bytes Windows
# leaves undefined (0x81 0x8D 0x8F 0x90 0x9D) stay the C1 controls Latin-1 makes of them, so nothing
# fails to decode and no byte is lost.
_C1_AS_WINDOWS_1252 = {b: bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in range(0x80, 0xA0)}


def _known(label: str | None) -> webencodings.Encoding | None:
    """The encoding a label names by the WHATWG Encoding Standard ("ISO-8859-1" → windows-1252), None when
    unknown or empty."""
    return webencodings.lookup(label) if label else None


def _windows_1252(data: bytes) -> str:
    """Bytes read as Windows-1252 the WHATWG way, which never fails."""
    return data.decode("latin-1").translate(_C1_AS_WINDOWS_1252)


def decode_text(data: bytes, labels: Iterable[str | None] = ()) -> tuple[str, str | None]:
    """Decode bytes; returns the text and, when a label had to be overruled, why (else None).

    Tries, in order: a byte-order mark (UTF-8, UTF-16); the `labels` given
    (e.g. an HTTP charset, then the document's own declaration), each read
    as the WHATWG Encoding Standard defines it (unknown ones are skipped);
    UTF-8, strictly; and last Windows-1252 (as browsers read it), which is
    what a file "labelled UTF-8 but written in Latin-1" turns out to be. A
    single-byte label on non-ASCII bytes that are valid UTF-8 is overruled:
    such bytes are UTF-8 ("Høring" must not become "HÃ¸ring"). The reason
    reads "labelled iso-8859-1 is UTF-8; read as UTF-8" or "is not valid
    utf-8; read as Windows-1252/ISO-8859-1": the caller names the thing
    ("body …").
    """
    for bom, name in _BOMS:
        if data.startswith(bom):
            return data.decode(name, errors="replace").lstrip("\ufeff"), None
    usable = [(label.strip().lower(), known) for label in labels if label and (known := _known(label))]
    if usable and usable[0][1].name in _SINGLE_BYTE and not data.isascii():
        try:
            return data.decode("utf-8"), f"labelled {usable[0][0]} is UTF-8; read as UTF-8"
        except UnicodeDecodeError:
            pass
    for _label, encoding in [*usable, ("utf-8", webencodings.UTF8)]:
        if encoding.name == "windows-1252":
            return _windows_1252(data), None  # every byte has its character: never fails
        try:
            return encoding.codec_info.decode(data)[0], None
        except (UnicodeDecodeError, LookupError):
            continue
    said = usable[0][0] if usable else "no charset"
    return _windows_1252(data), f"is not valid {said}; read as Windows-1252/ISO-8859-1"


def decode_lines(data: bytes) -> tuple[str, list[int]]:
    """Decode a file of lines (a CSV) that may mix UTF-8 and Windows-1252 lines; returns the text and the
    numbers (from 1) of the lines read as Windows-1252 in a file otherwise UTF-8, to be reported.

    A file that is all UTF-8 (BOM or not) or has a UTF-16 BOM reads as `decode_text` reads it. A file
    that has a UTF-8 BOM, or whose multibyte UTF-8 sequences decode on some line, was written as UTF-8
    and had lines pasted in from a program that saves Latin-1 or Windows-1252: each line is read as
    UTF-8 when it is, else as Windows-1252 (never failing, as `decode_text`'s last resort), and listed.
    A file with no UTF-8 in it at all is Windows-1252 throughout, and nothing is listed. Lines end at
    LF, CR or CRLF, as Python's csv module counts them (`csv.reader.line_num`).
    """
    bom = data.startswith(codecs.BOM_UTF8)
    if not bom:
        try:
            return data.decode("utf-8"), []
        except UnicodeDecodeError:
            pass
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return decode_text(data)[0], []
    lines = data[len(codecs.BOM_UTF8) if bom else 0 :].splitlines(keepends=True)
    decoded: list[str | None] = []
    utf8 = bom
    for line in lines:
        try:
            decoded.append(line.decode("utf-8"))
            utf8 = utf8 or not line.isascii()
        except UnicodeDecodeError:
            decoded.append(None)
    if not utf8:
        return _windows_1252(data), []
    recoded = [number for number, text in enumerate(decoded, start=1) if text is None]
    text = "".join(_windows_1252(line) if each is None else each for line, each in zip(lines, decoded, strict=True))
    return text, recoded


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
