"""``repair diagnose [LOG|-]``: match a start-up or crash log against the signature catalogue."""

from __future__ import annotations

import sys

import click

from repair.cli.common import echo_json, install_options, merged_install_options, use_color
from repair.commands.diagnose import diagnose_input
from repair.errors import ExitCode
from repair.render.diagnose import diagnosis_text


@click.command("diagnose")
@install_options
@click.argument("log", metavar="[LOG|-]", default=None, required=False)
@click.option("--json", "as_json", is_flag=True, help="Print a repair.diagnosis/1 JSON object.")
@click.pass_context
def diagnose(
    ctx: click.Context,
    /,
    log: str | None,
    as_json: bool,
    dir: str | None,
    venv: str | None,
    manifest: str | None,
) -> None:
    """Read a start-up or crash log (a file, or - for standard input) and say what is wrong,
    what to do, and whether rebuilding the environment would help at all. With --dir (or
    --venv), each cause is tied to that install: the distribution that owns the module, its
    version, which requirement asks for which, and the remedy for that install; with --manifest
    alone, remedies are worded for that application.

    \b
    Exit codes: 0 no known problem, 1 known problems found, 2 unreadable input.
    Examples:
      repair diagnose webui.log
      repair diagnose --dir ~/ComfyUI comfyui.log
      python launch.py 2>&1 | repair diagnose -
    """

    def on_paste() -> None:
        click.echo(
            "reading the log from standard input: paste it, then press Ctrl-D "
            "(Ctrl-Z Enter on Windows)",
            err=True,
        )

    result = diagnose_input(
        merged_install_options(ctx, dir, venv, manifest),
        log,
        sys.stdin,
        on_paste=None if as_json else on_paste,
    )
    if as_json:
        echo_json(result.to_json())
    else:
        click.echo(diagnosis_text(result, color=use_color()), nl=False)
    sys.exit(ExitCode.OK if result.healthy else ExitCode.PROBLEMS)
