"""The health of one instance's current run: keep-alives (`watchdog`), output (`max_silence`),
readiness and the program's own STATUS= line.

A hang is noticed by one loop timer per mechanism, armed at the deadline and re-armed from there
when a keep-alive or output came meanwhile: a keep-alive only stores a time, so 500 instances
sending WATCHDOG=1 every second cost a dict update each, not a timer. Deadlines are rounded up
to a shared grid (timegrid.py), so the checks of many instances share their wake-ups. No
policy here: a deadline that passes calls `on_hung(cause)`, and the instance decides what that
means.
"""

from __future__ import annotations

from collections.abc import Callable

from procsup.config.load import ProgramConfig
from procsup.core.humanize import format_duration
from procsup.engine.seams import Clock, Timer
from procsup.engine.timegrid import aligned_delay, grid_for


class Health:
    """Deadlines and readiness for the run in progress; `begin()` at each spawn, `end()` after."""

    def __init__(self, config: ProgramConfig, clock: Clock, on_hung: Callable[[str], None]) -> None:
        self.config = config
        self.clock = clock
        self.on_hung = on_hung
        self.watchdog = config.watchdog  # WATCHDOG_USEC= from the program may change it
        self.ready = False
        self.status: str | None = None  # STATUS= from the program
        self.phase: str | None = None  # "reloading", "stopping" (RELOADING=1, STOPPING=1)
        self.main_pid: int | None = None  # MAINPID=
        self.last_keepalive: float | None = None  # monotonic, of the last WATCHDOG=1
        #: the readiness probe's verdict (None: none yet, or no probe) and why it failed
        self.probe_ready: bool | None = None
        self.probe_detail = ""
        self._last_output = 0.0
        self._begun = 0.0
        self._extended_until = 0.0
        self._timers: dict[str, Timer] = {}
        #: reads the datagrams waiting in the notify socket (None: no socket): called before a
        #: watchdog verdict, since a pooled socket is read in rounds (notifyhub.py)
        self.pending: Callable[[], None] | None = None

    def begin(self) -> None:
        """A new run: nothing heard yet; the deadlines count from now."""
        self.end()
        now = self.clock.monotonic()
        self.ready, self.status, self.phase, self.main_pid = False, None, None, None
        self.watchdog = self.config.watchdog
        self.last_keepalive = None
        self.probe_ready, self.probe_detail = None, ""
        self._last_output = now
        self._extended_until = 0.0
        self._begun = now
        self._arm_watchdog()
        if self.config.max_silence:
            self._arm("silence", self.config.max_silence, self._check_silence)

    def end(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    # --- what the program says ----------------------------------------------------------------

    def apply(self, fields: dict[str, str]) -> bool:
        """One sd_notify(3) message; True when what a row shows changed (not for keep-alives)."""
        before = (self.status, self.phase, self.ready)
        if fields.get("MAINPID", "").isdigit():
            self.main_pid = int(fields["MAINPID"])
        if "STATUS" in fields:
            self.status = fields["STATUS"] or None
        for key, phase in (("STOPPING", "stopping"), ("RELOADING", "reloading")):
            if fields.get(key) == "1":
                self.phase = phase
        _usec(fields, "EXTEND_TIMEOUT_USEC", self.extend)
        _usec(fields, "WATCHDOG_USEC", self.set_watchdog)
        if fields.get("WATCHDOG") == "1":
            self.keepalive()
        if fields.get("READY") == "1":
            self.ready = True
            if self.phase == "reloading":
                self.phase = None
        return (self.status, self.phase, self.ready) != before

    def keepalive(self) -> None:
        self.last_keepalive = self.clock.monotonic()

    def output(self) -> None:
        self._last_output = self.clock.monotonic()

    def extend(self, seconds: float) -> None:
        """EXTEND_TIMEOUT_USEC=: no hang is declared before `seconds` from now."""
        self._extended_until = max(self._extended_until, self.clock.monotonic() + seconds)

    def set_watchdog(self, seconds: float) -> None:
        """WATCHDOG_USEC= sent by the program: a new keep-alive interval, counted from now."""
        if not self.config.notify or seconds <= 0:
            return
        self.watchdog = seconds
        self.keepalive()
        self._arm_watchdog()

    # --- deadlines ----------------------------------------------------------------------------

    def _arm(self, which: str, delay: float, check: Callable[[], None]) -> None:
        old = self._timers.pop(which, None)
        if old is not None:
            old.cancel()
        period = self.watchdog if which == "watchdog" else self.config.max_silence
        delay = aligned_delay(self.clock.monotonic(), max(delay, 0.01), grid_for(period or 0.0))
        self._timers[which] = self.clock.call_later(delay, check)

    def _arm_watchdog(self) -> None:
        if self.watchdog:
            self._arm("watchdog", self.watchdog, self._check_watchdog)

    def _check_watchdog(self) -> None:
        self._timers.pop("watchdog", None)
        if not self.watchdog or self.phase == "stopping":
            return
        now = self.clock.monotonic()
        deadline = self._watchdog_deadline()
        if now >= deadline and self.pending is not None:
            self.pending()  # a keep-alive may be waiting in the socket
            if not self.watchdog or self.phase == "stopping":
                return
            deadline = self._watchdog_deadline()
        if now < deadline:
            self._arm("watchdog", deadline - now, self._check_watchdog)
            return
        self.on_hung(f"watchdog: no keep-alive for {format_duration(self.watchdog)}")

    def _watchdog_deadline(self) -> float:
        # until the first keep-alive, the interval counts from the spawn
        since = self._begun if self.last_keepalive is None else self.last_keepalive
        return max(since + (self.watchdog or 0.0), self._extended_until)

    def _check_silence(self) -> None:
        self._timers.pop("silence", None)
        limit = self.config.max_silence
        if not limit:
            return
        now = self.clock.monotonic()
        deadline = max(self._last_output + limit, self._extended_until)
        if now < deadline:
            self._arm("silence", deadline - now, self._check_silence)
            return
        self.on_hung(f"max_silence: no output for {format_duration(limit)}")

    # --- reporting ----------------------------------------------------------------------------

    def text(self, running: bool) -> str | None:
        """`ready`, `not-ready: waiting for READY=1`, `watchdog 12s ago`, `reloading`; None for a
        program without health settings or an instance that is not running."""
        cfg = self.config
        if not running or not (cfg.notify or cfg.max_silence or cfg.liveness or cfg.readiness):
            return None
        parts = [self.phase or ("ready" if self.is_ready() else "not-ready: " + self._waiting())]
        if self.watchdog:
            if self.last_keepalive is None:
                parts.append("no keep-alive yet")
            else:
                ago = self.clock.monotonic() - self.last_keepalive
                parts.append(f"watchdog {format_duration(max(ago, 0.0))} ago")
        return ", ".join(parts)

    def _waiting(self) -> str:
        if self.config.notify and not self.ready:
            return "waiting for READY=1"
        return self.probe_detail or "waiting for the readiness probe"

    def is_ready(self) -> bool:
        """Ready: READY=1 seen (with notify) and the readiness probe passing (with one); not
        while reloading or stopping."""
        if self.phase is not None:
            return False
        notified = self.ready or not self.config.notify
        return notified and (self.probe_ready is True or self.config.readiness is None)


def _usec(fields: dict[str, str], key: str, use: Callable[[float], None]) -> None:
    """Hand `KEY=<microseconds>` on as seconds; a malformed value is ignored, as systemd does."""
    value = fields.get(key, "")
    if value.isdigit():
        use(int(value) / 1_000_000)
