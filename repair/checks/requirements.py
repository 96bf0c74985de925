"""Checks of what the application and the installed distributions require: what ``pip check``
covers, with extras and markers evaluated for the venv's own interpreter, plus the application's
own requirements files."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from repair.checks.registry import check, finding_type
from repair.model import Finding, FindingId, Fix, Severity

if TYPE_CHECKING:
    from packaging.requirements import Requirement

    from repair.app.requirements import ReqLine
    from repair.context import Context
    from repair.env.dists import Dist

REQUIREMENT_UNMET = finding_type(
    FindingId.REQUIREMENT_UNMET,
    "A requirement of the application is not installed or not satisfied",
    Severity.ERROR,
    Fix.REINSTALL,
    restart_required=True,
)
DEPENDENCY_CONFLICT = finding_type(
    FindingId.DEPENDENCY_CONFLICT,
    "An installed distribution's own requirement is not satisfied",
    Severity.ERROR,
    Fix.REINSTALL,
    restart_required=True,
)
REQUIREMENT_CONFLICT = finding_type(
    FindingId.REQUIREMENT_CONFLICT,
    "Two requirement sources ask for versions no single version satisfies",
    Severity.ERROR,
    Fix.MANUAL,
    restart_required=True,
)
INSTALL_RISKY = finding_type(
    FindingId.INSTALL_RISKY,
    "Installing a node's or extension's requirements would move a protected package",
    Severity.ERROR,
    Fix.NONE,
)
INSTALL_UNRESOLVABLE = finding_type(
    FindingId.INSTALL_UNRESOLVABLE,
    "A node's or extension's requirements cannot be installed here",
    Severity.ERROR,
    Fix.NONE,
)
REQUIREMENT_INVALID = finding_type(
    FindingId.REQUIREMENT_INVALID,
    "A requirements file has a line that cannot be read",
    Severity.ERROR,
    Fix.MANUAL,
)


def _satisfied(req: Requirement, dist: Dist) -> bool:
    # lazy: a check served from the cache does not load it
    from repair.env.requires import satisfies

    return satisfies(req, dist)


@check(REQUIREMENT_INVALID)
def requirement_invalid(ctx: Context) -> Iterator[Finding]:
    """A line of the application's requirements or constraints files, or of a custom node's or
    extension's requirements file, that pip would refuse."""
    for source, reqs in ctx.requirement_sets():
        for line in reqs.errors:
            who = "" if source is None else f"{source.label}: "
            yield REQUIREMENT_INVALID(
                line.where,
                f"{who}{line.where}: {line.error}" + (f": {line.raw!r}" if line.raw else ""),
                f"fix or remove line {line.lineno} of {line.source.name} (pip would stop on it)",
                file=str(line.source),
                line=line.lineno,
                requested_by=None if source is None else source.label,
            )


@check(REQUIREMENT_UNMET)
def requirement_unmet(ctx: Context) -> Iterator[Finding]:
    """A requirement of the application (its requirements files, with markers evaluated for the
    venv's Python), or of a custom node or extension (its ``requirements.txt``, the node named),
    is missing, or the installed version does not satisfy it; also an installed version that a
    constraints file forbids."""
    if not ctx.venv_exists or not ctx.scan.exists:
        return
    # lazy: a check served from the cache does not load it
    from repair.app.requirements import shell_arg

    installed = ctx.installed
    for source, reqs in ctx.requirement_sets():
        # "ComfyUI's requirements.txt:12" or "custom node X (custom_nodes/X/requirements.txt:3)"
        for line in reqs.lines:
            if line.error is not None or not line.name:
                continue
            req = line.requirement
            if req is not None and not ctx.marker_matches(req.marker):
                continue
            where = line.where if source is None else f"{source.label} ({_rel(ctx, line)})"
            by = None if source is None else source.label
            dist = installed.get(line.name)
            shown = req.name if req is not None else line.name
            if line.constraint:
                if dist is not None and req is not None and not _satisfied(req, dist):
                    yield REQUIREMENT_UNMET(
                        dist.name,
                        f"{dist.name} {dist.version} is installed, but the constraint "
                        f"{line.raw!r} ({where}) forbids it",
                        f"run 'repair' to install a version that fits {req.specifier}",
                        requirement=line.raw,
                        installed=dist.version,
                        where=line.where,
                        requested_by=by,
                    )
                continue
            if dist is None:
                yield REQUIREMENT_UNMET(
                    shown,
                    f"{shown} is required ({where}: {line.raw}) but not installed",
                    f"run 'repair' to install it, or {_pip(ctx)} install "
                    f"{shell_arg(req if req is not None else line.raw)}",
                    requirement=line.raw,
                    installed=None,
                    where=line.where,
                    requested_by=by,
                )
            elif req is not None and not _satisfied(req, dist):
                yield REQUIREMENT_UNMET(
                    dist.name,
                    f"{dist.name} {dist.version} is installed, but {where} requires {line.raw}",
                    f"run 'repair' to install a version that fits {req.specifier}",
                    requirement=line.raw,
                    installed=dist.version,
                    where=line.where,
                    requested_by=by,
                )


def _rel(ctx: Context, line: ReqLine) -> str:
    if line.lineno == 0 and line.source == ctx.venv:
        return f"in {ctx.venv.name}, protected by the manifest"
    try:
        rel = line.source.relative_to(ctx.install.dir).as_posix()
    except ValueError:
        rel = str(line.source)
    return f"{rel}:{line.lineno}"


def _pip(ctx: Context) -> str:
    """How the launcher's own pip is run (the portable build: ``python.exe -s -m pip``)."""
    # lazy: a check served from the cache does not load it
    from repair.app.requirements import shell_arg

    return f"{shell_arg(str(ctx.layout.python))} {'-s ' if ctx.layout.embedded else ''}-m pip"


@check(REQUIREMENT_CONFLICT)
def requirement_conflict(ctx: Context) -> Iterator[Finding]:
    """Two requirement sources ask for versions of one package that no single version
    satisfies: a custom node or extension against the application, or two nodes. Both are
    named; the repair leaves the node out (the later one of two nodes) and says what it would
    take to have it back."""
    from repair.app.nodes import conflicts  # lazy: a check served from the cache does not load it

    for c in conflicts(ctx):
        a, b = c.first, c.second
        first = (
            f"{a.who} asks {a.text} ({_rel(ctx, a.line)})"
            if a.line.lineno
            else f"{a.who} must stay"
        )
        message = (
            f"{first} and {b.who} asks {b.text} ({_rel(ctx, b.line)}): no version of "
            f"{c.name} satisfies both"
        )
        folder = b.line.source.parent
        try:
            folder_rel = folder.relative_to(ctx.install.dir).as_posix()
        except ValueError:
            folder_rel = str(folder)
        disable = (
            f"disable {b.who} (move {folder_rel} into {folder.parent.name}/.disabled)"
            if not b.is_app
            else f"change {b.who}'s requirement"
        )
        want = (
            f"a version of {b.who} that accepts {c.name}{a.spec}"
            if str(a.spec)
            else f"a version of {b.who} without the pin"
        )
        kept = f"keeps {a.text}" if a.line.lineno == 0 else f"installs {a.who}"
        yield REQUIREMENT_CONFLICT(
            c.name,
            message,
            f"'repair' {kept} and leaves {b.who} out; to have both, {disable} or "
            f"update it to {want}",
            sources=[a.to_json(), b.to_json()],
            left_out=c.blocked,
        )


@check(INSTALL_RISKY, INSTALL_UNRESOLVABLE, option="before_install")
def before_install(ctx: Context) -> Iterator[Finding]:
    """``--before-install``: pip's dry run of a node's requirements in the venv; every move of a
    protected package is a finding (see ``repair.checks.beforeinstall``)."""
    # lazy: pip's dry run is only asked for with --before-install
    from repair.checks.beforeinstall import before_install_findings

    yield from before_install_findings(ctx, INSTALL_RISKY, INSTALL_UNRESOLVABLE)


def requested_extras(ctx: Context) -> dict[str, set[str]]:
    """Which extras of each installed distribution something asks for (the application or another
    distribution), followed through chains of extras."""
    # lazy: a check served from the cache does not load it
    from repair.env.requires import requested_extras as follow

    wanted: dict[str, set[str]] = {}
    for _source, req_set in ctx.requirement_sets():
        for line in req_set.requirements:
            if line.extras:
                wanted.setdefault(line.name or "", set()).update(line.extras)
    return follow(ctx.installed, ctx.markers, wanted)


@check(DEPENDENCY_CONFLICT)
def dependency_conflict(ctx: Context) -> Iterator[Finding]:
    """An installed distribution requires another that is missing or at a version that does not
    fit (what ``pip check`` reports), with markers and requested extras evaluated for the venv."""
    if not ctx.venv_exists or not ctx.scan.exists:
        return
    # lazy: a check served from the cache does not load them
    from repair.app.requirements import shell_arg
    from repair.env.requires import unmet_dependencies

    for unmet in unmet_dependencies(ctx.installed, ctx.markers, requested_extras(ctx)):
        dist, req, target = unmet.dist, unmet.requirement, unmet.target
        who = f"{dist.name} {dist.version}"
        if target is None:
            yield DEPENDENCY_CONFLICT(
                req.name,
                f"{who} requires {req}, which is not installed",
                f"run 'repair' to install it, "
                f"or {shell_arg(str(ctx.layout.python))} -m pip install {shell_arg(req)}",
                required_by=dist.name,
                requirement=str(req),
                installed=None,
            )
        else:
            yield DEPENDENCY_CONFLICT(
                target.name,
                f"{who} requires {req}, but {target.name} {target.version} is installed",
                f"run 'repair' to install a version of {target.name} that fits both, "
                f"or update {dist.name}",
                required_by=dist.name,
                requirement=str(req),
                installed=target.version,
            )
