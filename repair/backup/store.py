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
import stat
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from repair import fsops
from repair.backup.snapshot import take_snapshot
from repair.errors import ExitCode, RepairError, UsageError
from repair.progress import Reporter
from repair.transaction.journal import inside, journal_unfinished

if TYPE_CHECKING:
    from repair.app.target import Install
    from repair.context import Context

ROOT_NAME = ".repair-backups"
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


def new_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(2)


def venv_belongs(install: Install, folder: Path, path: Path) -> bool:
    """Is ``path`` a place where this tool keeps the venv of the backup ``folder``? (Inside
    the folder, or the folder's sibling beside the venv; never a path read from a file and
    trusted as it is.)"""
    path = Path(os.path.abspath(path))
    if path.parent == Path(os.path.abspath(folder)) and inside(path, folder):
        return True
    return path == install.venv.with_name(
        f".{install.venv.name}.repair-backup-{folder.name}"
    ) and inside(path, install.venv.parent)


def _info_from(folder: Path, data: dict[str, Any], install: Install | None = None) -> BackupInfo:
    venv = data.get("venv_path")
    if venv is not None and (
        not isinstance(venv, str)
        or (install is not None and not venv_belongs(install, folder, Path(venv)))
    ):
        raise UsageError(
            f"{folder / META} names a venv outside its backup: {venv!r}",
            hint="it was not written by this tool; remove that backup folder",
        )
    return BackupInfo(
        id=str(data["id"]),
        path=folder,
        snapshot_path=folder / "snapshot.json",
        created=str(data.get("created", "")),
        has_venv=bool(data.get("has_venv")),
        kind=str(data.get("kind", "snapshot")),
        venv_path=Path(venv) if venv else None,
        reason=str(data.get("reason", "")),
    )


def write_meta(info: BackupInfo, durable: bool = True, **extra: Any) -> None:
    data = info.to_json()
    data["venv_path"] = data.pop("venv")
    data.update(extra)
    fsops.atomic_write(info.path / META, json.dumps(data, indent=2), durable=durable)


def read_meta(folder: Path) -> dict[str, Any] | None:
    """``backup.json`` of ``folder``; None when it is missing or not one this tool wrote (a
    regular file, small, a JSON object whose id is the folder's name)."""
    path = folder / META
    try:
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode) or st.st_size > (1 << 20):
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or data.get("id") != folder.name:
        return None
    return data


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
            with (
                tarfile.open(fileobj=out, mode="w:gz", compresslevel=1) as tar,
                reporter.progress("archiving the venv", size, unit="B") as bar,
            ):
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
    ctx: Context,
    *,
    move_venv: bool = False,
    archive: bool = False,
    snapshot_only: bool = False,
    reporter: Reporter | None = None,
    reason: str = "manual",
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
    reporter = reporter or Reporter()
    install = ctx.install
    fsops.check_venv_target(install.venv, install.dir)
    root = _ensure_root(install)
    backup_id = new_id()
    folder = root / backup_id
    folder.mkdir()
    now = time.time()  # microseconds: two backups in one second still sort newest first
    created = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1e6):06d}Z"
    info = BackupInfo(
        backup_id, folder, folder / "snapshot.json", created, False, "snapshot", None, reason
    )
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
                    moved = fsops.guarded_move(install.venv, dest, protect=[install.dir])
                    kind = "moved"
                else:
                    _check_space(install.venv, dest.parent)
                    reporter.step(f"copying {install.venv}")
                    copy_with_progress(install.venv, dest, reporter, "copying the venv")
                    kind = "copy"
            info = BackupInfo(
                backup_id, folder, info.snapshot_path, created, True, kind, dest, reason
            )
            write_meta(info, venv_origin=str(install.venv))
    except BaseException as exc:
        if moved is not None and not os.path.lexists(install.venv):
            fsops.move_aside(moved, install.venv)
        _discard(info, install)
        if isinstance(exc, OSError):
            raise BackupError(
                f"the backup could not be written: {exc.strerror or exc}; nothing was changed"
            ) from exc
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
        data = read_meta(folder) if folder.is_dir() and not folder.is_symlink() else None
        if data is not None:
            try:
                out.append(_info_from(folder, data, install))
            except (UsageError, KeyError, TypeError):
                continue  # a tampered backup.json: listed nowhere, used for nothing
    out.sort(key=lambda b: (b.created, b.id), reverse=True)
    return out


def get_backup(install: Install, backup_id: str) -> BackupInfo:
    for info in list_backups(install):
        if info.id == backup_id:
            return info
    known = ", ".join(b.id for b in list_backups(install)[:5]) or "none"
    raise UsageError(f"no backup {backup_id!r} for {install.dir} (newest: {known})")


def copy_with_progress(src: Path, dest: Path, reporter: Reporter, label: str) -> None:
    """A copy of the venv with a bar on a terminal (the walk that sizes it is cheap beside the
    copy)."""
    with reporter.progress(label, fsops.tree_size(src)[1], unit="B") as bar:
        fsops.copy_tree(src, dest, on_file=bar.advance)


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
            if journal_unfinished(info.path):
                continue
        remove_backup(install, info)
        removed.append(info)
    return removed
