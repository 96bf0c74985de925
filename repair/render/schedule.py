"""``repair schedule`` as text: the files and commands of a plan (``--dry-run``), a job's status
and its last runs, and what a scheduled run found new since the one before."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from repair.commands.schedule import SchedulePlan


def schedule_plan_text(plan: SchedulePlan) -> str:
    """The files to write (or delete) with their text, the crontab line, the commands."""
    lines = []
    for path, text in plan.files.items():
        lines.append(f"# {'delete' if text is None else 'write'} {path}")
        if text:
            lines.append(text.rstrip())
    if plan.crontab is not None:
        lines.append(f"# crontab line\n{plan.crontab}")
    for command in plan.commands:
        lines.append("$ " + " ".join(command))
    return "\n".join(lines) + "\n" if lines else ""


def schedule_status_text(name: str, scheduler: str | None, info: dict[str, Any]) -> str:
    """``repair schedule status``: whether the job is scheduled, its history file, its last
    runs."""
    lines = [
        f"{name}: {'scheduled' if info['installed'] else 'not scheduled'} "
        f"({scheduler or 'no scheduler found'})"
    ]
    lines.append(f"history: {info['history']}")
    for entry in info["last_runs"]:
        s = entry.get("summary", {})
        lines.append(
            f"  {entry.get('time')}  exit {entry.get('exit')}  {s.get('errors', 0)} "
            f"error(s), {s.get('warnings', 0)} warning(s)"
        )
    return "\n".join(lines) + "\n"


def history_text(change: dict[str, Any]) -> str:
    """What the scheduled run found new and resolved since the run before."""
    if change["previous"] is None:
        return f"First scheduled run; history in {change['file']}\n"
    lines = [f"Since the last run ({change['previous']}):"]
    lines += [f"  new       {k}" for k in change["new"]] or ["  nothing new"]
    lines += [f"  resolved  {k}" for k in change["resolved"]]
    return "\n".join(lines) + "\n"
