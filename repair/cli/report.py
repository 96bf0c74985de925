"""``repair report``: a support report to paste into an issue or a forum thread."""

from __future__ import annotations

import json
from typing import Any

import click

from repair.cli.common import (
    echo_json,
    index_of,
    index_options,
    install_options,
    merged_install_options,
)
from repair.commands.report import copy_to_clipboard, support_report
from repair.options import CheckOptions
from repair.progress import StreamReporter
from repair.render.support import support_markdown


@click.command("report")
@install_options
@index_options
@click.option("--json", "as_json", is_flag=True, help="A repair.support/1 JSON object.")
@click.option(
    "--log",
    "log",
    metavar="FILE",
    default=None,
    help="The crash log to diagnose (default: the app's own log, when it writes one).",
)
@click.option(
    "--copy",
    "copy",
    is_flag=True,
    help="Also put the report on the clipboard (where the platform has one).",
)
@click.option("--backend", default=None, metavar="NAME", help="The GPU backend to check against.")
@click.pass_context
def report(
    ctx: click.Context,
    /,
    dir: str | None,
    venv: str | None,
    manifest: str | None,
    as_json: bool,
    log: str | None,
    copy: bool,
    backend: str | None,
    **params: Any,
) -> None:
    """A support report to paste into an issue or a forum thread: the install, the machine, the
    torch build, the health findings, the last diagnosis of the log and what 'repair' would do.
    Changes nothing.

    Secrets in URLs, tokens and passwords (also in launch arguments), the home folder and user
    names in paths are hidden. Markdown by default (long parts folded for GitHub); --json for
    scripts.
    """

    data = support_report(
        merged_install_options(ctx, dir, venv, manifest),
        CheckOptions(backend=backend, index=index_of(params)),
        StreamReporter(quiet=True),
        log=log,
    )
    if as_json:
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        echo_json(data)
    else:
        text = support_markdown(data)
        click.echo(text, nl=False)
    if copy:
        tool = copy_to_clipboard(text)
        click.echo(
            f"copied to the clipboard ({tool})"
            if tool
            else "no clipboard here (wl-copy, xclip, xsel, pbcopy or clip): copy the text above",
            err=True,
        )
