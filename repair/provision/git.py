"""The git part of ``repair install``: the application cloned (or the checkout already there
adopted) at the ref asked for, and a snapshot's extensions at their recorded commits.

Git runs through ``app.gitrepo`` and ``proc`` as everywhere else in the tool: a cleaned
environment, no prompt (an install runs unattended once confirmed), secrets redacted, a timeout.
"""

from __future__ import annotations

from pathlib import Path

from repair import fsops, proc
from repair.app.gitrepo import first_error_line, git, git_env, inspect, read_git_files, rev_parse
from repair.errors import ProcessError, UsageError
from repair.progress import Reporter
from repair.provision.plan import InstallPlan, kill_point, partial_path, snapshot_part

# No credential helper asks either: a repository that needs a password fails with git's message.
NO_PROMPT = {"GIT_ASKPASS": "", "GCM_INTERACTIVE": "never"}
GIT_TIMEOUT = 3600.0  # a large repository over a slow line


def clone_app(plan: InstallPlan, reporter: Reporter) -> str:
    """The ``clone`` step: the app at ``plan.ref`` into ``--dir`` (cloned under a hidden name,
    renamed into place when complete), or the checkout already there."""
    root = plan.request.dir
    if root.is_dir() and (root / ".git").exists():
        return _adopt_checkout(plan, root)
    if root.exists() and any(root.iterdir()):
        raise UsageError(
            f"{root} is not empty and is not a git checkout",
            hint="choose a new or empty folder with --dir",
        )
    temp = partial_path(root, "partial-clone")
    fsops.remove_own_folder(temp, marker=".partial-clone")  # a clone killed halfway
    reporter.info(f"cloning {proc.redact(plan.repo_url)}")
    try:
        _clone(plan.repo_url, temp)
        if plan.ref:
            _checkout(temp, plan.ref)
        commit = _git(temp, "rev-parse", "HEAD")
    except ProcessError as exc:
        fsops.remove_own_folder(temp, marker=".partial-clone")
        raise ProcessError(f"cannot clone {proc.redact(plan.repo_url)}: {exc.message}") from exc
    except BaseException:
        fsops.remove_own_folder(temp, marker=".partial-clone")
        raise
    kill_point("clone-rename")
    if root.exists():
        root.rmdir()  # empty (checked above)
    root.parent.mkdir(parents=True, exist_ok=True)
    fsops.move_aside(temp, root)
    plan.state.attach(root)
    return f"{root} at {commit[:12]}"


def _adopt_checkout(plan: InstallPlan, root: Path) -> str:
    hint = "run 'repair check' on it, or choose another --dir"
    commit = read_git_files(root).head  # from the files: no git run when nothing is to change
    if commit is None:
        raise UsageError(f"{root} is a broken git checkout: HEAD names no commit", hint=hint)
    if plan.ref and rev_parse(root, plan.ref) != commit:
        if inspect(root).dirty:
            raise UsageError(
                f"{root} has local changes; cannot check out {plan.ref}",
                hint="commit or stash them first",
            )
        try:
            _checkout(root, plan.ref)
            commit = _git(root, "rev-parse", "HEAD")
        except ProcessError as exc:
            raise UsageError(f"{root} is a broken git checkout: {exc.message}", hint=hint) from exc
    plan.state.attach(root)
    return f"existing checkout {root} at {commit[:12]}"


def _git(path: Path, *args: str) -> str:
    """``git -C path args``: its output; a failure raises ``ProcessError`` with git's own line."""
    res = git(path, *args, timeout=GIT_TIMEOUT, env=git_env(path, NO_PROMPT))
    if not res.ok:
        raise ProcessError(
            _git_message(res.stderr or res.stdout)
            or f"git {args[0]} failed with exit code {res.returncode}"
        )
    return res.stdout.strip()


def _clone(url: str, dest: Path) -> None:
    res = proc.run(
        ["git", "clone", "-q", "--", url, str(dest)],
        timeout=GIT_TIMEOUT,
        env=git_env(dest, NO_PROMPT),
    )
    if not res.ok:
        raise ProcessError(
            _git_message(res.stderr or res.stdout)
            or f"git clone failed with exit code {res.returncode}"
        )


def _checkout(path: Path, ref: str) -> None:
    """Check out ``ref``; one the clone does not have (a commit on no branch, a pull request's
    ref) is fetched from origin first."""
    try:
        _git(path, "checkout", "-q", ref)
    except ProcessError:
        _git(path, "fetch", "origin", ref)
        _git(path, "checkout", "-q", "FETCH_HEAD")


def clone_extensions(plan: InstallPlan) -> str:
    """The ``extensions`` step (from a snapshot): each extension cloned at its recorded commit;
    one that cannot be is listed as not reproduced."""
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
                {
                    "what": rel,
                    "why": "the snapshot has no usable remote or commit for it",
                    "instead": "not installed",
                }
            )
            continue
        try:
            if not (target / ".git").exists():
                temp = partial_path(target, "partial-clone")
                fsops.remove_own_folder(temp, marker=".partial-clone")
                _clone(str(remote), temp)
                fsops.move_aside(temp, target)
            if rev_parse(target, "HEAD") != commit:
                _checkout(target, str(commit))
            done += 1
        except (ProcessError, OSError) as exc:
            missed.append(rel)
            why = exc.message if isinstance(exc, ProcessError) else str(exc)
            plan.not_reproduced.append(
                {
                    "what": rel,
                    "why": f"cannot clone or check out: {proc.redact(why)}",
                    "instead": "not installed",
                }
            )
    return f"{done} extension(s) at their recorded commits" + (
        f"; not reproduced: {', '.join(missed)}" if missed else ""
    )


def _git_message(text: str) -> str:
    """The line of git's output that says what failed, credentials hidden."""
    return proc.redact(first_error_line(text))
