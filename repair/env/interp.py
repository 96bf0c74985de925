"""Ask the venv's own interpreter what only it can answer, once, in one small script.

The script runs isolated (``-I -S``: no user site, no .pth files, no PYTHON* variables) and prints
one JSON object: the version, the environment-marker values, and the facts that platform tags need.
When the interpreter cannot run here (a Windows venv seen from Linux, or a broken one), the same
facts are estimated from ``pyvenv.cfg`` and the layout, and marked as estimated.
"""

from __future__ import annotations

import json
import os
import platform as _host_platform
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repair import proc
from repair.errors import ProcessError

PROBE = r"""
import json, os, platform, sys, sysconfig
impl = sys.implementation.name
iv = sys.implementation.version
impl_version = "%d.%d.%d" % (iv.major, iv.minor, iv.micro)
if iv.releaselevel != "final":
    impl_version += iv.releaselevel[0] + str(iv.serial)
try:
    libc = os.confstr("CS_GNU_LIBC_VERSION") or ""
except (AttributeError, OSError, ValueError):
    libc = ""
print(json.dumps({
    "version": platform.python_version(),
    "version_info": list(sys.version_info[:3]),
    "executable": sys.executable,
    "base_prefix": getattr(sys, "base_prefix", sys.prefix),
    "platform": sysconfig.get_platform(),
    "soabi": sysconfig.get_config_var("SOABI") or "",
    "ext_suffix": sysconfig.get_config_var("EXT_SUFFIX") or "",
    "cache_tag": sys.implementation.cache_tag or "",
    "maxsize64": sys.maxsize > 2**32,
    "libc": libc,
    "free_threaded": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
    "markers": {
        "implementation_name": impl,
        "implementation_version": impl_version,
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_full_version": platform.python_version(),
        "platform_python_implementation": platform.python_implementation(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
    },
}))
"""


@dataclass(frozen=True)
class InterpreterInfo:
    """What the venv's python says about itself (or what we estimate when it cannot run)."""

    version: str
    markers: dict[str, str]
    executable: str = ""
    estimated: bool = False
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def xy(self) -> str:
        return ".".join(self.version.split(".")[:2])


class ProbeError(Exception):
    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(message)
        self.output = output


def probe(python: Path, *, timeout: float = 20.0) -> InterpreterInfo:
    """Run the probe in ``python``. Raises ``ProbeError`` with a one-line reason on failure."""
    try:
        result = proc.run([python, "-I", "-S", "-c", PROBE], timeout=timeout, env=proc.clean_env())
    except ProcessError as exc:
        raise ProbeError(exc.message) from exc
    if not result.ok:
        lines = (result.stderr or result.stdout).strip().splitlines()
        reason = lines[-1] if lines else f"exit code {result.returncode}"
        raise ProbeError(f"{python} does not run: {reason}", result.stderr)
    try:
        data = json.loads(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError) as exc:
        raise ProbeError(f"{python} printed no answer to the probe", result.stdout) from exc
    markers = {str(k): str(v) for k, v in data.pop("markers").items()}
    return InterpreterInfo(
        version=str(data["version"]),
        markers=markers,
        executable=str(data.get("executable", python)),
        facts=data,
    )


def estimate(version: str | None, *, windows: bool) -> InterpreterInfo:
    """Marker values for a venv whose python cannot answer: from pyvenv.cfg and the layout."""
    full = version or "3.10.0"
    parts = (full.split(".") + ["0", "0"])[:3]
    full = ".".join(parts)
    xy = ".".join(parts[:2])
    if windows:
        markers = {
            "os_name": "nt",
            "sys_platform": "win32",
            "platform_system": "Windows",
            "platform_machine": "AMD64",
            "platform_release": "10",
            "platform_version": "10.0.19045",
        }
    else:
        markers = {
            "os_name": "posix",
            "sys_platform": _host_sys_platform(),
            "platform_system": _host_platform.system(),
            "platform_machine": _host_platform.machine(),
            "platform_release": _host_platform.release(),
            "platform_version": _host_platform.version(),
        }
    markers.update(
        {
            "implementation_name": "cpython",
            "implementation_version": full,
            "python_full_version": full,
            "platform_python_implementation": "CPython",
            "python_version": xy,
        }
    )
    # A POSIX venv seen here runs on this machine: its C library is this machine's (wheel tags
    # need it; without it a guess of glibc 2.17 would rule out most manylinux wheels).
    facts: dict[str, Any] = {} if windows else {"libc": host_libc()}
    return InterpreterInfo(version=full, markers=markers, estimated=True, facts=facts)


def host_libc() -> str:
    """This machine's C library, as the probe reports it (``glibc 2.35``), or ``""``."""
    try:
        return os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (AttributeError, OSError, ValueError):
        return ""


def _host_sys_platform() -> str:
    return sys.platform
