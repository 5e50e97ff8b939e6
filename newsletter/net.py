"""Fetching untrusted URLs: limits, conditional GET, retries, politeness, proxies, the destination policy.

Every fetch is bounded: http(s) only (also after redirects), at most
`max_redirects` hops, a connect and a read timeout plus a deadline for the
whole body, and a cap on the *decompressed* size checked while streaming, so
neither a 60 MB page nor a gzip bomb is ever held in memory. 5xx answers,
timeouts and broken connections are retried with exponential backoff.

Government networks sit behind proxies with their own CA: requests honours
HTTPS_PROXY, HTTP_PROXY, NO_PROXY and REQUESTS_CA_BUNDLE from the environment;
SSL_CERT_FILE is honoured too when REQUESTS_CA_BUNDLE is not set. Every HTTP
session of the tool (the fetcher's, the link checker's) is made by `Sessions`,
so that policy is set in one place.

The destination policy (server-side request forgery): a feed or page can name
any address, and the tool's network may hold what no outsider should read (a
router's admin page, a cloud's metadata service at 169.254.169.254, an
intranet). Only what the editor wrote in feeds.yaml may point inside the
network. A *guarded* session (`Sessions.get()`, the default) refuses, before a
byte is sent, a URL whose host is a literal address that is not global or a
local name (`refusal`), on every hop of a redirect too; and, when it connects
directly (no proxy), it checks the address the socket actually connected to,
so a public name that resolves, or is re-bound, to an inside address gets no
further than the TCP handshake. Behind a proxy the proxy resolves names, so
only the literal and local-name checks apply. The *open* session
(`Sessions.get(guarded=False)`) is for a feeds.yaml URL as written, and for a
source with `allow_private: true`.
"""

from __future__ import annotations

import http.client
import ipaddress
import logging
import os
import random
import re
import socket
import ssl
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from email.message import Message
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import idna
import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from newsletter.errors import FetchError
from newsletter.models import Limits

log = logging.getLogger(__name__)
T = TypeVar("T")

REDIRECT_CODES = {301, 302, 303, 307, 308}
RETRY_CODES = {500, 502, 503, 504, 429}
# What the fetcher asks for: feeds first, then pages.
FEED_HEADERS = {
    "Accept-Encoding": "gzip, deflate",
    "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, text/html;q=0.8, "
    "*/*;q=0.5",
}


@dataclass
class Response:
    """A fetched body (or a 304) with what the parsers and the cache need."""

    url: str
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def not_modified(self) -> bool:
        """True for a 304: the source is unchanged since the validators were given."""
        return self.status == 304

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower-case ('' when absent)."""
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    @property
    def charset(self) -> str | None:
        """The charset parameter of Content-Type, if any."""
        message = Message()
        message["content-type"] = self.headers.get("content-type", "")
        charset = message.get_param("charset")
        return charset.strip().lower() if isinstance(charset, str) else None

    @property
    def etag(self) -> str | None:
        """The ETag validator, if the server sent one."""
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        """The Last-Modified validator, if the server sent one."""
        return self.headers.get("last-modified")


# --------------------------------------------------------------------------- destination policy

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# Names that never leave the machine or the site: RFC 6761 (localhost), RFC 6762 (.local,
# multicast DNS) and ICANN's reserved private top-level domain .internal (2024).
LOCAL_NAMES = ("localhost",)
LOCAL_SUFFIXES = (".localhost", ".local", ".internal")
# The well-known NAT64 prefix (RFC 6052): its last 32 bits are an IPv4 address.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# What the C library's inet_aton (which getaddrinfo uses on a numeric host) reads as IPv4:
# one to four parts, each decimal, octal (leading 0) or hex (0x): 2130706433, 0x7f000001,
# 0177.0.0.1 and 127.1 all name 127.0.0.1. The WHATWG URL Standard's IPv4 parser agrees.
_NUMERIC_HOST = re.compile(r"[0-9a-fA-FxX.]+")


class DestinationRefused(Exception):
    """A request refused by the destination policy before anything was sent; `reason` says why in words."""

    def __init__(self, target: str, reason: str):
        super().__init__(f"{target}: {reason}")
        self.target = target
        self.reason = reason


def literal_address(host: str) -> Address | None:
    """The IP address a URL's host names literally, in any form a resolver accepts; None for a name.

    `host` is as `urlsplit(url).hostname` gives it: IPv6 without brackets
    (a zone id such as `%25eth0` is dropped), IPv4 dotted, or in the
    integer, octal, hex and shortened forms of inet_aton(3) (`2130706433`,
    `0x7f000001`, `0177.0.0.1`, `127.1`). A trailing dot is ignored, as
    resolvers ignore it.
    """
    host = host.strip("[]").split("%", 1)[0].rstrip(".")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _NUMERIC_HOST.fullmatch(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def address_refusal(address: Address) -> str | None:
    """What makes an address one content may not reach ("a loopback address", …), or None when it is global.

    Refused: loopback, private (RFC 1918, RFC 4193), link-local (169.254/16,
    the cloud metadata address among them; fe80::/10), multicast, unspecified,
    reserved, shared (100.64/10), site-local, and every IPv4-mapped IPv6
    address (::ffff:0:0/96). NAT64, 6to4 and Teredo addresses are judged by the
    IPv4 address they carry. The rest of what Python's `is_global` calls not
    global is refused too.
    """
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return f"an IPv4-mapped address (of {address.ipv4_mapped})"
        embedded = None
        if address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        elif address.sixtofour is not None:
            embedded = address.sixtofour
        elif address.teredo is not None:
            embedded = address.teredo[1]
        if embedded is not None:
            inner = address_refusal(embedded)
            return f"{inner[: -len(' address')]} address in IPv6 form ({embedded})" if inner else None
        if address.is_site_local:
            return "a site-local address"
    for test, words in (
        ("is_unspecified", "an unspecified address"),
        ("is_loopback", "a loopback address"),
        ("is_link_local", "a link-local address"),
        ("is_multicast", "a multicast address"),
        ("is_private", "a private address"),
        ("is_reserved", "a reserved address"),
    ):
        if getattr(address, test):
            return words
    if not address.is_global:
        return "a non-global address"
    return None


def refusal(url: str) -> str | None:
    """Why content may not point at `url` ("127.0.0.1 is a loopback address"), or None when it may.

    Only the URL is looked at: a host that is a literal address that is not
    global (`address_refusal`, in any form `literal_address` reads), or a
    local name: `localhost`, or one under `.localhost`, `.local` or
    `.internal`. A non-ASCII host is first turned into the ASCII the request
    would carry (IDNA with UTS #46 mapping, as requests does), so full-width
    digits cannot hide 127.0.0.1. Names are not resolved here: the guarded
    session checks the address it connects to. A URL without a host is left
    to the fetcher's own error.
    """
    try:
        host = urlsplit(url.strip()).hostname or ""
    except ValueError:
        return None
    if not host:
        return None
    if not host.isascii():
        try:
            host = idna.encode(host, uts46=True).decode("ascii").lower()
        except idna.IDNAError:
            return None  # not a name any resolver would be asked; the request fails on its own
    address = literal_address(host)
    if address is not None:
        why = address_refusal(address)
        return f"{host} is {why}" if why else None
    name = host.rstrip(".")
    if name in LOCAL_NAMES or name.endswith(LOCAL_SUFFIXES):
        return f"{host} is a local name"
    return None


def _check_peer(sock: socket.socket, host: str) -> None:
    """Refuse a fresh connection whose peer is not a global address (`host` is the name it was made for)."""
    try:
        peer = sock.getpeername()[0]
        address = ipaddress.ip_address(str(peer).split("%", 1)[0])
    except (OSError, ValueError, IndexError):
        return  # not an IP socket (a test's stand-in); nothing to judge
    why = address_refusal(address)
    if why:
        sock.close()
        shown = host if host == str(address) else f"{host} resolved to {address}, which"
        raise DestinationRefused(host, f"{shown} is {why}")


class _GuardedHTTPConnection(HTTPConnection):
    """An HTTP connection that checks the address it connected to, after connect and before sending."""

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _check_peer(sock, self.host)
        return sock


class _GuardedHTTPSConnection(HTTPSConnection):
    """An HTTPS connection that checks the address it connected to, before the TLS handshake."""

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _check_peer(sock, self.host)
        return sock


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    """requests' adapter with the destination policy: every request it sends (each redirect hop is one)
    is checked with `refusal`, and its direct connections with the connected peer's address.

    Connections through a proxy go through requests' proxy managers, which
    this adapter leaves as they are: the proxy resolves, and connecting to a
    proxy on the local network is the point of configuring one.
    """

    def init_poolmanager(self, *args, **kwargs) -> None:
        """The pool manager of direct connections, with guarded pools."""
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}

    def send(self, request: requests.PreparedRequest, *args, **kwargs) -> requests.Response:
        """Send `request` unless the policy refuses its URL (DestinationRefused, nothing sent)."""
        why = refusal(request.url or "")
        if why:
            raise DestinationRefused(request.url or "", why)
        return super().send(request, *args, **kwargs)


class Sessions:
    """Per thread, a guarded and an open `requests.Session`, each set up the one way: User-Agent, proxies, CA bundle.

    The guarded session (the default) applies the destination policy
    (`GuardedAdapter`); the open one is for what the editor configured (a
    feeds.yaml URL as written, an `allow_private` source). They never share a
    connection, so a connection opened for a trusted URL is never reused for
    one found in content. A Session is not thread-safe, so each worker thread
    gets its own, on first use. `headers` are sent with every request besides
    the User-Agent (e.g. Accept); `max_redirects` bounds the redirects a
    session follows by itself (None: requests' default; the fetcher follows
    them by hand). `close` closes every session made.
    """

    def __init__(self, user_agent: str, headers: dict[str, str], max_redirects: int | None = None):
        self.headers = {"User-Agent": user_agent, **headers}
        self.max_redirects = max_redirects
        self._local = threading.local()
        self._made: list[requests.Session] = []
        self._lock = threading.Lock()

    def get(self, guarded: bool = True) -> requests.Session:
        """This thread's session: guarded by the destination policy unless `guarded` is False."""
        name = "guarded" if guarded else "open"
        session = getattr(self._local, name, None)
        if session is None:
            session = requests.Session()
            if guarded:
                for prefix in ("http://", "https://"):
                    session.mount(prefix, GuardedAdapter())
            session.headers.update(self.headers)
            if self.max_redirects is not None:
                session.max_redirects = self.max_redirects
            # requests reads REQUESTS_CA_BUNDLE itself, else hands OpenSSL certifi's bundle,
            # so OpenSSL's own SSL_CERT_FILE would go unheard.
            if not os.environ.get("REQUESTS_CA_BUNDLE") and os.environ.get("SSL_CERT_FILE"):
                session.verify = os.environ["SSL_CERT_FILE"]
            setattr(self._local, name, session)
            with self._lock:
                self._made.append(session)
        return session

    def close(self) -> None:
        """Close every session made (in any thread)."""
        with self._lock:
            for session in self._made:
                session.close()
            self._made.clear()


class HostGate:
    """Per-host politeness: a bounded number of requests in flight and spacing between starts."""

    def __init__(self, per_host: int, interval: float):
        self.per_host = max(1, per_host)
        self.interval = interval
        self._lock = threading.Lock()
        self._slots: dict[str, threading.Semaphore] = defaultdict(lambda: threading.Semaphore(self.per_host))
        self._next_start: dict[str, float] = defaultdict(float)

    def __call__(self, host: str) -> _HostSlot:
        with self._lock:
            slot = self._slots[host]
        return _HostSlot(self, host, slot)

    def _wait_turn(self, host: str) -> None:
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next_start[host])
            self._next_start[host] = start + self.interval
        if start > now:
            time.sleep(start - now)


class _HostSlot:
    def __init__(self, gate: HostGate, host: str, slot: threading.Semaphore):
        self.gate, self.host, self.slot = gate, host, slot

    def __enter__(self):
        self.slot.acquire()
        self.gate._wait_turn(self.host)

    def __exit__(self, *exc):
        self.slot.release()


class HostQueues:
    """Worker threads where each host has its own queue and at most `per_host` tasks running.

    Politeness decides what is *started*, so no worker ever sits waiting for a
    busy host while another host has work (with one shared queue, 14 of 16
    workers parked at regjeringen.no while 126 requests to other hosts waited
    behind them). A free worker takes the next task of the host with the most
    tasks waiting among those with a free slot: the host carrying most of the
    work bounds the run, so its slots are never left idle while the workers
    serve short queues. A task is one fetch, or a source's fetch with its `next`
    pages, all to the task's host; the fetcher's `HostGate` still bounds the
    requests themselves (a redirect to another host waits there). Tasks of one
    host start in the order submitted. The workers live for the whole run, so
    each keeps its `Sessions` connections across sources and article pages.
    Use as a context manager: leaving it waits for the running tasks and
    cancels those not started.
    """

    def __init__(self, workers: int, per_host: int):
        self.per_host = max(1, per_host)
        self._cond = threading.Condition()
        self._waiting: dict[str, deque[tuple[Future[Any], Callable[[], Any]]]] = defaultdict(deque)
        self._running: dict[str, int] = defaultdict(int)
        self._closed = False
        self._threads = [
            threading.Thread(target=self._work, name=f"fetch-{n}", daemon=True) for n in range(max(1, workers))
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, host: str, task: Callable[[], T]) -> Future[T]:
        """Queue `task` (no arguments) for `host`; its Future holds what it returns or raises."""
        future: Future[T] = Future()
        with self._cond:
            if self._closed:
                raise RuntimeError("HostQueues is closed")
            self._waiting[host].append((future, task))
            self._cond.notify()
        return future

    def _next_host(self) -> str | None:
        """The host with a free slot and the most tasks waiting (None when no task may start)."""
        best, most = None, 0
        for host, waiting in self._waiting.items():
            if len(waiting) > most and self._running[host] < self.per_host:
                best, most = host, len(waiting)
        return best

    def _work(self) -> None:
        while True:
            with self._cond:
                while (host := self._next_host()) is None:
                    if self._closed:
                        return
                    self._cond.wait()
                future, task = self._waiting[host].popleft()
                self._running[host] += 1
            try:
                if future.set_running_or_notify_cancel():
                    try:
                        future.set_result(task())
                    except BaseException as exc:  # handed to whoever waits on the future
                        future.set_exception(exc)
            finally:
                with self._cond:
                    self._running[host] -= 1
                    self._cond.notify_all()  # the host has a free slot: a waiting worker may take it

    def __enter__(self) -> HostQueues:
        return self

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            # Left early (an error in the caller): what has not started never will.
            for waiting in self._waiting.values():
                for future, _ in waiting:
                    future.cancel()
                waiting.clear()
            self._closed = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join()


def host_of(url: str) -> str:
    """The host a URL's request goes to, lower-case ('' when it has none or cannot be split)."""
    try:
        return (urlsplit(url.strip()).hostname or "").lower()
    except ValueError:
        return ""


class Fetcher:
    """Fetches URLs under the limits; safe to share between threads."""

    def __init__(self, user_agent: str, limits: Limits | None = None):
        self.user_agent = user_agent
        self.limits = limits or Limits()
        self.gate = HostGate(self.limits.per_host, self.limits.host_interval)
        self.sessions = Sessions(user_agent, FEED_HEADERS)
        # Hosts whose requests keep failing for passing reasons (timeouts, 5xx, broken
        # connections): after `host_failures` failed requests in a row (each attempt
        # counts, not each URL that used up its retries), the host's other URLs are
        # skipped for this run instead of each costing its own timeouts.
        self._failures: dict[str, int] = defaultdict(int)
        self._failures_lock = threading.Lock()

    def get(
        self,
        url: str,
        etag: str | None = None,
        last_modified: str | None = None,
        *,
        configured: bool = False,
        allow_private: bool = False,
        retries: int | None = None,
    ) -> Response:
        """GET `url` (conditionally when validators are given), retrying transient failures.

        `retries` overrides `limits.retries` (article pages pass 0: a page that
        fails is remembered and asked again on a later run, not after a sleep).

        The destination policy (see the module docstring): `configured` says
        `url` is written in feeds.yaml, so it is fetched as written, while
        every redirect from it is checked; a URL found in content (the
        default) is checked on every hop. `allow_private` (a source's
        `allow_private: true`) checks nothing. A refused URL is a FetchError
        that is not retried, and nothing is sent to it.
        """
        attempts = (self.limits.retries if retries is None else retries) + 1
        for attempt in range(1, attempts + 1):
            try:
                return self._get_once(url, etag, last_modified, configured, allow_private)
            except FetchError as exc:
                if exc.skipped or not exc.retryable or attempt == attempts:
                    raise
                delay = self.limits.backoff * (2 ** (attempt - 1)) * (1 + random.random() * 0.25)
                log.info("retrying %s in %.1fs after: %s", url, delay, exc)
                time.sleep(delay)
        raise AssertionError("unreachable")

    def _get_once(
        self, url: str, etag: str | None, last_modified: str | None, configured: bool, allow_private: bool
    ) -> Response:
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        current = url
        for hop in range(self.limits.max_redirects + 1):
            _check_scheme(url, current)
            guarded = not allow_private and not (configured and hop == 0)
            try:
                response = self._request(current, headers, guarded)
            except DestinationRefused as exc:
                where = "" if current == url else f" (redirected to {current})"
                raise FetchError(
                    url, f"refused: {exc.reason}{where}; only feeds.yaml may point inside the network"
                ) from exc
            if response.status in REDIRECT_CODES:
                location = response.headers.get("location")
                if not location:
                    raise FetchError(url, f"HTTP {response.status} redirect without a Location header")
                current = urljoin(current, location)
                continue
            return response
        raise FetchError(url, f"more than {self.limits.max_redirects} redirects (last to {current})")

    def _request(self, url: str, headers: dict[str, str], guarded: bool) -> Response:
        limits = self.limits
        host = urlsplit(url).hostname or ""
        with self.gate(host):
            failures = self._failures.get(host, 0)
            if failures >= limits.host_failures:
                raise FetchError(
                    url, f"skipped: {host} failed {failures} times in a row in this run", retryable=True, skipped=True
                )
            try:
                response = self._request_at_host(url, headers, guarded)
            except FetchError as exc:
                if exc.retryable:
                    with self._failures_lock:
                        self._failures[host] += 1
                raise
            with self._failures_lock:
                self._failures[host] = 0
            return response

    def _request_at_host(self, url: str, headers: dict[str, str], guarded: bool) -> Response:
        """One request, its slot at the host already held: the Response, or a FetchError saying why."""
        limits = self.limits
        started = time.monotonic()  # waiting for our turn at the host is not the server's fault
        try:
            raw = self.sessions.get(guarded).get(
                url,
                headers=headers,
                stream=True,
                allow_redirects=False,
                timeout=(limits.connect_timeout, limits.read_timeout),
            )
        except requests.ConnectTimeout as exc:
            raise FetchError(url, f"connection timed out after {limits.connect_timeout:g}s", retryable=True) from exc
        except requests.Timeout as exc:
            raise FetchError(url, f"timed out after {limits.read_timeout:g}s", retryable=True) from exc
        except requests.exceptions.SSLError as exc:
            raise FetchError(url, tls_error(exc)) from exc
        except requests.exceptions.InvalidURL as exc:
            raise FetchError(url, f"invalid URL ({short_error(exc)})") from exc
        except requests.RequestException as exc:
            raise FetchError(url, connection_error(url, exc), retryable=True) from exc
        with raw:
            header_map = {k.lower(): v for k, v in raw.headers.items()}
            status = raw.status_code
            if status in REDIRECT_CODES or status == 304 or status >= 400:
                _release(raw)
            if status in REDIRECT_CODES or status == 304:
                return Response(url=url, status=status, headers=header_map)
            if status >= 400:
                reason = raw.reason or ""
                raise FetchError(url, f"HTTP {status} {reason}".strip(), retryable=status in RETRY_CODES)
            declared = header_map.get("content-length", "")
            if declared.isdigit() and int(declared) > limits.max_bytes:
                raise FetchError(
                    url, f"body of {int(declared) / 1e6:.0f} MB is over the {limits.max_bytes / 1e6:.0f} MB limit"
                )
            body = self._read_body(raw, url, started)
        return Response(url=url, status=status, body=body, headers=header_map)

    def _read_body(self, raw: requests.Response, url: str, started: float) -> bytes:
        limits = self.limits
        chunks, size = [], 0
        too_slow = f"body not complete after {limits.total_timeout:g}s"
        # A server that drips a byte at a time never trips the read timeout, and a
        # blocking read cannot look at the clock: a watchdog closes the socket at the
        # deadline, which ends the read.
        expired = threading.Event()
        watchdog = threading.Timer(max(0.0, started + limits.total_timeout - time.monotonic()), _abort, (raw, expired))
        watchdog.daemon = True
        watchdog.start()
        try:
            # iter_content decompresses gzip/deflate as it goes: the cap counts what
            # would be held in memory, which is what stops a gzip bomb.
            for chunk in raw.iter_content(16 * 1024):
                size += len(chunk)
                if size > limits.max_bytes:
                    raise FetchError(url, f"body over the {limits.max_bytes / 1e6:.0f} MB limit (after decompression)")
                if expired.is_set() or time.monotonic() - started > limits.total_timeout:
                    raise FetchError(url, too_slow, retryable=True)
                chunks.append(chunk)
            if expired.is_set():
                raise FetchError(url, too_slow, retryable=True)
        except (requests.RequestException, OSError, ValueError) as exc:
            if expired.is_set():
                raise FetchError(url, too_slow, retryable=True) from exc
            raise _reading_error(url, exc, limits) from exc
        finally:
            watchdog.cancel()
        return b"".join(chunks)


# A body we do not use (a 304's, a redirect's, an error page) is read and thrown away up to this
# size, so its connection goes back to the pool; a longer one costs a new connection instead.
DRAIN_BYTES = 64 * 1024


def _release(raw: requests.Response) -> None:
    """Read the rest of an unused body (raw bytes, never decompressed: no bomb) and return the
    connection to its pool; a body over DRAIN_BYTES or a failing read leaves it to be closed.

    Closing a response whose body is unread closes its connection: before, every 404, 304 and
    redirect cost a new TCP connection (and TLS handshake) for the next request to the host.
    """
    stream = raw.raw
    drained = 0
    try:
        while chunk := stream.read(16 * 1024, decode_content=False):
            drained += len(chunk)
            if drained > DRAIN_BYTES:
                return
    except (requests.RequestException, OSError, ValueError, urllib3.exceptions.HTTPError):
        return
    stream.release_conn()


def _abort(raw: requests.Response, expired: threading.Event) -> None:
    """Close a response's socket from the watchdog thread; the blocked read then returns."""
    expired.set()
    connection = getattr(raw.raw, "connection", None) or getattr(raw.raw, "_connection", None)
    sock = getattr(connection, "sock", None)
    try:
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _reading_error(url: str, exc: Exception, limits: Limits) -> FetchError:
    """The FetchError for a failure while a body streamed in."""
    if isinstance(exc, requests.exceptions.ContentDecodingError):
        return FetchError(url, f"body cannot be decompressed ({short_error(exc)})")
    if isinstance(exc, requests.Timeout) or "timed out" in str(exc).lower():
        # urllib3 reports a read timeout mid-body as a connection error.
        return FetchError(url, f"timed out after {limits.read_timeout:g}s while reading", retryable=True)
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return FetchError(url, f"truncated body ({short_error(exc)})", retryable=True)
    words = connection_error(url, exc)
    if words.startswith("connection failed ("):
        words = f"connection broken ({short_error(exc)})"
    return FetchError(url, f"{words} while reading", retryable=True)


def _check_scheme(original: str, url: str) -> None:
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        where = "" if url == original else f" (redirected to {url})"
        raise FetchError(original, f"only http and https are fetched, not '{scheme or 'no scheme'}'{where}")


def tls_error(exc: BaseException) -> str:
    """What to tell the editor when a TLS handshake fails: most often a proxy with its own CA."""
    chain = _causes(exc)
    refused = next((e for e in chain if isinstance(e, ssl.SSLCertVerificationError)), None)
    if refused is not None:
        reason = refused.verify_message or refused.reason or "not trusted"
        return (
            f"TLS certificate not trusted ({reason}); if a proxy with its own CA is in between, "
            "set REQUESTS_CA_BUNDLE to its CA file"
        )
    failed = next((e for e in chain if isinstance(e, ssl.SSLError) and e.reason), None)
    reason = failed.reason.replace("_", " ").lower() if failed is not None else short_error(exc)
    return f"TLS handshake failed ({reason}); for a proxy with its own CA set REQUESTS_CA_BUNDLE"


# What the proxy answered a CONNECT with, as http.client words it ("Tunnel connection failed: 502 Bad Gateway").
_TUNNEL_FAILED = re.compile(r"Tunnel connection failed:\s*(\d{3}[^'\")]*)")


def connection_error(url: str, exc: BaseException) -> str:
    """Plain words for a request that failed before any answer (the one place that reads
    requests' and urllib3's exceptions): host not found, connection refused, timed out,
    TLS certificate not trusted, the proxy refused, connection reset. The caller keeps the URL.
    """
    chain = _causes(exc)
    host = urlsplit(url).hostname or url

    def has(*kinds: type[BaseException]) -> bool:
        return any(isinstance(e, kinds) for e in chain)

    via_proxy = has(requests.exceptions.ProxyError, urllib3.exceptions.ProxyError)
    tunnel = next((m for e in chain if (m := _TUNNEL_FAILED.search(str(e)))), None)
    if tunnel:
        return f"the proxy refused the connection to {host} ({tunnel.group(1).strip()})"
    if has(ssl.SSLCertVerificationError, ssl.SSLError, requests.exceptions.SSLError):
        return tls_error(exc)
    if via_proxy:
        # The proxy itself could not be reached: the request never left this machine.
        if has(socket.gaierror, urllib3.exceptions.NameResolutionError):
            why = "its host name was not found"
        elif has(ConnectionRefusedError):
            why = "connection refused"
        elif has(socket.timeout, urllib3.exceptions.ConnectTimeoutError, TimeoutError):
            why = "timed out"
        else:
            why = short_error(exc)
        return f"cannot reach the proxy ({why}); check HTTPS_PROXY and HTTP_PROXY"
    if has(urllib3.exceptions.NameResolutionError, socket.gaierror):
        return f"host not found: {host} has no DNS address (check the spelling, or whether the site moved)"
    if has(ConnectionRefusedError):
        return f"connection refused by {host} (nothing listens there, or a firewall says no)"
    if has(socket.timeout, TimeoutError, urllib3.exceptions.TimeoutError, requests.Timeout):
        return "timed out"
    if has(ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected, ConnectionAbortedError):
        return "connection reset by the server"
    return f"connection failed ({short_error(exc)})"


def _causes(exc: BaseException) -> list[BaseException]:
    """`exc` and every exception inside it: requests wraps urllib3's MaxRetryError, whose `reason` wraps
    the socket's error, and urllib3 also passes errors on as arguments."""
    found: list[BaseException] = []
    todo = [exc]
    while todo and len(found) < 20:
        current = todo.pop(0)
        if any(current is seen for seen in found):
            continue
        found.append(current)
        inner = [a for a in getattr(current, "args", ()) if isinstance(a, BaseException)]
        for name in ("reason", "__cause__", "__context__"):
            value = getattr(current, name, None)
            if isinstance(value, BaseException):
                inner.append(value)
        todo.extend(inner)
    return found


def short_error(exc: BaseException) -> str:
    """The innermost useful line of a requests/urllib3 error (for messages about a URL)."""
    text = str(exc)
    for marker in ("Caused by ", "(Caused by "):
        if marker in text:
            text = text.split(marker, 1)[1]
    text = text.strip("()'\" ")
    return text.splitlines()[0][:200] if text else type(exc).__name__
