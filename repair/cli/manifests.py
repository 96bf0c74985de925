"""``repair manifests list / show NAME / validate FILE``."""

from __future__ import annotations

import sys

import click

from repair.app import manifest as m
from repair.cli.common import echo_json
from repair.commands.manifests import list_manifests, validate_files
from repair.render.manifests import manifest_text, manifests_text


@click.group("manifests")
def manifests() -> None:
    """The application manifests: what each web UI needs, as data.

    Built-in manifests ship with the tool; your own go in the user config folder
    (see 'repair manifests list') or are given by path with --manifest FILE.
    """


@manifests.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")
def list_cmd(as_json: bool) -> None:
    """List the manifests found, with the file each comes from."""

    found = list_manifests()
    if as_json:
        echo_json(found.to_json())
        return
    click.echo(manifests_text(found.rows, found.search_path), nl=False)


@manifests.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")
def show(name: str, as_json: bool) -> None:
    """Show one manifest (a name or a FILE), with its included rules."""

    manifest = m.load(name)
    if as_json:
        echo_json(m.describe(manifest))
        return
    click.echo(manifest_text(manifest), nl=False)


@manifests.command("validate")
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
def validate(files: tuple[str, ...]) -> None:
    """Check manifest files against the schema. Exit 2 with 'FILE: key: problem' lines."""

    failed = False
    for name, problems in validate_files(files):
        for line in problems:
            click.echo(line, err=True)
        if problems:
            failed = True
        else:
            click.echo(f"{name}: ok")
    sys.exit(2 if failed else 0)
