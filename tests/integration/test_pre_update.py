"""repair check --pre-update on real repositories and a real venv: fetch, commits behind,
requirement changes, pip's own prediction of what moves, and the exit status that makes
`repair check --pre-update && git pull` a safe update."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.cli import finding_ids, invoke, run_check
from tests.gitkit import GitInstall, commit_files, git

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
REQS = "numpy==1.26.4\naccelerate==1.2.0\ntransformers==4.40.0\nsafetensors\neinops\n"


@pytest.fixture
def inst(git_install: GitInstall, wheelhouse: Path, monkeypatch: pytest.MonkeyPatch) -> GitInstall:
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheelhouse))
    return git_install


def pre_update(inst: GitInstall, *args: str) -> tuple[int, dict[str, Any]]:
    return run_check(inst.root, "--pre-update", "--manifest", str(inst.manifest), *args)


def test_up_to_date_is_safe(inst: GitInstall) -> None:
    code, report = pre_update(inst)
    update = report["update"]
    assert code == 0, report["findings"]
    assert update["fetched"] and update["behind"] == 0 and update["safe"]
    assert update["requirements"] == [] and update["packages"] == []


@pytest.mark.slow
def test_numpy_major_bump_is_predicted_and_flagged(inst: GitInstall) -> None:
    commit_files(
        inst.seed,
        {
            "requirements.txt": REQS.replace("numpy==1.26.4", "numpy==2.1.0").replace(
                "accelerate==1.2.0", "accelerate==0.21.0"
            ),
            "launch.py": "print('v2')\n",
        },
        "numpy 2",
    )
    code, report = pre_update(inst)
    update = report["update"]
    assert update["fetched"] and update["behind"] == 1 and update["ahead"] == 0
    assert {
        "name": "numpy",
        "from": "==1.26.4",
        "to": "==2.1.0",
        "file": "requirements.txt",
    } in update["requirements"]
    moves = {m["name"]: m for m in update["packages"]}
    assert moves["numpy"]["from"] == "1.26.4" and moves["numpy"]["to"] == "2.1.0"
    assert moves["numpy"]["risky"] and "numpy 1 -> 2" in moves["numpy"]["reason"]
    assert moves["accelerate"]["risky"]  # on the manifest's restart list
    assert sorted(update["risky"]) == ["accelerate", "numpy"]
    assert "repo-behind" in finding_ids(report) and "update-risky" in finding_ids(report)
    assert code == 0 and update["safe"]  # risky is a warning ...
    code, _ = pre_update(inst, "--strict")
    assert code == 1  # ... that --strict turns into a failure
    assert inst.head() != git(inst.seed, "rev-parse", "HEAD")  # nothing was pulled


def test_local_change_the_update_touches_refuses(inst: GitInstall) -> None:
    commit_files(inst.seed, {"launch.py": "print('v2')\n"}, "v2")
    (inst.root / "launch.py").write_text("print('mine')\n")
    (inst.root / "webui.py").write_text("# also mine, not touched upstream\n")
    code, report = pre_update(inst)
    dirty = [f for f in report["findings"] if f["id"] == "repo-dirty"]
    assert len(dirty) == 1 and dirty[0]["severity"] == "error"
    assert dirty[0]["details"]["files"] == ["launch.py"]
    assert code == 1 and not report["update"]["safe"]
    # git agrees: the pull would refuse
    assert subprocess_ok(inst.root, "pull", "--ff-only") is False


def subprocess_ok(root: Path, *args: str) -> bool:
    try:
        git(root, *args)
    except AssertionError:
        return False
    return True


@pytest.mark.slow
def test_unresolvable_requirements_fail(inst: GitInstall) -> None:
    commit_files(inst.seed, {"requirements.txt": REQS + "numpy==9.9.9\n"}, "impossible")
    code, report = pre_update(inst)
    assert "update-unresolvable" in finding_ids(report)
    assert code == 1


def test_diverged_and_detached_refuse(inst: GitInstall) -> None:
    commit_files(inst.seed, {"launch.py": "print('v2')\n"}, "v2")
    (inst.root / "mine.txt").write_text("x\n")
    git(inst.root, "add", "mine.txt")
    git(inst.root, "commit", "-q", "-m", "local")
    code, report = pre_update(inst)
    assert "repo-diverged" in finding_ids(report) and code == 1
    git(inst.root, "checkout", "-q", "--detach", "HEAD")
    code, report = pre_update(inst)
    assert "repo-detached" in finding_ids(report) and code == 1


def test_offline_says_so_and_goes_on(inst: GitInstall) -> None:
    commit_files(inst.seed, {"launch.py": "print('v2')\n"}, "v2")
    git(inst.root, "fetch", "-q")
    git(inst.root, "remote", "set-url", "origin", "http://127.0.0.1:9/app.git")
    code, report = pre_update(inst)
    update = report["update"]
    assert not update["fetched"] and update["offline"] and update["fetch_error"]
    assert update["behind"] == 1  # from the last fetched state
    assert code == 0


def test_text_report_has_the_update_section(inst: GitInstall) -> None:
    commit_files(inst.seed, {"requirements.txt": REQS.replace("einops", "einops==0.8.0")}, "pin")
    result = invoke(
        "check", "--pre-update", "--dir", str(inst.root), "--manifest", str(inst.manifest)
    )
    assert "behind   1 commit(s)" in result.stdout
    assert "require  einops: any -> ==0.8.0" in result.stdout
    assert "verdict  safe to update" in result.stdout


def test_pre_update_keeps_a_fresh_snapshot_not_a_copy_of_the_venv(inst: GitInstall) -> None:
    from repair.app.target import resolve
    from repair.backup.store import list_backups

    code, report = pre_update(inst)
    snap = report["update"].get("snapshot") or {}
    assert snap.get("status") in ("created", "fresh"), report["update"]
    backups = list_backups(resolve(str(inst.root), manifest=str(inst.manifest)))
    assert backups and backups[0].kind == "snapshot" and not backups[0].has_venv
    _, again = pre_update(inst)
    assert (again["update"].get("snapshot") or {}).get("status") == "fresh"


def test_no_remote_says_nothing_could_be_compared(inst: GitInstall) -> None:
    git(inst.root, "remote", "remove", "origin")
    code, report = pre_update(inst)
    update = report["update"]
    assert not update["compared"] and not update["safe"] and update["not_compared"]
    result = invoke(
        "check", "--pre-update", "--dir", str(inst.root), "--manifest", str(inst.manifest)
    )
    assert "nothing could be compared" in result.stdout
    assert "safe to update" not in result.stdout


def test_unreachable_remote_never_fetched_is_not_safe(inst: GitInstall) -> None:
    git(inst.root, "remote", "set-url", "origin", "http://127.0.0.1:9/app.git")
    git(inst.root, "branch", "--unset-upstream")
    for ref in git(inst.root, "for-each-ref", "--format=%(refname)", "refs/remotes").split():
        git(inst.root, "update-ref", "-d", ref)
    result = invoke(
        "check", "--pre-update", "--dir", str(inst.root), "--manifest", str(inst.manifest)
    )
    assert "verdict  nothing could be compared: no upstream state of origin" in result.stdout
