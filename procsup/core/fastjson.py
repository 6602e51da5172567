"""JSON for the CLI's hot path, on the C accelerator `_json` without importing `json`.

`import json` compiles regular expressions at import, so it loads `re`, and `re` loads `enum`,
`functools` and `collections`: about a third of what `procsup list` costs beyond the
interpreter's own start (issue 14). The C scanner and encoder behind `json` need none of that.

`loads` and `dumps` give exactly what `json.loads(s)` and `json.dumps(obj, separators=(",",
":"), default=default)` give (tests/unit/test_fastjson.py compares them with hypothesis): the
plain case runs here, and everything off it (another encoding or a byte-order mark, text that is
not valid JSON, a Python without `_json`) is handed to `json` itself, so the result and the
errors are json's own.
"""

from __future__ import annotations

TYPE_CHECKING = False  # the `typing` module costs `procsup list` 3 ms to import
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

try:
    import _json
except ImportError:  # another Python: json's pure-Python code does it all
    _json = None  # type: ignore[assignment]

_WHITESPACE = " \t\n\r"  # what json skips around a document (its decoder's WHITESPACE)
_CONSTANTS = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}


class _Settings:
    """What the C scanner reads from a JSONDecoder: json.loads' defaults."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = _CONSTANTS.__getitem__


_scan = _json.make_scanner(_Settings()) if _json is not None else None  # type: ignore[arg-type]


def loads(s: str | bytes | bytearray) -> Any:
    """json.loads(s)."""
    if _scan is None:
        return _json_loads(s)
    if isinstance(s, str):
        if s.startswith("\ufeff"):
            return _json_loads(s)
        text = s
    elif isinstance(s, (bytes, bytearray)) and _plain_utf8(s):
        try:
            text = s.decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:
            return _json_loads(s)
    else:
        return _json_loads(s)
    n = len(text)
    start = 0
    while start < n and text[start] in _WHITESPACE:
        start += 1
    try:
        obj, end = _scan(text, start)
    except (StopIteration, ValueError, RecursionError):
        return _json_loads(s)
    while end < n and text[end] in _WHITESPACE:
        end += 1
    if end != n:
        return _json_loads(s)  # "Extra data"
    return obj


def _plain_utf8(b: bytes | bytearray) -> bool:
    """Whether json.detect_encoding would say plain 'utf-8': no byte-order mark, no NUL among
    the first two bytes (UTF-16/32 text), at least 4 bytes (shorter ones are left to json)."""
    return len(b) >= 4 and b[0] != 0 and b[1] != 0 and b[0] not in (0xEF, 0xFE, 0xFF)


def dumps(obj: Any, default: Callable[[Any], Any] | None = None) -> str:
    """json.dumps(obj, separators=(",", ":"), default=default)."""
    if _json is None:
        import json

        return json.dumps(obj, separators=(",", ":"), default=default)
    if isinstance(obj, str):
        return _json.encode_basestring_ascii(obj)
    encode = _json.make_encoder(
        {}, default or _refuse, _json.encode_basestring_ascii, None, ":", ",", False, False, True
    )
    return "".join(encode(obj, 0))


def _refuse(o: Any) -> Any:
    """json.JSONEncoder.default: what JSON cannot hold is an error."""
    raise TypeError(f"Object of type {o.__class__.__name__} is not JSON serializable")


def _json_loads(s: Any) -> Any:
    import json

    return json.loads(s)
