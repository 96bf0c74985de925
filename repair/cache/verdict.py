"""The launch guard's verdict, from the cache when nothing it depends on changed.

``python -m repair guard run --dir APP [--venv V] [--manifest M] [--warn]`` starts here, before
click or any check is imported. The verdict of the last full run is stored with the ``stat`` of
every file and folder its checks read (the venv's python and ``pyvenv.cfg``, every metadata
folder and its files, every folder of site-packages the file checks walked, the requirement
files, the app folder and its launch settings). When they all match, the stored verdict is the
answer: a few thousand ``stat`` calls and one small JSON file. Otherwise the checks run (see
``repair.commands.guard``) and the verdict is stored again.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from repair import __version__
from repair.cache.store import Store, fingerprint_ok
from repair.selection import GuardRun, InstallSelection

KIND = "guard"
USAGE = (
    "usage: repair guard run [--dir PATH] [--venv PATH] [--manifest NAME|FILE] [--warn | --stop]"
)


def scope(where: InstallSelection) -> str:
    return "\0".join(
        [__version__, os.path.abspath(where.dir or "."), where.venv or "", where.manifest or ""]
    )


def parse_args(argv: list[str]) -> GuardRun | None:
    """``guard run``'s arguments, or None when they are not ones this fast path knows."""
    given: dict[str, str] = {}
    warn = False
    it = iter(argv)
    for arg in it:
        if arg in ("--warn", "--stop"):
            warn = arg == "--warn"
            continue
        name, eq, value = arg.partition("=")
        if name not in ("--dir", "--venv", "--manifest"):
            return None
        if not eq:
            value = next(it, "")
            if not value:
                return None
        given[name[2:]] = value
    where = InstallSelection(given.get("dir"), given.get("venv"), given.get("manifest"))
    return GuardRun(where, warn)


def lookup(where: InstallSelection) -> dict[str, Any] | None:
    """The stored verdict, when every stamped path is as it was."""
    store = Store.open(scope(where), KIND)
    entry = store.section("verdict").get("last")
    if not isinstance(entry, list) or len(entry) != 2:
        return None
    stamp, value = entry
    if not fingerprint_ok(stamp) or not isinstance(value, dict):
        return None
    errors = value.get("errors")
    fix = value.get("fix")
    if (
        not isinstance(errors, list)
        or not all(isinstance(e, str) for e in errors)
        or not isinstance(fix, str)
    ):
        return None
    return {"errors": errors, "fix": fix}


def store(where: InstallSelection, stamp: list[Any], errors: list[str], fix: str) -> None:
    cache = Store.open(scope(where), KIND)
    cache.put("verdict", "last", stamp, {"errors": errors, "fix": fix})
    cache.save(scope(where))


def say(verdict: dict[str, Any], warn: bool) -> int:
    """Print the one-line verdict on stderr; the exit status for the launcher."""
    errors: list[str] = verdict["errors"]
    if not errors:
        return 0
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    head = "warning" if warn else "stopped"
    sys.stderr.write(f"repair guard: {head}: {errors[0]}{more}. To fix it: {verdict['fix']}\n")
    sys.stderr.flush()
    return 0 if warn else 1


def main(argv: list[str]) -> int:
    """``guard run``: the cached verdict, else the full check. Never stops a launch because
    the guard itself failed: that is a warning and exit 0."""
    args = parse_args(argv)
    if args is None:
        sys.stderr.write(USAGE + "\n")
        return 2
    try:
        verdict = lookup(args.where)
        if verdict is None:
            # lazy: the checks run only when the stored verdict is stale
            from repair.commands.guard import run_verdict

            verdict, stamp = run_verdict(args.where)
            if stamp is not None:
                store(args.where, stamp, verdict["errors"], verdict["fix"])
    except Exception as exc:  # noqa: BLE001 - the guard must never be why the app cannot start
        message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        sys.stderr.write(f"repair guard: could not check the install ({message}); going on\n")
        return 0
    return say(verdict, args.warn)
