"""Text of unsure origin: one charset guesser for fetched bodies and imported CSV files, and XML's character rule.

Both meet the same files: UTF-8 (with or without a byte-order mark), UTF-16
with one, and Windows-1252 from older Windows programs and servers, often
labelled as something else. A label is trusted only as far as the bytes agree.

Labels mean what the WHATWG Encoding Standard (and so every browser) says
they mean, looked up with `webencodings` (html5lib's table of it): above all,
`iso-8859-1`, `latin1`, `us-ascii` and `ascii` name windows-1252, so a page
labelled ISO-8859-1 whose bytes are Windows-1252 keeps its “curly quotes”,
dashes and €, as it does in a browser.

The rules: `strip_xml_forbidden` keeps the archive's feed, sitemap and pages
well-formed whatever an issue file holds, and `strip_hidden` keeps every
output and every collected title free of the invisible characters that hide
or reorder text, a control character that breaks a line or page made a space
(`hidden_characters` lets `issue check` name them to the editor, and
`visible` shows them in what a terminal lists).
"""

from __future__ import annotations

import codecs
import re
import unicodedata
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


def strip_xml_forbidden(text: str) -> str:
    """`text` without the characters XML 1.0 forbids."""
    return _NOT_XML_CHAR.sub("", text)


SOFT_HYPHEN = "\u00ad"  # kept in what readers get; dropped where words are matched (collect, search)

# Control characters that are white space (Unicode's White_Space property: VT, FF, NEL; and the information
# separators FS, GS, RS, US, which UAX #9 classes as paragraph and segment separators and Python splits at),
# and LINE SEPARATOR and PARAGRAPH SEPARATOR. Programs disagree whether to show them as a break, a box or
# nothing; text pasted from Word (VT for Shift+Enter), a PDF (FF between pages) or a Latin-1 file (NEL) holds
# them between words, and each output shows them as a space, as collection does, so no two words run together.
_BREAK_CHARS = "\x0b\x0c\x1c-\x1f\x85\u2028\u2029"
_BREAKS = re.compile(f"[{_BREAK_CHARS}]")
# A break between two visible characters becomes one space; one beside white space, or at either end, adds
# nothing: "Godt\x0c nytt" stays "Godt nytt", and a break at the start of a line of Markdown cannot indent it
# into a code block.
_BREAK_BETWEEN_WORDS = re.compile(rf"(?<=\S)[{_BREAK_CHARS}]+(?=\S)")

# Characters a reader cannot see that change what a text shows or how it is read. Removed from every output
# (render), from collected titles and summaries (collect), and named to the editor by `issue check`:
_HIDDEN_CHARS = (
    "\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f"  # the other C0 controls (tab, LF and CR stay), DEL, C1 controls
    # Bidirectional marks, embeddings, overrides and isolates: they reorder what is shown, so a link's text
    # can read as another address ("Trojan Source", CVE-2021-42574, lists these very ones).
    "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
    "\u200b\u2060\ufeff"  # ZERO WIDTH SPACE, WORD JOINER, ZERO WIDTH NO-BREAK SPACE (a byte-order mark)
    "\u180e\u2061-\u2064\u206a-\u206f"  # MONGOLIAN VOWEL SEPARATOR, invisible operators, deprecated controls
    "\ufff9-\ufffb"  # interlinear annotation: hides the text between them in most renderers
    "\U0001d173-\U0001d17a"  # musical beam, tie and phrase controls: invisible outside music notation
    "\U000e0001\U000e0020-\U000e007f"  # tag characters: invisible copies of ASCII ("ASCII smuggling")
    "\ud800-\udfff\ufffe\uffff"  # lone halves of a UTF-16 pair, and the noncharacters XML forbids
)
_HIDDEN = re.compile(f"[{_HIDDEN_CHARS}]")
_INVISIBLE = re.compile(f"[{_HIDDEN_CHARS}{_BREAK_CHARS}]")


def hidden_characters(text: str) -> list[tuple[int, str]]:
    """Each character of `text` that `strip_hidden` removes or makes a space, as (index in `text`,
    character), in order.

    The set, a superset of what XML 1.0 forbids (`strip_xml_forbidden`): control characters other
    than tab, line feed and carriage return (C0, DEL, C1); the bidirectional marks, embeddings,
    overrides and isolates of Unicode TR9 (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069);
    zero-width and other invisible characters (U+200B, U+2060, U+FEFF, U+180E, U+2061–U+2064,
    U+206A–U+206F, U+FFF9–U+FFFB, U+1D173–U+1D17A, the tags U+E0001 and U+E0020–U+E007F); lone
    surrogates, U+FFFE and U+FFFF; and U+2028 LINE SEPARATOR and U+2029 PARAGRAPH SEPARATOR. Of
    these, the breaks (`is_break`) become spaces.

    Kept, though they too are invisible format characters (Unicode category Cf), because they hide
    nothing and reorder nothing while scripts need them: U+200D ZERO WIDTH JOINER builds emoji
    sequences (man, ZWJ, woman, ZWJ, girl: one family emoji) and Indic conjuncts; U+200C ZERO WIDTH
    NON-JOINER is part of Persian and Indic spelling (removing it misspells a word); U+00AD SOFT
    HYPHEN marks where a long compound ("menneskehandels|arbeidet") may break, which browsers and
    WeasyPrint honour. The visible format
    marks of Arabic, Syriac, Kaithi, Egyptian hieroglyphs and Duployan shorthand stay too. A tag
    sequence after U+1F3F4 (the flags of England, Scotland, Wales) loses its tags: a black flag.
    """
    return [(match.start(), match.group()) for match in _INVISIBLE.finditer(text)]


def is_break(char: str) -> bool:
    """True for a control character that is white space, or a line or paragraph separator (VT, FF, FS, GS,
    RS, US, NEL, U+2028, U+2029): `strip_hidden` makes it a space, where the other hidden characters go."""
    return bool(_BREAKS.fullmatch(char))


def strip_hidden(text: str) -> str:
    """`text` without the invisible characters `hidden_characters` lists; tab, LF and CR stay.

    A break (`is_break`: VT, FF, NEL, U+2028 …) between two words becomes one space, never a line
    break: in an entry's Markdown a line break is a space anyway, and a new line could start a list,
    a heading or a paragraph the editor never wrote; in a title or heading there are no lines. The
    other characters are left out, after which a break has the words around it it is seen between.
    """
    visible = _HIDDEN.sub("", text)
    return _BREAKS.sub("", _BREAK_BETWEEN_WORDS.sub(" ", visible))


def visible(text: str) -> str:
    """`text` for a person to read on a terminal: each invisible character `hidden_characters` lists shown
    as its code point, "Ny ⟨U+202E⟩rapport", everything else as it is.

    Printed raw, a bidirectional override or isolate reorders what follows it as the terminal lays out
    the line by Unicode TR9 (the Bidirectional Algorithm): "rapport", U+202E, "fdp.exe" reads
    "rapportexe.pdf" ("Trojan Source", CVE-2021-42574); a control character such as ESC can even
    command the terminal. For listings only: JSON and the files keep the text as it is.
    """
    return _INVISIBLE.sub(lambda found: f"⟨U+{ord(found.group()):04X}⟩", text)


def character_name(char: str) -> str:
    """ "U+202E RIGHT-TO-LEFT OVERRIDE", or "U+0007, a control character" for one Unicode gives no name."""
    code = f"U+{ord(char):04X}"
    name = unicodedata.name(char, "")
    if name:
        return f"{code} {name}"
    return f"{code}, a control character" if unicodedata.category(char) == "Cc" else code
