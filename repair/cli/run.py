"""``repair`` with no command: the repair pipeline."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from repair.cli.common import echo_json, index_of, use_color
from repair.commands.repair import repair
from repair.options import RepairOptions
from repair.progress import StreamReporter
from repair.render.plan import plan_text, repair_text
from repair.render.report import terminal_width

if TYPE_CHECKING:
    from repair.model import Plan
    from repair.selection import InstallSelection


def repair_options(params: dict[str, Any]) -> RepairOptions:
    """The repair pipeline's options from the group's parameters (``pipeline_options``)."""
    return RepairOptions(
        backend=params["backend"],
        index=index_of(params),
        verify_files=params["verify_files"],
        dry_run=params["dry_run"],
        yes=params["yes"],
        force=params["force"],
        clean_venv=params["clean_venv"],
        no_reuse=params["no_reuse"],
        fresh=params["fresh"],
        reinstall=params["reinstall"],
        reclone=params["reclone"],
        ref=params["ref"],
        repo_url=params["repo_url"],
        python=params["python"],
        installer=params["installer"],
    )


def run_pipeline(where: InstallSelection, params: dict[str, Any]) -> None:

    as_json = bool(params["json"])
    options = repair_options(params)

    def confirm(plan: Plan) -> bool:
        click.echo(plan_text(plan), err=True, nl=False)
        if click.confirm("Go ahead? (the venv is backed up first)", default=True, err=True):
            return True
        raise _Declined

    try:
        result = repair(
            where,
            options,
            StreamReporter(quiet=as_json),
            confirm,
            interactive=lambda: sys.stdin.isatty(),
        )
    except _Declined:
        # A "no" is an answer, not an error: the lock is released, nothing was touched.
        click.echo("Nothing was changed.", err=True)
        sys.exit(0)
    if as_json:
        echo_json(result.report.to_json())
    else:
        click.echo(
            repair_text(result, dry_run=options.dry_run, color=use_color(), width=terminal_width()),
            nl=False,
        )
    if result.error:
        click.echo(f"repair: error: {result.error}", err=True)
    sys.exit(result.exit_code)


class _Declined(Exception):
    """The person at the prompt said no."""
