"""Run history of cron tasks, kept in SQLite (WAL) in state_dir.

The master calls this synchronously from its event loop, so every call is a handful of indexed
statements on one connection: rows are found through the (task, id) index, the unique run_id
index, or a partial index of the running rows — never a full-table scan. Writes commit in WAL
mode with synchronous=NORMAL (no fsync per commit). A write that fails (disk full, a locked or
vanished file) is logged and dropped: a run never fails because its history could not be kept.

The master groups its writes (`commit_within`): a write opens a transaction, or joins the open
one as a savepoint, and the transaction commits COMMIT_DELAY later, so 200 runs starting and
ending in the same second cost a few commits, not 600 (issue 14). Every read goes through the
same connection and sees every write at once; what a `kill -9` of the master can lose is the
last COMMIT_DELAY of writes, and a clean stop commits everything (close).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from typing import Any

from procsup.tasks.runrecord import STATUSES, RunRecord

log = logging.getLogger(__name__)

ABANDONED_REASON = "the master stopped while it ran"
SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 2000
#: how long the master lets writes gather before they commit: the most a kill -9 can lose
COMMIT_DELAY = 0.01


_FIELDS = tuple(f.name for f in fields(RunRecord))
_COLS = ", ".join(f'"{name}"' for name in _FIELDS)  # quoted: "trigger" is an SQL keyword
_SELECT = f"SELECT {_COLS} FROM runs"

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    "task" TEXT NOT NULL,
    "run_id" TEXT NOT NULL UNIQUE,
    "trigger" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "scheduled" REAL,
    "started" REAL,
    "ended" REAL,
    "exit_code" INTEGER,
    "reason" TEXT,
    "host" TEXT NOT NULL DEFAULT '',
    "fencing_token" INTEGER,
    "count" INTEGER NOT NULL DEFAULT 1,
    "last_scheduled" REAL
);
CREATE INDEX IF NOT EXISTS runs_task_id ON runs ("task", id);
CREATE INDEX IF NOT EXISTS runs_running ON runs (id) WHERE "status" = 'running';
CREATE TABLE IF NOT EXISTS fired (
    "task" TEXT PRIMARY KEY,
    "scheduled" REAL NOT NULL
) WITHOUT ROWID;
PRAGMA user_version = {SCHEMA_VERSION};
"""

_INSERT = f"INSERT INTO runs ({_COLS}) VALUES ({', '.join('?' * len(_FIELDS))})"
# task and run_id are left alone, so an update rewrites no index but the running one.
_UPDATE_FIELDS = tuple(name for name in _FIELDS if name not in ("task", "run_id"))
_UPDATE = "UPDATE runs SET {} WHERE run_id = ?".format(
    ", ".join(f'"{name}" = ?' for name in _UPDATE_FIELDS)
)
# Running rows are never pruned: a later update of one must find it in place.
_PRUNE = """
DELETE FROM runs WHERE "task" = ?1 AND "status" != 'running' AND id <= (
    SELECT id FROM runs WHERE "task" = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2
)"""
_NEWEST = (
    'SELECT id, "trigger", "status", "reason" FROM runs WHERE "task" = ? ORDER BY id DESC LIMIT 1'
)
_ABANDON = """
UPDATE runs SET "status" = 'unknown', "reason" = ? WHERE "status" = 'running' AND "host" = ?"""
_COALESCE = """
UPDATE runs SET "count" = "count" + 1, "last_scheduled" = coalesce(?, "last_scheduled")
WHERE id = ?"""
_MARK_FIRED = """
INSERT INTO fired ("task", "scheduled") VALUES (?, ?)
ON CONFLICT ("task") DO UPDATE SET "scheduled" = max("scheduled", excluded."scheduled")"""


class History:
    """One connection to the history database; see the module docstring for the rules."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = self._open_or_replace(path)
        self._later: Callable[[float, Callable[[], None]], object] | None = None
        self._delay = 0.0

    def commit_within(
        self, delay: float, call_later: Callable[[float, Callable[[], None]], object]
    ) -> None:
        """From now on writes share one transaction, committed `delay` seconds after the first
        of them through `call_later` (the master's loop); see the module docstring."""
        self._later, self._delay = call_later, delay

    def flush(self) -> None:
        """Commit the writes that gathered (a no-op when none did)."""
        conn = self._conn
        try:
            if not conn.in_transaction:
                return
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            log.warning("history: commit failed, recent writes were not saved: %s", exc)
            with contextlib.suppress(sqlite3.Error):
                if conn.in_transaction:
                    conn.execute("ROLLBACK")

    # -- writes ----------------------------------------------------------------------------

    def record(self, rec: RunRecord, keep: int) -> None:
        """Insert or update the row of rec.run_id; on insert keep only the newest `keep` rows
        of the task (running rows are never pruned, so a task may briefly hold more)."""
        _check_status(rec.status)
        try:
            with self._write() as conn:
                self._upsert(conn, rec, keep)
        except sqlite3.Error as exc:
            _write_failed("record", rec.task, exc)

    def record_skip(self, rec: RunRecord, keep: int) -> RunRecord:
        """Record a skipped run; a skip with the same reason and trigger as the task's newest
        row, itself a skip, is coalesced into that row (count + 1), which is returned."""
        if rec.status != "skipped":
            raise ValueError(f"record_skip got status {rec.status!r}; use record() for runs")
        try:
            with self._write() as conn:
                row = conn.execute(_NEWEST, (rec.task,)).fetchone()
                if row is None or tuple(row[1:]) != (rec.trigger, "skipped", rec.reason):
                    self._upsert(conn, rec, keep)
                    return rec
                conn.execute(_COALESCE, (rec.scheduled, row[0]))
                return _to_record(conn.execute(f"{_SELECT} WHERE id = ?", (row[0],)).fetchone())
        except sqlite3.Error as exc:
            _write_failed("record_skip", rec.task, exc)
            return rec

    def mark_abandoned(self, host: str) -> int:
        """Rows of `host` still running (the previous master died while they ran) become
        "unknown"; returns how many."""
        try:
            with self._write() as conn:
                return conn.execute(_ABANDON, (ABANDONED_REASON, host)).rowcount
        except sqlite3.Error as exc:
            _write_failed("mark_abandoned", host, exc)
            return 0

    def mark_fired(self, task: str, scheduled: float) -> None:
        """Remember the newest scheduled time of `task` that fired (ran or was skipped)."""
        self.mark_fired_many([(task, scheduled)])

    def mark_fired_many(self, fired: list[tuple[str, float]]) -> None:
        """mark_fired for each (task, scheduled), in one write."""
        if not fired:
            return
        try:
            with self._write() as conn:
                conn.executemany(_MARK_FIRED, fired)
        except sqlite3.Error as exc:
            _write_failed("mark_fired", fired[0][0], exc)

    # -- reads -----------------------------------------------------------------------------

    def recent(self, task: str | None = None, limit: int = 20) -> list[RunRecord]:
        """Newest first; all tasks when `task` is None."""
        if task is None:
            cur = self._conn.execute(f"{_SELECT} ORDER BY id DESC LIMIT ?", (limit,))
        else:
            sql = f'{_SELECT} WHERE "task" = ? ORDER BY id DESC LIMIT ?'
            cur = self._conn.execute(sql, (task, limit))
        return [_to_record(row) for row in cur]

    def last(self, task: str) -> RunRecord | None:
        """The newest row of `task` that is not running."""
        sql = f'{_SELECT} WHERE "task" = ? AND "status" != \'running\' ORDER BY id DESC LIMIT 1'
        row = self._conn.execute(sql, (task,)).fetchone()
        return None if row is None else _to_record(row)

    def running(self) -> list[RunRecord]:
        """Rows still running, oldest first."""
        cur = self._conn.execute(f"{_SELECT} WHERE \"status\" = 'running' ORDER BY id")
        return [_to_record(row) for row in cur]

    def last_fired(self, task: str) -> float | None:
        row = self._conn.execute('SELECT "scheduled" FROM fired WHERE "task" = ?', (task,))
        found = row.fetchone()
        return None if found is None else float(found[0])

    def close(self) -> None:
        self.flush()
        self._conn.close()

    # -- internals -------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        if self._later is not None:
            with self._gathered() as conn:
                yield conn
            return
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextmanager
    def _gathered(self) -> Iterator[sqlite3.Connection]:
        """One write inside the gathering transaction (opened here when none is): a savepoint,
        so a write that fails is undone alone and the others still commit."""
        conn = self._conn
        if not conn.in_transaction:
            conn.execute("BEGIN IMMEDIATE")
            assert self._later is not None
            self._later(self._delay, self.flush)
        conn.execute("SAVEPOINT w")
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK TO w")
                conn.execute("RELEASE w")
            raise
        conn.execute("RELEASE w")

    @staticmethod
    def _upsert(conn: sqlite3.Connection, rec: RunRecord, keep: int) -> None:
        changed = tuple(getattr(rec, name) for name in _UPDATE_FIELDS)
        if conn.execute(_UPDATE, (*changed, rec.run_id)).rowcount:
            return
        conn.execute(_INSERT, tuple(getattr(rec, name) for name in _FIELDS))
        conn.execute(_PRUNE, (rec.task, max(keep, 1)))

    @staticmethod
    def _open_or_replace(path: Path) -> sqlite3.Connection:
        """Open the database; a corrupt or foreign one is moved aside and replaced, and if even
        that fails the history lives in memory until the master restarts."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            return _connect(path)
        except (sqlite3.DatabaseError, OSError) as exc:
            problem = exc
        try:
            aside = _move_aside(path)
            log.warning(
                "history database %s is unreadable (%s); moved it to %s and started a new one",
                path,
                problem,
                aside,
            )
            return _connect(path)
        except (sqlite3.DatabaseError, OSError) as exc:
            log.error(
                "cannot open history database %s (%s); keeping history in memory until restart;"
                " fix the file's permissions or remove it",
                path,
                exc,
            )
            return _connect(Path(":memory:"))


def open_history(state_dir: Path) -> History:
    return History(state_dir / "history.sqlite3")


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(
        str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, cached_statements=64
    )
    try:
        _prepare(conn, path)
    except BaseException:
        conn.close()
        raise
    return conn


def _prepare(conn: sqlite3.Connection, path: Path) -> None:
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if version > SCHEMA_VERSION:
        raise sqlite3.DatabaseError(f"schema version {version} is newer than {SCHEMA_VERSION}")
    (check,) = conn.execute("PRAGMA quick_check").fetchone()
    if check != "ok":
        raise sqlite3.DatabaseError(f"integrity check failed: {check}")
    (mode,) = conn.execute("PRAGMA journal_mode = WAL").fetchone()
    if mode != "wal" and str(path) != ":memory:":
        log.warning("history database %s: WAL mode unavailable, using %s", path, mode)
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.executescript(_SCHEMA)


def _move_aside(path: Path) -> Path:
    """Rename the database (and its -wal/-shm files) to <name>.corrupt-<epoch>[.n]."""
    aside = path.with_suffix(f".corrupt-{int(time.time())}")
    n = 0
    while aside.exists():
        n += 1
        aside = path.with_suffix(f".corrupt-{int(time.time())}.{n}")
    os.replace(path, aside)
    for extra in ("-wal", "-shm"):
        side = Path(f"{path}{extra}")
        if side.exists():
            os.replace(side, Path(f"{aside}{extra}"))
    return aside


def _to_record(row: tuple[Any, ...]) -> RunRecord:
    return RunRecord(*row)


def _check_status(status: str) -> None:
    if status not in STATUSES:
        raise ValueError(f"unknown run status {status!r}; expected one of {', '.join(STATUSES)}")


def _write_failed(what: str, name: str, exc: sqlite3.Error) -> None:
    log.warning("history: %s for %s was not saved: %s", what, name, exc)
