"""pm2 ecosystem files (JSON, YAML, JS through `node`) and pm2 dumps (`~/.pm2/dump.pm2`) →
procsup tables.

pm2 durations are milliseconds when they are numbers; sizes use K/M/G. Lines for warnings
come from a scan of the source text (the first line naming the key after the app's name).
"""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path
from typing import Any

from procsup.cli.migrate import pm2_files
from procsup.cli.migrate.common import Conversion, Entry, line_of, read_text
from procsup.core.values import duration_for_toml, parse_duration

KIND = "pm2"
#: keys a pm2 dump holds about the process's run, not its configuration
DUMP_RUNTIME = {
    "pm_id", "status", "pm_uptime", "created_at", "restart_time", "unstable_restarts",
    "versioning", "axm_actions", "axm_monitor", "axm_options", "axm_dynamic", "vizion_running",
    "km_link", "pm_pid_path", "pm_log_path", "username", "windowsHide", "unique_id", "exit_code",
    "node_version", "prev_restart_delay", "version", "instance_var", "filter_env", "vizion",
    "automation", "pmx", "treekill", "exec_interpreter", "pm_exec_path", "pm_cwd",
    "pm_out_log_path", "pm_err_log_path", "exec_mode", "env", "name", "args", "node_args",
    "autorestart", "instances", "merge_logs", "namespace",
}  # fmt: skip
DUMP_ALIASES = {
    "pm_exec_path": "script",
    "pm_cwd": "cwd",
    "exec_interpreter": "interpreter",
    "node_args": "interpreter_args",
    "pm_out_log_path": "out_file",
    "pm_err_log_path": "error_file",
}
UNMAPPED = {
    "watch": "file watching is not supported; restart on deploy with `procsup restart`",
    "ignore_watch": "file watching is not supported",
    "watch_options": "file watching is not supported",
    "log_file": "no combined log file; procsup keeps stdout and stderr files (merge_stderr)",
    "pid_file": "procsup keeps pids in its state file",
    "namespace": "no namespaces; act on several programs with globs",
    "source_map_support": "a node option; put --enable-source-maps in interpreter_args",
    "instance_var": "each instance gets PROCSUP_PROCESS_NUM instead",
    "increment_var": 'use {num} in environment, e.g. PORT = "300{num}"',
    "vizion": "no version metadata",
    "shutdown_with_message": "procsup stops with stop_signal",
    "force": "not needed",
    "post_update": "no deploy hooks",
}


def convert(path: Path, env_name: str | None) -> Conversion:
    text = read_text(path)
    apps = pm2_files.apps(path, text)
    conv = Conversion(sources=[(str(path), KIND)])
    for app in apps:
        if not isinstance(app, dict):
            conv.warn(path, None, f"an app that is not an object: {str(app)[:60]!r}; skipped")
            continue
        _App(path, text, app, conv, env_name).convert()
    return conv


def _ms(value: Any) -> float:
    """pm2 times: a number is milliseconds; a string like "10s" or "1h" is a duration."""
    if isinstance(value, bool):
        raise ValueError(f"expected milliseconds, not {value}")
    if isinstance(value, int | float):
        return value / 1000
    text = str(value).strip()
    return float(text) / 1000 if re.fullmatch(r"\d+(\.\d+)?", text) else parse_duration(text)


def _size(value: Any) -> str:
    """pm2's "300M" / "1G" / "512K" or bytes → a procsup size."""
    text = str(value).strip().upper()
    match = re.fullmatch(r"(\d+)\s*([KMG])?B?", text)
    if match is None:
        raise ValueError(f"expected a size like 300M, not {value!r}")
    return match.group(1) + (match.group(2) + "B" if match.group(2) else "")


class _App:
    """One pm2 app: the mapping of each pm2 key."""

    def __init__(
        self, path: Path, text: str, app: dict[str, Any], conv: Conversion, env: str | None
    ) -> None:
        self.dump = "pm_exec_path" in app
        self.app = {DUMP_ALIASES.get(k, k): v for k, v in app.items()} if self.dump else app
        self.path, self.text, self.conv, self.env_name = path, text, conv, env
        self.table: dict[str, Any] = {}
        self.comments: list[str] = []
        script = str(self.app.get("script", ""))
        self.name = str(self.app.get("name") or Path(script).stem or "app")
        named = rf"""\bname["']?\s*:\s*["']?{re.escape(self.name)}\b"""
        self.start = line_of(text, named) or line_of(text, re.escape(script) or "^") or 1
        self.instances = 1

    def line(self, key: str) -> int | None:
        return line_of(self.text, rf"[\"']?\b{re.escape(key)}\b[\"']?\s*:", self.start)

    def warn(self, key: str, message: str) -> None:
        self.conv.warn(self.path, self.line(key), f"{self.name}: {key}: {message}")

    def convert(self) -> None:
        if not self.app.get("script"):
            self.conv.warn(self.path, self.start, f"{self.name}: no script; skipped")
            return
        handled = {"name", "script", "args", "interpreter", "interpreter_args", "env"}
        handled |= {"exec_interpreter", "node_args"}
        self._command()
        self._instances()
        for key, value in self.app.items():
            handler = getattr(self, f"_k_{key}", None)
            if handler is not None:
                try:
                    handler(value)
                except (ValueError, TypeError) as exc:
                    self.warn(key, str(exc))
            elif key.startswith("env_"):
                self._k_env_named(key, value)
            elif self.dump and (key in DUMP_RUNTIME | handled or key.isupper()):
                continue  # run state, or a copy of an env variable (also in `env`)
            elif key not in handled:
                self.warn(key, f"not imported: {UNMAPPED.get(key, 'unknown pm2 key')}")
        self._environment()
        self._defaults()
        self.conv.add(
            Entry("programs", self.name, self.table, self.comments), self.path, self.start
        )

    def _command(self) -> None:
        script = str(self.app["script"])
        cwd = os.path.join(self.path.parent, str(self.app.get("cwd") or "."))
        interpreter = self.app.get("interpreter") or self.app.get("exec_interpreter")
        if interpreter is None and script.endswith((".js", ".cjs", ".mjs")):
            interpreter = "node"
        argv = []
        if interpreter and interpreter != "none":
            argv.append(str(interpreter))
            argv += _words(self.app.get("interpreter_args") or self.app.get("node_args"))
            if not os.path.isabs(script):
                script = os.path.normpath(os.path.join(cwd, script))
        argv.append(script)
        argv += _words(self.app.get("args"))
        self.table["command"] = shlex.join(argv)

    def _instances(self) -> None:
        value = self.app.get("instances", 1)
        cpus = os.cpu_count() or 1
        if value in ("max", 0, "0"):
            self.instances = cpus
        elif value in (-1, "-1"):
            self.instances = max(cpus - 1, 1)
        else:
            try:
                self.instances = max(int(value), 1)
            except (TypeError, ValueError):
                self.warn("instances", f"not a number: {value!r}; one instance")
        if str(value) in ("max", "0", "-1"):
            self.comments.append(f"instances={value}: {self.instances} on this host ({cpus} CPUs)")
        if self.instances != 1:
            self.table["numprocs"] = self.instances

    def _environment(self) -> None:
        env = dict(self.app.get("env") or {})
        if self.env_name:
            chosen = self.app.get(f"env_{self.env_name}")
            if isinstance(chosen, dict):
                env |= chosen
                self.comments.append(f"environment: env merged with env_{self.env_name}")
        if env:
            self.table["environment"] = {str(k): _str(v) for k, v in env.items()}

    def _defaults(self) -> None:
        # pm2 runs an app in the folder `pm2 start` ran in, usually the ecosystem file's
        self.table.setdefault("directory", str(self.path.parent))
        if "max_restarts" not in self.table and self.table.get("autorestart") != "never":
            self.table["max_restarts"] = 16
            self.comments.append("max_restarts = 16: pm2's default")
        if "start_seconds" not in self.table:
            self.comments.append("start_seconds = 1: pm2's min_uptime default (1s) too")

    # -- one method per pm2 key --------------------------------------------------------------

    def _k_env_named(self, key: str, value: Any) -> None:
        if key != f"env_{self.env_name}":
            self.warn(key, f"not used; pick it with `procsup import --env {key[4:]}`")

    def _k_cwd(self, v: Any) -> None:
        self.table["directory"] = os.path.normpath(os.path.join(self.path.parent, str(v)))

    def _k_instances(self, v: Any) -> None:
        """Handled by _instances."""

    def _k_exec_mode(self, v: Any) -> None:
        if "cluster" in str(v):
            self.warn(
                "exec_mode",
                "cluster: each instance becomes a separate process; if they listen on one "
                'port give each its own (environment PORT = "300{num}") or use SO_REUSEPORT',
            )

    def _k_autorestart(self, v: Any) -> None:
        if v is False or str(v).lower() == "false":
            self.table["autorestart"] = "never"

    def _k_autostart(self, v: Any) -> None:
        if v is False:
            self.table["autostart"] = False

    def _k_max_restarts(self, v: Any) -> None:
        count = int(v)
        if count <= 0:
            raise ValueError(f"{count}: procsup's max_restarts 0 means never give up; not set")
        self.table["max_restarts"] = count
        self.comments.append(
            f"max_restarts = {count}: FATAL after {count} restarts in a row that each ran "
            "less than start_seconds (pm2's min_uptime), as pm2 counts unstable restarts"
        )

    def _k_min_uptime(self, v: Any) -> None:
        self.table["start_seconds"] = duration_for_toml(_ms(v))

    def _k_restart_delay(self, v: Any) -> None:
        delay = duration_for_toml(_ms(v))
        if "exp_backoff_restart_delay" not in self.app:
            self.table["restart_delay"] = self.table["restart_delay_max"] = delay
            self.comments.append(
                "restart_delay: fixed (restart_delay_max the same) for failed starts; a run "
                "past start_seconds is restarted at once"
            )

    def _k_exp_backoff_restart_delay(self, v: Any) -> None:
        self.table["restart_delay"] = duration_for_toml(_ms(v))
        self.table["restart_delay_max"] = "15s"  # pm2's cap
        self.comments.append("exp_backoff_restart_delay: doubling from restart_delay up to 15s")

    def _k_max_memory_restart(self, v: Any) -> None:
        self.table["max_memory"] = _size(v)

    def _k_cron_restart(self, v: Any) -> None:
        self.table["restart_schedule"] = str(v)

    def _k_kill_timeout(self, v: Any) -> None:
        self.table["stop_timeout"] = duration_for_toml(_ms(v))

    def _k_out_file(self, v: Any) -> None:
        self._log("out_file", "stdout_log", v)

    def _k_error_file(self, v: Any) -> None:
        self._log("error_file", "stderr_log", v)

    def _log(self, key: str, target: str, v: Any) -> None:
        text = str(v)
        if text in ("/dev/null", "NULL"):
            self.warn(key, f"{text}: procsup always keeps output; it goes to the default file")
            return
        path = os.path.normpath(os.path.join(self.path.parent, os.path.expanduser(text)))
        if self.instances > 1 and not self.app.get("merge_logs", self.app.get("combine_logs")):
            stem, dot, ext = path.rpartition(".")
            path = f"{stem}-{{num}}.{ext}" if dot and "/" not in ext else f"{path}-{{num}}"
            self.comments.append(f"{key}: one file per instance, like pm2 without merge_logs")
        self.table[target] = path

    def _k_merge_logs(self, v: Any) -> None:
        if v:
            self.comments.append("merge_logs: every instance writes the same files")

    _k_combine_logs = _k_merge_logs

    def _k_log_date_format(self, v: Any) -> None:
        self.table["log_timestamps"] = True
        self.comments.append(f"log_date_format {v!r}: procsup's own time prefix")

    def _k_time(self, v: Any) -> None:
        if v:
            self.table["log_timestamps"] = True

    def _k_stop_exit_codes(self, v: Any) -> None:
        codes = [int(c) for c in (v if isinstance(v, list) else [v])]
        self.table["exit_codes"] = codes
        self.table.setdefault("autorestart", "on-failure")

    def _k_wait_ready(self, v: Any) -> None:
        if v:
            self.warn(
                "wait_ready",
                "process.send('ready') is not read; RUNNING after start_seconds. To wait for "
                "the app: notify = true and send READY=1 to NOTIFY_SOCKET, or add a "
                "[programs.NAME.readiness] probe (README: Health)",
            )

    def _k_listen_timeout(self, v: Any) -> None:
        self.table["start_seconds"] = duration_for_toml(_ms(v))
        self.comments.append("listen_timeout: start_seconds (RUNNING after it)")

    def _k_user(self, v: Any) -> None:
        self.table["user"] = str(v)

    _k_uid = _k_user


def _words(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return shlex.split(str(value))


def _str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)
