"""``repair demo``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from repair.cli.common import use_color


@click.command("demo")
@click.option("--keep", is_flag=True, help="Keep the demo's folder afterwards (its path is shown).")
@click.option("--where", type=click.Path(file_okay=False, exists=True, path_type=Path),
              default=None, help="Make the demo's folder inside this one (default: the temp dir).")
@click.option("--no-repair", is_flag=True, help="Only build and check; do not repair.")
def demo(keep: bool, where: Path | None, no_repair: bool) -> None:
    """Build a throwaway broken web UI install offline, then check and repair it, narrating.

    Touches nothing but its own temporary folder.
    """
    from repair.commands.demo import run_demo
    from repair.progress import StreamReporter
    from repair.render import report_text

    reporter = StreamReporter(sys.stdout)
    result = run_demo(reporter, where=where, keep=keep, repair=not no_repair)
    color = use_color()
    click.echo()
    click.echo(report_text(result.before, color=color), nl=False)
    if result.after is not None:
        click.echo()
        click.echo("After the repair:")
        click.echo(report_text(result.after, color=color), nl=False)
    if keep:
        click.echo(f"\nThe demo install is kept in {result.root / 'webui'}")
    click.echo("\nTry it on your own web UI: repair check --dir PATH")
