"""What the dashboard costs: `procsup tui` run in a real pseudo-terminal against a real master of
`sleep` instances, as a person would run it.

  1. 500 instances, nobody looking: the master's CPU over the window (the reference).
  2. 500 instances, one dashboard open and idle: the dashboard's CPU and the master's (the
     `events` stats feed), over the same window, and the bytes the dashboard wrote to the
     terminal per second (its repaints).
  3. 2,000 instances (the program scaled up): keypress to repaint in the dashboard, from the
     key's bytes written into the terminal to the first output that shows the result: `end`,
     `home`, `pagedown` and `down` in the table, each key of a filter typed at 8 keys a second
     (the table shown filtered), and `escape` clearing it (which includes the wait for the
     rest of an escape sequence: 25 ms on this local pty, or ESCDELAY when set).

CPU is on-CPU time of every thread (/proc/PID/task/*/schedstat, ns) over the window, as % of one
core. The box's load average is printed with the figures: on a shared box, say it with them.

    python bench/bench_tui.py [--instances 500] [--big 2000] [--idle 20] [--repeat 5]
    python bench/bench_tui.py --stopped --repeat 0   # idle with nothing on screen changing

Run it with the procsup to measure on PYTHONPATH (the master and the dashboard are started with
this python, in the temp dir, so a checkout in the current directory is not imported instead).
A temp dir under /tmp holds the master; it is shut down and removed at the end.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from collections.abc import Callable
from pathlib import Path

from _common import answers_hello, spawn_master

from procsup.control.client import Client, ClientError, NoMaster

COLS, LINES = 160, 48
KEYS = {
    "ctrl+end": b"\x1b[1;5F",
    "ctrl+home": b"\x1b[1;5H",
    "pagedown": b"\x1b[6~",
    "down": b"\x1b[B",
    "escape": b"\x1b",
}
FILTER = "w:19"  # at 2,000 instances: w:19, w:190…w:199, w:1900…w:1999
TYPING_GAP = 0.125  # 8 keys a second: a quick typist


def config(n: int, autostart: bool = True) -> str:
    return f"""
[procsup]
socket = "run/procsup.sock"
state_dir = "run"
log_dir = "logs"

[programs.w]
command = "sleep 86400"
numprocs = {n}
autostart = {"true" if autostart else "false"}
start_seconds = 0
"""


def cpu_ns(pid: int) -> int:
    """On-CPU time of every thread of `pid` (ns), from /proc/PID/task/*/schedstat."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            continue  # a thread that ended meanwhile
    return total


def cpu_percent(pids: list[int], seconds: float) -> list[float]:
    """Each pid's CPU over the same window, % of one core."""
    before, t0 = [cpu_ns(p) for p in pids], time.monotonic()
    time.sleep(seconds)
    after, t1 = [cpu_ns(p) for p in pids], time.monotonic()
    return [(b - a) / 1e9 / (t1 - t0) * 100 for a, b in zip(before, after, strict=True)]


def wait_all_running(sock: str, n: int, timeout: float = 300, state: str = "RUNNING") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with Client(sock, timeout=60) as c:
            rows = c.call("list", {"stats": False})["instances"]
        if len(rows) == n and all(r["state"] == state for r in rows):
            return
        time.sleep(0.5)
    raise SystemExit(f"not all {n} instances became {state} in {timeout:g}s")


class Terminal:
    """`procsup tui` in a pseudo-terminal; a thread reads everything it writes, with times."""

    def __init__(self, cfg: Path) -> None:
        master_fd, slave_fd = pty.openpty()
        fcntl.ioctl(slave_fd, termios.TIOCSWINSZ, struct.pack("HHHH", LINES, COLS, 0, 0))
        env = dict(os.environ, TERM="xterm-256color", COLUMNS=str(COLS), LINES=str(LINES))
        for name in ("SSH_CONNECTION", "SSH_TTY"):  # the pty is local, wherever this runs
            env.pop(name, None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "procsup", "-c", str(cfg), "tui"],
            stdin=slave_fd,
            stdout=slave_fd,
            stderr=slave_fd,
            env=env,
            start_new_session=True,
        )
        os.close(slave_fd)
        self.fd = master_fd
        self.lock = threading.Condition()
        self.out = bytearray()
        self.chunks: list[tuple[float, int]] = []  # (arrival time, end offset in `out`)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.fd, 65536)
            except OSError:
                data = b""
            now = time.monotonic()
            with self.lock:
                if not data:
                    self.chunks.append((now, -1))
                    self.lock.notify_all()
                    return
                self.out += data
                self.chunks.append((now, len(self.out)))
                self.lock.notify_all()

    def mark(self) -> int:
        with self.lock:
            return len(self.out)

    def wait_for(self, marker: str, since: int, timeout: float = 30.0) -> float:
        """The arrival time of the first output after offset `since` that contains `marker`."""
        needle = marker.encode()
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                at = self.out.find(needle, since)
                if at >= 0:
                    end = at + len(needle)
                    return next(t for t, off in self.chunks if off >= end or off < 0)
                left = deadline - time.monotonic()
                if left <= 0 or (self.chunks and self.chunks[-1][1] < 0):
                    tail = bytes(self.out[-400:])
                    raise SystemExit(f"the dashboard never showed {marker!r}; last output {tail!r}")
                self.lock.wait(left)

    def first_output_after(self, since: int, timeout: float = 30.0) -> float:
        """The arrival time of the first output after offset `since`."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                later = [t for t, off in self.chunks if off > since or off < 0]
                if later:
                    return later[0]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise SystemExit("the dashboard wrote nothing after a key")
                self.lock.wait(left)

    def press(self, data: bytes) -> tuple[float, int]:
        since = self.mark()
        t0 = time.monotonic()
        os.write(self.fd, data)
        return t0, since

    def bytes_written(self) -> int:
        return self.mark()

    def close(self) -> None:
        try:
            os.write(self.fd, b"q")
            self.proc.wait(10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        os.close(self.fd)


def key_ms(term: Terminal, key: bytes, marker: str | None) -> float:
    """One key: ms from its bytes to the output showing `marker` (None: to the first output)."""
    time.sleep(0.3)  # quiet before each key, so the previous repaint is not counted
    t0, since = term.press(key)
    at = term.first_output_after(since) if marker is None else term.wait_for(marker, since)
    return (at - t0) * 1000


def typing_ms(term: Terminal, text: str, final: str) -> tuple[list[float], float]:
    """Type `text` into the open filter box at TYPING_GAP a key: ms to each key's echo, and ms
    from the last key to the table shown filtered (`final` in the output)."""
    echoes = []
    for ch in text:
        t0, since = term.press(ch.encode())
        echoes.append((term.first_output_after(since) - t0) * 1000)
        time.sleep(max(0.0, TYPING_GAP - (time.monotonic() - t0)))
    time.sleep(0)
    return echoes, (term.wait_for(final, since) - t0) * 1000


def summary(samples: list[float]) -> str:
    return f"median {statistics.median(samples):6.1f} ms  max {max(samples):6.1f} ms"


def measure_keys(term: Terminal, n: int, repeat: int) -> dict[str, list[float]]:
    last = f"w:{n - 1}"
    out: dict[str, list[float]] = {}
    add: Callable[[str, float], None] = lambda k, v: out.setdefault(k, []).append(v)  # noqa: E731
    shown = 1 + 10 + 100 if n >= 2000 else None
    for _ in range(repeat):
        add("ctrl+end (to the last row)", key_ms(term, KEYS["ctrl+end"], last))
        add("ctrl+home (to the first row)", key_ms(term, KEYS["ctrl+home"], "w:0 "))
        add("pagedown", key_ms(term, KEYS["pagedown"], None))
        add("down", key_ms(term, KEYS["down"], None))
        add("/ (filter box opens)", key_ms(term, b"/", "part of a name"))
        final = f"({shown} of {n})" if shown else " of "
        echoes, filtered = typing_ms(term, FILTER, final)
        for ms in echoes:
            add("filter: each key echoed", ms)
        add(f"filter: last key to the table filtered ({FILTER})", filtered)
        add("enter (filter kept)", key_ms(term, b"\r", None))
        add("escape (filter cleared)", key_ms(term, KEYS["escape"], f"instances ({n})"))
    return out


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min) {five:.2f} (5 min) on {os.cpu_count()} cores"


def open_dashboard(cfg: Path, n: int, state: str = "RUNNING") -> Terminal:
    term = Terminal(cfg)
    term.wait_for(f"{n} {state}", 0, timeout=120)
    time.sleep(3)  # past the first paint and the first stats items
    return term


def idle_figures(master: int, sock: str, cfg: Path, n: int, seconds: float, state: str) -> None:
    """The master alone, then with a dashboard open: CPU over `seconds` each."""
    wait_all_running(sock, n, state=state)
    time.sleep(3)
    print(f"{n} instances {state}; {load()}")
    (alone,) = cpu_percent([master], seconds)
    print(f"  master CPU, nobody looking:          {alone:6.2f} % over {seconds:g} s")
    term = open_dashboard(cfg, n, state)
    try:
        b0 = term.bytes_written()
        tui_cpu, master_cpu = cpu_percent([term.proc.pid, master], seconds)
        rate = (term.bytes_written() - b0) / seconds
    finally:
        term.close()
    print(f"  dashboard CPU, idle:                 {tui_cpu:6.2f} % over {seconds:g} s")
    print(f"  master CPU, dashboard open:          {master_cpu:6.2f} %")
    print(f"  dashboard output (repaints):         {rate / 1024:6.1f} KiB/s")
    print(f"  ({load()})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=500, help="for the idle figures")
    parser.add_argument("--big", type=int, default=2000, help="for the keypress figures")
    parser.add_argument("--idle", type=float, default=20.0, help="the CPU window, seconds; 0: skip")
    parser.add_argument("--repeat", type=int, default=5, help="rounds of keys; 0: skip")
    parser.add_argument(
        "--stopped",
        action="store_true",
        help="idle figures with the instances STOPPED (no uptime ticks: nothing on screen "
        "changes but the header); no keypress figures",
    )
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="pbt-", dir="/tmp"))
    os.chdir(root)  # `python -m procsup` imports from the current directory first: not a checkout
    first = args.instances if args.idle > 0 else args.big
    master, sock = spawn_master(root, config(first, autostart=not args.stopped))
    cfg = root / "procsup.toml"
    term: Terminal | None = None
    try:
        errors = (NoMaster, ClientError, OSError)
        if not answers_hello(sock, wait=120, call_timeout=30, poll=0.1, retry_on=errors):
            raise SystemExit("the master did not answer: " + (root / "master.err").read_text())
        if args.idle > 0:
            state = "STOPPED" if args.stopped else "RUNNING"
            idle_figures(master.pid, sock, cfg, args.instances, args.idle, state)
        if args.repeat > 0 and not args.stopped:
            with Client(sock, timeout=120) as c:
                c.call("scale", {"program": "w", "numprocs": args.big})
            wait_all_running(sock, args.big)
            time.sleep(3)
            term = open_dashboard(cfg, args.big)
            print(f"{args.big} instances, keypress to repaint ({args.repeat} rounds); {load()}")
            for what, samples in measure_keys(term, args.big, args.repeat).items():
                print(f"  {what:45s} {summary(samples)}")
            print(f"  ({load()})")
    finally:
        if term is not None:
            term.close()
        try:
            with Client(sock, timeout=60) as c:
                c.call("shutdown")
            master.wait(120)
        except (NoMaster, ClientError, OSError, subprocess.TimeoutExpired):
            master.kill()
            master.wait()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
