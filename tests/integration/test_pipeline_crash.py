"""Kill the process at each journal step (the WEBUI_REPAIR_TEST_CRASH_AT hook): the next run
finds the journal and recovers with nothing lost."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from repair.backup import backups_root
from repair.install import resolve
from repair.pipeline import journal_unfinished, recover
from repair.progress import Reporter
from tests.kit import site_packages, tree_digest

# Every kind of transition: before the move, after it, with the new venv half-done, between plan
# steps, before and after verification, after the commit.
POINTS = ["journal", "moved", "venv-ready", "step:reinstall", "step:install-requirements",
          "verify", "verified", "committed"]


def run(app: Path, wheelhouse: Path, crash_at: str | None = None
        ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    if crash_at:
        env["WEBUI_REPAIR_TEST_CRASH_AT"] = crash_at
    return subprocess.run(
        [sys.executable, "-m", "repair", "--yes", "--dir", str(app),
         "--find-links", str(wheelhouse)],
        env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
@pytest.mark.parametrize("point", POINTS)
def test_killed_at_each_step_is_recovered(app: Path, wheelhouse: Path, point: str) -> None:
    (site_packages(app / "venv") / "einops" / "__init__.py").unlink()  # -> reinstall einops
    (app / "requirements.txt").write_text(
        (app / "requirements.txt").read_text() + "bitsandbytes==0.43.0\n")  # -> install it
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

    done = recover(install, Reporter())
    assert len(done) == (0 if point == "committed" else 1)
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
