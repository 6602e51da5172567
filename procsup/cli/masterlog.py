"""The master's log to a stream (`daemon -f`): lines written in batches, records made cheaply.

A state change is a log line, and stopping 2,000 instances logs three per instance: with a
write(2) and a flush per line and the logging module's per-record work (the caller's file and
line looked up by walking the stack, the thread and process names), the master's log was about
a fifth of the master's CPU for `stop all` (issue 14). Here each line is formatted when it is
logged (its time is the record's) and written with the others of the same loop iteration, at its
end (`call_soon`), or at once when BATCH lines wait (the autostart runs thousands of spawns
without returning to the loop) or when nothing runs a loop in this thread. The format uses no
file, line or thread, so the records do not look them up.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TextIO

BATCH = 256  # lines held at most before they are written


def cheap_records() -> None:
    """Records without the caller's file/line (a stack walk), thread or process name: the
    master's format (daemon.LOG_FORMAT) shows none of them. The pid stays."""
    logging._srcfile = None  # the documented switch for it (logging HOWTO, "Optimization")
    logging.logThreads = False
    logging.logMultiprocessing = False


class BatchedStreamHandler(logging.StreamHandler[TextIO]):
    """A StreamHandler whose lines of one loop iteration go out in one write."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._lines.append(self.format(record) + self.terminator)
        except Exception:
            self.handleError(record)
            return
        if len(self._lines) >= BATCH:
            self.flush()
        elif len(self._lines) == 1:
            try:
                asyncio.get_running_loop().call_soon(self.flush)
            except RuntimeError:  # no loop here (start-up, shutdown, another thread)
                self.flush()

    def flush(self) -> None:
        """Write what waits (also called by logging at exit)."""
        self.acquire()
        try:
            if self._lines:
                text, self._lines = "".join(self._lines), []
                try:
                    self.stream.write(text)
                except (OSError, ValueError):  # the stream is gone: so is whoever would read
                    return
            super().flush()
        finally:
            self.release()
