"""The Python a new venv is built on (``choose_python``): the old venv's own interpreter when it
still runs, else another of the same minor release, else the manifest's recommendation; a
different minor release only with a reason the plan shows (unsupported, ``--python``, none
found).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from repair.env import pythons
from repair.errors import UsageError

if TYPE_CHECKING:
    from repair.app.manifest import Manifest
    from repair.context import Context
    from repair.env.pythons import PythonInfo


@dataclass(frozen=True)
class PythonChoice:
    path: str
    version: str
    reason: str


def old_python(ctx: Context) -> tuple[str | None, Path | None]:
    """The old venv's Python version (pyvenv.cfg, else what its python said) and the
    interpreter it was made from, when that still exists."""
    if not ctx.venv_exists:
        return None, None
    version = ctx.cfg.version if ctx.cfg is not None else None
    if version is None and ctx.interp is not None:
        version = ctx.interp.version
    if version is None:
        return None, None
    xy = ".".join(version.split(".")[:2])
    bases: list[Path] = []
    if ctx.cfg is not None and ctx.cfg.home:
        bases.append(Path(ctx.cfg.home))
    info = ctx.interp
    if info is not None and info.facts.get("base_prefix"):
        prefix = Path(str(info.facts["base_prefix"]))
        bases += [prefix / "bin", prefix]
    names = ("python.exe", f"python{xy}.exe") if os.name == "nt" else (f"python{xy}", "python3")
    for base in bases:
        for name in names:
            cand = base / name
            if cand.is_file():
                return version, cand
    return version, None


def choose_python(
    manifest: Manifest,
    *,
    requested: str | None,
    old_version: str | None,
    old_interpreter: Path | None,
    found: list[PythonInfo] | None = None,
) -> PythonChoice:
    """The interpreter for the new venv, with the reason for it (see the module's text)."""
    spec = manifest.python_supported or None
    recommended = manifest.python_recommended or None
    old_xy = ".".join(old_version.split(".")[:2]) if old_version else None
    if requested:
        info = pythons.choose_python(spec, requested, recommended, found=found)
        reason = f"--python {requested}"
        if old_xy and info.xy != old_xy:
            reason += f" (the old venv was Python {old_version})"
        return PythonChoice(str(info.path), info.version, reason)
    if old_version and old_xy:
        fits = _fits(old_version, spec)
        if fits and old_interpreter is not None:
            own = pythons.probe_python(old_interpreter, "the old venv")
            if own is not None and own.xy == old_xy:
                return PythonChoice(str(own.path), own.version, "the old venv's own interpreter")
        if fits:
            try:
                info = pythons.choose_python(spec, old_xy, recommended, found=found)
                return PythonChoice(
                    str(info.path),
                    info.version,
                    f"the old venv's Python {old_xy} (its own interpreter is gone)",
                )
            except UsageError:
                why = f"no Python {old_xy} (the old venv's) was found on this machine"
        else:
            why = f"the old venv's Python {old_version} is not supported ({spec})"
        info = pythons.choose_python(spec, None, recommended, found=found)
        return PythonChoice(str(info.path), info.version, why)
    info = pythons.choose_python(spec, None, recommended, found=found)
    return PythonChoice(
        str(info.path),
        info.version,
        f"the manifest recommends {recommended}"
        if recommended
        else "the newest supported Python found",
    )


def _fits(version: str, spec: str | None) -> bool:
    if not spec:
        return True
    try:
        return Version(version) in SpecifierSet(spec)
    except InvalidVersion:
        return False
