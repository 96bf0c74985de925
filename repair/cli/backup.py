"""``repair backup create / list / restore ID / prune --keep N``."""

from __future__ import annotations

import sys

import click

from repair.cli.common import echo_json, install_options, merged_install_options
from repair.commands.backup import backup_create, backup_list, backup_prune, backup_restore
from repair.errors import UsageError
from repair.progress import StreamReporter
from repair.render.backup import backup_list_text


def _ask(question: str) -> None:
    """A changing command asks first, like every other; ``--yes`` answers for scripts."""

    if not sys.stdin or not sys.stdin.isatty():
        raise UsageError("no terminal to ask for confirmation: pass --yes")
    if not click.confirm(question, default=False, err=True):
        raise UsageError("cancelled: nothing was changed")


@click.group("backup")
def backup() -> None:
    """Snapshots of the environment: create, list, restore, prune.

    Backups live in <app folder>/.repair-backups/, never inside the venv.
    """


@backup.command("create")
@install_options
@click.option(
    "--archive",
    is_flag=True,
    help="A portable .tar.gz of the venv (checks free space "
    "first) instead of an instant hard-link copy.",
)
@click.option(
    "--snapshot-only",
    is_flag=True,
    help="Only the snapshot file (versions, sources, "
    "hashes, commits): what 'repair install --from-snapshot' reproduces.",
)
@click.option("--json", "as_json", is_flag=True, help="Print {id, path, snapshot} as JSON.")
@click.pass_context
def create(
    ctx: click.Context,
    dir: str | None,
    venv: str | None,
    manifest: str | None,
    archive: bool,
    snapshot_only: bool,
    as_json: bool,
) -> None:
    """Snapshot the install and keep a copy of its venv."""

    info = backup_create(
        merged_install_options(ctx, dir, venv, manifest),
        StreamReporter(quiet=as_json),
        archive=archive,
        snapshot_only=snapshot_only,
    )
    if as_json:
        echo_json(
            {
                "id": info.id,
                "path": str(info.path),
                "snapshot": str(info.snapshot_path),
                "kind": info.kind,
                "has_venv": info.has_venv,
            }
        )
    else:
        click.echo(f"Backup {info.id} ({info.kind}) in {info.path}")


@backup.command("list")
@install_options
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.pass_context
def list_(
    ctx: click.Context, dir: str | None, venv: str | None, manifest: str | None, as_json: bool
) -> None:
    """List the backups of the install, newest first."""

    infos = backup_list(merged_install_options(ctx, dir, venv, manifest))
    if as_json:
        echo_json([i.to_json() for i in infos])
        return
    click.echo(backup_list_text(infos), nl=False)


@backup.command("restore")
@install_options
@click.argument("backup_id", metavar="ID")
@click.option("--yes", is_flag=True, help="Do not ask (scripted use).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def restore(
    ctx: click.Context,
    dir: str | None,
    venv: str | None,
    manifest: str | None,
    backup_id: str,
    yes: bool,
    as_json: bool,
) -> None:
    """Put backup ID's venv back exactly (the current venv is kept as a new backup)."""

    before = backup_restore(
        merged_install_options(ctx, dir, venv, manifest),
        backup_id,
        StreamReporter(quiet=as_json),
        None if yes else _ask,
    )
    if as_json:
        echo_json({"restored": backup_id, "previous": before.id, "path": str(before.path)})
    else:
        click.echo(f"Restored {backup_id}; the venv it replaced is backup {before.id}")


@backup.command("prune")
@install_options
@click.option("--keep", type=click.IntRange(0), required=True, help="How many to keep (newest).")
@click.option("--yes", is_flag=True, help="Do not ask (scripted use).")
@click.option("--json", "as_json", is_flag=True, help="Print the removed ids as JSON.")
@click.pass_context
def prune(
    ctx: click.Context,
    dir: str | None,
    venv: str | None,
    manifest: str | None,
    keep: int,
    yes: bool,
    as_json: bool,
) -> None:
    """Delete all but the newest N backups."""

    removed = backup_prune(
        merged_install_options(ctx, dir, venv, manifest), keep, None if yes else _ask
    )
    if as_json:
        echo_json({"removed": [i.id for i in removed], "kept": keep})
    else:
        click.echo(f"Removed {len(removed)} backup(s).")
