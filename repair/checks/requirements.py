"""Checks of what the application and the installed distributions require: what ``pip check``
covers, with extras and markers evaluated for the venv's own interpreter, plus the application's
own requirements files."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from repair.checks.registry import check, finding_type
from repair.model import Finding, Fix, Severity

if TYPE_CHECKING:
    from packaging.requirements import Requirement

    from repair.context import Context
    from repair.dists import Dist

REQUIREMENT_UNMET = finding_type(
    "requirement-unmet", "A requirement of the application is not installed or not satisfied",
    Severity.ERROR, Fix.REINSTALL, restart_required=True,
)
DEPENDENCY_CONFLICT = finding_type(
    "dependency-conflict", "An installed distribution's own requirement is not satisfied",
    Severity.ERROR, Fix.REINSTALL, restart_required=True,
)
REQUIREMENT_INVALID = finding_type(
    "requirement-invalid", "A requirements file has a line that cannot be read", Severity.ERROR,
    Fix.MANUAL,
)


def _satisfied(req: Requirement, dist: Dist) -> bool:
    from repair.conflicts import satisfies

    return satisfies(req, dist)


@check(REQUIREMENT_INVALID)
def requirement_invalid(ctx: Context) -> Iterator[Finding]:
    """A line of the application's requirements or constraints files that pip would refuse."""
    for line in ctx.app_requirements.errors:
        yield REQUIREMENT_INVALID(
            line.where,
            f"{line.where}: {line.error}" + (f": {line.raw!r}" if line.raw else ""),
            f"fix or remove line {line.lineno} of {line.source.name} (pip would stop on it)",
            file=str(line.source),
            line=line.lineno,
        )


@check(REQUIREMENT_UNMET)
def requirement_unmet(ctx: Context) -> Iterator[Finding]:
    """A requirement of the application (its requirements files, with markers evaluated for the
    venv's Python) is missing, or the installed version does not satisfy it; also an installed
    version that a constraints file forbids."""
    if not ctx.venv_exists or not ctx.scan.exists:
        return
    from repair.requirements import shell_arg

    installed = ctx.installed
    for line in ctx.app_requirements.lines:
        if line.error is not None or not line.name:
            continue
        req = line.requirement
        if req is not None and not ctx.marker_matches(req.marker):
            continue
        dist = installed.get(line.name)
        shown = req.name if req is not None else line.name
        if line.constraint:
            if dist is not None and req is not None and not _satisfied(req, dist):
                yield REQUIREMENT_UNMET(
                    dist.name,
                    f"{dist.name} {dist.version} is installed, but the constraint {line.raw!r} "
                    f"({line.where}) forbids it",
                    f"run 'repair' to install a version that fits {req.specifier}",
                    requirement=line.raw, installed=dist.version, where=line.where,
                )
            continue
        if dist is None:
            yield REQUIREMENT_UNMET(
                shown,
                f"{shown} is required ({line.where}: {line.raw}) but not installed",
                f"run 'repair' to install it, or {shell_arg(str(ctx.layout.python))} -m pip "
                f"install {shell_arg(req if req is not None else line.raw)}",
                requirement=line.raw, installed=None, where=line.where,
            )
        elif req is not None and not _satisfied(req, dist):
            yield REQUIREMENT_UNMET(
                dist.name,
                f"{dist.name} {dist.version} is installed, but {line.where} requires {line.raw}",
                f"run 'repair' to install a version that fits {req.specifier}",
                requirement=line.raw, installed=dist.version, where=line.where,
            )


def requested_extras(ctx: Context) -> dict[str, set[str]]:
    """Which extras of each installed distribution something asks for (the application or another
    distribution), followed through chains of extras."""
    from repair.conflicts import requested_extras as follow

    wanted: dict[str, set[str]] = {}
    for line in ctx.app_requirements.requirements:
        if line.extras:
            wanted.setdefault(line.name or "", set()).update(line.extras)
    return follow(ctx.installed, ctx.markers, wanted)


@check(DEPENDENCY_CONFLICT)
def dependency_conflict(ctx: Context) -> Iterator[Finding]:
    """An installed distribution requires another that is missing or at a version that does not
    fit (what ``pip check`` reports), with markers and requested extras evaluated for the venv."""
    if not ctx.venv_exists or not ctx.scan.exists:
        return
    from repair.conflicts import unmet_dependencies
    from repair.requirements import shell_arg

    for unmet in unmet_dependencies(ctx.installed, ctx.markers, requested_extras(ctx)):
        dist, req, target = unmet.dist, unmet.requirement, unmet.target
        who = f"{dist.name} {dist.version}"
        if target is None:
            yield DEPENDENCY_CONFLICT(
                req.name,
                f"{who} requires {req}, which is not installed",
                f"run 'repair' to install it, "
                f"or {shell_arg(str(ctx.layout.python))} -m pip install {shell_arg(req)}",
                required_by=dist.name, requirement=str(req), installed=None,
            )
        else:
            yield DEPENDENCY_CONFLICT(
                target.name,
                f"{who} requires {req}, but {target.name} {target.version} is installed",
                f"run 'repair' to install a version of {target.name} that fits both, "
                f"or update {dist.name}",
                required_by=dist.name, requirement=str(req), installed=target.version,
            )
