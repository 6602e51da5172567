"""`--json` output for scripts: exactly the text of `json.dumps(obj, indent=2)`, faster.

With `indent`, json.dumps leaves its C encoder (which writes compact JSON only) for the pure
Python one: for `list --json` of 2,000 instances that was about a quarter of the command
(issue 14). Here every leaf is written by the functions the json module uses itself (strings
through its C `encode_basestring_ascii`, numbers through int/float repr) and only the layout is
Python. Anything that is not plain decoded JSON (a non-string key, another type) goes to
json.dumps, so the output never differs.

`procsup list --json` asks the master for the rows as `columns` (the keys once, then each row's
values: control/rowjson.py) and lays them out here with `columns_text`, straight from the
values (issue 14).
"""

from __future__ import annotations

from itertools import chain, compress, repeat

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


#: the types a row's value may have and still be one line of it (json's C encoder writes them)
_ONE_LINE = {str: False, int: False, float: False, bool: False, type(None): False}
_NESTING = (list, tuple, dict)
_ROW_INNER = "\n    "  # a row's members: inside the list, inside the row


def rows_text(rows: list[Any]) -> str:
    """The text `dumps` writes for `rows` (any objects; rows that are not objects, or whose
    keys are not strings, are written one by one by `_value`).

    When every row is an object with the same keys (nearly always), the values of all the rows
    are written by the C encoder in one call, as one array with a NUL between them (never
    within one: the encoder escapes control characters in strings), and set into a template of
    the keys (for 2,000 rows about as fast as `dumps`, ~13 ms of CPU, measured; what it saves
    is `columns_text`'s: the rows need not be objects). A value that nests (run-time
    overrides) is laid out by `_member`. Rows that differ are written one by one, the same
    way."""
    if not rows:
        return "[]"
    if c_make_encoder is None:
        return dumps(_round_trip(rows))
    keys = tuple(rows[0]) if type(rows[0]) is dict else ()
    template = _template(keys) if keys else None
    if template is not None and all(type(row) is dict and tuple(row) == keys for row in rows):
        values = list(chain.from_iterable(map(dict.values, rows)))
        return "[\n  " + _fill(template, values, len(rows)) + "\n]"
    return "[\n  " + ",\n  ".join(map(_row_text, rows)) + "\n]"


def columns_text(keys: list[Any], rows: list[Any]) -> str:
    """What `rows_text` writes for the objects `dict(zip(keys, row))` of `list`'s `columns`
    reply (control/rowjson.py), without making them (~5 ms for 2,000): `procsup list --json`."""
    if not rows:
        return "[]"
    width = len(keys)
    template = _template(tuple(keys)) if c_make_encoder is not None and keys else None
    if (
        template is None
        or len(set(keys)) != width
        or not all(type(row) is list and len(row) == width for row in rows)
    ):
        return rows_text([dict(zip(keys, row, strict=True)) for row in rows])
    return "[\n  " + _fill(template, list(chain.from_iterable(rows)), len(rows)) + "\n]"


def _row_text(row: Any) -> str:
    """One row of `rows_text` on its own."""
    template = _template(tuple(row)) if type(row) is dict and row else None
    if template is None:  # not an object, or keys that are not strings
        out: list[str] = []
        _value(_round_trip(row), "\n  ", out, {})
        return "".join(out)
    return _fill(template, list(row.values()), 1)


def _fill(template: str, values: list[Any], count: int) -> str:
    """`count` rows of the template's keys, their values one after the other in `values`,
    laid out and joined as items of the list."""
    odd = compress(range(len(values)), map(_ONE_LINE.get, map(type, values), repeat(True)))
    nested = {i: values[i] for i in odd if isinstance(values[i], _NESTING) and values[i]}
    for i in nested:
        values[i] = None  # its place in the array; its text is made below
    texts = "".join(_values_encoder()(values, 0))[1:-1].split("\x00")
    keys: dict[str, str] = {}
    for i, value in nested.items():
        texts[i] = _member(_round_trip(value), _ROW_INNER, keys)
    return (",\n  ".join([template] * count)) % tuple(texts)


def _template(keys: tuple[Any, ...]) -> str | None:
    """`{"key": %s, …}` laid out as a row in the list; None when a key is not a string. Made
    once for each set of keys (a few: rows with stats and without)."""
    if keys in _TEMPLATES:
        return _TEMPLATES[keys]
    template = None
    if all(type(key) is str for key in keys):
        heads = [encode_basestring_ascii(key).replace("%", "%%") + ": %s" for key in keys]
        template = "{" + _ROW_INNER + ("," + _ROW_INNER).join(heads) + "\n  }"
    if len(_TEMPLATES) >= 64:
        _TEMPLATES.clear()
    _TEMPLATES[keys] = template
    return template


_TEMPLATES: dict[tuple[Any, ...], str | None] = {}


_VALUES_ENCODER: list[Callable[[Any, int], Any]] = []


def _values_encoder() -> Callable[[Any, int], Any]:
    """json's C encoder as the protocol encodes a reply (`default=str`), with a NUL between the
    items of an array."""
    if not _VALUES_ENCODER:
        encoder = c_make_encoder(
            None, str, encode_basestring_ascii, None, ": ", "\x00", False, False, True
        )
        _VALUES_ENCODER.append(encoder)
    return _VALUES_ENCODER[0]


def _round_trip(obj: Any) -> Any:
    from procsup.core.fastjson import dumps as compact
    from procsup.core.fastjson import loads

    return loads(compact(obj, default=str))
