"""Known conflicts: the manifest's ``[[conflicts]]`` rules evaluated against the installed set."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from repair.checks.registry import check, finding_type
from repair.model import Finding, FindingId, Fix, Severity

if TYPE_CHECKING:
    from packaging.specifiers import SpecifierSet

    from repair.context import Context

KNOWN_CONFLICT = finding_type(
    FindingId.KNOWN_CONFLICT,
    "A combination of packages known to break",
    Severity.ERROR,
    Fix.REINSTALL,
    restart_required=True,
)
REQUIRES_DIST_INVALID = finding_type(
    FindingId.REQUIRES_DIST_INVALID,
    "An installed distribution's metadata has a requirement that cannot be read",
    Severity.WARNING,
    Fix.MANUAL,
)
WHEEL_UNSUPPORTED = finding_type(
    FindingId.WHEEL_UNSUPPORTED,
    "An installed wheel was built for another platform or Python",
    Severity.ERROR,
    Fix.REINSTALL,
    restart_required=True,
)


def app_specs(ctx: Context) -> dict[str, SpecifierSet]:
    """The application's own version specifiers per package (requirements and constraints, with
    markers evaluated for the venv), merged."""
    # lazy: start-up time
    from packaging.specifiers import SpecifierSet

    specs: dict[str, SpecifierSet] = {}
    for line in ctx.app_requirements.lines:
        req = line.requirement
        if line.error is not None or req is None or not line.name or not req.specifier:
            continue
        if not ctx.marker_matches(req.marker):
            continue
        specs[line.name] = specs.get(line.name, SpecifierSet()) & req.specifier
    return specs


@check(KNOWN_CONFLICT)
def known_conflict(ctx: Context) -> Iterator[Finding]:
    """A rule of the manifest matched: a combination known to break, such as numpy 2 beside
    modules built for numpy 1, accelerate too old for transformers, or a CUDA-only bitsandbytes
    on another backend. The rule's name is in the finding's details."""
    rules = ctx.install.manifest.conflicts
    if not rules or not ctx.venv_exists or not ctx.scan.exists:
        return
    # lazy: start-up time
    from repair.app.conflicts import Facts, evaluate

    installed = ctx.installed
    needs_machine = any(rule.get("backend") for rule in rules)
    machine = None
    if needs_machine and ctx.backend_wanted:
        machine = ctx.machine_backend.backend
    facts = Facts(
        installed=installed, app_specs=app_specs(ctx), machine=machine, torch=ctx.torch_build
    )
    for hit in evaluate(rules, facts):
        details: dict[str, Any] = {"rule": hit.rule, "packages": hit.packages}
        yield KNOWN_CONFLICT(
            hit.subject,
            hit.message,
            hit.remedy,
            severity=Severity(hit.severity),
            fix=Fix(hit.fix),
            restart_required=hit.restart,
            **details,
        )


@check(REQUIRES_DIST_INVALID)
def requires_dist_invalid(ctx: Context) -> Iterator[Finding]:
    """A ``Requires-Dist`` line of an installed distribution's METADATA (or its ``requires.txt``)
    that cannot be read as a requirement. ``pip check`` stops checking that distribution and
    counts it as missing for everything that needs it; this tool checks the distribution's other
    lines and names the line, so that the package (usually an old or hand-built one) can be
    upgraded or reported to its maintainers."""
    if not ctx.venv_exists or not ctx.scan.exists:
        return
    # lazy: start-up time
    from repair.env.requires import bad_requires

    for bad in bad_requires(ctx.installed):
        where = f"{bad.dist.path.name}/{'METADATA' if bad.dist.kind == 'dist-info' else 'PKG-INFO'}"
        yield REQUIRES_DIST_INVALID(
            bad.dist.name,
            f"{bad.dist.name} {bad.dist.version}: Requires-Dist {bad.line!r} cannot be read "
            f"({bad.error}); its dependencies are checked without it",
            f"upgrade {bad.dist.name}, or report the line to its maintainers",
            line=bad.line,
            error=bad.error,
            file=where,
        )


@check(WHEEL_UNSUPPORTED)
def wheel_unsupported(ctx: Context) -> Iterator[Finding]:
    """An installed distribution whose ``WHEEL`` file names only tags the venv's Python does not
    support (a wheel for another platform, Python version or ABI, copied in or installed with
    ``--platform``/``--target``): what ``pip check`` reports as "not supported on this platform".
    Its compiled modules fail to import. Checked only when the venv's python answered the probe
    (an estimate could be wrong about the platform)."""
    if not ctx.venv_exists or not ctx.scan.exists or ctx.interp is None:
        return
    # lazy: start-up time
    from repair.app.requirements import shell_arg
    from repair.env.requires import unsupported_wheels
    from repair.index.tags import TargetError, target_from_interpreter

    try:
        tags = target_from_interpreter(ctx.interp).tags()
    except TargetError:
        return
    for dist in unsupported_wheels(ctx.installed, tags):
        yield WHEEL_UNSUPPORTED(
            dist.name,
            f"{dist.name} {dist.version} is not supported on this platform (its WHEEL names no "
            f"tag that Python {ctx.interp.version} here accepts)",
            f"run 'repair' to reinstall it, or {shell_arg(str(ctx.layout.python))} -m pip install "
            f"--force-reinstall {shell_arg(f'{dist.name}=={dist.version}')}",
            requirement=f"{dist.name}=={dist.version}",
        )
