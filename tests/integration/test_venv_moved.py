"""A venv whose base Python moved: the smallest fix rewrites pyvenv.cfg's home (and the python
links), keeping every installed file; the finding's severity says whether the venv still
starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli import invoke, run_check
from tests.kit import venv_python

pytestmark = pytest.mark.skipif(os.name == "nt", reason="POSIX venv links")
BASE = Path(os.path.realpath(getattr(sys, "_base_executable", sys.executable)))


def _set_home(venv: Path, home: str) -> None:
    cfg = venv / "pyvenv.cfg"
    lines = [
        f"home = {home}" if line.startswith("home") else line
        for line in cfg.read_text().splitlines()
    ]
    cfg.write_text("\n".join(lines) + "\n")


def _home(venv: Path) -> str:
    for line in (venv / "pyvenv.cfg").read_text().splitlines():
        if line.startswith("home"):
            return line.partition("=")[2].strip()
    return ""


def _moved(report: dict) -> dict:  # type: ignore[type-arg]
    (f,) = [f for f in report["findings"] if f["id"] == "venv-home-moved"]
    assert not [f for f in report["findings"] if f["id"] == "venv-interpreter-broken"]
    return f


def test_home_gone_but_venv_starts_is_a_warning_fixed_in_place(app: Path, tmp_path: Path) -> None:
    venv = app / "venv"
    python = venv_python(venv)
    if not python.is_symlink():
        pytest.skip("the template venv has no python link")
    _set_home(venv, str(tmp_path / "gone" / "bin"))
    marker = next(venv.glob("lib/python3*/site-packages/numpy/__init__.py"))
    inode = marker.stat().st_ino
    code, report = run_check(app)
    f = _moved(report)
    assert f["severity"] == "warning" and "still starts" in f["message"]

    result = invoke("--yes", "--json", "--dir", str(app))
    data = json.loads(result.stdout)
    kinds = [s["kind"] for s in data["plan"]]
    assert kinds == ["relink-venv"], kinds
    assert result.exit_code == 0, result.stderr
    assert Path(_home(venv)).is_dir() and _home(venv) != str(tmp_path / "gone" / "bin")
    assert marker.stat().st_ino == inode  # nothing reinstalled: the same file
    assert run_check(app)[0] == 0


def test_base_moved_and_venv_dead_is_an_error_relinked_to_the_same_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    xy = f"{sys.version_info.major}.{sys.version_info.minor}"
    base = tmp_path / "base" / "bin"
    base.mkdir(parents=True)
    (base / f"python{xy}").symlink_to(BASE)
    app = tmp_path / "app"
    app.mkdir()
    (app / "requirements.txt").write_text("")
    subprocess.run(
        [str(base / f"python{xy}"), "-m", "venv", "--without-pip", str(app / "venv")],
        check=True,
        capture_output=True,
    )
    assert _home(app / "venv") == str(base)
    (tmp_path / "base").rename(tmp_path / "base-moved")  # the base Python moved away
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "python3").symlink_to(BASE)
    monkeypatch.setenv("PATH", f"{elsewhere}{os.pathsep}{os.environ['PATH']}")

    code, report = run_check(app)
    f = _moved(report)
    assert f["severity"] == "error" and "does not start" in f["message"]
    dry = invoke("--dry-run", "--dir", str(app))
    assert "point the venv at" in dry.stdout and "recreate" not in dry.stdout

    result = invoke("--yes", "--dir", str(app))
    assert result.exit_code == 0, result.stdout + result.stderr
    assert _home(app / "venv") == str(elsewhere)
    ran = subprocess.run(
        [str(app / "venv" / "bin" / "python"), "-c", "import sys; print(sys.prefix)"],
        capture_output=True,
        text=True,
    )
    assert ran.returncode == 0 and ran.stdout.strip() == str(app / "venv")
