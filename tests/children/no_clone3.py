#!/usr/bin/env python3
"""Spawns `cat /proc/self/cgroup` into the leaf cgroup argv[1] twice, through procsup's spawn,
under a seccomp filter that fails clone3 with ENOSYS (as container runtimes do). Prints, per
spawn, whether Popen was used and the child's cgroup; procsup's log goes to stderr."""

import ctypes
import errno
import logging
import os
import platform
import sys

from procsup.engine.cgroups import Cgroup
from procsup.engine.process import SpawnSpec, spawn

AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
SYS_CLONE3 = 435
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
LD_ABS_W, JEQ_K, RET_K = 0x20, 0x15, 0x06
ALLOW, ERRNO = 0x7FFF0000, 0x00050000


class Filter(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    ]


class Program(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(Filter))]


def deny_clone3() -> None:
    rules = [
        Filter(LD_ABS_W, 0, 0, 4),  # seccomp_data.arch
        Filter(JEQ_K, 1, 0, AUDIT_ARCH[platform.machine()]),
        Filter(RET_K, 0, 0, ALLOW),
        Filter(LD_ABS_W, 0, 0, 0),  # seccomp_data.nr
        Filter(JEQ_K, 0, 1, SYS_CLONE3),
        Filter(RET_K, 0, 0, ERRNO | errno.ENOSYS),
        Filter(RET_K, 0, 0, ALLOW),
    ]
    array = (Filter * len(rules))(*rules)
    prog = Program(len(rules), array)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS")
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_SECCOMP")


def main() -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    deny_clone3()
    leaf = Cgroup(sys.argv[1])
    for _ in range(2):
        child = spawn(SpawnSpec(["cat", "/proc/self/cgroup"], dict(os.environ), cgroup=leaf))
        os.set_blocking(child.stdout_fd, True)
        out = b""
        while chunk := os.read(child.stdout_fd, 4096):
            out += chunk
        os.waitpid(child.pid, 0)
        where = out.decode().split("0::", 1)[1].split("\n", 1)[0]
        print("popen" if child.popen is not None else "clone3", where, flush=True)


main()
