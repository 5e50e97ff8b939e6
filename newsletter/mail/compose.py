"""Composing: the built issue once, then one cheap MIME message per recipient.

The e-mail HTML and text come from `build/<id>/` (premailer ran there, once);
per recipient only the placeholders are replaced (the unsubscribe link, the
web-version link). Each message is `multipart/alternative` (text, then HTML),
inside `multipart/mixed` with the PDF when it is attached; bodies are
quoted-printable, so every line is 7-bit and short; headers are encoded by
the standard library's SMTP policy, except List-Unsubscribe, which is plain
ASCII by construction (RFC 2369 forbids encoding it). No tracking: no pixel,
no rewritten link.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import hmac
import os
import re
from dataclasses import dataclass
from email import policy, quoprimime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import quote

from email_validator import EmailNotValidError, ValidatedEmail, validate_email

from newsletter import clock
from newsletter.collect.sanitize import clean_line
from newsletter.errors import NewsletterError
from newsletter.models import Issue, MailSettings
from newsletter.render.view import UNSUBSCRIBE_URL, WEB_VERSION_URL

SECRET_ENV = "NEWSLETTER_UNSUBSCRIBE_SECRET"


@dataclass(frozen=True)
class Prepared:
    """An issue rendered once for mailing."""

    issue_id: str
    subject: str
    html: str
    text: str
    web_url: str
    pdf: bytes | None = None
    pdf_name: str = ""

    @property
    def version(self) -> str:
        """A short digest (12 hex digits of SHA-256) of what every recipient reads alike: the subject, both
        bodies and the PDF when attached. Two builds of one issue file give one version (the build is
        byte for byte reproducible); an edit that changes a word gives another."""
        digest = hashlib.sha256()
        for part in (self.subject.encode(), self.html.encode(), self.text.encode(), self.pdf or b""):
            digest.update(len(part).to_bytes(8, "big") + part)
        return digest.hexdigest()[:12]


def prepare(issue: Issue, build_dir: Path, site_url: str = "", attach_pdf: bool = False) -> Prepared:
    """Read the built e-mail (and PDF) of an issue; the build must exist (`newsletter build`)."""
    html_path, text_path, pdf_path = build_dir / "email.html", build_dir / "email.txt", build_dir / f"{issue.id}.pdf"
    missing = [p.name for p in (html_path, text_path) + ((pdf_path,) if attach_pdf else ()) if not p.exists()]
    if missing:
        raise NewsletterError(f"{build_dir}: {', '.join(missing)} missing; run `newsletter build {issue.id}` first")
    web_url = f"{site_url.rstrip('/')}/{issue.id}/" if site_url else ""
    html = html_path.read_text(encoding="utf-8")
    text = text_path.read_text(encoding="utf-8")
    if not web_url:  # no archive configured: drop the "read in the browser" link rather than leave it dead
        link = r'<a [^>]*href="' + re.escape(WEB_VERSION_URL) + r'"[^>]*>[^<]*</a>'
        # A paragraph that only sends the reader there (the long issue's notice before the clip) goes whole:
        # without its link it would be a sentence ending in ": ." (a reader's trial).
        html = re.sub(r"<p[^>]*>[^<]*" + link + r"[.!]?</p>\n?", "", html)
        html = re.sub(link, "", html)
        text = re.sub(r"[^\n]*\n" + re.escape(WEB_VERSION_URL) + r"\n", "", text)
    return Prepared(
        issue_id=issue.id,
        subject=clean_line(f"{issue.title} – {issue.period}"),
        html=html.replace(WEB_VERSION_URL, web_url),
        text=text.replace(WEB_VERSION_URL, web_url),
        web_url=web_url,
        pdf=pdf_path.read_bytes() if attach_pdf else None,
        pdf_name=pdf_path.name,
    )


@functools.lru_cache(maxsize=65536)  # one validation per address per process, whatever asks for it
def _validated(address: str) -> ValidatedEmail | None:
    """email-validator's reading of an address (syntax only, no DNS), or None when it does not validate.

    `smtp_address` (the envelope, To, the List-Unsubscribe link) and `signing_form` (the unsubscribe
    signature) both ask for every recipient; a send to 10,000 validated each address once per question
    before, and now once in all.
    """
    try:
        return validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        return None


@functools.lru_cache(maxsize=65536)
def smtp_address(address: str) -> str:
    """The address as SMTP wants it: an internationalised domain in its ASCII (IDNA) form.

    A local part with non-ASCII letters stays as it is: such a message needs
    SMTPUTF8 (see `needs_smtputf8`).
    """
    checked = _validated(address)
    if checked is None:
        return address
    return checked.ascii_email or f"{checked.local_part}@{checked.ascii_domain}"


def needs_smtputf8(address: str) -> bool:
    """True when the address cannot be written in ASCII (its local part has non-ASCII letters)."""
    return not smtp_address(address).isascii()


@functools.lru_cache(maxsize=65536)
def signing_form(address: str) -> str:
    """The one form of an address that its unsubscribe signature covers: as email-validator normalises it
    (an IDNA 2008 domain in Unicode, whether given as `blåbær.no` or its punycode `xn--…`), lower-cased.

    The same as the contact key, so a link carrying the ASCII form (as sent) or
    the Unicode form verifies alike. An address that does not validate is only
    stripped and lower-cased.
    """
    checked = _validated(address.strip())
    return checked.normalized.lower() if checked is not None else address.strip().lower()


def unsubscribe_token(address: str, settings: MailSettings) -> str:
    """The signature of a recipient's one-click unsubscribe link: an HMAC of the address's `signing_form`
    keyed by NEWSLETTER_UNSUBSCRIBE_SECRET, so nobody can unsubscribe someone else."""
    secret = os.environ.get(SECRET_ENV)
    if not secret:
        raise NewsletterError(
            f"unsubscribe_url is set in newsletter.yaml: set {SECRET_ENV} too (a long random "
            "text, kept secret), so unsubscribe links cannot be forged"
            if settings.unsubscribe_url
            else f"a one-click unsubscribe link is checked with the secret it was signed with: set {SECRET_ENV} "
            "to the one the messages went out with"
        )
    return hmac.new(secret.encode("utf-8"), signing_form(address).encode("utf-8"), hashlib.sha256).hexdigest()[:32]


def verify_unsubscribe_url(url: str, settings: MailSettings) -> str:
    """The address a received one-click unsubscribe link names, after checking its signature."""
    from urllib.parse import parse_qs, urlsplit

    query = parse_qs(urlsplit(url).query)
    address, signature = (query.get("email") or [""])[0], (query.get("sig") or [""])[0]
    # Compared as bytes: compare_digest refuses a str with letters outside ASCII (a link mangled on its way).
    expected = unsubscribe_token(address, settings).encode("utf-8")
    if not address or not hmac.compare_digest(signature.encode("utf-8"), expected):
        raise NewsletterError(f"{url}: not an unsubscribe link of this list (missing or wrong signature)")
    return address


def message_id(issue_id: str, address: str, settings: MailSettings) -> str:
    """A Message-ID that is the same every time this issue goes to this recipient."""
    digest = hashlib.sha256(f"{issue_id}|{address.lower()}".encode()).hexdigest()[:24]
    sender = smtp_address(settings.sender) if "@" in settings.sender else "x@newsletter.invalid"
    return f"<{issue_id}.{digest}@{sender.rsplit('@', 1)[-1].lower()}>"  # the domain in ASCII (IDNA)


def unsubscribe_links(address: str, settings: MailSettings) -> tuple[str, str | None]:
    """(mailto link, https one-click link or None) for a recipient."""
    mailbox = settings.unsubscribe_mailto or settings.reply_to or settings.sender
    mailto = f"mailto:{smtp_address(mailbox)}?subject=avmeld"
    if not settings.unsubscribe_url:
        return mailto, None
    joiner = "&" if "?" in settings.unsubscribe_url else "?"
    token = unsubscribe_token(address, settings)
    ascii_address = smtp_address(address)
    return mailto, (
        f"{settings.unsubscribe_url}{joiner}list={quote(settings.list_id)}&email={quote(ascii_address)}&sig={token}"
    )


def compose(
    prepared: Prepared,
    settings: MailSettings,
    address: str,
    name: str = "",
    now: dt.datetime | None = None,
    visible: str | None = None,
) -> EmailMessage:
    """The message for one recipient (`visible`: the unsubscribe link shown in the text; its own by default)."""
    if not settings.sender:
        raise NewsletterError("newsletter.yaml has no `sender`: the From address of the newsletter")
    mailto, https = unsubscribe_links(address, settings)
    visible = visible or https or mailto
    # SMTPUTF8 only for an address that needs it. Headers and bodies are folded at 78, so encoded
    # words stay within RFC 2047's 75 characters; `message_bytes` writes List-Unsubscribe unfolded.
    chosen = policy.SMTPUTF8 if needs_smtputf8(address) else policy.SMTP
    message = EmailMessage(policy=chosen)
    message["From"] = _address(settings.sender_name, settings.sender)
    message["To"] = _address(name, address)
    if settings.reply_to:
        message["Reply-To"] = _address("", settings.reply_to)
    message["Subject"] = prepared.subject
    # RFC 5322 3.3: the date with the publisher's UTC offset (+0100 or +0200 in Oslo), not the machine's.
    message["Date"] = format_datetime(clock.local(now or clock.now(), settings.timezone))
    message["Message-ID"] = message_id(prepared.issue_id, address, settings)
    if settings.list_id:
        message["List-Id"] = f"<{settings.list_id}>"
    # RFC 2369/8058: a list of <URI>s in plain ASCII, never RFC 2047-encoded.
    message["List-Unsubscribe"] = ", ".join(f"<{uri}>" for uri in (https, mailto) if uri)
    if https:
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["MIME-Version"] = "1.0"
    message.set_content(
        prepared.text.replace(UNSUBSCRIBE_URL, visible), subtype="plain", charset="utf-8", cte="quoted-printable"
    )
    message.add_alternative(
        prepared.html.replace(UNSUBSCRIBE_URL, visible), subtype="html", charset="utf-8", cte="quoted-printable"
    )
    if prepared.pdf is not None:
        message.add_attachment(prepared.pdf, maintype="application", subtype="pdf", filename=prepared.pdf_name)
    return message


def message_bytes(message: EmailMessage) -> bytes:
    """The message as sent: folded at 78, except List-Unsubscribe, which stays one plain line, and a
    Subject when the standard library's folding of it would not decode back to it: then it is
    written as RFC 2047 encoded words by `encode_subject`.

    Folding a long List-Unsubscribe makes the standard library RFC 2047-encode it, which
    RFC 2369 forbids; its value is ASCII by construction, so it is written as it is. The
    standard library's folder (Python 3.12) loses the space before an encoded word and can
    write empty ones (`=?utf-8?q??=`) when it folds a long Norwegian subject, so that the
    subject the reader sees is not the editor's.
    """
    data = message.as_bytes()
    replaced: dict[bytes, list[bytes]] = {}
    raw = message.get("List-Unsubscribe")
    if raw is not None:
        replaced[b"list-unsubscribe"] = [b"List-Unsubscribe: " + str(raw).encode("ascii")]
    subject = message.get("Subject")
    if subject is not None and not getattr(message.policy, "utf8", False) and not _folded_right(data, str(subject)):
        replaced[b"subject"] = encode_subject(str(subject))
    if not replaced:
        return data
    head, separator, body = data.partition(b"\r\n\r\n")
    lines, out, skipping = head.split(b"\r\n"), [], False
    for line in lines:
        name = line.split(b":", 1)[0].lower()
        if line[:1] not in (b" ", b"\t") and name in replaced:
            out.extend(replaced[name])
            skipping = True
            continue
        if skipping and line[:1] in (b" ", b"\t"):
            continue  # a folded continuation of the header just replaced
        skipping = False
        out.append(line)
    return b"\r\n".join(out) + separator + body


def _folded_right(data: bytes, subject: str) -> bool:
    """True when the standard library wrote the Subject so that it decodes back to exactly `subject`,
    with lines of at most 78 and no empty encoded word (then its more readable form is kept)."""
    from email.header import decode_header, make_header

    block = _header_block(data, b"Subject")
    if any(len(line) > 78 for line in block) or b"??=" in b"".join(block):
        return False
    value = b"\r\n".join(block).split(b":", 1)[1].decode("ascii").lstrip(" ")
    value = re.sub(r"\r\n(?=[ \t])", "", value)  # unfold (RFC 5322 2.2.3) before comparing the text
    try:
        return str(make_header(decode_header(value))) == subject
    except (ValueError, LookupError, UnicodeDecodeError):
        return False


# RFC 2047 2: an encoded word is at most 75 characters; "=?utf-8?b?" + "?=" take 12, leaving 63 for
# base64, i.e. 45 bytes. 39 bytes (52 base64 characters) keep the first line, after "Subject: ", at 73.
_WORD_BYTES = 39


def encode_subject(subject: str) -> list[bytes]:
    """A Subject header as lines of RFC 2047 "B" encoded words in UTF-8, each line at most 78 characters.

    The whole text, spaces included, goes into the encoded words, and a word never splits a
    character's UTF-8 bytes (RFC 2047 5), so a reader joins the words (RFC 2047 6.2 ignores the
    folding white space between two encoded words) and gets back exactly `subject`.
    """
    words: list[bytes] = []
    chunk = b""
    for char in subject:
        encoded = char.encode("utf-8")
        if len(chunk) + len(encoded) > _WORD_BYTES:
            words.append(chunk)
            chunk = b""
        chunk += encoded
    if chunk:
        words.append(chunk)
    encoded_words = [b"=?utf-8?b?" + base64.b64encode(word) + b"?=" for word in words]
    return [b"Subject: " + encoded_words[0]] + [b" " + word for word in encoded_words[1:]]


def _address(name: str, address: str) -> Address:
    local, _, domain = smtp_address(address).rpartition("@")
    return Address(display_name=clean_line(name), username=local, domain=domain)


class MessageTemplate:
    """A message serialised once; per recipient only To, Message-ID, List-Unsubscribe and the lines of
    the bodies that carry the unsubscribe link change. The result is byte for byte what `compose`
    makes (but for the MIME boundaries, which are random for each composed message).

    Composing a MIME message (and quoted-printable-encoding an 80 KB body) for each of 10,000
    recipients is what made a send slow. Quoted-printable (RFC 2045 6.7) encodes each line of a
    body on its own, so the lines without the link are encoded once, here, and only the lines with
    it are encoded per recipient, by the encoder `compose` uses (the standard library's, at the
    policy's line length), where it breaks them the same way.
    """

    PLACEHOLDER = "placeholder@newsletter.invalid"

    def __init__(self, prepared: Prepared, settings: MailSettings, now: dt.datetime | None = None):
        self.prepared, self.settings = prepared, settings
        self.now = now or clock.now()
        message = compose(prepared, settings, self.PLACEHOLDER, "", self.now, visible=UNSUBSCRIBE_URL)
        self.max_line_length = message.policy.max_line_length or 78
        self.data = message_bytes(message)
        head, _, body = self.data.partition(b"\r\n\r\n")
        self.head = head.split(b"\r\n")
        # The body as constant pieces around the lines that carry the link: pieces[0], lines[0], pieces[1], ...
        self.pieces, self.lines = self._split(message, body)
        swapped = (b"To:", b"Message-ID:", b"List-Unsubscribe:")
        # Should a header be missing, or the pieces not give back the body compose wrote (the link's lines
        # encoded with the placeholder in them), compose each message in full instead: slower, never wrong.
        self.usable = (
            all(any(line.startswith(name) for line in self.head) for name in swapped)
            and self._body(UNSUBSCRIBE_URL) == body
        )

    def _split(self, message: EmailMessage, body: bytes) -> tuple[list[bytes], list[str]]:
        """The serialised `body` cut around the source lines of the text and HTML parts that carry the
        link; ([body], []) when a part's encoded payload is not found exactly once."""
        pieces: list[bytes] = [b""]
        lines: list[str] = []
        cursor = 0
        sources = {"text/plain": self.prepared.text, "text/html": self.prepared.html}
        for part in message.walk():
            source = sources.get(part.get_content_type())
            if source is None or part.is_multipart():
                continue
            # The generator writes the encoded payload with CRLF line ends (RFC 5322 2.3).
            encoded = str(part.get_payload()).replace("\n", "\r\n").encode("ascii")
            at = body.find(encoded, cursor)
            if at < 0 or body.count(encoded) != 1:
                return [body], []
            pieces[-1] += body[cursor:at]
            plain: list[bytes] = []
            # Split as compose's encoder does: the UTF-8 bytes at CR, LF or CRLF.
            for line in source.encode("utf-8").splitlines():
                if UNSUBSCRIBE_URL.encode("ascii") in line:
                    pieces[-1] += self._encode(plain)
                    plain = []
                    lines.append(line.decode("utf-8"))
                    pieces.append(b"")
                else:
                    plain.append(line)
            pieces[-1] += self._encode(plain)
            cursor = at + len(encoded)
        pieces[-1] += body[cursor:]
        return pieces, lines

    def _encode(self, lines: list[bytes]) -> bytes:
        """Source lines as `compose` encodes them: quoted-printable at the policy's line length, CRLF."""
        if not lines:
            return b""
        text = (b"\n".join(lines) + b"\n").decode("latin-1")  # as email.contentmanager hands it over
        return quoprimime.body_encode(text, self.max_line_length).replace("\n", "\r\n").encode("ascii")

    def _body(self, link: str) -> bytes:
        """The serialised body with `link` in place of the placeholder."""
        out = [self.pieces[0]]
        for line, piece in zip(self.lines, self.pieces[1:], strict=True):
            out.append(self._encode([line.replace(UNSUBSCRIBE_URL, link).encode("utf-8")]))
            out.append(piece)
        return b"".join(out)

    def render(self, address: str, name: str = "") -> bytes:
        """The message for one recipient, as bytes: `message_bytes(compose(...))` for the same `now`."""
        if not self.usable or needs_smtputf8(address):
            return message_bytes(compose(self.prepared, self.settings, address, name, self.now))
        mailto, https = unsubscribe_links(address, self.settings)
        fresh = EmailMessage(policy=policy.SMTP)
        fresh["To"] = _address(name, address)
        fresh["Message-ID"] = message_id(self.prepared.issue_id, address, self.settings)
        # To may fold onto continuation lines: take it (and them) as the policy wrote them.
        to_block = _header_block(fresh.as_bytes(), b"To")
        new = {b"Message-ID": fresh["Message-ID"].encode("ascii")}
        new[b"List-Unsubscribe"] = ", ".join(f"<{uri}>" for uri in (https, mailto) if uri).encode("ascii")
        head, skipping = [], False
        for line in self.head:
            if skipping and line[:1] in (b" ", b"\t"):
                continue
            skipping = False
            name_part = line.split(b":", 1)[0]
            if name_part == b"To":
                head.extend(to_block)
                skipping = True
            elif name_part in new:
                head.append(name_part + b": " + new[name_part])
                skipping = True
            else:
                head.append(line)
        return b"\r\n".join(head) + b"\r\n\r\n" + self._body(https or mailto)


def _header_block(data: bytes, name: bytes) -> list[bytes]:
    """A header's lines (with its folded continuations) from serialised headers."""
    lines = data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    block: list[bytes] = []
    for line in lines:
        if block and line[:1] in (b" ", b"\t"):
            block.append(line)
        elif block:
            break
        elif line.split(b":", 1)[0] == name:
            block.append(line)
    return block
