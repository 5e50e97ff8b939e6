"""The quarter's decisions, kept with its issue: what the ranking learns from once the store forgets.

The store (`var/newsletter.db`) is the machine's own and is not in git (it holds the contact
list). Without it, the editor's judgement of an earlier quarter would be lost on a new machine,
for a colleague who clones the workspace, or when a store is started afresh: the ranking would
know the past issues' entries (what was picked) and nothing of what was left out. So, once an
issue is sent (`newsletter send`) or when the editor asks (`newsletter issue record ID`), every
item collected in its quarter is written beside the issue file, with what became of it:

    issues/2022-q2.decisions.jsonl

JSON Lines (https://jsonlines.org/): one object per item, oldest first, so the file diffs well
and a damaged line costs that line only:

    {"id": "k3f9a", "url": "https://…", "key": "coe.int/…", "source": "coe-greta", "kind": "report",
     "published": "2022-06-14", "title": "…", "summary": "…", "article": "…",
     "score": 4.5, "decision": "picked"}

`decision` is `picked` (the issue cites the item: names it, or an entry written by hand links
to it; or the editor marked it picked), `skipped` (the editor skipped it) or `left out`
(neither: collected in the quarter, not in the issue). `key` is the item's de-duplication key
(`collect.urls.dedup_key`, with the fragment of an item collected with one), by which a link an
entry pasted in is matched to the line as to a stored item. `article` is the opening of the item's
article page as the ranking reads it (`ARTICLE_CHARS` at most, so a quarter of a few hundred
items stays a few hundred kilobytes); `summary` and `article` may be empty.

The ranking (`ranking.rank_quarter`) learns from the record of each earlier issue in its history
as it learns from the store's items of that quarter: picks as picks, skips as firm non-picks,
the items left out at half weight. Where the store still holds an item (found by its
de-duplication key: ids are derived from it, but a store lengthens one that collides with
another's, so one document may have two ids in two stores), the store's copy is used, and the
record's line only when the store lacks it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from newsletter.collect.urls import dedup_key
from newsletter.fsutil import atomic_write
from newsletter.models import ITEM_KINDS, Item, ItemStatus

log = logging.getLogger(__name__)

DECISIONS = ("picked", "skipped", "left out")
SUFFIX = ".decisions.jsonl"  # after the issue id, in issues/
ARTICLE_CHARS = 1000  # of the article page's text kept per item
SUMMARY_CHARS = 1000
_TEXT_FIELDS = ("id", "url", "key", "source", "title", "summary", "article")


@dataclass(frozen=True)
class Decided:
    """One line of a decisions record: an item of the quarter and what the editor decided."""

    id: str
    url: str
    key: str
    source: str
    kind: str
    published: dt.date | None
    title: str
    summary: str
    article: str
    score: float
    decision: str  # one of DECISIONS

    def to_json(self) -> dict:
        """The line's mapping, fields in the documented order."""
        return {
            "id": self.id,
            "url": self.url,
            "key": self.key,
            "source": self.source,
            "kind": self.kind,
            "published": self.published.isoformat() if self.published else None,
            "title": self.title,
            "summary": self.summary,
            "article": self.article,
            "score": round(self.score, 2),
            "decision": self.decision,
        }

    def as_item(self) -> Item:
        """The line as an Item (for the ranking's documents), its status the decision's."""
        status: ItemStatus = (
            "picked" if self.decision == "picked" else "skipped" if self.decision == "skipped" else "new"
        )
        return Item(
            self.id,
            self.source,
            self.url,
            self.title,
            self.summary,
            self.published,
            kind=self.kind if self.kind in ITEM_KINDS else "news",
            score=self.score,
            status=status,
        )


class DecisionsLineError(ValueError):
    """A line of a decisions record that is not a decided item; the message says what is wrong."""


def record_path(issues_dir: Path, issue_id: str) -> Path:
    """Where issue `issue_id`'s decisions are kept: issues/<id>.decisions.jsonl."""
    return issues_dir / f"{issue_id}{SUFFIX}"


def decided(item: Item, key: str, article: str, cited: bool) -> Decided:
    """The record line of `item` (`key` its de-duplication key in the store): picked when `cited` by the
    issue or marked picked, else by its status."""
    decision = "picked" if cited or item.status == "picked" else "skipped" if item.status == "skipped" else "left out"
    return Decided(
        item.id,
        item.url,
        key,
        item.source,
        item.kind,
        item.published,
        item.title,
        (item.summary or "")[:SUMMARY_CHARS],
        (article or "")[:ARTICLE_CHARS],
        float(item.score),
        decision,
    )


def write_record(path: Path, lines: Iterable[Decided]) -> dict[str, int]:
    """Write the record atomically, oldest first (undated last, then by id); returns counts per decision.

    Raises OSError when the file cannot be written.
    """
    ordered = sorted(lines, key=lambda d: (d.published is None, d.published or dt.date.min, d.id))
    text = "".join(json.dumps(d.to_json(), ensure_ascii=False) + "\n" for d in ordered)
    atomic_write(path, text)
    counts = dict.fromkeys(DECISIONS, 0)
    for line in ordered:
        counts[line.decision] += 1
    return counts


def parse_line(text: str) -> Decided:
    """One line of a record as a Decided; DecisionsLineError saying what is wrong with it."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise DecisionsLineError(f"not JSON ({exc.args[0] if exc.args else exc})") from None
    except RecursionError:  # "[[[[…" nested deeper than the parser goes
        raise DecisionsLineError("not JSON (nested too deeply)") from None
    if not isinstance(data, dict):
        raise DecisionsLineError("not a JSON object")
    for name in ("id", "url", "title", "decision"):
        if not isinstance(data.get(name), str) or not data[name].strip():
            raise DecisionsLineError(f"`{name}` is missing or not a text")
    for name in _TEXT_FIELDS:
        value = data.get(name, "")
        if not isinstance(value, str):
            raise DecisionsLineError(f"`{name}` is not a text")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:  # "\ud800": half of a UTF-16 pair, which no text may hold
            raise DecisionsLineError(f"`{name}` holds {value[exc.start]!r}, which is no character") from None
    if data["decision"] not in DECISIONS:
        raise DecisionsLineError(
            f"`decision` is {data['decision']!r}; it must be one of {', '.join(repr(d) for d in DECISIONS)}"
        )
    published = data.get("published")
    try:
        day = dt.date.fromisoformat(published) if published else None
    except (TypeError, ValueError):
        raise DecisionsLineError(f"`published` is {published!r}, not a date (YYYY-MM-DD)") from None
    key = data.get("key") or ""
    if not key:  # a line written by hand: the key collection would give its address
        try:
            key = dedup_key(data["url"])
        except ValueError:
            raise DecisionsLineError(f"`url` is {data['url']!r}, not an address") from None
    score = data.get("score", 0.0)
    if isinstance(score, bool) or not isinstance(score, (int, float)) or score != score or abs(score) > 1e6:
        raise DecisionsLineError(f"`score` is {score!r}, not a number")
    kind = data.get("kind", "news")
    return Decided(
        data["id"],
        data["url"],
        key,
        data.get("source", "") or "",
        kind if isinstance(kind, str) else "news",
        day,
        data["title"],
        (data.get("summary") or "")[:SUMMARY_CHARS],
        (data.get("article") or "")[:ARTICLE_CHARS],
        float(score),
        data["decision"],
    )


MAX_RECORD_BYTES = 64 * 1024 * 1024  # a quarter's record is a few hundred kilobytes


def read_record(path: Path) -> list[Decided]:
    """The lines of a record that are decided items; [] when there is no record.

    The file is untrusted (hand-edited, merged, truncated): a line that is not a decided item (not
    UTF-8, not JSON, a field missing or of the wrong kind, an item already on an earlier line) is
    left out with a warning naming the file and line, the rest are used. A record that is no
    regular file (a directory, a pipe, a device), larger than `MAX_RECORD_BYTES`, or cannot be read
    is left out with a warning saying why. A UTF-8 byte order mark and blank lines are allowed.
    Never raises.
    """
    issue_id = path.name.removesuffix(SUFFIX)
    try:
        if not path.exists():
            return []
        if not path.is_file():  # a pipe would block the listing, a device would never end
            raise _Unusable("it is not a regular file: remove it, then record the issue again")
        if path.stat().st_size > MAX_RECORD_BYTES:
            raise _Unusable(f"it is larger than {MAX_RECORD_BYTES // 1024 // 1024} MB, which no quarter's record is")
        data = path.read_bytes()
    except _Unusable as exc:
        log.warning("the ranking leaves out %s: %s (`newsletter issue record %s`)", path, exc, issue_id)
        return []
    except OSError as exc:
        log.warning(
            "the ranking leaves out %s: it cannot be read (%s); check its permissions",
            path,
            exc.strerror or exc,
        )
        return []
    out = []
    bad = []
    first: dict[str, int] = {}
    # Lines end at "\n" only (JSON Lines): a title may hold U+2028 or U+0085, which `splitlines` breaks at.
    for number, raw in enumerate(data.split(b"\n"), 1):
        if number == 1:
            raw = raw.removeprefix(b"\xef\xbb\xbf")  # a byte order mark some editors write
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad.append(f"line {number}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})")
            continue
        if not line.strip():
            continue
        try:
            decided = parse_line(line)
        except DecisionsLineError as exc:
            bad.append(f"line {number}: {exc}")
            continue
        if decided.id in first:
            bad.append(f"line {number}: item {decided.id} is on line {first[decided.id]} already")
            continue
        first[decided.id] = number
        out.append(decided)
    if bad:
        more = f" (and {len(bad) - 3} more)" if len(bad) > 3 else ""
        log.warning(
            "%s: %s%s; the ranking leaves %s out. Record the issue again (`newsletter issue record %s`) "
            "while the store holds its quarter, or fix the line%s",
            path,
            "; ".join(bad[:3]),
            more,
            "that line" if len(bad) == 1 else "those lines",
            issue_id,
            "" if len(bad) == 1 else "s",
        )
    return out


class _Unusable(Exception):
    """Why a record file is not read at all (its message completes "the ranking leaves out PATH: …")."""
