"""The wheel tags a TARGET interpreter installs: built from facts the venv's python reported
(``repair.env.interp``), never from the tool's own interpreter.

Target facts are a plain dict, so that callers can pass what they know::

    {"version": "3.10.6", "sys_platform": "win32", "platform": "win_amd64"}
    {"version": "3.12.3", "sys_platform": "linux", "platform": "linux_x86_64", "glibc": "2.35"}
    {"version": "3.11.9", "sys_platform": "darwin", "platform": "macosx_14_0_arm64"}

``platform`` also accepts ``sysconfig.get_platform()`` spellings (``linux-x86_64``,
``win-amd64``, ``macosx-11.0-arm64``) and ``libc`` the probe's ``"glibc 2.35"``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from packaging.tags import Tag

    from repair.env.interp import InterpreterInfo

# The CPython versions a "which Python would work" answer considers.
KNOWN_PYTHONS = ("3.8", "3.9", "3.10", "3.11", "3.12", "3.13", "3.14")
_DEFAULT_GLIBC = (2, 17)


class TargetError(ValueError):
    """The target facts are incomplete or malformed."""


@dataclass(frozen=True)
class Target:
    """The interpreter a rebuild installs into."""

    version: tuple[int, int, int]
    sys_platform: str
    platform: str  # a wheel platform tag: linux_x86_64, win_amd64, macosx_11_0_arm64
    glibc: tuple[int, int] | None = None
    musl: tuple[int, int] | None = None
    free_threaded: bool = False
    markers: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def xy(self) -> str:
        return f"{self.version[0]}.{self.version[1]}"

    @property
    def full_version(self) -> str:
        return ".".join(str(p) for p in self.version)

    def with_python(self, xy: str) -> Target:
        major, minor = (int(p) for p in xy.split(".")[:2])
        return Target(
            (major, minor, 0), self.sys_platform, self.platform, self.glibc, self.musl, False, {}
        )

    def tags(self) -> frozenset[Tag]:
        return _tags(self.version[:2], self.platform, self.glibc, self.musl, self.free_threaded)

    def marker_env(self) -> dict[str, str]:
        """Environment-marker values: what the probe reported, else estimates from the facts."""
        system = {"win32": "Windows", "darwin": "Darwin", "linux": "Linux"}.get(
            self.sys_platform, self.sys_platform.capitalize()
        )
        arch = self.platform.split("_", 1)[1] if "_" in self.platform else ""
        if self.platform.startswith("macosx"):
            arch = self.platform.rsplit("_", 1)[-1]
        machine = {"amd64": "AMD64", "win32": "x86"}.get(arch, arch)
        if self.platform == "win32":
            machine = "x86"
        env = {
            "implementation_name": "cpython",
            "implementation_version": self.full_version,
            "os_name": "nt" if self.sys_platform == "win32" else "posix",
            "platform_machine": machine,
            "platform_release": "",
            "platform_system": system,
            "platform_version": "",
            "python_full_version": self.full_version,
            "platform_python_implementation": "CPython",
            "python_version": self.xy,
            "sys_platform": self.sys_platform,
        }
        env.update(self.markers)
        return env


def _version(text: str) -> tuple[int, int, int]:
    m = re.match(r"^\s*(\d+)\.(\d+)(?:\.(\d+))?", text)
    if not m:
        raise TargetError(f"target python version {text!r} is not X.Y or X.Y.Z")
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)


def _pair(text: str) -> tuple[int, int] | None:
    m = re.search(r"(\d+)\.(\d+)", text)
    return (int(m.group(1)), int(m.group(2))) if m else None


def normalize_platform(text: str) -> str:
    """``linux-x86_64`` -> ``linux_x86_64``, ``macosx-11.0-arm64`` -> ``macosx_11_0_arm64``."""
    return text.strip().replace("-", "_").replace(".", "_").replace(" ", "_").lower()


def target_from(facts: Mapping[str, Any] | Target) -> Target:
    """A ``Target`` from a dict of facts (see the module doc), or from ``InterpreterInfo``'s
    ``facts``/``markers``."""
    if isinstance(facts, Target):
        return facts
    markers = {str(k): str(v) for k, v in dict(facts.get("markers") or {}).items()}
    version = facts.get("version") or markers.get("python_full_version")
    if not version:
        raise TargetError("target facts need a python 'version'")
    sys_platform = str(facts.get("sys_platform") or markers.get("sys_platform") or "")
    plat = facts.get("platform")
    if not plat:
        plat = {"win32": "win_amd64", "darwin": "macosx_11_0_arm64"}.get(sys_platform)
        if plat is None and sys_platform.startswith("linux"):
            machine = markers.get("platform_machine") or "x86_64"
            plat = f"linux_{machine}"
    if not plat:
        raise TargetError("target facts need a 'platform' tag (e.g. linux_x86_64, win_amd64)")
    platform = normalize_platform(str(plat))
    if not sys_platform:
        sys_platform = (
            "win32"
            if platform.startswith("win")
            else "darwin"
            if platform.startswith("macosx")
            else "linux"
        )
    glibc = musl = None
    libc = str(facts.get("glibc") or facts.get("libc") or "")
    if platform.startswith("linux"):
        if "musl" in libc.lower() or facts.get("musl"):
            musl = _pair(str(facts.get("musl") or libc)) or (1, 2)
        else:
            glibc = _pair(libc) or _DEFAULT_GLIBC
    return Target(
        _version(str(version)),
        sys_platform,
        platform,
        glibc,
        musl,
        bool(facts.get("free_threaded", False)),
        markers,
    )


def _linux_platforms(
    arch: str, glibc: tuple[int, int] | None, musl: tuple[int, int] | None
) -> list[str]:
    out: list[str] = []
    if musl is not None:
        out += [f"musllinux_{musl[0]}_{m}_{arch}" for m in range(musl[1], -1, -1)]
    elif glibc is not None:
        floor = 5 if arch in ("x86_64", "i686") else 17
        for minor in range(glibc[1], floor - 1, -1):
            out.append(f"manylinux_{glibc[0]}_{minor}_{arch}")
            legacy = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}.get(minor)
            if legacy and glibc[0] == 2:
                out.append(f"{legacy}_{arch}")
    out.append(f"linux_{arch}")
    return out


def platforms_for(
    platform: str, glibc: tuple[int, int] | None = None, musl: tuple[int, int] | None = None
) -> list[str]:
    """Platform tags in pip's order of preference."""
    if platform.startswith("linux_"):
        return _linux_platforms(platform[len("linux_") :], glibc, musl)
    m = re.match(r"^macosx_(\d+)_(\d+)_(.+)$", platform)
    if m:
        from packaging.tags import mac_platforms  # lazy: packaging is heavy

        return list(mac_platforms((int(m.group(1)), int(m.group(2))), m.group(3)))
    return [platform]


@lru_cache(maxsize=64)
def _tags(
    xy: tuple[int, ...],
    platform: str,
    glibc: tuple[int, int] | None,
    musl: tuple[int, int] | None,
    free_threaded: bool,
) -> frozenset[Tag]:
    from packaging.tags import compatible_tags, cpython_tags  # lazy: packaging is heavy

    plats = platforms_for(platform, glibc, musl)
    nodot = f"{xy[0]}{xy[1]}"
    abis = [f"cp{nodot}t"] if free_threaded else [f"cp{nodot}"]
    tags = list(cpython_tags(xy, abis=abis, platforms=plats))
    tags += compatible_tags(xy, interpreter=f"cp{nodot}", platforms=plats)
    return frozenset(tags)


def target_from_interpreter(info: InterpreterInfo) -> Target:
    """The target of a venv whose python was probed (or estimated) by ``repair.env.interp``."""
    facts: dict[str, Any] = dict(info.facts)
    facts["version"] = info.version
    facts["markers"] = dict(info.markers)
    return target_from(facts)
