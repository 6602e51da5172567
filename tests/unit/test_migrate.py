"""The importers' mapping rules, key by key, on small sources written here."""

from __future__ import annotations

import json
from pathlib import Path

from procsup.cli.migrate import convert, detect_text
from procsup.cli.migrate.crontab import split_percent, split_schedule
from procsup.cli.migrate.supervisord import parse_environment


def _one(tmp_path: Path, name: str, text: str, kind: str | None = None, env: str | None = None):
    path = tmp_path / name
    path.write_text(text)
    return convert([path], kind, env), str(path)


def test_supervisord_environment_syntax():
    assert parse_environment('A="1,2",B=x, C=\'y z\',D=""') == {
        "A": "1,2",
        "B": "x",
        "C": "y z",
        "D": "",
    }


def test_supervisord_warnings_name_file_and_line(tmp_path: Path):
    conv, path = _one(
        tmp_path,
        "s.conf",
        "[program:w]\n"
        "command=/bin/sleep %(process_num)02d\n"
        "numprocs=2\n"
        "numprocs_start=1\n"
        "startretries=0\n"
        "stopasgroup=false\n"
        "stdout_logfile=NONE\n"
        "umask=022\n"
        "[group:g]\nprograms=w\n",
    )
    lines = {w.line: w.message for w in conv.warnings if w.file == path}
    assert "unpadded" in lines[2] and "'/bin/sleep 01'" in lines[2]
    assert "max_restarts = 1" in lines[5]
    assert "always signals the group" in lines[6]
    assert "NONE" in lines[7]
    assert "umask" in lines[8]
    assert "no groups" in lines[9]
    (entry,) = conv.entries
    assert entry.table["command"] == "/bin/sleep {num}"
    assert entry.table["numprocs"] == 2 and entry.table["max_restarts"] == 1


def test_supervisord_defaults_that_differ_are_written_out(tmp_path: Path):
    conv, _ = _one(tmp_path, "s.conf", "[program:w]\ncommand=/bin/true\nautorestart=false\n")
    (entry,) = conv.entries
    assert entry.table == {"command": "/bin/true", "autorestart": "never", "max_restarts": 3}
    assert any("startretries=3 -> max_restarts = 3" in c for c in entry.comments)


def test_pm2_dump_maps_its_own_key_names(tmp_path: Path):
    dump = [
        {
            "name": "api",
            "pm_exec_path": "/srv/api/index.js",
            "pm_cwd": "/srv/api",
            "exec_interpreter": "node",
            "node_args": ["--max-old-space-size=512"],
            "args": ["--port", "3000"],
            "env": {"PORT": "3000"},
            "PORT": "3000",
            "instances": 1,
            "exec_mode": "fork_mode",
            "pm_out_log_path": "/root/.pm2/logs/api-out.log",
            "pm_id": 0,
            "status": "online",
            "max_memory_restart": 314572800,
        }
    ]
    conv, _ = _one(tmp_path, "dump.pm2", json.dumps(dump))
    (entry,) = conv.entries
    assert entry.table["command"] == "node --max-old-space-size=512 /srv/api/index.js --port 3000"
    assert entry.table["directory"] == "/srv/api"
    assert entry.table["stdout_log"] == "/root/.pm2/logs/api-out.log"
    assert entry.table["max_memory"] == "314572800"
    assert entry.table["environment"] == {"PORT": "3000"}
    assert not conv.warnings


def test_pm2_named_env_is_picked_with_env(tmp_path: Path):
    app = {"apps": [{"name": "a", "script": "a.js", "env": {"X": "1"}, "env_prod": {"X": "2"}}]}
    conv, _ = _one(tmp_path, "e.json", json.dumps(app, indent=2), env="prod")
    assert conv.entries[0].table["environment"] == {"X": "2"}
    conv, _ = _one(tmp_path, "e.json", json.dumps(app, indent=2))
    (warning,) = conv.warnings
    assert warning.line == 9 and "--env prod" in warning.message


def test_crontab_system_format_and_percent():
    assert split_schedule("*/5 * * * * root echo hi", system=True) == (
        "*/5 * * * *",
        "root",
        "echo hi",
    )
    assert split_schedule("@daily echo hi") == ("@daily", None, "echo hi")
    assert split_schedule("not a line at all") is None
    assert split_percent(r"date +\%s%line 1%line 2") == ("date +%s", "line 1\nline 2")


def test_detection_from_content():
    assert detect_text("[program:x]\ncommand=a\n") == "supervisord"
    assert detect_text('{"apps": [{"name": "a", "script": "a.js"}]}') == "pm2"
    assert detect_text("apps:\n  - name: a\n    script: a.js\n") == "pm2"
    assert detect_text("SHELL=/bin/bash\n0 * * * * run-it\n") == "crontab"
    assert detect_text("web: bundle exec puma\nworker: sidekiq\n") == "procfile"
    assert detect_text("hello world\n") is None


def test_pm2_ecosystem_keys_map_to_procsup_settings_or_say_why_not(tmp_path: Path):
    apps = [
        {
            "name": "api",
            "script": "server.js",
            "instances": 2,
            "exec_mode": "cluster",
            "autorestart": False,
            "autostart": False,
            "max_restarts": 5,
            "exp_backoff_restart_delay": 100,
            "cron_restart": "0 3 * * *",
            "kill_timeout": 3000,
            "out_file": "logs/api.log",
            "error_file": "/dev/null",
            "log_date_format": "YYYY",
            "stop_exit_codes": [0, 3],
            "wait_ready": True,
            "listen_timeout": 8000,
            "user": "www",
            "max_memory_restart": "300M",
        },
        {"name": "w", "script": "w.js", "restart_delay": 500, "merge_logs": True, "instances": 2}
        | {"out_file": "w.log", "time": True, "max_restarts": 0},
    ]
    conv, path = _one(tmp_path, "ecosystem.config.json", json.dumps({"apps": apps}, indent=2))
    api, w = conv.entries
    assert api.table == {
        "command": f"node {tmp_path}/server.js",
        "numprocs": 2,
        "autorestart": "never",
        "autostart": False,
        "max_restarts": 5,
        "start_seconds": "8s",
        "restart_delay": 0.1,
        "restart_delay_max": "15s",
        "restart_schedule": "0 3 * * *",
        "stop_timeout": "3s",
        "stdout_log": f"{tmp_path}/logs/api-{{num}}.log",  # one per instance, as pm2 does
        "log_timestamps": True,
        "exit_codes": [0, 3],
        "user": "www",
        "max_memory": "300MB",
        "directory": str(tmp_path),
    }
    assert w.table["stdout_log"] == f"{tmp_path}/w.log"  # merge_logs: one file for all
    assert w.table["restart_delay"] == w.table["restart_delay_max"] == 0.5
    assert w.table["log_timestamps"] is True
    lines = Path(path).read_text().splitlines()
    said = {x.message.split(": ", 2)[1]: lines[x.line - 1] for x in conv.warnings}
    assert sorted(said) == ["error_file", "exec_mode", "max_restarts", "wait_ready"]
    assert all(f'"{key}"' in line for key, line in said.items())  # each names its own line
    assert any("max_restarts 0 means never give up" in x.message for x in conv.warnings)


def test_supervisord_values_procsup_cannot_take_are_warned_about_where_they_are(tmp_path: Path):
    conv, path = _one(
        tmp_path,
        "sup.conf",
        "[program:api]\n"
        "command=/usr/bin/api --host %(host_node_name)s --tmp %(ENV_NOPE_NOT_SET)s\n"
        'environment=A="1",B\n'
        "killasgroup=false\n"
        "redirect_stderr=true\n"
        "stderr_logfile=/var/log/api.err\n"
        "stdout_logfile=syslog\n"
        "stdout_logfile_maxbytes=0\n"
        "stderr_logfile_maxbytes=1MB\n"
        "stdout_logfile_backups=4\n"
        "stderr_logfile_backups=4\n"
        "priority=abc\n"
        "[program:db]\n"
        "command=/usr/bin/db\n"
        "stdout_logfile=AUTO\n"
        "stdout_logfile_maxbytes=5MB\n"
        "stderr_logfile_maxbytes=5MB\n",
    )
    warned = {w.line: w.message for w in conv.warnings if w.file == path}
    assert warned == {
        2: "command: %(ENV_NOPE_NOT_SET)s cannot be expanded",
        3: "environment: expected KEY=value pairs separated by commas, not 'B'",
        4: "killasgroup: false is not possible: procsup always kills the tree",
        7: "stdout_logfile: syslog: not supported; output goes to the default file",
        8: "stdout_logfile_maxbytes: 0 (never rotate) is not supported; procsup keeps its "
        "default size",
        9: "stderr_logfile_maxbytes: procsup has one log_max_size/log_backups for both streams",
        12: "priority: invalid literal for int() with base 10: 'abc'",
    }
    api, db = conv.entries
    assert api.table["merge_stderr"] is True and "stderr_log" not in api.table
    assert "stderr_logfile: not used (redirect_stderr=true)" in api.comments
    assert api.table["log_backups"] == 4
    assert db.table["log_max_size"] == "5MB" and "stdout_log" not in db.table
    assert "stdout_logfile=AUTO: procsup's default file under log_dir" in db.comments
