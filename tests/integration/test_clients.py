"""Clients that misbehave, or live where the socket is hard to reach, never hurt the master:
idle floods, descriptor exhaustion, stuck followers, a deleted socket, another user, a long path."""

from __future__ import annotations

import contextlib
import grp
import json
import os
import pwd
import resource
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import psutil
import pytest

from tests.harness import PY, MasterProc, child, wait_for

FLOOD = 1000


@contextlib.contextmanager
def nofile_at_least(n: int) -> Iterator[None]:
    """Raise this test process's RLIMIT_NOFILE (soft, and hard as root) for the block."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(soft, n)
    new_hard = max(hard, want) if os.geteuid() == 0 else hard
    if want > new_hard:
        pytest.skip(f"needs {n} descriptors, the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, new_hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def open_idle(path: str, n: int) -> list[socket.socket]:
    """n connections that never send anything (the master may turn some away at once)."""
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)  # blocking: waits while the master's accept queue is full
        s.settimeout(10)
        socks.append(s)
    return socks


def fill_up(path: str, n: int) -> list[socket.socket]:
    """n idle connections the master admitted: one that got `busy` because a connection of
    before was not finished yet (the harness's `hello`) is replaced."""
    socks: list[socket.socket] = []
    deadline = time.monotonic() + 10
    while len(socks) < n and time.monotonic() < deadline:
        socks += open_idle(path, n - len(socks))
        time.sleep(0.2)
        ready, _, _ = select.select(socks, [], [], 0)
        for s in ready:
            socks.remove(s)
            s.close()
    assert len(socks) == n
    return socks


def first_reply(sock: socket.socket, timeout: float = 10) -> dict[str, Any] | None:
    """The first line the master sent on `sock`, or None if it closed or said nothing."""
    sock.settimeout(timeout)
    buf = b""
    with contextlib.suppress(TimeoutError, ConnectionResetError):
        while b"\n" not in buf:
            data = sock.recv(4096)
            if not data:
                break
            buf += data
    return json.loads(buf.split(b"\n")[0]) if b"\n" in buf else None


def cli_list(m: MasterProc) -> subprocess.CompletedProcess[str]:
    return m.cli("list", timeout=30)  # the CLI must answer well within this, never hang


def assert_busy_or_ok(res: subprocess.CompletedProcess[str]) -> bool:
    """True when `list` worked; otherwise it must have said `master busy` in one line."""
    if res.returncode == 0:
        return True
    assert res.returncode == 1, res
    assert res.stderr.count("\n") == 1 and "master busy" in res.stderr, res.stderr
    return False


def master_fds(m: MasterProc) -> int:
    assert m.proc is not None
    return len(os.listdir(f"/proc/{m.proc.pid}/fd"))


SLEEPER = f"""
    [programs.h]
    command = "{child("sleeper.py")}"
    start_seconds = 0
"""


# --- idle connections -------------------------------------------------------------------------


def test_a_connection_over_the_cap_gets_busy_and_the_master_answers_again(start_master):
    m = start_master("[procsup]\nmax_connections = 5\nidle_timeout = 30\n" + SLEEPER)
    idle = fill_up(m.socket, 5)
    try:
        with socket.socket(socket.AF_UNIX) as extra:
            extra.connect(m.socket)
            msg = first_reply(extra)
        assert msg is not None and msg["ok"] is False, msg
        assert msg["error"]["code"] == "busy"
        assert msg["error"]["message"].startswith("master busy: too many connections")
        res = cli_list(m)
        assert res.returncode == 1 and "master busy: too many connections" in res.stderr, res
        assert "Traceback" not in res.stderr
    finally:
        for s in idle:
            s.close()
    wait_for(lambda: cli_list(m).returncode == 0, 10, "list to work once the idle ones left")


def test_a_connection_that_sends_no_request_is_closed_after_idle_timeout(start_master):
    m = start_master("[procsup]\nidle_timeout = 1\n" + SLEEPER)
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(m.socket)
        began = time.monotonic()
        msg = first_reply(s, timeout=10)
        waited = time.monotonic() - began
        assert msg is not None and msg["error"]["code"] == "timeout", msg
        assert 0.8 < waited < 5, waited
        assert s.recv(10) == b""  # and closed


def test_a_thousand_idle_connections_never_hang_the_cli(start_master):
    m = start_master("[procsup]\nidle_timeout = 2\n" + SLEEPER)
    with nofile_at_least(FLOOD + 200):
        idle = open_idle(m.socket, FLOOD)
        try:
            # full up: `list` either works or says `master busy` at once; once the idle
            # connections time out, it works again although the flood is still "connected"
            began = time.monotonic()
            worked = assert_busy_or_ok(cli_list(m))
            assert time.monotonic() - began < 15
            if not worked:
                wait_for(lambda: assert_busy_or_ok(cli_list(m)), 20, "list after idle_timeout")
            # a second flood while the first one's sockets are still open on our side
            more = open_idle(m.socket, 300)
            assert all(first_reply(s, 10) is not None for s in more[-20:])  # busy or timeout
            for s in more:
                s.close()
        finally:
            for s in idle:
                s.close()
    res = cli_list(m)
    assert res.returncode == 0, res
    assert "h:0" in res.stdout


def test_out_of_descriptors_the_master_turns_clients_away_and_recovers(start_master):
    m = start_master("[procsup]\nmax_connections = 5000\nidle_timeout = 60\n" + SLEEPER)
    assert m.proc is not None
    limit = master_fds(m) + 40
    resource.prlimit(m.proc.pid, resource.RLIMIT_NOFILE, (limit, limit))
    with nofile_at_least(500):
        idle = open_idle(m.socket, 300)
        try:
            # the last ones found the master out of descriptors: each got an answer, no hang
            replies = [first_reply(s, 10) for s in idle[-10:]]
            assert all(r is not None and r["error"]["code"] == "busy" for r in replies), replies
            assert "out of file descriptors" in replies[0]["error"]["message"]
            assert not assert_busy_or_ok(cli_list(m))
        finally:
            for s in idle:
                s.close()
    wait_for(lambda: cli_list(m).returncode == 0, 10, "list once descriptors are free")
    assert m.log().count("turning clients away") == 1, m.log()  # once, not once per client
    assert "Traceback" not in m.log()


def test_a_connection_flood_leaves_the_masters_reserve_for_its_own_work(start_master):
    """Clients alone never take the last descriptors: the state file is still written when an
    instance dies in the middle of the flood (the reserve is kept, as for spawns)."""
    m = start_master("[procsup]\nmax_connections = 5000\nidle_timeout = 60\n" + SLEEPER)
    assert m.proc is not None
    limit = master_fds(m) + 120
    reserve = min(64, limit // 4)
    resource.prlimit(m.proc.pid, resource.RLIMIT_NOFILE, (limit, limit))
    pid = m.state("h:0")["pid"]
    with nofile_at_least(500):
        idle = open_idle(m.socket, 300)
        try:
            reply = first_reply(idle[-1], 10)
            assert reply is not None and "out of file descriptors" in reply["error"]["message"]
            assert master_fds(m) <= limit - reserve // 2 + 2  # half the reserve is left free
            os.kill(pid, signal.SIGKILL)
            wait_for(lambda: "h:0 exited: killed by SIGKILL" in m.log(), 10, "the exit logged")
            wait_for(lambda: "h:0: STARTING" in m.log().split("SIGKILL")[-1], 10, "a restart")
        finally:
            for s in idle:
                s.close()
    wait_for(lambda: cli_list(m).returncode == 0, 15, "list once the flood is gone")
    assert "cannot write state file" not in m.log(), m.log()
    assert "Traceback" not in m.log()


# --- stuck followers --------------------------------------------------------------------------


def _stuck_follower(path: str, names: list[str]) -> socket.socket:
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    req = {"id": 1, "cmd": "logs", "args": {"names": names, "lines": 0, "follow": True}}
    s.sendall(json.dumps(req).encode() + b"\n")
    return s


def _items(sock: socket.socket, deadline: float) -> Iterator[dict[str, Any]]:
    buf = b""
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data = sock.recv(1 << 20)
        except TimeoutError:
            return
        if not data:
            return
        buf += data
        *lines, buf = buf.split(b"\n")
        for line in lines:
            yield json.loads(line).get("item", {})


def test_stuck_followers_keep_the_master_small_and_learn_what_they_skipped(start_master):
    m = start_master(f"""
        [programs.gush]
        command = "{child("firehose.py", "25")}"
        start_seconds = 0
        log_max_size = "2MB"
        log_backups = 1
    """)
    assert m.proc is not None
    master = psutil.Process(m.proc.pid)
    wait_for(lambda: m.log_file("gush:0").exists(), 10, "output")
    time.sleep(0.5)  # the master's own buffers reach their working size
    baseline = master.memory_info().rss
    stuck = [_stuck_follower(m.socket, ["gush"]) for _ in range(4)]
    try:
        peak = baseline
        end = time.monotonic() + 4  # ~100 MB of output goes by the stuck readers
        while time.monotonic() < end:
            peak = max(peak, master.memory_info().rss)
            time.sleep(0.05)
        assert peak - baseline < 20 * 1024 * 1024, (baseline, peak)
        assert m.cli("list", timeout=30).returncode == 0  # and the master still answers
        # the stuck reader starts reading: after what the buffers held, it is told the gap
        skipped = next((i for i in _items(stuck[0], time.monotonic() + 10) if "skipped" in i), None)
        assert skipped is not None
        assert skipped["skipped"] > 1024 * 1024 and "skipped" in skipped["notice"]
    finally:
        for s in stuck:
            s.close()


def _rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))


def test_a_hundred_stuck_followers_keep_the_master_small_and_it_shrinks_after(start_master):
    """The bound holds for any number of stuck followers, not per follower: they share the
    ring's chunks, their share of the skip budget shrinks as more follow, and what each one
    holds alone is small. When they leave, the master gives the memory back."""
    m = start_master(f"""
        [programs.gush]
        command = "{child("firehose.py", "25")}"
        start_seconds = 0
        log_max_size = "2MB"
        log_backups = 1
    """)
    assert m.proc is not None
    pid = m.proc.pid
    wait_for(lambda: m.log_file("gush:0").exists(), 10, "output")
    time.sleep(1)  # the master's own buffers reach their working size
    baseline = _rss(pid)
    mib = 1024 * 1024
    stuck = [_stuck_follower(m.socket, ["gush"]) for _ in range(100)]
    try:
        peak = baseline
        end = time.monotonic() + 3  # ~75 MB of output goes by 100 readers that read nothing
        while time.monotonic() < end:
            peak = max(peak, _rss(pid))
            time.sleep(0.05)
        # 100 x (256 KiB queued + 64 KiB transport) would be over 30 MiB; measured: +3 MiB
        assert peak - baseline < 10 * mib, ((peak - baseline) / mib, baseline)
        assert m.cli("list", timeout=30).returncode == 0
    finally:
        for s in stuck:
            s.close()
    # measured: back to within 2 MiB of the baseline a second after they left
    wait_for(lambda: _rss(pid) - baseline < 5 * mib, 15, "the master to give memory back")
    assert "Traceback" not in m.log()


def test_logs_follow_cli_prints_the_skipped_marker(start_master):
    m = start_master(f"""
        [programs.gush]
        command = "{child("firehose.py", "25")}"
        start_seconds = 0
        log_max_size = "2MB"
        log_backups = 1
    """)
    proc = subprocess.Popen(
        [PY, "-m", "procsup", "-c", str(m.config), "--no-autostart", "logs", "-f", "gush"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    try:
        time.sleep(2)  # the CLI does not read its pipe meanwhile: it blocks, the master skips
        assert proc.stdout is not None
        found = b""
        deadline = time.monotonic() + 15
        while b"-- procsup: skipped" not in found and time.monotonic() < deadline:
            found = (found + proc.stdout.read1(1 << 20))[-200_000:]
        assert b"-- procsup: skipped " in found
    finally:
        proc.kill()
        proc.wait(10)


# --- a deleted socket -------------------------------------------------------------------------


def test_sighup_recreates_a_deleted_socket_and_the_cli_names_the_master(start_master):
    m = start_master(SLEEPER)
    assert m.proc is not None
    os.unlink(m.socket)
    res = cli_list(m)
    assert res.returncode == 3, res
    assert f"master (pid {m.proc.pid})" in res.stderr and f"kill -HUP {m.proc.pid}" in res.stderr
    assert res.stderr.count("\n") == 1
    m.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: cli_list(m).returncode == 0, 10, "list after SIGHUP")
    m.proc.send_signal(signal.SIGHUP)  # a socket that is there is left alone
    wait_for(lambda: m.log().count("reloaded") == 2, 10, "the second reload")
    assert "h:0" in cli_list(m).stdout
    assert m.log().count("creating it again") == 1


# --- another user -----------------------------------------------------------------------------

TEST_USER = "procsup-test"


def _system_user() -> pwd.struct_passwd:
    if os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true: run the tests as root so the other-user test runs")
        pytest.skip("creating a system user needs root")
    try:
        return pwd.getpwnam(TEST_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", TEST_USER],
            check=True,
        )
        return pwd.getpwnam(TEST_USER)


def run_cli_as(user: pwd.struct_passwd, argv: list[str]) -> tuple[int, str]:
    """The real CLI (`procsup.cli.main.main`) in a forked child that became `user`. In-process,
    because the test's interpreter may live where that user cannot read (a pyenv under /root);
    everything the command needs is imported before the fork."""
    import traceback

    import procsup.cli.commands
    import procsup.cli.main
    import procsup.cli.tables
    import procsup.core.locate

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 99
        try:
            os.setgroups([])
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
            os.environ["HOME"] = "/nonexistent"
            os.dup2(write_end, 1)
            os.dup2(write_end, 2)
            sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115 (pytest swapped these)
            sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
            code = procsup.cli.main.main(argv)
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as f:
        output = f.read().decode(errors="replace")
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), output


def test_another_users_list_is_one_line_saying_how_to_share(start_master):
    user = _system_user()
    m = start_master(SLEEPER)
    os.chmod(m.root, 0o711)
    os.chmod(m.config, 0o644)
    code, output = run_cli_as(user, ["-c", str(m.config), "--no-autostart", "list"])
    assert code == 1, output
    assert output.count("\n") == 1, output
    assert "Traceback" not in output
    assert "permission denied" in output
    assert "socket_mode" in output and "socket_group" in output


def test_a_user_outside_the_sharing_group_is_told_which_group(start_master):
    user = _system_user()
    group = grp.getgrgid(65534).gr_name  # nogroup or nobody: the test user is not in it
    m = start_master(f'[procsup]\nsocket_mode = "0660"\nsocket_group = "{group}"\n' + SLEEPER)
    os.chmod(m.root, 0o711)
    os.chmod(m.config, 0o644)
    code, output = run_cli_as(user, ["-c", str(m.config), "--no-autostart", "list"])
    assert code == 1, output
    assert output.count("\n") == 1 and "Traceback" not in output, output
    assert f"it is shared with group {group}: add yourself to {group}" in output, output


# --- a socket path over the AF_UNIX limit ------------------------------------------------------


def test_a_socket_path_over_107_bytes_works_for_master_and_cli(master_factory):
    m = master_factory(SLEEPER)
    deep = m.root / ("d" * 60) / ("e" * 60)
    m.write_config(f'[procsup]\nsocket = "{deep}/procsup.sock"\n' + SLEEPER)
    m.socket = str(deep / "procsup.sock")
    assert len(m.socket) > 107
    check = subprocess.run(
        [PY, "-m", "procsup", "-c", str(m.config), "check"], capture_output=True, text=True
    )
    assert check.returncode == 0, check
    m.start()
    res = cli_list(m)
    assert res.returncode == 0 and "h:0" in res.stdout, res
    logs = m.cli("logs", "h", timeout=30)
    assert logs.returncode == 0, logs


def test_a_socket_file_name_too_long_is_rejected_by_check_with_the_fix(tmp_path):
    config = tmp_path / "procsup.toml"
    config.write_text(f'[procsup]\nsocket = "run/{"s" * 100}.sock"\n' + SLEEPER)
    res = subprocess.run(
        [PY, "-m", "procsup", "-c", str(config), "check"], capture_output=True, text=True
    )
    assert res.returncode == 2, res
    assert "procsup.socket" in res.stdout + res.stderr
    assert "short name" in res.stdout + res.stderr
    assert "Traceback" not in res.stderr


def test_a_socket_file_name_too_long_is_one_line_for_every_command(tmp_path):
    """`check` rejects it; the other commands, which read only where the socket is, say the same
    in one line (exit 2) instead of a traceback, and start no master."""
    config = tmp_path / "procsup.toml"
    config.write_text(f'[procsup]\nsocket = "run/{"s" * 100}.sock"\n' + SLEEPER)
    (tmp_path / "run").mkdir()  # the folder exists: only the name is too long
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROCSUP_")}
    for verb in ("start", "list", "daemon", "shutdown"):
        res = subprocess.run(
            [PY, "-m", "procsup", "-c", str(config), verb],
            capture_output=True,
            text=True,
            env=env,
            timeout=30,
        )
        assert res.returncode == 2, (verb, res)
        assert res.stderr.count("\n") == 1 and "Traceback" not in res.stderr, (verb, res.stderr)
        assert "too long for AF_UNIX" in res.stderr, (verb, res.stderr)
    assert not (tmp_path / "run" / "procsup.pid").exists()  # no master was started


def _replies(sock: socket.socket, n: int, timeout: float = 15) -> list[dict[str, Any]]:
    sock.settimeout(timeout)
    buf = b""
    while buf.count(b"\n") < n:
        data = sock.recv(65536)
        assert data, f"connection closed after {buf!r}"
        buf += data
    return [json.loads(line) for line in buf.split(b"\n")[:n]]


def test_requests_after_a_run_wait_on_the_same_connection_are_answered(start_master):
    """`run` with wait watches for the client leaving; once it is answered, the connection reads
    requests as before, a pipelined one included, and the master logs no stray error."""
    m = start_master(
        '[tasks.t]\nschedule = "@every 1h"\ncommand = "sh -c \'sleep 0.3\'"\n' + SLEEPER
    )
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(m.socket)
        s.sendall(
            b'{"id": 1, "cmd": "run", "args": {"task": "t", "wait": true}}\n'
            b'{"id": 2, "cmd": "list", "args": {"stats": false}}\n'
        )
        first, second = _replies(s, 2)
        assert first["id"] == 1 and first["ok"], first
        assert second["id"] == 2 and second["ok"], second
        s.sendall(b'{"id": 3, "cmd": "run", "args": {"task": "t", "wait": true}}\n')
        time.sleep(0.1)  # the watch is reading while the run goes on
        s.sendall(b'{"id": 4, "cmd": "hello"}\n')
        third, fourth = _replies(s, 2)
        assert (third["id"], third["ok"], fourth["id"], fourth["ok"]) == (3, True, 4, True)
    assert "never retrieved" not in m.log() and "Traceback" not in m.log(), m.log()


def test_followers_that_reset_their_connection_leave_no_traceback(start_master):
    m = start_master(
        "[programs.h]\ncommand = \"sh -c 'while true; do echo x; sleep 0.05; done'\"\n"
    )
    for _ in range(5):
        s = _stuck_follower(m.socket, ["h"])
        assert select.select([s], [], [], 10)[0]  # output is waiting, unread
        s.close()  # closed with unread data: the master gets ECONNRESET, as from `logs -f | sleep`
    assert cli_list(m).returncode == 0
    wait_for(lambda: m.cli("list").returncode == 0, 5, "the master answers")
    assert "never retrieved" not in m.log() and "Traceback" not in m.log(), m.log()
