"""``repair install APP --dir PATH``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from repair.cli.common import check_python_option, echo_json, index_options
from repair.commands.install import install as run_install
from repair.errors import UsageError
from repair.options import IndexOptions
from repair.progress import StreamReporter
from repair.provision.plan import InstallPlan, InstallRequest
from repair.render.install import install_plan_text, install_text


@click.command("install")
@click.argument("app", metavar="APP")
@click.option(
    "--dir",
    "dir",
    metavar="PATH",
    required=True,
    help="Where the application goes (a new or empty folder, or an earlier install to finish).",
)
@click.option(
    "--backend",
    default=None,
    metavar="NAME",
    help="GPU backend: auto, cuda, rocm, directml, zluda, openvino, ipex, cpu, mps.",
)
@click.option(
    "--repo-url",
    default=None,
    metavar="URL",
    help="Clone this instead of the manifest's repository.",
)
@click.option("--ref", default=None, metavar="REF", help="Branch, tag or commit to check out.")
@click.option(
    "--python",
    "python",
    default=None,
    metavar="PATH|X.Y",
    callback=check_python_option,
    help="Interpreter for the venv. Default: the best one the app supports.",
)
@click.option(
    "--from-snapshot",
    "snapshot",
    default=None,
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Reproduce a snapshot (repair backup create) exactly.",
)
@click.option(
    "--installer",
    type=click.Choice(["pip", "uv"]),
    default="pip",
    show_default=True,
    help="What installs packages.",
)
@index_options
@click.option("--yes", is_flag=True, help="Do not ask (scripted use).")
@click.option(
    "--force",
    is_flag=True,
    help="Go on even when the index preflight says the install cannot finish.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON result on stdout.")
def install(
    app: str,
    dir: str,
    backend: str | None,
    repo_url: str | None,
    ref: str | None,
    python: str | None,
    snapshot: Path | None,
    installer: str,
    index_url: str | None,
    extra_index_urls: tuple[str, ...],
    find_links: tuple[str, ...],
    offline: bool,
    yes: bool,
    force: bool,
    as_json: bool,
) -> None:
    """Install APP (a manifest name or file) from nothing into --dir, verified.

    Clone, pick a Python, create the venv, install torch for the GPU backend and the
    requirements, write the launch arguments, then 'repair check --deep'. Run it again to
    finish an interrupted install; on a finished one it changes nothing.

    \b
    Exit status: 0 installed and healthy, 1 installed but the check found errors, 2 bad usage,
    4 a step failed (the half-built venv or clone was removed), 6 another install is running.
    """

    reporter = StreamReporter()  # narration goes to stderr, with --json too
    request = InstallRequest(
        app=app,
        dir=Path(os.path.abspath(Path(dir).expanduser())),
        backend=backend,
        repo_url=repo_url,
        ref=ref,
        python=python,
        snapshot=snapshot,
        installer=installer,
        index=IndexOptions(index_url, tuple(extra_index_urls), tuple(find_links), offline),
        force=force,
    )

    def confirm(p: InstallPlan) -> bool:
        click.echo(install_plan_text(p), err=True, nl=False)
        if not sys.stdin or not sys.stdin.isatty():
            raise UsageError("no terminal to ask for confirmation: pass --yes to install")
        return click.confirm("Go ahead?", default=True, err=True)

    try:
        result = run_install(request, reporter, None if yes else confirm)
    except KeyboardInterrupt:
        # What happens next: the finished steps are recorded, the half-built parts are hidden
        # (.venv.partial); the same command goes on from where it stopped.
        click.echo(
            "repair: interrupted: the finished steps are kept; run the same command "
            "again to go on from where it stopped",
            err=True,
        )
        sys.exit(130)
    if as_json:
        echo_json(result.to_json())
    else:
        click.echo(install_text(result), nl=False)
    sys.exit(0 if result.healthy else 1)
