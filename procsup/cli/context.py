"""What every command is given: the parsed arguments, the config and socket paths, and a
client on demand, which may start a master in the background (autostart) for the verbs that
mean to run something."""

from __future__ import annotations

import os
import sys

from procsup.cli.errors import USAGE, CliError, SocketGone
from procsup.control.client import Client, NoMaster, live_master_pid

TYPE_CHECKING = False  # the `typing` module costs `procsup list` 3 ms to import
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable
    from types import SimpleNamespace
    from typing import Any

    from procsup.control.fleetclient import RemoteClient

    #: run_tui(socket, screenshot): the CLI and the TUI are layers side by side, so the CLI
    #: is handed the dashboard instead of importing it
    RunTui = Callable[[str, str | None], int]


#: the verbs that mean to run something, and so may start a master when none answers
STARTERS = frozenset({"start", "restart", "run", "tui", "daemon"})


class Context:
    """What every command needs: where the config and socket are, and a client on demand."""

    def __init__(
        self, args: argparse.Namespace | SimpleNamespace, tui: RunTui | None = None
    ) -> None:
        from procsup.core import locate

        self.args = args
        self.tui = tui  # the dashboard, given by the composition root (procsup/__main__.py)
        self.config_path = locate.find_config_path(args.config)
        socket, state_dir = locate.master_paths(str(self.config_path))
        self.socket = args.socket or socket
        self.state_dir = state_dir
        self._client: Client | RemoteClient | None = None

    def client(self, autostart: bool = False) -> Client | RemoteClient:
        """A connected client. Only the verbs that mean to run something (STARTERS) pass
        autostart=True, and even they start no master when autostart is turned off.
        With --host NODE: NODE's master, reached through the cluster's Redis."""
        if self._client is None:
            if getattr(self.args, "host", None):
                from procsup.cli.cluster import remote_client

                self._client = remote_client(self.config_path, self.args.host)
            else:
                self._client = self._connect(autostart)
        return self._client

    def local_client(self) -> Client:
        """The local master's client, for the streams that --host does not carry."""
        if getattr(self.args, "host", None):
            raise CliError(f"`{self.args.verb}` does not work with --host", USAGE)
        client = self.client()
        assert isinstance(client, Client)
        return client

    def _connect(self, autostart: bool) -> Client:
        try:
            return Client(self.socket).connect()
        except NoMaster as exc:
            self._check_socket_gone(exc)
            if not autostart or self.args.verb not in STARTERS or self.autostart_off():
                raise
        self.start_master(quiet=False)
        return Client(self.socket).connect()

    def autostart_off(self) -> str | None:
        """Why the CLI must not start a master in the background, or None when it may."""
        from procsup.cli.launcher import autostart_off

        if self.args.no_autostart:
            return "--no-autostart"
        return autostart_off(self.config_path)

    def no_master_hint(self) -> str:
        """What to do when no master answers: name the command that would start one."""
        if not os.path.exists(self.config_path):
            return (
                f"no config file at {self.config_path} either; create one with "
                "`procsup init` or pass -c PATH"
            )
        off = self.autostart_off()
        if off is not None and off != "--no-autostart":
            return (
                f"CLI autostart is off ({off}); start the master as this host does "
                "(e.g. `systemctl start procsup`) or with `procsup daemon`"
            )
        if self.args.verb in STARTERS:  # it would have started one but for --no-autostart
            return "run it without --no-autostart, or start the master with `procsup daemon`"
        return (
            "start one with `procsup start` (the master and every autostart program) "
            "or `procsup daemon` (the master only)"
        )

    def _check_socket_gone(self, exc: NoMaster) -> None:
        """No answer, but a live master holds the pid lock: its socket file was removed. Say so
        (starting another master would only fail on the lock)."""
        pid = live_master_pid(self.state_dir)
        if pid is not None:
            raise SocketGone(
                f"{exc}, but a master (pid {pid}) holds {self.state_dir}: if it has just "
                f"started, try again in a moment; if its socket file was deleted, "
                f"`kill -HUP {pid}` creates it again"
            ) from None

    def start_master(self, quiet: bool) -> int:
        from procsup.cli.launcher import LaunchError, launch_master

        if not os.path.exists(self.config_path):
            raise CliError(
                f"no config file at {self.config_path}; create one with "
                "`procsup init` or pass -c PATH",
                USAGE,
            )
        try:
            pid = launch_master(self.config_path, self.socket, self.state_dir)
        except LaunchError as exc:
            raise CliError(str(exc)) from None
        if not quiet:
            print(f"procsup: started a master (pid {pid}) for {self.config_path}", file=sys.stderr)
        return pid

    def call(
        self,
        cmd: str,
        args: dict[str, Any] | None = None,
        autostart: bool = False,
        waits: bool = False,
    ) -> Any:
        """One request. `waits`: the reply comes when processes have stopped or started, which
        may take as long as their stop_timeout, so no reply deadline applies."""
        client = self.client(autostart)
        if waits:
            client.set_timeout(None)
        return client.call(cmd, args)
