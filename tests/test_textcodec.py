"""Bytes of an unsure encoding to text (`newsletter.textcodec.decode_text`), labels read as browsers read them."""

from __future__ import annotations

import unicodedata

import pytest

from newsletter.textcodec import (
    _NOT_XML_CHAR,
    character_name,
    decode_lines,
    decode_text,
    hidden_characters,
    is_break,
    strip_hidden,
    visible,
)

TITLE = "“Menneskehandel i Norge” – ny rapport om € og søkere"


@pytest.mark.parametrize("label", ["iso-8859-1", "ISO-8859-1", "latin1", "l1", "us-ascii", "ascii", "windows-1252"])
def test_labels_the_whatwg_standard_reads_as_windows_1252(label):
    """Windows-1252 bytes under any label that means windows-1252 to a browser keep their quotes, dash and €."""
    assert decode_text(TITLE.encode("cp1252"), [label]) == (TITLE, None)


def test_the_five_bytes_windows_1252_leaves_undefined_are_kept():
    assert decode_text(b"a\x81b\x9dc", ["iso-8859-1"]) == ("a\x81b\x9dc", None)


def test_utf8_bytes_under_a_single_byte_label_are_utf8():
    text, why = decode_text(TITLE.encode("utf-8"), ["latin1"])
    assert text == TITLE
    assert why == "labelled latin1 is UTF-8; read as UTF-8"


def test_an_unknown_label_is_skipped_and_a_wrong_utf8_label_overruled():
    assert decode_text("søker".encode(), ["no-such-charset", "utf-8"]) == ("søker", None)
    text, why = decode_text(TITLE.encode("cp1252"), ["utf-8"])
    assert text == TITLE
    assert why == "is not valid utf-8; read as Windows-1252/ISO-8859-1"


def test_other_labels_mean_their_own_encoding():
    assert decode_text("Привет".encode("koi8-r"), ["koi8-r"]) == ("Привет", None)
    assert decode_text("€ Œ".encode("iso-8859-15"), ["l9"]) == ("€ Œ", None)


@pytest.mark.parametrize(
    "data, text, recoded",
    [
        pytest.param("a\nBjørn\nÅse\n".encode(), "a\nBjørn\nÅse\n", [], id="all-utf8"),
        pytest.param("a\r\nBjørn\r\nÅse\r\n".encode("cp1252"), "a\r\nBjørn\r\nÅse\r\n", [], id="all-cp1252"),
        pytest.param(
            "a\nBjørn\n".encode() + "Åse “x”\n".encode("cp1252") + "Ødegård\n".encode(),
            "a\nBjørn\nÅse “x”\nØdegård\n",
            [3],
            id="utf8-with-one-cp1252-line",
        ),
        pytest.param(
            b"\xef\xbb\xbfa\r" + "Åse\r".encode("latin-1"), "a\rÅse\r", [2], id="bom-and-a-latin1-line-cr-endings"
        ),
    ],
)
def test_decode_lines_reads_each_line_of_a_mixed_file_in_its_own_encoding(data, text, recoded):
    assert decode_lines(data) == (text, recoded)


# ---------------------------------------------------------------------- invisible characters

# The format characters (Unicode category Cf) every output keeps, and why (see `hidden_characters`).
KEPT_FORMAT = {
    0x00AD: "SOFT HYPHEN: where a long word may break",
    0x200C: "ZERO WIDTH NON-JOINER: Persian and Indic spelling",
    0x200D: "ZERO WIDTH JOINER: emoji sequences, Indic conjuncts",
    **dict.fromkeys((0x0600, 0x0601, 0x0602, 0x0603, 0x0604, 0x0605, 0x06DD, 0x070F), "visible Arabic/Syriac marks"),
    **dict.fromkeys((0x0890, 0x0891, 0x08E2, 0x110BD, 0x110CD), "visible Arabic and Kaithi marks"),
    **dict.fromkeys(range(0x13430, 0x13440), "Egyptian hieroglyph format controls"),
    **dict.fromkeys(range(0x1BCA0, 0x1BCA4), "Duployan shorthand format controls"),
}


def test_every_format_character_is_either_removed_or_kept_on_purpose():
    """A Python whose Unicode adds a format character fails here until someone decides what it is."""
    undecided = [
        f"U+{code:04X}"
        for code in range(0x110000)
        if unicodedata.category(chr(code)) == "Cf" and code not in KEPT_FORMAT and not hidden_characters(chr(code))
    ]
    assert undecided == []


def test_the_invisible_set_holds_every_control_and_what_xml_forbids_and_keeps_tab_and_line_breaks():
    for code in range(0x110000):
        char = chr(code)
        if char in "\t\n\r":
            assert hidden_characters(char) == []
        elif unicodedata.category(char) in ("Cc", "Cs") or _NOT_XML_CHAR.match(char):
            assert hidden_characters(char) == [(0, char)], f"U+{code:04X}"


@pytest.mark.parametrize(
    "text, stripped",
    [
        ("[regjeringen.no\u202e/on.ned\u202c](https://evil.example)", "[regjeringen.no/on.ned](https://evil.example)"),
        ("\u2067Isolert\u2069 og \u200fmerket\u200e", "Isolert og merket"),
        ("Null\u200bbredde\u2060ord\ufeffer", "Nullbreddeorder"),
        ("Skjult\U000e0069\U000e0067\U000e006e tekst", "Skjult tekst"),
        ("Alarm\x07klokke\x00slag\x9bet", "Alarmklokkeslaget"),  # a control that is no break: nothing
        ("Tab\tog\nlinje\r\n", "Tab\tog\nlinje\r\n"),
        ("Familie: 👨\u200d👩\u200d👧 og menneske\u00adhandel", "Familie: 👨\u200d👩\u200d👧 og menneske\u00adhandel"),
        ("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"),
    ],
)
def test_strip_hidden_removes_what_hides_or_reorders_text_and_keeps_what_scripts_need(text, stripped):
    assert strip_hidden(text) == stripped
    found = dict(hidden_characters(text))
    assert all(text[index] == char for index, char in found.items())
    assert "".join(char for index, char in enumerate(text) if index not in found) == stripped


@pytest.mark.parametrize(
    "text, spaced",
    [
        (
            "Linje\x0bneste\x0cside\x85NEL\u2028LS\u2029PS\x1cFS\x1dGS\x1eRS\x1fUS",
            "Linje neste side NEL LS PS FS GS RS US",
        ),
        ("Side\x0c\x0c\u2028to", "Side to"),  # a run of breaks: one space
        ("Godt\x0c nytt\u2028\n", "Godt nytt\n"),  # beside white space: nothing more
        ("\x0cStart og slutt\u2029", "Start og slutt"),  # at either end: nothing
        ("Linje\x0c\n    kode", "Linje\n    kode"),  # never indents a line of Markdown into a code block
        ("Ord\u200b\x0c\u202eord", "Ord ord"),  # the characters that go go first: the break is between words
        ("Usyn\u200blig \u202e\x0bord", "Usynlig ord"),
    ],
)
def test_a_break_between_two_words_is_one_space_and_never_a_line(text, spaced):
    """VT, FF, NEL, the information separators and U+2028/U+2029: deleted, "Linje\\x85neste" read "Linjeneste"."""
    assert strip_hidden(text) == spaced
    assert {char for char in text if is_break(char)} <= {char for _, char in hidden_characters(text)}


def test_the_breaks_are_the_invisible_characters_that_are_white_space():
    """Unicode's White_Space (VT, FF, NEL, U+2028, U+2029) and what Python splits at besides (FS, GS, RS, US)."""
    for code in range(0x110000):
        char = chr(code)
        assert is_break(char) == (bool(hidden_characters(char)) and char.isspace()), f"U+{code:04X}"


def test_a_character_is_named_for_the_editor():
    assert character_name("\u202e") == "U+202E RIGHT-TO-LEFT OVERRIDE"
    assert character_name("\x0c") == "U+000C, a control character"
    assert character_name("\U000e0041") == "U+E0041 TAG LATIN CAPITAL LETTER A"


def test_visible_shows_each_invisible_character_as_its_code_point_and_nothing_else():
    assert visible("Ny \u202erapport\u202c om\u2028tvangs\x1b[31marbeid") == (
        "Ny ⟨U+202E⟩rapport⟨U+202C⟩ om⟨U+2028⟩tvangs⟨U+001B⟩[31marbeid"
    )
    kept = "Tab\tog linje\n, Familie: 👨\u200d👩\u200d👧, menneske\u00adhandel, \u0645\u06cc\u200c"
    assert visible(kept) == kept
    assert visible("\U000e0041") == "⟨U+E0041⟩"
