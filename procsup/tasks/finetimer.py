"""A one-shot timer with the kernel's precision, for the scheduler's wake-ups (timers.py).

Why: the event loop's own timers wake 1-3 ms late on a wait of about a second. asyncio rounds
the epoll timeout up to the next whole millisecond, and the kernel lets a wait of that length
end up to 0.1 % late (its timer slack for poll and epoll, so that wake-ups can be grouped).
Every cron fire waits about a second, so every run started that late (issue 14: 20 tasks due
at the same second). A timerfd expires with no slack, and the loop sees it as a readable
descriptor: the wake-up comes within microseconds of the instant. The wait is still relative
and on the monotonic clock, as with the loop's timers, so a wall-clock step is handled as
before (timers.py: no wait is longer than a minute).
"""

from __future__ import annotations

import asyncio
import ctypes
import os
from collections.abc import Callable

from procsup.engine.libc import libc_function

CLOCK_MONOTONIC = 1
TFD_CLOEXEC = os.O_CLOEXEC  # the same bits as the open flags (timerfd.h)
TFD_NONBLOCK = os.O_NONBLOCK


class Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", Timespec), ("it_value", Timespec)]


class FineTimer:
    """One timerfd watched by `loop`: `arm(wait)` calls `callback` once, `wait` seconds from
    now (arming again replaces the wait), `disarm` calls it off, `close` frees the descriptor.
    Raises OSError (or AttributeError: a C library without timerfd) when it cannot be made."""

    def __init__(self, loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
        create = libc_function("timerfd_create", ctypes.c_int, [ctypes.c_int, ctypes.c_int])
        self._settime = libc_function(
            "timerfd_settime",
            ctypes.c_int,
            [ctypes.c_int, ctypes.c_int, ctypes.POINTER(Itimerspec), ctypes.c_void_p],
        )
        fd = create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK)
        if fd < 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code))
        self._fd = fd
        self._loop = loop
        self._callback = callback
        self._spec = Itimerspec()
        loop.add_reader(fd, self._expired)

    def arm(self, wait: float) -> None:
        seconds = int(max(wait, 0.0))
        nanos = int((max(wait, 0.0) - seconds) * 1e9)
        self._set(seconds, nanos or (0 if seconds else 1))  # all zero would disarm: 1 ns

    def disarm(self) -> None:
        self._set(0, 0)

    def _set(self, seconds: int, nanos: int) -> None:
        self._spec.it_value.tv_sec, self._spec.it_value.tv_nsec = seconds, nanos
        if self._settime(self._fd, 0, ctypes.byref(self._spec), None) < 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code))

    def _expired(self) -> None:
        try:
            os.read(self._fd, 8)  # the expiry count; setting the timer again resets it
        except BlockingIOError:
            return  # re-armed or disarmed since the loop saw it readable: not due
        self._callback()

    def close(self) -> None:
        if self._fd >= 0:
            self._loop.remove_reader(self._fd)
            os.close(self._fd)
            self._fd = -1
