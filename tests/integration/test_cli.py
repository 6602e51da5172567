"""The `procsup` command line as a user meets it: check, init, errors, import cost, ad-hoc
programs, scale, version."""

from __future__ import annotations

import json
import subprocess
import textwrap
import time
from pathlib import Path

import psutil

import procsup
from procsup.config.load import load_config
from tests.harness import CHILDREN, PY, child, env_without_master, wait_for


def procsup_cli(
    *args: str, cwd: Path | None = None, timeout: float = 30, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m procsup ARGS` with no $PROCSUP_CONFIG and a HOME without a config; `env`
    adds variables."""
    extra, env = env or {}, env_without_master()
    env.pop("PROCSUP_NO_AUTOSTART", None)
    env |= extra
    env["HOME"] = str(cwd or Path("/nonexistent"))
    return subprocess.run(
        [PY, "-m", "procsup", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, f"expected a one-line error, got: {stderr!r}"
    return lines[0]


# --- check and init ---------------------------------------------------------------------------


def test_check_accepts_a_good_config_and_lists_what_would_run(tmp_path):
    cfg = write(
        tmp_path / "procsup.toml",
        f"""
        [programs.web]
        command = "{child("sleeper.py")}"
        numprocs = 2
        [programs.worker]
        command = "sleep 100"
        autostart = false
        [tasks.tick]
        command = "true"
        schedule = "@every 30s"
        """,
    )
    result = procsup_cli("-c", str(cfg), "check")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"{cfg}: ok" in out
    assert "program web: 2 ×" in out and "sleeper.py" in out and "(autostart)" in out
    assert "program worker: 1 × sleep 100 (manual start)" in out
    assert "task tick: @every 30s" in out
    as_json = procsup_cli("-c", str(cfg), "check", "--json")
    assert as_json.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    assert data["programs"] == {"web": 2, "worker": 1}
    assert data["tasks"] == {"tick": "@every 30s"}


def test_check_reports_every_error_with_file_key_and_value(tmp_path):
    main = write(
        tmp_path / "procsup.toml",
        """
        [procsup]
        socket_mode = "77x"
        include = ["conf.d/*.toml"]

        [programs.web]
        command = "sleep 100"
        numproc = 2
        stop_signal = "BOGUS"
        restart_delay = "ten seconds"
        autorestart = "sometimes"

        [programs.q]
        numprocs = -1

        [tasks.t]
        command = "true"
        schedule = "not a cron"
        timezone = "Mars/Olympus"
        """,
    )
    extra = write(
        tmp_path / "conf.d" / "extra.toml",
        """
        [programs.extra]
        command = "true"
        max_memory = "lots"
        """,
    )
    expected = [
        (main, "procsup.socket_mode", '"77x"'),
        (main, "programs.web.numproc", "2"),
        (main, "programs.web.stop_signal", '"BOGUS"'),
        (main, "programs.web.restart_delay", '"ten seconds"'),
        (main, "programs.web.autorestart", '"sometimes"'),
        (main, "programs.q.numprocs", "-1"),
        (main, "programs.q.command", None),  # missing: no value to show
        (main, "tasks.t.schedule", '"not a cron"'),
        (main, "tasks.t.timezone", '"Mars/Olympus"'),
        (extra, "programs.extra.max_memory", '"lots"'),
    ]
    result = procsup_cli("-c", str(main), "check")
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    for file, key, value in expected:
        prefix = f"error: {file}: {key}" + (f" = {value}: " if value is not None else ": ")
        matching = [line for line in errors if line.startswith(prefix)]
        assert len(matching) == 1, (prefix, result.stderr)
    assert len(errors) == len(expected), result.stderr
    numproc = next(line for line in errors if "programs.web.numproc " in line)
    assert "did you mean 'numprocs'?" in numproc
    assert "required key missing" in next(line for line in errors if "programs.q.command" in line)
    assert f"{len(expected)} error(s)" in result.stderr
    assert result.stdout == ""


def test_check_warns_about_commands_that_cannot_run(tmp_path):
    app = tmp_path / "app"
    write(app / "bin" / "good.sh", "#!/bin/sh\necho hi\n").chmod(0o755)
    write(app / "bin" / "plain.sh", "#!/bin/sh\necho hi\n").chmod(0o644)
    cfg = write(
        tmp_path / "procsup.toml",
        """
        [programs.typo]
        command = "phpp artisan queue:work"
        [programs.folder]
        command = "app/bin"
        [programs.missing]
        command = "./bin/worker.sh"
        directory = "app"
        [programs.plain]
        command = "bin/plain.sh"
        directory = "app"
        [programs.own_path]
        command = "sleep 100"
        environment = { PATH = "/nonexistent/bin" }
        [programs.good]
        command = "./bin/good.sh"
        directory = "app"
        [programs.on_path]
        command = "sleep 100"
        [tasks.t]
        command = "true"
        schedule = "@daily"
        on_failure = "notify-sendx failed"
        """,
    )
    result = procsup_cli("-c", str(cfg), "check")
    assert result.returncode == 0, result.stderr  # warnings, not errors
    assert f"{cfg}: ok" in result.stdout
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    by_key = {line.split(": ")[2].split(" = ")[0]: line for line in warnings}
    expected = {
        "programs.typo.command": 'phpp artisan queue:work": phpp not found in PATH=',
        "programs.folder.command": f"{tmp_path}/app/bin is a directory, not a program",
        "programs.missing.command": f"{app}/bin/worker.sh does not exist (relative to {app})",
        "programs.plain.command": f"{app}/bin/plain.sh is not executable (relative to {app})",
        "programs.own_path.command": "sleep not found in PATH=/nonexistent/bin",
        "tasks.t.on_failure": "notify-sendx not found in PATH=",
    }
    assert set(by_key) == set(expected), result.stderr
    for key, fragment in expected.items():
        assert by_key[key].startswith(f"warning: {cfg}: {key} = "), by_key[key]
        assert fragment in by_key[key], by_key[key]
    assert f"{len(expected)} warning(s)" in result.stderr

    strict = procsup_cli("-c", str(cfg), "check", "--strict")
    assert strict.returncode == 1
    as_json = procsup_cli("-c", str(cfg), "check", "--json", "--strict")
    assert as_json.returncode == 1
    assert len(json.loads(as_json.stdout)["warnings"]) == len(expected)

    cfg.write_text('[programs.good]\ncommand = "./bin/good.sh"\ndirectory = "app"\n')
    clean = procsup_cli("-c", str(cfg), "check", "--strict")
    assert clean.returncode == 0 and clean.stderr == "", clean.stderr


def test_init_writes_a_config_that_check_accepts_and_never_overwrites(tmp_path):
    first = procsup_cli("init", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    written = tmp_path / "procsup.toml"
    assert written.is_file()
    checked = procsup_cli("check", cwd=tmp_path)  # found as ./procsup.toml
    assert checked.returncode == 0, checked.stderr
    assert "program example" in checked.stdout
    before = written.read_text()
    written.write_text(before + "\n# my edits\n")
    again = procsup_cli("init", cwd=tmp_path)
    assert again.returncode != 0
    assert "exists" in one_line(again.stderr)
    assert written.read_text() == before + "\n# my edits\n"
    other = procsup_cli("init", "sub.toml", cwd=tmp_path)
    assert other.returncode == 0, other.stderr
    assert (tmp_path / "sub.toml").read_text() == before


# --- errors people see ------------------------------------------------------------------------


def test_missing_config_gives_a_one_line_error(tmp_path):
    result = procsup_cli("-c", "missing.toml", "list", cwd=tmp_path)
    assert result.returncode == 3
    line = one_line(result.stderr)
    assert "missing.toml" in line and "procsup init" in line
    # `start` would start a master: it says the file is missing instead.
    auto = procsup_cli("-c", "missing.toml", "start", cwd=tmp_path)
    assert auto.returncode == 2
    line = one_line(auto.stderr)
    assert "missing.toml" in line and "procsup init" in line
    assert list(tmp_path.iterdir()) == []  # no master started, nothing written


#: every verb that needs a master but must never start one, with its arguments
READ_ONLY_VERBS = [
    ["list"],
    ["ls", "--json"],
    ["status"],
    ["tasks"],
    ["history"],
    ["logs"],
    ["scale", "w", "2"],
    ["events"],
    ["stop", "all"],
    ["signal", "HUP", "w"],
    ["remove", "w"],
    ["reload"],
    ["save"],
    ["shutdown"],
]


def test_only_start_restart_run_tui_and_daemon_start_a_master(tmp_path):
    cfg = write(tmp_path / "procsup.toml", '[programs.w]\ncommand = "sleep 100"\n')
    for args in READ_ONLY_VERBS:
        result = procsup_cli("-c", str(cfg), *args, cwd=tmp_path)
        assert result.returncode == 3, (args, result.stderr)
        line = one_line(result.stderr)
        assert "no procsup master" in line and "`procsup start`" in line, line
        assert "`procsup daemon`" in line, line
    assert not (tmp_path / "run").exists() and not (tmp_path / "logs").exists()  # no master


def _no_autostart(tmp_path: Path, env: dict[str, str], why: str) -> None:
    """Every verb that would start a master says autostart is off, and starts nothing."""
    for args in (["start"], ["restart", "w"], ["run", "t"], ["start", "-n", "x", "--", "true"]):
        result = procsup_cli("-c", "procsup.toml", *args, cwd=tmp_path, env=env)
        assert result.returncode == 3, (args, result.stderr)
        line = one_line(result.stderr)
        assert f"CLI autostart is off ({why}" in line and "`procsup daemon`" in line, line
    listed = procsup_cli("-c", "procsup.toml", "list", cwd=tmp_path, env=env)
    assert listed.returncode == 3 and "autostart is off" in one_line(listed.stderr)
    assert not (tmp_path / "run").exists() and not (tmp_path / "logs").exists()


def test_cli_autostart_off_by_environment_variable(tmp_path):
    text = '[programs.w]\ncommand = "sleep 100"\n[tasks.t]\ncommand = "true"\nschedule = "@daily"\n'
    write(tmp_path / "procsup.toml", text)
    _no_autostart(tmp_path, {"PROCSUP_NO_AUTOSTART": "1"}, "PROCSUP_NO_AUTOSTART=1")


def test_cli_autostart_off_by_config_key(tmp_path):
    cfg = write(
        tmp_path / "procsup.toml",
        """
        [procsup]
        cli_autostart = false   # systemd owns the master here
        [programs.w]
        command = "sleep 100"
        [tasks.t]
        command = "true"
        schedule = "@daily"
        """,
    )
    assert procsup_cli("-c", str(cfg), "check").returncode == 0
    _no_autostart(tmp_path, {"PROCSUP_NO_AUTOSTART": "0"}, f"cli_autostart = false in {cfg}")


def test_global_options_after_the_command(tmp_path):
    result = procsup_cli("-c", "missing.toml", "list", "--no-autostart", cwd=tmp_path)
    assert result.returncode == 3
    one_line(result.stderr)


def test_toml_syntax_error_gives_a_one_line_error_and_exit_2(tmp_path):
    cfg = write(
        tmp_path / "procsup.toml",
        """
        [programs.web
        command = "sleep 1"
        """,
    )
    for args in (["--no-autostart", "list"], ["check"], ["start"]):
        result = procsup_cli("-c", str(cfg), *args, cwd=tmp_path)
        assert result.returncode == 2, (args, result.stderr)
        line = one_line(result.stderr)
        assert str(cfg) in line and "line 2" in line, line
    assert not (tmp_path / "run").exists()  # `start` did not launch a master on it


def test_version():
    result = procsup_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"procsup {procsup.__version__}"


# --- against a running master -----------------------------------------------------------------

HEAVY = ("textual", "croniter", "redis", "dotenv", "yaml")
#: import, startup, describe, env_file, config loading, engine and tasks code: never for `list`
NOT_FOR_LIST = (
    "procsup.cli.migrate",
    "procsup.cli.startup",
    "procsup.cli.describe",
    "procsup.config.envfile",
    "procsup.config.load",  # the config loader: `list` finds the socket with core.locate
    "procsup.engine",
    "procsup.tasks",
)


def test_list_imports_none_of_the_heavy_libraries(start_master):
    m = start_master(f"""
        [programs.h]
        command = "{child("sleeper.py")}"
        start_seconds = 0
        [tasks.t]
        command = "true"
        schedule = "*/5 * * * *"
    """)
    m.wait_state("h:0", "RUNNING")
    result = subprocess.run(
        [PY, "-X", "importtime", "-m", "procsup", "-c", str(m.config), "--no-autostart", "list"],
        capture_output=True,
        text=True,
        timeout=30,
        env=env_without_master(),
    )
    assert result.returncode == 0, result.stderr
    assert "h:0" in result.stdout
    imported = [
        line.rsplit("|", 1)[1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and "imported package" not in line
    ]
    assert "procsup.cli.main" in imported  # the parsing works
    top_level = {name.split(".")[0] for name in imported}
    assert not top_level & set(HEAVY), sorted(top_level & set(HEAVY))
    assert not [n for n in imported if n.startswith(NOT_FOR_LIST)]


#: what the installed `procsup` script must not load for `list` either: `re` (pip's wrapper for
#: an entry point would import it; json's decoder compiles patterns), `json` itself, and the
#: `enum`/`collections` they pull in: together a third of the command's time (issue 14)
NOT_FOR_LIST_SCRIPT = ("re", "json", "enum", "collections", "functools", "typing", "argparse")


def test_the_installed_script_lists_without_re_json_or_enum(start_master):
    m = start_master(f"""
        [programs.h]
        command = "{child("sleeper.py")}"
        start_seconds = 0
    """)
    m.wait_state("h:0", "RUNNING")
    tree = Path(procsup.__file__).resolve().parent.parent
    # -S, with the tree on PYTHONPATH: the environment's own .pth hooks are not procsup's (an
    # editable install's finder, as CI's `pip install -e`, imports re and typing at start-up)
    env = {**env_without_master(), "PYTHONPATH": str(tree)}
    cmd = [PY, "-S", "-X", "importtime", str(tree / "bin" / "procsup")]
    result = subprocess.run(
        [*cmd, "-c", str(m.config), "--no-autostart", "list"],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert "h:0" in result.stdout and "RUNNING" in result.stdout
    imported = {
        line.rsplit("|", 1)[1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and "imported package" not in line
    }
    assert "procsup.cli.main" in imported
    assert not imported & set(NOT_FOR_LIST_SCRIPT), sorted(imported & set(NOT_FOR_LIST_SCRIPT))


def test_start_n_adds_an_adhoc_program_and_scale_follows(start_master):
    m = start_master(f"""
        [programs.base]
        command = "{child("sleeper.py")}"
        start_seconds = 0
    """)
    sleeper = str(CHILDREN / "sleeper.py")
    result = m.cli("start", "-n", "web", "--numprocs", "2", "--", PY, sleeper)
    assert result.returncode == 0, result.stderr
    assert "web:0" in result.stdout and "web:1" in result.stdout
    for name in ("web:0", "web:1"):
        row = m.wait_state(name, "RUNNING")
        assert psutil.Process(row["pid"]).cmdline()[-1].endswith("sleeper.py")
    assert set(m.instances("web")) == {"web:0", "web:1"}

    again = m.cli("start", "-n", "web", "--", PY, "-c", "pass")
    assert again.returncode != 0
    assert "web" in one_line(again.stderr)

    up = m.cli("scale", "web", "3")
    assert up.returncode == 0, up.stderr
    assert up.stdout.strip() == "web: 3 instance(s)"
    assert set(m.instances("web")) == {"web:0", "web:1", "web:2"}
    m.wait_state("web:2", "RUNNING")
    gone = [m.state(n)["pid"] for n in ("web:1", "web:2")]

    down = m.cli("scale", "web", "1")
    assert down.returncode == 0, down.stderr
    assert down.stdout.strip() == "web: 1 instance(s)"
    assert set(m.instances("web")) == {"web:0"}
    assert m.state("web:0")["state"] == "RUNNING"
    wait_for(lambda: not any(psutil.pid_exists(p) for p in gone), 5, "removed instances to exit")

    listing = m.cli("list", "--json")
    assert sorted(r["name"] for r in json.loads(listing.stdout)) == ["base:0", "web:0"]
    nope = m.cli("scale", "nope", "2")
    assert nope.returncode != 0 and "nope" in one_line(nope.stderr)
    negative = m.cli("scale", "web", "-1")  # a protocol key path is not what the user typed
    assert negative.returncode == 2
    assert one_line(negative.stderr) == "procsup: numprocs must be from 0 to 10000"


def test_start_n_waits_like_start(start_master):
    m = start_master(f"""
        [programs.base]
        command = "{child("sleeper.py")}"
        start_seconds = 0
    """)
    began = time.monotonic()
    ok = m.cli("start", "-n", "ticker", "--", PY, str(CHILDREN / "sleeper.py"))
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == "ticker:0: RUNNING"  # after start_seconds (1s by default)
    assert time.monotonic() - began >= 1.0
    assert m.state("ticker:0")["state"] == "RUNNING"
    bad = m.cli("start", "-n", "quitter", "--", "false")
    assert bad.returncode == 1, bad.stderr
    assert bad.stdout.strip() in ("quitter:0: BACKOFF", "quitter:0: FATAL")


def test_list_shows_a_plausible_rss(start_master):
    # Regression: RSS was once read from the wrong /proc/PID/stat field (petabytes).
    m = start_master(f"""
        [programs.h]
        command = "{child("sleeper.py")}"
        start_seconds = 0
    """)
    row = m.wait_state("h:0", "RUNNING")
    listed = {r["name"]: r for r in json.loads(m.cli("list", "--json").stdout)}
    real = psutil.Process(row["pid"]).memory_info().rss
    assert 0.5 * real <= listed["h:0"]["rss"] <= 2 * real + 4 * 1024 * 1024


def test_save_after_scale_to_zero_keeps_a_valid_config(start_master):
    m = start_master(f"""
        [programs.web]
        command = "{child("sleeper.py")}"
        start_seconds = 0
    """)
    m.wait_state("web:0", "RUNNING")
    scaled = m.cli("scale", "web", "0")
    assert scaled.returncode == 0, scaled.stderr
    assert not [n for n in m.instances() if n.startswith("web:")]
    saved = m.cli("save")
    assert saved.returncode == 0, saved.stderr
    checked = m.cli("check")
    assert checked.returncode == 0, checked.stderr


def test_save_keeps_comments_and_formatting(master_factory):
    sleeper = child("sleeper.py")
    m = master_factory(f"""
        # Our production config: read this before you touch it.

        [procsup]
        socket_mode = "0600"   # only us

        # The queue workers (Laravel).
        [programs.worker]
        command = "{sleeper}"   # the real one is php artisan queue:work
        numprocs = 1            # raised at peak times
        start_seconds = 0

        [programs.web]
        # keep it at one
        command = "{sleeper}"
        start_seconds = 0

        [tasks.report]
        command = "true"
        schedule = "0 4 * * *"  # before the office opens
    """).start()
    original = m.config.read_text()
    m.wait_state("worker:0", "RUNNING")
    assert m.cli("scale", "worker", "3").returncode == 0
    added = m.cli("start", "-n", "ticker", "--numprocs", "2", "--", *sleeper.split())
    assert added.returncode == 0, added.stderr
    saved = m.cli("save")
    assert saved.returncode == 0, saved.stderr
    assert (m.root / "procsup.toml.bak").read_text() == original

    text = m.config.read_text()
    kept = original.replace(
        "numprocs = 1            # raised at peak times",
        "numprocs = 3            # raised at peak times",
    )
    # the ad-hoc program joins the other programs; every other line, comment and blank line
    # is as it was
    added_at, tasks_at = text.index("[programs.ticker]\n"), text.index("[tasks.report]")
    assert added_at < tasks_at, text
    assert text[:added_at] + text[tasks_at:] == kept, text

    config = load_config(m.config)
    assert config.programs["worker"].numprocs == 3
    assert config.programs["web"].numprocs == 1
    assert config.programs["ticker"].numprocs == 2
    assert config.programs["ticker"].command == tuple(sleeper.split())
    assert list(config.tasks) == ["report"]
    assert config.tasks["report"].schedule == "0 4 * * *"

    def pids() -> dict[str, int]:
        return {r["name"]: r["pid"] for r in json.loads(m.cli("list", "--json").stdout)}

    before = pids()
    assert set(before) == {"worker:0", "worker:1", "worker:2", "web:0", "ticker:0", "ticker:1"}
    assert m.cli("reload").returncode == 0  # the saved file is what runs: nothing restarts
    assert pids() == before


def test_save_is_the_only_command_that_imports_tomlkit():
    """tomlkit is loaded by the master's `save` only: neither the CLI nor config loading pays."""
    probe = (
        "import sys, procsup.cli.main, procsup.config.load, procsup.cli.commands, "
        "procsup.cli.check; "
        "print('tomlkit' in sys.modules)"
    )
    result = subprocess.run([PY, "-c", probe], capture_output=True, text=True, timeout=30)
    assert result.stdout.strip() == "False", result.stderr


def test_a_started_master_never_imports_code_from_the_current_folder(tmp_path):
    """`procsup start` run from a folder someone else could write to (a `procsup/` package and a
    `socket.py` planted there): neither the master nor its spawn helper imports them; the
    master is the installed procsup, and the programs run."""
    marker = tmp_path / "hijacked"
    plant = f"open({str(marker)!r}, 'a').write(__name__ + '\\n')\n"
    (tmp_path / "procsup").mkdir()
    for planted in ("procsup/__init__.py", "procsup/__main__.py", "socket.py", "signal.py"):
        (tmp_path / planted).write_text(plant)
    cfg = write(tmp_path / "procsup.toml", '[programs.w]\ncommand = "sleep 100"\n')
    env = env_without_master()
    env["HOME"] = str(tmp_path)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        # -P: as the installed `procsup` script runs, with no current folder on sys.path
        return subprocess.run(
            [PY, "-P", "-m", "procsup", "-c", str(cfg), *args],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )

    try:
        started = cli("start")
        assert started.returncode == 0, started.stderr
        listed = cli("list")
        assert listed.returncode == 0 and "RUNNING" in listed.stdout, listed.stderr
    finally:
        cli("shutdown")
    assert not marker.exists(), marker.read_text()
