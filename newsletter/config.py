"""Load and validate `newsletter.yaml` and `feeds.yaml` into typed models; `Workspace` owns every path.

Every problem is a `ConfigError` naming the file, the line and the key, raised
before anything is fetched: an unknown key or a wrong type is never silently
ignored, because a typo would otherwise quietly disable a source.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar, overload

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from newsletter.errors import ConfigError
from newsletter.models import (
    ITEM_KINDS,
    RELEVANCE_MODES,
    SOURCE_KINDS,
    ArchiveSettings,
    FeedsConfig,
    Limits,
    MailSettings,
    Organisation,
    RelevanceSettings,
    SectionConfig,
    Selectors,
    Settings,
    Source,
)

Choice = TypeVar("Choice", bound=str)

KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
LANGUAGES = ("nb", "nn", "no", "en", "sv", "da", "fi", "de", "fr")

SOURCE_REQUIRED = ("key", "name", "kind", "url", "section")
SOURCE_OPTIONAL = (
    "heading",  # default: the source's name, as DESIGN.md has it
    "enabled",
    "language",
    "relevance",
    "item_kind",
    "keywords",
    "selectors",
    "date_format",
    "max_pages",
    "allow_private",
)
SELECTOR_REQUIRED = ("item", "title", "link")
SELECTOR_OPTIONAL = ("date", "summary", "next")

# newsletter.yaml keys: those this module reads, and those later stages own
# (rendering, mailing, the archive). Anything else is a typo.
SETTINGS_KEYS = (
    "name",
    "publisher",
    "language",
    "timezone",
    "relevance",
    "sections",
    "user_agent",
    "audience",
    "sender",
    "reply_to",
    "contact",
    "footer",
    "site_url",
    "smtp",
    "colors",
    "unsubscribe_url",
    "list_id",
    "fetch",
    "sender_name",
    "mail",
    "organisations",
    "archive",
)
SMTP_KEYS = ("host", "port", "security", "username", "timeout", "data_timeout", "ca_file", "password")
MAIL_KEYS = (
    "rate_per_second",
    "rate_per_hour",
    "connections",
    "max_attempts",
    "retry_base",
    "max_outage",
    "unsubscribe_mailto",
)
FETCH_KEYS = (
    "timeout",
    "total_timeout",
    "max_mb",
    "max_redirects",
    "retries",
    "backoff",
    "per_host",
    "host_interval",
    "host_failures",
    "workers",
)
RELEVANCE_KEYS = ("threshold", "clear", "article_limit")
ORGANISATION_KEYS = ("aliases", "headings", "url")
ARCHIVE_KEYS = ("own_sections", "own_headings", "themes")
FOOTER_KEYS = ("about", "subscription")
COLOR_PATTERN = re.compile(r"^#[0-9a-fA-F]{6}$")


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    return yaml


def not_utf8(raw: bytes, exc: UnicodeDecodeError) -> tuple[int, str]:
    """(line, problem) for a file's bytes that `exc` found not to be UTF-8: the line (1-based) and
    column of the first bad byte, and what to do, as every other error in a hand-edited file says."""
    line = raw.count(b"\n", 0, exc.start) + 1
    # In characters, as an editor counts them (the line's "æøå" before it are two bytes each).
    column = len(raw[raw.rfind(b"\n", 0, exc.start) + 1 : exc.start].decode("utf-8", "replace")) + 1
    return line, (
        f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {column}, {exc.reason}); "
        "save the file as UTF-8 in your editor"
    )


def read_yaml(path: Path) -> Any:
    """Parse a YAML file keeping line numbers; syntax errors name file and line."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(path, "file not found; create it or pass --workspace") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad_line, problem = not_utf8(raw, exc)
        raise ConfigError(path, problem, line=bad_line) from None
    try:
        return _yaml().load(text)
    except MarkedYAMLError as exc:
        line, problem = yaml_syntax_error(text, exc)
        raise ConfigError(path, f"invalid YAML: {problem}", line=line) from None
    except Exception as exc:  # ruamel raises a few non-marked errors (duplicate keys)
        raise ConfigError(path, f"invalid YAML: {exc}") from None


# Contexts in which the parser reads on from where a construct opened until it fails further down
# ("while parsing a flow sequence" for `title: [broken`): the mistake is where it opened.
_OPENED_EARLIER = ("flow sequence", "flow mapping", "quoted scalar", "block scalar")
# What makes YAML read a plain value as something else: a list, a mapping, an alias, an anchor, a tag,
# a block of text, a directive, or a reserved character.
_SPECIAL_START = "[{*&!|>%@`"
# A field and its value; the key never starts with "- " (`- "Rapporten "Ny tid": 2023"` is a list's value).
_KEY_VALUE = re.compile(r"^\s*(?:-\s+)?(?P<key>(?!-\s)[^\s:#'\"][^:#]*?):[ \t]+(?P<value>\S.*?)\s*$")
_LIST_VALUE = re.compile(r"^\s*-\s+(?P<value>\S.*?)\s*$")
_INDENTATION_HINT = (
    "check the indentation of this line and the one above: the fields of one entry start in the same "
    "column, and each '- ' of a list in its list's column"
)


def yaml_syntax_error(text: str, exc: MarkedYAMLError) -> tuple[int | None, str]:
    """The line and plain words for a YAML syntax error, with what to do.

    The line is where the problem starts: an unclosed `[` or quote is reported by the parser where it
    gave up (often the next line), so its opening line (the context mark) is named instead. A value
    that YAML reads as something other than text (it starts with `[`, `{`, `*`, `&`, `!`, `|`, `>`,
    `%`, `@` or `- `, or contains `: `) gets the quoted form to write instead.
    """
    context, problem = exc.context or "", exc.problem or ""
    mark = exc.problem_mark or exc.context_mark
    if exc.context_mark is not None and any(words in context for words in _OPENED_EARLIER):
        mark = exc.context_mark
    line = mark.line + 1 if mark is not None else None
    lines = text.splitlines()
    opened = _unclosed_quote(lines, line) if line and "quoted scalar" not in context else None
    if opened is not None and line and _closing_it_helps(lines, *opened, failed=line):
        return opened[0], (
            f"a quoted value is not closed on this line, so YAML read on to the next {opened[1]} (line {line}) "
            "and failed there: add the closing quote, or remove the opening one"
        )
    if line and (misspaced := _misspaced(lines, exc, line)) is not None:
        return misspaced
    source = lines[line - 1] if line and line <= len(lines) else ""
    quoted = _quoted(source)
    if "flow sequence" in context or "flow mapping" in context:
        opener, what = ("[", "a list") if "sequence" in context else ("{", "a mapping")
        words = f"a value starting with '{opener}' is read as {what}, and this one is not closed"
    elif "quoted scalar" in context:
        return line, "a quoted value is not closed: add the closing quote, or remove the opening one"
    elif "block scalar" in context:
        words = "a value starting with '|' or '>' begins a block of text on the lines below"
    elif "undefined alias" in problem:
        words = "a value starting with '*' is read as a reference to an '&' anchor"
    elif "cannot start any token" in problem:
        if "\\t" in problem or "\t" in problem:
            before = source[: mark.column] if mark is not None else ""
            if before.strip():  # after text: between a field and its value, or inside a plain value
                return line, (
                    f"a tab after '{before.strip()[-30:]}' (column {len(before) + 1}): YAML takes no tab in a plain "
                    "value or between a field and its value; replace it with a space"
                )
            return line, "a tab in the indentation: indent with spaces only"
        character = problem.split("'")[1] if problem.count("'") >= 2 else "this character"
        words = f"a value cannot start with '{character}'"
    elif "sequence entries are not allowed" in problem and quoted:  # `intro: - GRETA og Norge`
        words = "a value cannot start with '- ', which YAML reads as a list"
    elif "mapping values are not allowed" in problem and (after := _text_after_quote(source)) is not None:
        return line, after  # `title: "Rapporten "Ny tid": …"`: the inner quotes end the value, not the ': '
    elif "mapping values are not allowed" in problem:
        if line and (continued := _continued_value(lines, line)) is not None:
            start, key = continued
            block = (
                f"make it a block of text: write '{key}: >-' alone on line {start} and the whole value on the "
                f"lines below it, each indented further than '{key}'"
            )
            field = _KEY_VALUE.match(source) if line != start else None
            if field is not None and " " not in field["key"].strip():
                # `text: …` indented a space too far reads the same as prose going on with "Merk: …".
                name = field["key"].strip()
                return line, (
                    f"'{name}:' is read as part of the value of '{key}' (line {start}) above, and the ': ' as "
                    f"the start of another field. If '{name}' is a field, it is indented too far: start it in the "
                    f"column of '{key}'. If the value of '{key}' goes on here, {block}"
                )
            return start, (
                f"the value of '{key}' goes on over the lines below, and a ': ' in it reads as the start of "
                f"another field; {block}"
            )
        if quoted:
            words = "a ': ' inside a value reads as the start of another field"
        else:
            return line, f"a field where none can start; {_INDENTATION_HINT}"
    elif (after := _text_after_quote(source)) is not None:
        return line, after
    elif "simple key" in context and "expected ':'" in problem and exc.context_mark is not None:
        return _no_field_name(lines, exc.context_mark.line + 1)
    elif "<block end>" in problem or "expected key" in problem or "block" in context:
        if line and (misplaced := _between_field_and_text(lines, line)) is not None:
            return line, misplaced
        return line, f"the indentation does not fit; {_INDENTATION_HINT}"
    elif problem.startswith("found duplicate key") or problem.startswith("duplicate key"):
        # ruamel: found duplicate key "KEY" with value "…" (original value: "…").
        named = re.search(r'duplicate key "(.*?)" with value', problem, re.DOTALL)
        key = " ".join(named[1].split()) if named and named[1].strip() else "this field"
        first = _first_place(lines, key, exc.context_mark.line if exc.context_mark else 0, line or 0)
        where = f" (first on line {first})" if first else ""
        return line, (
            f'duplicate key "{key}": the field is given twice in one place{where}; keep one of them '
            "(or, if this line begins another entry, start it with '- ')"
        )
    else:  # the parser's own words, no quoting advice
        return line, problem or context or "not YAML"
    if quoted:
        return line, f"{words}; put the value in quotes: {quoted}"
    return line, words


# A line that starts (after its indentation and an optional "- ") with a field's name and a colon with no
# ordinary space after it: `title:Nytt forslag`. Not a URL's scheme (`https://`) nor a time (`12:30`).
_FIELD_WITHOUT_SPACE = re.compile(r"^(?P<indent>[ ]*(?:-[ ]+)?)(?P<key>(?!\d+:)[\w-]+):(?P<after>(?!//)[^ \t\r\n].*)$")


def _misspaced(lines: list[str], exc: MarkedYAMLError, failed: int) -> tuple[int, str] | None:
    """(line, problem) when the error comes from a space YAML does not see as one, else None: a Unicode
    space (U+00A0 NO-BREAK SPACE and the like, which look like a space) in a line's indentation, or a
    field's colon with no ordinary space after it.

    YAML sees neither as a space, so it reads the line as text and fails at the line after it, or further
    on. Looked at: the line where YAML began to look for a missing ':' ("while scanning a simple key"),
    the failing line and the nearest line above it. One is blamed only when mending it gets YAML past
    where it failed: a colon in the prose of a `|` block, or a URL, is no fault.
    """
    candidates = []
    if "simple key" in (exc.context or "") and exc.context_mark is not None:
        candidates.append(exc.context_mark.line + 1)
    candidates.append(failed)
    above = next((n for n in range(failed - 1, 0, -1) if lines[n - 1].strip() and not _is_comment(lines[n - 1])), None)
    if above is not None:
        candidates.append(above)
    for number in dict.fromkeys(candidates):
        if not 0 < number <= len(lines):
            continue
        text = lines[number - 1]
        indentation = text[: len(text) - len(text.lstrip())]  # str.isspace is Unicode's: U+00A0 is a space
        odd = next((char for char in indentation if char not in " \t"), None)
        spaces = "".join(char if char in " \t" else " " for char in indentation)
        if odd is not None and _mending_helps(lines, number, spaces + text[len(indentation) :], exc):
            return number, (
                f"the indentation holds {_space_name(odd)}, which looks like a space but is none: retype the "
                "indentation with ordinary spaces"
            )
        match = _FIELD_WITHOUT_SPACE.match(text)
        if match is None:
            continue
        key, after = match["key"], match["after"]
        value = re.sub(r"[ \t]+#.*$", "", after.lstrip()).strip()  # a comment is no part of what to write
        mended = f"{match['indent']}{key}: {value}"
        if not _mending_helps(lines, number, mended, exc):
            continue
        dash = "- " if match["indent"].strip() else ""
        quoted = _quoted(mended)
        write = f"{dash}{quoted}" if quoted else mended.strip()
        if after[0].isspace():
            return number, (
                f"the space after '{key}:' is {_space_name(after[0])}, which looks like a space but is none: "
                f"delete it and type an ordinary space (`{write}`)"
            )
        return number, (
            f"no space after the colon of '{key}': write `{write}` (YAML needs a space between a field and its value)"
        )
    return None


def spaced_key(key: object) -> str | None:
    """What to do about a field's name that YAML read with a Unicode space before it, else None.

    A no-break space (or the like) after a line's ordinary indentation is no indentation to YAML: it
    starts the field's name, which then is no field the file knows, and the name shown in the error
    looks right. `\u00a0title: x` reads as the field "\u00a0title".
    """
    if not isinstance(key, str) or not key or key[0] in " \t" or not key[0].isspace():
        return None
    return (
        f"'{key.strip()}' starts with {_space_name(key[0])}, which looks like a space but is none: retype the "
        "indentation with ordinary spaces"
    )


def _is_comment(line: str) -> bool:
    return line.lstrip().startswith("#")


def _space_name(char: str) -> str:
    """ "a no-break space (U+00A0)", "an ideographic space (U+3000)": a Unicode space named for the editor."""
    name = unicodedata.name(char, "space").lower()
    article = "an" if name[0] in "aeiou" else "a"
    return f"{article} {name} (U+{ord(char):04X})"


def _mending_helps(lines: list[str], number: int, mended: str, exc: MarkedYAMLError) -> bool:
    """Whether the text with line `number` (1-based) replaced by `mended` gets YAML past the error `exc`:
    it reads, or fails elsewhere or for another reason (a second mistake further on)."""
    fixed = list(lines)
    fixed[number - 1] = mended
    try:
        _yaml().compose("\n".join(fixed))  # syntax only: what the values mean is not asked here
    except MarkedYAMLError as again:
        before, after = exc.problem_mark, again.problem_mark
        if before is None or after is None:
            return again.problem != exc.problem
        return (after.line, after.column, again.problem) != (before.line, before.column, exc.problem)
    return True


# A `name: value` line: where the name starts (after the indentation and an optional "- "), the name, the value.
_FIELD = re.compile(r"^(?P<lead>[ ]*(?:-[ ]+)?)(?P<key>[^\s#'\"][^:#]*?):(?:[ \t]+(?P<value>.*?))?[ \t]*$")
# The header of a block of text: `|` or `>`, with an optional chomping and indentation indicator and a comment.
_BLOCK_HEADER = re.compile(r"^[|>][-+0-9]*[ \t]*(?:#.*)?$")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _field_above(lines: list[str], number: int, column: int) -> tuple[int, str, int, str] | None:
    """The field whose value line `number` (1-based) would go on with, had it been indented further: the
    nearest line above it that is not more indented than `column`, when that line is a `name: value`
    whose name stands at `column`. Returns (its line, its name, its column, its value) or None."""
    for above in range(number - 1, 0, -1):
        text = lines[above - 1]
        if not text.strip() or _indent(text) > column or _is_comment(text):
            continue  # the value's own lines, or a comment YAML skips
        match = _FIELD.match(text)
        if match is None or len(match["lead"]) != column:
            return None
        return above, match["key"].strip(), column, match["value"] or ""
    return None


def _no_field_name(lines: list[str], number: int) -> tuple[int, str]:
    """(line, problem) for a line YAML read as a new field (it stands in a field's column) that has no
    `name:` at its start: mostly a line of the value above that is not indented further than its field.

    YAML says only that it "could not find expected ':'", and names the line after. A plain value goes on
    over lines indented further than its field; a `|` block's lines stand in the column of its first line.
    """
    reads_as_field = "this line reads as a new field, but has no 'name: ' at its start"
    own_field = "if it is a field of its own, write its name and ': ' first"
    unplaced = (
        f"{reads_as_field}: {own_field}; a line that continues the value above must be indented further than its field"
    )
    text = lines[number - 1] if 0 < number <= len(lines) else ""
    found = _field_above(lines, number, _indent(text))
    if found is None:
        return number, unplaced
    above, key, column, value = found
    if _BLOCK_HEADER.match(value):
        inside = next((_indent(lines[n]) for n in range(above, number - 1) if lines[n].strip()), None)
        like = ", as the lines above it" if inside is not None else ""
        return number, (
            f"{reads_as_field}: if it belongs to the text under '{key}' (line {above}), indent it with "
            f"{inside or column + 2} spaces{like}; {own_field}"
        )
    between = [lines[n].strip() for n in range(above, number - 1) if lines[n].strip()]
    wrapped = not value and bool(between) and not any(_FIELD.match(line) or line.startswith("-") for line in between)
    if wrapped or (value and value[0] not in _SPECIAL_START and value[0] not in "'\"-"):
        return number, (
            f"{reads_as_field}: if it goes on with the value of '{key}' (line {above}), indent it further than "
            f"'{key}', with {column + 2} spaces, or write `{key}: |` and the text on the lines below it, indented; "
            f"{own_field}"
        )
    return number, unplaced


def _between_field_and_text(lines: list[str], number: int) -> str | None:
    """What to do with line `number` (1-based) when it stands inside a `|` or `>` block of text, indented
    further than the block's field but less than the block's first line, else None.

    YAML takes a block's indentation from its first line, ends the block at a line indented less, and
    then finds that line too far in for a field of its own.
    """
    text = lines[number - 1] if 0 < number <= len(lines) else ""
    column = _indent(text)
    for above in range(number - 1, 0, -1):
        line = lines[above - 1]
        if not line.strip() or _indent(line) >= column:
            continue
        match = _FIELD.match(line)
        if match is None or not _BLOCK_HEADER.match(match["value"] or ""):
            return None
        body = [lines[n] for n in range(above, number - 1) if lines[n].strip()]
        inside = _indent(body[0]) if body else None
        if inside is None or inside <= column or any(_indent(line) < inside for line in body):
            return None
        key, at = match["key"].strip(), len(match["lead"])
        return (
            f"this line is indented further than '{key}' (line {above}) but less than the text under it: indent it "
            f"with {inside} spaces if it belongs to that text, or with {at} spaces, as '{key}', if it is a field "
            "of its own"
        )
    return None


def _first_place(lines: list[str], key: str, start: int, duplicate: int) -> int | None:
    """The line (1-based) where `key` first stands in the mapping that gives it again on line
    `duplicate`: between the mapping's first line (0-based `start`) and the duplicate, at its column."""
    if not 0 < duplicate <= len(lines):
        return None
    column = len(lines[duplicate - 1]) - len(lines[duplicate - 1].lstrip(" -"))
    for number in range(start, duplicate - 1):
        text = lines[number]
        if len(text) - len(text.lstrip(" -")) == column and text.lstrip(" -").startswith(f"{key}:"):
            return number + 1
    return None


def _unclosed_quote(lines: list[str], failed: int) -> tuple[int, str] | None:
    """The line (1-based) above line `failed` whose value opens a quote that runs on to `failed`.

    A quoted value may run over several lines in YAML, so an apostrophe forgotten on one line is
    only noticed at the next `'` in the file ("Coordinators' meeting"), often far below, where the
    text after it makes no sense. So: the nearest line above whose value opens a quote it does not
    close, when the next such quote character in the file is on the failing line (a value wrapped
    on purpose closes earlier, and is not blamed). Returns (line, the quote character) or None.
    `''` inside single quotes and a backslash-escaped `"` inside double quotes are not closings.
    """

    def closes(text: str, quote: str) -> bool:
        if quote == "'":
            return "'" in text.replace("''", "")
        return '"' in text.replace("\\\\", "").replace('\\"', "")

    for number in range(failed - 1, 0, -1):
        line = lines[number - 1]
        match = _KEY_VALUE.match(line) or _LIST_VALUE.match(line)
        if not match:
            continue
        value = match["value"]
        quote = value[0]
        if quote not in "'\"" or closes(value[1:], quote):
            continue
        closing = next((n for n in range(number + 1, failed + 1) if closes(lines[n - 1], quote)), None)
        return (number, quote) if closing == failed else None
    return None


def _closing_it_helps(lines: list[str], number: int, quote: str, failed: int) -> bool:
    """Whether closing the quote on line `number` gets the text past line `failed`: the guess confirmed.

    A line that looks like `key: 'value` may be prose inside a `|` block (an entry's text), where a
    quote means nothing to YAML; there closing it changes nothing, and the real fault is elsewhere.
    """
    fixed = list(lines)
    fixed[number - 1] += quote
    try:
        _yaml().load("\n".join(fixed))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        return mark is not None and mark.line + 1 > failed
    except Exception:  # a duplicate key and the like: the quote was not what stopped the parser
        return False
    return True


def _text_after_quote(line: str) -> str | None:
    """What to write for a `key: value` or `- value` line whose value opens a quote, closes it, and goes on
    (`title: "Rapporten "Ny tid" er ute"`, `title: "Ny rapport" fra KOM`), else None.

    YAML reads a value that starts with a quote as a quoted value, which ends at the next quote of its
    kind (YAML 1.2 §7.3, flow scalar styles); text after it is no part of any field, and the parser says only
    that it expected the end of a block, which reads as an indentation fault. The fix is to quote the
    whole value with the other quote character, or to write quotes inside it as « », as Norwegian does.
    """
    match = _KEY_VALUE.match(line) or _LIST_VALUE.match(line)
    if not match or match["value"][0] not in "'\"":
        return None
    value, quote = match["value"], match["value"][0]
    # A comment after the last quote is no part of it (`"Ny tid" #1 i serien"`: a quote follows, no comment).
    if remark := re.search(rf"{quote}[ \t]+#[^{quote}]*$", value):
        value = value[: remark.start() + 1]
    end, at = None, 1
    while at < len(value):  # the closing quote: not a doubled '' in single quotes, not an escaped \" in double
        if quote == '"' and value[at] == "\\":
            at += 2
            continue
        if value[at] == quote:
            if quote == "'" and value[at + 1 : at + 2] == "'":
                at += 2
                continue
            end = at
            break
        at += 1
    rest = value[end + 1 :].strip() if end is not None else ""
    if not rest or rest.startswith("#"):
        return None
    inner = value[1:-1] if value.endswith(quote) and len(value) > 1 else value
    if '"' not in inner:
        rewritten = '"' + inner.replace("\\", "\\\\") + '"'
    elif quote == '"' and "\\" in inner:
        # Its escapes (`\u00e5`, `\\`) mean what they say only in double quotes: kept, the inner quotes escaped.
        rewritten = '"' + re.sub(r'(?<!\\)"', r'\\"', inner) + '"'
    else:
        rewritten = "'" + inner.replace("'", "''") + "'"
    field = f"{match['key'].strip()}: " if "key" in match.groupdict() else "- "
    return (
        f"the quoted value ends at the second {quote} (before '{rest[:20]}'), and YAML takes no text after it: "
        f"quote the whole value with the other quote mark, {field}{rewritten}, or write the quotes "
        "inside it as « »"
    )


def _continued_value(lines: list[str], failed: int) -> tuple[int, str] | None:
    """(line, key) of a `key: value` line whose plain value goes on over the lines below it (YAML folds
    them into one), when line `failed` (1-based) is that line or one of those below; else None.

    Quotes around the first line alone would not mend such a value: the lines below would still be read
    as part of it, outside the quotes. A block (`key: >-`) takes them all, ': ' and all.
    """

    def value_line(index: int) -> tuple[int, str] | None:  # (column of the key, key) of a plain `key: value`
        match = _KEY_VALUE.match(lines[index])
        if not match or match["value"][0] in "'\"|>":
            return None
        return match.start("key"), match["key"].strip()

    index = failed - 1
    if not 0 <= index < len(lines):
        return None
    start = None
    if (here := value_line(index)) is not None:
        below = lines[index + 1] if index + 1 < len(lines) else ""
        if below.strip() and _indent(below) > here[0]:  # deeper in: the value goes on, `C: D` or not
            start = index
    if start is None:  # a line below the value's first: up to the nearest line indented less
        for above in range(index - 1, -1, -1):
            if not lines[above].strip():
                return None
            if _indent(lines[above]) < _indent(lines[index]):
                start = above
                break
    if start is None or (found := value_line(start)) is None or _indent(lines[index]) <= found[0] and start != index:
        return None
    return start + 1, found[1]


def _quoted(line: str) -> str | None:
    """`key: "value"` for a `key: value` line whose value YAML would not read as plain text, else None."""
    match = _KEY_VALUE.match(line)
    if not match:
        return None
    value = match["value"]
    if value[0] not in _SPECIAL_START and ": " not in value and not value.startswith("- "):
        return None
    if '"' in value and "'" not in value:  # single quotes take double ones as they are, no backslashes
        return f"{match['key'].strip()}: '{value}'"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'{match["key"].strip()}: "{escaped}"'


def line_of(node: Any, key: str | int | None = None) -> int | None:
    """1-based line of a mapping key (or of the node itself) in the parsed file."""
    try:
        if key is not None and isinstance(node, (CommentedMap, CommentedSeq)):
            return node.lc.key(key)[0] + 1 if isinstance(node, CommentedMap) else node.lc.item(key)[0] + 1
        return node.lc.line + 1
    except (AttributeError, KeyError, TypeError, IndexError):
        return None


class _Checker:
    """Validates one mapping and reports errors with file, line and dotted key."""

    def __init__(self, path: Path, node: Any, where: str, line: int | None = None):
        self.path = path
        self.node = node
        self.where = where
        self.line = line if line is not None else line_of(node)
        if not isinstance(node, dict):
            raise ConfigError(path, f"expected a mapping, got {type(node).__name__}", self.line, where or None)

    def error(self, key: str | None, message: str) -> ConfigError:
        """A ConfigError at `key`'s line (the mapping's own line without a key), naming the dotted key."""
        line = line_of(self.node, key) if key is not None and key in self.node else self.line
        name = ".".join(p for p in (self.where, key) if p)
        return ConfigError(self.path, message, line, name or None)

    def keys(self, required: tuple[str, ...], optional: tuple[str, ...]) -> None:
        """Raise ConfigError on an unknown key (suggesting a close one) or a missing or null required key."""
        for key in self.node:
            if key not in required and key not in optional:
                if spaced := spaced_key(key):
                    raise self.error(str(key), spaced)
                hint = _close_match(str(key), required + optional)
                raise self.error(str(key), "unknown key" + (f" (did you mean '{hint}'?)" if hint else ""))
        for key in required:
            if key not in self.node or self.node[key] is None:
                raise self.error(None, f"missing required key '{key}'")

    @overload
    def string(self, key: str, default: str, choices: tuple[str, ...] | None = None) -> str: ...

    @overload
    def string(self, key: str, default: None = None, choices: tuple[str, ...] | None = None) -> str | None: ...

    def string(self, key: str, default: str | None = None, choices: tuple[str, ...] | None = None) -> str | None:
        """The key's text, stripped; `default` when the key is missing.

        Raises ConfigError when the value is not non-empty text (null included, when there is a default
        to fall back on: as for numbers and booleans, null is not "unset"), or not one of `choices`.
        """
        if key not in self.node or (self.node[key] is None and default is None):
            return default
        value = self.node[key]
        if not isinstance(value, str) or not value.strip():
            raise self.error(key, f"expected a non-empty text, got {value!r}")
        value = value.strip()
        if choices and value not in choices:
            raise self.error(key, f"'{value}' is not one of: {', '.join(choices)}")
        return value

    def required(self, key: str, choices: tuple[str, ...] | None = None) -> str:
        """The text of a key `keys` requires; raises ConfigError when it is missing, null or not valid text."""
        value = self.string(key, choices=choices)
        if value is None:
            raise self.error(None, f"missing required key '{key}'")
        return value

    def choice(self, key: str, choices: tuple[Choice, ...], default: Choice | None = None) -> Choice:
        """The key's text, one of `choices` (required when there is no `default`); typed as the choice it is."""
        value = self.required(key, choices) if default is None else self.string(key, default, choices)
        return choices[choices.index(value)]

    def text(self, key: str) -> str:
        """The key's text, or "" when the key is missing, null or empty (an optional free text)."""
        return self.string(key, "") if self.node.get(key) else ""

    def boolean(self, key: str, default: bool) -> bool:
        """The key's true or false, `default` when missing; raises ConfigError on anything else (null included)."""
        value = self.node.get(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {value!r}")
        return value

    def number(self, key: str, default: float, minimum: float = 0, maximum: float | None = None) -> float:
        """The key's number as a float, `default` when missing; raises ConfigError if not a number in
        [`minimum`, `maximum`]."""
        value = self.node.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
            raise self.error(key, f"expected a number ≥ {minimum}, got {value!r}")
        if maximum is not None and value > maximum:
            raise self.error(key, f"expected a number from {minimum} to {maximum}, got {value!r}")
        return float(value)

    def weights(self, key: str) -> dict[str, float]:
        """The mapping of term → weight (-100 or more) at `key`, terms lower-cased; {} when missing."""
        value = self.node.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.error(key, "expected a mapping of term: weight")
        sub = _Checker(self.path, value, ".".join(p for p in (self.where, key) if p), line_of(self.node, key))
        out = {}
        for term in value:
            if not isinstance(term, str) or not term.strip():
                raise sub.error(str(term), "a term must be non-empty text")
            out[term.strip().lower()] = sub.number(term, 0.0, minimum=-100)
        return out


def _close_match(word: str, options: tuple[str, ...]) -> str | None:
    import difflib

    found = difflib.get_close_matches(word, options, n=1, cutoff=0.7)
    return found[0] if found else None


def _check_url(checker: _Checker, key: str) -> str:
    """The http(s) URL at `key`; raises ConfigError when it is missing or another kind of address."""
    url = checker.string(key) or ""
    if not re.match(r"^https?://[^\s/]+", url):
        raise checker.error(key, f"expected an http(s) URL, got {url!r}")
    return url


def load_feeds(path: Path, sections: tuple[str, ...] | None = None, check_selectors: bool = True) -> FeedsConfig:
    """Read `feeds.yaml`; raise ConfigError naming file, line and key on any problem.

    `check_selectors` compiles every CSS selector (soupsieve: a few hundred milliseconds), so a
    typo fails before anything is fetched; commands that fetch nothing (`items`, `show`, `issue`)
    skip it, since only collection reads pages with the selectors.
    """
    path = Path(path)
    data = read_yaml(path)
    if data is None:
        raise ConfigError(path, "the file is empty; it needs a 'sources:' list")
    top = _Checker(path, data, "")
    top.keys(("sources",), ("keywords",))
    keywords = top.weights("keywords")
    raw_sources = data["sources"]
    if not isinstance(raw_sources, list):
        raise top.error("sources", "expected a list of sources")
    sources: list[Source] = []
    seen: dict[str, int | None] = {}
    for index, node in enumerate(raw_sources):
        line = line_of(raw_sources, index)
        check = _Checker(path, node, f"sources[{index}]", line)
        named = check.string("key") if isinstance(node, dict) and node.get("key") else None
        if named:
            check.where = f"sources[{named}]"  # errors name the source by its key once it has one
        check.keys(SOURCE_REQUIRED, SOURCE_OPTIONAL)
        if not named or not KEY_PATTERN.match(named):
            raise check.error("key", f"'{named}' must be lower-case letters, digits, '-' or '_'")
        key = named
        if key in seen:
            raise check.error("key", f"duplicate source key '{key}' (first on line {seen[key]})")
        seen[key] = line_of(node, "key")
        kind = check.choice("kind", SOURCE_KINDS)
        section = check.required("section")
        if sections and section not in sections:
            raise check.error("section", f"'{section}' is not a section of newsletter.yaml ({', '.join(sections)})")
        selectors = None
        if kind == "html":
            if "selectors" not in node:
                raise check.error(None, "an html source needs 'selectors' (item, title, link, ...)")
            sel = _Checker(path, node["selectors"], check.where + ".selectors", line_of(node, "selectors"))
            sel.keys(SELECTOR_REQUIRED, SELECTOR_OPTIONAL)
            selectors = Selectors(
                item=sel.required("item"),
                title=sel.required("title"),
                link=sel.required("link"),
                date=sel.string("date"),
                summary=sel.string("summary"),
                next=sel.string("next"),
            )
            if check_selectors:
                _check_css(sel, selectors)
        elif "selectors" in node:
            raise check.error("selectors", f"only html sources take selectors, this one is '{kind}'")
        date_format = check.string("date_format")
        if date_format and "%" not in date_format:
            raise check.error("date_format", f"'{date_format}' has no strptime directive such as %d.%m.%Y")
        language = check.string("language", "nb")
        if language.split("_")[0] not in LANGUAGES:
            raise check.error("language", f"'{language}' is not a supported language ({', '.join(LANGUAGES)})")
        max_pages = node.get("max_pages", 3)
        if isinstance(max_pages, bool) or not isinstance(max_pages, int) or not 1 <= max_pages <= 50:
            raise check.error("max_pages", f"expected a whole number from 1 to 50, got {max_pages!r}")
        name = check.required("name")
        sources.append(
            Source(
                key=key,
                name=name,
                kind=kind,
                url=_check_url(check, "url"),
                section=section,
                heading=check.string("heading", name),
                language=language,
                relevance=check.choice("relevance", RELEVANCE_MODES, "filter"),
                item_kind=check.choice("item_kind", ITEM_KINDS, "news"),
                enabled=check.boolean("enabled", True),
                keywords=check.weights("keywords"),
                selectors=selectors,
                date_format=date_format,
                max_pages=max_pages,
                allow_private=check.boolean("allow_private", False),
                line=line,
            )
        )
    return FeedsConfig(sources=tuple(sources), keywords=keywords, path=str(path))


def _check_css(checker: _Checker, selectors: Selectors) -> None:
    """Compile each selector now so a typo fails before any fetch."""
    import soupsieve

    for name in SELECTOR_REQUIRED + SELECTOR_OPTIONAL:
        value = getattr(selectors, name)
        if value:
            try:
                soupsieve.compile(value)
            except Exception as exc:  # soupsieve raises SelectorSyntaxError
                raise checker.error(name, f"invalid CSS selector {value!r}: {str(exc).splitlines()[0]}") from None


def load_settings(path: Path) -> Settings:
    """Read and validate `newsletter.yaml`; a missing or empty file means the defaults.

    One loader per section of the file, in a fixed order, so the first problem is always the one
    reported. Raises ConfigError naming the file, the line and the (dotted) key.
    """
    path = Path(path)
    if not path.exists():
        return Settings()
    data = read_yaml(path)
    if data is None:
        return Settings()
    top = _Checker(path, data, "")
    top.keys((), SETTINGS_KEYS)
    relevance = _relevance(top)
    limits = _limits(top)
    sections = _sections(top)
    footer_about, footer_subscription = _footer(top)
    colors = _colors(top)
    site_url = _site_url(top)
    archive = _archive(top, sections)
    name = top.string("name") or top.string("publisher") or Settings.name
    timezone = _timezone(top)
    mail = replace(_mail_settings(top), timezone=timezone)
    return Settings(
        name=name,
        language=top.string("language", "nb"),
        timezone=timezone,
        relevance=relevance,
        limits=limits,
        section_configs=sections,
        publisher=top.text("publisher"),
        audience=top.text("audience"),
        contact=top.text("contact"),
        site_url=site_url.rstrip("/"),
        footer_about=footer_about,
        footer_subscription=footer_subscription,
        colors=colors,
        mail=mail,
        archive=archive,
        user_agent=top.string("user_agent", Settings.user_agent),
    )


def _part(top: _Checker, key: str, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> _Checker | None:
    """A checker for the mapping under top-level `key` with its keys checked, or None when it is missing or null."""
    if top.node.get(key) is None:
        return None
    part = _Checker(top.path, top.node[key], key, line_of(top.node, key))
    part.keys(required, allowed)
    return part


def _relevance(top: _Checker) -> RelevanceSettings:
    """`relevance:` the keyword score an item needs to be listed (`threshold`) or to be clearly relevant."""
    defaults = RelevanceSettings()
    rel = _part(top, "relevance", RELEVANCE_KEYS)
    if rel is None:
        return defaults
    return RelevanceSettings(
        threshold=rel.number("threshold", defaults.threshold),
        clear=rel.number("clear", defaults.clear),
        article_limit=int(rel.number("article_limit", defaults.article_limit)),
    )


def _limits(top: _Checker) -> Limits:
    """`fetch:` limits of the HTTP session (seconds, megabytes, counts); `timeout` also caps the connect timeout."""
    defaults = Limits()
    fetch = _part(top, "fetch", FETCH_KEYS)
    if fetch is None:
        return defaults
    timeout = fetch.number("timeout", defaults.read_timeout, minimum=0.01)
    return Limits(
        connect_timeout=min(timeout, defaults.connect_timeout),
        read_timeout=timeout,
        total_timeout=fetch.number("total_timeout", max(defaults.total_timeout, timeout), minimum=0.01),
        max_bytes=int(fetch.number("max_mb", defaults.max_bytes / 1024 / 1024, minimum=0.001) * 1024 * 1024),
        max_redirects=int(fetch.number("max_redirects", defaults.max_redirects)),
        retries=int(fetch.number("retries", defaults.retries)),
        backoff=fetch.number("backoff", defaults.backoff),
        per_host=max(1, int(fetch.number("per_host", defaults.per_host, minimum=1))),
        host_interval=fetch.number("host_interval", defaults.host_interval),
        host_failures=max(1, int(fetch.number("host_failures", defaults.host_failures, minimum=1))),
        workers=max(1, int(fetch.number("workers", defaults.workers, minimum=1))),
    )


def _sections(top: _Checker) -> tuple[SectionConfig, ...]:
    """`sections:` the newsletter's sections in order, each a unique `key`, a `title` and preferred `headings`."""
    raw = top.node.get("sections")
    if raw is None:
        return Settings().section_configs
    if not isinstance(raw, list) or not raw:
        raise top.error("sections", "expected a list of sections with 'key' and 'title'")
    configs: list[SectionConfig] = []
    for index, node in enumerate(raw):
        sec = _Checker(top.path, node, f"sections[{index}]", line_of(raw, index))
        sec.keys(("key", "title"), ("headings",))
        key = sec.required("key")
        if not KEY_PATTERN.match(key):
            raise sec.error("key", f"'{key}' must be lower-case letters, digits, '-' or '_'")
        if any(c.key == key for c in configs):
            raise sec.error("key", f"duplicate section key '{key}'")
        headings = node.get("headings") or []
        if not isinstance(headings, list) or not all(isinstance(h, str) and h.strip() for h in headings):
            raise sec.error("headings", "expected a list of headings in their preferred order")
        configs.append(SectionConfig(key, sec.required("title"), tuple(h.strip() for h in headings)))
    return tuple(configs)


def _footer(top: _Checker) -> tuple[str, str]:
    """`footer:` the Markdown texts `about` and `subscription` ("" when missing)."""
    foot = _part(top, "footer", FOOTER_KEYS)
    if foot is None:
        return "", ""
    return foot.string("about") or "", foot.string("subscription") or ""


def _colors(top: _Checker) -> tuple[tuple[str, str], ...]:
    """`colors:` the defaults of Settings, each overridable by a "#rrggbb" value."""
    colors = dict(Settings().colors)
    col = _part(top, "colors", tuple(colors))
    if col is not None:
        for key in col.node:
            value = col.string(key) or ""
            if not COLOR_PATTERN.match(value):
                raise col.error(key, f"expected a colour like #1f3864, got {value!r}")
            colors[key] = value
    return tuple(colors.items())


def _site_url(top: _Checker) -> str:
    """`site_url:` the archive's public address (http or https), or "" when not set."""
    site_url = top.text("site_url")
    if site_url and not re.match(r"^https?://[^\s/]+", site_url):
        raise top.error("site_url", f"expected an http(s) URL, got {site_url!r}")
    return site_url


def _texts(checker: _Checker, key: str, what: str) -> tuple[str, ...]:
    """The list of non-empty texts at `key`, stripped (() when missing or null); raises ConfigError otherwise."""
    value = checker.node.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise checker.error(key, f"expected a list of {what}")
    return tuple(v.strip() for v in value)


def _archive(top: _Checker, sections: tuple[SectionConfig, ...]) -> ArchiveSettings:
    """`organisations:` the archive's organisation pages, and `archive:` the headings that are none.

    Each organisation has a unique `name`, and may have `aliases`, `headings` and a `url` (http or https).
    `archive.own_sections` must name configured sections.
    """
    organisations: list[Organisation] = []
    raw = top.node.get("organisations")
    if raw is not None and not isinstance(raw, list):
        raise top.error("organisations", "expected a list of organisations, each with a 'name'")
    names: dict[str, int] = {}
    for index, node in enumerate(raw or []):
        org = _Checker(top.path, node, f"organisations[{index}]", line_of(raw, index))
        org.keys(("name",), ORGANISATION_KEYS)
        name = org.required("name")
        if name.casefold() in names:
            raise org.error("name", f"'{name}' is already organisations[{names[name.casefold()]}]")
        names[name.casefold()] = index
        url = _check_url(org, "url") if "url" in node and node["url"] is not None else ""
        organisations.append(
            Organisation(name, _texts(org, "aliases", "other names"), _texts(org, "headings", "headings"), url)
        )
    part = _part(top, "archive", ARCHIVE_KEYS)
    if part is None:
        return ArchiveSettings(tuple(organisations))
    own_sections = _texts(part, "own_sections", "section keys")
    known = [s.key for s in sections]
    for key in own_sections:
        if key not in known:
            raise part.error("own_sections", f"'{key}' is not a section (sections: {', '.join(known)})")
    return ArchiveSettings(
        tuple(organisations), own_sections, _texts(part, "own_headings", "headings"), _texts(part, "themes", "headings")
    )


def _timezone(top: _Checker) -> str:
    """`timezone:` an IANA time zone name (default Europe/Oslo)."""
    from zoneinfo import ZoneInfo

    timezone = top.string("timezone", Settings.timezone)
    try:
        ZoneInfo(timezone)
    except Exception:
        raise top.error("timezone", f"unknown time zone '{timezone}' (e.g. Europe/Oslo)") from None
    return timezone


def _mail_settings(top: _Checker) -> MailSettings:
    """The mailing parts of newsletter.yaml: sender, reply-to, list id, unsubscribe, then `smtp:` and `mail:`."""
    unsubscribe_url = _unsubscribe_url(top)
    list_id = _list_id(top)
    mail = MailSettings(
        sender=_address(top, "sender"),
        reply_to=_address(top, "reply_to"),
        sender_name=top.text("sender_name"),
        list_id=list_id,
        unsubscribe_url=unsubscribe_url,
    )
    return _sending(top, _smtp(top, mail))


def _address(top: _Checker, key: str) -> str:
    """An e-mail address at top-level `key`, or "" when not set."""
    value = top.text(key)
    if value and not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+", value):
        raise top.error(key, f"expected an e-mail address, got {value!r}")
    return value


def _unsubscribe_url(top: _Checker) -> str:
    """`unsubscribe_url:` the one-click unsubscribe endpoint (RFC 8058): https, ASCII, no spaces; or ""."""
    url = top.text("unsubscribe_url")
    if url and (not url.startswith("https://") or not url.isascii() or re.search(r"\s", url)):
        raise top.error("unsubscribe_url", "the one-click unsubscribe address must be an https:// URL in ASCII")
    return url


def _list_id(top: _Checker) -> str:
    """`list_id:` the List-Id (RFC 2919), a domain-like name; or ""."""
    list_id = top.text("list_id")
    if list_id and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.-]*\.[A-Za-z]{2,}", list_id):
        raise top.error(
            "list_id", f"expected a domain-like id such as nyhetsbrev.example.no (RFC 2919), got {list_id!r}"
        )
    return list_id


def _smtp(top: _Checker, mail: MailSettings) -> MailSettings:
    """`smtp:` the server (`host` required); a `password` key is refused: secrets come from the environment."""
    smtp = _part(top, "smtp", SMTP_KEYS, required=("host",))
    if smtp is None:
        return mail
    mail = replace(
        mail,
        smtp_port=int(smtp.number("port", 587, minimum=1, maximum=65535)),  # a TCP port (RFC 793)
        smtp_host=smtp.required("host"),
        security=smtp.string("security", "starttls", ("starttls", "ssl", "none")),
        username=smtp.text("username"),
        timeout=smtp.number("timeout", 30.0, minimum=0.1),
        data_timeout=smtp.number("data_timeout", 600.0, minimum=0.1),
    )
    if "password" in smtp.node:
        raise smtp.error("password", "no secrets in newsletter.yaml: set NEWSLETTER_SMTP_PASSWORD instead")
    ca_file = smtp.text("ca_file")
    if ca_file:
        # A private CA (an in-house relay): its PEM file, relative to the workspace like every path.
        resolved = (top.path.parent / ca_file).resolve()
        if mail.security == "none":
            raise smtp.error("ca_file", "a CA file means nothing with security: none; use starttls or ssl")
        if not resolved.is_file():
            raise smtp.error(
                "ca_file", f"no such file: {resolved} (a PEM file of the CA that signed the server's certificate)"
            )
        mail = replace(mail, ca_file=str(resolved))
    if mail.username and mail.security == "none" and not _is_local_host(mail.smtp_host):
        # RFC 4954 4: a password over an unencrypted connection can be read by anyone on the way.
        raise smtp.error(
            "username",
            f"a login to {mail.smtp_host} with security: none sends the password in clear text; "
            "use security: starttls or ssl (none only for a server on this machine)",
        )
    return mail


def _is_local_host(host: str) -> bool:
    """True for this machine: localhost, or a loopback address (127.0.0.0/8, ::1)."""
    import ipaddress

    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _sending(top: _Checker, mail: MailSettings) -> MailSettings:
    """`mail:` the pace of a send (messages per second and per hour, connections) and its retries."""
    part = _part(top, "mail", MAIL_KEYS)
    if part is None:
        return mail
    mail = replace(
        mail,
        rate_per_second=part.number("rate_per_second", 0.0),
        rate_per_hour=part.number("rate_per_hour", 0.0),
        connections=max(1, int(part.number("connections", 1, minimum=1))),
        max_attempts=max(1, int(part.number("max_attempts", 5, minimum=1))),
        retry_base=part.number("retry_base", 30.0),
        max_outage=part.number("max_outage", 300.0),
    )
    if part.node.get("unsubscribe_mailto"):
        mail = replace(mail, unsubscribe_mailto=part.required("unsubscribe_mailto"))
    return mail


@dataclass(frozen=True)
class Workspace:
    """Paths inside one workspace directory (the repository root by default)."""

    root: Path
    searched: bool = field(default=False, compare=False)  # found by `locate` looking upwards, not named

    # The files that make a folder a workspace: a missing newsletter.yaml means its defaults, so either
    # one will do.
    MARKERS = ("newsletter.yaml", "feeds.yaml")

    @classmethod
    def locate(cls, path: str | os.PathLike | None = None) -> Workspace:
        """The workspace named by `path` or `NEWSLETTER_WORKSPACE`, else the current directory's.

        Named, it is taken as given (`require` says when it is none). Otherwise the current directory or
        the nearest folder above it that holds `newsletter.yaml` or `feeds.yaml`, as git finds its
        repository: a command run in `issues/` or `build/` works on the workspace around it. None
        found, the current directory.
        """
        chosen = path or os.environ.get("NEWSLETTER_WORKSPACE")
        if chosen:
            return cls(Path(chosen).expanduser().resolve())
        here = Path.cwd().resolve()
        for folder in (here, *here.parents):
            if any((folder / marker).is_file() for marker in cls.MARKERS):
                return cls(folder, searched=True)
        return cls(here, searched=True)

    def require(self) -> None:
        """Raise ConfigError unless the root is a workspace: it holds `newsletter.yaml` or `feeds.yaml`, or
        an item store already. Called before anything is read or written, so a command run in the wrong
        folder leaves nothing there (a new `var/newsletter.db` would otherwise be made wherever it ran)."""
        if any((self.root / marker).is_file() for marker in self.MARKERS) or self.db_path.is_file():
            return
        if not self.root.is_dir():
            raise ConfigError(self.root, "no such folder: give the workspace's folder (--workspace DIR)")
        raise ConfigError(
            self.root,
            "not a newsletter workspace (no newsletter.yaml or feeds.yaml "
            + ("here, nor in a folder above); " if self.searched else "in it); ")
            + "run the command in the workspace folder, or pass --workspace DIR",
        )

    @property
    def feeds_path(self) -> Path:
        """The sources: feeds.yaml."""
        return self.root / "feeds.yaml"

    @property
    def settings_path(self) -> Path:
        """The publisher profile: newsletter.yaml."""
        return self.root / "newsletter.yaml"

    @property
    def var(self) -> Path:
        """Generated, personal data: never in git."""
        return self.root / "var"

    @property
    def db_path(self) -> Path:
        """The SQLite store."""
        return self.var / "newsletter.db"

    @property
    def outbox(self) -> Path:
        """Messages written instead of sent (dry runs, test copies): var/outbox/<id>/<address>.eml."""
        return self.var / "outbox"

    def outbox_dir(self, issue_id: str) -> Path:
        """Where a dry run or a test copy of an issue writes its messages: var/outbox/<id>/."""
        return self.outbox / issue_id

    @property
    def issues_dir(self) -> Path:
        """The editor's issue files."""
        return self.root / "issues"

    def build_dir(self, issue_id: str) -> Path:
        """Where `newsletter build` writes an issue's outputs, and `send` and the archive read them: build/<id>/."""
        return self.root / "build" / issue_id

    @property
    def site_dir(self) -> Path:
        """The published archive `site build` writes: site/."""
        return self.root / "site"

    @property
    def site_preview_dir(self) -> Path:
        """Where `site serve` builds its preview (without PDFs), so serving never changes site/."""
        return self.var / "site-preview"

    def settings(self) -> Settings:
        """Load and validate `newsletter.yaml`."""
        return load_settings(self.settings_path)

    def feeds(self, settings: Settings | None = None, check_selectors: bool = True) -> FeedsConfig:
        """Load and validate `feeds.yaml`, checking sections against the settings (see `load_feeds`)."""
        settings = settings or self.settings()
        return load_feeds(self.feeds_path, settings.sections, check_selectors)
