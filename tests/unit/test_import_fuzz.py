"""Random supervisord-style ini content never makes `procsup import` crash: every outcome is
a result (exit 0/1) or a one-line error (exit 2), never a traceback."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from procsup.cli.migrate.output import run_import

SECTIONS = st.sampled_from(
    [
        "program:web",
        "program:a b",
        "program:",
        "group:g",
        "supervisord",
        "include",
        "unix_http_server",
        "inet_http_server",
        "eventlistener:x",
        "fcgi-program:f",
        "rpcinterface:supervisor",
        "weird",
    ]
)
KEYS = st.sampled_from(
    [
        "command", "process_name", "numprocs", "numprocs_start", "directory", "environment",
        "user", "autostart", "autorestart", "exitcodes", "startsecs", "startretries",
        "stopsignal", "stopwaitsecs", "stopasgroup", "redirect_stderr", "stdout_logfile",
        "stderr_logfile", "stdout_logfile_maxbytes", "stdout_logfile_backups", "priority",
        "files", "file", "chmod", "chown", "logfile", "minfds", "nodaemon", "childlogdir",
        "umask", "bogus",
    ]
)  # fmt: skip
VALUES = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "%(program_name)s_%(process_num)02d",
            "%(ENV_NOPE)s",
            "%(here)s/x",
            "%",
            "%(",
            'A="1,2",B=x',
            'A="unclosed',
            "true",
            "unexpected",
            "-1",
            "99999999999999999999",
            "AUTO",
            "NONE",
            "0,2",
            "sh -c 'echo \"hi\"'",
            "*.conf ../x/*.conf",
        ]
    ),
)
PAIRS = st.lists(st.tuples(KEYS, VALUES).map(lambda kv: f"{kv[0]}={kv[1]}"), max_size=8)
SECTION = st.tuples(SECTIONS, PAIRS).map(lambda sp: [f"[{sp[0]}]", *sp[1]])
#: mostly well-formed sections (to reach the mapping of every key), sometimes any line at all
LINES = st.lists(
    st.one_of(SECTION, SECTION, SECTION, st.text(max_size=30).map(lambda t: [t])),
    max_size=6,
).map(lambda groups: [line for group in groups for line in group])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=LINES)
def test_random_supervisord_ini_never_crashes_import(lines: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "supervisord.conf"
        source.write_text("\n".join(lines).replace("\0", ""), encoding="utf-8", errors="replace")
        code = run_import([str(source)], str(Path(tmp) / "out.toml"), False, "supervisord", None)
        assert code in (0, 1, 2)


@pytest.mark.parametrize("kind", ["pm2", "procfile", "crontab"])
def test_other_kinds_on_ini_content_fail_cleanly(kind: str, tmp_path: Path) -> None:
    source = tmp_path / "f.conf"
    source.write_text("[program:x]\ncommand=sleep 1\n")
    assert run_import([str(source)], None, False, kind, None) == 2
