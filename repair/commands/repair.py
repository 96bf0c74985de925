"""``repair`` with no command: the repair pipeline on one install (check, plan the smallest fix,
ask, back up, act, verify; ``transaction.pipeline``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from repair.app.target import resolve
from repair.context import Context
from repair.errors import UsageError
from repair.transaction.pipeline import repair_install

if TYPE_CHECKING:
    from repair.model import Plan
    from repair.progress import Reporter
    from repair.transaction.pipeline import PipelineResult


def repair(options: dict[str, Any], reporter: Reporter, confirm: Callable[[Plan], bool], *,
           interactive: Callable[[], bool]) -> PipelineResult:
    """Repair the install that ``options`` name (``dir``, ``venv``, ``manifest``). ``confirm``
    sees the plan before anything changes (``--yes`` answers it); ``interactive()``: someone
    is at a terminal to answer. Without either (a script or a schedule), ``UsageError``."""
    install = resolve(options.get("dir"), options.get("venv"), options.get("manifest"))
    context = Context(install, options, reporter=reporter)
    if not (options.get("yes") or options.get("dry_run")) and not interactive():
        # No one can answer a prompt: a script or a schedule says so with --yes.
        raise UsageError("repair changes the venv and needs a yes: run it at a terminal, "
                         "or pass --yes (or --dry-run to only see the plan)")

    def ask(plan: Plan) -> bool:
        return bool(options.get("yes")) or confirm(plan)

    return repair_install(context, options, reporter, confirm=ask)
