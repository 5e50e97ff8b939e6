"""The archive's dead links: every link of every published issue checked, the dead ones listed per issue.

Government sites reorganise, and an archive of years of issues collects links
that no longer answer. `check_archive` checks each distinct URL once with the
issue link checker (`newsletter.curate.links.check_links`: HEAD, falling back to
GET; politely per host) and reports, per published issue, the links that are
broken. An entry may carry `archived_url`, the address of a stored copy of its
page, which the archive shows beside it: its dead links are then seen to.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from newsletter.curate.issuefile import IssueDocument, IssueFileError, list_issue_ids
from newsletter.curate.links import LinkUse, check_links, issue_links
from newsletter.models import Issue, Settings


@dataclass
class DeadLink:
    """A link of an issue that is broken, where the issue uses it, and the stored copy noted for it."""

    url: str
    uses: list[LinkUse]  # in this issue
    status: int | None  # the final HTTP status, None when there was no answer
    error: str  # what went wrong, as the link checker words it
    archived_url: str = ""  # an archived copy an entry using the link carries ("" when none)

    def to_json(self) -> dict:
        """A JSON-ready mapping."""
        return {
            "url": self.url,
            "status": self.status,
            "error": self.error,
            "archived_url": self.archived_url or None,
            "uses": [{"ref": use.ref, "title": use.title} for use in self.uses],
        }


@dataclass
class IssueLinks:
    """One published issue's links: how many distinct ones were checked, and the dead ones in issue order."""

    issue: str
    path: Path
    checked: int
    dead: list[DeadLink] = field(default_factory=list)

    def to_json(self) -> dict:
        """A JSON-ready mapping."""
        return {
            "issue": self.issue,
            "file": str(self.path),
            "links": self.checked,
            "dead": [d.to_json() for d in self.dead],
        }


def published_issues(issues_dir: Path, settings: Settings, today: dt.date) -> tuple[list[Issue], list[str]]:
    """The issues published by `today` (a `published` date not after it), oldest first, and the issue files
    that do not load, each as a warning naming the file, line and field."""
    issues, warnings = [], []
    for issue_id in list_issue_ids(issues_dir):
        try:
            issue = IssueDocument.load(issues_dir / f"{issue_id}.yaml").issue(settings)
        except IssueFileError as exc:
            warnings.append(f"{exc} (its links are not checked)")
            continue
        if issue.published is not None and issue.published <= today:
            issues.append(issue)
    return issues, warnings


def check_archive(
    issues: list[Issue], settings: Settings, issues_dir: Path, private_hosts: frozenset[str] = frozenset()
) -> list[IssueLinks]:
    """Check every link of `issues` (each distinct URL once, across issues); the dead ones per issue."""
    uses: list[LinkUse] = []
    issue_of: dict[int, str] = {}  # id() of a use → its issue: a use is found again by identity
    archived: dict[tuple[str, str], str] = {}  # (issue, ref) → the entry's archived_url
    for issue in issues:
        for key, position, entry in issue.entries():
            if entry.archived_url:
                archived[issue.id, f"{key}:{position}"] = entry.archived_url
        for use in issue_links(issue):
            uses.append(use)
            issue_of[id(use)] = issue.id
    results = check_links(uses, settings.limits, settings.user_agent, private_hosts)
    order = {issue.id: list(dict.fromkeys(u.url for u in issue_links(issue))) for issue in issues}
    report = {issue.id: IssueLinks(issue.id, issues_dir / f"{issue.id}.yaml", len(order[issue.id])) for issue in issues}
    for result in results:
        if result.state != "broken":
            continue
        by_issue: dict[str, list[LinkUse]] = {}
        for use in result.uses:
            by_issue.setdefault(issue_of[id(use)], []).append(use)
        for issue_id, issue_uses in by_issue.items():
            copy = next((archived[issue_id, u.ref] for u in issue_uses if (issue_id, u.ref) in archived), "")
            dead = DeadLink(result.url, issue_uses, result.status, result.error or "broken", copy)
            report[issue_id].dead.append(dead)
    for checked in report.values():  # in the order the issue first uses each link
        position = {url: n for n, url in enumerate(order[checked.issue])}
        checked.dead.sort(key=lambda dead: position[dead.url])
    return list(report.values())
