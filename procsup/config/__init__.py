"""The config layer: the TOML file turned into frozen dataclasses (load), the per-key checks
behind it, and writing a config back (dump, save), plus env_file parsing and command lookup. It
may import core/ only; it knows nothing about running processes, the socket or the user
interface (see tests/unit/test_layers.py for the exceptions still left, issue 10)."""
