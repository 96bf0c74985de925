"""The repair pipeline: check -> plan -> lock -> back up -> journal -> execute -> verify ->
commit, or roll back.

The old venv is always moved aside into the backup by a rename (instant). A plan that recreates
the venv builds a new one in its place; any other plan works on a hard-link clone of the old one
(installers replace files, they never edit them, so the backup never changes). Each step is
``repair.transaction.steps``; rolling back, and finishing a run that was killed, is
``repair.transaction.recovery``.

Every transition is written to ``journal.json`` in the backup folder before it happens.

Test hook (README, "Test hooks"): ``WEBUI_REPAIR_TEST_CRASH_AT=<point>`` makes the process exit
at once (``os._exit``) at that point; the points are listed in ``CRASH_POINTS`` (``step:<kind>``
and ``after:<kind>`` around each plan step).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repair import fsops
from repair.backup.store import BackupInfo, create_backup, write_meta
from repair.checks.processes import processes_using
from repair.checks.runner import check
from repair.context import Context
from repair.errors import BusyError, ExitCode, PreflightError, RepairError, UsageError
from repair.model import Finding, Plan, Report, Severity, Step, StepKind, StepResult
from repair.options import RepairOptions
from repair.plan.planner import make_plan
from repair.progress import Reporter
from repair.rebuild.build import app_folder_written, create_venv
from repair.rebuild.python import choose_python, old_python
from repair.rebuild.verify import preflight, verify_set
from repair.transaction.journal import (
    JOURNAL,
    Journal,
    crash_point,
    fingerprint,
    install_lock,
    mark,
    new_token,
)
from repair.transaction.recovery import commit, recover, rollback
from repair.transaction.steps import planned_set, run_step

CRASH_POINTS = (
    "journal",
    "moved",
    "venv-ready",
    "verify",
    "verified",
    "committed",
    "rollback:start",
    "rollback:cleared",
    "rollback:renamed",
)


@dataclass
class PipelineResult:
    report: Report
    exit_code: int
    plan: Plan
    steps: list[StepResult] = field(default_factory=list)
    backup: BackupInfo | None = None
    error: str | None = None
    recovered: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Before the steps


def _create_venv(ctx: Context, step: Step, reporter: Reporter, plan: Plan | None = None) -> str:
    """A new venv at the venv path (which carries the partial marker until it is done), with the
    interpreter the plan names. When the old venv's setuptools comes back from its files (reuse),
    the new venv is not seeded with another one, which the kept set would then replace."""
    python, version = step.params.get("python"), step.params.get("version")
    if not python or not version:  # a plan made without a choice (an older journal)
        old_version, old_interpreter = old_python(ctx)
        chosen = choose_python(
            ctx.install.manifest,
            requested=python,
            old_version=old_version,
            old_interpreter=old_interpreter,
        )
        python, version = chosen.path, chosen.version
    reporter.step(f"creating the venv with Python {version} ({python})")
    venv = ctx.install.venv
    venv.mkdir(parents=True)
    (venv / fsops.PARTIAL_MARKER).write_text("recreate\n")
    pins: list[Any] = next(
        (
            s.params.get("pins", [])
            for s in (plan.steps if plan else ())
            if s.kind == StepKind.INSTALL_REQUIREMENTS
        ),
        [],
    )
    options = RepairOptions.of(ctx.options)
    reused_setuptools = not options.no_reuse and any(
        str(p).lower().startswith("setuptools==") for p in pins
    )
    how = create_venv(
        python,
        venv,
        installer=options.installer or "pip",
        version=version,
        setuptools=not reused_setuptools,
    )
    return f"Python {version} ({how})"


def _preflight(ctx: Context, plan: Plan) -> None:
    """The index preflight, before anything is changed, for the interpreter the rebuild uses."""
    if RepairOptions.of(ctx.options).force or not plan.recreates:
        return
    steps = {s.kind: s.params for s in plan.steps}
    python = steps[StepKind.RECREATE_VENV].get("python") or (
        ctx.layout.python if ctx.venv_exists else None
    )
    if python is None:
        return
    work = steps.get(StepKind.INSTALL_REQUIREMENTS, {})
    reqs = ctx.app_requirements
    wanted: list[Any] = list(reqs.for_index())
    wanted += [p for p in work.get("pins", []) if " @ " not in p and not p.startswith("-e ")]
    wanted += [m["requirement"] for m in work.get("moves", []) if m.get("requirement")]
    hint = (
        "nothing was changed"
        if work.get("fresh") or not work.get("pins")
        else "nothing was changed; --fresh leaves the old versions behind and resolves anew"
    )
    preflight(
        wanted,
        python,
        ctx.options.index,
        torch=steps.get(StepKind.INSTALL_TORCH),
        reporter=ctx.reporter,
        requirement_options=reqs.options,
        venv=ctx.venv if ctx.venv_exists else None,
        hint=hint,
    )


# ---------------------------------------------------------------------------------------------
# The pipeline


def _report(ctx: Context) -> Report:
    return check(ctx)


def _fresh(ctx: Context, plan: Plan | None = None) -> Context:
    """A new context on the same install: the venv's facts are read again; with ``plan``, what
    the plan cannot have changed is taken over from ``ctx`` rather than probed again: the
    machine's GPU backend (its probe runs nvidia-smi and the like) and the application's
    requirements files (not after a reclone)."""
    new = Context(ctx.install, ctx.options, reporter=ctx.reporter)
    if plan is not None:
        if ctx.computed("machine_backend"):
            new.machine_backend = ctx.machine_backend
        if ctx.computed("app_requirements") and not any(
            s.kind == StepKind.RECLONE for s in plan.steps
        ):
            new.app_requirements = ctx.app_requirements
    return new


def _exit_for(report: Report) -> int:
    if report.summary.errors:
        return ExitCode.PROBLEMS
    if report.restart_required:
        return ExitCode.RESTART
    return ExitCode.OK


def _decorate(
    report: Report,
    plan: Plan,
    steps: list[StepResult],
    backup: BackupInfo | None,
    extra: dict[str, Any] | None = None,
) -> Report:
    report.extra["plan"] = plan.to_json()
    report.extra["steps"] = [s.to_json() for s in steps]
    report.extra["backup"] = backup.id if backup else None
    if backup is not None:
        report.extra["backup_path"] = str(backup.path)
    if extra:
        report.extra.update(extra)
    return report


def repair_install(ctx: Context, confirm: Callable[[Plan], bool] | None = None) -> PipelineResult:
    """Check, plan, back up, act, verify; roll back on any failure or Ctrl-C, under the
    pipeline's options of ``ctx`` (``RepairOptions``).

    Returns a result whose ``exit_code`` follows the contract (0, 1, 3, 4, 5). Raises
    ``BusyError`` (6) when another repair holds the lock or the application runs on the venv and
    the plan replaces files, ``UsageError`` (2) for unusable input; nothing is changed then.
    """
    dry_run = RepairOptions.of(ctx.options).dry_run
    reporter = ctx.reporter
    install = ctx.install
    if os.path.lexists(install.venv) and install.layout != "no-venv":
        # Before anything else: the venv must be one the tool may replace (not the tool's own
        # venv, not the app folder, not a folder that is not a venv, not a link). A launcher
        # that runs the user's own Python (SKIP_VENV=1) gets a plan that changes nothing.
        fsops.check_venv_target(install.venv, install.dir)
    lock = contextlib.nullcontext() if dry_run else install_lock(install)
    with lock:
        recovered = [] if dry_run else recover(install, reporter)
        if recovered:
            ctx = _fresh(ctx)
        reporter.step(f"checking {install.dir}")
        before = _report(ctx)
        plan = make_plan(ctx, before.findings)
        extra = {"recovered": recovered} if recovered else {}
        if dry_run or plan.empty:
            report = _decorate(before, plan, [], None, extra)
            code = ExitCode.PROBLEMS if (dry_run and not plan.empty) else _exit_for(before)
            return PipelineResult(report, code, plan, recovered=recovered)
        if ctx.venv_exists and ctx.layout.is_foreign:
            kind = "Windows" if ctx.layout.kind == "windows" else "Linux/macOS"
            raise UsageError(
                f"{ctx.venv} is a {kind} venv: its python cannot run on this machine",
                hint="run repair on the machine the web UI runs on; 'repair check' works here",
            )
        if ctx.venv_exists and (plan.replaces_files or os.name == "nt"):
            running = processes_using(install.venv)
            if running:
                names = ", ".join(p.describe() for p in running[:5])
                raise BusyError(
                    f"the application is running on this venv: {names}",
                    hint="stop the web UI, then run repair again",
                )
        _preflight(ctx, plan)
        if confirm is not None and not confirm(plan):
            raise UsageError("cancelled: nothing was changed")
        if not plan.recreates:
            return _execute(ctx, before, plan, recovered)
        entries = set(os.listdir(install.dir))
        result = _execute(ctx, before, plan, recovered)
        result.report.extra["written_outside_venv"] = app_folder_written(install, entries, reporter)
        return result


def _check_room(ctx: Context) -> None:
    """A rebuild needs about the old venv's size again (its files are not linked): checked
    before anything is changed (exit 1 when the disk is too full)."""
    venv = ctx.install.venv
    if not os.path.isdir(venv):
        return
    _files, size = fsops.tree_size(venv)
    free = fsops.free_space(venv.parent)
    need = size + (64 << 20)
    if free < need:
        raise PreflightError(
            f"not enough free space to rebuild the venv: about {need // (1 << 20)} MB needed, "
            f"{free // (1 << 20)} MB free on {venv.parent}",
            hint="nothing was changed; free some space and run repair again",
        )


def _execute(ctx: Context, before: Report, plan: Plan, recovered: list[str]) -> PipelineResult:
    install = ctx.install
    reporter = ctx.reporter
    venv = install.venv
    results = [StepResult(s.kind, s.summary) for s in plan.steps]
    journal_box: list[Journal] = []
    extra = {"recovered": recovered} if recovered else {}

    def on_ready(info: BackupInfo, dest: Path) -> None:
        journal = Journal(
            info.path / JOURNAL,
            {
                "schema": "repair.journal/1",
                "pid": os.getpid(),
                "started": time.time(),
                "venv": str(venv),
                "venv_backup": str(dest),
                "moved": False,
                "created": False,
                "old_fp": fingerprint(venv),
                "new_fp": None,
                "child_pgid": None,
                "token": new_token(),
                "state": "backing-up",
                "plan": plan.to_json(),
                "steps": [{"kind": s.kind, "status": "pending"} for s in plan.steps],
            },
        )
        journal.set()
        journal_box.append(journal)
        crash_point("journal")

    if plan.recreates:
        _check_room(ctx)
    reporter.step("backing up")
    backup = create_backup(
        ctx, move_venv=True, reporter=reporter, reason="before repair", on_ready=on_ready
    )
    journal = journal_box[0]
    try:
        journal.set(moved=backup.kind == "moved", state="running")
        crash_point("moved")
        if plan.recreates:
            step = next(s for s in plan.steps if s.kind == StepKind.RECREATE_VENV)
            started = time.monotonic()
            idx = plan.steps.index(step)
            journal.set(created=True)
            results[idx].detail = _create_venv(ctx, step, reporter, plan)
            mark(venv, journal.data["token"])
            journal.set(new_fp=fingerprint(venv))
            results[idx].status = "done"
            results[idx].duration_ms = int((time.monotonic() - started) * 1000)
            journal.step(idx, "done")
        elif backup.venv_path is not None and backup.kind == "moved":
            reporter.step("working on a hard-link copy of the venv (the backup stays untouched)")
            journal.set(created=True)
            venv.mkdir()
            mark(venv, journal.data["token"])
            journal.set(new_fp=fingerprint(venv))
            fsops.link_clone(backup.venv_path, venv)
            journal.set(new_fp=fingerprint(venv))  # with its pyvenv.cfg
        crash_point("venv-ready")
        work = _fresh(ctx, plan)
        for idx, step in enumerate(plan.steps):
            if results[idx].status == "done":
                continue
            crash_point(f"step:{step.kind}")
            journal.step(idx, "running")
            started = time.monotonic()
            try:
                results[idx].detail = run_step(step, work, journal)
            except BaseException:
                results[idx].status = "failed"
                results[idx].duration_ms = int((time.monotonic() - started) * 1000)
                raise
            results[idx].status = "done"
            results[idx].duration_ms = int((time.monotonic() - started) * 1000)
            journal.step(idx, "done")
            crash_point(f"after:{step.kind}")
        journal.set(state="verifying", durable=False)
        crash_point("verify")
        reporter.step("verifying")
        _verify_set(journal, venv)
        after = _report(_fresh(ctx, plan))
        was = {(f.id, f.subject) for f in before.findings}
        new = [
            f
            for f in after.findings
            if f.severity is Severity.ERROR and (f.id, f.subject) not in was
        ]
        if new:
            raise _VerifyFailed("; ".join(f"{f.id}: {f.message}" for f in new[:3]))
        journal.set(state="verified", durable=False)
        crash_point("verified")
        commit(journal, install)
        crash_point("committed")
    except BaseException as exc:
        reason = "interrupted" if isinstance(exc, KeyboardInterrupt) else _describe(exc)
        for r in results:
            if r.status in ("pending", "running"):
                r.status = "skipped"
        if isinstance(exc, KeyboardInterrupt):
            # Say what happens now: a second Ctrl-C mid-rollback is what loses a venv.
            reporter.warn(
                "interrupted: rolling back, so that the venv is as it was before; "
                "this takes a moment, let it finish"
            )
        else:
            reporter.warn(f"the repair failed ({reason}); rolling back")
        try:
            rollback(journal, install, reporter)
        except Exception as exc2:  # noqa: BLE001 - reported as exit 5 with the backup's place
            message = (
                f"the repair failed ({reason}) and so did the rollback ({_describe(exc2)}); "
                f"the old venv is kept in {journal.data.get('venv_backup')} (backup "
                f"{backup.id}): move it back to {venv} by hand, or run repair again"
            )
            with contextlib.suppress(OSError):
                journal.set(state="rollback-failed")
            report = _decorate(before, plan, results, backup, {**extra, "error": message})
            return PipelineResult(
                report, ExitCode.ROLLBACK_FAILED, plan, results, backup, message, recovered
            )
        message = f"the repair failed ({reason}); the venv was rolled back to how it was"
        report = _decorate(
            _report(_fresh(ctx, plan)), plan, results, backup, {**extra, "error": message}
        )
        return PipelineResult(
            report, ExitCode.ROLLED_BACK, plan, results, backup, message, recovered
        )
    write_meta(backup, durable=False, venv_origin=str(venv), repaired=True)
    unfixed = unfixed_errors(before, after, plan)
    done: dict[str, Any] = dict(extra)
    if unfixed:
        done["unfixed"] = [{"id": f.id, "subject": f.subject} for f in unfixed]
    report = _decorate(after, plan, results, backup, done)
    remain = None
    if unfixed:
        shown = ", ".join(f"{f.id} ({f.subject})" for f in unfixed[:5])
        remain = (
            f"the repair ran but {len(unfixed)} of the errors it set out to fix remain: {shown}"
        )
    return PipelineResult(report, _exit_for(after), plan, results, backup, remain, recovered)


def unfixed_errors(before: Report, after: Report, plan: Plan) -> list[Finding]:
    """The errors of ``before`` that the plan was to fix and that ``after`` still has: a repair
    that ends with them is not a success, whatever it did."""
    if plan.empty:
        return []
    left = {(f.id, f.subject) for f in plan.unresolved}
    was = {
        (f.id, f.subject)
        for f in before.findings
        if f.severity is Severity.ERROR and (f.id, f.subject) not in left
    }
    return [f for f in after.findings if f.severity is Severity.ERROR and (f.id, f.subject) in was]


class _VerifyFailed(Exception):
    pass


class _NotAsPlanned(_VerifyFailed):
    pass


def _verify_set(journal: Journal, venv: Path) -> None:
    """A rebuild must give the working set it planned: every planned distribution at its
    version (``repair.rebuild.verify.verify_set``)."""
    planned = planned_set(journal)
    if planned is None:
        return
    torch: dict[str, Any] = next(
        (
            s.get("params", {})
            for s in journal.data.get("plan", [])
            if s.get("kind") == StepKind.INSTALL_TORCH
        ),
        {},
    )
    problems = verify_set(
        venv, planned.get("expect", {}), planned.get("moves", []), torch.get("requirements", [])
    )
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise _NotAsPlanned("; ".join(problems[:5]) + more)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, _NotAsPlanned):
        return f"the new venv is not as planned: {exc}"
    if isinstance(exc, _VerifyFailed):
        return f"the check after it found new problems: {exc}"
    if isinstance(exc, RepairError):
        return exc.message
    return f"{type(exc).__name__}: {exc}"
