"""The editor's workspace: where configuration, issues and generated files live."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from newsletter.config import load_feeds, load_settings
from newsletter.models import FeedsConfig, Settings


@dataclass(frozen=True)
class Workspace:
    """Paths inside one workspace directory (the repository root by default)."""

    root: Path

    @classmethod
    def locate(cls, path: str | os.PathLike | None = None) -> "Workspace":
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
