"""Transports: where a composed message goes, one recipient at a time.

`SMTPTransport` holds one connection to the server of newsletter.yaml (plain,
STARTTLS or implicit TLS, with login when a username is set), reuses it for
many messages and opens it again when the server has dropped it. Each message
is one RFC 5321 mail transaction (MAIL FROM, RCPT TO, DATA), and every reply
or broken connection becomes one of the outcomes below, by the RFC 5321 4.2.1
reply classes:

- accepted (2xx at the end of DATA): `send` returns the server's reply;
- `TransientFailure`: a 4xx (RFC 3463 class 4, "persistent transient"), or the
  connection lost before the data went out: the message may be tried again;
- `PermanentFailure`: a 5xx; `recipient` says whether it was the RCPT TO of
  this recipient (a bounce) or the message itself (MAIL FROM, end of DATA);
- `UnknownOutcome`: the connection broke after the data went out, so the server
  may have the message;
- `ServerUnavailable`: no connection at all (connect, TLS, login).

`OutboxTransport` writes the messages to a folder instead (no server
configured, or a dry run). What to do with each outcome (the ledger, retries,
bounces) is `newsletter.mail.send`'s.
"""

from __future__ import annotations

import contextlib
import os
import re
import smtplib
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from newsletter.errors import NewsletterError
from newsletter.fsutil import atomic_write
from newsletter.models import MailSettings

PASSWORD_ENV = "NEWSLETTER_SMTP_PASSWORD"
_LEADING_DOT = re.compile(rb"(?m)^\.")


class TransientFailure(Exception):
    """The message was not accepted, but may be later (4xx, connection lost before DATA)."""


class PermanentFailure(Exception):
    """The server refused for good (5xx). Only a refusal at RCPT TO is about the recipient."""

    def __init__(self, message: str, recipient: bool = False):
        super().__init__(message)
        self.recipient = recipient


class ServerUnavailable(NewsletterError):
    """The SMTP server cannot be reached or refuses us (connect, TLS, login): the run stops and
    every recipient keeps its place, without an attempt counted against them."""


class UnknownOutcome(Exception):
    """The connection broke after the message data was sent: the server may have it."""


class Transport(Protocol):
    """Where messages go: `open`, then `send` per recipient, then `close`."""

    def open(self) -> None:
        """Get ready to send (connect); ServerUnavailable when that is impossible."""

    def send(self, data: bytes, sender: str, recipient: str, smtputf8: bool, on_data: Callable[[], None] = ...) -> str:
        """Hand over one message (`data`: CRLF line ends) for one envelope recipient; the reply."""
        ...

    def close(self) -> None:
        """Let go of the connection, if any."""


class OutboxTransport:
    """Writes each message to a folder as an .eml file (no SMTP configured, or --dry-run)."""

    def __init__(self, folder: Path):
        self.folder = folder

    def open(self) -> None:
        """Create the outbox folder."""
        self.folder.mkdir(parents=True, exist_ok=True)

    def send(
        self, data: bytes, sender: str, recipient: str, smtputf8: bool, on_data: Callable[[], None] = lambda: None
    ) -> str:
        """Write the message as `<address>.eml` (atomically); returns "written"."""
        on_data()
        atomic_write(self.folder / outbox_name(recipient), data)
        return "written"

    def close(self) -> None:
        """Nothing to close."""


def outbox_name(recipient: str) -> str:
    """The .eml file name of a recipient in the outbox (the address, made safe for a file name)."""
    return recipient.lower().replace("/", "_").replace("\\", "_") + ".eml"


class SMTPTransport:
    """One SMTP connection, reused, and opened again when the server drops it.

    The password comes from NEWSLETTER_SMTP_PASSWORD unless given.
    """

    def __init__(self, settings: MailSettings, password: str | None = None):
        self.settings = settings
        self.password = password if password is not None else os.environ.get(PASSWORD_ENV)
        self.connection: smtplib.SMTP | None = None

    def open(self) -> None:
        """Connect, with TLS (RFC 3207 STARTTLS, or implicit TLS) and login as configured.

        ServerUnavailable, naming the host and port, when any of that fails;
        NewsletterError when a username is set without a password.
        """
        s = self.settings
        connection: smtplib.SMTP
        try:
            if s.security == "ssl":
                connection = smtplib.SMTP_SSL(
                    s.smtp_host, s.smtp_port, timeout=s.timeout, context=ssl.create_default_context()
                )
            else:
                connection = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.timeout)
                connection.ehlo()
                if s.security == "starttls":
                    connection.starttls(context=ssl.create_default_context())
                    connection.ehlo()
            if s.username:
                if not self.password:
                    raise NewsletterError(f"smtp.username is set: put the password in {PASSWORD_ENV}")
                connection.login(s.username, self.password)
        except smtplib.SMTPAuthenticationError as exc:
            raise ServerUnavailable(
                f"{s.smtp_host}:{s.smtp_port}: login refused ({_reply(exc)}); check smtp.username and {PASSWORD_ENV}"
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise ServerUnavailable(
                f"{s.smtp_host}:{s.smtp_port}: cannot connect ({exc}); nothing was "
                "counted against the recipients: run send again when the server is back"
            ) from exc
        self.connection = connection

    def send(
        self, data: bytes, sender: str, recipient: str, smtputf8: bool, on_data: Callable[[], None] = lambda: None
    ) -> str:
        """Send one message in one mail transaction; returns the server's reply to the end of DATA.

        `sender` and `recipient` are envelope addresses (ASCII domains); `smtputf8`
        asks for RFC 6531 SMTPUTF8 (a non-ASCII local part). `on_data` runs when the
        server said 354, just before the data goes out. Raises TransientFailure,
        PermanentFailure or UnknownOutcome as the module docstring says, and
        ServerUnavailable when the connection cannot be (re)opened.
        """
        if self.connection is None:
            self.open()
        smtp = self.connection
        assert smtp is not None  # open() connected or raised
        options = ["SMTPUTF8", "BODY=8BITMIME"] if smtputf8 else []
        try:
            code, reply = smtp.mail(sender, options)
            _check(code, reply, "MAIL FROM")
            code, reply = smtp.rcpt(recipient)
            _check(code, reply, "RCPT TO", recipient_step=True)
            code, reply = smtp.docmd("DATA")
            _check(code, reply, "DATA", expected=354)
            on_data()
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self.connection = None
            raise TransientFailure(f"connection lost before the message was sent ({exc})") from exc
        except (TransientFailure, PermanentFailure):
            # A refused step leaves the transaction open: reset it, or the next MAIL FROM is refused too.
            self._reset()
            raise
        try:
            # After 354 the message goes out; a broken connection from here on leaves its fate unknown.
            # Dot-stuffing (RFC 5321 4.5.2) on the bytes; the message already has CRLF line ends.
            payload = _LEADING_DOT.sub(b"..", data)
            if not payload.endswith(b"\r\n"):
                payload += b"\r\n"
            smtp.send(payload + b".\r\n")
            code, reply = smtp.getreply()
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self.connection = None
            raise UnknownOutcome(f"connection lost after the message data was sent ({exc})") from exc
        if code == 421:
            self.close()
        _check(code, reply, "end of DATA")
        return f"{code} {reply.decode('utf-8', 'replace')}".strip()

    def _reset(self) -> None:
        if self.connection is None:
            return
        try:
            code, _reply = self.connection.rset()
            if code == 421:
                self.close()
        except (smtplib.SMTPException, OSError):
            self.connection = None

    def close(self) -> None:
        """Say QUIT and drop the connection."""
        if self.connection is not None:
            with contextlib.suppress(Exception):
                self.connection.quit()
            self.connection = None


def _reply(exc: smtplib.SMTPResponseException) -> str:
    text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
    return f"{exc.smtp_code} {text}"


def _check(code: int, reply: bytes, step: str, expected: int | None = None, recipient_step: bool = False) -> None:
    """Raise the outcome of a reply that is not the one hoped for (RFC 5321 4.2.1 classes).

    421 (service closing), any 4xx, and smtplib's -1 (no reply) are transient; anything else is permanent.
    """
    text = f"{code} {reply.decode('utf-8', 'replace')}".strip()
    if expected is not None and code == expected:
        return
    if 200 <= code < 300 and expected is None:
        return
    if code == 421 or 400 <= code < 500 or code == -1:
        raise TransientFailure(f"{step}: {text}")
    raise PermanentFailure(f"{step}: {text}", recipient=recipient_step)
