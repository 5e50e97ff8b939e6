"""Single keys from the terminal for a whole interactive session, none of them lost.

click.getchar puts the terminal in raw mode for each key with `tty.setraw`, whose default
`TCSAFLUSH` discards whatever was typed while the program was busy, and it reads up to 32
bytes as one key: keys typed ahead during triage's re-ranking were dropped. Here the terminal
is put in key-at-a-time mode once, with `TCSANOW` (termios(3): no queued input is flushed),
and read one character at a time, so every key typed ahead comes back, in order.
"""

from __future__ import annotations

import codecs
import errno
import os
import select
import sys
import termios
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

ESCAPE = "\x1b"
# After ESC, how long the rest of an arrow or function key's sequence may take to arrive (an SSH
# link can split it); a lone Escape costs this wait once.
ESCAPE_WAIT = 0.05


def _key_mode(saved: list[Any]) -> list[Any]:
    """`saved` with line editing, echo and signal keys off; output processing (\\n → \\r\\n) stays.

    Like `tty.setcbreak`, plus ISIG, IEXTEN and IXON off as in raw mode, so Ctrl-C, Ctrl-D and
    Ctrl-S arrive as keys, read in their turn after the keys typed before them. Raw mode itself
    would also stop OPOST, and the cards printed between keys would staircase.
    """
    mode = [*saved[:6], list(saved[6])]
    mode[0] &= ~termios.IXON
    mode[3] &= ~(termios.ICANON | termios.ECHO | termios.ISIG | termios.IEXTEN)
    mode[6][termios.VMIN], mode[6][termios.VTIME] = 1, 0
    return mode


class KeyReader:
    """Reads keys from a terminal already in key-at-a-time mode; see `terminal_keys`."""

    def __init__(self, fd: int, saved: list[Any], mode: list[Any], owned: bool = False):
        self._fd, self._saved, self._mode, self._owned = fd, saved, mode, owned
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def key(self) -> str:
        """The next key, typed ahead or not: one character, or a whole escape sequence (an arrow key).

        Raises KeyboardInterrupt for Ctrl-C and EOFError for Ctrl-D or the end of input (the
        terminal hung up), as click.getchar does.
        """
        char = self._char()
        if char == "\x03":
            raise KeyboardInterrupt
        if char == "\x04":
            raise EOFError
        if char == ESCAPE:
            # An arrow key is ESC [ A: read as three keys, its final "A" would add the item.
            return char + self._escape_rest()
        return char

    @contextmanager
    def lines(self) -> Iterator[None]:
        """The terminal as it was (a line at a time, echoed) for a prompt, then keys again.

        TCSADRAIN, not TCSAFLUSH, both ways: the card is written out first and no key typed
        ahead is discarded. When the keys come from /dev/tty because standard input is a pipe,
        `sys.stdin` is the terminal for the prompt's while too, since prompts (`input`,
        click.prompt) read it; in line mode a terminal gives one line per read, so nothing typed
        after the answer is taken into a buffer and lost.
        """
        termios.tcsetattr(self._fd, termios.TCSADRAIN, self._saved)
        piped = sys.stdin
        if self._owned:
            sys.stdin = open(self._fd, encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
        try:
            yield
        finally:
            if self._owned:
                terminal, sys.stdin = sys.stdin, piped
                terminal.close()  # the wrapper only: closefd=False keeps the descriptor
            termios.tcsetattr(self._fd, termios.TCSADRAIN, self._mode)

    def _char(self) -> str:
        """One character, decoded as UTF-8 from as many bytes as it takes."""
        while True:
            try:
                byte = os.read(self._fd, 1)
            except OSError as exc:
                if exc.errno == errno.EIO:  # Linux: the terminal hung up
                    raise EOFError from exc
                raise
            if not byte:
                raise EOFError
            char = self._decoder.decode(byte)
            if char:
                return char

    def _escape_rest(self) -> str:
        """What follows ESC in a key's escape sequence (ECMA-48 CSI or SS3), or '' for a lone Escape."""
        if not self._ready():
            return ""
        rest = self._char()
        if rest == "O" and self._ready():  # SS3: one more character (F1-F4 on many terminals)
            rest += self._char()
        elif rest == "[":  # CSI: parameters up to a final character in @–~
            while self._ready():
                rest += self._char()
                if "@" <= rest[-1] <= "~":
                    break
        return rest

    def _ready(self) -> bool:
        return bool(select.select([self._fd], [], [], ESCAPE_WAIT)[0])


@contextmanager
def terminal_keys(stdin_fd: int) -> Iterator[KeyReader]:
    """Keys from the terminal on `stdin_fd`, or from /dev/tty when that is a pipe or a file, as click reads.

    The terminal is put in key-at-a-time mode once, without flushing what was typed, and its
    saved mode is restored on the way out, on an error too. Raises OSError when /dev/tty does not
    open (no controlling terminal: cron, CI, a service).
    """
    owned = not os.isatty(stdin_fd)
    fd = os.open("/dev/tty", os.O_RDONLY) if owned else stdin_fd
    try:
        saved = termios.tcgetattr(fd)
        mode = _key_mode(saved)
        termios.tcsetattr(fd, termios.TCSANOW, mode)
        try:
            yield KeyReader(fd, saved, mode, owned)
        finally:
            with suppress(termios.error):  # a terminal that hung up has no mode to restore
                termios.tcsetattr(fd, termios.TCSADRAIN, saved)
    finally:
        if owned:
            os.close(fd)
