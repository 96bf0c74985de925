"""repair check on real git checkouts broken the way users break them: one test per repo-* id."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.cli import invoke, run_check
from tests.gitkit import GitInstall, commit_files, corrupt_object, git

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def check_repo(inst: GitInstall, *args: str) -> tuple[int, dict[str, Any]]:
    return run_check(
        inst.root, "--manifest", str(inst.manifest), "--venv", str(inst.root / "venv"), *args
    )


def repo_findings(report: dict[str, Any]) -> list[tuple[str, str]]:
    return [(f["id"], f["subject"]) for f in report["findings"] if f["id"].startswith("repo-")]


def test_clean_checkout_has_no_repo_findings(git_install_novenv: GitInstall) -> None:
    _, report = check_repo(git_install_novenv)
    assert repo_findings(report) == []


def test_repo_missing(git_install_novenv: GitInstall) -> None:
    shutil.rmtree(git_install_novenv.root / ".git")
    _, report = check_repo(git_install_novenv)
    assert repo_findings(report) == [("repo-missing", "app")]


def test_repo_missing_is_silent_without_a_repository_url(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("")
    result = invoke("check", "--json", "--dir", str(tmp_path))
    assert "repo-missing" not in result.stdout


def test_repo_dirty(git_install_novenv: GitInstall) -> None:
    (git_install_novenv.root / "launch.py").write_text("print('patched by hand')\n")
    _, report = check_repo(git_install_novenv)
    found = [f for f in report["findings"] if f["id"] == "repo-dirty"]
    assert len(found) == 1 and found[0]["details"]["files"] == ["launch.py"]
    assert found[0]["severity"] == "warning"


def test_untracked_and_ignored_files_are_not_dirt(git_install_novenv: GitInstall) -> None:
    (git_install_novenv.root / "new-untracked.txt").write_text("x")
    _, report = check_repo(git_install_novenv)
    assert repo_findings(report) == []


def test_repo_detached(git_install_novenv: GitInstall) -> None:
    git(git_install_novenv.root, "checkout", "-q", "--detach", "HEAD")
    _, report = check_repo(git_install_novenv)
    assert repo_findings(report) == [("repo-detached", "app")]


def test_repo_corrupt_commit_object(git_install_novenv: GitInstall) -> None:
    corrupt_object(git_install_novenv.root, "HEAD")
    code, report = check_repo(git_install_novenv)
    found = [f for f in report["findings"] if f["id"] == "repo-corrupt"]
    assert found and found[0]["fix"] == "reclone" and found[0]["severity"] == "error"
    assert code == 1


def test_repo_corrupt_blob_needs_verify_files(git_install_novenv: GitInstall) -> None:
    corrupt_object(git_install_novenv.root, "HEAD:launch.py")
    _, report = check_repo(git_install_novenv)
    assert "repo-corrupt" not in [i for i, _ in repo_findings(report)]  # fast path: not read
    code, report = check_repo(git_install_novenv, "--verify-files")
    found = [f for f in report["findings"] if f["id"] == "repo-corrupt"]
    assert found and found[0]["details"]["fsck"], found
    assert code == 1


def test_repo_broken_ref(git_install_novenv: GitInstall) -> None:
    ref = git_install_novenv.root / ".git" / "refs" / "heads" / "master"
    (git_install_novenv.root / ".git" / "packed-refs").unlink(missing_ok=True)
    ref.write_text("0123456789abcdef0123456789abcdef01234567\n")
    _, report = check_repo(git_install_novenv)
    assert ("repo-corrupt", "app") in repo_findings(report)


def test_repo_dubious_ownership_env(
    git_install_novenv: GitInstall, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_TEST_ASSUME_DIFFERENT_OWNER", "1")
    code, report = check_repo(git_install_novenv)
    found = [f for f in report["findings"] if f["id"] == "repo-dubious-ownership"]
    assert found and "safe.directory" in found[0]["remedy"]
    assert code == 1


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to chown")
def test_repo_dubious_ownership_foreign_owner_extension(git_install_novenv: GitInstall) -> None:
    os.chown(git_install_novenv.ext, 54321, 54321)
    _, report = check_repo(git_install_novenv)
    assert repo_findings(report) == [("repo-dubious-ownership", "extensions/ext-a")]


def test_extension_states(git_install_novenv: GitInstall) -> None:
    ext = git_install_novenv.ext
    (ext / "install.py").write_text("print('edited')\n")
    git(ext, "checkout", "-q", "--detach", "HEAD")
    _, report = check_repo(git_install_novenv)
    assert sorted(repo_findings(report)) == [
        ("repo-detached", "extensions/ext-a"),
        ("repo-dirty", "extensions/ext-a"),
    ]


def test_repo_behind_from_last_fetch_without_network(git_install_novenv: GitInstall) -> None:
    inst = git_install_novenv
    commit_files(inst.seed, {"launch.py": "print('v2')\n"}, "v2")
    _, report = check_repo(inst)
    assert repo_findings(report) == []  # not fetched yet: nothing known
    git(inst.root, "fetch", "-q")
    _, report = check_repo(inst)
    found = [f for f in report["findings"] if f["id"] == "repo-behind"]
    assert found and found[0]["details"]["behind"] == 1 and found[0]["severity"] == "info"


def test_repo_diverged(git_install_novenv: GitInstall) -> None:
    inst = git_install_novenv
    commit_files(inst.seed, {"launch.py": "print('v2')\n"}, "v2")
    (inst.root / "mine.txt").write_text("local\n")
    git(inst.root, "add", "mine.txt")
    git(inst.root, "commit", "-q", "-m", "local")
    git(inst.root, "fetch", "-q")
    _, report = check_repo(inst)
    assert repo_findings(report) == [("repo-diverged", "app")]
