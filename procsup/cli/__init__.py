"""The command-line layer: the `procsup` parser (parser) and its runner (main), what every
command is given (context) and its exit codes (errors), one function per command (commands,
task_commands), the fleet views (fleetview, cluster), the
tables printed for people, starting the master in the background (launcher, daemon), `check`,
`describe`, `startup` and `import` (migrate/). It may import core/, config/ and control/ (the
master only through control.client); imports elsewhere are listed as known exceptions in
tests/unit/test_layers.py (issue 10). Keep `procsup list` light: heavy modules load lazily.
The `tui` verb runs the dashboard procsup/__main__.py hands it: the CLI never imports tui/."""
