"""What every command shares: the install options, the error handler, output helpers."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click

from repair.errors import ExitCode, RepairError, UsageError
from repair.options import IndexOptions
from repair.selection import InstallSelection

F = TypeVar("F", bound=Callable[..., Any])


def install_options(func: F) -> F:
    """``--dir``, ``--venv``, ``--manifest``: accepted in the same form by every command that
    works on an install, before or after the command name."""
    func = click.option(
        "--manifest",
        "manifest",
        metavar="NAME|FILE",
        default=None,
        help="Application manifest: a name (a1111, sdnext, forge, amdgpu, comfyui, generic) "
        "or a TOML file. Default: detected from marker files.",
    )(func)
    func = click.option(
        "--venv",
        "venv",
        metavar="PATH",
        default=None,
        help="The virtual environment. Default: the manifest's venv folder, or VENV_DIR from "
        "webui-user.bat/.sh.",
    )(func)
    func = click.option(
        "--dir",
        "dir",
        metavar="PATH",
        default=None,
        help="The application folder (a git checkout). Default: the current directory.",
    )(func)
    return func


def index_options(func: F) -> F:
    """Package-source options that pass through to pip."""
    func = click.option("--offline", is_flag=True, help="Use only local caches and --find-links.")(
        func
    )
    func = click.option(
        "--find-links",
        "find_links",
        multiple=True,
        metavar="URL|DIR",
        help="Passed to pip (repeatable).",
    )(func)
    func = click.option(
        "--extra-index-url",
        "extra_index_urls",
        multiple=True,
        metavar="URL",
        help="Passed to pip (repeatable).",
    )(func)
    func = click.option("--index-url", "index_url", metavar="URL", help="Passed to pip.")(func)
    return func


def check_python_option(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> str | None:
    """``--python PATH|X.Y``, checked when it is given rather than when a venv is built: a path
    must exist, a version must be one that CPython has and that this machine has."""
    if not value:
        return value
    # lazy: start-up time
    import re

    if os.sep in value or "/" in value or value.endswith(".exe") or Path(value).exists():
        if not Path(value).exists():
            raise UsageError(f"--python {value}: no such file")
        return value
    m = re.fullmatch(r"(\d+)(?:\.(\d+))?(?:\.\d+)?", value)
    if m is None:
        raise UsageError(f"--python {value}: give a path or a version such as 3.10")
    major, minor = int(m.group(1)), int(m.group(2) or 0)
    if major != 3 or (m.group(2) is not None and not 6 <= minor <= 30):
        raise UsageError(
            f"--python {value}: not a Python version the web UIs run on "
            "(give a version such as 3.10, or a path)"
        )
    # lazy: start-up time
    from repair.env.pythons import find_pythons

    found = find_pythons()
    if not any(p.version == value or p.version.startswith(value + ".") for p in found):
        shown = (
            ", ".join(
                sorted(
                    {p.xy for p in found},
                    reverse=True,
                    key=lambda v: tuple(int(x) for x in v.split(".")),
                )
            )
            or "none"
        )
        raise UsageError(
            f"--python {value}: no such Python on this machine (found: {shown})",
            hint="install it (python.org, or pyenv), or give its path",
        )
    return value


def pipeline_options(func: F) -> F:
    """Options of the repair pipeline (``repair`` with no command)."""
    func = index_options(func)
    for decl, help_text in reversed(
        [
            (
                "--clean-venv",
                "Delete and recreate the venv (the old one is kept as a backup; its "
                "intact files are reused unless --no-reuse).",
            ),
            (
                "--no-reuse",
                "With a new venv: install every distribution from the index "
                "rather than reuse the intact files of the old venv (its backup).",
            ),
            (
                "--fresh",
                "With a new venv: resolve anew from the requirement files rather than "
                "bring back the old venv's versions.",
            ),
            ("--reinstall", "Reinstall all requirements."),
            ("--reclone", "Reclone the repository, keeping user data."),
            ("--dry-run", "Print the plan and change nothing."),
            ("--yes", "Answer yes to prompts (scheduled and scripted use)."),
            ("--json", "Print a JSON report on stdout."),
            ("--force", "Go on even when the preflight says the plan cannot finish."),
            (
                "--verify-files",
                "Also hash every file against its RECORD, as 'check "
                "--verify-files' does, and repair what differs (also before files of the old "
                "venv are reused).",
            ),
        ]
    ):
        func = click.option(decl, is_flag=True, help=help_text)(func)
    func = click.option(
        "--python",
        "python",
        metavar="PATH|X.Y",
        default=None,
        callback=check_python_option,
        help="Interpreter for a recreated venv.",
    )(func)
    func = click.option(
        "--ref",
        default=None,
        metavar="REF",
        help="With --reclone: the commit, branch or tag to check out "
        "(default: the commit the install is on).",
    )(func)
    func = click.option(
        "--repo-url",
        "repo_url",
        default=None,
        metavar="URL",
        help="With --reclone: clone this URL (default: the checkout's remote, "
        "else the manifest's repository).",
    )(func)
    func = click.option(
        "--installer",
        type=click.Choice(["pip", "uv"]),
        default="pip",
        show_default=True,
        help="What installs packages.",
    )(func)
    func = click.option(
        "--backend",
        default=None,
        metavar="NAME",
        help="GPU backend: auto, cuda, rocm, directml, zluda, openvino, ipex, cpu, mps.",
    )(func)
    return func


def merged_install_options(
    ctx: click.Context, dir: str | None, venv: str | None, manifest: str | None
) -> InstallSelection:
    """The command's own --dir/--venv/--manifest, else the ones given before the command name."""
    group = InstallSelection()
    root = ctx.find_root()
    if isinstance(root.obj, dict) and isinstance(root.obj.get("where"), InstallSelection):
        group = root.obj["where"]
    return InstallSelection(
        dir=dir if dir is not None else group.dir,
        venv=venv if venv is not None else group.venv,
        manifest=manifest if manifest is not None else group.manifest,
    )


def index_of(params: dict[str, Any]) -> IndexOptions:
    """The package sources of a command's ``index_options`` parameters."""
    return IndexOptions(
        index_url=params["index_url"],
        extra_index_urls=tuple(params["extra_index_urls"]),
        find_links=tuple(params["find_links"]),
        offline=params["offline"],
    )


def use_color(stream: Any = None) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    stream = stream or sys.stdout
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return bool(getattr(stream, "isatty", lambda: False)())


def echo_json(data: Any) -> None:
    # lazy: start-up time
    import json

    from repair.proc import redact_data

    click.echo(json.dumps(redact_data(data), indent=2, ensure_ascii=False))


def _crash_log(exc: BaseException) -> Path | None:
    # lazy: start-up time
    import platform
    import traceback

    from repair import __version__

    try:
        # lazy: start-up time
        from platformdirs import user_log_dir

        folder = Path(user_log_dir("webui-repair", appauthor=False))
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
        # lazy: start-up time
        from repair.proc import redact

        text = (
            f"webui-repair {__version__}\npython {sys.version}\nplatform {platform.platform()}\n"
            f"argv {redact(' '.join(sys.argv))}\n\n"
            + redact("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
        )
        path.write_text(text, encoding="utf-8")
        return path
    except Exception:  # noqa: BLE001 - the crash log must never crash the handler
        return None


@contextlib.contextmanager
def handle_errors() -> Iterator[None]:
    """The one top-level handler: a RepairError is one line and its exit code; anything else is
    a bug, reported in one line with the path of a log that holds the traceback."""
    try:
        yield
    except RepairError as exc:
        # lazy: start-up time
        from repair.proc import redact

        click.echo(f"repair: error: {redact(exc.message)}", err=True)
        if exc.hint:
            click.echo(f"hint: {redact(exc.hint)}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("repair: interrupted", err=True)
        sys.exit(130)
    except (SystemExit, click.exceptions.Exit):
        raise
    except Exception as exc:  # noqa: BLE001 - the last line of defence
        log = _crash_log(exc)
        where = f" (details in {log})" if log else ""
        # lazy: start-up time
        from repair.proc import redact

        click.echo(redact(f"repair: internal error: {type(exc).__name__}: {exc}{where}"), err=True)
        sys.exit(ExitCode.PROBLEMS)
