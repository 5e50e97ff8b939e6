"""A workspace's own templates: copy the built-in ones to start from, and notice when they fall behind.

`newsletter templates init` copies every built-in template into the
workspace's `templates/` (never over a file already there) and records, in
`templates/.built-in.json`, the package version and a SHA-256 of each built-in
file as it was copied. `build` then warns about each overridden template whose
built-in has changed since (a new version of the package fixed or added
something the copy lacks); an override without a record is taken as the
publisher's own and not judged. Once the editor has brought a copy up to date,
`newsletter templates mark-current NAME` records the built-in's present hash, and
the warning stops until the built-in changes again.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from newsletter.errors import NewsletterError
from newsletter.fsutil import atomic_write

log = logging.getLogger(__name__)

BUILT_IN = Path(__file__).resolve().parent.parent / "templates"
RECORD = ".built-in.json"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _package_version() -> str:
    try:
        return version("newsletter")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


@dataclass
class InitResult:
    """What `init` did: files copied, files left as they were (already there), the record written."""

    copied: list[Path]
    kept: list[Path]
    record: Path


def init(templates: Path, built_in: Path = BUILT_IN) -> InitResult:
    """Copy each built-in template into `templates/` unless a file of that name is there; record their versions."""
    templates.mkdir(parents=True, exist_ok=True)
    record_path = templates / RECORD
    record = _read_record(record_path)
    copied, kept = [], []
    for source in sorted(p for p in built_in.iterdir() if p.is_file() and not p.name.startswith(".")):
        target = templates / source.name
        if target.exists():
            kept.append(target)
            continue
        atomic_write(target, source.read_bytes())
        record["files"][source.name] = _digest(source)
        copied.append(target)
    record["version"] = _package_version()
    atomic_write(record_path, (json.dumps(record, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    return InitResult(copied, kept, record_path)


def mark_current(templates: Path, names: list[str], built_in: Path | None = None) -> list[Path]:
    """Record the workspace's copies of `names` as brought up to date with today's built-in templates.

    After an editor has compared an override with the built-in it replaces and merged what changed, this
    stores the built-in's present SHA-256 in `templates/.built-in.json`, so `build` stops warning about it
    until the built-in changes again. A template the publisher wrote without `init` becomes judged from
    then on. Returns the overrides marked, in the order given.

    Raises NewsletterError, before anything is written, for a name that is not a built-in template or has
    no copy in `templates/`.
    """
    built_in = built_in or BUILT_IN  # read at call time, not bound at import
    available = sorted(p.name for p in built_in.iterdir() if p.is_file() and not p.name.startswith("."))
    marked: list[Path] = []
    for name in names:
        if name not in available:
            raise NewsletterError(f"{name} is not a built-in template (they are: {', '.join(available)})")
        if not (templates / name).is_file():
            raise NewsletterError(
                f"{templates / name} does not exist: there is no copy of {name} to mark; "
                "`newsletter templates init` copies the built-in templates"
            )
        marked.append(templates / name)
    record_path = templates / RECORD
    record = _read_record(record_path)
    for name in names:
        record["files"][name] = _digest(built_in / name)
    record["version"] = _package_version()
    atomic_write(record_path, (json.dumps(record, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    return marked


def _read_record(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"version": "", "files": {}}
    except (OSError, ValueError) as exc:
        log.warning("%s is unreadable (%s); starting a new record", path, exc)
        return {"version": "", "files": {}}
    if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
        return {"version": "", "files": {}}
    return data


def stale(templates: Path | None, built_in: Path = BUILT_IN) -> list[str]:
    """A warning for each overridden template whose built-in changed since `init` copied it."""
    if not templates or not (templates / RECORD).is_file():
        return []
    record = _read_record(templates / RECORD)
    warnings = []
    for name, copied_digest in sorted(record["files"].items()):
        override, original = templates / name, built_in / name
        if override.is_file() and original.is_file() and _digest(original) != copied_digest:
            warnings.append(
                f"{override} overrides the built-in {name}, which has changed since it was copied "
                f"(newsletter {record.get('version') or 'unknown'}); compare it with {original}, bring your copy "
                f"up to date, then run `newsletter templates mark-current {name}`"
            )
    return warnings
