"""Triage: the quarter's candidates one at a time, best first, each decided on the spot.

The order is the editor's ranking, computed again after every decision: a
pick lifts the items like it, a skip lowers them, while the editor goes.

Every decision is written at once (an added item goes into the issue file, a
skipped one is marked in the store), so triage can be left at any point and
resumed later without losing one. Items left "for later" stay in the inbox and
come back next time. The terminal side (keys, prompts, a browser) is behind
`TriageUI`, so the command line and the tests drive the same loop.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Protocol

from newsletter.curate.edit import (
    Curation,
    add_items,
    configured_heading_notes,
    misspelt_notes,
    no_candidates,
    ranked_candidates,
    unplaced,
)
from newsletter.curate.inbox import InboxQuery
from newsletter.models import Item

KEYS = {
    "a": "add to the suggested section and heading",
    "c": "choose section and heading, then add",
    "s": "skip (stays out of the inbox, next quarter too)",
    "l": "leave for later",
    "o": "open the link in a browser",
    "q": "quit (every decision so far is saved)",
    "?": "help",
}


def key_help() -> str:
    """The keys and what each does, one per line (a line of them all ran past 200 characters)."""
    return "\n".join(f"  {key}  {meaning}" for key, meaning in KEYS.items())


class TriageUI(Protocol):
    """What triage needs from a terminal."""

    def show(self, item: Item, index: int, total: int) -> None:
        """Present one candidate (the `index`th of `total`)."""

    def key(self) -> str:
        """One key pressed by the editor ('' or 'q' to stop)."""

    def choose_section(self, sections: tuple[str, ...], default: str) -> str | None:
        """Ask which section the item goes into; None when the editor cancels (Ctrl-C, Ctrl-D)."""

    def choose_heading(self, default: str) -> str | None:
        """Ask which heading the item goes under; None when the editor cancels."""

    def open_link(self, url: str) -> None:
        """Open the item's page in a browser."""

    def say(self, text: str) -> None:
        """Tell the editor something (a confirmation, the keys)."""


@dataclass
class TriageResult:
    """What one triage session decided."""

    added: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    later: list[str] = field(default_factory=list)
    remaining: int = 0
    quit: bool = False
    shown: int = 0  # candidates shown; 0: there was nothing to triage
    none: str = ""  # with nothing to triage, why (`no_candidates`)


def open_in_browser(url: str) -> bool:
    """Open `url` in the system's browser, quietly; False when nothing here can (the caller shows the URL).

    Without a display (a server, an SSH session) there is no browser to open; xdg-open with no
    browser writes its errors over the terminal, so its output is discarded and its exit status
    decides. A browser that keeps xdg-open waiting counts as opened.
    """
    if sys.platform == "win32":
        try:
            os.startfile(url)  # type: ignore[attr-defined]
        except OSError:
            return False
        return True
    if sys.platform == "darwin":
        command = ["open", url]
    else:
        opener = shutil.which("xdg-open")
        if opener is None or not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            return False
        command = [opener, url]
    try:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
    except OSError:
        return False
    try:
        return process.wait(timeout=5) == 0
    except subprocess.TimeoutExpired:
        return True


def triage(curation: Curation, issue_id: str, ui: TriageUI) -> TriageResult:
    """Go through the quarter's undecided candidates with the editor; what was decided, and what was left.

    Raises IssueFileError when the issue file is missing or invalid, before any card is shown.
    """
    curation.load(issue_id)  # the issue must exist and be valid before any decision is taken
    result = TriageResult()
    shown: set[str] = set()
    learned: bool | None = None  # whether the last ranking was learned (None: none yet)
    while True:
        # Ranked afresh after each decision; items left for later are not offered again this session.
        ranked, ranking = ranked_candidates(curation, issue_id, InboxQuery(statuses=("new",)))
        candidates = [i for i in ranked if i.id not in shown]
        if learned is False and ranking.learned:
            # Before anything is learned the keyword score picks the candidates; once the first decisions
            # can be learned from, every undecided item of the quarter is ranked, and the count grows.
            ui.say(
                f"learning from your decisions now: every undecided item of the quarter is ranked "
                f"({len(candidates)} to go), not only those the keyword score lets in"
            )
        learned = ranking.learned
        if not candidates:
            if not shown:  # nothing at all: say whether the editor has been through it, or why not
                result.none = no_candidates(curation, issue_id)
            break
        item = candidates[0]
        shown.add(item.id)
        result.shown = len(shown)
        index, total = len(shown), len(shown) - 1 + len(candidates)
        ui.show(item, index, total)
        while True:
            raw = ui.key() or ""
            # Nothing at all is the end of input (a script's keys ran out): quit. Enter or a space is a
            # key pressed by mistake, typed ahead as often as not: it shows the keys, and quits nothing.
            key = raw.strip().lower()[:1] if raw else "q"
            if key == "a" and not item.section:
                # Its source is out of feeds.yaml and no past pick is like it: the editor names the place.
                ui.say(f"{unplaced(curation, item).split(';')[0]}: press c to choose section and heading")
                continue
            if key == "a":
                # The suggestion as a place, not the editor's word: a heading the issue has for the
                # same organisation is joined (`edit.same_organisation_heading`).
                placed = add_items(curation, issue_id, [item.id], places={item.id: (item.section, item.heading)})[0]
                result.added.append(item.id)
                ui.say(f"added to {placed.section}:{placed.position} under '{placed.heading}'")
                for note in configured_heading_notes(curation, issue_id, [placed]):
                    ui.say(f"note: {note}")
                break
            if key == "c":
                section = ui.choose_section(curation.settings.sections, item.section)
                # Headings name organisations, so the suggested one stands in any section.
                heading = ui.choose_heading(item.heading) if section is not None else None
                if section is None or heading is None:  # cancelled at a prompt: back to this card's keys
                    ui.say("not added; the keys:\n" + key_help())
                    continue
                placed = add_items(curation, issue_id, [item.id], section=section, heading=heading or None)[0]
                result.added.append(item.id)
                ui.say(f"added to {placed.section}:{placed.position} under '{placed.heading}'")
                for note in misspelt_notes(curation, issue_id, [placed]):
                    ui.say(f"note: {note}")
                break
            if key == "s":
                curation.store.set_status([item.id], "skipped")
                result.skipped.append(item.id)
                ui.say("skipped")
                break
            if key == "l":
                result.later.append(item.id)
                ui.say("left for later")
                break
            if key == "o":
                ui.open_link(item.url)
                continue
            if key == "q":
                result.quit = True
                result.remaining = total - index + 1
                ui.say(f"stopped; {result.remaining} left. Run triage again to go on.")
                return result
            ui.say("keys:\n" + key_help())
    return result
