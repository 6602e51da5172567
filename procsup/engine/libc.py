"""The C library the process already runs on, through ctypes: its functions Python's os lacks
(clone3 through syscall, execve on prebuilt arrays, prctl, malloc_trim, clearenv).

`CDLL(None)` gives the symbols already loaded, with no `ctypes.util.find_library`, which
imports tempfile, shutil and random into the master (issue 14).
"""

from __future__ import annotations

import ctypes
from typing import Any

_LIB: ctypes.CDLL | None = None
_FUNCTIONS: dict[str, Any] = {}  # the typed functions looked up (ctypes._CFuncPtr)


def libc() -> ctypes.CDLL:
    """The C library, with errno kept for ctypes.get_errno()."""
    global _LIB
    if _LIB is None:
        _LIB = ctypes.CDLL(None, use_errno=True)
    return _LIB


def libc_function(name: str, restype: Any, argtypes: list[Any], *, hold_gil: bool = False) -> Any:
    """A libc function with its types set, looked up once per process. `hold_gil`: called
    through PyDLL, which keeps the GIL across the call (clone3: the child goes on in Python,
    holding it)."""
    func = _FUNCTIONS.get(name)
    if func is None:
        lib = ctypes.PyDLL(None, use_errno=True) if hold_gil else libc()
        func = lib[name]  # a function object of its own: libc().name stays untyped
        func.restype, func.argtypes = restype, argtypes
        _FUNCTIONS[name] = func
    return func
