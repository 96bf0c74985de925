"""The world ``repair install`` runs against in the tests: a bare git repository as the upstream,
a folder of wheels as the package index, a per-backend folder with a tiny ``torch`` stand-in, and
a manifest (TOML) that points at them. Nothing reaches the network."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.kit import build_wheel

REPO_ROOT = Path(__file__).resolve().parents[2]

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.invalid",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_TERMINAL_PROMPT": "0",
}

TORCH_BUILDS = {
    "cpu": ("2.1.2+cpu", "None", "None"),
    "cuda": ("2.1.2+cu121", "'12.1'", "None"),
    "rocm": ("2.1.2+rocm5.6", "None", "'5.6.31061'"),
    "directml": ("2.0.0", "None", "None"),
    "zluda": ("2.1.2+cu118", "'11.8'", "None"),
}
LAUNCH = {
    "cpu": "--use-cpu all --no-half",
    "cuda": "--xformers",
    "rocm": "",
    "directml": "--use-directml --opt-sub-quad-attention --no-half --disable-nan-check",
    "zluda": "--use-zluda",
}
REQUIREMENTS = "numpy==1.26.4\nsafetensors>=0.4\neinops\n"
WEBUI_USER_SH = """#!/bin/bash
# Uncomment and change the variables below to your need:
#export COMMANDLINE_ARGS=""
#python_cmd="python3"
"""
WEBUI_USER_BAT = (
    "@echo off\r\n\r\nset PYTHON=\r\nset GIT=\r\nset VENV_DIR=\r\n"
    "set COMMANDLINE_ARGS=\r\n\r\ncall webui.bat\r\n"
)


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, **GIT_ENV, "HOME": str(cwd)}
    out = subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    )
    return out.stdout.strip()


@dataclass(frozen=True)
class World:
    root: Path
    upstream: Path  # a bare repository
    work: Path  # the upstream's working copy (to add commits)
    wheels: Path
    manifest: Path
    first_commit: str

    def torch_index(self, backend: str) -> Path:
        return self.root / "torch" / backend


def make_torch(dest: Path, backend: str) -> Path:
    version, cuda, hip = TORCH_BUILDS[backend]
    return build_wheel(
        dest,
        "torch",
        version,
        files={
            "torch/__init__.py": f"__version__ = {version!r}\nfrom torch import version\n",
            "torch/version.py": f"__version__ = {version!r}\ncuda = {cuda}\nhip = {hip}\n",
        },
    )


def make_world(root: Path, *, requirements: str = REQUIREMENTS) -> World:
    wheels = root / "wheels"
    build_wheel(wheels, "numpy", "1.26.4")
    build_wheel(wheels, "numpy", "2.1.0")
    build_wheel(wheels, "safetensors", "0.4.3")
    build_wheel(wheels, "einops", "0.8.0")
    for backend in TORCH_BUILDS:
        make_torch(root / "torch" / backend, backend)
    build_wheel(
        root / "torch" / "directml", "torch-directml", "0.2.0.dev230426", requires=["torch==2.0.0"]
    )

    work = root / "upstream-work"
    work.mkdir(parents=True)
    git(work, "init", "-q", "-b", "master")
    (work / "requirements.txt").write_text(requirements)
    (work / "launch.py").write_text("print('the test web UI')\n")
    (work / "webui-user.sh").write_text(WEBUI_USER_SH)
    (work / "webui-user.bat").write_bytes(WEBUI_USER_BAT.encode())
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "first")
    first = git(work, "rev-parse", "HEAD")
    upstream = root / "upstream.git"
    git(root, "clone", "-q", "--bare", str(work), str(upstream))
    git(work, "remote", "add", "origin", str(upstream))

    lines = [
        "schema = 1",
        'name = "testui"',
        'title = "A test web UI"',
        "[repository]",
        f'url = "{upstream.as_posix()}"',
        'branch = "master"',
        "[python]",
        'supported = ">=3.10"',
        "[requirements]",
        'files = ["requirements.txt"]',
        "[venv]",
        'dirs = ["venv"]',
        'settings = ["VENV_DIR", "venv_dir"]',
    ]
    for backend in TORCH_BUILDS:
        version = TORCH_BUILDS[backend][0]
        packages = f'"torch=={version}"' + (', "torch-directml"' if backend == "directml" else "")
        lines += [
            f"[torch.{backend}]",
            f"packages = [{packages}]",
            f'index_url = "{(root / "torch" / backend).as_uri()}"',
        ]
    lines.append("[launch.recommended]")
    lines += [f'{backend} = "{args}"' for backend, args in LAUNCH.items()]
    manifest = root / "testui.toml"
    manifest.write_text("\n".join(lines) + "\n")
    return World(root, upstream, work, wheels, manifest, first)


def install_args(world: World, target: Path, *extra: str, backend: str = "cpu") -> list[str]:
    return [
        "install",
        str(world.manifest),
        "--dir",
        str(target),
        "--backend",
        backend,
        "--python",
        sys.executable,
        "--find-links",
        str(world.wheels),
        "--yes",
        *extra,
    ]


def run_cli(
    args: list[str], env_extra: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """The CLI as its own process (for kills)."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "repair", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO_ROOT,
    )


def installed_versions(venv: Path) -> dict[str, str]:
    from repair.env.dists import scan_site
    from repair.env.layout import VenvLayout

    site = VenvLayout.detect(venv).site_packages()
    return {d.key: d.version for d in scan_site(site).dists if d.has_metadata}
