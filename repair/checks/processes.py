"""Processes running on the venv: what the pipeline must not pull the files from under, and what
must be restarted before a change takes effect."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from repair.checks.registry import check, finding_type
from repair.model import Finding, FindingId, Fix, Severity

if TYPE_CHECKING:
    from repair.context import Context

RESTART_REQUIRED = finding_type(
    FindingId.RESTART_REQUIRED,
    "The application must be restarted for a change to take effect",
    Severity.WARNING,
    Fix.MANUAL,
    restart_required=True,
)


@dataclass(frozen=True)
class VenvProcess:
    pid: int
    name: str
    cmdline: str
    started: float  # epoch seconds
    deleted_maps: tuple[str, ...] = ()  # Linux: mapped files of the venv since deleted/replaced
    mapped: tuple[str, ...] = ()  # Linux: files of the venv it maps (extension modules, libs)

    def describe(self) -> str:
        return f"{self.name} (pid {self.pid})"


def _inside(path: str, roots: tuple[str, ...]) -> bool:
    return any(path == r or path.startswith(r + os.sep) for r in roots)


# How precise a process's start time is. Linux derives it from the boot time, which /proc/stat
# gives in whole seconds: a process started just after an install can look older than it.
# Windows (FILETIME) and macOS (microseconds) are precise; a little slack covers clock reads.
START_TIME_SLACK = 1.0 if sys.platform.startswith("linux") else 0.05


def _mapped_inside(pid: int, roots: tuple[str, ...]) -> tuple[bool, list[str], list[str]]:
    """Linux: whether the process maps a file inside ``roots``, and those of them since
    deleted or replaced. Reads ``/proc/<pid>/maps`` (what psutil's ``memory_maps`` reads from
    ``smaps`` with page statistics on top, many times slower), and parses only when a root
    occurs in it at all."""
    with open(f"/proc/{pid}/maps", "rb") as f:
        data = f.read()
    needles = [os.fsencode(r + os.sep) for r in roots]
    if not any(n in data for n in needles):
        return False, [], []
    hits, deleted, mapped = False, [], []
    for raw in data.splitlines():
        if not any(n in raw for n in needles):
            continue
        fields = raw.split(maxsplit=5)
        if len(fields) < 6:
            continue
        path = os.fsdecode(fields[5])
        gone = path.endswith(" (deleted)")
        clean = path[: -len(" (deleted)")] if gone else path
        if _inside(clean, roots):
            hits = True
            if clean not in mapped:
                mapped.append(clean)
            if gone and clean not in deleted:
                deleted.append(clean)
    return hits, deleted, mapped


def processes_using(venv: Path) -> list[VenvProcess]:
    """Processes whose executable, command, open files or mapped files are inside ``venv``
    (this process excluded). The cheap tests come first (executable, command line); only
    processes that look like Python have their mapped files, then their open files, read."""
    # lazy: start-up time
    import psutil

    roots = tuple(sorted({os.path.abspath(venv), os.path.realpath(venv)}))
    me = os.getpid()
    linux = sys.platform.startswith("linux")
    out: list[VenvProcess] = []
    attrs = ["pid", "name", "exe", "cmdline", "create_time", "cwd"]
    for p in psutil.process_iter(attrs):
        info = p.info
        if info["pid"] == me:
            continue
        cmd = info.get("cmdline") or []
        hits = False
        paths = [info.get("exe") or ""]
        if cmd:
            first = cmd[0]
            if not os.path.isabs(first) and info.get("cwd"):
                first = os.path.join(info["cwd"], first)
            paths.append(os.path.abspath(first))
        hits = any(x and _inside(x, roots) for x in paths)
        looks_python = "python" in (info.get("name") or "").lower() or hits
        deleted: list[str] = []
        maps: list[str] = []
        if looks_python:
            try:
                if linux:
                    mapped, deleted, maps = _mapped_inside(info["pid"], roots)
                    hits = hits or mapped
                if not hits:
                    hits = any(_inside(f.path, roots) for f in p.open_files())
            except (psutil.Error, OSError):
                pass
        if hits:
            out.append(
                VenvProcess(
                    info["pid"],
                    info.get("name") or "?",
                    " ".join(cmd)[:200],
                    float(info.get("create_time") or 0.0),
                    tuple(deleted),
                    tuple(maps),
                )
            )
    return out


def installed_since(ctx: Context, when: float, slack: float = START_TIME_SLACK) -> list[str]:
    """Distributions whose metadata folder was written after ``when`` (installed or replaced).
    ``slack`` covers the precision of the start time: an install that ended within it before
    the reported start is taken as before the start, not after."""
    names = []
    for dist in ctx.scan.dists:
        try:
            mtime = dist.path.stat().st_mtime
        except OSError:
            continue
        if mtime > when + slack and dist.name:
            names.append(dist.name)
    return sorted(set(names))


def loaded_by(ctx: Context, names: list[str], mapped: tuple[str, ...]) -> list[str]:
    """Those of ``names`` whose package folders hold a file the process maps: it runs their
    old code until it restarts (an extension module or library cannot be reloaded)."""
    if not mapped:
        return []
    site = os.path.realpath(ctx.site)
    tops = {
        os.path.relpath(os.path.realpath(m), site).split(os.sep)[0]
        for m in mapped
        if os.path.realpath(m).startswith(site + os.sep)
    }
    by_key = ctx.scan.by_key()
    # lazy: start-up time
    from repair.env.dists import MetadataError, canonical

    out = []
    for name in names:
        for dist in by_key.get(canonical(name), []):
            try:
                paths, _ = dist.record_paths
            except MetadataError:
                continue
            if any(p.partition("/")[0] in tops for p in paths):
                out.append(name)
                break
    return out


@check(RESTART_REQUIRED)
def restart_required(ctx: Context) -> Iterator[Finding]:
    """A process runs on this venv that started before packages were installed or replaced (it
    still has the old ones loaded, or cannot see the new ones), or (Linux) maps files of the
    venv that have since been deleted or replaced."""
    if not ctx.venv_exists or not ctx.scan.exists:
        return
    try:
        procs = processes_using(ctx.venv)
    except Exception:  # noqa: BLE001 - no process list is no finding, never a crash
        return
    if procs:  # the report says "restart" only when something runs
        ctx.report_extra["running"] = [p.describe() for p in procs[:5]]
    for p in procs:
        changed = installed_since(ctx, p.started)
        if not changed and not p.deleted_maps:
            continue
        parts = []
        loaded = loaded_by(ctx, changed, p.mapped)
        if changed:
            # The packages it has loaded first: those certainly run old code.
            order = loaded + [n for n in changed if n not in loaded]
            more = f" and {len(order) - 8} more" if len(order) > 8 else ""
            shown = ", ".join(order[:8]) + more
            parts.append(f"packages installed or replaced after it started: {shown}")
            if loaded:
                parts.append(f"it has loaded {', '.join(loaded[:8])}")
        if p.deleted_maps:
            parts.append(f"it maps {len(p.deleted_maps)} file(s) since deleted or replaced")
        yield RESTART_REQUIRED(
            p.describe(),
            f"{p.describe()} runs on this venv; " + "; ".join(parts),
            f"restart it ({p.cmdline or p.name}) so that it loads the packages now installed",
            pid=p.pid,
            process=p.name,
            packages=changed,
            loaded=loaded,
            deleted=list(p.deleted_maps[:20]),
        )
