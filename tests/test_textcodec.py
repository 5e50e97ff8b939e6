"""Bytes of an unsure encoding to text (`newsletter.textcodec.decode_text`), labels read as browsers read them."""

from __future__ import annotations

import pytest

from newsletter.textcodec import decode_lines, decode_text

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
