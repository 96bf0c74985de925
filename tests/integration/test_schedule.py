"""repair schedule on this machine: the files it writes, the commands it runs where the scheduler
exists, the history of scheduled runs, and scripts/update-webui.sh for real."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from repair.commands.schedule import Spec, detect, history_file, read_history, systemd_user_dir
from tests.cli import invoke
from tests.gitkit import GitInstall, commit_files, git

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def run(*args: str) -> tuple[int, str]:
    result = invoke(*args)
    return result.exit_code, result.stdout


def test_systemd_install_writes_the_units(git_install_novenv: GitInstall) -> None:
    inst = git_install_novenv
    code, out = run(
        "schedule",
        "install",
        "--dir",
        str(inst.root),
        "--scheduler",
        "systemd",
        "--every",
        "weekly",
        "--pre-update",
        "--json",
    )
    data = json.loads(out)
    name = Spec(dir=inst.root, pre_update=True).name
    timer = systemd_user_dir() / f"{name}.timer"
    assert timer.is_file() and "OnCalendar=Sun" in timer.read_text()
    assert "--pre-update" in (systemd_user_dir() / f"{name}.service").read_text()
    assert data["commands"][-1] == ["systemctl", "--user", "enable", "--now", f"{name}.timer"]
    # where no systemd user session runs (containers, CI) it says so and fails cleanly
    assert code == (0 if data["done"] else 1)
    assert data["done"] or "systemctl" in data["problem"]
    code, out = run(
        "schedule",
        "status",
        "--dir",
        str(inst.root),
        "--scheduler",
        "systemd",
        "--pre-update",
        "--json",
    )
    assert json.loads(out)["installed"] is True
    run("schedule", "remove", "--dir", str(inst.root), "--scheduler", "systemd", "--pre-update")
    assert not timer.exists()


def test_auto_without_any_scheduler_is_a_one_line_error(tmp_path: Path) -> None:
    if detect()[0] is not None:
        pytest.skip("this machine has a scheduler")
    (tmp_path / "requirements.txt").write_text("numpy\n")
    proc = subprocess.run(
        [sys.executable, "-m", "repair", "schedule", "install", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("repair: error: no scheduler found here")


def test_scheduled_runs_keep_a_history_and_say_what_is_new(git_install_novenv: GitInstall) -> None:
    inst = git_install_novenv
    args = ("schedule", "run", "--dir", str(inst.root), "--manifest", str(inst.manifest), "--json")
    code, out = run(*args)
    first = json.loads(out)
    assert first["history"]["previous"] is None
    (inst.root / "launch.py").write_text("print('edited')\n")
    code, out = run(*args)
    second = json.loads(out)
    assert second["history"]["new"] == ["repo-dirty:app"]
    assert second["history"]["previous"] is not None
    git(inst.root, "checkout", "--", "launch.py")
    code, out = run(*args[:-1])  # the text form
    assert "resolved  repo-dirty:app" in out
    entries = read_history(history_file(Spec(dir=inst.root)))
    assert len(entries) == 3
    assert [k for k in entries[1]["findings"] if k.startswith("repo-")] == ["repo-dirty:app"]
    assert all(e["pre_update"] is False for e in entries)
    # a line cut short by a crash does not break the next run
    with history_file(Spec(dir=inst.root)).open("a") as f:
        f.write('{"time": "cut sho')
    code, out = run(*args)
    assert json.loads(out)["history"]["new"] == []


def run_script(inst: GitInstall) -> subprocess.CompletedProcess[str]:
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        REPAIR=f"{sys.executable} -m repair --manifest {inst.manifest}",
    )
    return subprocess.run(
        ["sh", str(ROOT / "scripts" / "update-webui.sh"), str(inst.root)],
        env=env,
        capture_output=True,
        text=True,
    )


@pytest.mark.skipif(shutil.which("sh") is None, reason="no POSIX shell")
def test_update_script_stops_at_a_failing_check(git_install_novenv: GitInstall) -> None:
    inst = git_install_novenv
    commit_files(inst.seed, {"launch.py": "print('v2')\n"}, "v2")
    (inst.root / "launch.py").write_text("print('mine')\n")
    head = inst.head()
    proc = run_script(inst)
    assert proc.returncode == 1, proc.stderr
    assert "nothing was updated" in proc.stderr
    assert inst.head() == head


@pytest.mark.skipif(shutil.which("sh") is None, reason="no POSIX shell")
def test_update_script_updates_after_a_clean_check(git_install: GitInstall) -> None:
    inst = git_install
    new = commit_files(inst.seed, {"launch.py": "print('v2')\n"}, "v2")
    proc = run_script(inst)
    assert "==> 2/3 updating" in proc.stdout
    assert inst.head() == new  # pulled
    assert "==> 3/3 repairing" in proc.stdout  # and the repair step ran (its own exit status)


def test_powershell_script_runs_the_same_steps_in_order() -> None:
    text = (ROOT / "scripts" / "update-webui.ps1").read_text()
    text = text[text.index("param(") :]  # the code, not the header comment
    steps = [
        text.index("check --pre-update --dir"),
        text.index("pull --ff-only"),
        text.index("--yes --dir"),
    ]
    assert steps == sorted(steps)
    assert text.count("exit 1") >= 1 and "$LASTEXITCODE -ne 0" in text
