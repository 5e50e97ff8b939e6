"""Errors the editor can act on. Each message names the thing at fault."""


class NewsletterError(Exception):
    """Base for every error the command line reports as a one-line message."""

    # Lines the command line prints to stderr before the message (e.g. each error of an issue).
    details: tuple[str, ...] = ()


class ConfigError(NewsletterError):
    """`newsletter.yaml` or `feeds.yaml` is missing, malformed or invalid."""

    def __init__(self, path, message: str, line: int | None = None, key: str | None = None):
        self.path = str(path)
        self.line = line
        self.key = key
        self.detail = message
        where = self.path + (f", line {line}" if line else "")
        what = f"{key}: " if key else ""
        super().__init__(f"{where}: {what}{message}")


class FetchError(NewsletterError):
    """A source could not be fetched (network, HTTP status, limits)."""

    def __init__(self, url: str, message: str, retryable: bool = False, skipped: bool = False):
        self.url = url
        self.retryable = retryable
        self.skipped = skipped  # not tried: its host kept failing in this run
        super().__init__(f"{url}: {message}")


class ParseError(NewsletterError):
    """A fetched body is not what the source's kind promises, or is hostile."""


class StoreError(NewsletterError):
    """The item store cannot be opened or migrated."""


class NotFound(NewsletterError):
    """An item, source or issue the user named does not exist."""


class UsageError(NewsletterError):
    """Arguments that parse but do not make sense together (exit status 2)."""
