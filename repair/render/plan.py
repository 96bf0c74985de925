"""The repair as text: its plan (what ``--dry-run`` and the prompt show, each move of a package
on its own line), its steps with their status, what ``repair`` shows when it is done, and the
reclone's result."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from repair.proc import redact
from repair.render.report import report_text, wrap

if TYPE_CHECKING:
    from repair.model import Plan
    from repair.rebuild.reclone import RecloneResult
    from repair.transaction.pipeline import PipelineResult


def move_text(move: Mapping[str, Any]) -> str:
    """One line of the plan: what moves, from which version to which, and why."""
    return f"{move['name']} {move.get('from') or '(not installed)'} -> {move['to']} ({move['why']})"


def plan_text(plan: Plan) -> str:
    """The plan as ``--dry-run`` and the prompt show it, credentials in URLs redacted."""
    lines = ["Nothing to do."] if plan.empty else ["Plan:"]
    for n, step in enumerate(plan.steps, 1):
        lines.append(f"  {n}. {step.summary}")
        lines += [f"     - {move_text(m)}" for m in step.params.get("moves", [])]
    if plan.unresolved:
        lines.append("Not fixed automatically:")
        for f in plan.unresolved:
            lines.append(f"  - {f.id}: {f.message}")
            lines.append(f"    what to do: {f.remedy}")
    return redact("\n".join(lines) + "\n")


def steps_text(result: PipelineResult, width: int = 0) -> str:
    """The steps of a repair, each with its status, wrapped at ``width`` (0: not wrapped)."""
    lines = ["Steps:"]
    for step in result.steps:
        text = step.summary + (f" ({step.detail})" if step.detail else "")
        lines += wrap(text, width, f"  [{step.status}] ", "    ")
    return "\n".join(lines) + "\n"


def repair_text(
    result: PipelineResult, *, dry_run: bool, color: bool = False, width: int = 0
) -> str:
    """What ``repair`` shows when it is done: with ``--dry-run`` the report and the plan; else
    the steps (the plan when it is empty), the report after them unless the repair was rolled
    back or the rollback failed (exit 4, 5), and the backup."""
    if dry_run:
        text = report_text(result.report, color=color, hint=None, width=width) + "\n"
        text += plan_text(result.plan)
        if not result.plan.empty:
            text += "Nothing was changed (--dry-run). Run 'repair' to carry out this plan.\n"
        return text
    text = plan_text(result.plan) if result.plan.empty else steps_text(result, width)
    if result.plan.empty or result.exit_code not in (4, 5):
        text += "\n" + report_text(result.report, color=color, hint=None, width=width)
    if result.backup is not None:
        text += f"Backup: {result.backup.id} ({result.backup.path})\n"
    return text


def reclone_text(result: RecloneResult) -> str:
    """``python -m repair.cli.reclone``: where the new checkout is and where the old one went."""
    lines = [f"recloned {result.dir} at {result.commit[:12]}; the old checkout is at {result.old}"]
    lines += [f"note: {note}" for note in result.notes]
    return "\n".join(lines) + "\n"
