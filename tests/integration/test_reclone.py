"""repair's reclone on real repositories: every user file kept (by hash), the same commit, the
local changes saved as a patch, a sound new repository, and an interruption at any step undone."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from repair.app.target import resolve
from repair.context import Context
from repair.errors import RolledBackError, UsageError
from repair.rebuild.reclone import STEPS, journal_path, reclone, recover
from repair.transaction.journal import CRASH_CODE, CRASH_ENV
from tests.gitkit import GitInstall, commit_files, corrupt_object, git, tree_hashes

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
ROOT = Path(__file__).resolve().parents[2]


def context(inst: GitInstall) -> Context:
    return Context(resolve(dir=str(inst.root), manifest=str(inst.manifest)))


def user_files(inst: GitInstall) -> dict[str, str]:
    """Hashes of every file git does not track (user data), extensions' work trees included."""
    tracked = set(git(inst.seed, "ls-files").splitlines())
    return {k: v for k, v in tree_hashes(inst.root).items() if k not in tracked}


def assert_sound(inst: GitInstall) -> None:
    fsck = subprocess.run(
        ["git", "fsck", "--no-dangling"], cwd=inst.root, capture_output=True, text=True
    )
    assert fsck.returncode == 0, fsck.stderr
    assert git(inst.root, "status", "--porcelain", "--untracked-files=no") == ""


def test_reclone_keeps_every_user_file_and_the_commit(git_install: GitInstall) -> None:
    inst = git_install
    commit_files(inst.seed, {"launch.py": "print('v2, newer')\n"}, "newer upstream")
    (inst.root / "launch.py").write_text("print('my local patch')\n")
    (inst.ext / "install.py").write_text("print('ext local edit')\n")
    head, ext_head = inst.head(), git(inst.ext, "rev-parse", "HEAD")
    before = user_files(inst)
    result = reclone(context(inst), ref=None, repo_url=None, reporter=None)
    assert result.commit == head == inst.head()  # a repair is not an update
    assert git(inst.root, "rev-parse", "--abbrev-ref", "HEAD") == "master"
    assert git(inst.root, "rev-parse", "--abbrev-ref", "@{upstream}") == "origin/master"
    assert_sound(inst)
    assert user_files(inst) == before
    # the extension kept its own git state, local edit included
    assert git(inst.ext, "rev-parse", "HEAD") == ext_head
    assert git(inst.ext, "status", "--porcelain", "--untracked-files=no") == "M install.py"
    # the local change to a tracked file: gone from the checkout, kept in the backup's patch
    assert (inst.root / "launch.py").read_text() == "print('launching')\n"
    assert result.patch is not None and result.patch.parent.parent == result.old
    assert "my local patch" in result.patch.read_text()
    subprocess.run(["git", "apply", "--check", str(result.patch)], cwd=inst.root, check=True)
    # the old checkout is kept aside, beside the install
    assert result.old.name.startswith("app.repair-old-") and result.old.parent == inst.root.parent
    assert (result.old / "launch.py").read_text() == "print('my local patch')\n"
    assert not journal_path(inst.root).exists()
    assert not list(inst.root.parent.glob(".app.repair-new-*"))
    # the venv moved with it and still runs
    assert (
        subprocess.run(
            [str(inst.root / "venv" / "bin" / "python"), "-c", "import numpy"], capture_output=True
        ).returncode
        == 0
    )
    assert result.files >= len(before) and result.bytes > 0


def test_reclone_with_a_corrupt_repository(git_install_novenv: GitInstall) -> None:
    inst = git_install_novenv
    before = user_files(inst)
    (inst.root / "modules" / "shared.py").write_text("OPTS = {'mine': 1}\n")
    corrupt_object(inst.root, "HEAD")
    result = reclone(context(inst))
    assert result.notes and "master" in result.notes[0]
    assert inst.head() == git(inst.seed, "rev-parse", "HEAD")
    assert_sound(inst)
    assert user_files(inst) == before
    assert result.patch is not None and "'mine': 1" in result.patch.read_text()


def test_reclone_of_a_damaged_store_keeps_the_commit_and_origin(
    git_install_novenv: GitInstall, tmp_path: Path
) -> None:
    # The upstream moved on, the manifest names no URL, and git cannot read HEAD's commit: the
    # commit and the origin still come from .git's own files.
    inst = git_install_novenv
    head = inst.head()
    commit_files(inst.seed, {"launch.py": "print('v2, newer')\n"}, "newer upstream")
    git(inst.root, "fetch", "-q")
    corrupt_object(inst.root, "HEAD")
    manifest = tmp_path / "nourl.toml"
    manifest.write_text(inst.manifest.read_text().replace(f'url = "{inst.upstream}"\n', ""))
    ctx = Context(resolve(dir=str(inst.root), manifest=str(manifest)))
    result = reclone(ctx)
    assert result.commit == head == inst.head()
    assert git(inst.root, "config", "--get", "remote.origin.url") == str(inst.upstream)
    assert "read from the files in .git" in result.notes[0]
    assert_sound(inst)


def test_reclone_without_git_folder_uses_repo_url(
    git_install_novenv: GitInstall, tmp_path: Path
) -> None:
    inst = git_install_novenv
    shutil.rmtree(inst.root / ".git")
    before = user_files(inst)
    manifest = tmp_path / "nourl.toml"
    manifest.write_text(inst.manifest.read_text().replace(f'url = "{inst.upstream}"\n', ""))
    ctx = Context(resolve(dir=str(inst.root), manifest=str(manifest)))
    with pytest.raises(UsageError, match="--repo-url"):
        reclone(ctx)
    result = reclone(ctx, repo_url=str(inst.upstream), ref="master")
    assert result.commit == git(inst.seed, "rev-parse", "HEAD")
    assert_sound(inst)
    assert user_files(inst) == before


def test_reclone_detached_keeps_the_old_commit(git_install_novenv: GitInstall) -> None:
    inst = git_install_novenv
    first = inst.head()
    commit_files(inst.seed, {"requirements.txt": "numpy==2.1.0\n"}, "numpy 2")
    git(inst.root, "pull", "-q")
    git(inst.root, "checkout", "-q", "--detach", first)
    result = reclone(context(inst))
    assert result.commit == first == inst.head() and result.branch is None
    assert git(inst.root, "rev-parse", "--abbrev-ref", "HEAD") == "HEAD"


def test_reclone_fetches_local_commits_from_the_old_repository(
    git_install_novenv: GitInstall,
) -> None:
    inst = git_install_novenv
    (inst.root / "webui.py").write_text("import modules.shared  # local commit\n")
    git(inst.root, "commit", "-q", "-am", "my own commit")
    head = inst.head()
    reclone(context(inst))
    assert inst.head() == head
    assert_sound(inst)


def test_reclone_with_ref(git_install_novenv: GitInstall) -> None:
    inst = git_install_novenv
    first = inst.head()
    commit_files(inst.seed, {"launch.py": "print('v2')\n"}, "v2")
    git(inst.root, "pull", "-q")
    result = reclone(context(inst), ref=first)
    assert inst.head() == first and result.commit == first


def test_reclone_that_fails_puts_the_old_checkout_back(git_install_novenv: GitInstall) -> None:
    inst = git_install_novenv
    before = tree_hashes(inst.root, skip=())
    with pytest.raises(RolledBackError, match="put back"):
        reclone(context(inst), ref="no-such-branch")
    assert tree_hashes(inst.root, skip=()) == before
    assert not journal_path(inst.root).exists()
    assert not list(inst.root.parent.glob(".app.repair-new-*"))


def test_reclone_moves_a_linked_models_folder(
    git_install_novenv: GitInstall, tmp_path: Path
) -> None:
    inst = git_install_novenv
    elsewhere = tmp_path / "drive" / "models"
    shutil.move(str(inst.root / "models"), elsewhere)
    (inst.root / "models").symlink_to(elsewhere, target_is_directory=True)
    reclone(context(inst))
    assert (inst.root / "models").is_symlink()
    assert (inst.root / "models" / "Lora" / "style.safetensors").exists()


@pytest.mark.slow
@pytest.mark.parametrize("step", STEPS)
def test_reclone_interrupted_at_each_step(git_install_novenv: GitInstall, step: str) -> None:
    inst = git_install_novenv
    before = tree_hashes(inst.root)
    head = inst.head()
    env = dict(os.environ, PYTHONPATH=str(ROOT), **{CRASH_ENV: f"reclone:{step}"})
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "repair.cli.reclone",
            "--dir",
            str(inst.root),
            "--manifest",
            str(inst.manifest),
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == CRASH_CODE, proc.stderr
    if STEPS.index(step) <= STEPS.index("move"):
        assert tree_hashes(inst.root) == before  # nothing of the old checkout touched yet
    done = recover(inst.root)
    expected = {"inspect": None, "finish": "finished"}.get(step, "rolled back")
    assert done == expected
    assert tree_hashes(inst.root) == before
    assert inst.head() == head
    assert_sound(inst)
    assert not journal_path(inst.root).exists()
    assert not list(inst.root.parent.glob(".app.repair-new-*"))
    # and the next reclone goes through
    env.pop(CRASH_ENV)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "repair.cli.reclone",
            "--dir",
            str(inst.root),
            "--manifest",
            str(inst.manifest),
            "--json",
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert tree_hashes(inst.root) == before


def test_repair_reclone_through_the_pipeline(git_install: GitInstall, wheelhouse: Path) -> None:
    """`repair --reclone --yes` end to end: the command line, the plan, the reclone step."""
    from tests.cli import invoke

    inst = git_install
    head = inst.head()
    corrupt_object(inst.root, "HEAD")
    before = user_files(inst)
    result = invoke(
        "--reclone",
        "--yes",
        "--dir",
        str(inst.root),
        "--manifest",
        str(inst.manifest),
        "--repo-url",
        str(inst.upstream),
        "--find-links",
        str(wheelhouse),
    )
    assert "reclone" in result.output.lower(), result.output
    assert inst.head() == head
    assert_sound(inst)
    after = {k: v for k, v in user_files(inst).items() if not k.startswith(".repair-backups/")}
    assert after == before
    assert list(inst.root.parent.glob("app.repair-old-*")), "the old checkout is kept aside"
