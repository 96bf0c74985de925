"""``repair report``: a support report to paste into an issue or a forum thread.

The install (app, version, commit, launch arguments), the machine (OS, Python, GPU, driver, torch
build), the package sources, the health findings, the last diagnosis of the app's log and what
``repair`` would do, as data for JSON or for Markdown (``repair.render.support``). Every
string goes through one scrubber before it is shown: credentials in URLs, tokens, passwords and
keys (also in launch arguments), the user's home folder and user names in paths.
"""

from __future__ import annotations

import getpass
import os
import platform
import re
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from repair import __version__, proc
from repair.app.gitrepo import git, has_git, inspect, remote_url
from repair.app.target import resolve_selection
from repair.checks.runner import check
from repair.checks.torch import launch_args
from repair.context import Context
from repair.diagnose.scan import diagnose_log
from repair.index.config import load_pip_config
from repair.plan.planner import make_plan
from repair.proc import redact

if TYPE_CHECKING:
    from repair.options import CheckOptions
    from repair.progress import Reporter
    from repair.selection import InstallSelection

SCHEMA = "repair.support/1"
# Where the web UIs write their own log (newest wins); --log names another.
LOG_NAMES = (
    "sdnext.log",
    "comfyui.log",
    "user/comfyui*.log",
    "webui.log",
    "log/*.log",
    "logs/*.log",
)
# Launch arguments whose value is a secret.
_SECRET_FLAG = re.compile(r"(?i)^--?[\w-]*(auth|token|password|passwd|secret|key|ngrok)[\w-]*$")
_SECRET_INLINE = re.compile(
    r"(?i)(--?[\w-]*(?:auth|token|password|passwd|secret|key|ngrok)[\w-]*[= ])(\S+)"
)
_HF_TOKEN = re.compile(r"\b(hf_|ghp_|github_pat_|sk-)[A-Za-z0-9_]{8,}")
_USER_PATH = re.compile(r"(?i)([\\/](?:Users|home)[\\/])([^\\/\s\"'`]+)")


class Scrubber:
    """Secrets and personal names out of every string of the report."""

    def __init__(self, home: str | None = None, user: str | None = None) -> None:
        self.home = home if home is not None else os.path.expanduser("~")
        if user is None:
            try:
                user = getpass.getuser()
            except Exception:  # noqa: BLE001 - no user name is nothing to hide
                user = ""
        self.user = user or ""

    def text(self, value: str) -> str:
        out = redact(value)
        out = _SECRET_INLINE.sub(lambda m: m.group(1) + "****", out)
        out = _HF_TOKEN.sub(lambda m: m.group(1) + "****", out)
        for home in {self.home, self.home.replace("\\", "/")}:
            if home and len(home) > 1:
                out = out.replace(home, "~")
        out = _USER_PATH.sub(lambda m: m.group(1) + "<user>", out)
        if len(self.user) >= 3:
            out = re.sub(rf"(?<![\w.-]){re.escape(self.user)}(?![\w.-])", "<user>", out)
        return out

    def args(self, args: list[str]) -> list[str]:
        """Launch arguments: the value after a secret-looking flag is hidden."""
        out: list[str] = []
        hide = False
        for arg in args:
            if hide:
                out.append("****")
                hide = False
                continue
            flag = arg.split("=", 1)[0]
            if _SECRET_FLAG.match(flag):
                if "=" in arg:
                    out.append(flag + "=****")
                else:
                    out.append(arg)
                    hide = True
                continue
            out.append(self.text(arg))
        return out

    def data(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.data(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.data(v) for v in value]
        return value


def find_log(root: Path) -> Path | None:
    """The app's own log, newest first."""
    found: list[Path] = []
    for pattern in LOG_NAMES:
        found += [p for p in root.glob(pattern) if p.is_file()]
    if not found:
        return None
    return max(found, key=lambda p: p.stat().st_mtime)


def _install_facts(ctx: Context) -> dict[str, Any]:

    install = ctx.install
    manifest = install.manifest
    facts: dict[str, Any] = {
        "app": manifest.name,
        "title": manifest.title,
        "dir": str(install.dir),
        "venv": str(install.venv),
        "version": None,
        "commit": None,
        "branch": None,
        "remote": None,
        "dirty_files": 0,
        "launch_args": launch_args(ctx),
        "settings_file": str(install.settings_file) if install.settings_file else None,
    }
    if has_git() and (install.dir / ".git").exists():
        state = inspect(install.dir, timeout=20)
        if state.ok:
            facts.update(commit=state.head, branch=state.branch, dirty_files=len(state.dirty))
            described = git(install.dir, "describe", "--tags", "--always", timeout=20)
            if described.ok:
                facts["version"] = described.stdout.strip() or None
            facts["remote"] = remote_url(install.dir)
    return facts


def _machine_facts(ctx: Context, target: dict[str, Any]) -> dict[str, Any]:
    backend = dict(target.get("backend") or {})
    machine: dict[str, Any] = {
        "os": platform.platform(),
        "system": platform.system(),
        "arch": platform.machine(),
        "tool_python": platform.python_version(),
        "venv_python": (target.get("python") or {}).get("version"),
        "backend": backend.get("machine"),
        "gpus": backend.get("devices", []),
        "driver": backend.get("driver"),
        "driver_cuda": backend.get("driver_cuda"),
        "torch": backend.get("torch"),
        "torch_version": backend.get("torch_version"),
    }
    return machine


def _sources(ctx: Context) -> dict[str, Any]:
    try:
        config = load_pip_config(
            venv=ctx.venv if ctx.venv_exists else None, index=ctx.options.index
        )
    except Exception as exc:  # noqa: BLE001 - a report never fails on one part
        return {"error": str(exc)}
    return {
        "index_urls": list(config.index_urls),
        "find_links": list(config.find_links),
        "no_index": config.no_index,
        "proxy": config.proxy,
        "files": [str(f) for f in config.files],
    }


def support_report(
    where: InstallSelection, options: CheckOptions, reporter: Reporter, *, log: str | None = None
) -> dict[str, Any]:
    """The support report of the install at ``where``, as data, scrubbed (``build_report``)."""
    install = resolve_selection(where)
    options = replace(options, backend=options.backend or "auto")  # the GPU belongs in it
    return build_report(Context(install, options, reporter=reporter), log=log)


def build_report(
    ctx: Context, *, log: str | None = None, scrubber: Scrubber | None = None
) -> dict[str, Any]:
    """The support report as data, scrubbed."""

    started = time.perf_counter()
    scrubber = scrubber or Scrubber()
    log_path = Path(log) if log else find_log(ctx.install.dir)
    diagnosis: dict[str, Any] | None = None
    if log_path is not None:  # first: a log named wrong is one line, before any work
        d = diagnose_log(log_path)
        diagnosis = {
            "log": str(log_path),
            "modified": time.strftime("%Y-%m-%d %H:%M", time.localtime(log_path.stat().st_mtime)),
            **d.to_json(),
        }
    report = check(ctx)
    plan = make_plan(ctx, report.findings)  # what a plain 'repair' would do
    install = _install_facts(ctx)
    launch = scrubber.args([str(a) for a in install.pop("launch_args")])
    data: dict[str, Any] = {
        "schema": SCHEMA,
        "tool": {"name": "webui-repair", "version": __version__},
        "created": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "install": {**install, "launch_args": launch},
        "machine": _machine_facts(ctx, report.target),
        "sources": _sources(ctx),
        "findings": [f.to_json() for f in report.findings],
        "summary": report.summary.to_json(),
        "running": report.extra.get("running", []),
        "diagnosis": diagnosis,
        "plan": plan.to_json(),
        "not_fixed": [
            {"id": f.id, "message": f.message, "remedy": f.remedy} for f in plan.unresolved
        ],
        "duration_ms": 0,
    }
    data = scrubber.data(data)
    data["install"]["launch_args"] = launch  # scrubbed as arguments, not again as text
    data["duration_ms"] = int((time.perf_counter() - started) * 1000)
    return data


def copy_to_clipboard(text: str) -> str | None:
    """Put ``text`` on the clipboard with the platform's own tool; the tool's name, or None
    when there is none."""

    candidates: list[list[str]]
    if sys.platform == "win32":
        candidates = [["clip"]]
    elif sys.platform == "darwin":
        candidates = [["pbcopy"]]
    else:
        candidates = [
            ["wl-copy"],
            ["xclip", "-selection", "clipboard"],
            ["xsel", "--clipboard", "--input"],
        ]
    for argv in candidates:
        if proc.which(argv[0]) is None:
            continue

        try:
            # clip.exe reads the console's code page unless the text says it is UTF-16
            data = (
                ("\ufeff" + text).encode("utf-16-le") if argv == ["clip"] else text.encode("utf-8")
            )
            done = subprocess.run(argv, input=data, capture_output=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            continue
        if done.returncode == 0:
            return argv[0]
    return None
