"""The shapes of `list`'s reply besides `instances` (issue 14), for a client that asks.

At 2,000 instances, writing each row as an object cost the master as much for the 26 keys,
the same in every row, as for all the values, and reading them cost the CLI as much again
(json's C encoder and scanner, measured: the compact reply 15 ms to encode and 10 ms to decode,
its values alone as arrays 7 and 2.5 ms). So:
  - `columns`: the keys once (`columns`) and each row's values in that order (`rows`), when
    every row has the same keys (else the reply is `instances` as without it);
  - `as_text`: the rows as the text `procsup list --json` prints (`instances_text`, laid out
    by core/indentjson.py), so the CLI prints it without decoding and encoding 2,000 rows.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from procsup.core.schema import InstanceRow


def list_reply(rows: list[Any], master: Any, columns: bool, as_text: bool) -> dict[str, Any]:
    """`list`'s result for these rows: `instances`, or the shapes above when asked for."""
    if as_text:
        from procsup.core.indentjson import rows_text  # here: `procsup list` needs none of it

        return {"instances_text": rows_text(rows), "master": master}
    if columns and rows:
        keys = tuple(rows[0])
        if all(tuple(row) == keys for row in rows):
            values = [tuple(row.values()) for row in rows]
            return {"columns": keys, "rows": values, "master": master}
    return {"instances": rows, "master": master}


def rows_of(result: dict[str, Any]) -> list[InstanceRow]:
    """The instance rows of a `list` result in either shape (the client's side of `columns`)."""
    if "columns" not in result:
        return result["instances"]
    keys = result["columns"]
    rows: list[Any] = [dict(zip(keys, values, strict=True)) for values in result["rows"]]
    return rows
