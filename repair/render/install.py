"""``repair install`` as text: the plan the prompt shows, then each step with its status and
time, the notes, and the check's report when it found problems."""

from __future__ import annotations

from typing import TYPE_CHECKING

from repair.proc import redact
from repair.render.report import report_text

if TYPE_CHECKING:
    from repair.commands.install import InstallResult
    from repair.provision.plan import InstallPlan


def install_plan_text(plan: InstallPlan) -> str:
    """The plan the prompt shows: where the app goes, then one line per step."""
    lines = [f"repair install {plan.manifest.name} into {plan.request.dir}:"]
    lines += [f"  {line}" for line in _plan_lines(plan)]
    return "\n".join(lines) + "\n"


def _plan_lines(plan: InstallPlan) -> list[str]:
    """The plan, one line per step (what the prompt shows)."""
    req = plan.request
    what = {
        "clone": f"clone {redact(plan.repo_url)}"
        + (f" at {plan.ref}" if plan.ref else "")
        + f" into {req.dir}",
        "extensions": "clone the snapshot's extensions at their recorded commits",
        "python": "pick a Python the app supports"
        + (f" ({plan.manifest.python_supported})" if plan.manifest.python_supported else "")
        + (f", asked for {req.python}" if req.python else ""),
        "venv": f"create the venv {plan.venv} (built aside, moved into place when complete)",
        "backend": f"GPU backend: {req.backend}"
        if req.backend and req.backend != "auto"
        else "detect the GPU backend",
        "torch": "install torch for the backend from the manifest's index"
        + (" (the snapshot's versions)" if plan.snapshot else ""),
        "requirements": "install the snapshot's exact versions"
        if plan.snapshot
        else "install the app's requirements",
        "launch-args": "write the launch arguments into webui-user.sh/.bat",
        "verify": "verify: repair check --deep",
    }
    return [f"{i}. {what[step]}" for i, step in enumerate(plan.todo, 1)]


def install_text(result: InstallResult) -> str:
    """``repair install``: each step with its status and time, the notes, and the report of the
    check when it found problems."""
    lines = []
    if result.already_installed:
        lines.append(f"Already installed: {result.plan.request.dir} (nothing changed).")
    else:
        lines.append(
            f"Installed {result.plan.manifest.name} in {result.plan.request.dir}"
            + ("" if result.healthy else " (the check found problems)")
        )
        for step in result.steps:
            lines.append(
                f"  {step.name:<13} {step.status:<8} {step.seconds:7.1f}s"
                + (f"  {step.detail}" if step.detail and step.status != "skipped" else "")
            )
        lines.append(f"  total {result.duration_ms / 1000:.1f}s")
    for note in result.plan.notes:
        lines.append(f"note: {note}")
    for item in result.plan.not_reproduced:
        lines.append(f"not reproduced: {item['what']} ({item['why']}); instead: {item['instead']}")
    if result.report is not None and not result.healthy:
        lines.append(report_text(result.report, color=False).rstrip())
    if result.plan.request.log_path:
        lines.append(f"log: {result.plan.request.log_path}")
    return "\n".join(lines) + "\n"
