"""Backups of an install: a snapshot file, and the venv itself (moved aside by a rename, a
copy, or a portable archive).

Backups live beside the install, in ``<app folder>/.repair-backups/<id>/`` (git ignores the
folder: it holds a ``.gitignore`` of ``*``), never inside the venv. A venv on another filesystem
than the app folder is kept beside the venv instead (``.<venv name>.repair-backup-<id>``), so
that moving it stays a rename. Each backup folder holds ``backup.json`` (what it is),
``snapshot.json`` (``repair.snapshot/1``) and ``venv/`` or ``venv.tar.gz``; a pipeline run adds
``journal.json`` and ``logs/``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import sys
import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from repair import fsops
from repair.errors import BusyError, ExitCode, RepairError, UsageError
from repair.progress import Reporter

if TYPE_CHECKING:
    from repair.context import Context
    from repair.install import Install

ROOT_NAME = ".repair-backups"
LOCK_NAME = "repair.lock"
META = "backup.json"
# Test hook (README, "Test hooks"): an archive write fails with ENOSPC after this many bytes.
DISK_FULL_ENV = "WEBUI_REPAIR_TEST_DISK_FULL_AFTER"


class BackupError(RepairError):
    """A backup could not be made or restored; nothing was changed."""

    exit_code = ExitCode.PROBLEMS


@dataclass(frozen=True)
class BackupInfo:
    id: str
    path: Path
    snapshot_path: Path
    created: str
    has_venv: bool
    kind: str = "snapshot"  # moved | copy | archive | snapshot
    venv_path: Path | None = None  # where the venv copy is (folder or archive)
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "path": str(self.path),
            "snapshot": str(self.snapshot_path),
            "created": self.created,
            "has_venv": self.has_venv,
            "kind": self.kind,
            "venv": str(self.venv_path) if self.venv_path else None,
            "reason": self.reason,
        }


def backups_root(install: Install) -> Path:
    """``<app folder>/.repair-backups``: beside the install, never inside the venv."""
    return install.dir / ROOT_NAME


def _ensure_root(install: Install) -> Path:
    root = backups_root(install)
    root.mkdir(parents=True, exist_ok=True)
    ignore = root / ".gitignore"
    if not ignore.exists():
        fsops.atomic_write(ignore, "# webui-repair backups: never committed\n*\n")
    return root


@contextlib.contextmanager
def install_lock(install: Install) -> Iterator[Path]:
    """One lock per install (a file in the backups folder). A second holder gets exit 6."""
    path = _ensure_root(install) / LOCK_NAME
    busy = BusyError(
        f"another repair is running on {install.dir} (it holds {path})",
        hint="wait for it to finish; if none is running, the lock is released when its "
        "process ends",
    )
    if os.name == "nt":
        from filelock import FileLock, Timeout

        lock = FileLock(str(path), timeout=0)
        try:
            lock.acquire()
        except Timeout as exc:
            raise busy from exc
        try:
            yield path
        finally:
            lock.release()
        return
    # POSIX: flock(2) on the file, as filelock's UnixFileLock does (the two see each other's
    # locks), without importing filelock, whose import (asyncio) costs more than the lock.
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES):
                raise
            raise busy from exc
        try:
            yield path
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def new_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(2)


def _info_from(folder: Path, data: dict[str, Any]) -> BackupInfo:
    venv = data.get("venv_path")
    return BackupInfo(
        id=str(data["id"]), path=folder, snapshot_path=folder / "snapshot.json",
        created=str(data.get("created", "")), has_venv=bool(data.get("has_venv")),
        kind=str(data.get("kind", "snapshot")), venv_path=Path(venv) if venv else None,
        reason=str(data.get("reason", "")),
    )


def write_meta(info: BackupInfo, durable: bool = True, **extra: Any) -> None:
    data = info.to_json()
    data["venv_path"] = data.pop("venv")
    data.update(extra)
    fsops.atomic_write(info.path / META, json.dumps(data, indent=2), durable=durable)


def read_meta(folder: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((folder / META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "id" in data else None


def venv_home_for(install: Install, folder: Path, backup_id: str) -> Path:
    """Where a backup's venv folder goes: inside the backup when that is the venv's filesystem,
    else beside the venv (a rename must stay a rename)."""
    inside = folder / "venv"
    if not install.venv.exists() or fsops.same_filesystem(install.venv, folder):
        return inside
    return install.venv.with_name(f".{install.venv.name}.repair-backup-{backup_id}")


def _check_space(venv: Path, where: Path, what: str = "the copy") -> int:
    """Raise ``BackupError`` before anything is written when ``where`` lacks room for ``venv``."""
    _files, size = fsops.tree_size(venv)
    free = fsops.free_space(where)
    need = size + (16 << 20)
    if free < need:
        raise BackupError(
            f"not enough free space for {what}: {need // (1 << 20)} MB needed, "
            f"{free // (1 << 20)} MB free on {where}",
            hint="free some space; the repair itself backs up by rename and needs none",
        )
    return size


def _archive(venv: Path, dest: Path, reporter: Reporter) -> None:
    size = _check_space(venv, dest.parent, "the archive")
    part = dest.with_name(dest.name + ".part")
    limit = os.environ.get(DISK_FULL_ENV)
    try:
        with open(part, "wb") as raw:
            out: IO[bytes] = _LimitedWriter(raw, int(limit)) if limit else raw  # type: ignore[assignment]
            with tarfile.open(fileobj=out, mode="w:gz", compresslevel=1) as tar, \
                    reporter.progress("archiving the venv", size, unit="B") as bar:
                for root, dirs, names in os.walk(venv):
                    rel_root = os.path.relpath(root, venv)
                    for name in sorted(dirs) + sorted(names):
                        full = os.path.join(root, name)
                        arc = os.path.normpath(os.path.join("venv", rel_root, name))
                        is_dir = os.path.isdir(full) and not os.path.islink(full)
                        tar.add(full, arcname=arc, recursive=False)
                        if not is_dir:
                            bar.advance(os.lstat(full).st_size)
        os.replace(part, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(part)
        raise


class _LimitedWriter:
    """A file wrapper that fails like a full disk after ``limit`` bytes (test hook)."""

    def __init__(self, raw: IO[bytes], limit: int) -> None:
        self.raw, self.left = raw, limit

    def write(self, data: bytes) -> int:
        if len(data) > self.left:
            raise OSError(errno.ENOSPC, "No space left on device (test hook)")
        self.left -= len(data)
        return self.raw.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


def create_backup(
    ctx: Context, *, move_venv: bool = False, archive: bool = False,
    snapshot_only: bool = False, reporter: Reporter | None = None, reason: str = "manual",
    on_ready: Callable[[BackupInfo, Path], None] | None = None,
) -> BackupInfo:
    """Snapshot the install and keep its venv: moved aside (``move_venv``, the pipeline's way:
    instant), archived (``archive``: portable), or by default copied; a copy or an archive is
    preceded by a free-space check. ``snapshot_only`` writes the snapshot file alone (what
    ``check --pre-update`` keeps: cheap whatever the venv's size).

    ``on_ready(info, venv_dest)`` is called once the snapshot is written and before the venv
    is touched (the pipeline writes its journal there). On any failure the backup folder is
    removed and the install is as it was.
    """
    from repair.snapshot import take_snapshot

    reporter = reporter or Reporter()
    install = ctx.install
    root = _ensure_root(install)
    backup_id = new_id()
    folder = root / backup_id
    folder.mkdir()
    now = time.time()  # microseconds: two backups in one second still sort newest first
    created = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1e6):06d}Z"
    info = BackupInfo(backup_id, folder, folder / "snapshot.json", created, False, "snapshot",
                      None, reason)
    moved: Path | None = None
    try:
        snapshot = take_snapshot(ctx)
        fsops.atomic_write(info.snapshot_path, json.dumps(snapshot, indent=2))
        write_meta(info, venv_origin=str(install.venv))
        if on_ready is not None:
            on_ready(info, venv_home_for(install, folder, backup_id))
        if install.venv.exists() and not snapshot_only:
            if archive:
                dest = folder / "venv.tar.gz"
                reporter.step(f"archiving {install.venv}")
                _archive(install.venv, dest, reporter)
                kind = "archive"
            else:
                dest = venv_home_for(install, folder, backup_id)
                if move_venv:
                    moved = fsops.move_aside(install.venv, dest)
                    kind = "moved"
                else:
                    _check_space(install.venv, dest.parent)
                    reporter.step(f"copying {install.venv}")
                    _copy_with_progress(install.venv, dest, reporter, "copying the venv")
                    kind = "copy"
            info = BackupInfo(backup_id, folder, info.snapshot_path, created, True, kind, dest,
                              reason)
            write_meta(info, venv_origin=str(install.venv))
    except BaseException as exc:
        if moved is not None and not os.path.lexists(install.venv):
            fsops.move_aside(moved, install.venv)
        _discard(info, install)
        if isinstance(exc, OSError):
            raise BackupError(f"the backup could not be written: {exc.strerror or exc}; "
                              "nothing was changed") from exc
        raise
    return info


def _discard(info: BackupInfo, install: Install) -> None:
    """Remove a half-made backup (never the live venv)."""
    if info.venv_path and info.kind == "copy" and info.venv_path.exists():
        fsops.guarded_rmtree(info.venv_path, venv_root=info.venv_path, protect=[install.dir])
    fsops.remove_backup_folder(info.path, backups_root(install))


def list_backups(install: Install) -> list[BackupInfo]:
    """Backups of the install, newest first."""
    root = backups_root(install)
    if not root.is_dir():
        return []
    out = []
    for folder in root.iterdir():
        data = read_meta(folder) if folder.is_dir() else None
        if data is not None:
            out.append(_info_from(folder, data))
    out.sort(key=lambda b: (b.created, b.id), reverse=True)
    return out


def get_backup(install: Install, backup_id: str) -> BackupInfo:
    for info in list_backups(install):
        if info.id == backup_id:
            return info
    known = ", ".join(b.id for b in list_backups(install)[:5]) or "none"
    raise UsageError(f"no backup {backup_id!r} for {install.dir} (newest: {known})")


def restore_backup(install: Install, backup_id: str, reporter: Reporter | None = None
                   ) -> BackupInfo:
    """Put the backup's venv back exactly. The current venv is first kept as a new backup
    (moved aside), so a restore can itself be undone; the chosen backup stays as it is.
    Returns the backup made of the venv that was replaced."""
    from repair.context import Context

    reporter = reporter or Reporter()
    info = get_backup(install, backup_id)
    if not info.has_venv or info.venv_path is None or not info.venv_path.exists():
        raise UsageError(f"backup {backup_id} holds no venv (only a snapshot)",
                         hint="use 'repair install --from-snapshot' with its snapshot.json")
    reporter.step("keeping the current venv as a backup")
    before = create_backup(Context(install), move_venv=True, reporter=reporter,
                           reason=f"before restoring {backup_id}")
    try:
        reporter.step(f"restoring {backup_id} to {install.venv}")
        if info.kind == "archive":
            _extract(info.venv_path, install.venv, reporter)
        else:
            _copy_with_progress(info.venv_path, install.venv, reporter, "restoring")
    except BaseException:
        if install.venv.exists():
            fsops.guarded_rmtree(install.venv, venv_root=install.venv, protect=[install.dir])
        if before.kind == "moved" and before.venv_path is not None:
            fsops.move_aside(before.venv_path, install.venv)
        raise
    return before


def _copy_with_progress(src: Path, dest: Path, reporter: Reporter, label: str) -> None:
    """A copy of the venv with a bar on a terminal (the walk that sizes it is cheap beside the
    copy)."""
    with reporter.progress(label, fsops.tree_size(src)[1], unit="B") as bar:
        fsops.copy_tree(src, dest, on_file=bar.advance)


def _extract(archive: Path, venv: Path, reporter: Reporter | None = None) -> None:
    reporter = reporter or Reporter()
    staging = venv.with_name(f".{venv.name}.repair-extract")
    staging.mkdir()
    (staging / fsops.PARTIAL_MARKER).write_text("extract\n")
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = [m for m in tar.getmembers()
                       if m.name == "venv" or m.name.startswith("venv/")]
            bar = reporter.progress("restoring", sum(m.size for m in members), unit="B")

            def counted() -> Iterator[tarfile.TarInfo]:
                for m in members:
                    yield m
                    bar.advance(m.size)
            with bar:
                if sys.version_info >= (3, 12) or hasattr(tarfile, "data_filter"):
                    tar.extractall(staging, members=counted(), filter="tar")
                else:  # pragma: no cover - old 3.10 patch releases
                    tar.extractall(staging, members=counted())
        os.rename(staging / "venv", venv)
    finally:
        if staging.exists():
            fsops.guarded_rmtree(staging, venv_root=staging)


def remove_backup(install: Install, info: BackupInfo) -> None:
    """Delete one backup: its venv copy (through the guarded delete) and its folder."""
    if info.venv_path is not None and info.venv_path.is_dir():
        fsops.guarded_rmtree(info.venv_path, venv_root=info.venv_path, protect=[install.dir])
    fsops.remove_backup_folder(info.path, backups_root(install))


def prune_backups(install: Install, keep: int) -> list[BackupInfo]:
    """Keep the newest ``keep`` backups; delete the others (never one an unfinished repair
    needs). Returns the removed ones."""
    if keep < 0:
        raise UsageError("--keep must be 0 or more")
    removed = []
    for info in list_backups(install)[keep:]:
        if (info.path / "journal.json").exists():
            from repair.pipeline import journal_unfinished

            if journal_unfinished(info.path):
                continue
        remove_backup(install, info)
        removed.append(info)
    return removed

