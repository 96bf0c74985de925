"""``repair`` with no command: the repair pipeline."""

from __future__ import annotations

import sys
from typing import Any

import click

from repair.cli.common import echo_json, use_color
from repair.errors import UsageError


def run_pipeline(ctx: click.Context, options: dict[str, Any]) -> None:
    from repair.app.target import resolve
    from repair.context import Context
    from repair.model import Plan
    from repair.progress import StreamReporter
    from repair.render import plan_text, report_text, terminal_width
    from repair.transaction.pipeline import repair_install

    as_json = bool(options.get("json"))
    install = resolve(options.get("dir"), options.get("venv"), options.get("manifest"))
    reporter = StreamReporter(quiet=as_json)
    context = Context(install, options, reporter=reporter)

    if not (options.get("yes") or options.get("dry_run")) and not sys.stdin.isatty():
        # No one can answer a prompt: a script or a schedule says so with --yes.
        raise UsageError("repair changes the venv and needs a yes: run it at a terminal, "
                         "or pass --yes (or --dry-run to only see the plan)")

    def confirm(plan: Plan) -> bool:
        if options.get("yes"):
            return True
        click.echo(plan_text(plan), err=True, nl=False)
        if click.confirm("Go ahead? (the venv is backed up first)", default=True, err=True):
            return True
        raise _Declined

    try:
        result = repair_install(context, options, reporter, confirm=confirm)
    except _Declined:
        # A "no" is an answer, not an error: the lock is released, nothing was touched.
        click.echo("Nothing was changed.", err=True)
        sys.exit(0)
    if as_json:
        echo_json(result.report.to_json())
    else:
        color = use_color()
        width = terminal_width()
        if options.get("dry_run"):
            click.echo(report_text(result.report, color=color, hint=None, width=width), nl=False)
            click.echo()
            click.echo(plan_text(result.plan), nl=False)
            if not result.plan.empty:
                click.echo("Nothing was changed (--dry-run). Run 'repair' to carry out this plan.")
        else:
            click.echo(plan_text(result.plan) if result.plan.empty else _steps_text(result, width),
                       nl=False)
            if result.plan.empty or result.exit_code not in (4, 5):
                click.echo()
                click.echo(report_text(result.report, color=color, hint=None, width=width),
                           nl=False)
            if result.backup is not None:
                click.echo(f"Backup: {result.backup.id} ({result.backup.path})")
    if result.error:
        click.echo(f"repair: error: {result.error}", err=True)
    sys.exit(result.exit_code)


class _Declined(Exception):
    """The person at the prompt said no."""


def _steps_text(result: Any, width: int = 0) -> str:
    """Each step with its status, wrapped at ``width`` (0: not wrapped)."""
    from repair.render import wrap

    lines = ["Steps:"]
    for step in result.steps:
        text = step.summary + (f" ({step.detail})" if step.detail else "")
        lines += wrap(text, width, f"  [{step.status}] ", "    ")
    return "\n".join(lines) + "\n"
