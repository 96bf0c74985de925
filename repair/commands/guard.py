"""``repair guard``: a line in the app's launcher that checks the environment before every launch.

- ``install`` adds one line to the launcher (``webui-user.sh``/``.bat`` for A1111, Forge and the
  AMD fork; ``webui.sh``/``.bat`` for SD.Next; ``run_*.bat`` of a portable ComfyUI) that runs
  ``repair guard run``. On an error the launch stops with a one-line reason and the command that
  fixes it (``--warn``: the reason is printed and the launch goes on).
- ``remove`` takes the line out again: the file is byte for byte what it was before.
- ``status`` says which launchers carry the line.
- ``run`` is the check itself: the checks of the venv, site-packages, the requirements and known
  conflicts (not the ones that ask git, the GPU or running processes), cached (see
  ``repair.cache.verdict``) so that a launch with nothing changed costs a few milliseconds.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from repair.app.target import Install, resolve_selection
from repair.cache.site import ENV_MODULES as GUARD_MODULES
from repair.cache.site import env_stamp
from repair.errors import UsageError
from repair.fsops import atomic_write
from repair.model import Severity

if TYPE_CHECKING:
    from repair.checks.registry import Check
    from repair.selection import InstallSelection

MARK = " -m repair guard run "
_WINDOWS = os.name == "nt"


# -- the check ----------------------------------------------------------------------------------
def guarded(chk: Check) -> bool:
    return chk.func.__module__ in GUARD_MODULES


def fix_command(where: InstallSelection) -> str:
    argv = [sys.executable, "-m", "repair", "--dir", os.path.abspath(where.dir or ".")]
    for name, value in (("venv", where.venv), ("manifest", where.manifest)):
        if value:
            argv += [f"--{name}", value]
    return subprocess.list2cmdline(argv) if _WINDOWS else shlex.join(argv)


def run_verdict(where: InstallSelection) -> tuple[dict[str, Any], list[Any] | None]:
    """Run the guard's checks; the verdict, and the stamp of what they read (None when the run
    did not go through the cache) for the caller to store it with."""
    # lazy: only 'guard run' with a stale verdict runs the checks (not install, remove, status)
    from repair.checks.runner import run_checks
    from repair.context import Context

    ctx = Context(resolve_selection(where))
    findings = run_checks(ctx, select=guarded)
    errors = [f"{f.message} [{f.id}]" for f in findings if f.severity is Severity.ERROR]
    return {"errors": errors, "fix": fix_command(where)}, env_stamp(ctx)


# -- the launcher line --------------------------------------------------------------------------
@dataclass
class Launcher:
    path: Path
    guarded: bool = False
    warn: bool = False
    line: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "guarded": self.guarded,
            "mode": ("warn" if self.warn else "stop") if self.guarded else None,
        }


@dataclass
class GuardResult:
    action: str  # "install", "remove", "status"
    launchers: list[Launcher] = field(default_factory=list)
    changed: list[Path] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "launchers": [lc.to_json() for lc in self.launchers],
            "changed": [str(p) for p in self.changed],
        }


def _is_bat(path: Path) -> bool:
    return path.suffix.lower() in (".bat", ".cmd")


def candidates(install: Install, *, every_os: bool = False) -> list[Path]:
    """The launchers of this install that exist: the manifest's settings files, SD.Next's
    ``webui.sh``/``webui.bat``, a portable ComfyUI's ``run_*.bat`` (beside the app folder or in
    it). Only those for this OS unless ``every_os``."""
    names = list(install.manifest.settings_files)
    if install.manifest.name == "sdnext":
        names = ["webui.bat", "webui.sh"]
    found = [install.dir / n for n in names if (install.dir / n).is_file()]
    if install.manifest.name == "comfyui" or not found:
        for folder in (install.dir, install.dir.parent):
            found += sorted(p for p in folder.glob("run_*.bat") if p.is_file())
    if not every_os:
        found = [p for p in found if _is_bat(p) == _WINDOWS]
    return list(dict.fromkeys(found))


def guard_line(
    launcher: Path, install: Install, *, warn: bool, manifest_arg: str | None = None
) -> str:
    argv = [
        sys.executable,
        "-m",
        "repair",
        "guard",
        "run",
        "--dir",
        str(install.dir),
        "--venv",
        str(install.venv),
        "--manifest",
        manifest_arg or install.manifest.name,
    ]
    if warn:
        argv.append("--warn")
    if _is_bat(launcher):
        return subprocess.list2cmdline(argv) + ("" if warn else " || exit /b 1")
    return shlex.join(argv) + ("" if warn else " || exit 1")


def _lines(raw: bytes) -> list[bytes]:
    return raw.splitlines(keepends=True)


def _find(lines: list[bytes]) -> int | None:
    mark = MARK.encode()
    for i, line in enumerate(lines):
        if mark in line:
            return i
    return None


def inspect(path: Path) -> Launcher:
    try:
        lines = _lines(path.read_bytes())
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    at = _find(lines)
    if at is None:
        return Launcher(path)
    line = lines[at].decode("utf-8", "replace").rstrip("\r\n")
    return Launcher(path, guarded=True, warn=" --warn" in line, line=line)


def _encode(text: str, bat: bool) -> bytes:
    if bat and _WINDOWS:
        try:
            return text.encode("mbcs")
        except (LookupError, UnicodeEncodeError):
            pass
    return text.encode("utf-8")


def add_line(path: Path, line: str) -> bool:
    """Put ``line`` into the launcher (after a ``#!`` or ``@echo off`` first line), with the
    file's own line ending; replace a guard line already there. Returns whether it changed."""
    raw = path.read_bytes()
    lines = _lines(raw)
    eol = b"\r\n" if b"\r\n" in raw else b"\n"
    new = _encode(line, _is_bat(path)) + eol
    at = _find(lines)
    if at is not None:
        if lines[at] == new:
            return False
        lines[at] = new
    else:
        first = lines[0] if lines else b""
        head = first.strip().lower()
        after_head = (head.startswith(b"#!") or head == b"@echo off") and first.endswith(b"\n")
        lines.insert(1 if after_head else 0, new)
    atomic_write(path, b"".join(lines), durable=False)
    return True


def drop_line(path: Path) -> bool:
    """Take the guard line out (the whole line with its line ending)."""
    lines = _lines(path.read_bytes())
    at = _find(lines)
    if at is None:
        return False
    del lines[at]
    atomic_write(path, b"".join(lines), durable=False)
    return True


def _targets(install: Install, launcher: str | None, *, every_os: bool) -> list[Path]:
    if launcher:
        path = Path(launcher)
        if not path.is_absolute():
            path = install.dir / path
        if not path.is_file():
            raise UsageError(f"no launcher at {path}")
        return [path]
    return candidates(install, every_os=every_os)


def install_guard(
    install: Install,
    *,
    launcher: str | None = None,
    warn: bool = False,
    manifest_arg: str | None = None,
) -> GuardResult:
    targets = _targets(install, launcher, every_os=False)
    if not targets:
        raise UsageError(
            f"no launcher of {install.manifest.name} found in {install.dir} for this system "
            "(name one with --launcher FILE)"
        )
    result = GuardResult("install")
    for path in targets:
        if add_line(path, guard_line(path, install, warn=warn, manifest_arg=manifest_arg)):
            result.changed.append(path)
        result.launchers.append(inspect(path))
    return result


def remove_guard(install: Install, *, launcher: str | None = None) -> GuardResult:
    result = GuardResult("remove")
    for path in _targets(install, launcher, every_os=True):
        if drop_line(path):
            result.changed.append(path)
        result.launchers.append(inspect(path))
    return result


def guard_status(install: Install, *, launcher: str | None = None) -> GuardResult:
    result = GuardResult("status")
    result.launchers = [inspect(p) for p in _targets(install, launcher, every_os=True)]
    return result
