"""Venv layout knowledge, read from the outside: POSIX (bin/, lib/pythonX.Y/site-packages) and
Windows (Scripts\\, Lib\\site-packages) trees, and a tolerant pyvenv.cfg reader.

Nothing here runs the venv's python: see ``interp.py`` for that.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from repair.env.dists import MetadataError, read_text_file

WINDOWS = "windows"
POSIX = "posix"
# An embedded Python (ComfyUI portable's ``python_embeded``): python.exe at the top, a
# ``pythonXY._pth`` file instead of pyvenv.cfg, packages in Lib\site-packages. Windows only.
EMBEDDED = "embedded"
_PTH_RE = re.compile(r"^python(\d)(\d+)\._pth$", re.IGNORECASE)
_DLL_RE = re.compile(r"^python(\d)(\d+)\.dll$", re.IGNORECASE)


def embedded_version(root: Path) -> tuple[str, str] | None:
    """``(X.Y, file)`` of an embedded Python, read from its ``pythonXY._pth`` (or, without one,
    its ``pythonXY.dll``); None when ``root`` is no embedded Python."""
    try:
        names = sorted(p.name for p in root.iterdir())
    except OSError:
        return None
    for pattern in (_PTH_RE, _DLL_RE):
        for name in names:
            m = pattern.match(name)
            if m:
                return f"{m.group(1)}.{m.group(2)}", name
    return None


class PyvenvCfgError(Exception):
    """pyvenv.cfg exists but cannot be read as text."""


@dataclass(frozen=True)
class PyvenvCfg:
    path: Path
    values: dict[str, str] = field(default_factory=dict)

    @property
    def home(self) -> str | None:
        return self.values.get("home")

    @property
    def version(self) -> str | None:
        # venv writes "version", virtualenv "version_info", uv "version_info" too.
        for key in ("version", "version_info"):
            value = self.values.get(key)
            if value and re.match(r"^\d+\.\d+", value):
                return value
        return None

    @property
    def include_system_site_packages(self) -> bool:
        return self.values.get("include-system-site-packages", "false").lower() == "true"


def read_pyvenv_cfg(path: Path) -> PyvenvCfg:
    """Parse ``key = value`` lines the way CPython's site.py does: tolerant of junk lines."""
    try:
        text = read_text_file(path)
    except MetadataError as exc:
        raise PyvenvCfgError(str(exc)) from exc
    text = text.lstrip("\ufeff")
    values: dict[str, str] = {}
    for line in text.splitlines():
        if "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip().lower()
        if key:
            values[key] = value.strip()
    return PyvenvCfg(path, values)


def _version_from_lib(venv: Path) -> str | None:
    lib = venv / "lib"
    if not lib.is_dir():
        return None
    try:
        names = sorted(p.name for p in lib.iterdir())
    except OSError:
        return None
    for name in names:
        m = re.fullmatch(r"python(\d+\.\d+)t?", name)
        if m:
            return m.group(1)
    return None


@dataclass(frozen=True)
class VenvLayout:
    """Where things are in one venv. ``kind`` is ``windows`` or ``posix``."""

    root: Path
    kind: str

    @classmethod
    def detect(cls, root: Path) -> VenvLayout:
        """Tell the layout from what is on disk; fall back to the host's own layout."""
        if (
            not (root / "pyvenv.cfg").exists()
            and (root / "python.exe").exists()
            and embedded_version(root) is not None
        ):
            return cls(root, EMBEDDED)
        if (root / "Scripts").is_dir() or (root / "Lib" / "site-packages").is_dir():
            # A case-insensitive filesystem shows lib/ as Lib/ too: bin/ settles it.
            if not (root / "bin").is_dir():
                return cls(root, WINDOWS)
        if (root / "bin").is_dir() or (root / "lib").is_dir():
            return cls(root, POSIX)
        return cls(root, WINDOWS if os.name == "nt" else POSIX)

    @property
    def is_foreign(self) -> bool:
        """A Windows venv seen from POSIX or the reverse: its python cannot run here."""
        return (self.kind != POSIX) != (os.name == "nt")

    @property
    def windows(self) -> bool:
        return self.kind != POSIX

    @property
    def embedded(self) -> bool:
        return self.kind == EMBEDDED

    @property
    def bin_dir(self) -> Path:
        if self.kind == EMBEDDED:
            return self.root
        return self.root / ("Scripts" if self.kind == WINDOWS else "bin")

    @property
    def cfg_path(self) -> Path:
        return self.root / "pyvenv.cfg"

    def python_candidates(self) -> list[Path]:
        if self.kind != POSIX:
            return [self.bin_dir / "python.exe", self.bin_dir / "python"]
        return [self.bin_dir / "python", self.bin_dir / "python3"]

    @property
    def python(self) -> Path:
        """The venv's interpreter (the first candidate that exists, else the canonical name)."""
        candidates = self.python_candidates()
        for candidate in candidates:
            if os.path.lexists(candidate):
                return candidate
        return candidates[0]

    def site_packages(self, version: str | None = None) -> Path:
        """The purelib folder. ``version`` is ``X.Y``; guessed from the tree when not given."""
        if self.kind != POSIX:
            return self.root / "Lib" / "site-packages"
        if version:
            xy = ".".join(version.split(".")[:2])
            candidate = self.root / "lib" / f"python{xy}" / "site-packages"
            if candidate.is_dir():
                return candidate
        found = _version_from_lib(self.root)
        if found:
            for suffix in ("", "t"):
                candidate = self.root / "lib" / f"python{found}{suffix}" / "site-packages"
                if candidate.is_dir():
                    return candidate
        xy = ".".join((version or "3.10").split(".")[:2])
        return self.root / "lib" / f"python{xy}" / "site-packages"


def home_python_exists(home: str, *, windows: bool) -> bool:
    """Does the ``home`` of pyvenv.cfg still hold a Python?"""
    base = Path(home)
    if not base.is_dir():
        return False
    names = ("python.exe", "python3.exe") if windows else ("python3", "python")
    if any((base / n).exists() for n in names):
        return True
    try:
        return any(p.name.startswith("python") for p in base.iterdir())
    except OSError:
        return False
