"""``repair schedule install / remove / status`` (and the hidden ``run`` that a scheduler calls)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from repair.cli.common import echo_json, install_options, merged_install_options, use_color
from repair.commands.schedule import apply, detect, pick_scheduler, plan, scheduled_check, spec_for
from repair.commands.schedule import status as job_status
from repair.progress import StreamReporter
from repair.render.check import check_text
from repair.render.report import terminal_width
from repair.render.schedule import history_text, schedule_plan_text, schedule_status_text

if TYPE_CHECKING:
    from repair.commands.schedule import Spec


def _spec(
    ctx: click.Context, dir: str | None, venv: str | None, manifest: str | None, **kw: Any
) -> Spec:
    return spec_for(merged_install_options(ctx, dir, venv, manifest), **kw)


_SCHEDULER_CHOICE = click.Choice(["auto", "systemd", "cron", "schtasks", "launchd"])


@click.group("schedule")
def schedule() -> None:
    """A recurring health check, or a pre-update check, with the platform's own scheduler
    (systemd user timer, cron, Windows Task Scheduler, launchd)."""


@schedule.command("install")
@install_options
@click.option(
    "--every",
    type=click.Choice(["daily", "weekly"]),
    default="daily",
    show_default=True,
    help="How often.",
)
@click.option(
    "--at",
    "at",
    default="03:30",
    show_default=True,
    metavar="HH:MM",
    help="Time of day (weekly: on Sundays).",
)
@click.option(
    "--pre-update",
    is_flag=True,
    help="Run 'check --pre-update' (fetch upstream, "
    "predict what an update changes, make sure a snapshot exists).",
)
@click.option("--scheduler", type=_SCHEDULER_CHOICE, default="auto", show_default=True)
@click.option("--dry-run", is_flag=True, help="Show the files and commands; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def install(
    ctx: click.Context,
    dir: str | None,
    venv: str | None,
    manifest: str | None,
    every: str,
    at: str,
    pre_update: bool,
    scheduler: str,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Schedule the check of this install."""

    spec = _spec(ctx, dir, venv, manifest, every=every, at=at, pre_update=pre_update)
    chosen = pick_scheduler(scheduler)
    the_plan = plan(spec, chosen)
    if dry_run:
        if as_json:
            echo_json(the_plan.to_json())
        else:
            click.echo(schedule_plan_text(the_plan), nl=False)
        return
    result = apply(the_plan, spec)
    if as_json:
        echo_json(result.to_json())
    elif result.done:
        click.echo(
            f"scheduled: {spec.flavour} of {spec.dir}, {every} at {at} ({chosen}, {spec.name})"
        )
    else:
        click.echo(schedule_plan_text(the_plan), nl=False)
        click.echo(f"repair: error: not scheduled: {result.problem}", err=True)
    sys.exit(0 if result.done else 1)


@schedule.command("remove")
@install_options
@click.option("--pre-update", is_flag=True, help="Remove the pre-update check.")
@click.option("--scheduler", type=_SCHEDULER_CHOICE, default="auto", show_default=True)
@click.pass_context
def remove(
    ctx: click.Context,
    dir: str | None,
    venv: str | None,
    manifest: str | None,
    pre_update: bool,
    scheduler: str,
) -> None:
    """Remove the scheduled check of this install."""

    spec = _spec(ctx, dir, venv, manifest, pre_update=pre_update)
    chosen = pick_scheduler(scheduler)
    result = apply(plan(spec, chosen, remove=True), spec, remove=True)
    if not result.done:
        click.echo(f"repair: error: {result.problem}", err=True)
        sys.exit(1)
    click.echo(f"removed: {spec.name} ({chosen})")


@schedule.command("status")
@install_options
@click.option("--pre-update", is_flag=True, help="The pre-update check's status.")
@click.option("--scheduler", type=_SCHEDULER_CHOICE, default="auto", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.pass_context
def status(
    ctx: click.Context,
    dir: str | None,
    venv: str | None,
    manifest: str | None,
    pre_update: bool,
    scheduler: str,
    as_json: bool,
) -> None:
    """Is a check scheduled for this install, and how did its last runs go?"""

    spec = _spec(ctx, dir, venv, manifest, pre_update=pre_update)
    chosen = scheduler if scheduler != "auto" else detect()[0]
    info = job_status(spec, chosen)
    if as_json:
        echo_json(info)
        return
    click.echo(schedule_status_text(spec.name, chosen, info), nl=False)


@schedule.command("run", hidden=True)
@install_options
@click.option("--pre-update", is_flag=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def run_scheduled(
    ctx: click.Context,
    dir: str | None,
    venv: str | None,
    manifest: str | None,
    pre_update: bool,
    as_json: bool,
) -> None:
    """What the scheduler runs: the check, one line appended to the history, what is new."""
    spec = _spec(ctx, dir, venv, manifest, pre_update=pre_update)
    report, change = scheduled_check(
        spec, merged_install_options(ctx, dir, venv, manifest), StreamReporter(quiet=True)
    )
    if as_json:
        echo_json({**report.to_json(), "history": change})
    else:
        click.echo(check_text(report, color=use_color(), width=terminal_width()), nl=False)
        click.echo("\n" + history_text(change), nl=False)
    sys.exit(0 if report.summary.healthy else 1)
