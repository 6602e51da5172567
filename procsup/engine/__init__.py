"""The engine layer: the master and everything it supervises: programs, instances and their
processes (child: the one spawn-watch-stop primitive), process trees and cgroups, stopping,
output and log files (logquery: which outputs a request reads), name resolution (names),
metrics and the memory guard, events and the state file. It may import core/ and config/ only:
the scheduler (tasks/) and the control server (control/) are built outside and handed in through
the Protocols of parts.py, and the spawner, reaper and clock are seams (seams.py), so the engine
runs and is tested on its own, in-process with fakes or with real children."""
