"""``repair --reclone``: a fresh checkout of the same repository, without losing anything.

1. inspect   the remote URL (the old ``.git``, else the manifest's ``repository.url``, else
             ``--repo-url``) and the commit the install is on (a repair is not an update; when the
             old repository is unreadable: ``--ref`` or the manifest's branch, and it says so)
2. clone     into ``.<app>.repair-new-<ts>`` beside the install (same filesystem: moves are
             renames)
3. checkout  that commit, on the same branch (local commits are fetched from the old repository)
4. patch     local changes to tracked files, as a binary git patch (works on a corrupt old ``.git``:
             the new clone's index is compared with the old work tree)
5. plan      everything in the old checkout that the new one does not track: the manifest's user
             data, untracked files, ignored files (models, outputs, config), extensions as whole
             folders with their own git state, and the venv (a reclone does not rebuild it)
6. move      each planned entry into the new checkout, by rename
7. verify    files and bytes counted before and after: any difference puts everything back
8. swap      the old checkout is renamed to ``<app>.repair-old-<ts>`` beside it (the backup; the
             patch and a record go into its ``repair-reclone/`` folder), the new one takes its
             place

A journal beside the install (``.<app>.repair-reclone.json``) records the phase; a reclone killed at
any point is rolled back (or, once swapped, finished) by ``recover``, which the next reclone runs
first. For tests, ``WEBUI_REPAIR_TEST_CRASH_AT=reclone:<step>`` ends the process with ``os._exit``
when that step begins (steps: see ``STEPS``; the one crash hook of ``repair.transaction.journal``).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from repair import fsops
from repair.app.gitrepo import (
    fsck,
    git,
    git_env,
    inspect,
    read_git_files,
    remote_url,
    rev_parse,
)
from repair.errors import (
    ProcessError,
    RepairError,
    RollbackFailedError,
    RolledBackError,
    UsageError,
)
from repair.proc import redact, run
from repair.progress import Reporter
from repair.rebuild.userfiles import count, plan_moves, tracked_paths
from repair.transaction.journal import Journal, JournalError, crash_point

if TYPE_CHECKING:
    from repair.context import Context

STEPS = (
    "inspect",
    "clone",
    "checkout",
    "patch",
    "plan",
    "move",
    "move-half",
    "verify",
    "swap",
    "swap-half",
    "finish",
)
CLONE_TIMEOUT = 3600.0
RECORD_DIR = "repair-reclone"
PATCH_NAME = "local-changes.patch"
_MARKER = "repair-reclone-id"


def _step(name: str, reporter: Reporter, message: str | None = None) -> None:
    crash_point(f"reclone:{name}")
    if message:
        reporter.step(message)


@dataclass(frozen=True)
class RecloneResult:
    dir: Path
    old: Path  # the old checkout, renamed aside: the backup
    commit: str
    branch: str | None
    repo_url: str  # redacted
    patch: Path | None
    moved: tuple[str, ...]
    files: int
    bytes: int
    notes: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "dir": str(self.dir),
            "old": str(self.old),
            "commit": self.commit,
            "branch": self.branch,
            "repo_url": self.repo_url,
            "patch": str(self.patch) if self.patch else None,
            "moved": list(self.moved),
            "files": self.files,
            "bytes": self.bytes,
            "notes": list(self.notes),
        }


def journal_path(app: Path) -> Path:
    return app.parent / f".{app.name}.repair-reclone.json"


def _write_journal(app: Path, data: dict[str, Any]) -> None:
    fsops.atomic_write(journal_path(app), json.dumps(data, indent=1))


def _read_journal(app: Path) -> dict[str, Any]:
    """The reclone journal, its paths checked: the new checkout and the old one are siblings of
    ``app`` with the names this tool gives them (a tampered journal moves nothing else)."""
    journal = Journal.load(journal_path(app)) if os.path.lexists(journal_path(app)) else None
    if journal is None:
        raise JournalError(f"{journal_path(app)} is not a reclone journal")
    data = journal.data
    ident = str(data.get("id", ""))
    new, aside = data.get("new"), data.get("aside")
    entries = data.get("entries", [])
    ok = (
        isinstance(new, str)
        and isinstance(aside, str)
        and ident
        and Path(new) == app.parent / f".{app.name}.repair-new-{ident}"
        and Path(aside) == app.parent / f"{app.name}.repair-old-{ident}"
        and isinstance(entries, list)
        and all(
            isinstance(e, str) and e and not os.path.isabs(e) and ".." not in Path(e).parts
            for e in entries
        )
    )
    if not ok:
        raise JournalError(
            f"{journal_path(app)} names paths this tool does not use: it was "
            "not written by this tool",
            hint=f"remove {journal_path(app)} if no reclone was interrupted",
        )
    return data


def _move(src: Path, dst: Path, displaced: Path) -> None:
    if os.path.lexists(dst):
        # A link (models on another drive) where the checkout has a folder of placeholders.
        fsops.move_aside(dst, displaced / dst.name)
    fsops.move_aside(src, dst)


def _is_new(path: Path, ident: str) -> bool:
    try:
        return (path / ".git" / _MARKER).read_text().strip() == ident
    except OSError:
        return False


def recover(app: Path, reporter: Reporter | None = None) -> str | None:
    """Finish or roll back an interrupted reclone of ``app``. Returns what was done, or None when
    there was nothing to do. A rollback that cannot finish raises ``RollbackFailedError``."""
    reporter = reporter or Reporter()
    jpath = journal_path(app)
    if not jpath.exists():
        return None
    data = _read_journal(app)
    new, aside, ident = Path(data["new"]), Path(data["aside"]), data["id"]
    if data["phase"] == "swapped":
        _finish(app, aside, data)
        jpath.unlink()
        reporter.info(f"finished an interrupted reclone; the old checkout is at {aside}")
        return "finished"
    reporter.step("rolling back an interrupted reclone")
    try:
        if not app.exists() and aside.exists():
            fsops.move_aside(aside, app)
        elif app.exists() and _is_new(app, ident) and aside.exists():
            fsops.move_aside(app, new)
            fsops.move_aside(aside, app)
        left: list[str] = []
        for rel in data.get("entries", []):
            src, dst = new / rel, app / rel
            if os.path.lexists(src) and not os.path.lexists(dst):
                fsops.move_aside(src, dst)
            elif os.path.lexists(src):
                left.append(rel)
        if left:
            raise RollbackFailedError(
                f"the reclone could not be rolled back: {', '.join(left[:3])} exist in both "
                f"{app} and {new}; the journal {jpath} lists every moved path"
            )
        if new.exists():
            fsops.remove_own_folder(new, marker=".repair-new-")
    except OSError as exc:
        raise RollbackFailedError(
            f"the reclone could not be rolled back ({exc}); the moved paths are listed in "
            f"{jpath}, the new checkout is {new}"
        ) from exc
    jpath.unlink()
    reporter.info(f"the old checkout is back in place at {app}")
    return "rolled back"


def _finish(app: Path, aside: Path, data: dict[str, Any]) -> Path | None:
    records = aside / RECORD_DIR
    records.mkdir(exist_ok=True)
    patch = None
    staged = app / ".git" / RECORD_DIR / PATCH_NAME
    if staged.exists():
        patch = records / PATCH_NAME
        shutil.copyfile(staged, patch)
    (records / "record.json").write_text(json.dumps(data, indent=1), encoding="utf-8")
    shutil.rmtree(app / ".git" / RECORD_DIR, ignore_errors=True)
    (app / ".git" / _MARKER).unlink(missing_ok=True)
    return patch


def _resolve_target(new: Path, old: Path, old_ok: bool, target: str) -> str | None:
    sha = rev_parse(new, target) or rev_parse(new, f"origin/{target}")
    if sha is None and old_ok and len(target) >= 7:
        # A local commit that never reached the remote: take it from the old repository.
        git(new, "fetch", "-q", str(old), target, timeout=CLONE_TIMEOUT)
        sha = rev_parse(new, target)
    return sha


def reclone(
    ctx: Context,
    *,
    ref: str | None = None,
    repo_url: str | None = None,
    reporter: Reporter | None = None,
) -> RecloneResult:
    """Reclone the install's repository keeping every piece of user data (see the module doc)."""
    reporter = reporter or ctx.reporter
    app = ctx.install.dir
    manifest = ctx.install.manifest
    if recover(app, reporter):
        reporter.info("an earlier reclone was interrupted and has been dealt with")
    _step("inspect", reporter, "reading the old checkout")
    state = inspect(app)
    if state.status == "no-program":
        raise UsageError("git is not installed: a reclone needs it")
    if state.status == "dubious":
        raise UsageError(
            f"git refuses {app}: {state.error}",
            hint=f'git config --global --add safe.directory "{app}"',
        )
    old_ok = state.ok
    # A damaged object store leaves .git/config, HEAD and the refs readable as files.
    files = read_git_files(app) if not old_ok else None
    url = (
        repo_url
        or (remote_url(app) if old_ok else None)
        or (files.url if files else None)
        or manifest.repository_url
    )
    if not url:
        raise UsageError(
            "no repository URL: the old checkout has none and neither has the "
            "manifest (pass --repo-url URL)"
        )
    notes: list[str] = []
    if ref:
        target, branch = ref, None
    elif old_ok and state.head:
        target, branch = state.head, state.branch
    elif files is not None and files.head:
        target, branch = files.head, files.branch
        where = f"the branch '{files.branch}'" if files.branch else "a detached HEAD"
        notes.append(
            f"the old repository is damaged: its commit {files.head[:12]} on {where} "
            "and its origin were read from the files in .git"
        )
    else:
        target, branch = manifest.branch, manifest.branch
        notes.append(
            f"the old repository is unreadable, so its commit is unknown: checked out "
            f"the branch '{target}' (choose another with --ref)"
        )
    base = time.strftime("%Y%m%d-%H%M%S")
    for n in range(1, 1000):
        stamp = base if n == 1 else f"{base}-{n}"
        new = app.parent / f".{app.name}.repair-new-{stamp}"
        aside = app.parent / f"{app.name}.repair-old-{stamp}"
        if not os.path.lexists(new) and not os.path.lexists(aside):
            break
    journal: dict[str, Any] = {
        "version": 1,
        "id": stamp,
        "app": str(app),
        "new": str(new),
        "aside": str(aside),
        "url": redact(url),
        "phase": "clone",
        "state": "reclone",
        "entries": [],
    }
    try:
        _write_journal(app, journal)
    except OSError as exc:
        raise UsageError(f"cannot write beside {app}: {exc.strerror or exc}") from exc
    try:
        return _run(ctx, app, new, aside, url, target, branch, old_ok, notes, journal, reporter)
    except RepairError as exc:
        if isinstance(exc, RollbackFailedError):
            raise
        _rollback(app, reporter)
        raise RolledBackError(
            f"reclone failed and the old checkout was put back: {exc.message}", hint=exc.hint
        ) from exc
    except (OSError, ValueError) as exc:
        _rollback(app, reporter)
        raise RolledBackError(f"reclone failed and the old checkout was put back: {exc}") from exc
    except BaseException:
        _rollback(app, reporter)
        raise


def _rollback(app: Path, reporter: Reporter) -> None:
    if journal_path(app).exists():
        data = _read_journal(app)
        if data.get("phase") != "swapped":
            recover(app, reporter)


def _run(
    ctx: Context,
    app: Path,
    new: Path,
    aside: Path,
    url: str,
    target: str,
    branch: str | None,
    old_ok: bool,
    notes: list[str],
    journal: dict[str, Any],
    reporter: Reporter,
) -> RecloneResult:
    _step("clone", reporter, f"cloning {redact(url)}")
    run(
        ["git", "clone", "-q", "--no-checkout", "--origin", "origin", url, str(new)],
        cwd=str(app.parent),
        env=git_env(new),
        timeout=CLONE_TIMEOUT,
        check=True,
    )
    (new / ".git" / _MARKER).write_text(journal["id"])

    _step("checkout", reporter, f"checking out {target[:12]}")
    sha = _resolve_target(new, app, old_ok, target)
    if sha is None:
        raise ProcessError(f"{target} is not in {redact(url)}", hint="choose one with --ref")
    if branch is None and rev_parse(new, f"origin/{target}") == sha and target != sha:
        branch = target
    if branch:
        git(new, "checkout", "-q", "-B", branch, sha, check=True, timeout=CLONE_TIMEOUT)
        if rev_parse(new, f"origin/{branch}"):
            git(new, "branch", "-q", f"--set-upstream-to=origin/{branch}", check=True)
    else:
        git(new, "checkout", "-q", "--detach", sha, check=True, timeout=CLONE_TIMEOUT)

    _step("patch", reporter, "saving local changes to tracked files")
    records = new / ".git" / RECORD_DIR
    records.mkdir()
    index = records / "index"
    shutil.copyfile(new / ".git" / "index", index)
    env = git_env(new, {"GIT_INDEX_FILE": str(index)})
    diff = run(
        ["git", f"--git-dir={new / '.git'}", f"--work-tree={app}", "diff", "--binary", "HEAD"],
        env=env,
        timeout=600,
        check=True,
    )
    index.unlink()
    patch_text = diff.stdout
    if patch_text.strip():
        (records / PATCH_NAME).write_text(patch_text, encoding="utf-8")

    _step("plan", reporter, "finding the user data to move")
    tracked, tracked_dirs = tracked_paths(new)
    entries = plan_moves(app, tracked, tracked_dirs)
    before = count(app, entries)
    user_data = [p for p in ctx.install.manifest.user_data if os.path.lexists(app / p)]
    journal.update(
        phase="move",
        entries=entries,
        sha=sha,
        branch=branch,
        counted={"files": before[0], "bytes": before[1]},
    )
    _write_journal(app, journal)
    reporter.info(f"{len(entries)} path(s), {before[0]} file(s), {before[1]} bytes to move")

    _step("move", reporter, "moving user data into the new checkout")
    displaced = new / ".git" / "repair-displaced"
    half = len(entries) // 2
    for i, rel in enumerate(entries):
        if i == half:
            _step("move-half", reporter)
        _move(app / rel, new / rel, displaced)

    _step("verify", reporter, "counting files and bytes")
    after = count(new, entries)
    if after != before:
        raise RepairError(
            f"counted {before[0]} files / {before[1]} bytes before the move and "
            f"{after[0]} / {after[1]} after"
        )
    missing = [p for p in user_data if not os.path.lexists(new / p)]
    if missing:
        raise RepairError(f"user data missing after the move: {', '.join(missing)}")
    problems = fsck(new, full=False)
    if problems:
        raise RepairError(f"the new clone is not sound: {problems[0]}")

    _step("swap", reporter, "swapping the folders")
    journal["phase"] = "swap"
    _write_journal(app, journal)
    fsops.move_aside(app, aside)
    _step("swap-half", reporter)
    fsops.move_aside(new, app)
    journal["phase"] = "swapped"
    _write_journal(app, journal)

    _step("finish", reporter)
    patch = _finish(app, aside, journal)
    journal_path(app).unlink()
    reporter.info(f"the old checkout is kept at {aside}; delete it once the new one works")
    if patch:
        reporter.info(f"local changes to tracked files are saved in {patch}")
    return RecloneResult(
        app,
        aside,
        sha,
        branch,
        redact(url),
        patch,
        tuple(entries),
        before[0],
        before[1],
        tuple(notes),
    )
