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
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from repair import proc
from repair.env.dists import canonical
from repair.env.layout import VenvLayout
from repair.errors import ProcessError
from repair.options import IndexOptions
from repair.progress import Progress, Reporter, human


@dataclass
class InstallStats:
    collected: list[str] = field(default_factory=list)
    installed: list[str] = field(default_factory=list)
    seconds: float = 0.0
    downloaded: int = 0  # bytes, as pip's "Downloading NAME (SIZE)" lines say (uv says none)


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
_DOWNLOAD = re.compile(r"^\s*Downloading\s+(\S+)(?:\s+\(([\d.]+)\s*([kMG]?B)\))?")
_RAW = re.compile(r"^Progress (\d+) of (\d+)$")
_INSTALLING = re.compile(r"^Installing collected packages: (.*)$")
_UNINSTALL = re.compile(r"^\s*Attempting uninstall: (\S+)")
_UV_PHASE = re.compile(r"^(Resolved|Prepared|Installed|Uninstalled|Audited) (\d+) packages?")
_UNITS = {"B": 1, "kB": 1000, "MB": 1000**2, "GB": 1000**3}


def pip_version(venv_python: Path) -> tuple[int, ...]:
    """The venv's pip version, read from its metadata folder (no process); () when unknown."""
    try:
        site = VenvLayout.detect(venv_python.parent.parent).site_packages()
        for info in site.glob("pip-*.dist-info"):
            m = re.match(r"pip-(\d+)\.(\d+)", info.name)
            if m:
                return (int(m.group(1)), int(m.group(2)))
    except (OSError, ValueError):
        pass
    return ()


def _short(filename: str) -> str:
    """``torch-2.1.2+cu121-cp310-cp310-linux_x86_64.whl`` -> ``torch 2.1.2+cu121``."""
    name = filename.rsplit("/", 1)[-1]
    parts = name.split("-")
    if name.endswith(".whl") and len(parts) >= 3:
        return f"{parts[0]} {parts[1]}"
    return name


class _InstallWatch:
    """What pip (or uv) says, as a live line: the package being collected or downloaded (with
    its bytes and the time left when pip tells them: ``--progress-bar raw``, pip 24.1+), then
    "installing n of N: name", counted from the metadata folders that appear in site-packages
    (pip says nothing while it unpacks)."""

    def __init__(self, bar: Progress, venv_python: Path, *, raw: bool = False) -> None:
        self.bar = bar
        self.raw = raw
        self.venv_python = venv_python
        self.collected = 0
        self.current = ""
        self.to_install: list[str] = []
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None

    def line(self, line: str) -> None:
        m = _RAW.match(line)
        if m:
            done, total = int(m.group(1)), int(m.group(2))
            self.bar.update(done=done, total=total)
            return
        m = _COLLECT.match(line)
        if m:
            self.collected += 1
            self.bar.update(
                label="collecting", total=0, done=0, note=f"{self.collected}: {m.group(1)}"
            )
            return
        m = _DOWNLOAD.match(line)
        if m and m.group(1).endswith(".metadata"):
            self.bar.update(note=f"{self.collected}: metadata of {_short(m.group(1)[:-9])}")
            return
        if m:
            size = int(float(m.group(2)) * _UNITS[m.group(3)]) if m.group(2) else 0
            self.current = _short(m.group(1))
            self.bar.unit = "B"
            if self.raw:  # pip counts the bytes: a bar against the size
                self.bar.update(label=f"downloading {self.current}", total=size, done=0, note="")
            else:  # no count to come: the size and the time spent, not a bar stuck at 0%
                self.bar.update(
                    label=f"downloading {self.current}",
                    total=0,
                    done=0,
                    note=f"({human(size, 'B')})" if size else "",
                )
            return
        m = _INSTALLING.match(line)
        if m:
            self.to_install = [n.strip() for n in m.group(1).split(",") if n.strip()]
            self.bar.unit = ""
            self.bar.update(
                label="installing",
                total=len(self.to_install),
                done=0,
                note=self.to_install[0] if self.to_install else "",
            )
            self._start_poller()
            return
        m = _UNINSTALL.match(line)
        if m:
            self.bar.update(note=f"replacing {m.group(1)}")
            return
        m = _UV_PHASE.match(line)
        if m:
            self.bar.update(note=f"{m.group(1).lower()} {m.group(2)} packages")

    def _start_poller(self) -> None:
        if self._poller is not None or len(self.to_install) < 2:
            return
        self._poller = threading.Thread(target=self._poll, daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        try:
            site = VenvLayout.detect(self.venv_python.parent.parent).site_packages()
        except (OSError, ValueError):
            return
        since = time.time() - 1.0
        wanted = [canonical(n) for n in self.to_install]
        while not self._stop.wait(0.3):
            done: set[str] = set()
            try:
                for entry in os.scandir(site):
                    if entry.name.endswith(".dist-info") and entry.stat().st_mtime >= since:
                        done.add(canonical(entry.name.split("-", 1)[0]))
            except OSError:
                continue
            finished = [n for n in wanted if n in done]
            left = [n for n, w in zip(self.to_install, wanted, strict=True) if w not in done]
            self.bar.update(done=len(finished), note=left[0] if left else "")

    def stop(self) -> None:
        self._stop.set()
        if self._poller is not None:
            self._poller.join(timeout=2)


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
    on_start: Callable[[int], None] | None = None,
) -> InstallStats:
    """Run one install step; raise ``ProcessError`` (naming the log) when it fails."""
    reporter = reporter or Reporter()
    index = index or IndexOptions()
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
        argv = [
            str(venv_python),
            *(["-s"] if embedded else []),
            "-m",
            "pip",
            "install",
            "--no-input",
            "--progress-bar",
            "off",
            "--disable-pip-version-check",
            "--no-compile",
            "--no-warn-conflicts",
            *args,
            *index.pip_args(),
        ]
        tool = "pip"
    stats = InstallStats()
    raw = tool == "pip" and pip_version(venv_python) >= (24, 1)
    if raw:
        # Bytes as they come, one line each: what the live line's size and time left come from.
        argv[argv.index("--progress-bar") + 1] = "raw"

    def on_line(line: str) -> None:
        watch.line(line)
        m = _COLLECT.match(line)
        if m:
            stats.collected.append(m.group(1))
            return
        m = _DOWNLOAD.match(line)
        if m and m.group(2) and not m.group(1).endswith(".metadata"):
            stats.downloaded += int(float(m.group(2)) * _UNITS[m.group(3)])
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
    with reporter.progress("resolving", 0) as bar:
        watch = _InstallWatch(bar, venv_python, raw=raw)
        try:
            code = proc.stream(
                argv,
                log=log_path,
                env=proc.clean_env(venv=venv),
                timeout=timeout,
                on_line=on_line,
                log_line=lambda line: not _RAW.match(line),
                on_start=on_start,
            )
        finally:
            watch.stop()
    stats.seconds = time.monotonic() - started
    if code != 0:
        tail = _last_error(log_path)
        raise ProcessError(
            f"{label} failed ({tool} exit code {code})" + (f": {tail}" if tail else ""),
            returncode=code,
            hint=f"the installer's output is in {log_path}",
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
