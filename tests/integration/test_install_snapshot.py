"""``repair install --from-snapshot``: a snapshot taken on one install, reproduced into another
folder with the exact versions, the app's commit and the extensions' commits, even when newer
versions and commits exist."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from repair.app.target import resolve
from repair.backup.snapshot import take_snapshot
from repair.cli import cli
from repair.context import Context
from repair.options import CheckOptions
from tests.integration.installkit import git, install_args, installed_versions, make_world
from tests.kit import build_wheel


def invoke(args: list[str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.slow
def test_snapshot_reproduced_with_exact_versions_and_commits(tmp_path: Path) -> None:
    world = make_world(tmp_path / "world", requirements="numpy\nsafetensors>=0.4\neinops\n")
    # Install A, with an extension cloned into it.
    ext_work = tmp_path / "ext-work"
    ext_work.mkdir()
    git(ext_work, "init", "-q", "-b", "main")
    (ext_work / "install.py").write_text("print('ext')\n")
    git(ext_work, "add", "-A")
    git(ext_work, "commit", "-q", "-m", "ext one")
    ext_commit = git(ext_work, "rev-parse", "HEAD")
    a = tmp_path / "a"
    code, out, err = invoke(install_args(world, a))
    assert code == 0, err
    git(a, "clone", "-q", str(ext_work), str(a / "extensions" / "my-ext"))

    ctx = Context(resolve(str(a), None, str(world.manifest)), CheckOptions(backend="cpu"))
    snapshot = take_snapshot(ctx)
    snap_file = tmp_path / "snapshot.json"
    snap_file.write_text(json.dumps(snapshot))
    versions_a = installed_versions(a / "venv")

    # The world moves on: newer wheels in the index, new commits upstream and in the extension.
    newer = tmp_path / "newer-wheels"
    shutil.copytree(world.wheels, newer)
    build_wheel(newer, "safetensors", "0.5.0")
    build_wheel(newer, "einops", "0.9.0")
    build_wheel(newer, "numpy", "2.2.0")
    (world.work / "requirements.txt").write_text("numpy\nsafetensors>=0.5\neinops>=0.9\n")
    git(world.work, "commit", "-q", "-am", "newer requirements")
    git(world.work, "push", "-q", "origin", "master")
    (ext_work / "install.py").write_text("print('ext two')\n")
    git(ext_work, "commit", "-q", "-am", "ext two")

    b = tmp_path / "b"
    args = install_args(world, b, "--from-snapshot", str(snap_file), "--json")
    args[args.index(str(world.wheels))] = str(newer)
    code, out, err = invoke(args)
    assert code == 0, err
    data = json.loads(out)
    assert "extensions" in [s["name"] for s in data["steps"]]
    versions_b = installed_versions(b / "venv")
    for name in ("numpy", "safetensors", "einops", "torch"):
        assert versions_b[name] == versions_a[name], name
    assert versions_b["safetensors"] == "0.4.3" and versions_b["numpy"] == "2.1.0"
    assert git(b, "rev-parse", "HEAD") == snapshot["app"]["git"]["commit"] == world.first_commit
    assert git(b / "extensions" / "my-ext", "rev-parse", "HEAD") == ext_commit
    assert data["not_reproduced"] == []


@pytest.mark.slow
def test_snapshot_on_another_backend_says_what_was_chosen_instead(tmp_path: Path) -> None:
    world = make_world(tmp_path / "world")
    a = tmp_path / "a"
    code, out, err = invoke(install_args(world, a, backend="cuda"))
    assert code == 0, err
    ctx = Context(resolve(str(a), None, str(world.manifest)), CheckOptions(backend="cuda"))
    snapshot = take_snapshot(ctx)
    snapshot["platform"]["system"] = (
        "Windows" if snapshot["platform"]["system"] != "Windows" else "Linux"
    )
    snapshot["distributions"].append(
        {"name": "nvidia-cudnn-cu12", "version": "8.9.2.26", "source": {"type": "index"}}
    )
    snap_file = tmp_path / "snapshot.json"
    snap_file.write_text(json.dumps(snapshot))

    b = tmp_path / "b"
    code, out, err = invoke(
        install_args(world, b, "--from-snapshot", str(snap_file), backend="cpu")
    )
    assert code == 0, err
    assert installed_versions(b / "venv")["torch"] == "2.1.2+cpu"
    assert "not reproduced: nvidia-cudnn-cu12==8.9.2.26" in out
    assert "note: the snapshot comes from" in out
