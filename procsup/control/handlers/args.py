"""Checking a request's `args`, shared by every command module: each helper returns the value or
raises ProtocolError(INVALID) with a message naming the argument."""

from __future__ import annotations

from typing import Any

from procsup.control import protocol
from procsup.control.protocol import ProtocolError


def arg(args: dict[str, Any], key: str, kind: type | tuple[type, ...], default: Any) -> Any:
    """args[key] checked against `kind` (bool is never taken for an int)."""
    value = args.get(key)
    if value is None:
        return default
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
        raise ProtocolError(
            protocol.INVALID, f"args.{key} must be {' or '.join(k.__name__ for k in kinds)}"
        )
    return value


def number(
    args: dict[str, Any], key: str, default: Any, low: float, high: float, integer: bool = False
) -> Any:
    """args[key] as a number within [low, high] (an integer when `integer`). NaN and ±Infinity
    never get this far (protocol.check_values), and the range keeps every value meaningful."""
    value = arg(args, key, int if integer else (int, float), None)
    if value is None:
        return default
    if not low <= value <= high:
        raise ProtocolError(
            protocol.INVALID, f"args.{key} must be from {_num(low)} to {_num(high)}"
        )
    return value


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def names(args: dict[str, Any], required: bool = True) -> list[str]:
    """args.names: a list of strings; with `required`, at least one."""
    found = arg(args, "names", list, [])
    if not all(isinstance(n, str) for n in found):
        raise ProtocolError(protocol.INVALID, "args.names must be a list of strings")
    if required and not found:
        raise ProtocolError(
            protocol.INVALID, "name a program, an instance (name:N), a glob, or 'all'"
        )
    return found
