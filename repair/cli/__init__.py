"""The command line: click only. Parse, build a context, call one function, render the result.

Sub-commands live in their own modules under ``repair.cli`` and are imported only when used, so
that ``repair check`` does not pay for ``repair install``'s imports.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from repair import __version__
from repair.cli.common import handle_errors, install_options, pipeline_options
from repair.selection import InstallSelection

# name -> (module, attribute, short help). Order is the order shown in --help.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "check": ("repair.cli.check", "check", "Inspect the install and report what is wrong."),
    "backup": ("repair.cli.backup", "backup", "Create, list, restore and prune snapshots."),
    "install": ("repair.cli.install", "install", "Install a web UI from nothing, verified."),
    "diagnose": (
        "repair.cli.diagnose",
        "diagnose",
        "Read a crash log: cause, remedy, whether a rebuild helps.",
    ),
    "report": (
        "repair.cli.report",
        "report",
        "A support report to paste into an issue or a thread, secrets hidden.",
    ),
    "schedule": ("repair.cli.schedule", "schedule", "A recurring or pre-update health check."),
    "guard": ("repair.cli.guard", "guard", "A check before every launch, in the launcher."),
    "manifests": (
        "repair.cli.manifests",
        "manifests",
        "List, show and validate application manifests.",
    ),
    "demo": (
        "repair.cli.demo",
        "demo",
        "Build a throwaway broken install, then check and repair it.",
    ),
}


class LazyGroup(click.Group):
    def main(self, *args: Any, **kwargs: Any) -> Any:
        # The one error handler wraps every entry (console script, python -m, CliRunner).
        with handle_errors():
            return super().main(*args, **kwargs)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name, (module, _, _) in COMMANDS.items() if _module_exists(module)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        spec = COMMANDS.get(cmd_name)
        if spec is None or not _module_exists(spec[0]):
            return None
        module = importlib.import_module(spec[0])
        command = getattr(module, spec[1])
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _module_exists(module: str) -> bool:
    # lazy: start-up time
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


@click.group(
    cls=LazyGroup,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="webui-repair")
@install_options
@pipeline_options
@click.pass_context
def cli(ctx: click.Context, /, **params: Any) -> None:
    """Repair the Python environment of a Stable Diffusion web UI.

    With no command, runs the repair pipeline on the install: check, plan the smallest fix,
    back up, act, verify, report. `repair check` only looks.

    \b
    Examples:
      repair check                      what is wrong here?
      repair --dry-run                  what would a repair do?
      repair --clean-venv               delete and recreate the venv, safely
      repair check --json --dir PATH    a report for scripts
    """
    ctx.ensure_object(dict)
    # The --dir/--venv/--manifest given before a command's name (``merged_install_options``).
    ctx.obj["where"] = InstallSelection(params["dir"], params["venv"], params["manifest"])
    if ctx.invoked_subcommand is None:
        # lazy: start-up time
        from repair.cli.run import run_pipeline

        run_pipeline(ctx.obj["where"], params)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    args = sys.argv[1:] if argv is None else argv
    if args[:2] == ["guard", "run"]:  # the launch guard: no click, no checks when warm
        # lazy: start-up time
        from repair.cache.verdict import main as guard_run

        sys.exit(guard_run(args[2:]))
    cli.main(args=argv, prog_name="repair")


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
