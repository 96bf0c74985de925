"""``repair diagnose [LOG|-]``: match a start-up or crash log against the signature catalogue."""

from __future__ import annotations

import sys
from typing import Any

import click

from repair.cli.common import echo_json, install_options, merged_install_options, use_color
from repair.errors import ExitCode


@click.command("diagnose")
@install_options
@click.argument("log", metavar="[LOG|-]", default=None, required=False)
@click.option("--json", "as_json", is_flag=True, help="Print a repair.diagnosis/1 JSON object.")
@click.pass_context
def diagnose(ctx: click.Context, /, log: str | None, as_json: bool, dir: str | None,
             venv: str | None, manifest: str | None) -> None:
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
    from repair.commands.diagnose import diagnose_input

    def on_paste() -> None:
        click.echo("reading the log from standard input: paste it, then press Ctrl-D "
                   "(Ctrl-Z Enter on Windows)", err=True)

    result = diagnose_input(merged_install_options(ctx, dir, venv, manifest), log, sys.stdin,
                            on_paste=None if as_json else on_paste)
    if as_json:
        echo_json(result.to_json())
    else:
        _render(result)
    sys.exit(ExitCode.OK if result.healthy else ExitCode.PROBLEMS)


def _render(result: object) -> None:
    from repair.diagnose.causes import Diagnosis
    from repair.diagnose.signature import RebuildHelps

    assert isinstance(result, Diagnosis)
    color = use_color()

    def style(text: str, **kw: Any) -> str:
        return click.style(text, **kw) if color else text

    if result.healthy:
        click.echo(f"{style('ok', fg='green')}: {result.verdict}")
        return
    for i, cause in enumerate(result.causes, 1):
        helps = cause.rebuild_helps
        mark = {RebuildHelps.YES: ("rebuild fixes it", "green"),
                RebuildHelps.PARTLY: ("rebuild may help", "yellow"),
                RebuildHelps.NO: ("rebuild will NOT help", "red")}[helps]
        ids = ", ".join(s.id for s in cause.signatures)
        if cause.lead.shape:
            ids += f" '{cause.subject}'"
        click.echo(style(f"{i}. {ids}", bold=True) + f"  [{style(mark[0], fg=mark[1])}]")
        for m in cause.matches:
            click.echo(f"   line {m.line}: {m.text}")
        more = cause.count - len(cause.matches)
        if more > 0:
            click.echo(f"   ... and {more} more matching line{'s' if more > 1 else ''}")
        click.echo(f"   cause:  {cause.cause}")
        tie = cause.tie
        if tie is not None and tie.distribution:
            state = (f"{tie.version} installed" if tie.installed else "not installed")
            click.echo(f"   owner:  {tie.distribution} ({state}"
                       + (", mixed" if tie.mixed else "") + ")")
            for line in tie.wanted[:5]:
                click.echo(f"           {line}")
        if cause.node:
            click.echo(f"   node:   {cause.node}")
        click.echo(f"   remedy: {cause.remedy}")
        if cause.command:
            click.echo(f"   repair: {cause.command}")
        if cause.restart_needed:
            click.echo("   restart the application after the fix")
        click.echo(f"   seen in: {cause.lead.source[0]}")
        click.echo("")
    click.echo(style("verdict: ", bold=True) + result.verdict)
