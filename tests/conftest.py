"""Shared fixtures: a real local HTTP server, fast fetch limits, throw-away workspaces, a pseudo-terminal
for commands that need a keyboard, and a count of the ranking models built."""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from newsletter.models import Limits
from tests.server import LocalServer, Route  # noqa: F401 (re-exported for tests)

DATA = Path(__file__).parent / "data"

# The sample workspace the tests read: copies of the repository's newsletter.yaml, feeds.yaml and
# issues/2024-q2.yaml, so that the editor's edits of the real ones (or a new issue) change no test.
SAMPLE = DATA / "workspace"
SAMPLE_SETTINGS = SAMPLE / "newsletter.yaml"
SAMPLE_ISSUE = SAMPLE / "issues" / "2024-q2.yaml"

# Small enough that a hanging server costs a fraction of a second, never the internet.
FAST_LIMITS = Limits(
    connect_timeout=1.0,
    read_timeout=0.5,
    total_timeout=3.0,
    max_bytes=2 * 1024 * 1024,
    max_redirects=3,
    retries=1,
    backoff=0.01,
    per_host=4,
    host_interval=0.0,
    workers=8,
)

FAST_FETCH_YAML = """
fetch:
  timeout: 0.5
  total_timeout: 3
  max_mb: 2
  max_redirects: 3
  retries: 1
  backoff: 0.01
  host_interval: 0
  per_host: 4
  workers: 8
"""


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch):
    """Tests talk to 127.0.0.1 directly, whatever proxy the machine has configured."""
    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "http_proxy",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "SSL_CERT_FILE",
        "NEWSLETTER_WORKSPACE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture
def server():
    """A started LocalServer; stopped after the test."""
    with LocalServer() as local:
        yield local


@pytest.fixture
def fast_limits() -> Limits:
    return FAST_LIMITS


def write_workspace(root: Path, feeds_yaml: str, settings_yaml: str = "") -> Path:
    """Write newsletter.yaml (fast fetch limits plus `settings_yaml`) and feeds.yaml into `root`."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "newsletter.yaml").write_text(
        "name: Test\nrelevance:\n  threshold: 3\n  clear: 6\n" + FAST_FETCH_YAML + textwrap.dedent(settings_yaml),
        encoding="utf-8",
    )
    (root / "feeds.yaml").write_text(textwrap.dedent(feeds_yaml), encoding="utf-8")
    return root


# newsletter.yaml's sections as the reference newsletter has them, with a heading order to check against.
KOM_SECTIONS = """
sections:
  - key: highlights
    title: Verdt å merke seg
  - key: kom
    title: KOMs hovedaktiviteter i {period}
  - key: norway
    title: Aktuelle norske tiltak, rapporter og forskning
    headings: [Stortinget, Politiske tiltak, Høringer]
  - key: international
    title: Aktuelle internasjonale tiltak, rapporter og forskning
    headings: [UNODC, OSSE, Danmark, Finland]
  - key: events
    title: Kommende arrangementer
"""


def one_source_workspace(root: Path, url: str, key: str = "src", kind: str = "rss", extra: str = "") -> Path:
    """A workspace with a single source (section norway), for tests about one feed's handling."""
    return write_workspace(
        root,
        f"""
    sources:
      - key: {key}
        name: Test source
        kind: {kind}
        url: {url}
        allow_private: true  # the test server is on 127.0.0.1: an intranet source
        section: norway
        heading: X
        {extra}
    """,
    )


@pytest.fixture
def sample_workspace(tmp_path):
    """A throw-away copy of tests/data/workspace: newsletter.yaml, feeds.yaml and sample issue 2024-q2."""
    return Path(shutil.copytree(SAMPLE, tmp_path, dirs_exist_ok=True))


def read_data(*parts: str) -> bytes:
    """Bytes of a file under tests/data."""
    return DATA.joinpath(*parts).read_bytes()


def pytest_addoption(parser):
    """--update-golden rewrites tests/golden/ from the current templates (review the diff!)."""
    parser.addoption(
        "--update-golden", action="store_true", default=False, help="regenerate the golden files of rendered outputs"
    )


@pytest.fixture
def smtp():
    """A real SMTP server (aiosmtpd) on localhost that replies as its `ScriptedSMTP` handler is told."""
    from aiosmtpd.controller import Controller

    from tests.test_send import ScriptedSMTP, free_port

    handler = ScriptedSMTP()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    handler.port = controller.port
    yield handler
    controller.stop()


@pytest.fixture(scope="module")
def ca():
    """A private certificate authority (trustme) for the TLS tests: a proxy's, a mail server's."""
    import trustme

    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca, tmp_path_factory) -> str:
    """The private CA's certificate as a PEM file, as an editor would name it in a setting."""
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


class PseudoTerminal:
    """A pseudo-terminal for a command that must see a keyboard (`issue triage`, `issue note --text -`),
    and what the command wrote to it, read as it comes.

    The command gets `slave` as its standard streams; the test types by writing to `master`.
    """

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        self.output = b""

    def read_until(self, done: Callable[[], bool], seconds: float = 30.0) -> None:
        """Read what the command writes until `done()` holds, or `seconds` pass (the test's asserts
        then show what was read)."""
        deadline = time.monotonic() + seconds
        while not done() and time.monotonic() < deadline:
            if select.select([self.master], [], [], 0.1)[0]:
                self.output += os.read(self.master, 65536)

    def read_to_the_end(self, process: subprocess.Popen) -> None:
        """Read until `process` ends and what it wrote before it ended is read too; kill it when it
        does not end in time."""
        self.read_until(lambda: process.poll() is not None)
        self.read_until(lambda: not select.select([self.master], [], [], 0.2)[0])
        if process.poll() is None:
            process.kill()

    def text(self) -> str:
        """What the command wrote, as text, each line ending in a newline (a terminal writes CR LF)."""
        return self.output.decode("utf-8").replace("\r\n", "\n")

    def close(self) -> None:
        """Close both ends."""
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def model_builds(monkeypatch) -> list[tuple[list, list]]:
    """Every ranking model (`curate.model.Model`) built while the test runs, as its documents and history:
    how a test tells a ranking served from a cache from one ranked afresh."""
    from newsletter.curate import model

    builds: list[tuple[list, list]] = []
    original = model.Model.__init__

    def spy(self, *args, **kwargs):
        original(self, *args, **kwargs)
        builds.append((self.documents, self.history))

    monkeypatch.setattr(model.Model, "__init__", spy)
    return builds
