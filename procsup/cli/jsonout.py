"""`--json` output for scripts: exactly the text of `json.dumps(obj, indent=2)`, faster.

With `indent`, json.dumps leaves its C encoder (which writes compact JSON only) for the pure
Python one: for `list --json` of 2,000 instances that was about a quarter of the command
(issue 14). Here every leaf is written by the functions the json module uses itself (strings
through its C `encode_basestring_ascii`, numbers through int/float repr) and only the layout is
Python. Anything that is not plain decoded JSON (a non-string key, another type) goes to
json.dumps, so the output never differs.
"""

from __future__ import annotations

from itertools import compress

try:  # json's C accelerator, without `import json` (which loads `re`: ~8 ms, issue 14)
    import _json
except ImportError:  # a Python without it: json.dumps does it all (dumps below)
    _json = None  # type: ignore[assignment]

c_make_encoder = _json.make_encoder if _json is not None else None
#: (only used with the accelerator: without it, dumps goes straight to json.dumps)
encode_basestring_ascii = _json.encode_basestring_ascii if _json is not None else ascii

TYPE_CHECKING = False  # the `typing` module costs `procsup list` 3 ms to import
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


class _Unsupported(Exception):
    """A value the fast path does not write (json.dumps does it instead)."""


def _float(value: float) -> str:
    """As json writes floats: repr, and NaN/Infinity/-Infinity for the values JSON lacks."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    return float.__repr__(value)


_SCALARS: dict[type, Callable[[Any], str]] = {
    str: encode_basestring_ascii,
    int: int.__repr__,
    float: _float,
    bool: lambda value: "true" if value else "false",
    type(None): lambda value: "null",
}


def dumps(obj: Any) -> str:
    """`json.dumps(obj, indent=2)`, the same text."""
    if c_make_encoder is not None:
        out: list[str] = []
        try:
            _value(obj, "\n", out, {})
        except _Unsupported:
            pass
        else:
            return "".join(out)
    import json  # a Python without json's C accelerator, or a value the fast path leaves

    return json.dumps(obj, indent=2)


def _value(obj: Any, nl: str, out: list[str], keys: dict[str, str]) -> None:
    """Append `obj` laid out at the indent that `nl` ("\\n" and spaces) ends with."""
    write = _SCALARS.get(type(obj))
    if write is not None:
        out.append(write(obj))
    elif type(obj) is dict:
        out.append(_dict(obj, nl, keys))
    elif type(obj) is list:
        _list(obj, nl, out, keys)
    else:
        raise _Unsupported


def _dict(obj: dict[Any, Any], nl: str, keys: dict[str, str]) -> str:
    if not obj:
        return "{}"
    inner = nl + "  "
    values = obj.values()
    if not any(compress(values, map(_CONTAINERS.__contains__, map(type, values)))):
        # nothing nested (empty containers print as [] and {} either way): the C encoder
        # writes it, its item separator carrying the newline and indent
        return "{" + inner + "".join(_flat_encoder(inner)(obj, 0))[1:-1] + nl + "}"
    items = [_head(key, keys) + _member(value, inner, keys) for key, value in obj.items()]
    return "{" + inner + ("," + inner).join(items) + nl + "}"


_CONTAINERS = frozenset((dict, list))
_FLAT: dict[str, Callable[[Any, int], Any]] = {}


def _flat_encoder(inner: str) -> Callable[[Any, int], Any]:
    """json's C encoder, made once per indent, as json.dumps makes it (no indent, so it stays
    in C) but with `"," + inner` between items and without the check for cycles that decoded
    JSON cannot have."""
    enc = _FLAT.get(inner)
    if enc is None:
        enc = _FLAT[inner] = c_make_encoder(
            None, _no_default, encode_basestring_ascii, None, ": ", "," + inner, False, False, True
        )
    return enc


def _no_default(value: Any) -> Any:
    raise _Unsupported


def _head(key: Any, keys: dict[str, str]) -> str:
    """`"name": ` for a key (each key is encoded once: every row repeats them)."""
    head = keys.get(key) if type(key) is str else None
    if head is None:
        if type(key) is not str:
            raise _Unsupported
        head = keys[key] = encode_basestring_ascii(key) + ": "
    return head


def _member(value: Any, nl: str, keys: dict[str, str]) -> str:
    write = _SCALARS.get(type(value))
    if write is not None:
        return write(value)
    out: list[str] = []
    _value(value, nl, out, keys)
    return "".join(out)


def _list(obj: list[Any], nl: str, out: list[str], keys: dict[str, str]) -> None:
    if not obj:
        out.append("[]")
        return
    inner = nl + "  "
    sep = "[" + inner
    for value in obj:
        out.append(sep)
        _value(value, inner, out, keys)
        sep = "," + inner
    out.append(nl + "]")
