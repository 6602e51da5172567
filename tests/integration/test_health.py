"""Health, end to end with a real master: the sd_notify socket spoken by the real
`systemd-notify`, a plain-socket Python worker, a PHP worker loop (`socket_sendto`) and a Perl
one-liner; the watchdog and max_silence replacing a hung run (the issue's seed scene: 8 queue
workers, one hangs); senders outside the instance's tree ignored; `status` exiting 0 only when
ready."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from procsup.control.client import Client
from tests.harness import child, wait_for


def _systemd_notify() -> str:
    found = shutil.which("systemd-notify")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("systemd-notify not installed, and CI=true: install the systemd package")
        pytest.skip("systemd-notify not installed")
    return found


def _script(m, name: str, text: str) -> str:
    path = m.root / name
    path.write_text(text)
    path.chmod(0o755)
    return str(path)


def test_the_real_systemd_notify_marks_ready_sets_status_and_keeps_alive(master_factory):
    notify = _systemd_notify()
    m = master_factory("")
    script = _script(
        m,
        "svc.sh",
        f"""#!/bin/sh
{notify} --status="warming up"
sleep 1.5
{notify} --ready --status="serving" && echo notified-ok
while true; do {notify} WATCHDOG=1; sleep 0.3; done
""",
    )
    m.write_config(f"""
        [programs.svc]
        command = "{script}"
        notify = true
        watchdog = "2s"
    """)
    m.start()
    row = wait_for(lambda: (r := m.state("svc:0"))["status_text"] == "warming up" and r, 5)
    assert row["state"] == "STARTING" and row["ready"] is False  # start_seconds does not apply
    assert row["health"].startswith("not-ready")
    assert m.cli("status", "svc").returncode == 1
    row = m.wait_state("svc:0", "RUNNING", timeout=5)
    assert row["ready"] is True and row["status_text"] == "serving"
    wait_for(lambda: "watchdog" in (m.state("svc:0")["health"] or ""), 5, "a keep-alive")
    status = m.cli("status", "svc")
    assert status.returncode == 0 and "svc:0 RUNNING (ready, watchdog" in status.stdout
    time.sleep(3)  # longer than the watchdog: the keep-alives keep it
    assert m.state("svc:0")["restarts"] == 0 and m.state("svc:0")["pid"] == row["pid"]
    assert "notified-ok" in m.log_file("svc:0").read_text()
    listed = m.cli("list").stdout
    assert "ready, watchdog" in listed and '"serving"' in listed


PERL_SEND = (
    "perl -MIO::Socket::UNIX -e '"
    "$p = $ENV{NOTIFY_SOCKET}; $p =~ s/^@/\\0/; "
    "$s = IO::Socket::UNIX->new(Type => SOCK_DGRAM(), Peer => $p) or die $!; "
    '$s->send("READY=1\\nSTATUS=perl says hi") or die $!\''
)


def test_a_perl_one_liner_with_a_plain_socket_is_a_client_too(master_factory):
    if shutil.which("perl") is None:
        pytest.skip("perl not installed")
    m = master_factory("")
    script = _script(m, "p.sh", f"#!/bin/sh\nsleep 0.5\n{PERL_SEND}\nexec sleep 1000\n")
    m.write_config(f"""
        [programs.p]
        command = "{script}"
        notify = true
    """)
    m.start()
    row = m.wait_state("p:0", "RUNNING", timeout=5)
    assert row["status_text"] == "perl says hi" and row["ready"] is True


def _php() -> str:
    found = shutil.which("php")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("php not installed, and CI=true: install php-cli (.ci/run does)")
        pytest.skip("php not installed")
    return found


#: the issue's PHP one-liner client, in a worker loop: `socket_sendto` on a plain datagram
#: socket. PHP 8.2's socket_sendto cannot address an abstract socket (`@…`, EINVAL), which
#: socket_connect can: a worker whose NOTIFY_SOCKET may be abstract connects first.
PHP_WORKER = (
    '$p = getenv("NOTIFY_SOCKET"); $s = socket_create(AF_UNIX, SOCK_DGRAM, 0); '
    "$send = function ($m) use ($s, $p) { return socket_sendto($s, $m, strlen($m), 0, $p); }; "
    'if ($p[0] == "@") { socket_connect($s, "\\0" . substr($p, 1)); '
    "$send = function ($m) use ($s) { return socket_send($s, $m, strlen($m), 0); }; } "
    '$send("READY=1\\nSTATUS=php worker up") or exit(1); echo "sent\\n"; '
    'for ($job = 1; ; $job++) { $send("WATCHDOG=1\\nSTATUS=php job $job"); usleep(200000); }'
)


@pytest.mark.parametrize("abstract", [False, True], ids=["socket_sendto", "abstract"])
def test_a_php_worker_loop_is_a_client_with_ready_status_and_keepalives(master_factory, abstract):
    php = _php()
    user = ""
    if abstract:  # a program run as a `user` gets an abstract socket
        if os.getuid() != 0:
            pytest.skip("`user` needs a root master")
        user = 'user = "root"'
    m = master_factory("")
    m.write_config(f"""
        [programs.php]
        command = {json.dumps([php, "-r", PHP_WORKER])}
        notify = true
        watchdog = "1s"
        {user}
    """)
    m.start()
    row = m.wait_state("php:0", "RUNNING", timeout=10)
    assert row["ready"] is True
    env = psutil_env(row["pid"])
    assert env["NOTIFY_SOCKET"].startswith("@") == abstract
    assert env["WATCHDOG_PID"] == str(row["pid"]) and env["WATCHDOG_USEC"] == "1000000"
    wait_for(lambda: (m.state("php:0")["status_text"] or "").startswith("php job"), 5, "jobs")
    time.sleep(2.5)  # more than twice the watchdog: the loop's keep-alives keep it
    now = m.state("php:0")
    assert now["restarts"] == 0 and now["pid"] == row["pid"]
    assert "watchdog" in now["health"] and "sent" in m.log_file("php:0").read_text()


def psutil_env(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/environ", "rb") as f:
        pairs = [item.partition(b"=") for item in f.read().split(b"\0") if item]
    return {k.decode(): v.decode() for k, _, v in pairs}


def test_seed_scene_one_hung_worker_of_eight_is_replaced_and_the_others_never_stop(
    master_factory,
):
    m = master_factory("")
    flag = m.root / "hung-once"
    m.write_config(f"""
        [programs.queue]
        command = "{child("notifier.py", "0.5", "3", str(flag))}"
        numprocs = 8
        notify = true
        watchdog = "3s"
    """)
    m.start()
    rows = wait_for(
        lambda: (r := m.instances()) and all(x["state"] == "RUNNING" for x in r.values()) and r,
        10,
        "8 workers running",
    )
    pids = {name: r["pid"] for name, r in rows.items()}
    with Client(m.socket, timeout=10) as client:
        stream = client.stream("events")
        next(stream)
        hung = next(e for e in stream if e["type"] == "hung")
        seen = time.monotonic()
        assert hung["name"] == "queue:3" and hung["signal"] == "SIGABRT"
        assert hung["cause"] == "watchdog: no keep-alive for 3s"
        stopped = next(e for e in stream if e["type"] == "state" and e["to"] == "STOPPED")
    assert stopped["name"] == "queue:3" and stopped["signal"] == "SIGABRT"
    assert stopped["cause"].startswith("watchdog: no keep-alive for 3s: killed by SIGABRT")
    assert stopped["reason"].endswith("restarting now") and stopped["next"] == "restart"
    new = wait_for(
        lambda: (
            (r := m.state("queue:3"))["state"] == "RUNNING" and r["pid"] != pids["queue:3"] and r
        ),
        4,
        "queue:3 replaced",
    )
    assert time.monotonic() - seen < 4 and new["restarts"] == 1
    after = m.instances()
    for name, pid in pids.items():
        if name != "queue:3":
            assert after[name]["pid"] == pid and after[name]["restarts"] == 0, name
    line = next(ln for ln in m.cli("list").stdout.splitlines() if ln.startswith("queue:3"))
    assert "last exit: watchdog: no keep-alive for 3s: killed by SIGABRT" in line
    js = {r["name"]: r for r in json.loads(m.cli("list", "--json").stdout)}
    assert js["queue:3"]["last_exit_cause"].startswith("watchdog: no keep-alive for 3s")
    assert "hung (watchdog: no keep-alive for 3s)" in m.log()


def test_max_silence_replaces_a_loop_that_stopped_writing(master_factory):
    m = master_factory("")
    script = _script(m, "php.sh", "#!/bin/sh\necho took a job\nexec sleep 1000\n")
    m.write_config(f"""
        [programs.php]
        command = "{script}"
        start_seconds = 0
        max_silence = "1s"
    """)
    m.start()
    first = m.wait_state("php:0", "RUNNING")
    assert m.state("php:0")["health"] == "ready"
    row = wait_for(
        lambda: (r := m.state("php:0"))["restarts"] >= 1 and r["state"] == "RUNNING" and r, 5
    )
    assert row["pid"] != first["pid"]
    assert row["last_exit_cause"].startswith("max_silence: no output for 1s: killed by SIGABRT")


def test_a_sender_outside_the_instance_tree_is_ignored(master_factory):
    m = master_factory(f"""
        [programs.quiet]
        command = "{child("sleeper.py")}"
        notify = true
    """)
    m.start()
    row = wait_for(lambda: (r := m.state("quiet:0"))["pid"] and r, 5)
    path = _socket_of(row["pid"])
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.sendto(b"READY=1\nSTATUS=forged", path)  # from the test: alive, not in the tree
    wait_for(lambda: "outside the instance's tree" in m.log(), 5, "the refusal in the log")
    row = m.state("quiet:0")
    assert row["state"] == "STARTING" and row["status_text"] is None


def test_barrier_closes_the_passed_descriptor(master_factory):
    """BARRIER=1 comes with a pipe's write end; the sender waits for EOF on the read end."""
    m = master_factory("")
    script = _script(
        m,
        "barrier.py",
        f"""#!{sys.executable}
import array, os, socket, select
r, w = os.pipe()
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
fds = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [w]).tobytes())]
s.sendmsg([b"BARRIER=1"], fds, 0, os.environ["NOTIFY_SOCKET"])
os.close(w)
ready, _, _ = select.select([r], [], [], 5)
print("barrier passed" if ready and os.read(r, 1) == b"" else "barrier timed out", flush=True)
s.sendto(b"READY=1", os.environ["NOTIFY_SOCKET"])
import time
time.sleep(1000)
""",
    )
    m.write_config(f"""
        [programs.b]
        command = "{script}"
        notify = true
    """)
    m.start()
    m.wait_state("b:0", "RUNNING", timeout=8)
    assert "barrier passed" in m.log_file("b:0").read_text()


def _socket_of(pid: int) -> str:
    env = dict(
        item.split("=", 1)
        for item in Path(f"/proc/{pid}/environ").read_text().split("\0")
        if "=" in item
    )
    path = env["NOTIFY_SOCKET"]
    return "\0" + path[1:] if path.startswith("@") else path


def _free_port_base(n: int) -> int:
    """A base port with `n` free ports after it (probed by binding)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + n > 65535:
            continue
        try:
            for i in range(n):
                with socket.socket() as t:
                    t.bind(("127.0.0.1", base + i))
            return base
        except OSError:
            continue
    raise AssertionError("no free ports")


def test_http_readiness_gates_start_shows_not_ready_and_never_restarts(master_factory):
    base = _free_port_base(1)
    m = master_factory("")
    code_file = m.root / "code"
    m.write_config(f"""
        [programs.web]
        command = "{child("web.py", str(base), "1", str(code_file))}"
        [programs.web.readiness]
        http = "http://127.0.0.1:{base}/health?i={{num}}"
        period = "200ms"
        failures = 1
    """)
    m.start()
    row = wait_for(lambda: (r := m.state("web:0"))["health"] == "not-ready: HTTP 503" and r, 5)
    assert row["state"] == "STARTING" and m.cli("status", "web").returncode == 1
    row = m.wait_state("web:0", "RUNNING", timeout=5)
    assert row["ready"] is True and row["health"] == "ready"
    assert m.cli("status", "web").returncode == 0
    code_file.write_text("503")
    row = wait_for(lambda: (r := m.state("web:0"))["health"] == "not-ready: HTTP 503" and r, 5)
    assert row["state"] == "RUNNING" and row["ready"] is False and row["restarts"] == 0
    assert m.cli("status", "web").returncode == 1
    assert "not-ready: HTTP 503" in m.cli("list").stdout
    code_file.unlink()
    wait_for(lambda: m.state("web:0")["ready"], 5, "ready again")


def test_rolling_restart_waits_for_readiness_and_never_leaves_zero_ready(master_factory):
    """An exec readiness probe (run in the instance's environment) checks each instance's own
    port; every instance takes 1 s to warm up after a restart."""
    base = _free_port_base(2)
    m = master_factory("")
    probe = _script(
        m,
        "probe.py",
        f"#!{sys.executable}\nimport os, sys, urllib.request\n"
        f"port = {base} + int(os.environ['PROCSUP_PROCESS_NUM'])\n"
        "try:\n    urllib.request.urlopen(f'http://127.0.0.1:{port}/health', timeout=1)\n"
        "except Exception as e:\n    print(e)\n    sys.exit(1)\n",
    )
    m.write_config(f"""
        [programs.web]
        command = "{child("web.py", str(base), "1")}"
        numprocs = 2
        [programs.web.readiness]
        exec = "{probe}"
        period = "100ms"
        failures = 1
    """)
    m.start()
    for name in ("web:0", "web:1"):
        m.wait_state(name, "RUNNING", timeout=8)
    before = {n: r["pid"] for n, r in m.instances().items()}
    ready = {n: True for n in before}
    with Client(m.socket, timeout=30) as client:
        stream = client.stream("events")
        next(stream)
        restart = subprocess.Popen(
            [sys.executable, "-m", "procsup", "-c", str(m.config), "restart", "--rolling", "web"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for event in stream:
            if event["type"] != "state":
                continue
            ready[event["name"]] = event["row"]["ready"]
            assert any(ready.values()), f"zero ready after {event}"
            if event["to"] == "RUNNING" and event["name"] == "web:1":
                break
    assert restart.wait(30) == 0, restart.stderr.read() if restart.stderr else ""
    after = m.instances()
    assert all(after[n]["pid"] != before[n] and after[n]["ready"] for n in before)


def test_tcp_heartbeat_and_exec_liveness_replace_a_hung_run(master_factory):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    m = master_factory("")
    beat = _script(m, "beat.sh", "#!/bin/sh\nwhile true; do touch beat-$1; sleep 0.2; done\n")
    m.write_config(f"""
        [programs.db_client]
        command = "{child("sleeper.py")}"
        start_seconds = 0
        [programs.db_client.readiness]
        tcp = "127.0.0.1:{port}"
        period = "200ms"
        failures = 1

        [programs.php]
        command = "{beat} {{num}}"
        directory = "{m.root}"
        start_seconds = 0
        [programs.php.liveness]
        heartbeat_file = "beat-{{num}}"
        period = "1s"
        initial_delay = "500ms"
        failures = 1

        [programs.checked]
        command = "{child("sleeper.py")}"
        start_seconds = 0
        [programs.checked.liveness]
        exec = "sh -c 'echo probe says no; exit 3'"
        period = "300ms"
        failures = 2
    """)
    m.start()
    row = m.wait_state("db_client:0", "RUNNING", timeout=5)
    assert row["ready"] is True
    server.close()
    wait_for(lambda: m.state("db_client:0")["health"].startswith("not-ready: tcp:"), 5, "down")
    assert m.state("db_client:0")["restarts"] == 0
    first = m.state("checked:0")["pid"]
    row = wait_for(lambda: (r := m.state("checked:0"))["restarts"] >= 1 and r, 6, "replaced")
    assert row["pid"] != first
    assert row["last_exit_cause"].startswith("liveness: exec: exit 3: probe says no")
    php = m.wait_state("php:0", "RUNNING")
    time.sleep(2)  # a beating loop is left alone
    assert m.state("php:0")["restarts"] == 0 and m.state("php:0")["health"] == "ready"
    os.kill(php["pid"], signal.SIGSTOP)  # the loop hangs: no more beats
    row = wait_for(lambda: (r := m.state("php:0"))["restarts"] >= 1 and r, 6, "php replaced")
    assert "liveness: heartbeat_file" in row["last_exit_cause"]
