"""Where a cluster lives in Redis: key names and the staleness rule, shared by the masters that
write heartbeats (control/fleet/) and the CLI and TUI that read them. Stdlib only.

Every key of cluster NAME starts with `procsup:fleet:NAME:`, so one Redis ACL key pattern
(`~procsup:fleet:NAME:*`) can grant exactly one cluster.
"""

from __future__ import annotations

#: a host entry lives this many heartbeat intervals unless rewritten
TTL_INTERVALS = 3
#: a host entry not rewritten for this many intervals is shown as stale
STALE_INTERVALS = 2
#: recent runs each host entry carries, for `history --cluster`
RECENT_RUNS = 20
#: the commands a master takes from its control stream (remote_control = true), no others
REMOTE_COMMANDS = frozenset({"start", "stop", "restart", "signal", "run"})


def prefix(cluster: str) -> str:
    return f"procsup:fleet:{cluster}:"


def host_key(cluster: str, node: str) -> str:
    """The host entry: JSON, rewritten every interval, expiring after TTL_INTERVALS."""
    return f"{prefix(cluster)}host:{node}"


def host_pattern(cluster: str) -> str:
    return f"{prefix(cluster)}host:*"


def channel(cluster: str) -> str:
    """Pub/sub channel of state changes and heartbeats (the TUI's fleet view listens)."""
    return f"{prefix(cluster)}events"


def control_stream(cluster: str, node: str) -> str:
    """The stream a master with remote_control = true reads its requests from."""
    return f"{prefix(cluster)}control:{node}"


def reply_key(cluster: str, request_id: str) -> str:
    """A list the receiver pushes its one reply onto (expiring soon after)."""
    return f"{prefix(cluster)}reply:{request_id}"


def ttl_ms(interval: float) -> int:
    return max(1, round(interval * TTL_INTERVALS * 1000))


def is_stale(written: float, interval: float, now: float) -> bool:
    """Whether a host missed its last heartbeats (its entry has not expired yet)."""
    return now - written > interval * STALE_INTERVALS
