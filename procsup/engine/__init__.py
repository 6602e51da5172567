"""The engine layer: the master and everything it supervises: programs, instances and their
processes, process trees and cgroups, stopping, output and log files, metrics and the memory guard,
events and the state file. It may import core/, config/ and tasks/; it never imports control/,
cli/ or tui/ (no user interface, no socket protocol), so it can run and be tested on its own."""
