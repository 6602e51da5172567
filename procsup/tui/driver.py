"""The terminal driver: textual's Linux driver with an escape key that answers at once.

A lone ESC byte may be the escape key or the start of an arrow key's sequence; the parser waits
`ESCDELAY` for more bytes before it calls it the escape key. textual's input thread looks at
that wait only when it wakes, every 0.1 s, so escape took 100–200 ms whatever ESCDELAY said
(issue 14: escape to repaint ≤ 50 ms). Here the thread sleeps only until the parser's wait ends.

ESCDELAY itself: textual waits 100 ms unless the user sets it. A key's sequence reaches a local
terminal in one write, so, as tmux (escape-time 10 ms) and neovim (ttimeoutlen 50 ms) do, we
wait 25 ms on a local terminal; over ssh, where a sequence can arrive in pieces, textual's 100 ms
stays. An ESCDELAY the user set is always kept.
"""

from __future__ import annotations

import os
import selectors
from codecs import getincrementaldecoder
from collections.abc import Mapping

from textual import constants
from textual.drivers.linux_driver import LinuxDriver

try:  # textual's own parser internals: another textual version may lack them (`fits`)
    from textual._parser import ParseError
    from textual._time import get_time
    from textual._xterm_parser import XTermParser
except ImportError:  # pragma: no cover - the installed textual has them
    XTermParser = None  # type: ignore[assignment,misc]

LOCAL_ESCDELAY_MS = 25  # a key's sequence arrives whole on a local terminal
IDLE_WAKE = 0.1  # seconds: how often the input thread looks whether the app is exiting


def escape_delay_ms(environ: Mapping[str, str]) -> int | None:
    """The ESCDELAY to use (ms), or None to keep textual's: the user's own setting wins, and a
    session over ssh keeps textual's longer wait."""
    if "ESCDELAY" in environ or "SSH_CONNECTION" in environ or "SSH_TTY" in environ:
        return None
    return LOCAL_ESCDELAY_MS


def set_escape_delay(environ: Mapping[str, str] = os.environ) -> None:
    """Shorten textual's ESCDELAY for this process when `escape_delay_ms` says so (textual
    reads it from its constants module each time it waits, so this takes effect at once)."""
    ms = escape_delay_ms(environ)
    if ms is not None:
        setattr(constants, "ESCAPE_DELAY", ms / 1000)  # noqa: B010 (a Final of textual's)


def wake_after(timeout_at: float | None, now: float) -> float:
    """How long the input thread may sleep: until the parser's wait for the rest of an escape
    sequence ends, and never longer than IDLE_WAKE."""
    if timeout_at is None:
        return IDLE_WAKE
    return min(IDLE_WAKE, max(0.0, timeout_at - now))


def fits() -> bool:
    """Whether the installed textual has the parser internals PromptDriver reads (its
    `_timeout_time` and `tick`); where it does not, textual's own driver is used, with its
    slower escape, rather than a dashboard that cannot read keys."""
    if XTermParser is None or not hasattr(XTermParser, "tick"):
        return False
    try:
        return hasattr(XTermParser(False), "_timeout_time")
    except Exception:  # another constructor: not the parser this driver was written for
        return False


class PromptDriver(LinuxDriver):
    """LinuxDriver whose input thread wakes when the parser's escape wait ends."""

    def run_input_thread(self) -> None:
        selector = selectors.SelectSelector()  # as textual: epoll refuses a regular file
        selector.register(self.fileno, selectors.EVENT_READ)
        parser = XTermParser(self._debug)
        decode = getincrementaldecoder("utf-8")().decode
        try:
            while not self.exit_event.is_set():
                ready = selector.select(wake_after(parser._timeout_time, get_time()))
                if ready and not self._feed(parser, decode(os.read(self.fileno, 4096))):
                    break  # end of input (stdin piped and closed)
                for event in parser.tick():  # the escape key, once its wait is over
                    self.process_message(event)
        finally:
            selector.close()
            try:
                for _ in parser.feed(""):
                    pass
            except (EOFError, ParseError):
                pass  # input ended inside a sequence: nothing left to do

    def _feed(self, parser: XTermParser, text: str) -> bool:
        """Give the parser what was read; False at the end of input."""
        if not text:
            return False
        for event in parser.feed(text):
            self.process_message(event)
        return True
