"""The build manifest: proof that a build's parts (e-mail HTML, text, PDF, …) come from one build of the
current sources.

`build` writes every output first, then `manifest.json` (atomically) with the
SHA-256 of each output and of what it was made from: the issue file, the
settings that shape the rendering, and every template (built-in and the
workspace's). `send` checks it: a part whose bytes differ from the manifest
(a build interrupted between two parts, or a part from another build) or a
source changed since (the issue edited after the build) is refused, so the
HTML part, the text part and the PDF of one message never come from different
versions of the issue.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from newsletter.errors import NewsletterError
from newsletter.fsutil import atomic_write
from newsletter.models import Settings

MANIFEST = "manifest.json"
VERSION = 1
BUILT_IN_TEMPLATES = Path(__file__).resolve().parent / "templates"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sources(issue_file: Path | None, settings: Settings, workspace_templates: Path | None) -> dict[str, str]:
    """SHA-256 (hex) of what a build is made from: "issue" (the file's bytes), "settings" (every setting but
    the SMTP connection and pace, which do not change a rendered byte) and "templates" (names and bytes of
    the built-in templates and the workspace's `templates/`)."""
    mail = dataclasses.replace(
        settings.mail,
        smtp_host="",
        smtp_port=0,
        security="",
        ca_file="",
        username="",
        timeout=0,
        rate_per_second=0,
        rate_per_hour=0,
        connections=1,
        max_attempts=1,
        retry_base=0,
        max_outage=0,
    )
    digest = hashlib.sha256()
    for name, path in sorted(_effective_templates(workspace_templates).items()):
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    issue = issue_file.read_bytes() if issue_file is not None and issue_file.exists() else b""
    return {
        "issue": _sha256(issue),
        "settings": _sha256(repr(dataclasses.replace(settings, mail=mail)).encode()),
        "templates": digest.hexdigest(),
    }


def _effective_templates(workspace_templates: Path | None) -> dict[str, Path]:
    """Each template's name → the file a build renders it from: the workspace's copy where there is one,
    the built-in otherwise, plus the workspace's own extra files (a logo, a partial).

    Hashing these, not the two folders, means `templates init` (identical copies) or a copy
    deleted again changes nothing a build depends on; only a changed byte does. Hidden files
    (`.built-in.json`, the record of what `init` copied) are bookkeeping, not templates.
    """
    found: dict[str, Path] = {}
    for folder in (BUILT_IN_TEMPLATES, workspace_templates):
        if folder is None or not folder.is_dir():
            continue
        for path in folder.rglob("*"):
            name = path.relative_to(folder).as_posix()
            if path.is_file() and not any(part.startswith(".") for part in name.split("/")):
                found[name] = path  # the workspace's, read second, overrides
    return found


def write_manifest(out_dir: Path, issue_id: str, made_from: Mapping[str, str], outputs: Mapping[str, bytes]) -> None:
    """Record the outputs just written to `out_dir` (file name → bytes) and their sources, atomically.

    Outputs of an earlier build of the same sources (other formats) stay listed;
    those of a build from other sources are dropped, so they no longer count as
    part of this build.
    """
    files = {name: _sha256(data) for name, data in outputs.items()}
    old = _read(out_dir)
    if old is not None and old.get("sources") == dict(made_from) and old.get("issue") == issue_id:
        kept = {name: h for name, h in old.get("files", {}).items() if (out_dir / name).exists()}
        files = {**kept, **files}
    record = {"version": VERSION, "issue": issue_id, "sources": dict(made_from), "files": files}
    atomic_write(out_dir / MANIFEST, json.dumps(record, indent=2, sort_keys=True) + "\n")


def _read(out_dir: Path) -> dict | None:
    try:
        record = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def check_build(out_dir: Path, issue_id: str, needed: Iterable[str], made_from: Mapping[str, str]) -> None:
    """Refuse a build whose `needed` parts are not all from one build of the current sources.

    NewsletterError naming the folder, the part or the source at fault, and the command that fixes it.
    """
    again = f"run `newsletter build {issue_id}` first"
    record = _read(out_dir)
    if record is None or record.get("issue") != issue_id:
        raise NewsletterError(f"{out_dir}: no build manifest ({MANIFEST}); {again}")
    changed = [name for name, value in made_from.items() if record.get("sources", {}).get(name) != value]
    if changed:
        what = {"issue": "the issue file", "settings": "newsletter.yaml", "templates": "the templates"}
        raise NewsletterError(
            f"{out_dir}: the build is older than {', '.join(what.get(n, n) for n in changed)} (changed since); {again}"
        )
    listed = record.get("files", {})
    for name in needed:
        path = out_dir / name
        if not path.exists():
            raise NewsletterError(f"{out_dir}: {name} missing; {again}")
        if listed.get(name) != _sha256(path.read_bytes()):
            raise NewsletterError(
                f"{out_dir}: {name} is not from the same build as the manifest (an interrupted build, or a "
                f"part from another one); {again}"
            )
