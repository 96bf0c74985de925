"""``repair guard install / remove / status`` (and ``run``, which the launcher line calls)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from repair.app.target import resolve_selection
from repair.cache.verdict import main
from repair.cli.common import echo_json, install_options, merged_install_options
from repair.commands.guard import guard_status, install_guard, remove_guard
from repair.render.guard import guard_text


def _resolve(
    ctx: click.Context, dir: str | None, venv: str | None, manifest: str | None
) -> tuple[Any, str | None]:
    where = merged_install_options(ctx, dir, venv, manifest)
    chosen = where.manifest
    if chosen and (chosen.endswith(".toml") or os.sep in chosen or "/" in chosen):
        chosen = str(Path(chosen).resolve())
    return resolve_selection(where), chosen


def _print(result: Any, as_json: bool) -> None:
    if as_json:
        echo_json(result.to_json())
    else:
        click.echo(guard_text(result), nl=False)


_LAUNCHER = click.option(
    "--launcher",
    metavar="FILE",
    default=None,
    help="The launcher file (default: the app's, for this system).",
)
_JSON = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


@click.group("guard")
def guard() -> None:
    """A check before every launch: one line in the app's launcher runs a cached check of the
    venv and stops the launch on an error, naming the command that fixes it."""


@guard.command("install")
@install_options
@_LAUNCHER
@click.option("--warn", is_flag=True, help="On an error, warn and go on (default: stop).")
@_JSON
@click.pass_context
def install(
    ctx: click.Context,
    /,
    dir: str | None,
    venv: str | None,
    manifest: str | None,
    launcher: str | None,
    warn: bool,
    as_json: bool,
) -> None:
    """Add the guard line to the launcher."""

    inst, chosen = _resolve(ctx, dir, venv, manifest)
    _print(install_guard(inst, launcher=launcher, warn=warn, manifest_arg=chosen), as_json)


@guard.command("remove")
@install_options
@_LAUNCHER
@_JSON
@click.pass_context
def remove(
    ctx: click.Context,
    /,
    dir: str | None,
    venv: str | None,
    manifest: str | None,
    launcher: str | None,
    as_json: bool,
) -> None:
    """Take the guard line out (the launcher is byte for byte as before)."""

    inst, _ = _resolve(ctx, dir, venv, manifest)
    _print(remove_guard(inst, launcher=launcher), as_json)


@guard.command("status")
@install_options
@_LAUNCHER
@_JSON
@click.pass_context
def status(
    ctx: click.Context,
    /,
    dir: str | None,
    venv: str | None,
    manifest: str | None,
    launcher: str | None,
    as_json: bool,
) -> None:
    """Which launchers carry the guard line."""

    inst, _ = _resolve(ctx, dir, venv, manifest)
    _print(guard_status(inst, launcher=launcher), as_json)


@guard.command("run", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def run(args: tuple[str, ...]) -> None:
    """The check the launcher line runs: exit 1 with one line on an error (--warn: exit 0)."""

    sys.exit(main(list(args)))
