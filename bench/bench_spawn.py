"""bench_spawn: what one spawn through the spawn helper costs, in CPU and page faults, and what a
2,000-instance start-up costs each process (issue 14, session 19). Root and cgroup v2 needed.

    python bench/bench_spawn.py [--tree DIR ...] [--spawns 1000] [--startup 2000]

For each tree (default: this checkout), in turn:
  - spawns: `--spawns` children of `true` (with `--pass-fd`, each passed one descriptor, as a
    task run's lock is) (found through this process's PATH, as a program's
    `command` is) cloned by the tree's spawn helper into a leaf each, overlapped as the
    master's autostart does (spawnbatch.Batch): per spawn, the caller's CPU (the master's part),
    the helper's CPU and minor faults, and the child's from clone to the exit of `true`
    (RUSAGE_CHILDREN: the children are ours through CLONE_PARENT);
  - startup (unless `--startup 0`): a master of that many `sleep 3600` (bench_scale's), until
    all are RUNNING: the wall times, and the CPU (schedstat) of the master, of its helper and of
    every `sleep` (clone to now), the faults of each, the whole box's CPU over the start-up.
Prints one line per tree and part, with the load average. Compare trees with `--tree`
(e.g. a `git archive` of main) in the same run; run under `flock /tmp/bench.lock`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_scale import Master

REPO = Path(__file__).resolve().parent.parent
SPAWN = r"""
import os, resource, sys, time
from procsup.engine import cgspawn, spawnhelper
from procsup.engine.cgchild import Launch
from procsup.engine.cgroups import cgroup2_mount, own_cgroup
from procsup.engine.spawnbatch import Batch

n = int(sys.argv[1])
# --pass-fd: each child also gets a descriptor passed at its number, as a task run's flock
passed = (os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC),) if sys.argv[2:] == ["pass"] else ()
point, root = cgroup2_mount()
base = os.path.normpath(f"{point}/{own_cgroup()[len(root.rstrip('/')):]}/bench-spawn-{os.getpid()}")
os.mkdir(base)
leaves = [f"{base}/l{i}" for i in range(n)]
for leaf in leaves:
    os.mkdir(leaf)
helper = spawnhelper.start()
time.sleep(0.3)

def stat(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(open(f"/proc/{pid}/schedstat").read().split()[0]) / 1e9, int(fields[7])

env = {**os.environ, "PROCSUP_INSTANCE": "bench"}
null = os.open("/dev/null", os.O_WRONLY | os.O_CLOEXEC)
pids = []
h_cpu, h_flt = stat(helper.pid)
mine = time.process_time()
with Batch() as batch:
    for leaf in leaves:
        sent = cgspawn.submit_into(leaf, Launch(["true"], env, None, null, None, passed))
        batch.add(lambda sent=sent: pids.append(cgspawn.complete(sent)))
mine = time.process_time() - mine
for pid in pids:
    os.waitpid(pid, 0)
h_cpu2, h_flt2 = stat(helper.pid)
kids = resource.getrusage(resource.RUSAGE_CHILDREN)
spawnhelper.stop()
for leaf in leaves:
    os.rmdir(leaf)
os.rmdir(base)
print(f"caller {mine / n * 1e3:.3f} ms | helper {(h_cpu2 - h_cpu) / n * 1e3:.3f} ms, "
      f"{(h_flt2 - h_flt) / n:.0f} faults | child to the end of true "
      f"{(kids.ru_utime + kids.ru_stime) / n * 1e3:.3f} ms, {kids.ru_minflt / n:.0f} faults")
"""


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def spawns(tree: Path, n: int, pass_fd: bool = False) -> str:
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONSAFEPATH": "1"}
    argv = [sys.executable, "-c", SPAWN, str(n), *(["pass"] if pass_fd else [])]
    res = subprocess.run(argv, env=env, capture_output=True, text=True, cwd="/")
    if res.returncode != 0:
        raise SystemExit(res.stderr[-500:])
    return res.stdout.strip()


def _cpu_faults(pid: str) -> tuple[float, int]:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9, int(fields[7])


def _box_cpu() -> float:
    ticks = sum(int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8])
    return ticks / os.sysconf("SC_CLK_TCK")


def startup(tree: Path, n: int) -> str:
    m = Master(tree, n)
    try:
        box = _box_cpu()
        spawned, running = m.start()
        box = _box_cpu() - box
        master = (m.dir / "run" / "procsup.pid").read_text().split()[0]
        kids = [
            pid
            for task in os.listdir(f"/proc/{master}/task")
            for pid in Path(f"/proc/{master}/task/{task}/children").read_text().split()
        ]
        comm = {pid: Path(f"/proc/{pid}/comm").read_text().strip() for pid in kids}
        sleeps = [_cpu_faults(p) for p in kids if comm[p] == "sleep"]
        helpers = [_cpu_faults(p) for p in kids if comm[p] != "sleep"]
        m_cpu, m_flt = _cpu_faults(master)
        h_cpu, h_flt = sum(c for c, _ in helpers), sum(f for _, f in helpers)
        s_cpu, s_flt = sum(c for c, _ in sleeps), sum(f for _, f in sleeps)
        return (
            f"up {spawned:.2f} s, RUNNING {running:.2f} s | CPU: master {m_cpu:.2f} s "
            f"({m_flt} faults), helper {h_cpu:.2f} s ({h_flt / n:.0f} faults a spawn), "
            f"every sleep {s_cpu:.2f} s ({s_flt / n:.0f} faults each) | box {box:.2f} s"
        )
    finally:
        m.shutdown()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tree", action="append", type=Path, help="a tree to measure (repeat)")
    ap.add_argument("--spawns", type=int, default=1000)
    ap.add_argument("--startup", type=int, default=2000, help="instances; 0 skips it")
    ap.add_argument(
        "--pass-fd", action="store_true", help="pass each child a descriptor (a task's lock)"
    )
    args = ap.parse_args()
    for tree in args.tree or [REPO]:
        if args.spawns:
            got = spawns(tree.resolve(), args.spawns, args.pass_fd)
            print(f"{tree} spawns, load {load()}: {got}")
        if args.startup:
            print(f"{tree} start-up, load {load()}: {startup(tree.resolve(), args.startup)}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
