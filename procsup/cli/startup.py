"""`procsup startup`: the systemd unit that runs this config's master with `daemon -f`, as
`pm2 startup` does. contrib/procsup.service is what this writes for the documented default
(DEFAULT_EXECUTABLE, /etc/procsup/procsup.toml with state and logs under /var); a test keeps
them identical.
"""

from __future__ import annotations

import math
import os
import shlex
import shutil
import sys
from pathlib import Path

from procsup.config.load import Config

DEFAULT_EXECUTABLE = "/usr/local/bin/procsup"
#: the SIGKILL grace and the master's own slack on top of the stop timeouts (contrib/MIGRATING)
STOP_MARGIN = 40.0
MIN_STOP_TIMEOUT = 90


def executable() -> list[str]:
    """How this procsup was started: its script on PATH, or `python -m procsup`."""
    argv0 = sys.argv[0]
    if Path(argv0).name == "__main__.py" or not argv0:
        return [sys.executable, "-m", "procsup"]
    found = shutil.which(argv0) if os.sep not in argv0 else argv0
    return [os.path.abspath(found or argv0)]


def python_path(command: list[str]) -> str | None:
    """For `python -m procsup` from a source checkout: the folder the package is in, so the
    service's python finds it (None when procsup is installed)."""
    if command[1:2] != ["-m"]:
        return None
    folder = str(Path(__file__).resolve().parents[2])
    return None if "site-packages" in folder else folder


def stop_timeout(config: Config) -> int:
    """Seconds for TimeoutStopSec: the longest task stop_timeout + the longest program
    stop_timeout + 40s, never under 90s, rounded up to a whole minute above 90s."""
    task = max((t.stop_timeout for t in config.tasks.values()), default=0.0)
    program = max((p.stop_timeout for p in config.programs.values()), default=0.0)
    needed = task + program + STOP_MARGIN
    if needed <= MIN_STOP_TIMEOUT:
        return MIN_STOP_TIMEOUT
    return math.ceil(needed / 60) * 60


def format_seconds(seconds: int) -> str:
    """systemd's time span syntax: 90, 5min, 1h 2min."""
    if seconds <= MIN_STOP_TIMEOUT:
        return str(seconds)
    hours, minutes = divmod(seconds // 60, 60)
    return " ".join(
        p for p in (f"{hours}h" if hours else "", f"{minutes}min" if minutes else "") if p
    )


def unit_text(config: Config, command: list[str], user: bool = False) -> str:
    """The whole unit file, its comments included."""
    exec_start = shlex.join([*command, "-c", str(config.path), "daemon", "-f"])
    state = config.master.state_dir == Path("/var/lib/procsup") and not user
    logs = config.master.log_dir == Path("/var/log/procsup") and not user
    lines = HEADER.format(
        install=_install_hint(user), config=config.path, folder=config.path.parent
    ).splitlines()
    lines += ["", "[Unit]", "Description=procsup process supervisor"]
    if not user:
        lines += ["After=network-online.target", "Wants=network-online.target"]
    lines += [UNIT_COMMENT, "", "[Service]", SERVICE_COMMENT, "Type=simple"]
    lines.append(f"ExecStart={exec_start}")
    pythonpath = python_path(command)
    if pythonpath:
        lines.append(f"Environment=PYTHONPATH={pythonpath}")
    lines += ["StateDirectory=procsup"] if state else []
    lines += ["LogsDirectory=procsup"] if logs else []
    lines += ["", RELOAD_COMMENT, "ExecReload=/bin/kill -HUP $MAINPID", ""]
    lines += [STOP_COMMENT, "KillMode=mixed", "KillSignal=SIGTERM", DELEGATE_COMMENT]
    lines += ["Delegate=yes", TIMEOUT_COMMENT]
    lines.append(f"TimeoutStopSec={format_seconds(stop_timeout(config))}")
    lines += ["", RESTART_COMMENT, "Restart=on-failure", "RestartSec=2"]
    lines += [EXIT2_COMMENT, "RestartPreventExitStatus=2", ""]
    lines += [NOFILE_COMMENT, "LimitNOFILE=65536", "", "[Install]"]
    lines.append("WantedBy=default.target" if user else "WantedBy=multi-user.target")
    return "\n".join(lines) + "\n"


def unit_path(user: bool) -> Path:
    if user:
        base = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
        return Path(base) / "systemd" / "user" / "procsup.service"
    return Path("/etc/systemd/system/procsup.service")


def enable_commands(user: bool) -> list[str]:
    flag = " --user" if user else ""
    return [f"systemctl{flag} daemon-reload", f"systemctl{flag} enable --now procsup"]


def _install_hint(user: bool) -> str:
    target = unit_path(user) if user else "/etc/systemd/system/procsup.service"
    first, second = enable_commands(user)
    sudo = "" if user else "sudo "
    return f"#   {sudo}install -m 644 procsup.service {target}\n#   {sudo}{first} && {sudo}{second}"


def run_startup(config: Config, user: bool, print_only: bool, command: list[str]) -> int:
    text = unit_text(config, command, user)
    if print_only:
        sys.stdout.write(text)
        return 0
    path = unit_path(user)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    except OSError as exc:
        hint = "run it with sudo, or use --user" if not user else "check the folder"
        print(f"procsup: cannot write {path}: {exc.strerror or exc}; {hint}", file=sys.stderr)
        return 1
    print(f"wrote {path}; enable and start it with:")
    for line in enable_commands(user):
        print(f"  {line}")
    return 0


HEADER = """\
# systemd unit for a procsup master (written by `procsup startup`).
#
{install}
#
# Where things live. systemd creates /var/lib/procsup (StateDirectory=) and /var/log/procsup
# (LogsDirectory=) below when the config points at them, so that state and logs are not kept
# under /etc (relative paths in the config are relative to the config file's folder):
#
#   # /etc/procsup/procsup.toml
#   [procsup]
#   state_dir = "/var/lib/procsup"   # pid lock, state file, task history, locks; the socket
#                                    # is /var/lib/procsup/procsup.sock
#   log_dir = "/var/log/procsup"     # the programs' and tasks' log files
#   cli_autostart = false            # systemd owns the master: no CLI command starts another
#
# Programs and tasks without `directory` run in the config file's folder ({folder} here), not
# in the master's working directory; give each its own `directory = "/srv/app"`.
# This unit runs the config {config}."""

UNIT_COMMENT = "# Add e.g. redis.service / mysql.service here if your programs need them at start."
SERVICE_COMMENT = """\
# `daemon -f` keeps the master in the foreground and logs to stderr, i.e. to the journal
# (`journalctl -u procsup`). Programs' own output goes to their log files, not the journal."""
RELOAD_COMMENT = """\
# SIGHUP makes the master re-read the config and apply only the difference; a bad config is
# rejected (and logged) and the running set is left untouched. `procsup reload` does the same
# and prints the errors."""
STOP_COMMENT = """\
# On SIGTERM the master stops everything itself: first the task runs in progress, then every
# program's instances (in parallel), each with its stop_signal to its process group and tree and
# SIGKILL after its stop_timeout. KillMode=mixed sends SIGTERM to the master only, so each
# program gets its own stop_signal and stop_timeout (a worker can finish its job) instead of a
# SIGTERM from systemd to every process at once (what KillMode=control-group would do);
# whatever is still left in the cgroup when the master exits, or when TimeoutStopSec runs out,
# gets SIGKILL from systemd, so nothing survives a stop even if the master itself hangs."""
DELEGATE_COMMENT = """\
# Delegate=yes hands the service's cgroup subtree to the master, which then gives every
# instance and task run a cgroup of its own (`procsup info` shows "tracking: cgroup"). A daemon
# that double-forks and clears or overwrites its environment cannot leave its cgroup, so stop,
# timeouts and a restarted master reach it; without delegation procsup falls back to
# process-tree tracking, which cannot (README, "How tracking works"). systemd keeps out of the
# subtree's insides, and still kills the whole service cgroup, subtree included, when it stops
# the service."""
TIMEOUT_COMMENT = """\
# TimeoutStopSec is how long systemd lets the master take before it SIGKILLs everything, jobs
# included. `procsup startup` sets it above what a graceful stop of this config can take:
#     the longest stop_timeout of a task + the longest stop_timeout of a program + 40s
# (5s of SIGKILL grace, and the master's own 30s of slack before it kills what is left),
# at least 90s (which fits the defaults, stop_timeout = "10s"), rounded up to a whole minute.
# Workers migrated from supervisord with stopwaitsecs=3600 have stop_timeout = "1h": then
# 1h + 10s + 40s gives TimeoutStopSec=1h 1min (too short a value kills a job that was allowed
# to finish, the very thing stop_timeout is for). Run `procsup startup` again after raising one."""
RESTART_COMMENT = """\
# The master exits 0 after a requested stop, non-zero if it crashes or the config is bad;
# restart only on failure. Before restarting, systemd kills what is left in the cgroup; and a
# new master also looks for leftovers of a crashed one itself (state file, pid and start time)
# and stops them before starting fresh copies, so a worker never runs twice."""
EXIT2_COMMENT = (
    "# Exit status 2 is a configuration error: restarting will not fix it (see `procsup check`)."
)
NOFILE_COMMENT = "# Programs often need more than the default 1024 open files."


def documented_default() -> str:
    """contrib/procsup.service: the unit for /etc/procsup/procsup.toml with state and logs
    under /var (as its comments document) and procsup in /usr/local/bin."""
    from procsup.config.load import MasterConfig

    master = MasterConfig(
        socket=Path("/var/lib/procsup/procsup.sock"),
        state_dir=Path("/var/lib/procsup"),
        log_dir=Path("/var/log/procsup"),
        cli_autostart=False,
    )
    config = Config(Path("/etc/procsup/procsup.toml"), master, {}, {})
    return unit_text(config, [DEFAULT_EXECUTABLE])
