"""Checks of what the application and the installed distributions require: what ``pip check``
covers, with extras and markers evaluated for the venv's own interpreter, plus the application's
own requirements files."""

from __future__ import annotations

import re
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
    if not req.specifier:
        return True
    version = dist.parsed_version
    if version is None:
        return False
    return req.specifier.contains(version, prereleases=True)


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
                f"run 'repair' to install it, or '{ctx.layout.python} -m pip install "
                f"\"{line.raw}\"'",
                requirement=line.raw, installed=None, where=line.where,
            )
        elif req is not None and not _satisfied(req, dist):
            yield REQUIREMENT_UNMET(
                dist.name,
                f"{dist.name} {dist.version} is installed, but {line.where} requires {line.raw}",
                f"run 'repair' to install a version that fits {req.specifier}",
                requirement=line.raw, installed=dist.version, where=line.where,
            )


_EXTRA_RE = re.compile(r"""extra\s*==\s*['"]([^'"]+)['"]""")


def _needs_extra(text: str) -> str | None:
    """The extra a Requires-Dist line applies to, read from its text without parsing it
    (``foo; extra == "dev"``), or None when it applies without one or cannot be told apart
    cheaply. Most lines of big packages are for extras nobody asked for: skipping them unparsed
    is what keeps this check fast on a torch venv."""
    _, sep, marker = text.partition(";")
    if not sep or "extra" not in marker or " or " in marker:
        return None
    m = _EXTRA_RE.search(marker)
    return m.group(1) if m else None


def _skip(text: str, extras: tuple[str, ...]) -> bool:
    from repair.dists import canonical

    extra = _needs_extra(text)
    return extra is not None and canonical(extra) not in extras


class _ReqCache:
    """Parses each distinct Requires-Dist string once."""

    def __init__(self) -> None:
        self.cache: dict[str, Requirement | None] = {}

    def get(self, text: str) -> Requirement | None:
        try:
            return self.cache[text]
        except KeyError:
            pass
        from packaging.requirements import InvalidRequirement, Requirement

        try:
            req: Requirement | None = Requirement(text)
        except InvalidRequirement:
            req = None
        self.cache[text] = req
        return req


def requested_extras(ctx: Context, reqs: _ReqCache) -> dict[str, set[str]]:
    """Which extras of each installed distribution something asks for (the application or another
    distribution), followed through chains of extras."""
    from repair.dists import canonical

    wanted: dict[str, set[str]] = {}
    for line in ctx.app_requirements.requirements:
        if line.requirement is not None and line.requirement.extras:
            wanted.setdefault(line.name or "", set()).update(
                canonical(e) for e in line.requirement.extras)
    installed = ctx.installed
    for _ in range(10):  # chains of extras are short; bounded against cycles
        changed = False
        for key, dist in installed.items():
            extras = ("",) + tuple(sorted(wanted.get(key, ())))
            for text in dist.requires:
                if "[" not in text.partition(";")[0] or _skip(text, extras):
                    continue
                req = reqs.get(text)
                if req is None or not req.extras or not ctx.marker_matches(req.marker, extras):
                    continue
                target = canonical(req.name)
                before = len(wanted.setdefault(target, set()))
                wanted[target].update(canonical(e) for e in req.extras)
                changed |= len(wanted[target]) != before
        if not changed:
            break
    return wanted


@check(DEPENDENCY_CONFLICT)
def dependency_conflict(ctx: Context) -> Iterator[Finding]:
    """An installed distribution requires another that is missing or at a version that does not
    fit (what ``pip check`` reports), with markers and requested extras evaluated for the venv."""
    if not ctx.venv_exists or not ctx.scan.exists:
        return
    from repair.dists import canonical

    reqs = _ReqCache()
    installed = ctx.installed
    wanted = requested_extras(ctx, reqs)
    for key, dist in sorted(installed.items()):
        extras = ("",) + tuple(sorted(wanted.get(key, ())))
        for text in dist.requires:
            if _skip(text, extras):
                continue
            req = reqs.get(text)
            if req is None or not ctx.marker_matches(req.marker, extras):
                continue
            target = installed.get(canonical(req.name))
            who = f"{dist.name} {dist.version}"
            if target is None:
                yield DEPENDENCY_CONFLICT(
                    req.name,
                    f"{who} requires {req}, which is not installed",
                    f"run 'repair' to install it, "
                    f"or '{ctx.layout.python} -m pip install \"{req}\"'",
                    required_by=dist.name, requirement=str(req), installed=None,
                )
            elif not _satisfied(req, target):
                yield DEPENDENCY_CONFLICT(
                    target.name,
                    f"{who} requires {req}, but {target.name} {target.version} is installed",
                    f"run 'repair' to install a version of {target.name} that fits both, "
                    f"or update {dist.name}",
                    required_by=dist.name, requirement=str(req), installed=target.version,
                )
