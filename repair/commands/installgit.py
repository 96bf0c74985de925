"""The git part of ``repair install``: the application cloned (or the checkout already there
adopted) at the ref asked for, and a snapshot's extensions at their recorded commits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from repair import fsops, proc
from repair.commands.installplan import InstallPlan, kill_point, partial_path, snapshot_part
from repair.errors import ProcessError, UsageError
from repair.progress import Reporter


def clone_app(plan: InstallPlan, reporter: Reporter) -> str:
    """The ``clone`` step: the app at ``plan.ref`` into ``--dir`` (cloned under a hidden name,
    renamed into place when complete), or the checkout already there."""
    root = plan.request.dir
    if root.is_dir() and (root / ".git").exists():
        return _adopt_checkout(plan, root)
    if root.exists() and any(root.iterdir()):
        raise UsageError(f"{root} is not empty and is not a git checkout",
                         hint="choose a new or empty folder with --dir")
    temp = partial_path(root, "partial-clone")
    fsops.remove_own_folder(temp, marker=".partial-clone")  # a clone killed halfway
    import git

    env = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "", "GCM_INTERACTIVE": "never"}
    reporter.info(f"cloning {proc.redact(plan.repo_url)}")
    try:
        repo = git.Repo.clone_from(plan.repo_url, temp, env=env)
        if plan.ref:
            _checkout(repo, plan.ref)
    except (git.GitCommandError, git.GitError) as exc:
        fsops.remove_own_folder(temp, marker=".partial-clone")
        raise ProcessError(f"cannot clone {proc.redact(plan.repo_url)}: "
                           f"{_git_message(exc)}") from exc
    except BaseException:
        fsops.remove_own_folder(temp, marker=".partial-clone")
        raise
    commit = repo.head.commit.hexsha
    repo.close()
    kill_point("clone-rename")
    if root.exists():
        root.rmdir()  # empty (checked above)
    root.parent.mkdir(parents=True, exist_ok=True)
    fsops.move_aside(temp, root)
    plan.state.attach(root)
    return f"{root} at {commit[:12]}"


def _adopt_checkout(plan: InstallPlan, root: Path) -> str:
    import git

    try:
        repo = git.Repo(root)
        if plan.ref:
            head = repo.head.commit.hexsha
            try:
                wanted = repo.commit(plan.ref).hexsha
            except (git.BadName, ValueError):
                wanted = None
            if wanted != head:
                if repo.is_dirty(untracked_files=False):
                    raise UsageError(f"{root} has local changes; cannot check out "
                                     f"{plan.ref}", hint="commit or stash them first")
                _checkout(repo, plan.ref)
        commit = repo.head.commit.hexsha
        plan.state.attach(root)
    except (git.GitCommandError, git.InvalidGitRepositoryError, ValueError) as exc:
        raise UsageError(f"{root} is a broken git checkout: {_git_message(exc)}",
                         hint="run 'repair check' on it, or choose another --dir") from exc
    return f"existing checkout {root} at {commit[:12]}"


def _checkout(repo: Any, ref: str) -> None:
    import git

    try:
        repo.git.checkout(ref)
    except git.GitCommandError:
        repo.git.fetch("origin", ref)
        repo.git.checkout("FETCH_HEAD")


def clone_extensions(plan: InstallPlan) -> str:
    """The ``extensions`` step (from a snapshot): each extension cloned at its recorded commit;
    one that cannot be is listed as not reproduced."""
    import git

    snap = plan.snapshot or {}
    done, missed = 0, []
    for ext in snap.get("extensions", []):
        rel = str(ext.get("path", ""))
        info = snapshot_part(ext.get("git"))
        remote, commit = info.get("remote"), info.get("commit")
        target = (plan.request.dir / rel).resolve()
        if not rel or not target.is_relative_to(plan.request.dir.resolve()):
            continue
        if not remote or "****" in str(remote) or not commit:
            missed.append(rel)
            plan.not_reproduced.append(
                {"what": rel, "why": "the snapshot has no usable remote or commit for it",
                 "instead": "not installed"})
            continue
        try:
            if (target / ".git").exists():
                repo = git.Repo(target)
            else:
                temp = partial_path(target, "partial-clone")
                fsops.remove_own_folder(temp, marker=".partial-clone")
                repo = git.Repo.clone_from(str(remote), temp,
                                           env={"GIT_TERMINAL_PROMPT": "0"})
                repo.close()
                fsops.move_aside(temp, target)
                repo = git.Repo(target)
            if repo.head.commit.hexsha != commit:
                _checkout(repo, str(commit))
            repo.close()
            done += 1
        except (git.GitCommandError, git.GitError, OSError) as exc:
            missed.append(rel)
            plan.not_reproduced.append(
                {"what": rel, "why": f"cannot clone or check out: {_git_message(exc)}",
                 "instead": "not installed"})
    return f"{done} extension(s) at their recorded commits" + (
        f"; not reproduced: {', '.join(missed)}" if missed else "")


def _git_message(exc: BaseException) -> str:
    text = str(getattr(exc, "stderr", "") or exc).strip()
    lines = [ln.strip().removeprefix("stderr:").strip(" '") for ln in text.splitlines()
             if ln.strip()]
    fatal = [ln for ln in lines if "fatal:" in ln or "error:" in ln]
    return proc.redact((fatal or lines or [type(exc).__name__])[-1])
