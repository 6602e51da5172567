"""What the keys do: commands to the master about the selected row, each ending in a notification.

A mixin of the app, so app.py keeps the layout and the live feed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from procsup.tui.fmt import details_lines
from procsup.tui.screens import ConfirmScreen, DetailsScreen, HelpScreen, SignalScreen
from procsup.tui.source import CommandError, MasterGone

if TYPE_CHECKING:
    from textual.app import App

    from procsup.tui.fmt import Clock
    from procsup.tui.instances import InstanceTable
    from procsup.tui.logpane import LogPane
    from procsup.tui.source import Source
    from procsup.tui.store import Store
    from procsup.tui.tasks import TaskTable

    Base = App[int]
else:
    Base = object

MAX_LISTED = 4  # instances named in a notification before "and N more"


class Actions(Base):
    source: Source
    store: Store
    clock: Clock
    instances: InstanceTable
    tasks: TaskTable
    log_pane: LogPane

    async def _command(self, cmd: str, args: dict[str, Any], what: str) -> None:
        """Send one command; its result or its error becomes a notification."""
        try:
            result = await self.source.call(cmd, args)
        except CommandError as exc:
            self.notify(f"{what}: {exc.message}", title=f"{cmd} failed", severity="error")
            return
        except MasterGone as exc:
            self.notify(str(exc), title=f"{cmd} failed", severity="error")
            return
        self.notify(summary(cmd, result), title=what)

    def _send(self, cmd: str, args: dict[str, Any], what: str) -> None:
        self.run_worker(self._command(cmd, args, what), group="commands", exit_on_error=False)

    def _selected_instance(self) -> str | None:
        name = self.instances.selected
        if name is None:
            self.notify("select an instance first", severity="warning")
        return name

    def action_instance(self, cmd: str) -> None:
        name = self._selected_instance()
        if name is not None:
            self._send(cmd, {"names": [name]}, f"{cmd} {name}")

    def action_all(self, cmd: str) -> None:
        count = len(self.store.instances)
        if cmd == "start":
            self._send(cmd, {"names": ["all"]}, "start all")
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._send(cmd, {"names": ["all"]}, f"{cmd} all")

        question = f"{cmd.capitalize()} all {count} instances?"
        self.push_screen(ConfirmScreen(question), answered)

    def action_signal(self) -> None:
        name = self._selected_instance()
        if name is None:
            return

        def chosen(sig: str | None) -> None:
            if sig:
                self._send("signal", {"signal": sig, "names": [name]}, f"SIG{sig} to {name}")

        self.push_screen(SignalScreen(name), chosen)

    def action_run_task(self) -> None:
        name = self.tasks.selected if self.store.tasks else None
        if name is None:
            self.notify("no task selected (tab moves to the task table)", severity="warning")
            return
        self._send("run", {"task": name}, f"run {name}")

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_pause_log(self) -> None:
        paused = self.log_pane.toggle_pause()
        self.notify("log paused" if paused else "following the log again", timeout=2)

    def show_details(self, kind: str, name: str) -> None:
        row = (self.store.tasks if kind == "task" else self.store.instances).get(name)
        if row is not None:
            self.push_screen(DetailsScreen(f"{kind} {name}", details_lines(row, self.clock)))


def summary(cmd: str, result: Any) -> str:
    """One line about a command's result, for the notification."""
    if not isinstance(result, dict):
        return "done"
    if "instances" in result:
        rows = result["instances"]
        shown = ", ".join(f"{r['name']} {r['state']}" for r in rows[:MAX_LISTED])
        more = len(rows) - MAX_LISTED
        return (shown + (f" and {more} more" if more > 0 else "")) or "nothing to do"
    if "sent" in result:
        return f"{result.get('signal')} sent to {', '.join(result['sent']) or 'nothing'}"
    run = result.get("run")
    if isinstance(run, dict):
        status = str(run.get("status"))
        return status + (f": {run['reason']}" if run.get("reason") else "")
    return "done"
