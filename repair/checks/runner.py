"""The check engine: run the registered checks on an install and build the report. ``repair
check``, the pipeline, the launch guard, the install's verify step and ``repair report`` use it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from repair.checks.torch import describe_backend
from repair.context import Context
from repair.model import Finding, FindingId, Fix, Report, Severity, sort_findings

if TYPE_CHECKING:
    from repair.checks.registry import Check


def describe_target(ctx: Context) -> dict[str, Any]:
    install = ctx.install
    python: dict[str, Any] = {"version": None, "executable": None}
    if ctx.venv_exists:
        info = ctx.python_info
        python = {
            "version": info.version
            if not info.estimated or ctx.cfg and ctx.cfg.version or ctx.layout.embedded
            else None,
            "executable": str(ctx.layout.python),
        }
    target: dict[str, Any] = {
        "dir": str(install.dir),
        "venv": str(install.venv),
        "manifest": install.manifest.name,
        "python": python,
        "backend": {"machine": None, "torch": None},
        "sources": dict(install.sources),
        "layout": install.layout,
    }
    describe_backend(ctx, target)
    return target


def run_checks(ctx: Context, select: Callable[[Check], bool] | None = None) -> list[Finding]:
    """Every enabled check (that ``select`` accepts), in registry order. A check that crashes
    becomes a finding that says so (with the error), never a silent gap in the report."""
    # lazy: start-up time
    from repair.cache import site as cache
    from repair.checks.registry import FINDING_TYPES, load_all

    checks = load_all()
    store = ctx.cache_store = cache.open_store(ctx)
    if store is not None:
        ctx.dist_cache = cache.DistCache(store)
    ctx.start_background("_probe")
    env = cache.env_lookup(ctx)
    memo = env
    if ctx.venv_exists:
        if ctx.backend_wanted and select is None:  # a selection computes it when it asks
            ctx.start_background("machine_backend")
        # Read site-packages while the probes run in their threads.
        memo = memo if memo is not None else cache.memo_lookup(ctx)
        if memo is None:
            # lazy: start-up time
            from repair.env.ownership import ownership

            cache.records(ctx)
            ownership(ctx)
    ctx.join_background()
    findings: list[Finding] = []
    produced: dict[str, list[Finding]] = {}
    for chk in checks:
        if not chk.enabled(ctx.options) or (select is not None and not select(chk)):
            continue
        if memo is not None and chk.name in memo:
            findings.extend(memo[chk.name])
            continue
        try:
            found = list(chk.func(ctx))
            produced[chk.name] = found
            findings.extend(found)
        except Exception as exc:  # noqa: BLE001 - reported as a finding, see docstring
            ftype = FINDING_TYPES[FindingId.CHECK_FAILED]
            findings.append(
                ftype(
                    chk.name,
                    f"the check '{chk.name}' failed: {type(exc).__name__}: {exc}",
                    "please report this as a bug, with the output of 'repair check --json'",
                    check=chk.name,
                )
            )
    if memo is None:
        cache.memo_store(ctx, produced)
    if env is None:
        cache.env_store(ctx, produced, checks)
    cache.finish(ctx)
    return findings


def log_findings(ctx: Context) -> list[Finding]:
    """``--log FILE``: one ``log-signature`` finding per known cause in the log, each tied to this
    install (the distribution, its version, who asks for which). Read first, so that a bad path
    fails (exit 2) before the checks run."""
    log = ctx.options.log
    if not log:
        return []
    # lazy: start-up time
    from repair.diagnose.causes import diagnosis_findings
    from repair.diagnose.environment import tie
    from repair.diagnose.scan import diagnose_log

    return diagnosis_findings(tie(diagnose_log(log), ctx))


def check(ctx: Context, extra_findings: list[Finding] | None = None) -> Report:
    started = time.perf_counter()
    from_log = log_findings(ctx)
    findings = run_checks(ctx) + from_log
    if extra_findings:
        findings.extend(extra_findings)
    target = describe_target(ctx)
    return Report(
        target=target,
        findings=sort_findings(findings),
        duration_ms=int((time.perf_counter() - started) * 1000),
        strict=ctx.options.strict,
        extra=dict(ctx.report_extra),
    )


def _register_internal_ids() -> None:
    # lazy: start-up time
    from repair.checks.registry import FINDING_TYPES, finding_type

    if FindingId.CHECK_FAILED not in FINDING_TYPES:
        finding_type(FindingId.CHECK_FAILED, "A check could not run", Severity.ERROR, Fix.MANUAL)


_register_internal_ids()
