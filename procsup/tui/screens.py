"""Modal screens: help, a yes/no confirmation, a signal picker, the details of one row."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList, Static

KEYS = [
    ("s / x / r", "start / stop / restart the selected row of the focused table"),
    ("", "on a task: run it now / stop its runs / stop them, run again"),
    ("k", "send a signal to the selected instance (asks which)"),
    ("S / X / ctrl+r", "start / stop / restart all instances (stop, restart ask first)"),
    ("R", "run the selected task now"),
    ("P", "pause the selected task's schedule, or resume it (next run: paused)"),
    ("enter", "details of the selected row"),
    ("tab", "next pane: instances, tasks, log"),
    ("/", "filter by name or state; in the log pane: search it"),
    ("n / N", "in the log pane: next / previous match"),
    ("m", "maximise the log pane / restore"),
    ("escape", "clear the search, restore the log pane, clear the filter"),
    ("o", "sort by the next column (or click a column header)"),
    ("p", "pause / resume following the log"),
    ("f", "the fleet: every host of the cluster (enter: its instances)"),
    ("?", "this help"),
    ("q", "quit"),
]
SIGNALS = ["HUP", "INT", "QUIT", "TERM", "KILL", "USR1", "USR2", "CONT", "STOP", "WINCH"]
CLOSE = [Binding("escape,q", "dismiss", "close")]


def _key_table() -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold cyan", justify="right")
    table.add_column()
    for key, meaning in KEYS:
        table.add_row(key, meaning)
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [*CLOSE, Binding("question_mark", "dismiss", "close")]

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="help"):
            yield Label("procsup dashboard: keys", classes="title")
            yield Static(_key_table())
            yield Label(
                "The tables update live from the master's events; the log pane follows the"
                " selected row. 'changed by you': how a start, stop or scale differs from the"
                " config file (procsup reload --reset undoes it). escape closes this help.",
                classes="hint",
            )


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "yes"),
        Binding("n,escape,q", "answer(False)", "no"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.question, classes="title")
            yield Label("y: yes    n / escape: no", classes="hint")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class SignalScreen(ModalScreen[str | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "cancel", "cancel")]

    def __init__(self, target: str) -> None:
        super().__init__()
        self.target = target

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(f"Send which signal to {self.target}?", classes="title")
            yield OptionList(*SIGNALS, id="signals")
            yield Label("enter: send    escape: cancel", classes="hint")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(SIGNALS[event.option_index])

    def action_cancel(self) -> None:
        self.dismiss(None)


class DetailsScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [*CLOSE, Binding("enter", "dismiss", "close")]

    def __init__(self, title: str, pairs: list[tuple[str, str]]) -> None:
        super().__init__()
        self.heading = title
        self.pairs = pairs

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold cyan")
        table.add_column()
        for key, value in self.pairs:
            table.add_row(key, value)
        with Vertical(id="dialog", classes="details"):
            yield Label(self.heading, classes="title")
            with VerticalScroll():
                yield Static(table)
            yield Label("escape: close", classes="hint")
