"""``repair install APP --dir PATH``: from nothing to a verified install, idempotent and resumable.

Steps, in order: ``clone`` (the app at the manifest's URL or ``--repo-url``, at ``--ref``),
``extensions`` (only from a snapshot), ``python`` (one the app supports), ``venv`` (built under a
hidden temporary name), ``backend`` (detected, or ``--backend``), ``torch`` (from the manifest's
index for the backend), ``requirements`` (then the venv is renamed into place), ``launch-args``
(``COMMANDLINE_ARGS`` in webui-user.sh/.bat), ``verify`` (``check --deep``).

Each finished step is recorded in the install's record (``provision.plan.InstallState``, a journal)
with the inputs it finished with. A second run skips what is done; a run killed halfway goes on
where it stopped; a failed run removes the half-built venv (and a half-made clone), so nothing is
left that the web UI or a later run would take for an install.

The plan is ``provision.plan``, the git part ``provision.git``, the other steps ``provision.steps``.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from repair import __version__, fsops, proc
from repair.errors import BusyError, PreflightError, RepairError, RolledBackError, UsageError
from repair.progress import Reporter
from repair.provision.plan import (
    VENV_STEPS,
    InstallPlan,
    InstallRequest,
    InstallStepResult,
    all_steps,
    launch_args_for,
    partial_path,
    plan_install,
)
from repair.provision.steps import InstallRunner, Unhealthy
from repair.transaction.journal import locked


@dataclass
class InstallResult:
    plan: InstallPlan
    steps: list[InstallStepResult]
    backend: str | None = None
    python: dict[str, Any] = field(default_factory=dict)
    launch_args: list[str] = field(default_factory=list)
    changed_files: list[str] = field(default_factory=list)
    report: Any = None  # repair.model.Report of the verify step
    duration_ms: int = 0

    @property
    def already_installed(self) -> bool:
        return self.plan.finished

    @property
    def healthy(self) -> bool:
        return self.report is None or bool(self.report.summary.healthy)

    def to_json(self) -> dict[str, Any]:
        plan = self.plan
        return {
            "schema": "repair.install/1",
            "tool": {"name": "webui-repair", "version": __version__},
            "app": plan.manifest.name,
            "dir": str(plan.request.dir),
            "venv": str(plan.venv),
            "repository": {"url": proc.redact(plan.repo_url), "ref": plan.ref},
            "backend": self.backend,
            "python": self.python,
            "launch_args": self.launch_args,
            "already_installed": self.already_installed,
            "steps": [s.to_json() for s in self.steps],
            "notes": list(plan.notes),
            "not_reproduced": list(plan.not_reproduced),
            "log": str(plan.request.log_path) if plan.request.log_path else None,
            "report": self.report.to_json() if self.report is not None else None,
            "healthy": self.healthy,
            "duration_ms": self.duration_ms,
        }


def install(
    request: InstallRequest,
    reporter: Reporter,
    confirm: Callable[[InstallPlan], bool] | None = None,
) -> InstallResult:
    """``repair install``: plan (``plan_install``: bad input raises before anything changes),
    then do the plan (``run_install``)."""
    return run_install(plan_install(request, reporter), reporter, confirm)


def default_log_path() -> Path:
    # lazy: start-up time
    from platformdirs import user_log_dir

    folder = Path(user_log_dir("webui-repair", appauthor=False))
    return folder / f"install-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"


def run_install(
    plan: InstallPlan, reporter: Reporter, confirm: Callable[[InstallPlan], bool] | None = None
) -> InstallResult:
    """Do the plan. Asks ``confirm`` once (when given) before changing anything.

    Raises ``UsageError`` (bad input, exit 2), ``BusyError`` (another install runs, 6) and
    ``RolledBackError`` (a step failed; the half-built venv or clone was removed, 4)."""
    started = time.monotonic()
    if plan.finished:
        reporter.step(f"{plan.request.dir} is already installed; nothing to do")
        result = InstallResult(
            plan, [InstallStepResult(s, "skipped", 0.0, "already done") for s in all_steps(plan)]
        )
        result.backend = plan.state.facts.get("backend")
        result.python = dict(plan.state.facts.get("python") or {})
        result.launch_args = launch_args_for(plan.manifest, result.backend)
        result.duration_ms = int((time.monotonic() - started) * 1000)
        return result
    if confirm is not None and not confirm(plan):
        raise UsageError("nothing was changed (the plan was not confirmed)")
    if plan.request.log_path is None:
        plan = _with_log(plan, default_log_path())
    runner = InstallRunner(plan, reporter, confirm)
    with _lock(plan.request.dir, plan.venv):
        try:
            runner.run()
        except Unhealthy as exc:
            reporter.warn(str(exc))
        except RepairError as exc:
            raise _failed(runner, exc) from exc
        except OSError as exc:
            raise _failed(runner, RepairError(f"{type(exc).__name__}: {exc}")) from exc
    result = InstallResult(
        plan,
        runner.results,
        runner.backend,
        runner.python,
        runner.launch,
        runner.changed,
        runner.report,
    )
    result.duration_ms = int((time.monotonic() - started) * 1000)
    return result


def _with_log(plan: InstallPlan, log: Path) -> InstallPlan:

    plan.request = replace(plan.request, log_path=log)
    return plan


def _failed(runner: InstallRunner, exc: RepairError) -> RepairError:
    """Clean up after a failed step: no half-built venv or clone stays behind."""
    if isinstance(exc, UsageError | BusyError | PreflightError):
        _cleanup(runner)
        return exc
    failed = next((r.name for r in reversed(runner.results) if r.status == "failed"), "?")
    removed = _cleanup(runner)
    kept = ""
    if (runner.req.dir / ".git").exists():
        kept = f"; the checkout {runner.req.dir} is kept, and the next run goes on from there"
    message = (
        f"install failed at step '{failed}': {exc.message}"
        + (f"; removed the half-built {', '.join(removed)}" if removed else "")
        + kept
    )
    log = runner.req.log_path
    hint = exc.hint or (f"the log is {log}" if log is not None and log.exists() else None)
    return RolledBackError(message, hint=hint)


def _cleanup(runner: InstallRunner) -> list[str]:
    removed = []
    building = runner.building
    if building.exists():
        fsops.remove_own_folder(building, marker=".partial")
        removed.append(f"venv ({building.name})")
        if runner.state.path is not None:
            runner.state.forget(*VENV_STEPS)
    temp = partial_path(runner.req.dir, "partial-clone")
    if temp.exists():
        fsops.remove_own_folder(temp, marker=".partial-clone")
        removed.append("clone")
    return removed


@contextlib.contextmanager
def _lock(root: Path, venv: Path) -> Iterator[None]:
    """The application's and the venv's locks, the ones ``repair`` takes too (exit 6)."""
    with locked(root, venv):
        yield
