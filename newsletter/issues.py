"""The editor's issue files, `issues/<id>.yaml`: read, validate, change and write them safely.

The file is the editor's own text and lives in git. It is round-tripped with
ruamel.yaml, so comments, key order, quoting and block text survive every
change the tool makes; the indentation the file uses is detected and kept.
Writes are atomic, commands on one issue take a lock, and a file that changed
on disk since it was read is never overwritten.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

from babel.dates import format_date
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.scalarstring import LiteralScalarString
from ruamel.yaml.util import load_yaml_guess_indent

from newsletter.config import _line_of
from newsletter.dates import ISSUE_ID, month_table, quarter_bounds
from newsletter.errors import ConfigError, NewsletterError
from newsletter.fileio import atomic_write, exclusive_lock
from newsletter.models import ENTRY_FIELDS, Entry, Issue, Settings

ISSUE_KEYS = ("id", "title", "period", "published", "audience", "intro", "sections")
DATE_FIELDS = ("date", "deadline", "event_date")
ITEM_ID = re.compile(r"^[0-9a-z]{4,12}$")


class IssueFileError(ConfigError):
    """An issue file is malformed or invalid; the message names file, line and field."""


class IssueChanged(NewsletterError):
    """The issue file changed on disk after it was read: nothing was written."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an issue: an error (must fix) or a warning (should look at)."""

    level: str
    message: str
    path: str
    line: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = self.path + (f", line {self.line}" if self.line else "")
        what = f"{self.field}: " if self.field else ""
        return f"{where}: {what}{self.message}"

    def to_json(self) -> dict:
        """A JSON-ready mapping."""
        return {"level": self.level, "message": self.message, "path": self.path, "line": self.line,
                "field": self.field}


def period_for(issue_id: str) -> str:
    """The quarter an id names, in Norwegian: `2024-q2` → "april–juni 2024" (month names from Babel)."""
    first, last = quarter_bounds(issue_id)
    start = format_date(first, "LLLL", locale="nb")
    end = format_date(last, "LLLL", locale="nb")
    return f"{start}–{end} {first.year}"


def period_is_valid(text: str) -> bool:
    """True for a Norwegian period: "april–juni 2024", "april - juni 2024", "juni 2024"."""
    months = month_table()
    match = re.fullmatch(r"\s*([a-zæøå]+)(?:\s*[-–—]\s*([a-zæøå]+))?\s+(\d{4})\s*", text.lower())
    return bool(match) and match.group(1) in months and (match.group(2) is None or match.group(2) in months)


def issue_path(issues_dir: Path, issue_id: str) -> Path:
    """Where an issue's file lives; the id is checked, so the path never leaves `issues_dir`."""
    if not ISSUE_ID.match(issue_id or ""):
        raise IssueFileError(issues_dir, f"'{issue_id}' is not an issue id like 2024-q2")
    return issues_dir / f"{issue_id}.yaml"


class IssueDocument:
    """An issue file as parsed for round-tripping, with what is needed to write it back safely."""

    def __init__(self, path: Path, data: CommentedMap, digest: str | None, indent: tuple[int, int]):
        self.path = Path(path)
        self.data = data
        self.digest = digest
        self.indent = indent

    # ------------------------------------------------------------------ reading and writing

    @classmethod
    def load(cls, path: Path) -> "IssueDocument":
        """Parse an issue file; a YAML syntax error names file and line."""
        path = Path(path)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise IssueFileError(path, f"no such issue; create it with `newsletter issue new {path.stem}`") from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise IssueFileError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        try:
            data, sequence, offset = load_yaml_guess_indent(text, yaml=YAML(typ="rt")) if text.strip() else (None, 4, 2)
        except MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            raise IssueFileError(path, f"invalid YAML: {exc.problem or exc.context}",
                                 line=mark.line + 1 if mark else None) from None
        except Exception as exc:  # duplicate keys and other non-marked errors
            raise IssueFileError(path, f"invalid YAML: {str(exc).splitlines()[0]}") from None
        if not isinstance(data, CommentedMap):
            raise IssueFileError(path, "expected a mapping with id, title, period, sections …", line=1)
        mapping = _mapping_indent(text)
        if offset is None:  # no block list in the file yet: the usual "  - key: value" under a key
            sequence, offset = mapping + 2, mapping
        indent = (mapping, sequence, offset)
        return cls(path, data, hashlib.sha256(raw).hexdigest(), indent)

    @classmethod
    def create(cls, path: Path, issue_id: str, settings: Settings) -> "IssueDocument":
        """A new issue with the configured sections, its period and no entries (not yet written)."""
        data = CommentedMap()
        data["id"] = issue_id
        data["title"] = settings.name
        data["period"] = period_for(issue_id)
        data["published"] = None
        data["audience"] = settings.audience or ""
        data["intro"] = ""
        sections = CommentedMap()
        for section in settings.section_configs:
            sections[section.key] = _block_seq()
        data["sections"] = sections
        data.yaml_set_start_comment(
            f"{settings.name}, {data['period']}.\n"
            "Edit freely: the tool keeps your comments and formatting. Entries: heading, title, text\n"
            "(Markdown, links as [se her](https://…)), and optionally item, date, deadline, event_date.\n"
            "Set `published` (YYYY-MM-DD) when the issue goes out."
        )
        return cls(path, data, None, (2, 4, 2))

    def _yaml(self) -> YAML:
        yaml = YAML(typ="rt")
        yaml.width = 4096  # never re-wrap the editor's lines
        yaml.preserve_quotes = True
        mapping, sequence, offset = self.indent  # as the file was written, so a save changes only what changed
        yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
        return yaml

    def dumps(self) -> str:
        """The document as YAML text."""
        out = io.StringIO()
        self._yaml().dump(self.data, out)
        return out.getvalue()

    def save(self) -> None:
        """Write atomically; refuse when the file changed on disk since it was read (or appeared)."""
        current = self.path.read_bytes() if self.path.exists() else None
        current_digest = hashlib.sha256(current).hexdigest() if current is not None else None
        if current_digest != self.digest:
            what = "was created" if self.digest is None else "changed on disk"
            raise IssueChanged(f"{self.path}: {what} since it was read; nothing was written. "
                               "Run the command again (your edits in the file are kept).")
        text = self.dumps()
        atomic_write(self.path, text)
        self.digest = hashlib.sha256(text.encode("utf-8")).hexdigest()

    # ------------------------------------------------------------------ validation

    def validate(self, settings: Settings, known_items: set[str] | None = None) -> tuple[Issue, list[Problem]]:
        """The issue as a model, and every structural problem (with line and field).

        `known_items`, when given, are the ids in the item store: an entry naming
        another id is an error.
        """
        path = str(self.path)
        problems: list[Problem] = []
        data = self.data

        def problem(message: str, node=None, key=None, field: str | None = None, level: str = "error") -> None:
            line = _line_of(node, key) if node is not None else None
            problems.append(Problem(level, message, path, line, field))

        for key in data:
            if key not in ISSUE_KEYS:
                problem(f"unknown field (expected one of: {', '.join(ISSUE_KEYS)})", data, key, str(key))
        issue_id = str(data.get("id") or "")
        if not ISSUE_ID.match(issue_id):
            problem(f"'{issue_id}' is not an issue id like 2024-q2", data, "id" if "id" in data else None, "id")
        elif issue_id != self.path.stem:
            problem(f"'{issue_id}' does not match the file name {self.path.name}", data, "id", "id")
        texts = {}
        for key in ("title", "period", "audience", "intro"):
            value = data.get(key)
            if value is not None and not isinstance(value, str):
                problem(f"expected text, got {type(value).__name__}", data, key, key)
                value = None
            texts[key] = (value or "").strip()
        if not texts["title"]:
            texts["title"] = settings.name
        if texts["period"] and not period_is_valid(texts["period"]):
            problem(f"'{texts['period']}' is not a period like 'april–juni 2024'", data, "period", "period")
        if not texts["period"] and ISSUE_ID.match(issue_id):
            texts["period"] = period_for(issue_id)
        published = _date_field(data, "published", problem)
        issue = Issue(id=issue_id, title=texts["title"], period=texts["period"], published=published,
                      audience=texts["audience"], intro=texts["intro"], path=path)

        sections = data.get("sections")
        if sections is None:
            sections = CommentedMap()
        if not isinstance(sections, dict):
            problem("expected a mapping from section key to a list of entries", data, "sections", "sections")
            return issue, problems
        configured = settings.sections
        seen_items: dict[str, tuple[str, int | None]] = {}
        seen_titles: dict[tuple[str, str, str], int | None] = {}
        for key, entries in sections.items():
            if key not in configured:
                problem(f"unknown section '{key}' (newsletter.yaml has: {', '.join(configured)})",
                        sections, key, f"sections.{key}")
                continue
            if entries is None:
                issue.sections[key] = []
                continue
            if not isinstance(entries, list):
                problem("expected a list of entries", sections, key, f"sections.{key}")
                continue
            parsed = []
            for index, node in enumerate(entries):
                where = f"sections.{key}[{index + 1}]"
                entry = _entry(node, where, problem, entries, index)
                if entry is None:
                    continue
                if entry.item:
                    if known_items is not None and entry.item not in known_items:
                        problem(f"no collected item '{entry.item}' (see `newsletter items`)", node, "item",
                                f"{where}.item")
                    if entry.item in seen_items:
                        other, line = seen_items[entry.item]
                        problem(f"item '{entry.item}' is already in section {other} (line {line})", node,
                                "item", f"{where}.item")
                    seen_items.setdefault(entry.item, (key, entry.line))
                signature = (key, entry.heading.lower(), entry.title.lower())
                if entry.title and signature in seen_titles:
                    problem(f"duplicate entry: '{entry.title}' under '{entry.heading}' is also on line "
                            f"{seen_titles[signature]}", node, "title", f"{where}.title")
                seen_titles.setdefault(signature, entry.line)
                parsed.append(entry)
            issue.sections[key] = parsed
        for key in configured:
            issue.sections.setdefault(key, [])
        # Keep the configured order, whatever order the file lists them in.
        issue.sections = {key: issue.sections[key] for key in configured if key in issue.sections}
        return issue, problems

    def issue(self, settings: Settings, known_items: set[str] | None = None) -> Issue:
        """The validated issue; the first error is raised as an IssueFileError."""
        issue, problems = self.validate(settings, known_items)
        errors = [p for p in problems if p.level == "error"]
        if errors:
            first = errors[0]
            raise IssueFileError(first.path, first.message, first.line, first.field)
        return issue

    # ------------------------------------------------------------------ changing

    def section_list(self, key: str) -> CommentedSeq:
        """The entry list of a section, created (in configured order) when missing."""
        sections = self.data.get("sections")
        if not isinstance(sections, CommentedMap):
            sections = CommentedMap()
            self.data["sections"] = sections
        if sections.get(key) is None:
            sections[key] = _block_seq()
        entries = sections[key]
        if not isinstance(entries, CommentedSeq):
            raise IssueFileError(self.path, "expected a list of entries", _line_of(sections, key), f"sections.{key}")
        entries.fa.set_block_style()  # "highlights: []" becomes a list of entries when one is added
        return entries

    def insert_entry(self, key: str, entry: Entry, heading_order: tuple[str, ...] = (),
                     before: int | None = None) -> int:
        """Put an entry into a section; returns its 1-based position.

        Without `before`, it goes after the last entry with the same heading (so a
        heading's entries stay together), or, for a new heading, before the first
        heading that comes later in the configured order, or last.
        """
        entries = self.section_list(key)
        node = entry_node(entry)
        if before is not None:
            index = max(0, min(before - 1, len(entries)))
        else:
            index = insertion_index(entries, entry.heading, heading_order)
        entries.insert(index, node)
        return index + 1

    def pop_entry(self, key: str, position: int) -> CommentedMap:
        """Remove and return the entry at a 1-based position of a section."""
        entries = self.section_list(key)
        return entries.pop(position - 1)


def _mapping_indent(text: str) -> int:
    """How far the file indents a nested mapping ("sections:" then "  kom:" is 2)."""
    parent = None
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        spaces = len(line) - len(line.lstrip(" "))
        if parent is not None and not stripped.startswith("- "):
            if spaces > parent:
                return spaces - parent
            parent = None
        if stripped.endswith(":") and not stripped.startswith("- "):
            parent = spaces
    return 2


def _block_seq() -> CommentedSeq:
    seq = CommentedSeq()
    seq.fa.set_block_style()
    return seq


def entry_node(entry: Entry) -> CommentedMap:
    """An entry as a YAML mapping: only the fields that have a value; multi-line text as a block."""
    node = CommentedMap()
    node["heading"] = entry.heading
    if entry.title:
        node["title"] = entry.title
    text = entry.text.rstrip()
    node["text"] = LiteralScalarString(text + "\n") if "\n" in text else text
    for name in ("item", *DATE_FIELDS):
        value = getattr(entry, name)
        if value:
            node[name] = value
    return node


def insertion_index(entries: CommentedSeq, heading: str, order: tuple[str, ...]) -> int:
    """Where an entry with `heading` goes: after its heading's last entry, else by the configured order."""
    headings = [str(e.get("heading", "")) if isinstance(e, dict) else "" for e in entries]
    same = [i for i, h in enumerate(headings) if h.lower() == heading.lower()]
    if same:
        return same[-1] + 1
    rank = {h.lower(): i for i, h in enumerate(order)}
    if heading.lower() in rank:
        mine = rank[heading.lower()]
        for i, h in enumerate(headings):
            if rank.get(h.lower(), -1) > mine:
                return i
    return len(entries)


def _date_field(node, key: str, problem, field: str | None = None) -> dt.date | None:
    value = node.get(key)
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    problem(f"expected a date like 2024-07-05, got {value!r}", node, key, field or key)
    return None


def _entry(node, where: str, problem, parent, index) -> Entry | None:
    if not isinstance(node, dict):
        problem(f"expected an entry (heading, title, text …), got {type(node).__name__}", parent, index, where)
        return None
    for key in node:
        if key not in ENTRY_FIELDS:
            problem(f"unknown field (an entry has: {', '.join(ENTRY_FIELDS)})", node, key, f"{where}.{key}")
    values = {}
    for key in ("heading", "title", "text", "item"):
        value = node.get(key)
        if value is not None and not isinstance(value, str):
            if key in ("title", "heading") and isinstance(value, (int, float)):
                value = str(value)
            else:
                problem(f"expected text, got {type(value).__name__}", node, key, f"{where}.{key}")
                value = None
        values[key] = (value or "").strip() if key != "text" else (value or "")
    if not values["heading"]:
        problem("missing 'heading' (the organisation, country or theme)", node,
                "heading" if "heading" in node else None, f"{where}.heading")
    item = values["item"] or None
    if item and not ITEM_ID.match(item):
        problem(f"'{item}' is not an item id (7 letters and digits, as `newsletter items` shows)", node, "item",
                f"{where}.item")
    dates = {key: _date_field(node, key, problem, f"{where}.{key}") for key in DATE_FIELDS}
    return Entry(heading=values["heading"], title=values["title"], text=values["text"].strip(), item=item,
                 line=_line_of(node), **dates)


def load_issue(issues_dir: Path, issue_id: str) -> IssueDocument:
    """Load `issues/<id>.yaml`."""
    return IssueDocument.load(issue_path(issues_dir, issue_id))


def lock_for(path: Path):
    """The lock every command editing this issue holds (a hidden file beside it)."""
    return exclusive_lock(path.parent / f".{path.name}.lock")


def list_issue_ids(issues_dir: Path) -> list[str]:
    """Ids of the issue files in the folder, oldest first."""
    if not issues_dir.exists():
        return []
    return sorted(p.stem for p in issues_dir.glob("*.yaml") if ISSUE_ID.match(p.stem))
