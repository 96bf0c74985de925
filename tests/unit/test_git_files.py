"""Reading .git's files when git cannot: remote, HEAD through loose and packed refs, detached."""

from __future__ import annotations

from pathlib import Path

from repair.app.gitrepo import read_git_files

SHA = "0123456789abcdef0123456789abcdef01234567"


def _repo(tmp_path: Path, head: str, *, loose: bool = True) -> Path:
    g = tmp_path / ".git"
    (g / "refs" / "heads").mkdir(parents=True)
    (g / "config").write_text(
        '[core]\n\tbare = false\n[remote "upstream"]\n\turl = u2\n'
        '[remote "origin"]\n\turl = https://example.invalid/app.git\n'
        "\tfetch = +refs/heads/*:refs/remotes/origin/*\n"
    )
    (g / "HEAD").write_text(head)
    if loose:
        (g / "refs" / "heads" / "master").write_text(SHA + "\n")
    else:
        (g / "packed-refs").write_text(f"# pack-refs with: peeled\n{SHA} refs/heads/master\n")
    return tmp_path


def test_branch_from_loose_ref(tmp_path: Path) -> None:
    got = read_git_files(_repo(tmp_path, "ref: refs/heads/master\n"))
    assert (got.url, got.head, got.branch) == ("https://example.invalid/app.git", SHA, "master")


def test_branch_from_packed_refs(tmp_path: Path) -> None:
    got = read_git_files(_repo(tmp_path, "ref: refs/heads/master\n", loose=False))
    assert got.head == SHA and got.branch == "master"


def test_detached_head_and_no_git(tmp_path: Path) -> None:
    got = read_git_files(_repo(tmp_path / "a", SHA + "\n"))
    assert got.head == SHA and got.branch is None
    assert read_git_files(tmp_path / "none").url is None
