"""``repair check``."""

from __future__ import annotations

import sys
from typing import Any

import click

from repair.cli.common import (
    echo_json,
    index_of,
    index_options,
    install_options,
    merged_install_options,
    use_color,
)
from repair.options import CheckOptions


def check_options(params: dict[str, Any]) -> CheckOptions:
    """The check's options from its parameters."""
    return CheckOptions(
        backend=params["backend"],
        index=index_of(params),
        verify_files=params["verify_files"],
        jobs=params["jobs"],
        deep=params["deep"],
        online=params["online"],
        pre_update=params["pre_update"],
        before_install=params["before_install"],
        write_constraints=params["write_constraints"],
        log=params["log"],
        strict=params["strict"],
    )


@click.command("check")
@install_options
@index_options
@click.option("--json", "as_json", is_flag=True, help="Print the contract's JSON report on stdout.")
@click.option("--verify-files", is_flag=True, help="Hash every file against its RECORD.")
@click.option("--deep", is_flag=True, help="Import the key modules in the venv's python.")
@click.option("--pre-update", is_flag=True, help="Also predict what an update would change.")
@click.option(
    "--before-install",
    "before_install",
    metavar="PATH|REQS",
    default=None,
    help="Predict what installing a node's or extension's requirements (its folder, "
    "a requirements file, or requirement strings) would change; flag moves of "
    "protected packages.",
)
@click.option(
    "--write-constraints",
    "write_constraints",
    metavar="FILE",
    default=None,
    help="With --before-install: write the constraints that keep the protected "
    "packages where they are.",
)
@click.option(
    "--online", is_flag=True, help="Ask the package index whether a rebuild could finish."
)
@click.option(
    "--log", "log", metavar="FILE", default=None, help="Add the diagnosis of a crash log."
)
@click.option("--strict", is_flag=True, help="Warnings fail too (exit 1).")
@click.option("--list", "list_ids", is_flag=True, help="List every finding id with its title.")
@click.option(
    "--explain", metavar="ID", default=None, help="Show the documentation of a finding id."
)
@click.option("--backend", default=None, metavar="NAME", help="The GPU backend to check against.")
@click.option(
    "-j", "--jobs", type=click.IntRange(1, 256), default=None, help="Threads for --verify-files."
)
@click.option("-v", "--verbose", is_flag=True, help="Say where each setting came from.")
@click.pass_context
def check(
    ctx: click.Context,
    /,
    dir: str | None,
    venv: str | None,
    manifest: str | None,
    as_json: bool,
    list_ids: bool,
    explain: str | None,
    verbose: bool,
    **params: Any,
) -> None:
    """Inspect the install and report what is wrong. Changes nothing.

    Exit status: 0 healthy, 1 problems found, 2 bad usage or input.
    """
    if list_ids:
        # lazy: start-up time
        from repair.checks.registry import all_finding_types
        from repair.render.docs import list_text

        click.echo(list_text(all_finding_types()), nl=False)
        return
    if explain:
        # lazy: start-up time
        from repair.checks.docs import explain_text
        from repair.render.docs import markdown_text
        from repair.render.report import terminal_width

        # Markdown for a terminal is noise: rendered as text (--json keeps nothing else here).
        click.echo(
            markdown_text(explain_text(explain), width=terminal_width(), color=use_color()),
            nl=False,
        )
        return
    # lazy: start-up time
    from repair.commands.check import check_install
    from repair.progress import StreamReporter

    report = check_install(
        merged_install_options(ctx, dir, venv, manifest),
        check_options(params),
        StreamReporter(quiet=as_json),
    )
    if as_json:
        echo_json(report.to_json())
    else:
        # Start-up time: the renderers are read only when a report is shown.
        # lazy: start-up time
        from repair.render.check import check_text
        from repair.render.report import terminal_width

        click.echo(
            check_text(report, color=use_color(), verbose=verbose, width=terminal_width()), nl=False
        )
    sys.exit(0 if report.summary.healthy else 1)
