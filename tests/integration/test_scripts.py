"""The scripts a person runs by hand: each answers --help without acting, and each finds a Python
that really runs (a pyenv shim that exits 127 is skipped, not used)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SH = shutil.which("sh") or "sh"
BASH = shutil.which("bash") or "bash"
pytestmark = pytest.mark.skipif(
    shutil.which("sh") is None or shutil.which("bash") is None, reason="no POSIX shell"
)


def _env(tmp_path: Path, path: str | None = None) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PYENV", "CI_"))}
    env.update(HOME=str(home), PYENV_ROOT=str(tmp_path / "no-pyenv"), REPAIR="false")
    if path is not None:
        env["PATH"] = path
    return env


@pytest.mark.parametrize(
    "script", ["scripts/fresh-install.sh", "scripts/update-webui.sh", ".ci/run"]
)
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_answers_without_acting(tmp_path: Path, script: str, flag: str) -> None:
    shell = BASH if script == ".ci/run" else SH
    env = _env(tmp_path)
    proc = subprocess.run(
        [shell, str(ROOT / script), flag],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "usage" in proc.stdout.lower() or "update a web ui" in proc.stdout.lower()
    assert "==>" not in proc.stdout + proc.stderr  # no step began
    assert list((tmp_path / "home").iterdir()) == []  # no venv, nothing written


def test_fresh_install_help_anywhere_in_the_arguments(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            SH,
            str(ROOT / "scripts/fresh-install.sh"),
            "a1111",
            "--dir",
            str(tmp_path / "x"),
            "--help",
        ],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0 and "usage:" in proc.stdout
    assert not (tmp_path / "x").exists()


def _shim_bin(tmp_path: Path) -> Path:
    """A PATH folder whose python3.10 is a broken shim (exit 127) and whose python3 works."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "python3.10"
    shim.write_text("#!/bin/sh\necho 'pyenv: python3.10: command not found' >&2\nexit 127\n")
    shim.chmod(0o755)
    (bin_dir / "python3").symlink_to(sys.executable)
    for tool in ("dirname", "sed", "cat", "mktemp"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    return bin_dir


def test_fresh_install_skips_a_broken_shim(tmp_path: Path) -> None:
    bin_dir = _shim_bin(tmp_path)
    proc = subprocess.run(
        [SH, str(ROOT / "scripts/fresh-install.sh"), "--show-python"],
        env=_env(tmp_path, str(bin_dir)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("python3 (3.")


def test_fresh_install_says_when_no_python_works(tmp_path: Path) -> None:
    bin_dir = _shim_bin(tmp_path)
    (bin_dir / "python3").unlink()
    proc = subprocess.run(
        [SH, str(ROOT / "scripts/fresh-install.sh"), "a1111", "--dir", "x"],
        env=_env(tmp_path, str(bin_dir)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "no working Python 3.10 or newer" in proc.stderr


def test_ci_prefers_python_310_from_pyenv_versions(tmp_path: Path) -> None:
    """The shim on PATH fails; pyenv's versions folder holds a 3.10 that runs: CI uses that one
    and says so."""
    bin_dir = _shim_bin(tmp_path)
    fake = tmp_path / "no-pyenv" / "versions" / "3.10.99" / "bin"
    fake.mkdir(parents=True)
    (fake / "python3.10").symlink_to(sys.executable)
    proc = subprocess.run(
        [BASH, str(ROOT / ".ci/run"), "--show-python"],
        env=_env(tmp_path, str(bin_dir)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"({fake / 'python3.10'})" in proc.stdout


def test_powershell_scripts_answer_help_before_acting() -> None:
    for name, first_action in (
        ("fresh-install.ps1", "-m venv"),
        ("update-webui.ps1", "check --pre-update"),
    ):
        text = (ROOT / "scripts" / name).read_text()
        code = text[text.index("param(") :]
        assert "[switch]$Help" in code and '"--help", "-h", "/?"' in code
        assert code.index("exit 0") < code.index(first_action)
    fresh = (ROOT / "scripts" / "fresh-install.ps1").read_text()
    assert "Test-Python $cmd.Source" in fresh  # a python on PATH is run before it is trusted
