"""Launch arguments that fit the machine, and writing them into ``webui-user.sh`` / ``.bat``.

The arguments per backend come from the manifest (``[launch.recommended]``); this module adds the
advice that depends on the card itself (an RX 6000 or newer on DirectML does better with ZLUDA)
and edits the ``COMMANDLINE_ARGS`` line of the webui-user files, keeping every other line and
every argument the user already has.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from typing import Any

from repair.fsops import atomic_write

_SH_LINE = re.compile(r"^(\s*)(export\s+)?COMMANDLINE_ARGS=(.*)$")
_SH_COMMENTED = re.compile(r"^\s*#\s*(export\s+)?COMMANDLINE_ARGS=")
_BAT_LINE = re.compile(r'^(\s*)set\s+"?COMMANDLINE_ARGS=(.*?)"?\s*$', re.IGNORECASE)
_RADEON = re.compile(r"\bRX\s*(\d{3,4})\b", re.IGNORECASE)


def recommended_args(manifest: Any, backend: str) -> list[str]:
    """The manifest's launch arguments for ``backend`` (a string or a list in the TOML)."""
    value = manifest.get(f"launch.recommended.{backend}", "")
    if isinstance(value, list):
        return [str(v) for v in value]
    return shlex.split(str(value)) if value else []


def card_advice(backend: str, devices: tuple[str, ...] | list[str]) -> list[str]:
    """Advice that depends on the card, not only on the backend (field notes 1)."""
    notes: list[str] = []
    for device in devices:
        m = _RADEON.search(device)
        if not m:
            continue
        series = int(m.group(1))
        series = series * 10 if series < 1000 else series  # "RX 580" -> 5800
        if backend == "directml" and series >= 6000:
            notes.append(
                f"{device} does better with ZLUDA than with DirectML: run again with "
                "--backend zluda (ZLUDA needs the HIP SDK)"
            )
        elif backend in ("directml", "zluda") and series < 6000:
            notes.append(
                f"{device} is an older card: keep --no-half (it does not handle half precision)"
            )
    return notes


def merge_args(existing: str, wanted: list[str]) -> str:
    """The user's arguments, then each wanted one that is not there yet (order kept)."""
    try:
        have = shlex.split(existing)
    except ValueError:
        have = existing.split()
    out = list(have)
    for arg in wanted:
        if arg not in out:
            out.append(arg)
    return " ".join(shlex.quote(a) if " " in a else a for a in out)


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return re.sub(r"\s+#.*$", "", value)


def edit_text(text: str, wanted: list[str], *, bat: bool) -> str:
    """``text`` with its COMMANDLINE_ARGS line carrying ``wanted``; every other line kept."""
    newline = "\r\n" if "\r\n" in text or (bat and not text) else "\n"
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if bat:
            m = _BAT_LINE.match(line)
            if m:
                lines[i] = f"{m.group(1)}set COMMANDLINE_ARGS={merge_args(m.group(2), wanted)}"
                return newline.join(lines) + newline
        else:
            m = _SH_LINE.match(line)
            if m:
                merged = merge_args(_unquote(m.group(3)), wanted)
                lines[i] = f'{m.group(1)}{m.group(2) or ""}COMMANDLINE_ARGS="{merged}"'
                return newline.join(lines) + newline
    # No active line: put one after the commented template line, else before "call webui.bat"
    # (bat) or at the end (sh).
    merged = merge_args("", wanted)
    new = f"set COMMANDLINE_ARGS={merged}" if bat else f'export COMMANDLINE_ARGS="{merged}"'
    at = len(lines)
    for i, line in enumerate(lines):
        if bat and line.strip().lower().startswith("call "):
            at = i
            break
        if not bat and _SH_COMMENTED.match(line):
            at = i + 1
            break
    lines.insert(at, new)
    return newline.join(lines) + newline


def new_file_text(wanted: list[str], *, bat: bool) -> str:
    if bat:
        return edit_text(
            "@echo off\r\n\r\nset PYTHON=\r\nset GIT=\r\nset VENV_DIR=\r\n\r\ncall webui.bat\r\n",
            wanted,
            bat=True,
        )
    return edit_text(
        "#!/bin/bash\n# Settings for the web UI, read by webui.sh.\n", wanted, bat=False
    )


def write_launch_args(root: Path, wanted: list[str], *, windows: bool | None = None) -> list[Path]:
    """Put ``wanted`` into the webui-user files of ``root``: each one that exists, and the
    host's own (``.bat`` on Windows, ``.sh`` elsewhere) created when missing. Returns the files
    that changed. A file whose content would not change is not touched."""

    windows = os.name == "nt" if windows is None else windows
    own = root / ("webui-user.bat" if windows else "webui-user.sh")
    changed: list[Path] = []
    for path in (root / "webui-user.sh", root / "webui-user.bat"):
        bat = path.suffix == ".bat"
        if path.is_file():
            raw = path.read_bytes()
            text = raw.decode("utf-8", errors="surrogateescape")
            new = edit_text(text, wanted, bat=bat)
            if new == text:
                continue
        elif path == own and wanted:
            new = new_file_text(wanted, bat=bat)
        else:
            continue
        atomic_write(path, new.encode("utf-8", errors="surrogateescape"))
        changed.append(path)
    return changed
