"""Finding the cgroup2 mount and our own cgroup, from files laid out as the kernel writes them."""

from __future__ import annotations

from pathlib import Path

from procsup.engine.cgroups import cgroup2_mount, own_cgroup, probe

HYBRID = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""
UNIFIED = """\
22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/root rw
29 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate
"""
ESCAPED = "50 22 0:40 /sub /mnt/my\\040cgroups rw - cgroup2 none rw\n"
NONE = "22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/root rw\n"


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_cgroup2_mount_in_each_layout(tmp_path: Path) -> None:
    assert cgroup2_mount(write(tmp_path, "h", HYBRID)) == ("/sys/fs/cgroup/unified", "/")
    assert cgroup2_mount(write(tmp_path, "u", UNIFIED)) == ("/sys/fs/cgroup", "/")
    assert cgroup2_mount(write(tmp_path, "e", ESCAPED)) == ("/mnt/my cgroups", "/sub")
    assert cgroup2_mount(write(tmp_path, "n", NONE)) is None
    assert cgroup2_mount(str(tmp_path / "missing")) is None


def test_own_cgroup_is_the_unified_line(tmp_path: Path) -> None:
    service = "/system.slice/procsup.service"
    text = f"4:memory:/x\n1:name=systemd:{service}\n0::{service}\n"
    assert own_cgroup(write(tmp_path, "c", text)) == service
    assert own_cgroup(write(tmp_path, "v1", "4:memory:/x\n")) is None


def test_process_tracking_when_asked() -> None:
    tracking = probe("process", "/tmp")
    assert tracking.kind == "process" and tracking.describe() == "process (tracking = process)"
