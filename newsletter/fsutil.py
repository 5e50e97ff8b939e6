"""Writing files: atomically (a crash leaves the old file or the new one), and only inside the folder meant."""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from newsletter.errors import NewsletterError


def atomic_write(path: Path, content: str | bytes, durable: bool = True) -> None:
    """Write `content` to `path` via a temporary file, fsync and rename (as rss2email saves its feeds).

    Not `durable`, the fsyncs are left out: a reader still sees the old file or the new one, never half
    of one, but after a power cut the new one may be lost; the caller flushes (`os.sync`) when it must
    know. The archive writes thousands of files at once this way, and syncs once.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        data = content.encode("utf-8") if isinstance(content, str) else content
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        # mkstemp makes the file private (0600); a new file gets the usual mode, an old one keeps its own.
        os.chmod(temp, path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~_umask())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    if not durable:
        return
    with contextlib.suppress(OSError):  # make the rename itself durable
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def safe_join(root: Path, relative: str) -> Path:
    """`root / relative`, resolved; refuses anything that would land outside `root` (as pelican's sanitised_join).

    `relative` comes from input (an issue id, a heading's slug), so `..` and absolute paths are caught here,
    after symlinks are resolved. Raises NewsletterError naming `root` and `relative`.
    """
    target = (root / relative).resolve()
    if root.resolve() not in (target, *target.parents):
        raise NewsletterError(f"refusing to write outside {root}: {relative}")
    return target


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on the folder itself (created if missing) while the block runs.

    flock(2) on the folder's own descriptor: nothing is left beside what the folder holds, so a
    lock never shows up as a file next to the builds it guards. Where a folder cannot be locked so
    (NFS, where Linux makes flock a byte-range lock that needs a descriptor open for writing, which
    a folder's never is), a hidden `.lock` file in it is locked instead (`exclusive_lock`).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
    except OSError:
        os.close(descriptor)
        with exclusive_lock(folder / ".lock"):
            yield
        return
    try:
        yield
    finally:
        os.close(descriptor)  # closing releases the lock


@contextlib.contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the file `path` (created if missing, with its folder) while the block runs.

    flock(2) on the file opened for appending, so it holds on NFS too (where Linux makes flock a
    byte-range lock that needs a writable descriptor); the file is left in place, empty.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
