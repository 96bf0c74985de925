"""The wheel as a user gets it: built from this tree, installed into a fresh venv (not editable),
with its data files (finding docs, signatures, schedule templates, manifests) and its commands
working from there."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.kit import copy_venv, pip_env, venv_python

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_wheel_installs_and_runs_from_a_fresh_venv(tmp_path: Path, template_venv: Path) -> None:
    # Built from a copy: the build writes build/ and *.egg-info beside its sources.
    src = tmp_path / "src"
    for name in ("repair", "manifests"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    out = tmp_path / "dist"
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-v",
            "-w",
            str(out),
            str(src),
        ],
        env=pip_env(),
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    assert "is absent from the `packages` configuration" not in build.stdout + build.stderr
    (wheel,) = out.glob("webui_repair-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for needed in (
        "repair/data/signatures.jsonl",
        "repair/data/findings/stale-residue.md",
        "repair/data/schedule/webui-repair.timer.in",
    ):
        assert needed in names, needed
    assert any(n.endswith("share/webui-repair/manifests/a1111.toml") for n in names)

    venv = copy_venv(template_venv, tmp_path / "fresh")
    python = venv_python(venv)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel)],
        env=pip_env(),
        check=True,
        capture_output=True,
        timeout=300,
    )
    # The dependencies come from the test runner's own environment (offline), after the
    # fresh venv's site-packages: the tool itself is the wheel's copy, not this checkout.
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    (Path(site.strip()) / "zz-deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    bindir = python.parent
    where = subprocess.run(
        [str(python), "-c", "import repair; print(repair.__file__)"],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout + where.stderr

    listed = subprocess.run(
        [str(bindir / "repair"), "check", "--list"],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr
    assert "stale-residue" in listed.stdout
    explained = subprocess.run(
        [str(bindir / "repair"), "check", "--explain", "stale-residue"],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert explained.returncode == 0 and "~umpy" in explained.stdout

    log = tmp_path / "webui.log"
    log.write_text(
        "Traceback (most recent call last):\nImportError: numpy.core.multiarray failed to import\n"
    )
    diag = subprocess.run(
        [str(bindir / "repair"), "diagnose", str(log)],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert diag.returncode == 1, diag.stdout + diag.stderr
    assert "verdict" in diag.stdout
    shown = subprocess.run(
        [str(bindir / "repair"), "manifests", "list"],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert shown.returncode == 0 and "a1111" in shown.stdout, shown.stderr
