"""``repair install``: from nothing to a verified install, again (nothing changes), killed at each
step and resumed, failures that leave nothing behind. Real git, real venvs, real pip from local
folders."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from repair.cli import cli
from repair.transaction.journal import CRASH_ENV
from tests.integration.installkit import (
    LAUNCH,
    World,
    git,
    install_args,
    installed_versions,
    make_world,
    run_cli,
)


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    w = make_world(tmp_path_factory.mktemp("install-world"))
    # A branch whose requirements cannot be met from the index.
    git(w.work, "checkout", "-q", "-b", "broken")
    (w.work / "requirements.txt").write_text("numpy==1.26.4\nno-such-package==9.9\n")
    git(w.work, "commit", "-q", "-am", "a requirement nobody has")
    git(w.work, "push", "-q", "origin", "broken")
    git(w.work, "checkout", "-q", "master")
    return w


def invoke(args: list[str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def leftovers(target: Path) -> list[str]:
    """Hidden folders of a half-done install, beside the app and inside it."""
    found = [p.name for p in target.parent.glob(f".{target.name}.*")]
    if target.is_dir():
        found += [p.name for p in target.glob(".venv.*")]
    return found


def tree_state(folder: Path) -> dict[str, float]:
    return {
        str(p.relative_to(folder)): p.stat().st_mtime
        for p in folder.rglob("*")
        if p.is_file() and not p.is_symlink() and "__pycache__" not in p.parts
    }


def assert_installed(target: Path, backend: str = "cpu") -> None:
    venv = target / "venv"
    assert (venv / "bin" / "python").exists() or (venv / "Scripts" / "python.exe").exists()
    versions = installed_versions(venv)
    assert versions["numpy"] == "1.26.4"
    assert versions["einops"] == "0.8.0"
    assert versions["torch"].startswith(("2.1.2", "2.0.0"))
    sh = (target / "webui-user.sh").read_text()
    assert f'export COMMANDLINE_ARGS="{LAUNCH[backend]}"' in sh
    assert "#python_cmd=" in sh  # the user's other lines are kept
    assert leftovers(target) == []
    # The venv was moved into place: nothing in it still names the folder it was built in.
    activate = (venv / "bin" / "activate").read_text()
    assert ".partial" not in activate and str(venv) in activate


@pytest.mark.slow
def test_install_from_nothing_then_again_changes_nothing(world: World, tmp_path: Path) -> None:
    target = tmp_path / "webui"
    code, out, err = invoke(install_args(world, target, "--json"))
    assert code == 0, err
    data = json.loads(out)
    assert data["healthy"] and not data["already_installed"]
    assert [s["name"] for s in data["steps"]] == [
        "clone",
        "python",
        "backend",
        "venv",
        "torch",
        "requirements",
        "launch-args",
        "verify",
    ]
    assert all(s["status"] == "done" for s in data["steps"])
    assert data["report"]["summary"]["errors"] == 0
    assert Path(data["log"]).is_file()
    assert_installed(target)
    for step in ("clone", "venv", "torch", "requirements", "verify"):
        assert f"==> {step}" in err  # each step announced

    before = tree_state(target)
    started = time.monotonic()
    code, out, err = invoke(install_args(world, target))
    assert code == 0, err
    assert time.monotonic() - started < 3
    assert "Already installed" in out and "nothing changed" in out
    assert tree_state(target) == before


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["directml", "cuda"])
def test_launch_arguments_written_for_the_backend(
    world: World, tmp_path: Path, backend: str
) -> None:
    target = tmp_path / "webui"
    code, out, err = invoke(install_args(world, target, backend=backend))
    assert code == 0, out + err
    assert_installed(target, backend)
    bat = (target / "webui-user.bat").read_bytes().decode()
    assert f"set COMMANDLINE_ARGS={LAUNCH[backend]}\r\n" in bat
    assert "call webui.bat" in bat
    version = installed_versions(target / "venv")["torch"]
    assert version == {"directml": "2.0.0", "cuda": "2.1.2+cu121"}[backend]


STEPS_TO_KILL = [
    "clone-rename",
    "clone",
    "python",
    "backend",
    "venv",
    "torch",
    "requirements-installed",
    "requirements",
    "launch-args",
    "verify",
]


@pytest.mark.slow
@pytest.mark.parametrize("step", STEPS_TO_KILL)
def test_killed_at_each_step_then_resumed(world: World, tmp_path: Path, step: str) -> None:
    target = tmp_path / "webui"
    killed = run_cli(install_args(world, target), {CRASH_ENV: f"install:{step}"})
    assert killed.returncode == 137, killed.stderr
    if step in ("python", "venv", "backend", "torch", "requirements-installed"):
        # Killed while the venv was being built: it is not where the web UI looks for it.
        assert not (target / "venv").exists()
    resumed = run_cli(install_args(world, target))
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "Installed testui" in resumed.stdout
    assert_installed(target)
    if step not in ("clone-rename", "clone"):
        assert "clone         skipped" in resumed.stdout  # went on where it stopped
    again = run_cli(install_args(world, target))
    assert again.returncode == 0 and "Already installed" in again.stdout


def test_unreachable_repository_fails_cleanly(world: World, tmp_path: Path) -> None:
    target = tmp_path / "webui"
    code, out, err = invoke(
        install_args(world, target, "--repo-url", str(tmp_path / "nowhere.git"))
    )
    assert code == 4
    errors = [line for line in err.splitlines() if line.startswith("repair: error:")]
    assert len(errors) == 1 and "cannot clone" in errors[0] and "Traceback" not in err
    assert not target.exists()
    assert leftovers(target) == []


@pytest.mark.slow
def test_unsatisfiable_requirement_stops_before_anything_is_built(
    world: World, tmp_path: Path
) -> None:
    target = tmp_path / "webui"
    code, out, err = invoke(install_args(world, target, "--ref", "broken"))
    assert code == 1, err  # the index preflight: nothing built
    assert "cannot provide what the install needs" in err and "no-such-package" in err
    assert "--force" in err
    assert not (target / "venv").exists()  # nothing the web UI would take for an install
    assert leftovers(target) == []
    state = json.loads((target / ".git" / "webui-repair" / "install.json").read_text())
    assert "venv" not in state["steps"] and "requirements" not in state["steps"]


def test_unsatisfiable_requirement_with_force_fails_cleanly(world: World, tmp_path: Path) -> None:
    target = tmp_path / "webui"
    code, out, err = invoke(install_args(world, target, "--ref", "broken", "--force"))
    assert code == 4, err
    assert "install failed at step 'requirements'" in err and "no-such-package" in err
    assert not (target / "venv").exists()
    assert leftovers(target) == []
    state = json.loads((target / ".git" / "webui-repair" / "install.json").read_text())
    assert "venv" not in state["steps"] and "requirements" not in state["steps"]


def test_without_yes_and_without_a_terminal_refuses(world: World, tmp_path: Path) -> None:
    target = tmp_path / "webui"
    args = [a for a in install_args(world, target) if a != "--yes"]
    code, out, err = invoke(args)
    assert code == 2
    assert "--yes" in err and "1. clone" in err  # the plan was shown
    assert not target.exists()


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--from-snapshot", "missing.json"], "no such file"),
        (["--backend", "quantum"], "--backend"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    world: World, tmp_path: Path, extra: list[str], message: str
) -> None:
    target = tmp_path / "webui"
    args = install_args(world, target, *extra)
    if "--from-snapshot" in extra:
        args[args.index("missing.json")] = str(tmp_path / "missing.json")
    code, out, err = invoke(args)
    assert code == 2, err
    assert message in err and "Traceback" not in err


def test_unknown_app_is_exit_2(tmp_path: Path) -> None:
    code, out, err = invoke(["install", "no-such-app", "--dir", str(tmp_path / "x"), "--yes"])
    assert code == 2 and "unknown manifest" in err


@pytest.mark.slow
def test_install_over_an_existing_venv_backs_it_up_first(world: World, tmp_path: Path) -> None:
    """A venv the install state does not know (made by hand, or by another tool) is moved into
    a backup before the new one takes its place: never deleted."""
    target = tmp_path / "webui"
    code, out, err = invoke(install_args(world, target))
    assert code == 0, out + err
    (target / "venv" / "my-notes.txt").write_text("kept\n")
    (target / ".git" / "webui-repair" / "install.json").unlink()  # forget the install
    code, out, err = invoke(install_args(world, target))
    assert code == 0, out + err
    assert_installed(target)
    kept = list((target / ".repair-backups").glob("*/venv/my-notes.txt"))
    assert [p.read_text() for p in kept] == ["kept\n"], out + err


def test_install_with_a_python_installation_as_its_venv_is_refused(
    world: World, tmp_path: Path
) -> None:
    target = tmp_path / "webui"
    code, out, err = invoke(install_args(world, target))
    assert code == 0, out + err
    prefix = tmp_path / "py"
    (prefix / "bin").mkdir(parents=True)
    (prefix / "bin" / "python3").write_text("")
    (prefix / "lib" / "python3.10").mkdir(parents=True)
    (prefix / "lib" / "python3.10" / "os.py").write_text("# stdlib\n")
    (target / "webui-user.sh").write_text(f'export VENV_DIR="{prefix}"\n')
    (target / ".git" / "webui-repair" / "install.json").unlink()
    result = CliRunner().invoke(cli, install_args(world, target))
    assert result.exit_code == 2, result.output
    assert "Python installation" in result.output, result.output
    assert (prefix / "lib" / "python3.10" / "os.py").exists()
