"""``repair guard``: one line in the launcher, taken out exactly; a launch stopped on a broken
venv with one line and the command that fixes it; the same verdict warm as cold."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import repair.cache.store as cache
from repair.cache import verdict
from repair.selection import InstallSelection
from tests.cli import invoke
from tests.integration.test_check_cache import _age
from tests.kit import site_packages

WEBUI_USER_SH = (
    b"#!/bin/bash\n#########################################################\n"
    b"# Uncomment and change the variables below to your need:#\n"
    b'#export COMMANDLINE_ARGS=""\n'
)
WEBUI_USER_BAT = (
    b"@echo off\r\n\r\nset PYTHON=\r\nset GIT=\r\nset VENV_DIR=\r\n"
    b"set COMMANDLINE_ARGS=\r\n\r\ncall webui.bat\r\n"
)
RUN_GPU_BAT = (
    b".\\python_embeded\\python.exe -s ComfyUI\\main.py --windows-standalone-build\r\npause\r\n"
)


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cache.ENV_DIR, str(tmp_path / "guard-cache"))


def _app_files(app: Path) -> None:
    (app / "webui-user.sh").write_bytes(WEBUI_USER_SH)
    (app / "webui-user.bat").write_bytes(WEBUI_USER_BAT)
    (app / "run_nvidia_gpu.bat").write_bytes(RUN_GPU_BAT)
    (app / "single.bat").write_bytes(b"@echo off")


@pytest.mark.parametrize(
    "launcher", ["webui-user.sh", "webui-user.bat", "run_nvidia_gpu.bat", "single.bat"]
)
@pytest.mark.parametrize("warn", [False, True])
def test_install_then_remove_is_byte_identical(app: Path, launcher: str, warn: bool) -> None:
    _app_files(app)
    path = app / launcher
    before = path.read_bytes()
    args = ["guard", "install", "--dir", str(app), "--launcher", launcher, "--json"]
    result = invoke(*args, *(["--warn"] if warn else []))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["changed"] == [str(path)]
    assert data["launchers"][0]["mode"] == ("warn" if warn else "stop")
    after = path.read_bytes()
    added = [line for line in after.splitlines(keepends=True) if b"guard run" in line]
    assert len(added) == 1
    if before.count(b"\r\n"):
        assert added[0].endswith(b"\r\n") and after.count(b"\n") == after.count(b"\r\n")
    assert len(after.splitlines()) == len(before.splitlines()) + 1
    if before.startswith((b"#!", b"@echo off\r\n")):
        assert after.splitlines()[0] == before.splitlines()[0]
    # A second install changes nothing; status sees it.
    again = json.loads(invoke(*args, *(["--warn"] if warn else [])).stdout)
    assert again["changed"] == []
    status = json.loads(
        invoke("guard", "status", "--dir", str(app), "--launcher", launcher, "--json").stdout
    )
    assert status["launchers"][0]["guarded"] is True
    result = invoke("guard", "remove", "--dir", str(app), "--launcher", launcher)
    assert result.exit_code == 0 and "guard removed from" in result.output
    assert path.read_bytes() == before
    result = invoke("guard", "status", "--dir", str(app), "--launcher", launcher)
    assert "not guarded" in result.output


def test_install_picks_the_launchers_of_this_system(app: Path) -> None:
    _app_files(app)
    (app / "webui-user.sh").unlink() if os.name == "nt" else (app / "webui-user.bat").unlink()
    (app / "manifest.toml").write_text(
        (Path(__file__).resolve().parents[2] / "manifests" / "a1111.toml").read_text()
    )
    result = invoke("guard", "install", "--dir", str(app), "--manifest", str(app / "manifest.toml"))
    assert result.exit_code == 0, result.output
    expected = "webui-user.bat" if os.name == "nt" else "webui-user.sh"
    assert f"guard added to {app / expected}" in result.output


def test_no_launcher_is_a_usage_error(app: Path) -> None:
    result = invoke("guard", "install", "--dir", str(app))
    assert result.exit_code == 2
    assert "no launcher" in result.output


def _run_guard(app: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "repair", "guard", "run", "--dir", str(app), *extra],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_guard_run_cold_and_warm(app: Path) -> None:
    _age(app)
    healthy = _run_guard(app)
    assert (healthy.returncode, healthy.stderr) == (0, "")
    stored = verdict.lookup(InstallSelection(str(app)))
    assert stored is not None and stored["errors"] == []
    assert _run_guard(app).returncode == 0

    (site_packages(app / "venv") / "numpy" / "lib" / "stride_tricks.py").unlink()
    cold = _run_guard(app)
    assert cold.returncode == 1
    lines = cold.stderr.splitlines()
    assert len(lines) == 1
    assert "stopped" in lines[0] and "stride_tricks.py" in lines[0] and "[missing-file]" in lines[0]
    assert f"-m repair --dir {app}" in lines[0]
    _age(app)
    _run_guard(app)  # stores the verdict now that the files are old enough to trust
    assert verdict.lookup(InstallSelection(str(app))) is not None
    warm = _run_guard(app)
    assert (warm.returncode, warm.stderr) == (cold.returncode, cold.stderr)
    warned = _run_guard(app, "--warn")
    assert warned.returncode == 0 and warned.stderr.startswith("repair guard: warning:")


def test_warm_guard_imports_no_checks(app: Path, tmp_path: Path) -> None:
    _age(app)
    _run_guard(app)
    probe = (
        "import sys, runpy\n"
        f"sys.argv = ['repair', 'guard', 'run', '--dir', {str(app)!r}]\n"
        "try:\n    runpy.run_module('repair', run_name='__main__')\n"
        "except SystemExit as e:\n    code = e.code\n"
        # dataclasses alone is a fifth of a warm guard's time: its arguments are named tuples
        "heavy = [m for m in ('click', 'packaging', 'dataclasses', 'repair.checks.site',"
        " 'repair.context') if m in sys.modules]\n"
        "print(code, heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "0 []", out.stdout + out.stderr


def test_guard_stops_a_real_launch(app: Path) -> None:
    if os.name == "nt":
        pytest.skip("a POSIX shell launcher")
    (app / "webui-user.sh").write_bytes(WEBUI_USER_SH)
    (app / "webui.sh").write_text("#!/bin/bash\nsource ./webui-user.sh\necho launched\n")
    assert (
        invoke("guard", "install", "--dir", str(app), "--launcher", "webui-user.sh").exit_code == 0
    )
    env = {**os.environ, "PATH": os.environ.get("PATH", "")}
    ok = subprocess.run(
        ["bash", "webui.sh"], cwd=app, capture_output=True, text=True, env=env, timeout=120
    )
    assert ok.stdout == "launched\n", ok.stderr
    (site_packages(app / "venv") / "numpy" / "lib" / "stride_tricks.py").unlink()
    stopped = subprocess.run(
        ["bash", "webui.sh"], cwd=app, capture_output=True, text=True, env=env, timeout=120
    )
    assert stopped.returncode == 1 and stopped.stdout == ""
    assert "repair guard: stopped:" in stopped.stderr


def test_guard_never_blocks_on_its_own_failure(tmp_path: Path) -> None:
    out = _run_guard(tmp_path / "nowhere")
    assert out.returncode == 0
    assert "could not check" in out.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "repair", "guard", "run", "--bogus"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "usage" in bad.stderr


def test_guard_after_a_check_is_warm(app: Path) -> None:
    """The check's cached findings serve the guard's first run, which then stores its own."""
    from tests.cli import run_check

    _age(app)
    run_check(app)
    run_check(app)
    assert _run_guard(app).returncode == 0
    assert verdict.lookup(InstallSelection(str(app))) is not None
