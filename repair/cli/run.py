"""``repair`` with no command: the repair pipeline."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from repair.cli.common import echo_json, use_color

if TYPE_CHECKING:
    from repair.model import Plan


def run_pipeline(ctx: click.Context, options: dict[str, Any]) -> None:
    from repair.commands.repair import repair
    from repair.progress import StreamReporter
    from repair.render.plan import plan_text, repair_text
    from repair.render.report import terminal_width

    as_json = bool(options.get("json"))

    def confirm(plan: Plan) -> bool:
        click.echo(plan_text(plan), err=True, nl=False)
        if click.confirm("Go ahead? (the venv is backed up first)", default=True, err=True):
            return True
        raise _Declined

    try:
        result = repair(options, StreamReporter(quiet=as_json), confirm,
                        interactive=lambda: sys.stdin.isatty())
    except _Declined:
        # A "no" is an answer, not an error: the lock is released, nothing was touched.
        click.echo("Nothing was changed.", err=True)
        sys.exit(0)
    if as_json:
        echo_json(result.report.to_json())
    else:
        click.echo(repair_text(result, dry_run=bool(options.get("dry_run")), color=use_color(),
                               width=terminal_width()), nl=False)
    if result.error:
        click.echo(f"repair: error: {result.error}", err=True)
    sys.exit(result.exit_code)


class _Declined(Exception):
    """The person at the prompt said no."""
