"""`procsup import`: each fixture (written as supervisord, pm2 and foreman document them) is
imported, checked, started under a real master and compared with what the source tool does."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.harness import PY, MasterProc, short_tmpdir, wait_for

FIXTURES = Path(__file__).parents[1] / "fixtures" / "migrate"
WARNING = re.compile(r"^warning: (/[^:]+):(\d+): \S")


def copy_fixture(name: str, root: Path | None = None) -> Path:
    """The fixture copied under root (default: a short /tmp dir for a master's socket, removed
    by MasterProc.cleanup)."""
    root = root or short_tmpdir()
    shutil.copytree(FIXTURES / name, root / name, symlinks=True)
    return root


def procsup(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PY, "-m", "procsup", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
    )


def imported(root: Path, source: Path, *extra: str) -> tuple[Path, str]:
    """Import into root/procsup.toml; return it and stderr (import exits 0 or 1)."""
    out = root / "procsup.toml"
    result = procsup("import", str(source), "-o", str(out), *extra)
    assert result.returncode in (0, 1), result.stderr
    assert "Traceback" not in result.stderr
    return out, result.stderr


def start(root: Path, config: Path) -> MasterProc:
    """A master on the imported config (the socket may be the one the source named)."""
    master = MasterProc(root, config.read_text())
    socket = tomllib.loads(config.read_text()).get("procsup", {}).get("socket")
    if socket:
        master.socket = socket
    return master.start()


@pytest.fixture
def cleanup() -> Callable[[MasterProc], MasterProc]:
    masters: list[MasterProc] = []
    yield lambda m: masters.append(m) or m
    for m in masters:
        m.cleanup()


def test_laravel_queue_workers_from_supervisord(cleanup: Callable[[MasterProc], MasterProc]):
    root = copy_fixture("laravel")
    app = root / "laravel"
    config, stderr = imported(root, app / "supervisord.conf")
    text = config.read_text()
    assert text.startswith("# Imported by `procsup import`")
    # every warning names file:line, and the event listener is one of them
    warnings = [line for line in stderr.splitlines() if line.startswith("warning:")]
    assert warnings and all(WARNING.match(w) for w in warnings), warnings
    assert any("eventlistener:crashmail" in w and "laravel-worker.conf:24" in w for w in warnings)
    assert procsup("-c", str(config), "check").returncode == 0
    data = tomllib.loads(text)
    worker = data["programs"]["laravel-worker"]
    assert worker["stop_timeout"] == "1h" and worker["merge_stderr"] is True
    assert data["procsup"]["socket_mode"] == "0700"
    assert "laravel-worker_00, laravel-worker_01" in text  # the old names, said in a comment

    m = cleanup(start(root, config))
    names = [f"laravel-worker:{n}" for n in range(8)]
    for name in names:
        m.wait_state(name, "RUNNING", timeout=20)
    # same command, environment and (shared) log file as supervisord's
    log = app / "storage" / "logs" / "worker.log"
    lines = wait_for(lambda: [x for x in log.read_text().splitlines() if "php" in x][:8], 10)
    wait_for(lambda: len(log.read_text().splitlines()) >= 8, 10, "8 workers to log")
    lines = log.read_text().splitlines()
    assert all("queue:work sqs --sleep=3 --tries=3 --max-time=3600" in x for x in lines)
    assert all("APP_ENV=production QUEUE=sqs" in x for x in lines)
    assert sorted(x.rsplit("num=", 1)[1] for x in lines) == [str(n) for n in range(8)]


def test_startretries_gives_the_same_tries_before_fatal(
    cleanup: Callable[[MasterProc], MasterProc],
):
    """supervisord: startretries=2 → the first start and 2 retries, then FATAL."""
    root = copy_fixture("laravel")
    config, _ = imported(root, root / "laravel" / "supervisord.conf")
    m = cleanup(start(root, config))
    m.wait_state("crashy:0", "FATAL", timeout=20)
    tries = (root / "laravel" / "tries.log").read_text().splitlines()
    assert len(tries) == 3  # 1 + startretries


@pytest.mark.parametrize("source", ["ecosystem.json", "ecosystem.yml", "ecosystem.config.js"])
def test_pm2_ecosystem_files_agree(source: str, tmp_path: Path):
    if source.endswith(".js") and shutil.which("node") is None:
        pytest.skip("node not installed") if os.environ.get("CI") != "true" else pytest.fail(
            "node not installed and CI=true"
        )
    root = copy_fixture("pm2", tmp_path)
    config, stderr = imported(root, root / "pm2" / source, "--env", "production")
    (tmp_path / "ref").mkdir()
    json_file = root / "pm2" / "ecosystem.json"
    reference, _ = imported(tmp_path / "ref", json_file, "--env", "production")
    assert tomllib.loads(config.read_text()) == tomllib.loads(reference.read_text())
    assert all(WARNING.match(w) for w in stderr.splitlines() if w.startswith("warning:"))
    assert "exec_mode: cluster" in stderr and "watch" in stderr


def test_pm2_apps_run_as_pm2_runs_them(cleanup: Callable[[MasterProc], MasterProc]):
    root = copy_fixture("pm2")
    app = root / "pm2"
    config, _ = imported(root, app / "ecosystem.json", "--env", "production")
    assert procsup("-c", str(config), "check").returncode == 0
    m = cleanup(start(root, config))
    # two instances, each with its own out file (pm2 without merge_logs), env_production merged
    for n in (0, 1):
        m.wait_state(f"api:{n}", "RUNNING", timeout=20)
        out = app / "logs" / f"api-out-{n}.log"
        wait_for(lambda out=out: out.exists() and "server" in out.read_text(), 10)
        assert "server --port 3000 NODE_ENV=production" in out.read_text()
    # max_memory_restart honoured: the 80 MB hog is restarted over its 40M limit
    first = m.wait_state("hog:0", "RUNNING", timeout=20)["pid"]
    wait_for(
        lambda: m.state("hog:0")["pid"] not in (None, first),
        20,
        "a restart because of max_memory_restart",
    )


def test_pm2_js_without_node_is_a_clear_error(tmp_path: Path):
    root = copy_fixture("pm2", tmp_path)
    env = dict(os.environ, PATH="/nonexistent")
    result = procsup("import", str(root / "pm2" / "ecosystem.config.js"), env=env)
    assert result.returncode == 2
    assert "needs node on PATH" in result.stderr and "JSON" in result.stderr
    assert "Traceback" not in result.stderr


def test_procfile_ports_and_env_like_foreman(cleanup: Callable[[MasterProc], MasterProc]):
    root = copy_fixture("procfile")
    config, _ = imported(root, root / "procfile" / "Procfile")
    assert procsup("-c", str(config), "check").returncode == 0
    m = cleanup(start(root, config))
    m.wait_state("web:0", "RUNNING", timeout=20)
    m.wait_state("worker:0", "RUNNING", timeout=20)
    out = m.log_file("web:0")
    wait_for(lambda: out.exists() and "port=" in out.read_text(), 10)
    assert "web port=5000 app=Procfile App" in out.read_text()
    data = tomllib.loads(config.read_text())
    assert data["programs"]["worker"]["environment"]["PORT"] == "5100"


def test_crontab_lines_become_tasks(cleanup: Callable[[MasterProc], MasterProc]):
    root = copy_fixture("cron")
    config, stderr = imported(root, root / "cron" / "crontab")
    assert "crontab:2: MAILTO" in stderr
    assert procsup("-c", str(config), "check").returncode == 0
    data = tomllib.loads(config.read_text())
    tasks = data["tasks"]
    assert {t["timezone"] for t in tasks.values()} == {"Asia/Shanghai"}
    assert all(t["environment"]["GREETING"] == "hello" for t in tasks.values())
    (boot,) = [p for p in data["programs"].values() if p["autorestart"] == "never"]
    assert boot["command"][-1] == "echo booted"
    m = cleanup(start(root, config))
    # `%` in a crontab line: what follows is the command's standard input
    (name,) = [n for n, t in tasks.items() if "printf" in t["command"][-1]]
    result = m.cli("run", name, "--wait")
    assert result.returncode == 0, result.stderr
    log = root / "logs" / f"task-{name}.out.log"
    assert log.read_text().startswith("first line\nsecond line|")


@pytest.mark.parametrize(
    "fixture, source",
    [
        ("laravel", "supervisord.conf"),
        ("pm2", "ecosystem.json"),
        ("pm2", "ecosystem.yml"),
        ("procfile", "Procfile"),
        ("cron", "crontab"),
    ],
)
def test_round_trip_import_then_check(fixture: str, source: str, tmp_path: Path):
    root = copy_fixture(fixture, tmp_path)
    result = procsup("import", str(root / fixture / source))  # to stdout, detected kind
    assert result.returncode in (0, 1), result.stderr
    assert all(WARNING.match(w) for w in result.stderr.splitlines() if w.startswith("warning:"))
    config = root / "out.toml"
    config.write_text(result.stdout)
    assert procsup("-c", str(config), "check").returncode == 0
    # -o refuses to overwrite without --force
    again = procsup("import", str(root / fixture / source), "-o", str(config))
    assert again.returncode == 2 and "--force" in again.stderr
    assert procsup("import", str(root / fixture / source), "-o", str(config), "--force")


def test_unreadable_source_exits_2(tmp_path: Path):
    result = procsup("import", "/nonexistent/supervisord.conf")
    assert result.returncode == 2 and "no such file" in result.stderr
    root = tmp_path
    (root / "x.txt").write_text("just some words\n")
    result = procsup("import", str(root / "x.txt"))
    assert result.returncode == 2 and "--from" in result.stderr
