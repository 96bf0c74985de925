"""Kill the process at each journal step (the WEBUI_REPAIR_TEST_CRASH_AT hook): the next run
finds the journal and recovers with nothing lost; the recovery is killed again at each of its own
steps, and the run after that still finishes. Recovery looks before it acts: a venv rebuilt by hand
is kept, a running application makes it wait, an installer left running is ended first."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from repair.app.target import resolve
from repair.backup.store import backups_root
from repair.progress import Reporter
from repair.transaction.journal import journal_unfinished
from repair.transaction.recovery import recover
from tests.kit import site_packages, tree_digest, venv_python

RECOVERY_POINTS = ["rollback:start", "rollback:cleared", "rollback:renamed"]
RECOVER = (
    "import sys\nfrom repair.transaction.journal import install_lock\n"
    "from repair.app.target import resolve\n"
    "from repair.transaction.recovery import recover\n"
    "from repair.progress import Reporter\n"
    "i = resolve(sys.argv[1])\nwith install_lock(i):\n    print(recover(i, Reporter()))\n"
)


def recover_killed_at(app: Path, point: str) -> int:
    """The recovery alone, in its own process, killed at ``point`` (when it gets there)."""
    env = {**os.environ, "PYTHONPATH": os.getcwd(), "WEBUI_REPAIR_TEST_CRASH_AT": point}
    return subprocess.run(
        [sys.executable, "-c", RECOVER, str(app)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    ).returncode


# Every kind of transition: before the move, after it, with the new venv half-done, between plan
# steps, before and after verification, after the commit.
POINTS = [
    "journal",
    "moved",
    "venv-ready",
    "step:reinstall",
    "step:install-requirements",
    "verify",
    "verified",
    "committed",
]


def run(
    app: Path, wheelhouse: Path, crash_at: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    if crash_at:
        env["WEBUI_REPAIR_TEST_CRASH_AT"] = crash_at
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "repair",
            "--yes",
            "--dir",
            str(app),
            "--find-links",
            str(wheelhouse),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
@pytest.mark.parametrize("point", POINTS)
def test_killed_at_each_step_is_recovered(app: Path, wheelhouse: Path, point: str) -> None:
    (site_packages(app / "venv") / "einops" / "__init__.py").unlink()  # -> reinstall einops
    (app / "requirements.txt").write_text(
        (app / "requirements.txt").read_text() + "bitsandbytes==0.43.0\n"
    )  # -> install it
    (app / "outputs").mkdir()
    (app / "outputs" / "00001.png").write_bytes(b"png" * 1000)
    before = tree_digest(app / "venv")
    outputs = tree_digest(app / "outputs")

    crashed = run(app, wheelhouse, point)
    assert crashed.returncode == 137, crashed.stderr
    install = resolve(str(app))
    folders = [p for p in backups_root(install).iterdir() if p.is_dir()]
    assert len(folders) == 1
    verified = point in ("verified", "committed")
    assert journal_unfinished(folders[0]) is (point != "committed")

    # The recovery is killed at each of its own steps in turn; each run goes further.
    for again in RECOVERY_POINTS:
        assert recover_killed_at(app, again) in (0, 137)
    done = recover(install, Reporter())
    assert len(done) <= 1
    assert not journal_unfinished(folders[0])
    if verified:
        # It had been verified: the repair is finished, the old venv stays in the backup.
        assert tree_digest(folders[0] / "venv") == before
        assert (site_packages(app / "venv") / "bitsandbytes").is_dir()
    else:
        assert tree_digest(app / "venv") == before  # rolled back, byte for byte
    assert tree_digest(app / "outputs") == outputs


@pytest.mark.slow
def test_next_repair_run_recovers_by_itself(app: Path, wheelhouse: Path) -> None:
    (site_packages(app / "venv") / "einops" / "__init__.py").unlink()
    assert run(app, wheelhouse, "step:reinstall").returncode == 137
    result = run(app, wheelhouse)
    assert result.returncode == 0, result.stderr
    assert "rolling back the interrupted repair" in result.stderr
    assert (site_packages(app / "venv") / "einops" / "__init__.py").exists()

    assert not journal_unfinished(next(p for p in backups_root(resolve(str(app))).iterdir()))


def _break(app: Path) -> None:
    (site_packages(app / "venv") / "einops" / "__init__.py").unlink()


@pytest.mark.slow
@pytest.mark.parametrize("point", RECOVERY_POINTS)
def test_a_failed_repair_killed_during_its_rollback_is_finished_by_the_next_run(
    app: Path, wheelhouse: Path, point: str
) -> None:
    _break(app)
    (app / "requirements.txt").write_text(
        (app / "requirements.txt").read_text() + "no-such-package==1.0\n"
    )  # the install fails
    before = tree_digest(app / "venv")
    assert run(app, wheelhouse, point).returncode == 137
    result = run(app, wheelhouse)
    assert result.returncode == 4, result.stderr  # rolled back again: the requirement is unmet
    assert "rolling back the interrupted repair" in result.stderr
    assert tree_digest(app / "venv") == before
    folders = [p for p in backups_root(resolve(str(app))).iterdir() if p.is_dir()]
    assert not any(journal_unfinished(f) for f in folders)


@pytest.mark.slow
def test_a_venv_rebuilt_by_hand_after_a_crash_is_kept(
    app: Path, wheelhouse: Path, template_app_venv: Path
) -> None:
    _break(app)
    assert run(app, wheelhouse, "step:reinstall").returncode == 137
    shutil.rmtree(app / "venv")  # the user gave up and made a new one
    from tests.kit import copy_venv

    copy_venv(template_app_venv, app / "venv")
    (app / "venv" / "made-by-hand.txt").write_text("mine\n")
    result = run(app, wheelhouse)
    assert result.returncode == 0, result.stderr
    assert "was changed since the interrupted run" in result.stderr
    kept = list((app / ".repair-backups").glob("*/venv-found-*/made-by-hand.txt"))
    assert [p.read_text() for p in kept] == ["mine\n"]


@pytest.mark.slow
@pytest.mark.skipif(os.name == "nt", reason="process groups")
def test_recovery_waits_for_the_app_and_ends_a_left_installer(app: Path, wheelhouse: Path) -> None:
    _break(app)
    assert run(app, wheelhouse, "step:reinstall").returncode == 137
    folder = next(p for p in backups_root(resolve(str(app))).iterdir() if p.is_dir())
    # An installer left running by the killed run, in its own process group.
    left = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True
    )
    journal = json.loads((folder / "journal.json").read_text())
    journal["child_pgid"] = left.pid
    (folder / "journal.json").write_text(json.dumps(journal))
    web_ui = subprocess.Popen(
        [str(venv_python(app / "venv")), "-c", "import time; time.sleep(120)"]
    )
    time.sleep(0.3)
    try:
        result = run(app, wheelhouse)
        assert result.returncode == 6, result.stderr
        assert "application is running" in result.stderr
        assert journal_unfinished(folder)  # nothing done while it runs
        # ... but the installer left from the killed run was ended first.
        assert "ended the installer" in result.stderr
        assert left.wait(timeout=30) is not None
    finally:
        web_ui.kill()
        web_ui.wait()
    try:
        result = run(app, wheelhouse)
        assert result.returncode == 0, result.stderr
    finally:
        if left.poll() is None:
            left.kill()
