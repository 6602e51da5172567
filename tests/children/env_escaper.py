#!/usr/bin/env python3
"""A daemon that hides: fork, setsid, fork again; the grandchild ignores SIGTERM, writes its pid
to argv[2], then loses every procsup mark from its environment, the way (argv[1]):

  env-i    it execs `env -i sleep …` (as `env -i` and sudo do): an empty environment;
  clobber  it overwrites its environment block in place (as setproctitle does in nginx,
           php-fpm and postgres), so /proc/PID/environ reads only filler.

The leader prints "leader up" and sleeps."""

import ctypes
import os
import shutil
import signal
import sys
import time


def clobber_environ() -> None:
    """Fill every string of the C `environ` (the block /proc/PID/environ shows) with 'x'."""
    libc = ctypes.CDLL(None)
    environ = ctypes.POINTER(ctypes.c_void_p).in_dll(libc, "environ")
    i = 0
    while environ[i]:
        address = environ[i]
        ctypes.memset(address, ord("x"), len(ctypes.string_at(address)))
        i += 1


def grandchild(mode: str, pidfile: str) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # survives exec
    if mode == "clobber":
        clobber_environ()
    with open(pidfile + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.replace(pidfile + ".tmp", pidfile)
    if mode == "env-i":
        env = shutil.which("env") or "/usr/bin/env"
        os.execv(env, ["env", "-i", "sleep", "100000"])
    while True:
        time.sleep(3600)


if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        grandchild(sys.argv[1], sys.argv[2])
    os._exit(0)
os.wait()
print("leader up", flush=True)
while True:
    time.sleep(3600)
