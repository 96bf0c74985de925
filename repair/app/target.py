"""The install being worked on: the application folder, its venv and its manifest, with where each
setting came from (option, webui-user file, manifest, default)."""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from repair.app.manifest import Manifest
from repair.errors import ProcessError, UsageError

if TYPE_CHECKING:
    from repair.selection import InstallSelection

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


# Layouts whose Python the tool must never create, recreate or delete: it belongs to a launcher or
# to the user's own Python installation. Their packages are repaired in place.
IN_PLACE_LAYOUTS = ("comfyui-portable", "no-venv")


@dataclass(frozen=True)
class RequirementSource:
    """One requirements file of the install: the application's own, or one custom node's or
    extension's (``kind`` ``custom-node`` / ``extension``, ``name`` its folder)."""

    path: Path
    kind: str  # "app", "custom-node" or "extension"
    name: str
    constraint: bool = False

    @property
    def label(self) -> str:
        if self.kind == "custom-node":
            return f"custom node {self.name}"
        if self.kind == "extension":
            return f"extension {self.name}"
        return self.name

    @property
    def is_app(self) -> bool:
        return self.kind == "app"


@dataclass(frozen=True)
class Install:
    dir: Path
    venv: Path
    manifest: Manifest
    sources: dict[str, str] = field(default_factory=dict)
    settings: dict[str, str] = field(default_factory=dict)  # from webui-user.bat/.sh
    settings_file: Path | None = None
    # How the environment is laid out (``venv``, ``comfyui-portable``, ``comfyui-desktop``,
    # ``stabilitymatrix``, ``pinokio``, ``no-venv``); ``sources["layout"]`` says from what.
    layout: str = "venv"

    @property
    def launch_args(self) -> str:
        return self.settings.get("COMMANDLINE_ARGS", "")

    @property
    def in_place(self) -> bool:
        """The environment is repaired in place: never created, recreated or deleted."""
        return self.layout in IN_PLACE_LAYOUTS

    def requirement_sources(self) -> list[RequirementSource]:
        """Every requirements file of the install, the one place where they are listed: the
        manifest's files and constraint files, then each enabled custom node's or extension's
        ``requirements.txt`` (folders under the manifest's ``extensions.paths``, sorted as the
        application loads them)."""
        manifest = self.manifest
        title = manifest.title
        out = [
            RequirementSource(self.dir / rel, "app", title) for rel in manifest.requirement_files
        ]
        out += [
            RequirementSource(self.dir / rel, "app", title, constraint=True)
            for rel in manifest.constraint_files
        ]
        disabled = _disabled_extensions(self.dir)
        for rel in manifest.get("extensions.paths", ["extensions", "custom_nodes"]):
            folder = self.dir / rel
            kind = "custom-node" if Path(rel).name == "custom_nodes" else "extension"
            try:
                children = sorted(folder.iterdir(), key=lambda p: p.name.lower())
            except OSError:
                continue
            for child in children:
                name = child.name
                # ComfyUI skips hidden folders and names ending in .disabled (ComfyUI-Manager
                # moves disabled nodes to custom_nodes/.disabled); A1111 lists its own.
                if name.startswith((".", "__")) or name.endswith(".disabled") or name in disabled:
                    continue
                req = child / "requirements.txt"
                if req.is_file():
                    out.append(RequirementSource(req, kind, name))
        return out


def _disabled_extensions(root: Path) -> set[str]:
    """Extensions the A1111 family's ``config.json`` disables (``disabled_extensions``)."""
    path = root / "config.json"
    if not path.is_file():
        return set()
    # lazy: start-up time
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, ValueError):
        return set()
    names = data.get("disabled_extensions") if isinstance(data, dict) else None
    return {str(n) for n in names} if isinstance(names, list) else set()


def webui_user_files(root: Path) -> list[Path]:
    """The webui-user files that apply, the host platform's own first."""
    names = ["webui-user.sh", "webui-user.bat"]
    if os.name == "nt":
        names.reverse()
    return [root / n for n in names if (root / n).is_file()]


def resolve_selection(where: InstallSelection) -> Install:
    """The install that a command's ``--dir``, ``--venv`` and ``--manifest`` name
    (``resolve``)."""
    return resolve(where.dir, where.venv, where.manifest)


def resolve(
    dir: str | None = None, venv: str | None = None, manifest: str | None = None
) -> Install:
    """Build the install from the options; bad options raise ``UsageError`` (exit 2)."""
    # lazy: start-up time
    from repair.app import manifest as manifests

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

    found = detect_layout(root)
    if found is not None:
        if found.dir != root:
            sources["dir"] += f" ({found.layout}: {found.dir.name})"
        root = found.dir
        sources["layout"] = found.source

    if manifest:
        chosen = manifests.load(manifest)
        sources["manifest"] = "--manifest"
    elif found is not None and found.manifest:
        chosen = manifests.load(found.manifest)
        sources["manifest"] = f"the {found.layout} layout"
    else:
        chosen = manifests.detect(root)
        sources["manifest"] = (
            "detected from marker files" if chosen.name != "generic" else "default"
        )
        if chosen.name == "generic" and not venv and found is None:
            _refuse_if_not_webui(root, chosen)

    settings: dict[str, str] = {}
    settings_file: Path | None = None
    files = [f for f in webui_user_files(root) if f.name in chosen.settings_files]
    if files:
        settings_file = files[0]
        settings = read_webui_user(settings_file)

    layout = found.layout if found is not None else "venv"
    if venv:
        venv_path = Path(venv).expanduser()
        if not venv_path.is_absolute():
            venv_path = Path.cwd() / venv_path
        sources["venv"] = "--venv"
        # lazy: start-up time
        from repair.env.layout import VenvLayout

        if VenvLayout.detect(venv_path).embedded:
            layout = "comfyui-portable"
            sources.setdefault("layout", f"--venv names an embedded Python ({venv_path.name})")
    elif found is not None and found.venv is not None:
        venv_path, sources["venv"] = found.venv, found.source
    else:
        venv_path, sources["venv"] = _venv_from_settings(root, chosen, files)
        if sources["venv"].startswith("no venv"):
            layout = "no-venv"
            sources["layout"] = sources["venv"]
    if venv_path.exists() and not venv_path.is_dir():
        raise UsageError(f"the venv path is a file, not a folder: {venv_path}")
    if layout == "venv" and made_by_uv(venv_path):
        sources.setdefault("layout", "pyvenv.cfg names uv: a venv made by uv (no pip is normal)")
    return Install(
        dir=root,
        venv=Path(os.path.abspath(venv_path)),
        manifest=chosen,
        sources=sources,
        settings=settings,
        settings_file=settings_file,
        layout=layout,
    )


# ---------------------------------------------------------------------------------------------
# Layouts of the launchers, each found from its own markers


@dataclass(frozen=True)
class FoundLayout:
    layout: str
    dir: Path  # the application folder
    venv: Path | None  # the environment, when the layout says where it is
    manifest: str | None  # the manifest the layout implies
    source: str  # the markers it was found from, for the report


def made_by_uv(venv: Path) -> bool:
    # lazy: start-up time
    from repair.env.layout import PyvenvCfgError, read_pyvenv_cfg

    cfg = venv / "pyvenv.cfg"
    if not cfg.is_file():
        return False
    try:
        return "uv" in read_pyvenv_cfg(cfg).values
    except PyvenvCfgError:
        return False


def _portable(root: Path) -> FoundLayout | None:
    """ComfyUI's Windows portable build: ``python_embeded/`` beside ``ComfyUI/``, started by
    ``run_nvidia_gpu.bat`` (or ``run_cpu.bat``), with ``python_embeded\\python.exe -s``."""
    # lazy: start-up time
    from repair.env.layout import embedded_version

    launchers = (
        "run_nvidia_gpu.bat",
        "run_cpu.bat",
        "run_amd_gpu.bat",
        "run_nvidia_gpu_fast_fp16_accumulation.bat",
    )
    for base in (root, root.parent):
        embedded, app = base / "python_embeded", base / "ComfyUI"
        if not app.is_dir() or not (
            embedded.is_dir() or any((base / n).is_file() for n in launchers)
        ):
            continue
        if root not in (base, app, embedded):
            continue
        markers = ["python_embeded/"] if embedded.is_dir() else []
        version = embedded_version(embedded) if embedded.is_dir() else None
        if version:
            markers.append(f"python_embeded/{version[1]} (Python {version[0]})")
        markers += [n for n in launchers if (base / n).is_file()]
        return FoundLayout(
            "comfyui-portable",
            app,
            embedded,
            "comfyui",
            f"ComfyUI portable build: {', '.join(markers)} in {base.name}",
        )
    if root.name == "python_embeded" and (root.parent / "ComfyUI").is_dir():
        return _portable(root.parent)
    return None


def detect_layout(root: Path) -> FoundLayout | None:
    """The launcher layout ``root`` belongs to, from its markers; None for a plain checkout
    with its venv inside."""
    found = _portable(root)
    if found is not None:
        return found
    if root.parent.name == "Packages" and root.parent.parent.name == "Data":
        data = root.parent.parent
        portable = (data / ".sm-portable").exists() or (data.parent / ".sm-portable").exists()
        venv = root / "venv"
        return FoundLayout(
            "stabilitymatrix",
            root,
            venv if venv.is_dir() else None,
            None,
            f"StabilityMatrix package Data/Packages/{root.name}"
            + (" (portable: .sm-portable)" if portable else ""),
        )
    pinokio_files = ("pinokio.js", "pinokio.json", "install.js", "start.js")
    for app in (root, root / "app"):
        if (
            app.name == "app"
            and (app / "env").is_dir()
            and any((app.parent / n).is_file() for n in pinokio_files)
            and not any((app / d).is_dir() for d in ("venv", ".venv"))
        ):
            marker = next(n for n in pinokio_files if (app.parent / n).is_file())
            return FoundLayout(
                "pinokio", app, app / "env", None, f"Pinokio app: app/env beside {marker}"
            )
    if (
        (root / ".venv").is_dir()
        and (root / "custom_nodes").is_dir()
        and not (root / "main.py").exists()
    ):
        uv = " made by uv" if made_by_uv(root / ".venv") else ""
        return FoundLayout(
            "comfyui-desktop",
            root,
            root / ".venv",
            "comfyui",
            f"ComfyUI Desktop base folder: .venv{uv} and custom_nodes, the app "
            "code in the Desktop application",
        )
    return None


# Folders never searched for installs below a folder that is none.
_SKIP_SEARCH = {
    "proc",
    "sys",
    "dev",
    "node_modules",
    "site-packages",
    "__pycache__",
    "venv",
    ".venv",
    "env",
    "Lib",
    "lib",
    "bin",
    "Scripts",
    "models",
    "outputs",
    "output",
}


def webui_folders(root: Path, *, depth: int = 3, limit: int = 3000) -> list[Path]:
    """Folders below ``root`` (at most ``depth`` levels, ``limit`` folders looked at) that are
    installs: a manifest's markers, or a launcher's layout."""
    # lazy: start-up time
    from repair.app import manifest as manifests

    every = [m for m in manifests.load_all() if m.name != "generic"]
    found: list[Path] = []
    queue: list[tuple[Path, int]] = [(root, 0)]
    seen = 0
    while queue and seen < limit:
        folder, level = queue.pop(0)
        try:
            with os.scandir(folder) as entries:
                children = sorted(e.name for e in entries if e.is_dir(follow_symlinks=False))
        except OSError:
            continue
        for name in children:
            if name.startswith(".") or name in _SKIP_SEARCH:
                continue
            seen += 1
            child = folder / name
            layout = detect_layout(child)
            if layout is not None and layout.layout != "stabilitymatrix":
                if layout.dir not in found:
                    found.append(layout.dir)
                continue
            if any(manifests.match_score(m, child) is not None for m in every):
                found.append(child)
                continue
            if level + 1 < depth:
                queue.append((child, level + 1))
    return found


def _refuse_if_not_webui(root: Path, generic: Manifest) -> None:
    """No manifest's markers, no requirements file and no venv: not a web UI install (exit 2),
    naming the folders below it that are."""
    if any((root / rel).is_file() for rel in generic.requirement_files):
        return
    if any((root / d / "pyvenv.cfg").is_file() for d in generic.venv_dirs):
        return  # an app of its own with its venv: checked as generic
    below = webui_folders(root)
    hint = (
        (
            "web UI installs below it: "
            + ", ".join(str(p) for p in below[:5])
            + (f" (and {len(below) - 5} more)" if len(below) > 5 else "")
            + "; pass one with --dir"
        )
        if below
        else "pass the web UI's folder with --dir (or --manifest NAME to say what it is)"
    )
    raise UsageError(
        f"{root} is not a web UI install: no marker of any manifest, no "
        "requirements file and no venv",
        hint=hint,
    )


def _venv_from_settings(root: Path, manifest: Manifest, files: list[Path]) -> tuple[Path, str]:
    names = manifest.venv_settings or ["VENV_DIR", "venv_dir"]
    for path in files:
        values = read_webui_user(path)
        skip = values.get("SKIP_VENV", "").lower() in ("1", "true", "yes")
        for name in names:
            value = values.get(name)
            if value == "-" or skip and name == names[0]:
                # No venv: the launcher runs the Python it finds (PYTHON, else python3).
                why = f"{name}=-" if value == "-" else "SKIP_VENV=1"
                return _python_prefix(values.get("PYTHON")), f"no venv ({why} in {path.name})"
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


def _python_prefix(python: str | None) -> Path:
    """The prefix of the Python a launcher runs without a venv: ``PYTHON`` when set, else the
    first ``python3``/``python`` on PATH, asked for its ``sys.prefix`` (a shim or a link says
    nothing about where it lives)."""
    # lazy: start-up time
    import shutil

    from repair import proc

    exe = python or shutil.which("python3") or shutil.which("python") or sys.executable
    try:
        res = proc.run(
            [exe, "-c", "import sys; print(sys.prefix)"], timeout=30, env=proc.clean_env()
        )
        if res.ok and res.stdout.strip():
            return Path(res.stdout.strip().splitlines()[-1])
    except ProcessError:
        pass
    path = Path(shutil.which(exe) or exe)
    # bin/python3 -> the prefix; python.exe on Windows sits in the prefix itself.
    return path.parent if path.parent.name.lower() not in ("bin", "scripts") else path.parent.parent
