"""Loading and validating procsup.toml: real files under tmp_path, no mocks."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import textwrap
import tomllib
from importlib import resources
from pathlib import Path

import pytest
import tomli_w

from procsup.config.checks import every_interval, user_check
from procsup.config.dump import program_to_dict
from procsup.config.load import (
    ConfigError,
    ConfigIssue,
    ProgramConfig,
    deprecations,
    load_config,
    program_from_dict,
    task_from_dict,
)
from procsup.core.locate import find_config_path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def issues_of(path: Path) -> dict[str, ConfigIssue]:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return {issue.key: issue for issue in info.value.issues}


# -- happy paths --


def test_minimal_program_gets_defaults(tmp_path: Path) -> None:
    cfg_path = write(tmp_path / "procsup.toml", '[programs.queue]\ncommand = "php artisan q:w"\n')
    cfg = load_config(cfg_path)
    queue = cfg.programs["queue"]
    assert queue.command == ("php", "artisan", "q:w")
    assert queue.numprocs == 1
    assert queue.stop_signal is signal.SIGTERM
    assert queue.stdout_log == str(tmp_path / "logs" / "queue-{num}.out.log")
    assert queue.stderr_log == str(tmp_path / "logs" / "queue-{num}.err.log")
    assert cfg.path == cfg_path
    assert cfg.tasks == {}


def test_master_defaults_are_relative_to_the_config_folder(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path / "etc" / "procsup.toml", ""))
    assert cfg.master.state_dir == tmp_path / "etc" / "run"
    assert cfg.master.log_dir == tmp_path / "etc" / "logs"
    assert cfg.master.socket == tmp_path / "etc" / "run" / "procsup.sock"
    assert cfg.master.socket_mode == 0o600


def test_master_table_values(tmp_path: Path) -> None:
    path = write(
        tmp_path / "procsup.toml",
        """
        [procsup]
        state_dir = "/var/tmp/ps-state"
        log_dir = "../logs"
        socket_mode = "0660"
        socket_group = "root"
        redis_url = "redis://127.0.0.1:6379/0"
        """,
    )
    master = load_config(path).master
    assert master.socket == Path("/var/tmp/ps-state/procsup.sock")
    assert master.log_dir == tmp_path.parent / "logs"
    assert master.socket_mode == 0o660
    assert master.socket_group == "root"
    assert master.redis_url == "redis://127.0.0.1:6379/0"


def test_full_program_and_task(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    path = write(
        tmp_path / "procsup.toml",
        """
        [programs.queue]
        command = ["php", "artisan", "queue:work", "--name={num}"]
        numprocs = 8
        directory = "app"
        environment = { APP_ENV = "production", WORKERS = 4, RATIO = 1.5, DEBUG = false }
        autorestart = "on-failure"
        exit_codes = [0, 2]
        restart_delay = "500ms"
        restart_delay_max = "1m"
        stop_signal = "INT"
        max_memory = "512MB"
        restart_schedule = "0 4 * * *"
        stdout_log = "out/queue-{num}.log"
        log_max_size = 0
        log_timestamps = true

        [tasks.import]
        command = "php artisan import:data"
        schedule = "*/10 * * * * *"
        timezone = "Asia/Shanghai"
        overlap = "replace"
        timeout = "30m"
        on_failure = "notify-send 'import failed'"
        """,
    )
    cfg = load_config(path)
    queue = cfg.programs["queue"]
    assert queue.command[-1] == "--name={num}"
    assert queue.directory == tmp_path / "app"
    assert queue.environment == {
        "APP_ENV": "production",
        "WORKERS": "4",
        "RATIO": "1.5",
        "DEBUG": "false",
    }
    assert (queue.restart_delay, queue.restart_delay_max) == (0.5, 60.0)
    assert queue.exit_codes == frozenset({0, 2})
    assert queue.stop_signal is signal.SIGINT
    assert queue.max_memory == 512 * 1024**2
    assert queue.stdout_log == str(tmp_path / "out" / "queue-{num}.log")
    assert queue.stderr_log == str(tmp_path / "logs" / "queue-{num}.err.log")
    assert queue.log_max_size == 0
    task = cfg.tasks["import"]
    assert task.timeout == 1800.0
    assert task.on_failure == ("notify-send", "import failed")
    assert task.on_success is None
    assert task.stdout_log == str(tmp_path / "logs" / "task-import.out.log")
    assert task.stderr_log == str(tmp_path / "logs" / "task-import.err.log")


@pytest.mark.parametrize(
    "schedule", ["@every 30s", "@every 1h30m", "@daily", "@HOURLY", "0 4 * * 1-5", "*/5 * * * * *"]
)
def test_valid_schedules(tmp_path: Path, schedule: str) -> None:
    path = write(
        tmp_path / "procsup.toml", f'[tasks.t]\ncommand = "true"\nschedule = "{schedule}"\n'
    )
    assert load_config(path).tasks["t"].schedule in (schedule, schedule.lower())


def test_every_interval() -> None:
    assert every_interval("@every 30s") == 30.0
    assert every_interval("*/5 * * * *") is None
    with pytest.raises(ValueError):
        every_interval("@every soon")


def test_timeout_zero_means_none(tmp_path: Path) -> None:
    path = write(
        tmp_path / "p.toml", '[tasks.t]\ncommand = "true"\nschedule = "@daily"\ntimeout = 0'
    )
    assert load_config(path).tasks["t"].timeout is None


# -- issues --


def test_unknown_key_suggests_the_close_one(tmp_path: Path) -> None:
    path = write(tmp_path / "procsup.toml", '[programs.q]\ncommand = "x"\nnumproc = 3\n')
    issue = issues_of(path)["programs.q.numproc"]
    assert issue.message == "unknown key; did you mean 'numprocs'?"
    assert issue.value == 3
    assert issue.file == str(path)


def test_unknown_key_without_close_match_lists_allowed(tmp_path: Path) -> None:
    path = write(tmp_path / "procsup.toml", '[procsup]\nzzz = 1\n[program.q]\ncommand = "x"\n')
    issues = issues_of(path)
    message = issues["procsup.zzz"].message
    assert message.startswith("unknown key; allowed: ") and "include, log_dir" in message
    assert issues["program"].message == "unknown key; did you mean 'programs'?"


def test_every_issue_is_reported_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path / "procsup.toml",
        """
        [procsup]
        socket_mode = "0999"
        socket_group = "no-such-group-xyz"

        [programs.queue]
        command = "php artisan queue:work"
        numprocs = -1
        autorestart = "sometimes"
        restart_delay = "5x"
        stop_signal = "FOO"
        max_memory = "lots"
        log_backups = -1
        exit_codes = [300]
        directory = "missing-dir"

        [programs.web]
        numprocs = 2
        """,
    )
    issues = issues_of(path)
    expected = {
        "procsup.socket_mode": "permission bits",
        "procsup.socket_group": "no such group",
        "programs.queue.numprocs": "from 0 to 10000",
        "programs.queue.autorestart": '"always", "on-failure", "never"',
        "programs.queue.restart_delay": "duration like 500ms",
        "programs.queue.stop_signal": "unknown signal",
        "programs.queue.max_memory": "size like 512KB",
        "programs.queue.log_backups": "from 0 to 1000",
        "programs.queue.exit_codes": "0..255",
        "programs.queue.directory": "does not exist",
        "programs.web.command": "required key missing",
    }
    assert set(issues) == set(expected)
    for key, fragment in expected.items():
        assert fragment in issues[key].message, key
    assert issues["programs.queue.numprocs"].value == -1
    assert issues["programs.queue.directory"].value == "missing-dir"


def test_issue_str_names_file_key_value_and_fix(tmp_path: Path) -> None:
    path = write(tmp_path / "procsup.toml", '[programs.q]\ncommand = "x"\nnumprocs = -1\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: programs.q.numprocs = -1: must be from 0 to 10000"


def test_missing_schedule_and_command_for_task(tmp_path: Path) -> None:
    issues = issues_of(write(tmp_path / "procsup.toml", "[tasks.t]\njitter = 1\n"))
    assert set(issues) == {"tasks.t.command", "tasks.t.schedule"}
    assert issues["tasks.t.schedule"].value is None


def test_toml_syntax_error_is_one_issue_with_line(tmp_path: Path) -> None:
    path = write(tmp_path / "procsup.toml", '[programs.q]\ncommand = "x"\nnumprocs = = 2\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    (issue,) = info.value.issues
    assert issue.file == str(path)
    assert "invalid TOML" in issue.message
    assert "line 3" in issue.message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.toml")
    assert [i.message for i in info.value.issues] == ["file not found"]
    assert str(info.value) == f"{tmp_path / 'nope.toml'}: file not found"


@pytest.mark.parametrize(
    ("command", "fragment"),
    [('"echo \'unclosed"', "cannot split"), ('""', "must not be empty"), ("[]", "not be empty")],
)
def test_bad_commands(tmp_path: Path, command: str, fragment: str) -> None:
    path = write(tmp_path / "procsup.toml", f"[programs.q]\ncommand = {command}\n")
    assert fragment in issues_of(path)["programs.q.command"].message


@pytest.mark.parametrize("name", ["a:b", "queue*", "has space", "all"])
def test_bad_names(tmp_path: Path, name: str) -> None:
    path = write(tmp_path / "procsup.toml", f'[programs."{name}"]\ncommand = "x"\n')
    assert f"programs.{name}" in issues_of(path)


def test_program_and_task_may_not_share_a_name(tmp_path: Path) -> None:
    path = write(
        tmp_path / "procsup.toml",
        '[programs.x]\ncommand = "a"\n[tasks.x]\ncommand = "a"\nschedule = "@daily"\n',
    )
    assert "rename one" in issues_of(path)["tasks.x"].message


def test_restart_delay_max_below_restart_delay(tmp_path: Path) -> None:
    path = write(tmp_path / "procsup.toml", '[programs.q]\ncommand = "x"\nrestart_delay = "2m"\n')
    issue = issues_of(path)["programs.q.restart_delay_max"]
    assert "at least restart_delay" in issue.message


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("restart_schedule", '"61 * * * *"', "minute 61 is out of range 0–59"),
        ("restart_schedule", '"@every 5m"', "cron expression"),
        ("restart_schedule", '"* * * *"', "cron expression"),
        ("environment", "{ A = [1] }", "expected a string"),
        ("stdout_log", '"logs/{name}.log"', "only {num}"),
        ("autostart", '"yes"', "true or false"),
    ],
)
def test_bad_program_values(tmp_path: Path, key: str, value: str, fragment: str) -> None:
    path = write(tmp_path / "procsup.toml", f'[programs.q]\ncommand = "x"\n{key} = {value}\n')
    assert fragment in issues_of(path)[f"programs.q.{key}"].message


@pytest.mark.parametrize(
    "schedule",
    ["61 * * * *", "* * * *", "* * * * * * *", "@reboot", "@every 0s", "@every x", "0 0 30 2 *"],
)
def test_invalid_schedule(tmp_path: Path, schedule: str) -> None:
    path = write(tmp_path / "p.toml", f'[tasks.t]\ncommand = "x"\nschedule = "{schedule}"\n')
    assert "tasks.t.schedule" in issues_of(path)


def test_schedule_that_never_fires_says_so(tmp_path: Path) -> None:
    path = write(tmp_path / "p.toml", '[tasks.t]\ncommand = "x"\nschedule = "0 0 30 2 *"\n')
    assert "never fires" in issues_of(path)["tasks.t.schedule"].message


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ("0 25 * * *", "hour 25 is out of range 0–23"),
        ("61 * * * *", "minute 61 is out of range 0–59"),
        ("60 * * * * *", "second 60 is out of range 0–59"),
        ("0 0 32 * *", "day of month 32 is out of range 1–31"),
        ("0 0 0 * *", "day of month 0 is out of range 1–31"),
        ("0 0 * 13 *", "month 13 is out of range 1–12"),
        ("0 0 * * 8", "day of week 8 is out of range 0–7"),
        ("0 9-25 * * *", "hour 25 is out of range 0–23"),
        ("*/0 * * * *", "minute step /0 must be a whole number of 1 or more"),
    ],
)
def test_cron_errors_name_the_field_and_its_range(
    tmp_path: Path, schedule: str, message: str
) -> None:
    path = write(tmp_path / "p.toml", f'[tasks.t]\ncommand = "x"\nschedule = "{schedule}"\n')
    issue = issues_of(path)["tasks.t.schedule"]
    assert issue.message == message
    assert str(issue).endswith(f'tasks.t.schedule = "{schedule}": {message}')
    restart = write(
        tmp_path / "r.toml", f'[programs.p]\ncommand = "x"\nrestart_schedule = "{schedule}"'
    )
    assert issues_of(restart)["programs.p.restart_schedule"].message == message


def test_errors_show_values_as_toml_not_python(tmp_path: Path) -> None:
    path = write(
        tmp_path / "p.toml",
        """
        [programs.q]
        command = "x"
        autorestrat = true
        numprocs = "8"
        autostart = "yes"
        exit_codes = ["0"]
        environment = { "A B" = [1] }
        """,
    )
    text = {key: str(issue) for key, issue in issues_of(path).items()}
    assert text["programs.q.autorestrat"].endswith(
        "programs.q.autorestrat = true: unknown key; did you mean 'autorestart'?"
    )
    assert text["programs.q.numprocs"].endswith(
        'programs.q.numprocs = "8": must be an integer, not a string (from 0 to 10000; no quotes)'
    )
    assert text["programs.q.autostart"].endswith(
        'programs.q.autostart = "yes": must be true or false, not a string'
    )
    assert 'programs.q.exit_codes = ["0"]: ' in text["programs.q.exit_codes"]
    assert 'programs.q.environment = { "A B" = [1] }: ' in text["programs.q.environment"]
    assert not any("True" in t or "'" in t.split(": ", 2)[1] for t in text.values()), text


def test_invalid_timezone(tmp_path: Path) -> None:
    path = write(
        tmp_path / "p.toml", '[tasks.t]\ncommand = "x"\nschedule = "@daily"\ntimezone = "Mars/Base"'
    )
    issue = issues_of(path)["tasks.t.timezone"]
    assert issue.message == "unknown time zone; use an IANA name like Europe/Berlin"


def test_redis_lock_needs_redis_url(tmp_path: Path) -> None:
    task = '[tasks.t]\ncommand = "x"\nschedule = "@daily"\nlock = "redis"\n'
    issue = issues_of(write(tmp_path / "a.toml", task))["tasks.t.lock"]
    assert "redis_url" in issue.message
    ok = write(tmp_path / "b.toml", '[procsup]\nredis_url = "redis://localhost/0"\n' + task)
    assert load_config(ok).tasks["t"].lock == "redis"


def test_cluster_keys_are_checked_and_need_each_other(tmp_path: Path) -> None:
    url = 'redis_url = "redis://u:p@localhost/0"\n'
    good = write(
        tmp_path / "ok.toml",
        "[procsup]\n" + url + 'cluster = "shop"\nnode_name = "web-1"\n'
        'heartbeat_interval = "2s"\nremote_control = true\n',
    )
    master = load_config(good).master
    assert (master.cluster, master.node_name, master.heartbeat_interval) == ("shop", "web-1", 2.0)
    assert master.remote_control is True
    assert load_config(write(tmp_path / "d.toml", "[procsup]\n")).master.heartbeat_interval == 5.0
    found = issues_of(
        write(
            tmp_path / "bad.toml",
            '[procsup]\ncluster = "a b"\nheartbeat_interval = "10m"\nnode_name = ""\n',
        )
    )
    assert "letters, digits" in found["procsup.cluster"].message
    assert "100ms to 5m" in found["procsup.heartbeat_interval"].message
    assert "must not be empty" in found["procsup.node_name"].message
    lonely = issues_of(write(tmp_path / "l.toml", '[procsup]\ncluster = "shop"\n'))
    assert "needs redis_url" in lonely["procsup.cluster"].message
    no_cluster = issues_of(
        write(tmp_path / "n.toml", "[procsup]\n" + url + "remote_control = true\n")
    )
    assert "needs cluster" in no_cluster["procsup.remote_control"].message


def test_unknown_user(tmp_path: Path) -> None:
    path = write(tmp_path / "p.toml", '[programs.q]\ncommand = "x"\nuser = "no-such-user-xyz"\n')
    assert issues_of(path)["programs.q.user"].message == "no such user on this host"


def test_user_needs_root() -> None:
    assert user_check(True)("root") == "root"
    with pytest.raises(ValueError, match="only be set when procsup runs as root"):
        user_check(False)("root")


# -- includes --


def test_includes_add_programs_and_tasks(tmp_path: Path) -> None:
    path = write(
        tmp_path / "procsup.toml",
        '[procsup]\ninclude = ["conf.d/*.toml"]\n[programs.a]\ncommand = "a"\n',
    )
    write(tmp_path / "conf.d" / "b.toml", '[programs.b]\ncommand = "b"\nstdout_log = "b.log"\n')
    write(tmp_path / "conf.d" / "c.toml", '[tasks.c]\ncommand = "c"\nschedule = "@hourly"\n')
    cfg = load_config(path)
    assert set(cfg.programs) == {"a", "b"}
    assert set(cfg.tasks) == {"c"}
    # relative paths in included files are relative to the main config's folder
    assert cfg.programs["b"].stdout_log == str(tmp_path / "b.log")


def test_include_glob_without_matches_is_fine(tmp_path: Path) -> None:
    path = write(tmp_path / "procsup.toml", '[procsup]\ninclude = ["conf.d/*.toml"]\n')
    assert load_config(path).programs == {}


def test_include_literal_missing_file(tmp_path: Path) -> None:
    path = write(tmp_path / "procsup.toml", '[procsup]\ninclude = ["extra.toml"]\n')
    assert "not found" in issues_of(path)["procsup.include"].message


def test_duplicate_across_files_names_both(tmp_path: Path) -> None:
    path = write(
        tmp_path / "procsup.toml",
        '[procsup]\ninclude = ["*.d.toml"]\n[programs.a]\ncommand = "a"\n',
    )
    other = write(tmp_path / "x.d.toml", '[programs.a]\ncommand = "again"\n')
    issue = issues_of(path)["programs.a"]
    assert issue.file == str(other)
    assert str(path) in issue.message and str(other) in issue.message


def test_included_file_may_hold_only_programs_and_tasks(tmp_path: Path) -> None:
    path = write(tmp_path / "procsup.toml", '[procsup]\ninclude = ["conf.d/*.toml"]\n')
    bad = write(tmp_path / "conf.d" / "bad.toml", '[procsup]\nlog_dir = "x"\n[programs.b]\n')
    issues = issues_of(path)
    assert "only allowed in the main config" in issues["procsup"].message
    assert issues["procsup"].file == str(bad)
    assert issues["programs.b.command"].file == str(bad)


def test_errors_in_included_file_carry_its_name(tmp_path: Path) -> None:
    path = write(tmp_path / "procsup.toml", '[procsup]\ninclude = ["conf.d/*.toml"]\n')
    bad = write(tmp_path / "conf.d" / "bad.toml", "[programs.b\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert [i.file for i in info.value.issues] == [str(bad)]


# -- master fast path and config discovery --


def test_finding_the_socket_imports_no_cron_or_zoneinfo(tmp_path: Path) -> None:
    path = write(tmp_path / "procsup.toml", '[tasks.t]\ncommand = "x"\nschedule = "@daily"\n')
    code = (
        "import sys; from procsup.core.locate import master_paths; "
        f"master_paths({str(path)!r}); "
        "print(sorted(m for m in ('croniter', 'zoneinfo') if m in sys.modules))"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    )
    assert out.stdout.strip() == "[]"


def found(explicit: str | None) -> Path:
    return Path(find_config_path(explicit))


def test_find_config_path_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home, work = tmp_path / "home", tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("PROCSUP_CONFIG", raising=False)
    assert found(None) in (
        work / "procsup.toml",
        Path("/etc/procsup/procsup.toml"),
    )
    user_cfg = write(home / ".config" / "procsup" / "procsup.toml", "")
    assert found(None) == user_cfg
    local = write(work / "procsup.toml", "")
    assert found(None) == local
    monkeypatch.setenv("PROCSUP_CONFIG", str(tmp_path / "env.toml"))
    assert found(None) == tmp_path / "env.toml"  # named, so returned even if missing
    assert found("other.toml") == work / "other.toml"


# -- program_from_dict / program_to_dict --


def test_program_from_dict_raises_with_key_paths(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        program_from_dict("web", {"command": "x", "numprocs": -1}, tmp_path, tmp_path / "logs")
    (issue,) = info.value.issues
    assert (issue.file, issue.key) == ("<ad-hoc>", "programs.web.numprocs")


def test_task_from_dict(tmp_path: Path) -> None:
    task = task_from_dict("t", {"command": "x", "schedule": "@every 5s"}, tmp_path, tmp_path)
    assert task.command == ("x",)


def test_default_program_round_trips_to_just_the_command(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    p = program_from_dict("q", {"command": "php artisan 'queue:work' --x"}, tmp_path, logs)
    assert program_to_dict(p, logs) == {"command": "php artisan queue:work --x"}


def test_program_to_dict_round_trip(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    raw = {
        "command": ["my daemon", "--name", "w{num}", "it's"],
        "numprocs": 3,
        "directory": str(tmp_path),
        "environment": {"A": "1", "B": "x y"},
        "user": "root",
        "autostart": False,
        "autorestart": "never",
        "exit_codes": [0, 3],
        "start_seconds": 0.25,
        "restart_delay": "2s",
        "restart_delay_max": "1h30m",
        "min_uptime": 0,
        "max_restarts": 7,
        "stop_signal": "QUIT",
        "stop_timeout": 3,
        "max_memory": 1000,
        "restart_schedule": "0 4 * * *",
        "stdout_log": "/var/log/x-{num}.log",
        "merge_stderr": True,
        "log_max_size": "1GB",
        "log_backups": 0,
        "log_timestamps": True,
    }
    p = program_from_dict("w", raw, tmp_path, logs)
    out = program_to_dict(p, logs)
    assert "stderr_log" not in out and out["stdout_log"] == "/var/log/x-{num}.log"
    assert out["stop_signal"] == "QUIT"
    assert out["restart_delay_max"] == "1h30m"
    assert program_from_dict("w", out, tmp_path, logs) == p
    # and through a real TOML file, as `procsup save` writes it
    reread = tomllib.loads(tomli_w.dumps({"programs": {"w": out}}))["programs"]["w"]
    assert program_from_dict("w", reread, tmp_path, logs) == p


def test_program_config_dataclass_defaults_match_loader(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    loaded = program_from_dict("q", {"command": "x"}, tmp_path, logs)
    default = ProgramConfig(
        name="q",
        command=("x",),
        stdout_log=str(logs / "q-{num}.out.log"),
        stderr_log=str(logs / "q-{num}.err.log"),
    )
    assert loaded == default


# -- the `procsup init` template --


def _template() -> str:
    return (resources.files("procsup") / "init_template.toml").read_text()


def test_init_template_is_valid(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path / "procsup.toml", _template()))
    assert list(cfg.programs) == ["example"]


def test_init_template_commented_examples_are_valid(tmp_path: Path) -> None:
    host_specific = {"directory", "user", "redis_url", "include"}
    lines = []
    for line in _template().splitlines():
        match = re.match(r"# (\[[\w.]+\]|(\w+) = .*)$", line)
        if match and match.group(2) not in host_specific:
            line = line[2:]
        lines.append(line)
    cfg = load_config(write(tmp_path / "procsup.toml", "\n".join(lines)))
    assert cfg.tasks["hello"].timezone == "Europe/Berlin"
    assert cfg.programs["example"].max_memory == 512 * 1024**2


def test_connection_limits_are_checked(tmp_path: Path) -> None:
    path = write(
        tmp_path / "procsup.toml",
        '[procsup]\nmax_connections = 0\nidle_timeout = "0s"\n[programs.q]\ncommand = "x"\n',
    )
    issues = issues_of(path)
    assert issues["procsup.max_connections"].message == "must be from 1 to 100000"
    assert "more than 0" in issues["procsup.idle_timeout"].message


def test_min_uptime_is_accepted_but_deprecated(tmp_path: Path) -> None:
    path = write(tmp_path / "procsup.toml", '[programs.q]\ncommand = "x"\nmin_uptime = "30s"\n')
    config = load_config(path)
    assert config.programs["q"].min_uptime == 30.0
    (warning,) = deprecations(config)
    assert warning.startswith("programs.q.min_uptime is deprecated and ignored")
