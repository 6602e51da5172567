"""The terminal driver: textual's Linux driver with an escape key that answers at once, and an
input thread that sleeps until there is something to read.

A lone ESC byte may be the escape key or the start of an arrow key's sequence; the parser waits
`ESCDELAY` for more bytes before it calls it the escape key. textual's input thread looks at
that wait only when it wakes, every 0.1 s, so escape took 100–200 ms whatever ESCDELAY said
(issue 14: escape to repaint ≤ 50 ms). Here the thread sleeps only until the parser's wait ends,
and with no wait pending, until a key comes or the driver stops it (a pipe wakes it): the ten
wakes a second textual's thread made to look whether the app was exiting were a tenth of an
idle dashboard's CPU.

ESCDELAY itself: textual waits 100 ms unless the user sets it. A key's sequence reaches a local
terminal in one write, so, as tmux (escape-time 10 ms) and neovim (ttimeoutlen 50 ms) do, we
wait 15 ms on a local terminal; over ssh, where a sequence can arrive in pieces, textual's 100 ms
stays. An ESCDELAY the user set is always kept.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import threading
from codecs import getincrementaldecoder
from collections.abc import Mapping
from typing import Any

from textual import constants
from textual.drivers.linux_driver import LinuxDriver

try:  # textual's own parser internals: another textual version may lack them (`fits`)
    from textual._parser import ParseError
    from textual._time import get_time
    from textual._xterm_parser import XTermParser
except ImportError:  # pragma: no cover - the installed textual has them
    XTermParser = None  # type: ignore[assignment,misc]

LOCAL_ESCDELAY_MS = 15  # a key's sequence arrives whole on a local terminal


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


def wake_after(timeout_at: float | None, now: float) -> float | None:
    """How long the input thread may sleep: until the parser's wait for the rest of an escape
    sequence ends; None (until input or the driver's stop) when no wait is pending."""
    if timeout_at is None:
        return None
    return max(0.0, timeout_at - now)


class WakingEvent(threading.Event):
    """The driver's exit event, which also wakes the input thread's `select` when set."""

    def __init__(self) -> None:
        super().__init__()
        self.wake_fd, self._write_fd = os.pipe()
        os.set_blocking(self.wake_fd, False)
        os.set_blocking(self._write_fd, False)

    def set(self) -> None:
        super().set()
        with contextlib.suppress(OSError):  # full (a wake is pending already) or closed
            os.write(self._write_fd, b"x")

    def clear(self) -> None:
        super().clear()
        with contextlib.suppress(OSError):  # empty: nothing to drain
            while os.read(self.wake_fd, 64):
                pass

    def close(self) -> None:
        for fd in (self.wake_fd, self._write_fd):
            with contextlib.suppress(OSError):
                os.close(fd)


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
    """LinuxDriver whose input thread wakes for input, for the end of the parser's escape
    wait, and for the driver's stop, and at no other time."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.exit_event = WakingEvent()

    def run_input_thread(self) -> None:
        stop = self.exit_event
        assert isinstance(stop, WakingEvent)
        selector = selectors.SelectSelector()  # as textual: epoll refuses a regular file
        selector.register(self.fileno, selectors.EVENT_READ)
        selector.register(stop.wake_fd, selectors.EVENT_READ)
        parser = XTermParser(self._debug)
        decode = getincrementaldecoder("utf-8")().decode
        try:
            while not stop.is_set():
                ready = selector.select(wake_after(parser._timeout_time, get_time()))
                has_input = any(key.fd == self.fileno for key, _ in ready)
                if has_input and not self._feed(parser, decode(os.read(self.fileno, 4096))):
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

    def close(self) -> None:
        super().close()
        if isinstance(self.exit_event, WakingEvent):
            self.exit_event.close()

    def _feed(self, parser: XTermParser, text: str) -> bool:
        """Give the parser what was read; False at the end of input."""
        if not text:
            return False
        for event in parser.feed(text):
            self.process_message(event)
        return True
