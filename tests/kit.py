"""The test kit: real wheels, real venvs, real pip, isolated from the machine's pip configuration.

- ``build_wheel``: a valid wheel for any name/version, with dependencies and files.
- ``pip_env``: an environment for pip with every ``PIP_*`` variable of the machine removed, no
  config file, no index, and only the given ``--find-links`` folders.
- ``make_venv`` / ``copy_venv``: venvs built with virtualenv, copied from session templates.
- ``pip_install``: real pip into a venv, from a local folder.
- ``unpack_wheel``: writes a wheel into any site-packages folder the way an installer does, for
  synthetic trees (the Windows layout on a POSIX host).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from repair.env.wheelkit import build_wheel, unpack_wheel

__all__ = ["build_wheel", "unpack_wheel"]

WINDOWS_HOST = os.name == "nt"


def dist_folder_name(name: str) -> str:
    return name.replace("-", "_")


def pip_env(*find_links: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a pip run that sees nothing of the machine's pip configuration."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIP_", "UV_")) and k not in ("VIRTUAL_ENV", "PYTHONPATH")
    }
    env.update(
        {
            "PIP_CONFIG_FILE": os.devnull,
            "PIP_NO_INDEX": "1",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PIP_NO_WARN_SCRIPT_LOCATION": "1",
            "PIP_NO_INPUT": "1",
            "PIP_NO_CACHE_DIR": "1",
            "UV_NO_CONFIG": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    if find_links:
        env["PIP_FIND_LINKS"] = " ".join(str(p) for p in find_links)
    if extra:
        env.update(extra)
    return env


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if WINDOWS_HOST else "bin/python")


def site_packages(venv: Path) -> Path:
    if WINDOWS_HOST:
        return venv / "Lib" / "site-packages"
    return next((venv / "lib").glob("python3*/site-packages"))


def make_venv(path: Path, *, python: str | None = None, pip: bool = True) -> Path:
    """A real venv made with virtualenv (pip and setuptools seeded from its bundled wheels,
    offline). ``pip=False`` makes one without pip."""
    args = [sys.executable, "-m", "virtualenv", "-q", "--no-periodic-update", "--no-vcs-ignore"]
    if python:
        args += ["-p", python]
    if not pip:
        args += ["--no-seed"]
    else:
        args += ["--no-wheel"] if _virtualenv_knows("--no-wheel") else []
    subprocess.run([*args, str(path)], check=True, env=pip_env(), capture_output=True)
    return path


_VENV_HELP: str | None = None


def _virtualenv_knows(flag: str) -> bool:
    global _VENV_HELP
    if _VENV_HELP is None:
        _VENV_HELP = subprocess.run(
            [sys.executable, "-m", "virtualenv", "--help"], capture_output=True, text=True
        ).stdout
    return flag in _VENV_HELP


def copy_venv(template: Path, dest: Path) -> Path:
    """Copy a template venv (links kept as links). ``python -m pip`` works in the copy."""
    shutil.copytree(template, dest, symlinks=True)
    cfg = dest / "pyvenv.cfg"
    text = cfg.read_text().replace(str(template), str(dest))
    cfg.write_text(text)
    return dest


def pip_install(
    venv: Path, *args: str, find_links: Iterable[Path] = (), check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Real pip, in the venv, from local folders only."""
    cmd = [str(venv_python(venv)), "-m", "pip", "install", "-q", "--no-compile", *args]
    proc = subprocess.run(cmd, env=pip_env(*find_links), capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"pip failed: {proc.stdout}\n{proc.stderr}")
    return proc


def make_windows_tree(venv: Path, wheels: Iterable[Path], *, version: str = "3.10.6") -> Path:
    """A synthetic Windows-layout venv (Scripts\\python.exe, Lib\\site-packages) with ``wheels``
    unpacked into it. Its python cannot run here: the tool must read it from the files."""
    (venv / "Scripts").mkdir(parents=True)
    (venv / "Scripts" / "python.exe").write_bytes(b"MZ\x90\x00")
    (venv / "Scripts" / "pip.exe").write_bytes(b"MZ\x90\x00")
    (venv / "pyvenv.cfg").write_text(
        f"home = C:\\Users\\artist\\AppData\\Local\\Programs\\Python\\Python310\n"
        f"include-system-site-packages = false\nversion = {version}\n"
    )
    site = venv / "Lib" / "site-packages"
    site.mkdir(parents=True)
    for wheel in wheels:
        unpack_wheel(wheel, site)
    return venv


def tree_digest(root: Path) -> dict[str, str]:
    """Every entry under ``root``: its kind, mode and content hash (links by their target).
    Two trees with equal digests are byte-identical."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root)
            st = os.lstat(full)
            if os.path.islink(full):
                out[rel] = f"link:{os.readlink(full)}"
            elif os.path.isdir(full):
                out[rel] = f"dir:{oct(st.st_mode)}"
            else:
                with open(full, "rb") as f:
                    out[rel] = f"file:{oct(st.st_mode)}:{hashlib.sha256(f.read()).hexdigest()}"
    return out
