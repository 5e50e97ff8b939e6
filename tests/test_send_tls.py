"""Sending over TLS with a login, against real aiosmtpd servers on 127.0.0.1 with `trustme` certificates:
STARTTLS (RFC 3207) on a submission port and implicit TLS (RFC 8314) on an SMTPS port, AUTH PLAIN and
AUTH LOGIN (RFC 4954); the server's certificate is trusted only through `smtp.ca_file`, and one signed by
another CA stops the send with one line and every recipient in place."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import trustme  # a test dependency: missing, these tests fail rather than skip
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from newsletter.config import load_settings
from newsletter.mail.send import freeze_recipients, run_send
from newsletter.mail.transport import CertificateRejected, SMTPTransport
from newsletter.store import Store
from tests.test_send import NOW, ScriptedSMTP, free_port, mail_settings, prepare, recipients
from tests.test_send import prepared as prepared  # noqa: F401 (fixture: the sample issue, built)
from tests.test_send_cli import invoke, mailing_workspace

USER, PASSWORD = "kom", "riktig-passord-42"
# aiosmtpd warns that its auth_require_tls is off for the SMTPS servers; TLSServer checks TLS itself.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def server_context(ca: trustme.CA) -> ssl.SSLContext:
    """The server's TLS context: a certificate for 127.0.0.1 and localhost signed by `ca`."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


class TLSServer:
    """An aiosmtpd server speaking STARTTLS or implicit TLS, that takes one user's login only over TLS
    and records which mechanism each login used.

    aiosmtpd 1.4's own `auth_require_tls` knows STARTTLS only (it would hide AUTH on an SMTPS port), so
    the authenticator itself refuses a login on a connection without TLS."""

    def __init__(self, ca: trustme.CA, implicit: bool, exclude: tuple[str, ...] = ()):
        self.handler = ScriptedSMTP()
        self.mechanisms: list[str] = []
        context = server_context(ca)
        tls = {"ssl_context": context} if implicit else {"tls_context": context, "require_starttls": True}
        self.controller = Controller(
            self.handler,
            hostname="127.0.0.1",
            port=free_port(),
            authenticator=self.authenticate,
            auth_required=True,
            auth_require_tls=not implicit,
            auth_exclude_mechanism=list(exclude),
            **tls,
        )
        self.controller.start()
        self.handler.port = self.controller.port

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        self.mechanisms.append(mechanism)
        over_tls = server.transport.get_extra_info("ssl_object") is not None
        good = (
            over_tls
            and isinstance(auth_data, LoginPassword)
            and (auth_data.login, auth_data.password)
            == (
                USER.encode(),
                PASSWORD.encode(),
            )
        )
        return AuthResult(success=good, handled=False)

    def stop(self) -> None:
        self.controller.stop()


CASES = [
    pytest.param(False, ("LOGIN",), "PLAIN", id="starttls-plain"),
    pytest.param(False, ("PLAIN",), "LOGIN", id="starttls-login"),
    pytest.param(True, ("LOGIN",), "PLAIN", id="implicit-tls-plain"),
    pytest.param(True, ("PLAIN",), "LOGIN", id="implicit-tls-login"),
]


@pytest.mark.parametrize("implicit, exclude, mechanism", CASES)
def test_login_over_tls_delivers_every_message(ca, ca_file, prepared, tmp_path, implicit, exclude, mechanism):  # noqa: F811
    """The login succeeds only over TLS (the server refuses it in clear), with the mechanism the server
    offers, and every message arrives once."""
    issue, out = prepared
    server = TLSServer(ca, implicit, exclude)
    settings = mail_settings(
        server.handler, security="ssl" if implicit else "starttls", username=USER, ca_file=ca_file, max_outage=2
    )
    try:
        with Store(tmp_path / "n.db") as store:
            freeze_recipients(store, "2024-q2", recipients(3), NOW)
            report = run_send(
                store, "2024-q2", prepare(issue, out), settings, SMTPTransport(settings, password=PASSWORD)
            )
    finally:
        server.stop()
    assert report.sent == 3
    assert server.handler.copies() == {f"mottaker{i:03d}@example.org": 1 for i in range(3)}
    assert server.mechanisms == [mechanism]


@pytest.mark.parametrize("implicit", [False, True], ids=["starttls", "implicit-tls"])
def test_a_certificate_from_an_untrusted_ca_stops_the_send_at_once(ca_file, prepared, tmp_path, implicit):  # noqa: F811
    """A server whose certificate another CA signed (a wrong relay, or someone in the way): the run stops
    without waiting out an "outage", no password is sent, nothing is mailed and nobody loses a place."""
    issue, out = prepared
    server = TLSServer(trustme.CA(), implicit)
    settings = mail_settings(
        server.handler, security="ssl" if implicit else "starttls", username=USER, ca_file=ca_file, max_outage=300
    )
    try:
        with Store(tmp_path / "n.db") as store:
            freeze_recipients(store, "2024-q2", recipients(2), NOW)
            with pytest.raises(CertificateRejected) as caught:
                run_send(store, "2024-q2", prepare(issue, out), settings, SMTPTransport(settings, password=PASSWORD))
            rows = {tuple(row) for row in store.db.execute("SELECT state, attempts FROM sends")}
    finally:
        server.stop()
    message = str(caught.value)
    assert "\n" not in message and "not trusted" in message and ca_file in message
    assert f"127.0.0.1:{server.handler.port}" in message
    assert rows == {("pending", 0)} and server.mechanisms == [] and server.handler.copies() == {}


@pytest.fixture
def tls_workspace(sample_workspace, ca, ca_file):
    """A workspace mailing through a STARTTLS server, with the private CA named by smtp.ca_file
    (relative to the workspace, as every path in newsletter.yaml), and 3 contacts."""
    Path(sample_workspace, "ca.pem").write_bytes(Path(ca_file).read_bytes())
    server = TLSServer(ca, implicit=False)
    smtp = f"security: starttls\nusername: {USER}\nca_file: ca.pem"
    mailing_workspace(sample_workspace, server.handler.port, 3, smtp, mail="retry_base: 0.01\nmax_outage: 2")
    yield sample_workspace, server
    server.stop()


def test_send_through_the_command_line_trusts_the_configured_ca(tls_workspace, monkeypatch):
    root, server = tls_workspace
    assert load_settings(root / "newsletter.yaml").mail.ca_file == str((root / "ca.pem").resolve())
    monkeypatch.setenv("NEWSLETTER_SMTP_PASSWORD", PASSWORD)
    result = invoke(root, "send", "2024-q2", "--yes")
    assert result.exit_code == 0, result.output
    assert len(server.handler.copies()) == 3


def test_an_untrusted_certificate_is_one_line_through_the_command_line(tls_workspace, monkeypatch, tmp_path):
    """Another CA's file in smtp.ca_file: exit 1 and one line naming the server and what to check."""
    root, server = tls_workspace
    trustme.CA().cert_pem.write_to_path(str(root / "ca.pem"))
    monkeypatch.setenv("NEWSLETTER_SMTP_PASSWORD", PASSWORD)
    result = invoke(root, "send", "2024-q2", "--yes")
    assert result.exit_code == 1 and "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "TLS certificate is not trusted" in errors[0] and "ca.pem" in errors[0], result.output
    assert server.handler.copies() == {}


def test_a_missing_ca_file_is_a_configuration_error_naming_it(tmp_path):
    settings = tmp_path / "newsletter.yaml"
    settings.write_text("sender: kom@example.org\nsmtp:\n  host: smtp.example.org\n  ca_file: finnes-ikke.pem\n")
    with pytest.raises(Exception, match=r"ca_file.*finnes-ikke\.pem"):
        load_settings(settings)


def test_a_password_outside_ascii_is_one_clear_error(ca, ca_file):
    """smtplib sends credentials as ASCII only: a password with "ø" is named as the cause, not a traceback."""
    from newsletter.mail.transport import LoginRefused

    server = TLSServer(ca, implicit=False)
    settings = mail_settings(server.handler, security="starttls", username=USER, ca_file=ca_file)
    try:
        with pytest.raises(LoginRefused, match="outside ASCII"):
            SMTPTransport(settings, password="blåbærsyltetøy").open()
    finally:
        server.stop()
