"""Full disk and other faults: a rebuild checks the space first, a rollback needs none (renames
only), and when even the rollback fails the exit is 5, naming the backup, with the journal kept
for the next run."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path
from typing import Any

import pytest

from repair import fsops
from repair.app.target import resolve
from repair.backup.store import backups_root, list_backups
from repair.transaction.journal import journal_unfinished
from tests.integration.test_pipeline import Outcome
from tests.integration.test_pipeline_crash import run
from tests.kit import site_packages, tree_digest


def test_a_rebuild_without_room_changes_nothing(
    app: Path, wheelhouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(fsops.FREE_SPACE_ENV, "1000")
    before = tree_digest(app)
    out = Outcome(["--yes", "--clean-venv", "--dir", str(app), "--find-links", str(wheelhouse)])
    assert out.exit_code == 1 and "not enough free space to rebuild" in out.stderr, out.output
    assert tree_digest(app) == before


@pytest.mark.slow
def test_a_rollback_on_a_full_disk_is_renames_only(
    app: Path, wheelhouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (site_packages(app / "venv") / "einops" / "__init__.py").unlink()
    (app / "requirements.txt").write_text(
        (app / "requirements.txt").read_text() + "no-such-package==1.0\n"
    )
    before = tree_digest(app / "venv")
    real_write = fsops.atomic_write
    full = {"on": False}

    def write(path: Path, data: Any, **kw: Any) -> None:
        if isinstance(data, str) and '"rolling-back"' in data:
            full["on"] = True  # the disk fills up while the repair fails
        if full["on"]:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(path, data, **kw)

    monkeypatch.setattr(fsops, "atomic_write", write)
    out = Outcome(["--yes", "--dir", str(app), "--find-links", str(wheelhouse)])
    assert out.exit_code == 4, out.output
    assert full["on"]
    assert tree_digest(app / "venv") == before
    monkeypatch.undo()
    # The journal could not say so: the next run finds it and finishes the rollback.
    assert run(app, wheelhouse).returncode == 4
    assert not any(journal_unfinished(f) for f in backups_root(resolve(str(app))).iterdir())


@pytest.mark.slow
def test_a_rollback_that_cannot_finish_exits_5_naming_the_backup(
    app: Path, wheelhouse: Path
) -> None:
    (site_packages(app / "venv") / "einops" / "__init__.py").unlink()
    assert run(app, wheelhouse, "step:reinstall").returncode == 137
    backup = list_backups(resolve(str(app)))[0]
    assert backup.venv_path is not None
    shutil.move(str(backup.venv_path), str(app.parent / "elsewhere"))  # gone from the backup
    result = run(app, wheelhouse)
    assert result.returncode == 5, result.stderr
    assert backup.id in result.stderr and "Traceback" not in result.stderr
    assert journal_unfinished(backup.path)  # kept: the next run tries again
    shutil.move(str(app.parent / "elsewhere"), str(backup.venv_path))  # the user puts it back
    result = run(app, wheelhouse)
    assert result.returncode == 0, result.stderr
