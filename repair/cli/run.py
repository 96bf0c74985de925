"""``repair`` with no command: the repair pipeline."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from repair.cli.common import echo_json, index_of, use_color
from repair.options import RepairOptions

if TYPE_CHECKING:
    from repair.model import Plan
    from repair.options import InstallSelection


def repair_options(params: dict[str, Any]) -> RepairOptions:
    """The repair pipeline's options from the group's parameters (``pipeline_options``)."""
    return RepairOptions(
        backend=params["backend"], index=index_of(params), verify_files=params["verify_files"],
        dry_run=params["dry_run"], yes=params["yes"], force=params["force"],
        clean_venv=params["clean_venv"], no_reuse=params["no_reuse"], fresh=params["fresh"],
        reinstall=params["reinstall"], reclone=params["reclone"], ref=params["ref"],
        repo_url=params["repo_url"], python=params["python"], installer=params["installer"])


def run_pipeline(where: InstallSelection, params: dict[str, Any]) -> None:
    from repair.commands.repair import repair
    from repair.progress import StreamReporter
    from repair.render import plan_text, report_text, steps_text, terminal_width

    as_json = bool(params["json"])
    options = repair_options(params)

    def confirm(plan: Plan) -> bool:
        click.echo(plan_text(plan), err=True, nl=False)
        if click.confirm("Go ahead? (the venv is backed up first)", default=True, err=True):
            return True
        raise _Declined

    try:
        result = repair(where, options, StreamReporter(quiet=as_json), confirm,
                        interactive=lambda: sys.stdin.isatty())
    except _Declined:
        # A "no" is an answer, not an error: the lock is released, nothing was touched.
        click.echo("Nothing was changed.", err=True)
        sys.exit(0)
    if as_json:
        echo_json(result.report.to_json())
    else:
        color = use_color()
        width = terminal_width()
        if options.dry_run:
            click.echo(report_text(result.report, color=color, hint=None, width=width), nl=False)
            click.echo()
            click.echo(plan_text(result.plan), nl=False)
            if not result.plan.empty:
                click.echo("Nothing was changed (--dry-run). Run 'repair' to carry out this plan.")
        else:
            click.echo(plan_text(result.plan) if result.plan.empty else steps_text(result, width),
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
