"""Shared by the Python client programs: one printed line per check, exit 1 on the first failure."""

import sys


def fail(name, message):
    """Prints the failed check and ends the program with status 1."""
    print(f"FAIL {name}: {message}", flush=True)
    sys.exit(1)


def check(name, got, want=None, kind=None):
    """Passes when `got` is a `kind` (if given; a bool is not an int) and equals `want` (if given)."""
    if kind is not None:
        if not isinstance(got, kind) or (kind is int and isinstance(got, bool)):
            kinds = kind if isinstance(kind, tuple) else (kind,)
            want_kind = " or ".join(k.__name__ for k in kinds)
            fail(name, f"got {got!r} of type {type(got).__name__}, want a {want_kind}")
    if want is not None and got != want:
        fail(name, f"got {got!r}, want {want!r}")
    print(f"ok {name}", flush=True)


def describe(exc):
    """The driver error with its class and SQLSTATE, as a failed check reports it."""
    code = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    orig = getattr(exc, "orig", None)
    if code is None and orig is not None:
        code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return f"{type(exc).__name__}: {str(exc).strip()} (sqlstate {code})"


def step(name, fn):
    """Runs `fn` and returns its value; any exception fails the check `name`."""
    try:
        return fn()
    except Exception as exc:  # every driver error is a failed check
        fail(name, describe(exc))
