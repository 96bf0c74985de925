"""The install being worked on: the application folder, its venv and its manifest, with where each
setting came from (option, webui-user file, manifest, default)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from repair.errors import UsageError
from repair.manifest import Manifest

_SH_ASSIGN = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
_BAT_ASSIGN = re.compile(r'^\s*set\s+"?([A-Za-z_][A-Za-z0-9_]*)=(.*?)"?\s*$', re.IGNORECASE)


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    # A trailing comment on a shell line (a scan: a regex is quadratic on a line of spaces).
    i = value.find("#")
    while i > 0:
        if value[i - 1].isspace():
            return value[:i].rstrip()
        i = value.find("#", i + 1)
    return value


def read_webui_user(path: Path) -> dict[str, str]:
    """Variable assignments of a ``webui-user.sh`` or ``webui-user.bat`` (comments skipped)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    values: dict[str, str] = {}
    bat = path.suffix.lower() in (".bat", ".cmd")
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if bat:
            if stripped.lower().startswith(("rem ", "::")):
                continue
            m = _BAT_ASSIGN.match(stripped)
            if m:
                values[m.group(1)] = m.group(2).strip()
        else:
            if stripped.startswith("#"):
                continue
            m = _SH_ASSIGN.match(stripped)
            if m:
                values[m.group(1)] = _unquote(m.group(2))
    return values


@dataclass(frozen=True)
class Install:
    dir: Path
    venv: Path
    manifest: Manifest
    sources: dict[str, str] = field(default_factory=dict)
    settings: dict[str, str] = field(default_factory=dict)  # from webui-user.bat/.sh
    settings_file: Path | None = None

    @property
    def launch_args(self) -> str:
        return self.settings.get("COMMANDLINE_ARGS", "")


def webui_user_files(root: Path) -> list[Path]:
    """The webui-user files that apply, the host platform's own first."""
    names = ["webui-user.sh", "webui-user.bat"]
    if os.name == "nt":
        names.reverse()
    return [root / n for n in names if (root / n).is_file()]


def resolve(
    dir: str | None = None, venv: str | None = None, manifest: str | None = None
) -> Install:
    """Build the install from the options; bad options raise ``UsageError`` (exit 2)."""
    from repair import manifest as manifests

    sources: dict[str, str] = {}
    root = Path(dir).expanduser() if dir else Path.cwd()
    sources["dir"] = "--dir" if dir else "current directory"
    if not root.exists():
        raise UsageError(f"no such folder: {root}")
    if not root.is_dir():
        raise UsageError(f"not a folder: {root}")
    try:
        os.listdir(root)
    except PermissionError as exc:
        raise UsageError(f"cannot read folder {root}: permission denied") from exc
    root = root.resolve()

    if manifest:
        chosen = manifests.load(manifest)
        sources["manifest"] = "--manifest"
    else:
        chosen = manifests.detect(root)
        sources["manifest"] = ("detected from marker files" if chosen.name != "generic"
                               else "default")

    settings: dict[str, str] = {}
    settings_file: Path | None = None
    files = [f for f in webui_user_files(root) if f.name in chosen.settings_files]
    if files:
        settings_file = files[0]
        settings = read_webui_user(settings_file)

    if venv:
        venv_path = Path(venv).expanduser()
        if not venv_path.is_absolute():
            venv_path = Path.cwd() / venv_path
        sources["venv"] = "--venv"
    else:
        venv_path, sources["venv"] = _venv_from_settings(root, chosen, files)
    if venv_path.exists() and not venv_path.is_dir():
        raise UsageError(f"the venv path is a file, not a folder: {venv_path}")
    return Install(
        dir=root,
        venv=Path(os.path.abspath(venv_path)),
        manifest=chosen,
        sources=sources,
        settings=settings,
        settings_file=settings_file,
    )


def _venv_from_settings(root: Path, manifest: Manifest, files: list[Path]) -> tuple[Path, str]:
    names = manifest.venv_settings or ["VENV_DIR", "venv_dir"]
    for path in files:
        values = read_webui_user(path)
        for name in names:
            value = values.get(name)
            if value and value != "-":
                # webui.bat accepts %~dp0 (the app folder) in VENV_DIR.
                value = value.replace("%~dp0", str(root) + os.sep)
                if path.suffix.lower() == ".bat" and os.sep == "/":
                    value = value.replace("\\", "/")  # a Windows install read from POSIX
                candidate = Path(value).expanduser()
                if not candidate.is_absolute():
                    candidate = root / candidate
                return candidate, f"{name} in {path.name}"
    dirs = manifest.venv_dirs
    for name in dirs:
        if (root / name).exists():
            return root / name, f"manifest {manifest.name} ({name})"
    return root / (dirs[0] if dirs else "venv"), f"manifest {manifest.name} default"
