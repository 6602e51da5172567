"""What the keys do: commands to the master about the selected row of the focused table, each
ending in a notification. With the task table focused, `s` runs the task, `x` stops its runs in
progress and `r` does both; with the log pane focused, keys act on the table it follows.

A mixin of the app, so app.py keeps the layout and the live feed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from procsup.control.client import ClientError
from procsup.control.protocol import ProtocolError
from procsup.tui.fmt import details_lines
from procsup.tui.screens import ConfirmScreen, DetailsScreen, HelpScreen, SignalScreen

if TYPE_CHECKING:
    from textual.app import App
    from textual.widgets import Input

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
    search_box: Input

    async def _command(self, cmd: str, args: dict[str, Any], what: str) -> None:
        """Send one command; its result or its error becomes a notification."""
        try:
            result = await self.source.call(cmd, args)
        except ClientError as exc:
            self.notify(f"{what}: {exc.message}", title=f"{cmd} failed", severity="error")
            return
        except ProtocolError as exc:  # no master, not allowed
            self.notify(str(exc), title=f"{cmd} failed", severity="error")
            return
        self.notify(summary(cmd, result), title=what)

    def _send(self, cmd: str, args: dict[str, Any], what: str) -> None:
        self.run_worker(self._command(cmd, args, what), group="commands", exit_on_error=False)

    def _active_table(self) -> InstanceTable | TaskTable:
        raise NotImplementedError  # the app knows which table has (or last had) the focus

    def _selected_instance(self) -> str | None:
        name = self.instances.selected
        if name is None:
            self.notify("select an instance first", severity="warning")
        return name

    def action_row(self, cmd: str) -> None:
        """start / stop / restart the selected row of the focused table."""
        if self._active_table() is self.tasks:
            self._task_action(cmd)
            return
        name = self._selected_instance()
        if name is not None:
            self._send(cmd, {"names": [name]}, f"{cmd} {name}")

    def _task_action(self, cmd: str) -> None:
        name = self.tasks.selected if self.store.tasks else None
        if name is None:
            self.notify("select a task first", severity="warning")
        elif cmd == "start":
            self._send("run", {"task": name}, f"run {name}")
        elif cmd == "stop":
            self._send("stop", {"names": [name]}, f"stop {name}")
        else:
            self.run_worker(self._rerun(name), group="commands", exit_on_error=False)

    async def _rerun(self, task: str) -> None:
        """`r` on a task: stop its runs in progress, then run it now."""
        try:
            await self.source.call("stop", {"names": [task]})
        except ProtocolError as exc:
            self.notify(str(exc), title=f"restart {task} failed", severity="error")
            return
        await self._command("run", {"task": task}, f"restart {task}")

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
        if self._active_table() is self.tasks:
            self.notify("signals go to instances (tab to the instance table)", severity="warning")
            return
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

    def action_pause_task(self) -> None:
        """`P`: pause the selected task's schedule, or resume it when it is paused."""
        name = self.tasks.selected if self.store.tasks else None
        if name is None or self._active_table() is not self.tasks:
            self.notify("select a task first (tab moves to the task table)", severity="warning")
            return
        cmd = "resume" if self.store.tasks[name].get("paused") else "pause"
        self._send(cmd, {"tasks": [name]}, f"{cmd} {name}")

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_pause_log(self) -> None:
        paused = self.log_pane.toggle_pause()
        self.notify("log paused" if paused else "following the log again", timeout=2)

    def action_maximize_log(self) -> None:
        """`m`: the log pane alone on screen (and focused, for `/`, `n`, `N`), or back."""
        if self.screen.maximized is self.log_pane:
            self.screen.minimize()
            self._active_table().focus()
        else:
            self.screen.maximize(self.log_pane, container=False)
            self.log_pane.focus()

    def action_search_log(self) -> None:
        """`/` in the log pane: the search box, under the pane."""
        box = self.search_box
        box.disabled = False
        box.add_class("shown")
        box.focus()

    def close_search(self) -> None:
        box = self.search_box
        box.value = ""
        box.remove_class("shown")
        box.disabled = True
        self.log_pane.clear_search()
        self.log_pane.focus()

    def show_details(self, kind: str, name: str) -> None:
        row = (self.store.tasks if kind == "task" else self.store.instances).get(name)
        if row is not None:
            self.push_screen(DetailsScreen(f"{kind} {name}", details_lines(row, self.clock)))


def summary(cmd: str, result: Any) -> str:
    """One line about a command's result, for the notification."""
    if not isinstance(result, dict):
        return "done"
    if "runs" in result and not result.get("instances"):  # stop of a task
        runs = result["runs"]
        if not runs:
            return "no run in progress"
        return ", ".join(f"run {r['run_id']} {r['status']}" for r in runs)
    if "instances" in result:
        rows = result["instances"]
        shown = ", ".join(f"{r['name']} {r['state']}" for r in rows[:MAX_LISTED])
        more = len(rows) - MAX_LISTED
        return (shown + (f" and {more} more" if more > 0 else "")) or "nothing to do"
    if "changed" in result:  # pause / resume of a task
        done = "paused" if cmd == "pause" else "resumed"
        return done if result["changed"] else f"already {done}"
    if "sent" in result:
        return f"{result.get('signal')} sent to {', '.join(result['sent']) or 'nothing'}"
    run = result.get("run")
    if isinstance(run, dict):
        status = str(run.get("status"))
        return status + (f": {run['reason']}" if run.get("reason") else "")
    return "done"
