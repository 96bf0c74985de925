"""Known conflicts: the manifest's ``[[conflicts]]`` rules evaluated against the installed set."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from repair.checks.registry import check, finding_type
from repair.model import Finding, Fix, Severity

if TYPE_CHECKING:
    from packaging.specifiers import SpecifierSet

    from repair.context import Context

KNOWN_CONFLICT = finding_type(
    "known-conflict", "A combination of packages known to break", Severity.ERROR, Fix.REINSTALL,
    restart_required=True,
)



def app_specs(ctx: Context) -> dict[str, SpecifierSet]:
    """The application's own version specifiers per package (requirements and constraints, with
    markers evaluated for the venv), merged."""
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
    from repair.conflicts import Facts, evaluate

    installed = ctx.installed
    needs_machine = any(rule.get("backend") for rule in rules)
    machine = None
    if needs_machine and ctx.backend_wanted:
        machine = ctx.machine_backend.backend
    facts = Facts(installed=installed, app_specs=app_specs(ctx), machine=machine,
                  torch=ctx.torch_build)
    for hit in evaluate(rules, facts):
        details: dict[str, Any] = {"rule": hit.rule, "packages": hit.packages}
        yield KNOWN_CONFLICT(
            hit.subject, hit.message, hit.remedy,
            severity=Severity(hit.severity), fix=Fix(hit.fix), restart_required=hit.restart,
            **details,
        )
