"""Named one-shot timers for the dashboard: a burst of events applied once, a resting cursor
or a pause in typing acted on once, each on the app's own timers."""

from __future__ import annotations

from collections.abc import Callable

from textual.timer import Timer

#: makes a one-shot timer: (delay, callback) -> Timer (App.set_timer)
SetTimer = Callable[[float, Callable[[], None]], Timer]


class Debounce:
    def __init__(self, set_timer: SetTimer) -> None:
        self._set_timer = set_timer
        self._pending: dict[str, Timer] = {}

    def once(self, name: str, delay: float, callback: Callable[[], None]) -> None:
        """Run `callback` once after `delay`, however often this is asked meanwhile."""
        if name in self._pending:
            return

        def fire() -> None:
            self._pending.pop(name, None)
            callback()

        self._pending[name] = self._set_timer(delay, fire)

    def after_quiet(self, name: str, delay: float, callback: Callable[[], None]) -> None:
        """Run `callback` after `delay` of quiet: each new ask starts the wait again."""
        timer = self._pending.pop(name, None)
        if timer is not None:
            timer.stop()
        self.once(name, delay, callback)
