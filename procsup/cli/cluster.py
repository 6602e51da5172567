"""Where this config's cluster is (redis_url, cluster, node name from [procsup]) and a client
for one of its hosts: what `--host` and the fleet views (fleetview.py) both need."""

from __future__ import annotations

import socket

from procsup.cli.errors import USAGE, CliError

TYPE_CHECKING = False  # the `typing` module costs `procsup list` 3 ms to import
if TYPE_CHECKING:
    from procsup.control.fleetclient import RemoteClient


def cluster_of(config_path: str) -> tuple[str, str, str]:
    """(redis_url, cluster, this host's node name) from [procsup] of this config, or a
    one-line error. Read with tomllib alone: the whole config loader costs `list --cluster`
    more than it reads (the master has validated these keys when it started)."""
    import tomllib

    try:
        with open(config_path, "rb") as f:
            table = tomllib.load(f).get("procsup", {})
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CliError(f"cannot read {config_path}: {exc}", USAGE) from None
    url, cluster, node = (table.get(k) for k in ("redis_url", "cluster", "node_name"))
    if not isinstance(url, str) or not isinstance(cluster, str) or not url or not cluster:
        raise CliError(
            f'--cluster and --host need redis_url and cluster = "NAME" in [procsup] of '
            f"{config_path}",
            USAGE,
        )
    return url, cluster, node if isinstance(node, str) and node else socket.gethostname()


def remote_client(config_path: str, node: str) -> RemoteClient:
    from procsup.control.fleetclient import RemoteClient

    url, cluster, me = cluster_of(config_path)
    return RemoteClient(url, cluster, node, me)
