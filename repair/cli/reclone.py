"""A direct way to run the reclone alone (tests and scripts): ``python -m repair.cli.reclone``.
``repair --reclone`` runs the same function inside the repair pipeline."""

from __future__ import annotations

import click

from repair.cli.common import echo_json, handle_errors, install_options
from repair.commands.reclone import reclone_install
from repair.progress import StreamReporter
from repair.render.plan import reclone_text
from repair.selection import InstallSelection


@click.command("reclone")
@install_options
@click.option(
    "--ref",
    default=None,
    metavar="REF",
    help="Check out REF instead of the commit the install is on.",
)
@click.option(
    "--repo-url",
    default=None,
    metavar="URL",
    help="Clone from URL (default: the old checkout's origin, else the manifest's repository).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
def reclone(
    dir: str | None,
    venv: str | None,
    manifest: str | None,
    ref: str | None,
    repo_url: str | None,
    as_json: bool,
) -> None:
    """Reclone the application's repository, keeping every piece of user data."""

    result = reclone_install(
        InstallSelection(dir, venv, manifest),
        StreamReporter(quiet=as_json),
        ref=ref,
        repo_url=repo_url,
    )
    if as_json:
        echo_json(result.to_json())
    else:
        click.echo(reclone_text(result), nl=False)


def main() -> None:
    with handle_errors():
        reclone.main(prog_name="python -m repair.cli.reclone", standalone_mode=True)


if __name__ == "__main__":  # pragma: no cover
    main()
