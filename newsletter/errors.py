"""Errors the editor can act on. Each message names the thing at fault."""

import errno


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


# What to do about the commonest refusals of the system, by errno; None for any other.
_OS_ADVICE = {
    errno.ENOENT: "Check that the folder exists (create it, or give another), then run the command again.",
    errno.ENOTDIR: "A file stands where a folder should be: move it away, then run the command again.",
    errno.EEXIST: "A file stands where a folder should be: move it away, then run the command again.",
    errno.ENOSPC: "The disk is full: free some space, then run the command again.",
    errno.EDQUOT: "The disk quota is used up: free some space, then run the command again.",
    None: "Check that the workspace's folders are writable and the disk has room, then run the command again.",
}


def os_error_advice(exc: OSError) -> str:
    """What the editor can do about an OSError (a sentence): by its errno (ENOENT, ENOTDIR, ENOSPC,
    …), else to check the folders' permissions and the free space."""
    return _OS_ADVICE.get(exc.errno, _OS_ADVICE[None])
