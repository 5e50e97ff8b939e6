"""The web page and the e-mail HTML of the sample issue in a real browser: Debian's headless Chromium.

Each page is opened from disk with `chromium --headless --screenshot`; the test reads Chromium's log
on stderr and decodes the PNG it wrote (standard library only: PNG is zlib-compressed filtered rows).

- Console: Chromium 156 prints every console message of a page as
  `[pid:tid:time:INFO:CONSOLE:line] "message", source: file:///… (line)`, at INFO whatever the
  message's level (console.log and console.error look the same; an uncaught exception reads
  `"Uncaught ReferenceError: …"`). The outputs carry no JavaScript at all, so *any* CONSOLE line from
  a page under test is a failure.
- Blank: a screenshot is blank when it has only a handful of colours or one colour covers nearly
  all of it; a rendered page also shows the masthead colour (settings colours.primary, #1f3864).
- Phone width: headless Chromium never lays a page out narrower than 500 px, whatever
  `--window-size` says (the screenshot is merely cropped), so a 390 px phone is emulated with an
  iframe 390 px wide.

Control tests prove the harness can fail: a page calling console.error is caught, an empty page is
blank. A missing Chromium fails (it does not skip): CI installs Debian's `chromium` package.
Screenshots stay in tmp_path; their paths are printed (see them with `pytest -s`).
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import signal
import struct
import subprocess
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from newsletter.config import load_settings
from newsletter.curate.issuefile import IssueDocument
from newsletter.render.build import build
from tests.conftest import SAMPLE_ISSUE, SAMPLE_SETTINGS

SETTINGS = load_settings(SAMPLE_SETTINGS)
TIMEOUT = 60
CONSOLE = re.compile(r":CONSOLE[:(]\d*\)?\]\s*(.*)$")
PHONE = 390
PRIMARY = dict(SETTINGS.colors)["primary"]  # the masthead colour, #1f3864


def chromium_binary() -> str:
    path = shutil.which("chromium") or ("/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None)
    if path is None:
        pytest.fail(
            "chromium not found: install Debian's chromium package (apt-get install chromium); "
            "CI installs it, and these tests need a real browser",
            pytrace=False,
        )
    return path


@dataclass
class Visit:
    """What one headless Chromium run left behind."""

    screenshot: Path
    console: list[str]  # the page's console messages
    stderr: str


_runs = itertools.count()


def run_chromium(url: str, work: Path, *flags: str, window: str = "1280,1600") -> tuple[str, list[str], str]:
    """Run headless Chromium on `url` with extra `flags`: its stdout, the page's console messages, stderr."""
    work.mkdir(parents=True, exist_ok=True)
    profile = work / f"profile-{next(_runs)}"
    command = [
        chromium_binary(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        f"--window-size={window}",
        "--enable-logging=stderr",
        "--v=0",
        "--log-level=0",
        *flags,
        url,
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # its own session: the browser and its helpers
        process.communicate()
        pytest.fail(f"chromium did not finish within {TIMEOUT} s on {url}")
    stderr = err.decode("utf-8", "replace") + out.decode("utf-8", "replace")
    assert process.returncode == 0, f"chromium failed (exit {process.returncode}) on {url}:\n{stderr[-3000:]}"
    console = [m[1] for line in stderr.splitlines() if (m := CONSOLE.search(line))]
    return out.decode("utf-8", "replace"), console, stderr


def visit(page: Path, work: Path, width: int = 1280, height: int = 1600) -> Visit:
    """Screenshot a page in headless Chromium; the console messages it logged come back too."""
    shot = work / f"{page.stem}-{width}x{height}.png"
    _out, console, stderr = run_chromium(
        page.resolve().as_uri(), work, f"--screenshot={shot}", window=f"{width},{height}"
    )
    assert shot.exists(), f"chromium wrote no screenshot of {page}:\n{stderr[-3000:]}"
    print(f"screenshot: {shot}")
    return Visit(shot, console, stderr)


def decode_png(data: bytes) -> tuple[int, int, int, list[bytes]]:
    """Width, height, channels and unfiltered rows of an 8-bit non-interlaced PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, [], None
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    assert header, "PNG without IHDR"
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and interlace == 0 and colour in (0, 2, 4, 6), f"unsupported PNG {header}"
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    assert len(raw) == height * (stride + 1), "truncated PNG data"
    low = int.from_bytes(b"\x7f" * stride, "big")
    high = int.from_bytes(b"\x80" * stride, "big")
    rows, previous = [], bytes(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], raw[start + 1 : start + 1 + stride]
        if kind == 0:
            row = line
        elif kind == 2:  # Up: bytewise (line + previous) mod 256, all at once on big integers
            a, b = int.from_bytes(line, "big"), int.from_bytes(previous, "big")
            row = (((a & low) + (b & low)) ^ ((a ^ b) & high)).to_bytes(stride, "big")
        else:
            out = bytearray(line)
            c = channels
            if kind == 1:  # Sub
                for i in range(c, stride):
                    out[i] = (out[i] + out[i - c]) & 255
            elif kind == 3:  # Average
                for i in range(stride):
                    out[i] = (out[i] + (((out[i - c] if i >= c else 0) + previous[i]) >> 1)) & 255
            elif kind == 4:  # Paeth
                for i in range(stride):
                    a, up, corner = (out[i - c], previous[i], previous[i - c]) if i >= c else (0, previous[i], 0)
                    p = a + up - corner
                    pa, pb, pc = abs(p - a), abs(p - up), abs(p - corner)
                    out[i] = (out[i] + (a if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 255
            else:
                raise AssertionError(f"bad PNG filter {kind} in row {y}")
            row = bytes(out)
        rows.append(row)
        previous = row
    return width, height, channels, rows


@dataclass
class Picture:
    width: int
    height: int
    colours: Counter  # RGB bytes → pixels

    @property
    def distinct(self) -> int:
        return len(self.colours)

    @property
    def dominant_share(self) -> float:
        return self.colours.most_common(1)[0][1] / (self.width * self.height)

    @property
    def non_white_share(self) -> float:
        return 1 - self.colours.get(b"\xff\xff\xff", 0) / (self.width * self.height)

    def has(self, hex_colour: str) -> bool:
        return bytes.fromhex(hex_colour.lstrip("#")) in self.colours

    @property
    def blank(self) -> bool:
        return self.distinct < 16 or self.dominant_share > 0.98


def picture(path: Path) -> Picture:
    width, height, channels, rows = decode_png(path.read_bytes())
    colours: Counter = Counter()
    step = channels
    for row in rows:
        if channels >= 3:
            colours.update(row[i : i + 3] for i in range(0, len(row), step))
        else:
            colours.update(bytes([row[i]] * 3) for i in range(0, len(row), step))
    return Picture(width, height, colours)


def assert_rendered(shot: Path, primary: str) -> Picture:
    image = picture(shot)
    print(
        f"{shot.name}: {image.width}x{image.height}, {image.distinct} colours, "
        f"{image.non_white_share:.0%} non-white, dominant {image.dominant_share:.0%}"
    )
    assert not image.blank, f"{shot} looks blank: {image.distinct} colours, dominant {image.dominant_share:.0%}"
    assert image.distinct >= 50, f"{shot}: only {image.distinct} colours (text is antialiased: expect many)"
    assert image.non_white_share >= 0.10, f"{shot}: only {image.non_white_share:.1%} of pixels are not white"
    assert image.has(primary), f"{shot}: the masthead colour {primary} is nowhere"
    return image


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """index.html and email.html of the sample issue (no PDF: the browser does not need it)."""
    chromium_binary()
    issue = IssueDocument.load(SAMPLE_ISSUE).issue(SETTINGS)
    out = tmp_path_factory.mktemp("site")
    return build(issue, SETTINGS, out, ("web", "email")).files


def phone_frame(page: Path, work: Path) -> Path:
    """A page showing `page` in an iframe as wide as a phone."""
    work.mkdir(parents=True, exist_ok=True)
    frame = work / f"phone-{page.stem}.html"
    frame.write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body style="margin:0">'
        f'<iframe src="{page.resolve().as_uri()}" style="display:block;border:0;'
        f'width:{PHONE}px;height:1900px"></iframe></body></html>',
        encoding="utf-8",
    )
    return frame


@pytest.mark.parametrize("name", ["index.html", "email.html"])
def test_page_loads_without_console_errors_and_renders(built, tmp_path, name):
    result = visit(built[name], tmp_path)
    assert result.console == [], f"{name} wrote to the console: {result.console}"
    assert "Uncaught" not in result.stderr
    assert_rendered(result.screenshot, PRIMARY)


def test_email_at_phone_width_renders(built, tmp_path):
    result = visit(phone_frame(built["email.html"], tmp_path), tmp_path, PHONE, 2000)
    assert result.console == [], result.console
    image = assert_rendered(result.screenshot, PRIMARY)
    assert image.width == PHONE


def measured_copy(page: Path, work: Path) -> Path:
    """A copy of `page` that reports its document's scroll and client widths on the console."""
    copy = work / f"measure-{page.name}"
    html = page.read_text(encoding="utf-8")
    script = (
        '<script>var d = document.documentElement; console.log("measure scrollWidth=" + d.scrollWidth'
        ' + " clientWidth=" + d.clientWidth);</script>'
    )
    assert "</body>" in html
    copy.write_text(html.replace("</body>", script + "</body>"), encoding="utf-8")
    return copy


def widths_at_phone(page: Path, work: Path) -> tuple[int, int]:
    work.mkdir(parents=True, exist_ok=True)
    result = visit(phone_frame(measured_copy(page, work), work), work, PHONE, 2000)
    found = [re.search(r"scrollWidth=(\d+) clientWidth=(\d+)", line) for line in result.console]
    found = [m for m in found if m]
    assert found, f"no measurement on the console: {result.console}"
    others = [line for line in result.console if "measure scrollWidth" not in line]
    assert not others, others
    return int(found[0][1]), int(found[0][2])


def test_web_page_fits_a_phone_without_horizontal_scrolling(built, tmp_path):
    scroll, client = widths_at_phone(built["index.html"], tmp_path)
    assert client <= PHONE
    assert scroll <= client, f"index.html is {scroll} px wide in a {client} px phone viewport"


def test_email_fits_a_phone_without_horizontal_scrolling(built, tmp_path):
    scroll, client = widths_at_phone(built["email.html"], tmp_path)
    assert client <= PHONE
    assert scroll <= client, f"email.html is {scroll} px wide in a {client} px phone viewport"


# --- controls: the harness can fail ---------------------------------------------------------------------


def test_control_console_error_is_detected(tmp_path):
    page = tmp_path / "boom.html"
    page.write_text(
        '<!DOCTYPE html><html><body><p>x</p><script>console.error("boom")</script></body></html>', encoding="utf-8"
    )
    result = visit(page, tmp_path, 800, 600)
    assert any('"boom"' in line for line in result.console), result.stderr[-2000:]


def test_control_empty_page_is_blank_and_quiet(tmp_path):
    page = tmp_path / "empty.html"
    page.write_text("<!DOCTYPE html><html><body></body></html>", encoding="utf-8")
    result = visit(page, tmp_path, 800, 600)
    assert result.console == []  # a clean page is not flagged: the console check is not always red
    image = picture(result.screenshot)
    assert image.blank and image.non_white_share == 0.0
    assert not image.has(PRIMARY)
    with pytest.raises(AssertionError, match="blank"):
        assert_rendered(result.screenshot, PRIMARY)
