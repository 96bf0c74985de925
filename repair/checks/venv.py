"""Checks of the venv itself: does it exist, does its interpreter run, is the Python supported,
is pip there."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

from repair.checks.registry import check, finding_type
from repair.env.layout import home_python_exists
from repair.model import Finding, FindingId, Fix, Severity

if TYPE_CHECKING:
    from repair.context import Context

VENV_MISSING = finding_type(
    FindingId.VENV_MISSING,
    "No environment where the install expects one",
    Severity.ERROR,
    Fix.RECREATE_VENV,
)
VENV_INTERPRETER_BROKEN = finding_type(
    FindingId.VENV_INTERPRETER_BROKEN,
    "The venv's interpreter is missing or does not run",
    Severity.ERROR,
    Fix.RECREATE_VENV,
)
VENV_HOME_MOVED = finding_type(
    FindingId.VENV_HOME_MOVED,
    "The venv's base Python moved; a Python of the same version can take its place",
    Severity.ERROR,
    Fix.CONFIG,
)
PYTHON_UNSUPPORTED = finding_type(
    FindingId.PYTHON_UNSUPPORTED,
    "The venv's Python version is not supported by the application",
    Severity.ERROR,
    Fix.RECREATE_VENV,
)
PIP_MISSING = finding_type(
    FindingId.PIP_MISSING, "The venv has no pip", Severity.WARNING, Fix.REINSTALL
)


@check(VENV_MISSING)
def venv_missing(ctx: Context) -> Iterator[Finding]:
    """The install has no venv folder where the manifest (or VENV_DIR) says it should be."""
    if ctx.venv_exists:
        return
    source = ctx.install.sources.get("venv", "")
    yield VENV_MISSING(
        str(ctx.venv),
        f"no virtual environment at {ctx.venv} ({source})",
        "run 'repair' to create it and install the requirements, "
        "or point --venv at the right folder",
        path=str(ctx.venv),
    )


@check(VENV_INTERPRETER_BROKEN, VENV_HOME_MOVED)
def venv_interpreter(ctx: Context) -> Iterator[Finding]:
    """pyvenv.cfg is missing or unreadable, its home names a Python that is gone, or the venv's
    python does not run."""
    if not ctx.venv_exists:
        return
    remedy = "run 'repair --clean-venv' to recreate the venv (the old one is kept as a backup)"
    if ctx.cfg_error:
        yield VENV_INTERPRETER_BROKEN(
            "pyvenv.cfg", f"{ctx.cfg_error} in {ctx.venv}", remedy, path=str(ctx.layout.cfg_path)
        )
    cfg = ctx.cfg
    windows = ctx.layout.kind == "windows"
    if cfg is not None and cfg.home and not ctx.layout.is_foreign:
        if not home_python_exists(cfg.home, windows=windows):
            moved = _home_moved(ctx, cfg.home)
            if moved is not None:
                yield moved
                return
            yield VENV_INTERPRETER_BROKEN(
                "pyvenv.cfg",
                f"pyvenv.cfg names a base Python at {cfg.home} that no longer exists",
                remedy + "; the venv was made by a Python that was removed or moved",
                home=cfg.home,
            )
            return
    if ctx.probe_error:
        yield VENV_INTERPRETER_BROKEN(
            str(ctx.layout.python), ctx.probe_error, remedy, path=str(ctx.layout.python)
        )


def _home_moved(ctx: Context, home: str) -> Finding | None:
    """The smallest fix for a base Python that moved: the venv still starts (its python link
    resolves somewhere that works), or a Python of the venv's version exists elsewhere. Then
    rewriting ``home`` (and the links) is enough; no rebuild."""
    # lazy: start-up time
    from pathlib import Path

    cfg_version = ctx.cfg.version if ctx.cfg is not None else None
    starts = ctx.probe_error is None and ctx.interp is not None
    version = ctx.interp.version if starts and ctx.interp is not None else cfg_version
    if not version:
        return None
    xy = ".".join(version.split(".")[:2])
    target: Path | None = None
    if starts:
        real = Path(os.path.realpath(ctx.layout.python))
        if real != ctx.layout.python.absolute() and real.is_file():
            target = real
    if target is None:
        # lazy: start-up time
        from repair.env.pythons import find_pythons

        # Not a venv's python (this venv's, or the tool's own): a base installation.
        found = [
            p
            for p in find_pythons()
            if not _inside(p.path, ctx.venv) and not (p.path.parent.parent / "pyvenv.cfg").is_file()
        ]
        exact = [p for p in found if p.version == version]
        same = [p for p in found if p.xy == xy]
        if not (exact or same):
            return None
        target = (exact or same)[0].path
    severity = Severity.WARNING if starts else Severity.ERROR
    state = "the venv still starts" if starts else "the venv does not start"
    return VENV_HOME_MOVED(
        "pyvenv.cfg",
        f"pyvenv.cfg names a base Python at {home} that no longer exists ({state}); Python "
        f"{xy} at {target} can take its place",
        f"run 'repair' to point the venv at {target} (pyvenv.cfg's home and the venv's python "
        "links): no rebuild needed",
        severity=severity,
        home=home,
        python=str(target),
        version=version,
        starts=starts,
    )


def _inside(path: object, root: object) -> bool:
    real, base = os.path.realpath(str(path)), os.path.realpath(str(root))
    return real == base or real.startswith(base + os.sep)


def _version_str(ctx: Context) -> str | None:
    if ctx.interp is not None:
        return ctx.interp.version
    return ctx.cfg.version if ctx.cfg else None


@check(PYTHON_UNSUPPORTED)
def python_unsupported(ctx: Context) -> Iterator[Finding]:
    """The venv's Python version is outside the range the application supports."""
    manifest = ctx.install.manifest
    spec = manifest.python_supported
    version = _version_str(ctx)
    if not spec or not version or not ctx.venv_exists:
        return
    # lazy: start-up time
    from packaging.specifiers import SpecifierSet
    from packaging.version import InvalidVersion, Version

    try:
        ok = Version(version) in SpecifierSet(spec)
    except InvalidVersion:
        return
    if ok:
        return
    recommended = manifest.python_recommended
    want = f"Python {recommended}" if recommended else f"a Python {spec}"
    yield PYTHON_UNSUPPORTED(
        f"python {version}",
        f"{manifest.title} supports Python {spec}; the venv has {version}",
        f"install {want}, then run 'repair --clean-venv --python <path to it>'",
        version=version,
        supported=spec,
        recommended=recommended,
    )


@check(PIP_MISSING)
def pip_missing(ctx: Context) -> Iterator[Finding]:
    """The venv has no pip: the application cannot install or update its requirements."""
    if not ctx.venv_exists or not ctx.scan.exists:
        return
    if "pip" in ctx.installed:
        return
    if ctx.cfg is not None and ctx.cfg.include_system_site_packages:
        return  # pip may come from the base interpreter
    if ctx.cfg is not None and "uv" in ctx.cfg.values:
        return  # made by uv: no pip is normal (repairs use uv, or seed pip first)
    yield PIP_MISSING(
        "pip",
        "pip is not installed in the venv",
        f"run '{ctx.layout.python} -m ensurepip --upgrade', or 'repair' to reinstall it",
    )
