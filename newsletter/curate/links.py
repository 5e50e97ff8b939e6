"""Checking an issue's links before it is sent: does every link still answer, and where does it lead?

Each distinct URL is asked once, however many entries use it: a HEAD request
that follows redirects, and a streamed GET (headers only, the body is never
read) when the server refuses HEAD (403, 405, 501) or the HEAD gets no answer.
Checks run concurrently but politely: at most `limits.per_host` requests in
flight per host, `limits.host_interval` seconds between their starts.

Like the fetcher, the checker goes through `newsletter.net.Sessions`, so
HTTPS_PROXY, HTTP_PROXY, NO_PROXY and REQUESTS_CA_BUNDLE from the environment
are honoured (SSL_CERT_FILE too when REQUESTS_CA_BUNDLE is not set), and its
guarded session applies the destination policy to every link and every
redirect: a link into the network (loopback, private, link-local, a local
name) is never asked and is reported broken, "refused: …", since issue text
is mostly copied from collected content, and a link only the unit's own
network can open is broken for every reader the issue is mailed to. The one
exception is what the editor configured: a link whose host is the host of an
`allow_private` source in feeds.yaml (`intranet_hosts`) is checked as that
source's pages are fetched, without the policy.

A bad URL never raises: every distinct URL gets a `LinkResult`, whose state is
"ok" (a 2xx/3xx answer at the same URL), "redirected" (a 2xx/3xx answer at
another URL) or "broken" (4xx/5xx, no answer, too many redirects, not http(s)).
"""

from __future__ import annotations

import http
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from newsletter.models import FeedsConfig, Issue, Limits
from newsletter.net import DestinationRefused, HostGate, Sessions, connection_error, short_error, tls_error
from newsletter.render.markdown import links_of

# Answers to HEAD that say "ask me with GET" rather than "this link is broken".
HEAD_REFUSED = {403, 405, 501}
STATES: tuple[str, ...] = ("ok", "redirected", "broken")


@dataclass(frozen=True)
class LinkUse:
    """One place a link appears: the URL, the entry as `section:position`, and the entry's title or heading."""

    url: str
    ref: str
    title: str


@dataclass
class LinkResult:
    """The outcome of checking one distinct URL, with every place the issue uses it."""

    url: str
    uses: list[LinkUse]
    status: int | None  # final HTTP status, None when no answer
    final_url: str | None  # after redirects
    state: str  # "ok", "redirected", "broken"
    error: str | None = None
    seconds: float = 0.0

    def to_json(self) -> dict:
        """A JSON-ready mapping."""
        return {
            "url": self.url,
            "state": self.state,
            "status": self.status,
            "final_url": self.final_url,
            "error": self.error,
            "seconds": round(self.seconds, 2),
            "uses": [{"ref": use.ref, "title": use.title} for use in self.uses],
        }


def issue_links(issue: Issue) -> list[LinkUse]:
    """Every link of every entry, in issue order; mailto links are skipped.

    Links with another scheme (javascript:, relative links) are kept, so that
    `check_links` reports them as broken.
    """
    uses = []
    for key, position, entry in issue.entries():
        for link in links_of(entry.text):
            if link.split(":", 1)[0].strip().lower() == "mailto":
                continue
            uses.append(LinkUse(url=link, ref=f"{key}:{position}", title=entry.title or entry.heading))
    return uses


def intranet_hosts(feeds: FeedsConfig) -> frozenset[str]:
    """The hosts (lower-case, no port) of the sources feeds.yaml marks `allow_private: true`."""
    return frozenset(
        host for source in feeds.sources if source.allow_private and (host := urlsplit(source.url).hostname)
    )


def check_links(
    uses: list[LinkUse], limits: Limits, user_agent: str, private_hosts: frozenset[str] = frozenset()
) -> list[LinkResult]:
    """Check each distinct URL of `uses` concurrently; one result per URL, in first-use order.

    Links into the network are refused (see the module docstring), except
    those on `private_hosts` (`intranet_hosts` of feeds.yaml), which are
    checked, with their redirects, as an intranet source is fetched.
    """
    by_url: dict[str, list[LinkUse]] = {}
    for use in uses:
        by_url.setdefault(use.url, []).append(use)
    if not by_url:
        return []
    checker = _Checker(limits, user_agent, private_hosts)
    try:
        with ThreadPoolExecutor(max_workers=max(1, min(limits.workers, len(by_url)))) as pool:
            return list(pool.map(lambda item: checker.check(*item), by_url.items()))
    finally:
        checker.close()


# --------------------------------------------------------------------------- internals


@dataclass
class _Answer:
    """What one request (HEAD or GET) came back with."""

    status: int | None = None
    final_url: str | None = None
    redirected: bool = False
    error: str | None = None
    connection_failed: bool = False  # no answer at all: worth another try with GET
    seconds: float = 0.0


class _Checker:
    """Checks URLs from several threads: one HostGate, one requests.Session per thread."""

    def __init__(self, limits: Limits, user_agent: str, private_hosts: frozenset[str]):
        self.limits = limits
        self.private_hosts = private_hosts
        self.gate = HostGate(limits.per_host, limits.host_interval)
        self.sessions = Sessions(user_agent, {"Accept": "*/*"}, max_redirects=limits.max_redirects)

    def close(self) -> None:
        """Close every session made."""
        self.sessions.close()

    def check(self, url: str, uses: list[LinkUse]) -> LinkResult:
        """Check one link; never raises."""
        try:
            return self._check(url, uses)
        except Exception as exc:  # one bad URL never stops the others
            return LinkResult(url, uses, None, None, "broken", f"check failed ({short_error(exc)})")

    def _check(self, url: str, uses: list[LinkUse]) -> LinkResult:
        parts = urlsplit(url.strip())
        if parts.scheme.lower() not in ("http", "https"):
            return LinkResult(url, uses, None, None, "broken", "not an http(s) link")
        if not parts.hostname:
            return LinkResult(url, uses, None, None, "broken", "invalid URL (no host name)")
        answer = self._ask("HEAD", url, parts.hostname)
        seconds = answer.seconds
        if answer.connection_failed or answer.status in HEAD_REFUSED:
            answer = self._ask("GET", url, parts.hostname)
            seconds += answer.seconds
        if answer.error:
            state = "broken"
        else:
            state = "redirected" if answer.redirected else "ok"
        return LinkResult(url, uses, answer.status, answer.final_url, state, answer.error, seconds)

    def _ask(self, method: str, url: str, host: str) -> _Answer:
        limits = self.limits
        with self.gate(host):
            started = time.monotonic()  # waiting for our turn at the host is not the server's fault
            answer = _Answer()
            try:
                response = self.sessions.get(guarded=host.lower() not in self.private_hosts).request(
                    method,
                    url,
                    allow_redirects=True,
                    stream=True,
                    timeout=(limits.connect_timeout, limits.read_timeout),
                )
            except DestinationRefused as exc:
                hop = exc.target if exc.target.startswith(("http://", "https://")) and exc.target != url else None
                answer.error = f"refused: {exc.reason}" + (f" (redirected to {hop})" if hop else "")
            except requests.TooManyRedirects as exc:
                last = exc.response.url if exc.response is not None else None
                answer.error = f"more than {limits.max_redirects} redirects" + (f" (last to {last})" if last else "")
            except requests.ConnectTimeout:
                answer.error = f"connection timed out after {limits.connect_timeout:g}s"
                answer.connection_failed = True
            except requests.Timeout:
                answer.error = f"timed out after {limits.read_timeout:g}s"
                answer.connection_failed = True
            except requests.exceptions.SSLError as exc:
                answer.error = tls_error(exc)
            except requests.exceptions.InvalidSchema as exc:
                # The URL itself is http(s), so a redirect led elsewhere (ftp:, javascript: …).
                answer.error = f"redirected to a non-http(s) link ({short_error(exc)})"
            except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema) as exc:
                answer.error = f"invalid URL ({short_error(exc)})"
            except requests.RequestException as exc:
                answer.error = connection_error(url, exc)
                answer.connection_failed = True
            else:
                with response:  # nothing of the body is read; closing drops the connection
                    answer.status = response.status_code
                    answer.final_url = response.url
                    first = response.history[0].url if response.history else response.url
                    answer.redirected = bool(response.history) and response.url != first
                    if response.status_code >= 400:
                        reason = response.reason or _phrase(response.status_code)
                        answer.error = f"HTTP {response.status_code} {reason}".strip()
            answer.seconds = time.monotonic() - started
        return answer


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""
