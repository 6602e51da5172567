"""The exit sentence: one wording for every place that shows why a process ended."""

from __future__ import annotations

import errno

from procsup.engine import exitinfo
from procsup.engine.exitinfo import (
    RESTART,
    RETRY,
    exit_cause,
    next_step,
    sentence,
    spawn_error_text,
)


def test_the_sentences_of_the_issue() -> None:
    killed = exit_cause(-9, 2 * 3600 + 3 * 60 + 5, "not expected")
    assert sentence("worker:5", killed, next_step(RESTART)) == (
        "worker:5 exited: killed by SIGKILL after 2h03m (not expected); restarting now"
    )
    error = spawn_error_text(
        FileNotFoundError(errno.ENOENT, "No such file or directory", "./bin/worker.sh"),
        "./bin/worker.sh",
        "/srv/app",
    )
    step = next_step(RETRY, delay=4.0, attempt=3)
    assert sentence("worker:2", exitinfo.spawn_cause(error), step) == (
        "worker:2 could not start: No such file or directory: ./bin/worker.sh "
        "(relative to /srv/app); retry in 4s (attempt 3)"
    )


def test_exit_codes_and_short_runs() -> None:
    assert (
        exit_cause(1, 0.0002, "not expected")
        == "exited with code 1 after less than 1ms (not expected)"
    )
    assert exit_cause(0, 3.5) == "exited with code 0 after 3s"
    assert exit_cause(-99, None) == "exited: killed by signal 99"
    assert next_step(RETRY, delay=0.4, attempt=2, quick=True) == (
        "failed start, retry in 400ms (attempt 2)"
    )
    assert next_step(exitinfo.FATAL, attempt=4, max_restarts=3) == (
        "giving up after 4 failed starts in a row (max_restarts = 3): FATAL"
    )


def test_spawn_errors_name_what_and_where() -> None:
    missing = FileNotFoundError(errno.ENOENT, "No such file or directory", "phpp")
    assert spawn_error_text(missing, "phpp", "/srv") == (
        "No such file or directory: phpp (not found in PATH)"
    )
    no_dir = FileNotFoundError(errno.ENOENT, "No such file or directory", "/srv/gone")
    assert spawn_error_text(no_dir, "/bin/true", "/srv/gone") == (
        "No such file or directory: working directory /srv/gone"
    )
    denied = PermissionError(errno.EACCES, "Permission denied", "/srv/x.sh")
    assert spawn_error_text(denied, "/srv/x.sh", "/srv") == "Permission denied: /srv/x.sh"
    assert spawn_error_text(KeyError("getpwnam(): name not found: 'app'"), "x", None) == (
        "\"getpwnam(): name not found: 'app'\""
    )


def test_task_run_sentences_never_say_exit_none() -> None:
    assert exitinfo.run_sentence("import", "7", "failed", None, 0.0, "could not start: x") == (
        "task import: run 7 failed: could not start: x"
    )
    timeout = exitinfo.run_sentence("import", "8", "timeout", -15, 30.2, "ran longer than 30.0s")
    assert timeout == (
        "task import: run 8 timeout: ran longer than 30.0s; exited: killed by SIGTERM after 30s"
    )
