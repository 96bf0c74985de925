"""Checks of the git checkouts: the application's own, and each extension that is a checkout of
its own (folders under the manifest's ``extensions.paths``). ``--pre-update`` (fetch upstream and
predict what an update would change) is ``repair.checks.preupdate``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from repair.app.gitrepo import extension_checkouts, fsck, has_git, inspect
from repair.checks.registry import check, finding_type
from repair.model import Finding, FindingId, Fix, Severity

if TYPE_CHECKING:
    from repair.app.gitrepo import RepoState
    from repair.context import Context

DEFAULT_EXTENSION_PATHS = ["extensions", "custom_nodes"]

REPO_MISSING = finding_type(
    FindingId.REPO_MISSING,
    "The application folder is not a git checkout",
    Severity.WARNING,
    Fix.RECLONE,
)
REPO_CORRUPT = finding_type(
    FindingId.REPO_CORRUPT,
    "The git repository is damaged",
    Severity.ERROR,
    Fix.RECLONE,
)
REPO_DIRTY = finding_type(
    FindingId.REPO_DIRTY,
    "Tracked files have local changes",
    Severity.WARNING,
    Fix.MANUAL,
)
REPO_DETACHED = finding_type(
    FindingId.REPO_DETACHED,
    "The checkout is not on a branch",
    Severity.WARNING,
    Fix.MANUAL,
)
REPO_DUBIOUS = finding_type(
    FindingId.REPO_DUBIOUS_OWNERSHIP,
    "Git refuses the repository because another user owns it",
    Severity.ERROR,
    Fix.CONFIG,
)
REPO_BEHIND = finding_type(
    FindingId.REPO_BEHIND,
    "The checkout is behind its upstream branch",
    Severity.INFO,
    Fix.NONE,
)
REPO_DIVERGED = finding_type(
    FindingId.REPO_DIVERGED,
    "Local and upstream history have diverged",
    Severity.WARNING,
    Fix.MANUAL,
)


def extension_paths(ctx: Context) -> list[str]:
    return list(ctx.install.manifest.get("extensions.paths", DEFAULT_EXTENSION_PATHS))


def _label(ctx: Context, path: Path) -> str:
    if path == ctx.install.dir:
        return ctx.install.dir.name
    try:
        return path.relative_to(ctx.install.dir).as_posix()
    except ValueError:
        return str(path)


def state_findings(
    ctx: Context, state: RepoState, *, app: bool, include_update: bool = True
) -> Iterator[Finding]:
    """The findings for one checkout's state. ``include_update=False`` leaves out what the
    pre-update check reports itself (dirty, detached, behind) for the application."""
    subject = _label(ctx, state.path)
    what = "the application's checkout" if app else f"the extension {subject}"
    reclone = (
        "run 'repair --reclone' (user data is kept; the old checkout is set aside)"
        if app
        else f"move {subject} aside and clone the extension again"
    )
    fix = Fix.RECLONE if app else Fix.MANUAL
    if state.status == "no-program":
        return
    if state.status == "dubious":
        yield REPO_DUBIOUS(
            subject,
            f"git refuses {what}: {state.error}",
            f'if you trust it, run: git config --global --add safe.directory "{state.path}"; '
            "or give the folder back to your own user account",
            path=str(state.path),
        )
        return
    if state.status == "corrupt":
        problems = fsck(state.path, full=False, timeout=120)
        yield REPO_CORRUPT(
            subject,
            f"git cannot read {what}: {state.error}",
            reclone,
            fix=fix,
            path=str(state.path),
            fsck=problems[:20],
        )
        return
    if ctx.options.verify_files:
        problems = fsck(state.path, full=True)
        if problems:
            yield REPO_CORRUPT(
                subject,
                f"git fsck found damage in {what}: {problems[0]}",
                reclone,
                fix=fix,
                path=str(state.path),
                fsck=problems[:20],
            )
            return
    if not include_update:
        return
    if state.dirty:
        shown = ", ".join(state.dirty[:5]) + (" ..." if len(state.dirty) > 5 else "")
        yield REPO_DIRTY(
            subject,
            f"{len(state.dirty)} tracked file(s) changed in {what}: {shown}",
            "keep the changes with 'git stash' (or commit them), or let 'repair --reclone' save "
            "them as a patch; 'git pull' refuses to update files with local changes"
            if app
            else f"run 'git stash' in {subject} before updating it",
            files=list(state.dirty[:100]),
            path=str(state.path),
        )
    if state.detached:
        yield REPO_DETACHED(
            subject,
            f"{what} is at commit {state.head[:10] if state.head else '?'} with no branch "
            "checked out: 'git pull' cannot update it",
            f"if you pinned this version on purpose, ignore this; otherwise run 'git checkout "
            f"{ctx.install.manifest.branch if app else '<branch>'}' in {subject}",
            commit=state.head,
            path=str(state.path),
        )
    if state.behind and not state.ahead:
        yield REPO_BEHIND(
            subject,
            f"{what} is {state.behind} commit(s) behind {state.upstream} (as of the last fetch)",
            "update when you are ready; run 'repair check --pre-update' "
            "first to see what the update changes",
            behind=state.behind,
            upstream=state.upstream,
            path=str(state.path),
        )
    elif state.behind and state.ahead:
        yield REPO_DIVERGED(
            subject,
            f"{what} has {state.ahead} local commit(s) and is {state.behind} behind "
            f"{state.upstream}: 'git pull --ff-only' refuses",
            "rebase or merge your local commits onto the upstream branch, or reset to it",
            ahead=state.ahead,
            behind=state.behind,
            upstream=state.upstream,
            path=str(state.path),
        )


@check(
    REPO_MISSING, REPO_CORRUPT, REPO_DIRTY, REPO_DETACHED, REPO_DUBIOUS, REPO_BEHIND, REPO_DIVERGED
)
def repositories(ctx: Context) -> Iterator[Finding]:
    """The application's git checkout and every extension that is a checkout of its own: a
    missing or damaged repository, changed tracked files, a detached HEAD, a folder git refuses
    (another user owns it), and how far behind the last fetched upstream it is. ``git fsck``
    runs with ``--verify-files``, or when git cannot read a repository."""
    # lazy: start-up time of repair guard run (its checks are not the repository's)
    from concurrent.futures import ThreadPoolExecutor

    root = ctx.install.dir
    app_state = inspect(root)
    if app_state.status == "no-program" or not has_git():
        ctx.reporter.warn("git is not installed: the repository checks were skipped")
        return
    if app_state.status == "no-git":
        if ctx.install.manifest.repository_url:
            yield REPO_MISSING(
                root.name,
                f"{root} is not a git checkout (no .git folder): updates and "
                "extension installs that need git will fail",
                "run 'repair --reclone' to turn it into a checkout of "
                f"{ctx.install.manifest.repository_url} (user data is kept)",
                severity=Severity.ERROR if ctx.options.pre_update else None,
                path=str(root),
            )
    else:
        yield from state_findings(
            ctx, app_state, app=True, include_update=not ctx.options.pre_update
        )
    extensions = extension_checkouts(root, extension_paths(ctx))
    if not extensions:
        return
    with ThreadPoolExecutor(max_workers=min(8, len(extensions))) as pool:
        states = list(pool.map(inspect, extensions))
    for state in states:
        yield from state_findings(ctx, state, app=False)
