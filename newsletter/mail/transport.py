"""Transports: where a composed message goes, one recipient at a time.

`SMTPTransport` holds one connection to the server of newsletter.yaml (plain,
STARTTLS or implicit TLS, with login when a username is set), reuses it for
many messages and opens it again when the server has dropped it. Each message
is one RFC 5321 mail transaction (MAIL FROM, RCPT TO, DATA), and every reply
or broken connection becomes one of the outcomes below, by the RFC 5321 4.2.1
reply classes:

- accepted (2xx at the end of DATA): `send` returns the server's reply;
- `TransientFailure`: a 4xx (RFC 3463 class 4, "persistent transient"), or the
  connection lost before the data went out: the message may be tried again.
  `server` is True when the server as a whole is in trouble (421 "service not
  available, closing", a lost connection, no reply): no recipient's fault, so no
  recipient's attempt; False for a 4xx about this recipient or message (450,
  451, 452);
- `PermanentFailure`: a 5xx, with `reason` (`classify`) saying whose fault it
  is by its RFC 3463 enhanced status code: "address" (5.1.x: no such mailbox,
  bad domain: a bounce), "mailbox" (5.2.x, a full mailbox 5.2.2 too, or 552
  without an enhanced code at RCPT TO, or an address this server cannot take:
  this recipient misses this issue only), "size" (the end of DATA refused with
  5.2.3 or a bare 552: a size limit, this mailbox's or the server's for every
  recipient alike), "policy" (5.7.x at any step, or any refusal of MAIL FROM:
  the setup is wrong, stop), "message" (the end of DATA refused for no reason
  of the mailbox: the newsletter itself, stop) or "unclassified" (a 5xx at
  RCPT TO without a telling code);
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
from typing import Literal, Protocol

from newsletter.errors import NewsletterError
from newsletter.fsutil import atomic_write
from newsletter.models import MailSettings

PASSWORD_ENV = "NEWSLETTER_SMTP_PASSWORD"


def dot_stuff(data: bytes) -> bytes:
    """RFC 5321 4.5.2 transparency: a line that starts with "." gets a second one.

    The same as smtplib's `re.sub(rb"(?m)^\\.", b"..", data)`, but bytes.replace scans a 110 KB
    message several times faster, and it runs for every recipient.
    """
    stuffed = data.replace(b"\n.", b"\n..")
    return b"." + stuffed if stuffed.startswith(b".") else stuffed


_ENHANCED = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})(?!\S)")

Reason = Literal["address", "mailbox", "size", "policy", "message", "unclassified"]


class TransientFailure(Exception):
    """The message was not accepted, but may be later (4xx, connection lost before DATA).

    `server`: the server as a whole failed (421, connection lost, no reply), not this recipient.
    """

    def __init__(self, message: str, server: bool = False):
        super().__init__(message)
        self.server = server


class PermanentFailure(Exception):
    """The server refused for good (5xx); `reason` says whose fault (see the module docstring).

    `recipient` is True when the refusal is about this recipient ("address" or "mailbox"), not the
    setup or the message.
    """

    def __init__(self, message: str, reason: Reason = "message"):
        super().__init__(message)
        self.reason: Reason = reason


def enhanced_status(text: str) -> tuple[int, int, int] | None:
    """The RFC 3463 enhanced status code (class, subject, detail) at the start of a reply's text, or None.

    `text` is the reply without its three-digit RFC 5321 code: "5.1.1 no such user" → (5, 1, 1).
    """
    found = _ENHANCED.match(text)
    return (int(found[1]), int(found[2]), int(found[3])) if found else None


def classify(code: int, text: str, step: str) -> Reason:
    """Whose fault a 5xx reply at `step` ("MAIL FROM", "RCPT TO", "end of DATA") is, by RFC 3463.

    `text` is the reply without its code. A full mailbox (5.2.2, or a 552
    without an enhanced code at RCPT TO, RFC 5321's "exceeded storage
    allocation") is "mailbox" like every 5.2.x: RFC 3463 3.3 calls it possibly
    transient, but it is emptied by a person, not within a run, so the recipient
    misses this issue only and `send --retry-failed` may queue it again later.
    At MAIL FROM no recipient is named yet, so any refusal there is the setup's
    ("policy"). At the end of DATA the transaction has this one recipient, so a
    5.1.x or 5.2.x there is the recipient's too, but for a size limit: there a
    bare 552 is RFC 1870's "message size exceeds fixed maximum message size" as
    often as a full mailbox, and 5.2.3 ("message length exceeds administrative
    limit", per mailbox in RFC 3463) is what sendmail and Gmail answer for their
    limit for everyone: "size", which `send` holds until the server has taken
    other mail. Before the data neither can be about the message's size: a send
    declares none (no RFC 1870 SIZE parameter).
    """
    status = enhanced_status(text)
    if status is not None and status[0] != 5:
        status = None  # a 5xx with a 2.x or 4.x code contradicts itself: trust the reply code only
    if status is not None and status[1] == 7:
        return "policy"
    if step == "MAIL FROM":
        return "policy"  # the envelope sender is refused: nothing about any recipient
    if status is not None and status[1] == 1:
        return "address"
    if step == "end of DATA" and (status == (5, 2, 3) or (status is None and code == 552)):
        return "size"
    if (status is not None and status[1] == 2) or (status is None and code == 552):
        return "mailbox"
    return "unclassified" if step == "RCPT TO" else "message"


# OpenSSL's reasons when a TLS client hello gets a plain-text answer (an SMTP greeting, "220 …").
PLAIN_TEXT_ANSWERS = frozenset({"WRONG_VERSION_NUMBER", "UNKNOWN_PROTOCOL", "HTTP_REQUEST", "RECORD_LAYER_FAILURE"})


class ServerUnavailable(NewsletterError):
    """The SMTP server cannot be reached or refuses us (connect, TLS, login): the run stops and
    every recipient keeps its place, without an attempt counted against them."""


class LoginRefused(ServerUnavailable):
    """The server refused the login (RFC 4954 535): the setup is wrong, and waiting will not fix it."""


class CertificateRejected(ServerUnavailable):
    """The server's TLS certificate is not trusted or not for its name: the setup is wrong (or someone is
    in the way), and waiting will not fix it."""


class OutboxWriteFailed(NewsletterError):
    """A message could not be written to the outbox (disk full, an I/O error): nothing of it was kept."""


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
        """Write the message as `<address>.eml` (atomically); returns "written".

        OutboxWriteFailed, naming the file, when it cannot be written (ENOSPC, EIO, …): the
        temporary file is gone, so nothing of the message was kept.
        """
        on_data()
        path = self.folder / outbox_name(recipient)
        try:
            atomic_write(path, data)
        except OSError as exc:
            raise OutboxWriteFailed(f"{path}: cannot write the message ({exc})") from exc
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
            context = tls_context(s)
            if s.security == "ssl":
                connection = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=s.timeout, context=context)
            else:
                connection = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.timeout)
                connection.ehlo()
                if s.security == "starttls":
                    connection.starttls(context=context)
                    connection.ehlo()
            if s.username:
                if not self.password:
                    raise NewsletterError(f"smtp.username is set: put the password in {PASSWORD_ENV}")
                connection.login(s.username, self.password)
        except smtplib.SMTPAuthenticationError as exc:
            raise LoginRefused(
                f"{s.smtp_host}:{s.smtp_port}: login refused ({_reply(exc)}); check smtp.username and {PASSWORD_ENV}"
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            asked = "STARTTLS (RFC 3207)" if "STARTTLS" in str(exc) else "a login (AUTH, RFC 4954)"
            raise LoginRefused(
                f"{s.smtp_host}:{s.smtp_port}: the server does not offer {asked}, which newsletter.yaml asks for; "
                "check smtp.security (starttls or ssl), smtp.port and smtp.username; nothing was sent"
            ) from exc
        except UnicodeEncodeError as exc:
            # smtplib writes AUTH PLAIN/LOGIN credentials as ASCII only (RFC 4616 allows UTF-8).
            raise LoginRefused(
                f"{s.smtp_host}:{s.smtp_port}: the user name or the password in {PASSWORD_ENV} has a letter "
                "outside ASCII (such as æ, ø or å), which Python's SMTP login cannot send; nothing was sent"
            ) from exc
        except ssl.SSLCertVerificationError as exc:
            where = f"the CA in {s.ca_file}" if s.ca_file else "the system's CAs (or smtp.ca_file for a private CA)"
            raise CertificateRejected(
                f"{s.smtp_host}:{s.smtp_port}: the server's TLS certificate is not trusted "
                f"({exc.verify_message}); it must be signed by {where} and name {s.smtp_host}; "
                "nothing was sent and every recipient keeps its place"
            ) from exc
        except ssl.SSLError as exc:
            if s.security == "ssl" and exc.reason in PLAIN_TEXT_ANSWERS:
                # The port answered in plain text: implicit TLS (RFC 8314) asked of a STARTTLS or plain port.
                raise LoginRefused(
                    f"{s.smtp_host}:{s.smtp_port}: the server answered in plain text, not TLS: this port does not "
                    "take implicit TLS (smtp.security: ssl); use security: starttls on this port (587 is the "
                    "usual one), or the implicit-TLS port (465); nothing was sent"
                ) from exc
            raise ServerUnavailable(
                f"{s.smtp_host}:{s.smtp_port}: the TLS handshake failed ({exc.reason or exc}); nothing was "
                "counted against the recipients"
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            # A slow server (or a firewall dropping the packets) times out: the wait is a setting of its own.
            slow = (
                f"; a slow server may need a longer smtp.timeout (now {s.timeout:g} s)"
                if isinstance(exc, TimeoutError) or "timed out" in str(exc)  # smtplib's words at the greeting
                else ""
            )
            trouble = _connect_trouble(exc)
            raise ServerUnavailable(
                f"{s.smtp_host}:{s.smtp_port}: {trouble}{slow}; nothing was counted against the recipients"
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
            if smtputf8:
                smtp.ehlo_or_helo_if_needed()
                if not smtp.has_extn("smtputf8"):
                    # RFC 6531 3.4: without the extension a non-ASCII local part cannot be sent at all.
                    # Not the connection's fault and not a bounce: this server cannot take this address.
                    raise PermanentFailure(
                        f"not sent: {self.settings.smtp_host} does not offer SMTPUTF8 (RFC 6531), which the letters "
                        f"outside ASCII before the @ of {recipient} need; send through a server that offers it, or "
                        "ask the person for another address, then `send --retry-failed`",
                        reason="mailbox",
                    )
            code, reply = smtp.mail(sender, options)
            _check(code, reply, "MAIL FROM")
            code, reply = smtp.rcpt(recipient)
            _check(code, reply, "RCPT TO")
            code, reply = smtp.docmd("DATA")
            _check(code, reply, "DATA", expected=354)
            try:
                on_data()
            except BaseException:
                # The server waits for message data now: a QUIT would be read as data, and `close` would
                # wait out the timeout for its answer. Drop the line; without the final "." nothing is sent.
                smtp.close()
                self.connection = None
                raise
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self.connection = None
            raise TransientFailure(f"connection lost before the message was sent ({exc})", server=True) from exc
        except (TransientFailure, PermanentFailure):
            # A refused step leaves the transaction open: reset it, or the next MAIL FROM is refused too.
            self._reset()
            raise
        sent = False  # whether the whole message, its end included, went out: then only the reply is awaited
        try:
            # After 354 the message goes out; a broken connection from here on leaves its fate unknown.
            # Dot-stuffing (RFC 5321 4.5.2) on the bytes; the message already has CRLF line ends.
            payload = dot_stuff(data)
            if not payload.endswith(b"\r\n"):
                payload += b"\r\n"
            smtp.send(payload + b".\r\n")
            sent = True
            # RFC 5321 4.5.3.2.6: the reply to the end of the data may take minutes (a server that checks
            # the message first); the other replies keep `timeout`.
            if smtp.sock is not None:
                smtp.sock.settimeout(self.settings.data_timeout)
            code, reply = smtp.getreply()
            if smtp.sock is not None:
                smtp.sock.settimeout(self.settings.timeout)
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self.connection = None
            # smtplib reports a read that timed out as a disconnection, the timeout its context.
            if sent and (isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError)):
                raise UnknownOutcome(
                    f"no reply to the end of the message data within {self.settings.data_timeout:g} s; it may or "
                    "may not have arrived (a server that checks messages before it answers may need a longer "
                    f"smtp.data_timeout)"
                ) from exc
            raise UnknownOutcome(
                f"connection lost while the message data was sent; it may or may not have arrived ({exc})"
            ) from exc
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


def tls_context(settings: MailSettings) -> ssl.SSLContext:
    """The TLS client context for the SMTP server: certificate and host name verified (RFC 3207 and
    RFC 8314 both leave that to the client), against `smtp.ca_file` when set, else the system's CAs.

    Raises NewsletterError when the CA file cannot be read as PEM certificates.
    """
    try:
        return ssl.create_default_context(cafile=settings.ca_file or None)
    except (OSError, ssl.SSLError) as exc:
        raise NewsletterError(f"smtp.ca_file {settings.ca_file}: cannot be read as PEM certificates ({exc})") from exc


def _connect_trouble(exc: Exception) -> str:
    """What went wrong in opening a connection, in words: a server that answered and refused service
    (its reply, RFC 5321 3.1: 554, or 421 when it is shutting down) is not one that cannot be reached."""
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"the server answered but refused service ({_reply(exc)})"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused: nothing takes connections on that port (check smtp.host and smtp.port)"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return "the server closed the connection before it greeted" + (f" ({exc})" if str(exc) else "")
    return f"cannot connect ({exc.strerror or exc})" if isinstance(exc, OSError) else f"cannot connect ({exc})"


def _reply(exc: smtplib.SMTPResponseException) -> str:
    text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
    return f"{exc.smtp_code} {text}"


def _check(code: int, reply: bytes, step: str, expected: int | None = None) -> None:
    """Raise the outcome of a reply that is not the one hoped for (RFC 5321 4.2.1 classes, RFC 3463 codes).

    421 (service closing) and smtplib's -1 (no reply) are the server's trouble;
    any other 4xx is transient for this message; any 5xx is permanent, with
    the reason `classify` gives.
    """
    words = reply.decode("utf-8", "replace")
    text = f"{code} {words}".strip()
    if expected is not None and code == expected:
        return
    if 200 <= code < 300 and expected is None:
        return
    if code in (421, -1):
        raise TransientFailure(f"{step}: {text}", server=True)
    if 400 <= code < 500:
        raise TransientFailure(f"{step}: {text}")
    raise PermanentFailure(f"{step}: {text}", reason=classify(code, words, step))
