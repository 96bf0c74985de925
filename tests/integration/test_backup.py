"""repair backup create / list / restore / prune, and --archive on a full disk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from repair.app.target import resolve
from repair.backup.store import list_backups
from tests.integration.test_pipeline import invoke
from tests.kit import site_packages, tree_digest


def backup_cmd(app: Path, *args: str) -> tuple[int, object, str]:
    result = invoke(["backup", *args, "--json", "--dir", str(app)])
    data = json.loads(result.stdout) if result.stdout.strip() else None
    return result.exit_code, data, result.stderr


def test_create_list_restore_prune(app: Path) -> None:
    original = tree_digest(app / "venv")
    code, created, _ = backup_cmd(app, "create")
    assert code == 0 and isinstance(created, dict)
    assert set(created) >= {"id", "path", "snapshot"}
    root = Path(created["path"]).parent
    assert root == app / ".repair-backups" and (root / ".gitignore").read_text().endswith("*\n")
    assert not str(created["path"]).startswith(str(app / "venv"))
    snap = json.loads(Path(created["snapshot"]).read_text())
    assert snap["schema"] == "repair.snapshot/1"
    names = {d["name"] for d in snap["distributions"]}
    assert {"numpy", "accelerate", "transformers"} <= names
    assert all(d["record_hash"].startswith("sha256=") for d in snap["distributions"])
    assert snap["python"]["version"].startswith("3.")
    assert tree_digest(app / "venv") == original  # a backup changes nothing

    # Break the venv, then restore: exactly as it was.
    (site_packages(app / "venv") / "numpy" / "__init__.py").write_text("broken")
    code, restored, _ = backup_cmd(app, "restore", "--yes", created["id"])
    assert code == 0 and isinstance(restored, dict)
    assert tree_digest(app / "venv") == original

    code, listed, _ = backup_cmd(app, "list")
    assert code == 0 and isinstance(listed, list) and len(listed) == 2
    assert listed[0]["id"] == restored["previous"]  # newest first: the broken venv, kept

    code, pruned, _ = backup_cmd(app, "prune", "--yes", "--keep", "1")
    assert code == 0 and pruned == {"removed": [created["id"]], "kept": 1}
    assert [b.id for b in list_backups(resolve(str(app)))] == [restored["previous"]]
    assert tree_digest(app / "venv") == original


def test_restore_unknown_id_is_a_usage_error(app: Path) -> None:
    code, _, err = backup_cmd(app, "restore", "--yes", "nope")
    assert code == 2 and "no backup 'nope'" in err


def test_archive_is_portable_and_restorable(app: Path) -> None:
    original = tree_digest(app / "venv")
    code, created, _ = backup_cmd(app, "create", "--archive")
    assert code == 0 and isinstance(created, dict) and created["kind"] == "archive"
    assert (Path(created["path"]) / "venv.tar.gz").stat().st_size > 0
    (site_packages(app / "venv") / "numpy" / "__init__.py").unlink()
    code, _, err = backup_cmd(app, "restore", "--yes", created["id"])
    assert code == 0, err
    assert tree_digest(app / "venv") == original


@pytest.mark.parametrize(
    "hook",
    [("WEBUI_REPAIR_TEST_FREE_SPACE", "1000"), ("WEBUI_REPAIR_TEST_DISK_FULL_AFTER", "200000")],
)
def test_full_disk_during_archive_leaves_everything_as_it_was(
    app: Path, monkeypatch: pytest.MonkeyPatch, hook: tuple[str, str]
) -> None:
    monkeypatch.setenv(*hook)
    before = tree_digest(app)
    code, _, err = backup_cmd(app, "create", "--archive")
    assert code == 1, err
    assert "free space" in err or "No space left" in err
    after = {k: v for k, v in tree_digest(app).items() if not k.startswith(".repair-backups")}
    assert after == before
    assert list_backups(resolve(str(app))) == []
    assert sorted(p.name for p in (app / ".repair-backups").iterdir()) == [".gitignore"]


def test_snapshot_only_keeps_no_venv_and_cannot_be_restored(app: Path) -> None:
    original = tree_digest(app / "venv")
    code, created, _ = backup_cmd(app, "create", "--snapshot-only")
    assert code == 0 and isinstance(created, dict)
    assert created["has_venv"] is False and Path(created["snapshot"]).is_file()
    assert not (Path(created["path"]) / "venv").exists()
    assert tree_digest(app / "venv") == original
    code, _, err = backup_cmd(app, "restore", "--yes", created["id"])
    assert code == 2 and "only a snapshot" in err and "--from-snapshot" in err
