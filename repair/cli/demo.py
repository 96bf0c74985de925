"""``repair demo``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from repair.cli.common import use_color
from repair.commands.demo import run_demo
from repair.model import Report
from repair.progress import StreamReporter
from repair.render.report import report_text, terminal_width


@click.command("demo")
@click.option("--keep", is_flag=True, help="Keep the demo's folder afterwards (its path is shown).")
@click.option(
    "--where",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="Make the demo's folder inside this one (default: the temp dir).",
)
@click.option("--no-repair", is_flag=True, help="Only build and check; do not repair.")
def demo(keep: bool, where: Path | None, no_repair: bool) -> None:
    """Build a throwaway broken web UI install offline, then check and repair it, narrating.

    Touches nothing but its own temporary folder.
    """

    reporter = StreamReporter(sys.stdout)
    color = use_color()

    def show(stage: str, report: Report) -> None:
        click.echo()
        if stage == "after":
            click.echo("After the repair:")
        click.echo(report_text(report, color=color, width=terminal_width()), nl=False)
        click.echo()

    result = run_demo(reporter, where=where, keep=keep, repair=not no_repair, on_report=show)
    if keep:
        click.echo(f"\nThe demo install is kept in {result.root / 'webui'}")
    click.echo("\nTry it on your own web UI: repair check --dir PATH")
    if result.after is not None and not result.after.summary.healthy:
        sys.exit(1)  # the repair did not end healthy: a bug worth reporting
