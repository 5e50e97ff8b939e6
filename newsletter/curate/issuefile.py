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
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.scalarstring import LiteralScalarString, ScalarString
from ruamel.yaml.util import load_yaml_guess_indent

from newsletter.config import line_of, not_utf8, spaced_key, yaml_syntax_error
from newsletter.errors import ConfigError, NewsletterError, os_error_advice
from newsletter.fsutil import atomic_write, exclusive_lock
from newsletter.models import ENTRY_FIELDS, Entry, HeadingOrder, Issue, Settings
from newsletter.quarters import ISSUE_ID, period_for, period_is_valid
from newsletter.textcodec import hidden_characters

ISSUE_KEYS = ("id", "title", "period", "published", "audience", "intro", "sections")
DATE_FIELDS = ("date", "deadline", "event_date", "event_end")
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
    entry: str | None = None  # the entry it is about, as `section:position` (`issue show`'s ref), if one

    def __str__(self) -> str:
        where = self.path + (f", line {self.line}" if self.line else "")
        what = f"{self.field}: " if self.field else ""
        return f"{where}: {what}{self.message}"

    def to_json(self) -> dict:
        """A JSON-ready mapping."""
        return {
            "level": self.level,
            "message": self.message,
            "path": self.path,
            "line": self.line,
            "entry": self.entry,
            "field": self.field,
        }


def issue_path(issues_dir: Path, issue_id: str) -> Path:
    """Where an issue's file lives; the id is checked, so the path never leaves `issues_dir`."""
    if not ISSUE_ID.match(issue_id or ""):
        raise IssueFileError(issues_dir, f"'{issue_id}' is not an issue id like 2024-q2")
    return issues_dir / f"{issue_id}.yaml"


@dataclass(frozen=True)
class SourceChar:
    """A character of a value as the issue file writes it: its line and column (both from 1), and the
    escape that stands for it in a double-quoted value ("\\u202E"), else None (written as itself)."""

    line: int
    column: int
    char: str
    escape: str | None = None


# YAML 1.2, 5.7: the one-letter escapes of a double-quoted scalar; \x, \u and \U take 2, 4 and 8 hex digits.
_ESCAPES = {
    "0": "\x00", "a": "\x07", "b": "\x08", "t": "\t", "\t": "\t", "n": "\n", "v": "\x0b", "f": "\x0c",
    "r": "\r", "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\", "N": "\x85", "_": "\xa0",
    "L": "\u2028", "P": "\u2029",
}  # fmt: skip
_HEX_DIGITS = {"x": 2, "u": 4, "U": 8}


def _double_quoted_hidden(lines: list[str], index: int, column: int) -> list[SourceChar]:
    """The invisible characters of a double-quoted value whose text starts at `lines[index][column]`, up to
    its closing quote: written as themselves, or as escapes decoded the YAML way."""
    chars: list[SourceChar] = []
    while index < len(lines):
        text = lines[index]
        while column < len(text):
            char = text[column]
            if char == '"':
                return chars
            if char != "\\":
                if hidden_characters(char):
                    chars.append(SourceChar(index + 1, column + 1, char))
                column += 1
                continue
            letter = text[column + 1 : column + 2]
            if not letter:
                break  # an escaped line break: the value goes on on the next line
            size = _HEX_DIGITS.get(letter, 0)
            escape = text[column : column + 2 + size]
            try:
                meant = chr(int(escape[2:], 16)) if size else _ESCAPES.get(letter, "")
            except ValueError:
                meant = ""  # not an escape YAML knows: the file did not load, or this is not the value
            if meant and hidden_characters(meant):
                chars.append(SourceChar(index + 1, column + 1, meant, escape))
            column += len(escape)
        index, column = index + 1, 0
    return chars


class IssueDocument:
    """An issue file as parsed for round-tripping, with what is needed to write it back safely."""

    def __init__(
        self, path: Path, data: CommentedMap, digest: str | None, indent: tuple[int, int, int], text: str | None = None
    ):
        self.path = Path(path)
        self.data = data
        self.digest = digest
        self.indent = indent
        # The file's text. Changes are made to it line by line (see `insert_entry`), so every
        # line the editor wrote stays byte for byte; `data` is re-parsed after each change.
        if text is None:  # a new document: give it text, and line numbers by reading that text back
            text = self.dumps()
            self.data = _reader().load(text)
        self.text = text
        # The line ending the file is written with: the text is edited with "\n" only, and a file
        # saved with Windows line endings (CRLF) gets them on every line again, new ones included.
        self.newline = "\n"

    # ------------------------------------------------------------------ where a value's characters are

    def hidden_in_value(self, line: int | None, key: str) -> list[SourceChar]:
        """Where the file writes the invisible characters (`textcodec.hidden_characters`) of the value of
        `key`, the key standing on `line` (1-based), in the order the value holds them.

        Each is written as itself (a pasted U+202E) or, in a double-quoted value, as an escape ("\\u202E",
        "\\f"); see the YAML 1.2 spec, 7.3.1 (double-quoted escapes) and 8.1 (block scalars). [] when the
        key is not found on `line`; `issue check` then says where in the value instead.
        """
        lines = self.text.split("\n")
        if not line or not 0 < line <= len(lines):
            return []
        found = re.search(rf"(?:^|[\s-]){re.escape(key)}\s*:(?=\s|$)", lines[line - 1])
        if found is None:
            return []
        key_column = found.start() + (found.group()[0] in " \t-")
        after = lines[line - 1][found.end() :]
        column = found.end() + len(after) - len(after.lstrip(" \t"))  # YAML's white space: space and tab
        start = lines[line - 1][column : column + 1]
        if start == '"':
            return _double_quoted_hidden(lines, line - 1, column + 1)
        chars: list[SourceChar] = []
        # A block scalar's text starts on the next line (its indicator line holds only a comment); a plain
        # or single-quoted one here. Either goes on while lines are indented past the key or blank.
        first = line if start in ("|", ">") else line - 1
        for index in range(first, len(lines)):
            text = lines[index]
            if index > line - 1 and text.strip(" \t") and len(text) - len(text.lstrip(" ")) <= key_column:
                break
            begin = column if index == line - 1 else 0
            end = len(text)
            if start not in ("|", ">") and (comment := text.find(" #", begin)) >= 0:
                end = comment  # a plain value ends where a comment starts
            for offset, char in hidden_characters(text[begin:end]):
                chars.append(SourceChar(index + 1, begin + offset + 1, char))
        return chars

    def comment_cutting(self, node: Any, key: str) -> tuple[int, str] | None:
        """The comment that ends the plain value of `key` in mapping `node` on a line of its text, as
        (1-based line, the comment from its '#'), or None.

        YAML reads " #" and what follows to the end of the line as a comment (YAML 1.2, 6.6), so in
        `title: Nytt forslag #1 av 2` the title is "Nytt forslag": a hashtag or "sak #2" typed into a
        value silently shortens it. A quoted value (`"… #1 av 2"`) or a block (`|`) holds its '#';
        a comment on a line of its own cuts nothing, and one written as a comment, '#' and a space
        (`title: Forslag  # sjekk tittelen`), is taken for one: neither is returned.
        """
        value = node.get(key) if isinstance(node, CommentedMap) else None
        if not isinstance(value, str) or isinstance(value, ScalarString):
            return None
        comment = node.ca.items.get(key, [None, None, None])[2]
        # "# sjekk tittelen" is written as a comment; "#1", "#KOM2022" are text (a hashtag, a number).
        if comment is None or not comment.value.startswith("#") or comment.value[1:2].isspace():
            return None
        line, column = comment.start_mark.line, comment.start_mark.column
        lines = self.text.split("\n")
        if not 0 <= line < len(lines) or not lines[line][:column].strip():
            return None
        return line + 1, comment.value.split("\n", 1)[0].rstrip()

    # ------------------------------------------------------------------ reading and writing

    @classmethod
    def load(cls, path: Path) -> IssueDocument:
        """Parse an issue file; a YAML syntax error names file and line."""
        path = Path(path)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise IssueFileError(path, f"no such issue; create it with `newsletter issue new {path.stem}`") from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad_line, problem = not_utf8(raw, exc)
            raise IssueFileError(path, problem, line=bad_line) from None
        # Every line ending in CRLF: a Windows editor's file, edited with "\n" and written back with
        # CRLF. A file of mixed endings (a block pasted from elsewhere) is left as it is, byte for byte.
        crlf = "\r\n" in text and text.count("\r\n") == text.count("\n")
        if crlf:
            text = text.replace("\r\n", "\n")
        try:
            data, sequence, offset = load_yaml_guess_indent(text, yaml=_reader()) if text.strip() else (None, 4, 2)
        except MarkedYAMLError as exc:
            line, problem = yaml_syntax_error(text, exc)
            raise IssueFileError(path, f"invalid YAML: {problem}", line=line) from None
        except Exception as exc:  # duplicate keys and other non-marked errors
            raise IssueFileError(path, f"invalid YAML: {str(exc).splitlines()[0]}") from None
        if not isinstance(data, CommentedMap):
            raise IssueFileError(
                path,
                "expected an issue's fields (id, title, period, sections …), one `name: value` per line: write "
                f"them so, or move the file away and run `newsletter issue new {path.stem}`",
                line=1,
            )
        mapping = _mapping_indent(text)
        if offset is None:  # no block list in the file yet: the usual "  - key: value" under a key
            sequence, offset = mapping + 2, mapping
        indent = (mapping, sequence, offset)
        document = cls(path, data, hashlib.sha256(raw).hexdigest(), indent, text)
        document.newline = "\r\n" if crlf else "\n"
        return document

    @classmethod
    def create(cls, path: Path, issue_id: str, settings: Settings) -> IssueDocument:
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
        # Written into the editor's file, so in Norwegian, as everything the issue says.
        data.yaml_set_start_comment(
            f"{settings.name}, {data['period']}.\n"
            "Rediger fritt: verktøyet beholder kommentarene og formateringen din. Hver sak har heading,\n"
            "title og text (Markdown, lenker som [se her](https://…), ord på et annet språk som\n"
            "[Third country posted workers]{lang=en}), og kan ha item (items: [a, b] når saken viser til flere),\n"
            "accepted: true (startteksten beholdes), date, deadline, event_date og event_end.\n"
            "Sett `published` (ÅÅÅÅ-MM-DD) når nyhetsbrevet sendes."
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
            raise IssueChanged(
                f"{self.path}: {what} since it was read; nothing was written. "
                "Run the command again (your edits in the file are kept)."
            )
        content = self.text if self.newline == "\n" else self.text.replace("\n", self.newline)
        try:
            atomic_write(self.path, content)
        except OSError as exc:
            # A read-only folder or file, a full disk: the editor's file is as it was (atomic_write
            # leaves no temporary file behind), and the reason is the system's, in one line.
            raise NewsletterError(
                f"{self.path}: cannot write it ({exc.strerror or exc}); nothing was written. {os_error_advice(exc)}"
            ) from exc
        self.digest = hashlib.sha256(content.encode("utf-8")).hexdigest()

    # ------------------------------------------------------------------ validation

    def validate(self, settings: Settings, known_items: set[str] | None = None) -> tuple[Issue, list[Problem]]:
        """The issue as a model, and every structural problem (with line and field), in file order.

        `known_items`, when given, are the ids in the item store: an entry naming
        another id is an error. Never raises for content: what is wrong becomes a Problem.
        """
        problems = _Problems(str(self.path))
        issue = self._header(settings, problems)
        sections = self.data.get("sections")
        if sections is None:
            sections = CommentedMap()
        if not isinstance(sections, dict):
            problems(
                f"expected each section's key with its entries below, got {_what(sections)}: write one line per "
                f"section ({', '.join(f'{key}:' for key in settings.sections)}) under `sections:`",
                self.data,
                "sections",
                "sections",
            )
            return issue, problems.found
        issue.sections = _sections(sections, settings.sections, known_items, problems)
        return issue, problems.found

    def _header(self, settings: Settings, problems: _Problems) -> Issue:
        """The issue without its sections: id, title, period, published, audience, intro (problems noted)."""
        data = self.data
        for key in data:
            if key not in ISSUE_KEYS:
                unknown = f"unknown field: rename it to one of {', '.join(ISSUE_KEYS)}, or delete it"
                problems(spaced_key(key) or unknown, data, key, str(key))
        issue_id = str(data.get("id") or "")
        named = self.path.stem if ISSUE_ID.match(self.path.stem) else "2024-q2"  # the id the file name gives
        if not ISSUE_ID.match(issue_id):
            what = f"'{issue_id}' is not an issue id like 2024-q2" if issue_id else "no issue id"
            problems(f"{what}: write `id: {named}`", data, "id" if "id" in data else None, "id")
        elif issue_id != self.path.stem:
            problems(
                f"'{issue_id}' does not match the file name {self.path.name}: write `id: {self.path.stem}`, "
                f"or rename the file {issue_id}.yaml",
                data,
                "id",
                "id",
            )
        texts = {key: _text_field(data, key, problems) for key in ("title", "period", "audience", "intro")}
        period = texts["period"]
        if period and not period_is_valid(period):
            fix = f"`period: {period_for(issue_id)}`" if ISSUE_ID.match(issue_id) else "the months in Norwegian"
            problems(f"'{period}' is not a period like 'april–juni 2024': write {fix}", data, "period", "period")
        if not period and ISSUE_ID.match(issue_id):
            period = period_for(issue_id)
        return Issue(
            id=issue_id,
            title=texts["title"] or settings.name,
            period=period,
            published=_date_field(data, "published", problems),
            audience=texts["audience"],
            intro=texts["intro"],
            path=problems.path,
        )

    def issue(self, settings: Settings, known_items: set[str] | None = None) -> Issue:
        """The validated issue; the first error is raised as an IssueFileError."""
        issue, problems = self.validate(settings, known_items)
        errors = [p for p in problems if p.level == "error"]
        if errors:
            first = errors[0]
            raise IssueFileError(first.path, first.message, first.line, first.field)
        return issue

    def entries_in_place(self, issue: Issue) -> bool:
        """Whether `issue` (this file's `validate`) holds every entry of each configured section, so that a
        `section:position` names the same entry in both: no entry left out for an error of its own (a
        missing heading, a line that is no field), and no section that is no list."""
        sections = self.data.get("sections")
        if sections is None:
            return True
        if not isinstance(sections, dict):
            return False
        return all(
            entries is None or (isinstance(entries, list) and len(entries) == len(issue.sections.get(key, [])))
            for key, entries in sections.items()
            if key in issue.sections
        )

    # ------------------------------------------------------------------ changing

    def entries_of(self, key: str) -> CommentedSeq:
        """The parsed entries of a section (empty when it has none); raises IssueFileError if it is not a list."""
        sections = self.data.get("sections")
        entries = sections.get(key) if isinstance(sections, dict) else None
        if entries is None:
            return CommentedSeq()
        if not isinstance(entries, CommentedSeq):
            raise IssueFileError(self.path, _not_a_list(key, entries), line_of(sections, key), f"sections.{key}")
        return entries

    def insert_entry(
        self, key: str, entry: Entry, heading_order: HeadingOrder | None = None, before: int | None = None
    ) -> int:
        """Put an entry into a section; returns its 1-based position.

        Without `before`, it goes where `insertion_index` puts its heading: after the
        heading's last entry, or, for a new heading, where the section's `HeadingOrder`
        puts it.
        """
        entries = self.entries_of(key)
        if before is not None:
            index = max(0, min(before - 1, len(entries)))
        else:
            index = insertion_index(entries, entry.heading, heading_order)
        self._insert_block(key, index, self._render(entry_node(entry)))
        return index + 1

    def pop_entry(self, key: str, position: int) -> list[str]:
        """Remove the entry at a 1-based position of a section; returns its lines of text."""
        lines = self.text.splitlines(keepends=True)
        start, end, _dash = self._span(key, position - 1, lines)
        block = lines[start:end]
        del lines[start:end]
        if len(self.entries_of(key)) == 1:  # the section is empty now: "kom:" → "kom: []"
            key_line = self._key_index(key)
            if lines[key_line].rstrip().endswith(":"):
                lines[key_line] = lines[key_line].rstrip() + " []\n"
        self._replace_text("".join(lines))
        return block

    def set_field(self, key: str, position: int, name: str, value: Any, replaces: str | None = None) -> None:
        """Set field `name` of the entry at a 1-based position of a section, rewriting only that field's lines.

        The lines of `name` (or, when the entry lacks it, of `replaces`: `item` when `items` takes its
        place) become `name: value`; an entry with neither gets the field after its last line. A
        comment at the end of a one-line field is kept.
        """
        lines = self.text.splitlines(keepends=True)
        node = self.entries_of(key)[position - 1]
        _start, end, _dash = self._span(key, position - 1, lines)
        old = name if name in node else replaces if replaces and replaces in node else None
        if old is None:
            column = node.lc.key(next(iter(node)))[1]
            lines[end:end] = self._field_lines(name, value, " " * column, column)
            self._replace_text("".join(lines))
            return
        first, column = node.lc.key(old)
        later = [node.lc.key(k)[0] for k in node if node.lc.key(k)[0] > first]
        stop = min(later) if later else end
        while stop > first + 1 and (not lines[stop - 1].strip() or lines[stop - 1].lstrip().startswith("#")):
            stop -= 1  # blank lines and comments before the next field belong to it
        comment = ""
        if stop == first + 1:
            match = re.search(r"\s+#.*$", lines[first].rstrip("\r\n"))
            comment = match.group(0) if match and "'" not in lines[first] and '"' not in lines[first] else ""
        rendered = self._field_lines(name, value, lines[first][:column], column)
        if comment and len(rendered) == 1:
            rendered = [rendered[0].rstrip("\n") + comment + "\n"]
        lines[first:stop] = rendered
        self._replace_text("".join(lines))

    def delete_field(self, key: str, position: int, name: str) -> None:
        """Take field `name` out of the entry at a 1-based position of a section; nothing when it has none.

        Only that field's lines go; comments and blank lines before the next field stay with it. A
        field on the entry's dash line (`- accepted: true`) gives that line to the next field.
        """
        node = self.entries_of(key)[position - 1]
        if name not in node:
            return
        lines = self.text.splitlines(keepends=True)
        _start, end, _dash = self._span(key, position - 1, lines)
        first, column = node.lc.key(name)
        later = sorted(node.lc.key(k)[0] for k in node if node.lc.key(k)[0] > first)
        stop = later[0] if later else end
        while stop > first + 1 and (not lines[stop - 1].strip() or lines[stop - 1].lstrip().startswith("#")):
            stop -= 1  # blank lines and comments before the next field belong to it
        if "-" in lines[first][:column]:  # the dash's line: the next field moves up onto it
            if not later:
                raise NewsletterError(f"{self.path}: internal error: {key}:{position} would be left empty")
            kept = lines[stop : later[0]]
            lines[first : later[0] + 1] = [*kept, lines[first][:column] + lines[later[0]][column:]]
        else:
            del lines[first:stop]
        self._replace_text("".join(lines))

    def _field_lines(self, name: str, value: Any, prefix: str, column: int) -> list[str]:
        """`name: value` as lines of this file: the first after `prefix`, the others indented from `column`."""
        yaml = YAML(typ="rt")
        yaml.width = 4096
        yaml.indent(mapping=self.indent[0], sequence=self.indent[1], offset=self.indent[2])
        out = io.StringIO()
        mapping = CommentedMap()
        mapping[name] = value
        yaml.dump(mapping, out)
        rendered = out.getvalue().splitlines(keepends=True)
        return [prefix + rendered[0]] + [(" " * column + line) if line.strip() else line for line in rendered[1:]]

    def move_block(self, block: list[str], key: str, index: int, heading: str | None = None) -> None:
        """Put lines taken out by `pop_entry` into a section at a 0-based index (new heading optional)."""
        old_dash = len(block[0]) - len(block[0].lstrip(" "))
        if heading is not None:
            block = _with_heading(block, heading, self._scalar(heading))
        self._insert_block(key, index, [line[old_dash:] if line.strip() else line for line in block])

    # -- text surgery: ruamel finds where entries are, the lines themselves are never rewritten

    def _render(self, node: CommentedMap) -> list[str]:
        """An entry as YAML lines with its dash at column 0, in this file's indentation style."""
        mapping, sequence, offset = self.indent
        yaml = YAML(typ="rt")
        yaml.width = 4096
        yaml.indent(mapping=mapping, sequence=sequence - offset, offset=0)
        out = io.StringIO()
        yaml.dump([node], out)
        return out.getvalue().splitlines(keepends=True)

    def _scalar(self, value: str) -> str:
        out = io.StringIO()
        YAML(typ="rt").dump({"heading": value}, out)
        return out.getvalue().split(":", 1)[1].strip()

    def _key_index(self, key: str) -> int:
        """0-based index of the line of section `key` under `sections:` (the section must be in the file)."""
        line = line_of(self.data["sections"], key)
        if line is None:
            raise NewsletterError(f"{self.path}: internal error: no line for section '{key}'; nothing was written")
        return line - 1

    def _span(self, key: str, index: int, lines: list[str]) -> tuple[int, int, int]:
        """0-based first line, end line (exclusive) and dash column of entry `index` of a section.

        An entry ends before the first non-blank line indented no deeper than its
        dash: comments at the dash's level belong to what follows them.
        """
        entries = self.entries_of(key)
        start = entries.lc.item(index)[0]
        while "-" not in lines[start].split("#", 1)[0]:  # the content may start on the dash's line or below
            start -= 1
        dash = len(lines[start]) - len(lines[start].lstrip(" "))
        end = start + 1
        for number in range(start + 1, len(lines)):
            line = lines[number]
            if not line.strip():
                continue
            if len(line) - len(line.lstrip(" ")) <= dash:
                break
            end = number + 1
        return start, end, dash

    def _dash_column(self, key: str, lines: list[str]) -> int:
        """Where entries of a section start: as in the section, another section, or the file's style."""
        for other in [key, *(k for k in (self.data.get("sections") or {}) if k != key)]:
            if self.entries_of(other):
                return self._span(other, 0, lines)[2]
        key_line = lines[self._key_index(key)]
        return len(key_line) - len(key_line.lstrip(" ")) + self.indent[2]

    def _insert_block(self, key: str, index: int, block: list[str]) -> None:
        sections = self.data.get("sections")
        if not isinstance(sections, CommentedMap) or key not in sections:
            self._insert_by_dump(key, index, block)
            return
        lines = self.text.splitlines(keepends=True)
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        entries = self.entries_of(key)
        dash = self._dash_column(key, lines)
        block = [(" " * dash + line) if line.strip() else line for line in block]
        if index < len(entries):
            # Before the entry now at `index`, and before the comments just above it (they describe it).
            at = self._span(key, index, lines)[0]
            while (
                at > 0
                and lines[at - 1].lstrip().startswith("#")
                and (len(lines[at - 1]) - len(lines[at - 1].lstrip(" "))) == dash
            ):
                at -= 1
        elif entries:
            at = self._span(key, len(entries) - 1, lines)[1]
        else:
            key_line = self._key_index(key)
            code, _, comment = lines[key_line].rstrip("\r\n").partition("#")
            if code.rstrip().endswith("[]"):  # "kom: []" becomes "kom:" with entries below
                code = code.rstrip()[:-2].rstrip()
                lines[key_line] = code + ("  #" + comment if comment else "") + "\n"
            at = key_line + 1
        lines[at:at] = block
        self._replace_text("".join(lines))

    def _insert_by_dump(self, key: str, index: int, block: list[str]) -> None:
        # No `sections:` mapping or no such section yet: structure the file lacks, so let ruamel
        # write it (the rest of the file round-trips, comments included).
        sections = self.data.get("sections")
        if not isinstance(sections, CommentedMap):
            sections = CommentedMap()
            self.data["sections"] = sections
        if sections.get(key) is None:
            sections[key] = _block_seq()
        parsed = _reader().load("".join(block))
        sections[key].insert(index, parsed[0])
        self._replace_text(self.dumps())

    def _replace_text(self, text: str) -> None:
        try:
            self.data = _reader().load(text)
        except Exception as exc:  # a bug here must never reach the file
            raise NewsletterError(f"{self.path}: internal error editing the file ({exc}); nothing was written") from exc
        self.text = text


def _with_heading(block: list[str], heading: str, scalar: str) -> list[str]:
    """The entry's lines with its heading value replaced (or a heading line added)."""
    pattern = re.compile(r"^(\s*(?:-\s+)?)heading:[ \t]*[^#\n]*?(\s*#.*)?$")
    for number, line in enumerate(block):
        match = pattern.match(line.rstrip("\r\n"))
        if match:
            block = list(block)
            block[number] = f"{match.group(1)}heading: {scalar}{match.group(2) or ''}\n"
            return block
    first = block[0]
    dash = len(first) - len(first.lstrip(" "))
    inner = first[dash + 1 :]
    pad = len(inner) - len(inner.lstrip(" "))
    return [
        " " * dash + "-" + " " * pad + f"heading: {scalar}\n",
        " " * (dash + 1 + pad) + first[dash + 1 + pad :],
        *block[1:],
    ]


class _LenientConstructor(RoundTripConstructor):
    """Reads an impossible date (2024-13-45) as text, so validation can name its line and field."""

    def construct_yaml_timestamp(self, node, values=None):
        try:
            return super().construct_yaml_timestamp(node, values)
        except ValueError:
            return self.construct_scalar(node)


_LenientConstructor.add_constructor("tag:yaml.org,2002:timestamp", _LenientConstructor.construct_yaml_timestamp)


def _reader() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.Constructor = _LenientConstructor
    return yaml


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
    if len(entry.items) > 1:
        node["items"] = flow_list(entry.items)
    elif entry.item:
        node["item"] = entry.item
    if entry.accepted:
        node["accepted"] = True
    for name in DATE_FIELDS:
        value = getattr(entry, name)
        if value:
            node[name] = value
    return node


def flow_list(values) -> CommentedSeq:
    """A list written on one line, `[a, b]`: an entry's item ids read best side by side."""
    seq = CommentedSeq(values)
    seq.fa.set_flow_style()
    return seq


def insertion_index(entries: CommentedSeq, heading: str, order: HeadingOrder | None = None) -> int:
    """Where an entry with `heading` goes in a section's entries (0-based): `HeadingOrder.index_for`."""
    headings = [str(e.get("heading", "")) if isinstance(e, dict) else "" for e in entries]
    return (order or HeadingOrder()).index_for(headings, heading)


def _date_field(node, key: str, problem, entry: str | None = None) -> dt.date | None:
    """The date at `key` of `node` (a datetime counts as its day); None when empty or not a date (then a
    problem, of `entry` when it is an entry's field)."""
    value = node.get(key)
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    what = f"{entry} has {value!r}, not" if entry else f"{value!r} is not"
    problem(f"{what} a date like 2024-07-05: correct it, or delete the line", node, key, key, entry=entry)
    return None


class _Problems:
    """Collects the problems of one issue file; called as `problems(message, node, key, field, level)`."""

    def __init__(self, path: str):
        self.path = path
        self.found: list[Problem] = []

    def __call__(
        self,
        message: str,
        node: Any = None,
        key: Any = None,
        field: str | None = None,
        level: str = "error",
        entry: str | None = None,
    ) -> None:
        """Note a problem at `key` of `node` (its line), or at no line when there is no node; `entry` is
        the entry's ref (`section:position`), which an entry's message opens with."""
        line = line_of(node, key) if node is not None else None
        self.found.append(Problem(level, message, self.path, line, field, entry))


def _text_field(node: Any, key: str, problems: _Problems) -> str:
    """A top-level text field, stripped; "" when missing or not text (then a problem)."""
    value = node.get(key)
    if value is not None and not isinstance(value, str):
        problems(f"{_what(value)}, not text: put the text in quotes", node, key, key)
        return ""
    return (value or "").strip()


def _sections(
    sections: dict, configured: tuple[str, ...], known_items: set[str] | None, problems: _Problems
) -> dict[str, list[Entry]]:
    """Every configured section's entries, in the configured order; unknown sections are problems, left out."""
    duplicates = _Duplicates(known_items, problems)
    parsed: dict[str, list[Entry]] = {}
    for key, entries in sections.items():
        if key not in configured:
            problems(
                f"unknown section '{key}': rename it to one of newsletter.yaml's ({', '.join(configured)})",
                sections,
                key,
                f"sections.{key}",
            )
            continue
        if entries is None:
            parsed[key] = []
            continue
        if not isinstance(entries, list):
            problems(_not_a_list(key, entries), sections, key, f"sections.{key}")
            continue
        parsed[key] = []
        for index, node in enumerate(entries):
            ref = f"{key}:{index + 1}"  # as `issue show` and every command name it
            entry = _entry(node, ref, problems, entries, index)
            if entry is not None:
                duplicates.check(key, entry, node, ref)
                parsed[key].append(entry)
    # Keep the configured order, whatever order the file lists them in.
    return {key: parsed.get(key, []) for key in configured}


def _not_a_list(key: str, value: Any) -> str:
    """The problem of a section that is no list of entries, and what to write."""
    return (
        f"section '{key}' is {_what(value)}, not a list of entries: write each entry as `- heading: …` below `{key}:`"
    )


class _Duplicates:
    """Notes an entry naming an item the store lacks or another entry already has, or repeating a title."""

    def __init__(self, known_items: set[str] | None, problems: _Problems):
        self.known_items = known_items
        self.problems = problems
        self.items: dict[str, tuple[str, int | None]] = {}  # item id → (ref, line) of its first entry
        self.titles: dict[tuple[str, str, str], tuple[str, int | None]] = {}  # (section, heading, title) → (ref, line)

    def check(self, key: str, entry: Entry, node: Any, ref: str) -> None:
        """Check entry `ref` (`section:position`) of section `key` against the store and the entries before it."""
        for item in entry.items:
            field = "item" if str(node.get("item") or "").strip() == item else "items"
            if self.known_items is not None and item not in self.known_items:
                self.problems(
                    f"{ref} cites '{item}', which is no collected item: correct the id (`newsletter items` lists "
                    "them), or delete it",
                    node,
                    field,
                    field,
                    entry=ref,
                )
            if item in self.items:
                other, line = self.items[item]
                self.problems(
                    f"{ref} cites item '{item}', as {other} (line {line}) does: delete it from one of them",
                    node,
                    field,
                    field,
                    entry=ref,
                )
            self.items.setdefault(item, (ref, entry.line))
        signature = (key, entry.heading.lower(), entry.title.lower())
        if entry.title and signature in self.titles:
            other, line = self.titles[signature]
            self.problems(
                f"{ref} repeats '{entry.title}' under '{entry.heading}' ({other}, line {line}): delete one, or "
                "give it another title",
                node,
                "title",
                "title",
                entry=ref,
            )
        self.titles.setdefault(signature, (ref, entry.line))


def _entry(node, ref: str, problem, parent, index) -> Entry | None:
    """Entry `ref` (`section:position`; node `index` of `parent`) as a model, noting its problems, each
    opening with the ref; None when it is not a mapping."""
    if not isinstance(node, dict):
        problem(
            f"{ref} is {_what(node)}, not an entry: write it as `- heading: …` with its title and text below",
            parent,
            index,
            entry=ref,
        )
        return None
    for key in node:
        if key not in ENTRY_FIELDS:
            spaced = spaced_key(key)
            problem(
                f"{ref} field {spaced}"
                if spaced
                else f"{ref} has a field no entry has: rename it to one of {', '.join(ENTRY_FIELDS)}, or delete it",
                node,
                key,
                str(key),
                entry=ref,
            )
    values = {}
    for key in ("heading", "title", "text", "item", "archived_url"):
        value = node.get(key)
        if value is not None and not isinstance(value, str):
            if key in ("title", "heading") and isinstance(value, (int, float)):
                value = str(value)
            else:
                fix = "several items go in `items: [a, b]`" if key == "item" and isinstance(value, list) else None
                problem(
                    f"{ref} has {_what(value)}, not text: {fix or 'put the text in quotes'}",
                    node,
                    key,
                    key,
                    entry=ref,
                )
                value = None
        values[key] = (value or "").strip() if key != "text" else (value or "")
    if not values["heading"]:
        problem(
            f"{ref} has no heading: add `heading:` with the organisation, country or theme it stands under",
            node,
            "heading" if "heading" in node else None,
            "heading",
            entry=ref,
        )
    # Ids are lower-case; one typed in capitals names the same item, as in `items:` and on the command line.
    item = values["item"].lower() or None
    if item and not ITEM_ID.match(item):
        problem(_not_an_item(ref, values["item"], "item"), node, "item", "item", entry=ref)  # quoted as written
    items = ([item] if item else []) + _item_list(node, ref, problem)
    accepted = node.get("accepted", False)
    if not isinstance(accepted, bool):
        problem(
            f"{ref} has {accepted!r}, not true or false: write `accepted: true` to keep the starting text, "
            "or delete the line",
            node,
            "accepted",
            "accepted",
            entry=ref,
        )
        accepted = False
    archived_url = values["archived_url"]
    if archived_url and not re.match(r"^https?://[^\s/]+\S*$", archived_url):
        problem(
            f"{ref} '{archived_url}' is not an http(s) address: give the stored copy's full https:// address, "
            "or delete the line",
            node,
            "archived_url",
            "archived_url",
            entry=ref,
        )
        archived_url = ""
    dates = {key: _date_field(node, key, problem, ref) for key in DATE_FIELDS}
    start, end = dates["event_date"], dates["event_end"]
    if end and not (start and start <= end):
        if start:  # both given, the wrong way round: not the first day left out, which the other words say
            message = (
                f"{ref} event_end ({end.isoformat()}) is before its event_date ({start.isoformat()}): correct one "
                "of them"
            )
        else:
            message = (
                f"{ref} has an event_end but no event_date on or before it (the event's first day): add "
                "`event_date`, or correct `event_end`"
            )
        problem(message, node, "event_end", "event_end", entry=ref)
        dates["event_end"] = None
    return Entry(
        heading=values["heading"],
        title=values["title"],
        text=values["text"].strip(),
        items=tuple(i for i in items if ITEM_ID.match(i)),
        accepted=accepted,
        archived_url=archived_url,
        line=line_of(node),
        field_lines={str(key): line for key in node if (line := line_of(node, key)) is not None},
        date=dates["date"],
        deadline=dates["deadline"],
        event_date=dates["event_date"],
        event_end=dates["event_end"],
    )


def _item_list(node, ref: str, problem) -> list[str]:
    """The ids of entry `ref`'s `items:` list (an entry citing several collected items), noting problems."""
    value = node.get("items")
    if value is None:
        return []
    if isinstance(value, str):  # `items: k7m2qxa`: one id is a list of one
        return _item_text(node, ref, value, problem)
    if not isinstance(value, list):
        problem(
            f"{ref} has {_what(value)}, not a list of item ids: write `items: [id, id]`",
            node,
            "items",
            "items",
            entry=ref,
        )
        return []
    ids = []
    for index, element in enumerate(value):
        text = str(element).strip().lower() if isinstance(element, str) else ""
        if not ITEM_ID.match(text):
            problem(_not_an_item(ref, element, "items"), value, index, "items", entry=ref)
            continue
        ids.append(text)
    return ids


def _item_text(node, ref: str, value: str, problem) -> list[str]:
    """The id of an entry's `items:` written as one line of text, as a list of one; for several ids
    written without brackets (`items: gtcq495, 76djsp7`), none, and a problem on that line with the list
    to write (a list's own elements have lines, a text's words have none)."""
    ids = [part.lower() for part in re.split(r"[\s,;]+", value) if part]
    if len(ids) > 1:
        problem(
            f"{ref} items {value!r} is one line of text, not a list: write `items: [{', '.join(ids)}]`",
            node,
            "items",
            "items",
            entry=ref,
        )
        return []
    if not ids or not ITEM_ID.match(ids[0]):
        problem(_not_an_item(ref, value, "items"), node, "items", "items", entry=ref)
        return []
    return ids


def _not_an_item(ref: str, value: Any, field: str) -> str:
    """The problem of a value in an entry's `item` or `items` that is no item id, and what to do."""
    return (
        f"{ref} {field} {value!r} is not an item id (letters and digits, 7 as a rule): correct it (`newsletter "
        "items` lists them), or delete it"
    )


def _what(value: Any) -> str:
    """What a YAML value is, in the editor's words rather than Python's ("a list", not "CommentedSeq")."""
    if isinstance(value, dict):
        return "a mapping (fields: values)"
    if isinstance(value, list):
        return "a list (lines starting with '- ', or [a, b])"
    if isinstance(value, bool):
        return f"true or false ({str(value).lower()})"
    if isinstance(value, (int, float)):
        return f"a number ({value})"
    if value is None:
        return "nothing"
    if isinstance(value, str):
        return "a line of text"
    return type(value).__name__


def lock_for(var: Path):
    """The lock every command editing an issue holds: `issues.lock` in the workspace's `var/`.

    A file, not the issues folder itself: flock(2) on a folder opened read-only fails on NFS (where
    Linux makes it a lock that needs the file open for writing), and not beside the issue files,
    which are kept in git (no lock file among them, none for a mistyped issue id). `var/` holds
    the store and is never in git. Edits of two different issues wait for each other too: each is
    a second at most.
    """
    return exclusive_lock(Path(var) / "issues.lock")


def list_issue_ids(issues_dir: Path) -> list[str]:
    """Ids of the issue files in the folder, oldest first."""
    if not issues_dir.exists():
        return []
    return sorted(p.stem for p in issues_dir.glob("*.yaml") if ISSUE_ID.match(p.stem))
