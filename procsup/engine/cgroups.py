"""Process membership that cannot be lost: one cgroup v2 per instance spawn and per task run.

A process cannot leave its cgroup by clearing its environment, rewriting its title, setsid or a
double fork; only a write to a `cgroup.procs` it has no right to touch could move it. So when
the master can create cgroups (as root, or in a subtree systemd delegated with `Delegate=yes`)
stop kills a whole cgroup (`cgroup.kill`), emptiness is learned from `cgroup.events`, CPU comes
from `cpu.stat` and memory from `memory.current` when that controller is on.

Layout: `<cgroup2 mount><the master's own cgroup>/procsup-<hash of state_dir>/<leaf>`, with
leaves `inst-<spawn id>` and `task-<run id>`. The master stays in its own cgroup, beside the
subtree, so the "no internal processes" rule never bites: the subtree holds no process itself
and only the leaves hold processes. Leaves of a killed master are found by the next one in the
same subtree (same state_dir, same place).
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import signal
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from procsup.core.fds import HELD_PER_INSTANCE
from procsup.engine.dirfds import open_in
from procsup.engine.heldfiles import HeldFiles

if TYPE_CHECKING:
    from procsup.engine.proctree import ProcessTable

log = logging.getLogger(__name__)

TRACKING_MODES = ("auto", "cgroup", "process")
HINT = "run the master as root, or under systemd with Delegate=yes"


#: cgroup files are seq_files: a read fills the caller's buffer until the file ends or the
#: kernel's page-sized buffer is full, so a first read shorter than this returned all of it
WHOLE_READ = 2048
#: descriptors a leaf keeps open for `list` with stats (engine/heldfiles.py): cpu.stat, and
#: memory.current + memory.stat or its first members' /proc/PID/statm (core/fds.py counts them)
HELD_PER_LEAF = HELD_PER_INSTANCE


class CgroupUnavailable(Exception):
    """Why no cgroup can be created here (the text is shown to people)."""


@dataclass(frozen=True)
class Tracking:
    """Which tracking a master uses (or would use): `cgroup` with its subtree, or `process`
    with the reason."""

    kind: str
    detail: str

    def describe(self) -> str:
        return f"{self.kind} ({self.detail})"


# --- discovery --------------------------------------------------------------------------------


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash as octal escapes (\\040 …)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), field)


def cgroup2_mount(mountinfo: str = "/proc/self/mountinfo") -> tuple[str, str] | None:
    """(mount point, root within the hierarchy) of the first cgroup2 mount, or None."""
    try:
        with open(mountinfo) as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in lines:
        left, sep, right = line.partition(" - ")
        fields = left.split()
        if sep and right.split()[:1] == ["cgroup2"] and len(fields) >= 5:
            return _unescape(fields[4]), _unescape(fields[3])
    return None


def own_cgroup(proc_cgroup: str = "/proc/self/cgroup") -> str | None:
    """This process's cgroup v2 path (the `0::` line), or None when there is none."""
    try:
        with open(proc_cgroup) as f:
            for line in f:
                if line.startswith("0::"):
                    return line[3:].rstrip("\n")
    except OSError:
        return None
    return None


def subtree_path(state_dir: str) -> str:
    """Where this state_dir's cgroups live; raises CgroupUnavailable when cgroup2 is absent."""
    mount = cgroup2_mount()
    if mount is None:
        raise CgroupUnavailable("no cgroup2 file system is mounted")
    point, root = mount
    own = own_cgroup()
    if own is None:
        raise CgroupUnavailable("this process has no cgroup v2 membership (/proc/self/cgroup)")
    if root != "/" and own.startswith(root):
        own = own[len(root) :]
    base = os.path.normpath(point + "/" + own.lstrip("/"))
    if not base.startswith(point) or not os.path.isdir(base):
        raise CgroupUnavailable(f"the master's cgroup {own} is not visible under {point}")
    digest = hashlib.sha256(os.path.realpath(state_dir).encode()).hexdigest()[:16]
    return f"{base}/procsup-{digest}"


def probe(mode: str, state_dir: str) -> Tracking:
    """What tracking a master started now would use, without creating anything (`check`)."""
    if mode == "process":
        return Tracking("process", "tracking = process")
    try:
        path = subtree_path(state_dir)
    except CgroupUnavailable as exc:
        return Tracking("process", str(exc))
    parent = os.path.dirname(path)
    where = path if os.path.isdir(path) else parent
    if not os.access(where, os.W_OK) or not os.access(f"{parent}/cgroup.procs", os.W_OK):
        return Tracking("process", f"{where} is not writable ({HINT})")
    return Tracking("cgroup", path)


# --- one cgroup -------------------------------------------------------------------------------


class Cgroup:
    """One leaf cgroup: what is in it, how much it used, and how to kill it all."""

    def __init__(self, path: str) -> None:
        self.path = path
        # files are opened below the parent, through its held descriptor (engine/dirfds.py)
        parent, self._leaf = os.path.split(path.rstrip("/"))
        self._parent = sys.intern(parent)  # one string for every leaf of a subtree (issue 14)
        # a leaf's controllers are fixed when it is made (the tree turns memory on for its
        # leaves first), so a leaf found without memory.current is not asked again on every
        # `list` (issue 14: 2,000 failed opens per list)
        self._no_memory = False
        self._members_at: tuple[float, list[int]] | None = None  # (CPU seconds, pids): _members
        self._held: HeldFiles | None = None  # made by the first usage(): `list` with stats

    def _read(self, name: str) -> str:
        """One raw read: cgroup files are small, and `list` with stats reads three per instance,
        where a text-mode open() costs several times the os.open + os.read (issue 14)."""
        fd = open_in(self._parent, f"{self._leaf}/{name}")  # through the subtree's descriptor
        try:
            chunks = [os.read(fd, 65536)]
            if len(chunks[0]) < WHOLE_READ:  # the whole file: no second read to see the end
                return chunks[0].decode()
            while chunks[-1]:
                chunks.append(os.read(fd, 65536))
        finally:
            os.close(fd)
        return b"".join(chunks).decode()

    def _write(self, name: str, value: str) -> bool:
        try:
            with open(f"{self.path}/{name}", "w") as f:
                f.write(value)
        except FileNotFoundError:
            return False
        return True

    def open_procs(self) -> int:
        """A descriptor on cgroup.procs; a child writes "0" to it before exec to join."""
        return os.open(f"{self.path}/cgroup.procs", os.O_WRONLY | os.O_CLOEXEC)

    def pids(self) -> list[int]:
        try:
            return [int(p) for p in self._read("cgroup.procs").split()]
        except (OSError, ValueError):
            return []

    def populated(self) -> bool:
        try:
            return "populated 1" in self._read("cgroup.events")
        except OSError:
            return False  # removed: nothing is in it

    def signal(self, sig: int, *more: int) -> None:
        """Send `sig` (then each of `more`) to every member, read once: stopping 2,000
        instances sends TERM and CONT to each, and the second read was ~4 % of it (issue 14)."""
        kill, sigs = os.kill, (sig, *more)
        for pid in self.pids():
            for each in sigs:
                try:  # not contextlib.suppress: an object per signal, 4,000 of them
                    kill(pid, each)
                except (ProcessLookupError, PermissionError):
                    continue

    def kill(self) -> None:
        """SIGKILL every process in it at once (`cgroup.kill`, Linux 5.14), else `kill_each`."""
        try:
            if self._write("cgroup.kill", "1"):
                return
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                return
            raise
        self.kill_each()

    def kill_each(self) -> None:
        """Before Linux 5.14: freeze the cgroup (5.2+) so nothing in it can fork, SIGKILL each
        member, and thaw, so the kills are delivered."""
        frozen = self._write("cgroup.freeze", "1")
        self.signal(signal.SIGKILL)
        if frozen:
            self._write("cgroup.freeze", "0")

    def cpu_seconds(self) -> float:
        """CPU used by every process that ever ran in it (cpu.stat usage_usec)."""
        try:
            return _usage_usec(self._read_held("cpu.stat")) / 1e6
        except (OSError, ValueError):
            return 0.0

    def memory(self) -> int | None:
        """memory.current less the page cache (so it compares with RSS), when the memory
        controller is on for this cgroup; None otherwise."""
        if self._no_memory:
            return None
        try:
            current = int(self._read_held("memory.current"))
            text = self._read_held("memory.stat", 65536).decode()
            stat = dict(line.split() for line in text.splitlines())
        except FileNotFoundError:
            self._no_memory = True
            return None
        except (OSError, ValueError):
            return None
        return max(current - int(stat.get("file", 0)), 0)

    def usage(self, table: ProcessTable) -> tuple[float, int]:
        """(CPU seconds, memory bytes): memory.current when available, else the RSS summed over
        the members (read from `table`, or each member's statm through a held descriptor).
        `list` with stats calls this for every instance: cpu_seconds and memory are written
        out here, a few calls fewer per instance (~1.5 µs of ~10 at 2,000, issue 14)."""
        held = self._held
        if held is None:
            held = self._held = HeldFiles(HELD_PER_LEAF)
        try:
            cpu = _usage_usec(held.read("cpu.stat", self._open_cpu_stat)) / 1e6
        except (OSError, ValueError):
            cpu = 0.0
        mem = None if self._no_memory else self.memory()
        if mem is None:
            mem = table.rss_of(self._members(cpu), held)
        return cpu, mem

    def _open_cpu_stat(self) -> int:
        return open_in(self._parent, f"{self._leaf}/cpu.stat")

    def _read_held(self, name: str, size: int = 4096) -> bytes:
        """A small file of the leaf through a descriptor held for the next look (heldfiles);
        one read returns all of a cgroup file that fits in `size`."""
        if self._held is None:
            self._held = HeldFiles(HELD_PER_LEAF)
        opener = lambda: open_in(self._parent, f"{self._leaf}/{name}")  # noqa: E731
        return self._held.read(name, opener, size)

    def _members(self, cpu: float) -> list[int]:
        """The members whose RSS makes up the instance's memory, re-read only when the cgroup
        used CPU since the last look: a process joins it by forking (or, as our spawn does, by
        writing "0" to cgroup.procs before its exec) and leaves by exiting, and each costs a
        member CPU time that usage_usec counts, so an unchanged usage means the same members.
        Reading cgroup.procs of idle instances was a quarter of a 2,000-instance `list`
        (issue 14). Seen one look late: a fork less than a scheduler tick before the read, and
        a process another program moves in, until it runs."""
        known = self._members_at
        if known is not None and cpu > 0 and known[0] == cpu:
            return known[1]
        pids = self.pids()
        self._members_at = (cpu, pids)
        if self._held is not None:  # the statm descriptors of members that left
            members = set(pids)
            self._held.keep_only(lambda key: isinstance(key, str) or key in members)
        return pids

    def close_files(self) -> None:
        """Close the descriptors `list` holds on its files (and its members' statm): one open
        file would keep a removed cgroup in the kernel, and a leaf waiting for its removal
        (cgretire.py) must not hold descriptors the next spawns count on."""
        if self._held is not None:
            self._held.close()
            self._held = None

    def remove(self) -> bool:
        """rmdir; False when it still holds processes (or is gone already: True). Its held
        descriptors are closed first (close_files)."""
        self.close_files()
        try:
            os.rmdir(self.path)
        except FileNotFoundError:
            return True
        except OSError as exc:
            log.warning("cannot remove cgroup %s: %s", self.path, exc.strerror)
            return False
        return True


def _usage_usec(stat: bytes) -> int:
    """usage_usec from cpu.stat's text (its first line on every kernel so far; searched for)."""
    if stat.startswith(b"usage_usec "):
        return int(stat[11 : stat.index(b"\n")])
    for line in stat.splitlines():
        key, _, value = line.partition(b" ")
        if key == b"usage_usec":
            return int(value)
    raise ValueError("no usage_usec in cpu.stat")
