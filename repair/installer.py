"""Install packages into a venv: ``<venv python> -m pip install`` (the default), or ``uv pip
install --python <venv python>`` with ``installer="uv"`` when uv is on PATH.

The user's pip configuration is honoured (pip reads its own config files and ``PIP_*``
variables; for uv the ``PIP_*`` index settings are passed on as options). The installer's output
goes to a log file; the terminal gets one progress line per step.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from repair import proc
from repair.errors import ProcessError
from repair.progress import Reporter


@dataclass(frozen=True)
class IndexOptions:
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    offline: bool = False

    def pip_args(self) -> list[str]:
        args: list[str] = []
        if self.index_url:
            args += ["--index-url", self.index_url]
        for url in self.extra_index_urls:
            args += ["--extra-index-url", url]
        for link in self.find_links:
            args += ["--find-links", link]
        if self.offline:
            args.append("--no-index")
        return args


@dataclass
class InstallStats:
    collected: list[str] = field(default_factory=list)
    installed: list[str] = field(default_factory=list)
    seconds: float = 0.0


def find_uv() -> str | None:
    """uv on PATH, else beside the tool's own interpreter (a venv of the tool's own)."""
    found = proc.which("uv")
    if found:
        return found
    here = Path(sys.executable).parent / ("uv.exe" if os.name == "nt" else "uv")
    return str(here) if here.is_file() else None


_UV_RENAME = {"--force-reinstall": "--reinstall"}
_COLLECT = re.compile(r"^(?:Collecting|Processing|Obtaining)\s+(\S+)")
_DONE = re.compile(r"^Successfully installed (.*)$")
_UV_DONE = re.compile(r"^\s*\+\s+(\S+)")


def _uv_env_args() -> list[str]:
    """The user's PIP_* package-source settings, as uv options (uv does not read them)."""
    env = os.environ
    args: list[str] = []
    if env.get("PIP_NO_INDEX", "").lower() in ("1", "true", "yes", "on"):
        args.append("--no-index")
    if env.get("PIP_INDEX_URL"):
        args += ["--index-url", env["PIP_INDEX_URL"]]
    for url in env.get("PIP_EXTRA_INDEX_URL", "").split():
        args += ["--extra-index-url", url]
    for link in env.get("PIP_FIND_LINKS", "").split():
        args += ["--find-links", link]
    return args


def pip_install(
    venv_python: Path,
    args: Sequence[str],
    *,
    log_path: Path,
    reporter: Reporter | None = None,
    installer: str = "pip",
    index: IndexOptions | None = None,
    label: str = "installing packages",
    timeout: float | None = 3600.0,
) -> InstallStats:
    """Run one install step; raise ``ProcessError`` (naming the log) when it fails."""
    reporter = reporter or Reporter()
    index = index or IndexOptions()
    from repair.venv import VenvLayout

    # An embedded Python (ComfyUI portable) is its own folder, run with -s as its launcher does.
    embedded = VenvLayout.detect(venv_python.parent).embedded
    uv = find_uv() if installer == "uv" else None
    if installer == "uv" and uv is None:
        reporter.warn("uv is not on PATH: installing with pip instead")
    if uv is not None:
        argv = [uv, "pip", "install", "--python", str(venv_python)]
        argv += [_UV_RENAME.get(a, a) for a in args]
        argv += _uv_env_args() + index.pip_args()
        tool = "uv"
    else:
        # --no-compile: like uv, no bytecode at install time (Python writes it on first import).
        # --no-warn-conflicts: pip's own scan of every installed distribution after the install;
        # the check that follows each repair reports conflicts as findings.
        argv = [str(venv_python), *(["-s"] if embedded else []), "-m", "pip", "install",
                "--no-input", "--progress-bar", "off",
                "--disable-pip-version-check", "--no-compile", "--no-warn-conflicts", *args,
                *index.pip_args()]
        tool = "pip"
    stats = InstallStats()

    def on_line(line: str) -> None:
        m = _COLLECT.match(line)
        if m:
            stats.collected.append(m.group(1))
            return
        m = _DONE.match(line)
        if m:
            stats.installed += m.group(1).split()
            return
        m = _UV_DONE.match(line)
        if m and tool == "uv":
            stats.installed.append(m.group(1))

    reporter.step(f"{label} ({tool})")
    started = time.monotonic()
    venv = venv_python.parent if embedded else venv_python.parent.parent
    code = proc.stream(argv, log=log_path, env=proc.clean_env(venv=venv), timeout=timeout,
                       on_line=on_line)
    stats.seconds = time.monotonic() - started
    if code != 0:
        tail = _last_error(log_path)
        raise ProcessError(
            f"{label} failed ({tool} exit code {code})" + (f": {tail}" if tail else ""),
            returncode=code, hint=f"the installer's output is in {log_path}",
        )
    reporter.info(f"{len(stats.installed)} package(s) installed in {stats.seconds:.1f}s")
    return stats


def _last_error(log_path: Path) -> str:
    try:
        lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    for line in reversed(lines[-60:]):
        text = line.strip()
        if text.startswith(("ERROR:", "error:", "×", "╰─▶")) or "No matching distribution" in text:
            return proc.redact(text)
    return ""
