"""``repair`` with no command: the repair pipeline on one install (check, plan the smallest fix,
ask, back up, act, verify; ``transaction.pipeline``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from repair.app.target import resolve_selection
from repair.context import Context
from repair.errors import UsageError
from repair.transaction.pipeline import repair_install

if TYPE_CHECKING:
    from repair.model import Plan
    from repair.options import RepairOptions
    from repair.progress import Reporter
    from repair.selection import InstallSelection
    from repair.transaction.pipeline import PipelineResult


def repair(
    where: InstallSelection,
    options: RepairOptions,
    reporter: Reporter,
    confirm: Callable[[Plan], bool],
    *,
    interactive: Callable[[], bool],
) -> PipelineResult:
    """Repair the install at ``where``. ``confirm`` sees the plan before anything changes
    (``--yes`` answers it); ``interactive()``: someone is at a terminal to answer. Without
    either (a script or a schedule), ``UsageError``."""
    install = resolve_selection(where)
    context = Context(install, options, reporter=reporter)
    if not (options.yes or options.dry_run) and not interactive():
        # No one can answer a prompt: a script or a schedule says so with --yes.
        raise UsageError(
            "repair changes the venv and needs a yes: run it at a terminal, "
            "or pass --yes (or --dry-run to only see the plan)"
        )

    def ask(plan: Plan) -> bool:
        return options.yes or confirm(plan)

    return repair_install(context, confirm=ask)
