"""The guarded delete refuses everything that is not a venv, or not inside the venv given."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from repair import fsops
from repair.fsops import UnsafeDeleteError, guarded_rmtree


def fake_venv(path: Path) -> Path:
    (path / "bin").mkdir(parents=True)
    (path / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (path / "lib" / "python3.10" / "site-packages" / "pkg").mkdir(parents=True)
    (path / "lib" / "python3.10" / "site-packages" / "pkg" / "__init__.py").write_text("x = 1\n")
    return path


def test_deletes_a_venv(tmp_path: Path) -> None:
    venv = fake_venv(tmp_path / "venv")
    guarded_rmtree(venv, venv_root=venv)
    assert not venv.exists()


def test_refuses_root_and_home(tmp_path: Path) -> None:
    with pytest.raises(UnsafeDeleteError):
        guarded_rmtree(Path("/"), venv_root=Path("/"))
    home = Path(os.environ["HOME"])
    (home / "pyvenv.cfg").write_text("home = /usr/bin\n")  # even when it looks like a venv
    with pytest.raises(UnsafeDeleteError):
        guarded_rmtree(home, venv_root=home)
    assert home.is_dir()


def test_refuses_a_folder_that_is_not_a_venv(tmp_path: Path) -> None:
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"weights")
    with pytest.raises(UnsafeDeleteError, match="not a venv"):
        guarded_rmtree(folder, venv_root=folder)
    assert (folder / "model.safetensors").exists()


def test_refuses_the_app_folder_and_a_git_checkout(tmp_path: Path) -> None:
    app = tmp_path / "app"
    fake_venv(app)
    (app / ".git").mkdir()
    with pytest.raises(UnsafeDeleteError, match="git checkout"):
        guarded_rmtree(app, venv_root=app)
    other = fake_venv(tmp_path / "other")
    with pytest.raises(UnsafeDeleteError):
        guarded_rmtree(other, venv_root=other, protect=[other])
    assert app.exists() and other.exists()


def test_refuses_a_path_outside_the_venv(tmp_path: Path) -> None:
    venv = fake_venv(tmp_path / "venv")
    outside = tmp_path / "outputs"
    outside.mkdir()
    with pytest.raises(UnsafeDeleteError, match="not inside"):
        guarded_rmtree(outside, venv_root=venv)
    with pytest.raises(UnsafeDeleteError, match="not inside"):
        guarded_rmtree(venv / ".." / "outputs", venv_root=venv)
    assert outside.exists()


def test_never_follows_a_link_out(tmp_path: Path) -> None:
    venv = fake_venv(tmp_path / "venv")
    data = tmp_path / "data"
    data.mkdir()
    (data / "keep.txt").write_text("precious")
    link = venv / "lib" / "python3.10" / "site-packages" / "linked"
    link.symlink_to(data, target_is_directory=True)
    # A path through the link resolves outside the venv: refused.
    with pytest.raises(UnsafeDeleteError):
        guarded_rmtree(link / "keep.txt", venv_root=venv)
    # The link itself is removed as a link; deleting the venv never enters it.
    guarded_rmtree(venv, venv_root=venv)
    assert (data / "keep.txt").read_text() == "precious"


def test_refuses_a_venv_that_is_a_link(tmp_path: Path) -> None:
    real = fake_venv(tmp_path / "real")
    link = tmp_path / "venv"
    link.symlink_to(real, target_is_directory=True)
    with pytest.raises(UnsafeDeleteError, match="link"):
        guarded_rmtree(link, venv_root=link)
    assert (real / "pyvenv.cfg").exists()


def test_refuses_the_venv_the_tool_runs_from() -> None:
    with pytest.raises(UnsafeDeleteError, match="runs from it"):
        fsops.check_deletable(Path(sys.prefix), venv_root=Path(sys.prefix))


def test_read_only_files_are_deleted(tmp_path: Path) -> None:
    venv = fake_venv(tmp_path / "venv")
    f = venv / "lib" / "python3.10" / "site-packages" / "pkg" / "__init__.py"
    f.chmod(stat.S_IRUSR)
    (venv / "lib" / "python3.10" / "site-packages" / "pkg").chmod(stat.S_IRUSR | stat.S_IXUSR)
    guarded_rmtree(venv, venv_root=venv)
    assert not venv.exists()


def test_partial_marker_makes_a_half_built_venv_deletable(tmp_path: Path) -> None:
    half = tmp_path / "venv"
    half.mkdir()
    (half / "junk").write_text("x")
    with pytest.raises(UnsafeDeleteError):
        guarded_rmtree(half, venv_root=half)
    (half / fsops.PARTIAL_MARKER).write_text("recreate\n")
    guarded_rmtree(half, venv_root=half)
    assert not half.exists()


def test_atomic_write_and_move_aside(tmp_path: Path) -> None:
    target = tmp_path / "a" / "journal.json"
    fsops.atomic_write(target, "one")
    fsops.atomic_write(target, "two")
    assert target.read_text() == "two"
    assert [p.name for p in target.parent.iterdir()] == ["journal.json"]
    venv = fake_venv(tmp_path / "venv")
    moved = fsops.move_aside(venv)
    assert not venv.exists() and (moved / "pyvenv.cfg").exists()


def test_link_clone_shares_files_but_not_pyvenv_cfg(tmp_path: Path) -> None:
    venv = fake_venv(tmp_path / "venv")
    clone = tmp_path / "clone"
    fsops.link_clone(venv, clone)
    rel = Path("lib/python3.10/site-packages/pkg/__init__.py")
    assert os.path.samefile(venv / rel, clone / rel)
    assert not os.path.samefile(venv / "pyvenv.cfg", clone / "pyvenv.cfg")
    assert not (clone / fsops.PARTIAL_MARKER).exists()


def test_free_space_test_hook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert fsops.free_space(tmp_path / "not" / "yet") > 0
    monkeypatch.setenv(fsops.FREE_SPACE_ENV, "123")
    assert fsops.free_space(tmp_path) == 123
