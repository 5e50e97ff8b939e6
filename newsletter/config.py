"""Load and validate `newsletter.yaml` and `feeds.yaml` into typed models; `Workspace` owns every path.

Every problem is a `ConfigError` naming the file, the line and the key, raised
before anything is fetched: an unknown key or a wrong type is never silently
ignored, because a typo would otherwise quietly disable a source.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from newsletter.errors import ConfigError
from newsletter.models import (
    ITEM_KINDS,
    RELEVANCE_MODES,
    SOURCE_KINDS,
    FeedsConfig,
    Limits,
    MailSettings,
    RelevanceSettings,
    SectionConfig,
    Selectors,
    Settings,
    Source,
)

KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
LANGUAGES = ("nb", "nn", "no", "en", "sv", "da", "fi", "de", "fr")

SOURCE_REQUIRED = ("key", "name", "kind", "url", "section", "heading")
SOURCE_OPTIONAL = (
    "enabled",
    "language",
    "relevance",
    "item_kind",
    "keywords",
    "selectors",
    "date_format",
    "max_pages",
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
)
SMTP_KEYS = ("host", "port", "security", "username", "timeout", "password")
MAIL_KEYS = ("rate_per_second", "rate_per_hour", "connections", "max_attempts", "retry_base", "unsubscribe_mailto")
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
FOOTER_KEYS = ("about", "subscription")
COLOR_PATTERN = re.compile(r"^#[0-9a-fA-F]{6}$")


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    return yaml


def read_yaml(path: Path) -> Any:
    """Parse a YAML file keeping line numbers; syntax errors name file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, "file not found; create it or pass --workspace") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        return _yaml().load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(path, f"invalid YAML: {problem}", line=line) from None
    except Exception as exc:  # ruamel raises a few non-marked errors (duplicate keys)
        raise ConfigError(path, f"invalid YAML: {exc}") from None


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
        line = line_of(self.node, key) if key is not None and key in self.node else self.line
        name = ".".join(p for p in (self.where, key) if p)
        return ConfigError(self.path, message, line, name or None)

    def keys(self, required: tuple[str, ...], optional: tuple[str, ...]) -> None:
        for key in self.node:
            if key not in required and key not in optional:
                hint = _close_match(str(key), required + optional)
                raise self.error(str(key), "unknown key" + (f" (did you mean '{hint}'?)" if hint else ""))
        for key in required:
            if key not in self.node or self.node[key] is None:
                raise self.error(None, f"missing required key '{key}'")

    def string(self, key: str, default: str | None = None, choices: tuple[str, ...] | None = None) -> str | None:
        value = self.node.get(key, default)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.error(key, f"expected a non-empty text, got {value!r}")
        value = value.strip()
        if choices and value not in choices:
            raise self.error(key, f"'{value}' is not one of: {', '.join(choices)}")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self.node.get(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {value!r}")
        return value

    def number(self, key: str, default: float, minimum: float = 0) -> float:
        value = self.node.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
            raise self.error(key, f"expected a number ≥ {minimum}, got {value!r}")
        return float(value)

    def weights(self, key: str) -> dict[str, float]:
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
    url = checker.string(key)
    if not re.match(r"^https?://[^\s/]+", url or ""):
        raise checker.error(key, f"expected an http(s) URL, got {url!r}")
    return url


def load_feeds(path: Path, sections: tuple[str, ...] | None = None) -> FeedsConfig:
    """Read `feeds.yaml`; raise ConfigError naming file, line and key on any problem."""
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
        key = check.string("key") if isinstance(node, dict) and node.get("key") else None
        if key:
            check.where = f"sources[{key}]"
        check.keys(SOURCE_REQUIRED, SOURCE_OPTIONAL)
        if not KEY_PATTERN.match(key or ""):
            raise check.error("key", f"'{key}' must be lower-case letters, digits, '-' or '_'")
        if key in seen:
            raise check.error("key", f"duplicate source key '{key}' (first on line {seen[key]})")
        seen[key] = line_of(node, "key")
        kind = check.string("kind", choices=SOURCE_KINDS)
        section = check.string("section")
        if sections and section not in sections:
            raise check.error("section", f"'{section}' is not a section of newsletter.yaml ({', '.join(sections)})")
        selectors = None
        if kind == "html":
            if "selectors" not in node:
                raise check.error(None, "an html source needs 'selectors' (item, title, link, ...)")
            sel = _Checker(path, node["selectors"], check.where + ".selectors", line_of(node, "selectors"))
            sel.keys(SELECTOR_REQUIRED, SELECTOR_OPTIONAL)
            selectors = Selectors(**{k: sel.string(k) for k in SELECTOR_REQUIRED + SELECTOR_OPTIONAL})
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
        sources.append(
            Source(
                key=key,
                name=check.string("name"),
                kind=kind,
                url=_check_url(check, "url"),
                section=section,
                heading=check.string("heading"),
                language=language,
                relevance=check.string("relevance", "filter", RELEVANCE_MODES),
                item_kind=check.string("item_kind", "news", ITEM_KINDS),
                enabled=check.boolean("enabled", True),
                keywords=check.weights("keywords"),
                selectors=selectors,
                date_format=date_format,
                max_pages=max_pages,
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
    """Read `newsletter.yaml` (the parts collection needs); a missing file means defaults."""
    path = Path(path)
    if not path.exists():
        return Settings()
    data = read_yaml(path)
    if data is None:
        return Settings()
    top = _Checker(path, data, "")
    top.keys((), SETTINGS_KEYS)
    relevance = RelevanceSettings()
    if data.get("relevance") is not None:
        rel = _Checker(path, data["relevance"], "relevance", line_of(data, "relevance"))
        rel.keys((), RELEVANCE_KEYS)
        relevance = RelevanceSettings(
            threshold=rel.number("threshold", relevance.threshold),
            clear=rel.number("clear", relevance.clear),
            article_limit=int(rel.number("article_limit", relevance.article_limit)),
        )
    limits = Limits()
    if data.get("fetch") is not None:
        fetch = _Checker(path, data["fetch"], "fetch", line_of(data, "fetch"))
        fetch.keys((), FETCH_KEYS)
        timeout = fetch.number("timeout", limits.read_timeout, minimum=0.01)
        limits = Limits(
            connect_timeout=min(timeout, limits.connect_timeout),
            read_timeout=timeout,
            total_timeout=fetch.number("total_timeout", max(limits.total_timeout, timeout), minimum=0.01),
            max_bytes=int(fetch.number("max_mb", limits.max_bytes / 1024 / 1024, minimum=0.001) * 1024 * 1024),
            max_redirects=int(fetch.number("max_redirects", limits.max_redirects)),
            retries=int(fetch.number("retries", limits.retries)),
            backoff=fetch.number("backoff", limits.backoff),
            per_host=max(1, int(fetch.number("per_host", limits.per_host, minimum=1))),
            host_interval=fetch.number("host_interval", limits.host_interval),
            host_failures=max(1, int(fetch.number("host_failures", limits.host_failures, minimum=1))),
            workers=max(1, int(fetch.number("workers", limits.workers, minimum=1))),
        )
    sections = Settings().section_configs
    if data.get("sections") is not None:
        raw = data["sections"]
        if not isinstance(raw, list) or not raw:
            raise top.error("sections", "expected a list of sections with 'key' and 'title'")
        configs = []
        for index, node in enumerate(raw):
            sec = _Checker(path, node, f"sections[{index}]", line_of(raw, index))
            sec.keys(("key", "title"), ("headings",))
            key = sec.string("key")
            if not KEY_PATTERN.match(key):
                raise sec.error("key", f"'{key}' must be lower-case letters, digits, '-' or '_'")
            if any(c.key == key for c in configs):
                raise sec.error("key", f"duplicate section key '{key}'")
            headings = node.get("headings") or []
            if not isinstance(headings, list) or not all(isinstance(h, str) and h.strip() for h in headings):
                raise sec.error("headings", "expected a list of headings in their preferred order")
            configs.append(SectionConfig(key, sec.string("title"), tuple(h.strip() for h in headings)))
        sections = tuple(configs)
    footer = {}
    if data.get("footer") is not None:
        foot = _Checker(path, data["footer"], "footer", line_of(data, "footer"))
        foot.keys((), FOOTER_KEYS)
        footer = {key: foot.string(key) or "" for key in FOOTER_KEYS}
    colors = dict(Settings().colors)
    if data.get("colors") is not None:
        col = _Checker(path, data["colors"], "colors", line_of(data, "colors"))
        col.keys((), tuple(colors))
        for key in col.node:
            value = col.string(key)
            if not COLOR_PATTERN.match(value):
                raise col.error(key, f"expected a colour like #1f3864, got {value!r}")
            colors[key] = value
    site_url = top.string("site_url", "") if data.get("site_url") else ""
    if site_url and not re.match(r"^https?://[^\s/]+", site_url):
        raise top.error("site_url", f"expected an http(s) URL, got {site_url!r}")
    mail = _mail_settings(path, data, top)
    name = top.string("name") or top.string("publisher") or Settings.name
    timezone = top.string("timezone", Settings.timezone)
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(timezone)
    except Exception:
        raise top.error("timezone", f"unknown time zone '{timezone}' (e.g. Europe/Oslo)") from None
    return Settings(
        name=name,
        language=top.string("language", "nb"),
        timezone=timezone,
        relevance=relevance,
        limits=limits,
        section_configs=sections,
        publisher=top.string("publisher", "") if data.get("publisher") else "",
        audience=top.string("audience", "") if data.get("audience") else "",
        contact=top.string("contact", "") if data.get("contact") else "",
        site_url=site_url.rstrip("/"),
        footer_about=footer.get("about", ""),
        footer_subscription=footer.get("subscription", ""),
        colors=tuple(colors.items()),
        mail=mail,
        user_agent=top.string("user_agent", Settings.user_agent),
    )


def _mail_settings(path: Path, data, top: _Checker) -> MailSettings:
    """The mailing parts of newsletter.yaml: sender, reply-to, list id, unsubscribe, smtp, mail."""

    def address(key: str) -> str:
        value = top.string(key, "") if data.get(key) else ""
        if value and not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+", value):
            raise top.error(key, f"expected an e-mail address, got {value!r}")
        return value

    unsubscribe_url = top.string("unsubscribe_url", "") if data.get("unsubscribe_url") else ""
    if unsubscribe_url and (
        not unsubscribe_url.startswith("https://") or not unsubscribe_url.isascii() or re.search(r"\s", unsubscribe_url)
    ):
        raise top.error("unsubscribe_url", "the one-click unsubscribe address must be an https:// URL in ASCII")
    list_id = top.string("list_id", "") if data.get("list_id") else ""
    if list_id and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.-]*\.[A-Za-z]{2,}", list_id):
        raise top.error(
            "list_id", f"expected a domain-like id such as nyhetsbrev.example.no (RFC 2919), got {list_id!r}"
        )
    values = {
        "sender": address("sender"),
        "reply_to": address("reply_to"),
        "sender_name": top.string("sender_name", "") if data.get("sender_name") else "",
        "list_id": list_id,
        "unsubscribe_url": unsubscribe_url,
    }
    if data.get("smtp") is not None:
        smtp = _Checker(path, data["smtp"], "smtp", line_of(data, "smtp"))
        smtp.keys(("host",), SMTP_KEYS)
        port = smtp.number("port", 587, minimum=1)
        values.update(
            smtp_host=smtp.string("host"),
            smtp_port=int(port),
            security=smtp.string("security", "starttls", ("starttls", "ssl", "none")),
            username=smtp.string("username", "") if smtp.node.get("username") else "",
            timeout=smtp.number("timeout", 30.0, minimum=0.1),
        )
        if "password" in smtp.node:
            raise smtp.error("password", "no secrets in newsletter.yaml: set NEWSLETTER_SMTP_PASSWORD instead")
    if data.get("mail") is not None:
        mail = _Checker(path, data["mail"], "mail", line_of(data, "mail"))
        mail.keys((), MAIL_KEYS)
        values.update(
            rate_per_second=mail.number("rate_per_second", 0.0),
            rate_per_hour=mail.number("rate_per_hour", 0.0),
            connections=max(1, int(mail.number("connections", 1, minimum=1))),
            max_attempts=max(1, int(mail.number("max_attempts", 5, minimum=1))),
            retry_base=mail.number("retry_base", 30.0),
        )
        if mail.node.get("unsubscribe_mailto"):
            values["unsubscribe_mailto"] = mail.string("unsubscribe_mailto")
    return MailSettings(**values)


@dataclass(frozen=True)
class Workspace:
    """Paths inside one workspace directory (the repository root by default)."""

    root: Path

    @classmethod
    def locate(cls, path: str | os.PathLike | None = None) -> Workspace:
        """The workspace named by `path`, `NEWSLETTER_WORKSPACE`, or the current directory."""
        chosen = path or os.environ.get("NEWSLETTER_WORKSPACE") or "."
        return cls(Path(chosen).expanduser().resolve())

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
    def issues_dir(self) -> Path:
        """The editor's issue files."""
        return self.root / "issues"

    def settings(self) -> Settings:
        """Load and validate `newsletter.yaml`."""
        return load_settings(self.settings_path)

    def feeds(self, settings: Settings | None = None) -> FeedsConfig:
        """Load and validate `feeds.yaml`, checking sections against the settings."""
        settings = settings or self.settings()
        return load_feeds(self.feeds_path, settings.sections)
