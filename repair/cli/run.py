"""``repair`` with no command: the repair pipeline."""

from __future__ import annotations

import sys
from typing import Any

import click

from repair.cli.common import echo_json, use_color


def run_pipeline(ctx: click.Context, options: dict[str, Any]) -> None:
    from repair.context import Context
    from repair.install import resolve
    from repair.pipeline import repair_install
    from repair.planner import Plan
    from repair.progress import StreamReporter
    from repair.render import report_text

    as_json = bool(options.get("json"))
    install = resolve(options.get("dir"), options.get("venv"), options.get("manifest"))
    reporter = StreamReporter(quiet=as_json)
    context = Context(install, options, reporter=reporter)

    def confirm(plan: Plan) -> bool:
        # Only a person at a terminal is asked; scripts and schedules pass --yes (or no tty).
        if options.get("yes") or as_json or not sys.stdin.isatty():
            return True
        click.echo(plan.text(), err=True, nl=False)
        return click.confirm("Go ahead? (the venv is backed up first)", default=True, err=True)

    result = repair_install(context, options, reporter, confirm=confirm)
    if as_json:
        echo_json(result.report.to_json())
    else:
        click.echo(result.plan.text() if options.get("dry_run") or result.plan.empty
                   else _steps_text(result), nl=False)
        if result.plan.empty or options.get("dry_run") or result.exit_code not in (4, 5):
            click.echo(report_text(result.report, color=use_color()), nl=False)
        if result.backup is not None:
            click.echo(f"Backup: {result.backup.id} ({result.backup.path})")
    if result.error:
        click.echo(f"repair: error: {result.error}", err=True)
    sys.exit(result.exit_code)


def _steps_text(result: Any) -> str:
    lines = ["Steps:"]
    for step in result.steps:
        lines.append(f"  [{step.status}] {step.summary}"
                     + (f" ({step.detail})" if step.detail else ""))
    return "\n".join(lines) + "\n"
