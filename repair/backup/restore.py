"""Putting a backup's venv back (``restore_backup``), journaled like a repair: a restore killed at
any point is finished or undone by the next run. An archive is extracted only after every member
is checked (``_check_member``).
"""

from __future__ import annotations

import os
import posixpath
import tarfile
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from repair import fsops
from repair.backup.store import (
    BackupError,
    BackupInfo,
    copy_with_progress,
    create_backup,
    get_backup,
    write_meta,
)
from repair.context import Context
from repair.errors import UsageError
from repair.progress import Reporter
from repair.saferead import open_regular
from repair.transaction.journal import JOURNAL, Journal, crash_point, fingerprint, mark, new_token
from repair.transaction.recovery import recover, rollback

if TYPE_CHECKING:
    from repair.app.target import Install


def restore_backup(
    install: Install, backup_id: str, reporter: Reporter | None = None
) -> BackupInfo:
    """Put the backup's venv back exactly. The current venv is first kept as a new backup
    (moved aside), so a restore can itself be undone. A backup that is a moved venv is put
    back by a rename (instant whatever its size; the backup then keeps its snapshot only); a
    copy is copied, an archive extracted with every member checked. Journaled like a repair:
    a restore killed at any point is finished or undone by the next run.
    Returns the backup made of the venv that was replaced."""
    reporter = reporter or Reporter()
    fsops.check_venv_target(install.venv, install.dir)
    recover(install, reporter)
    info = get_backup(install, backup_id)
    if not info.has_venv or info.venv_path is None or not os.path.lexists(info.venv_path):
        raise UsageError(
            f"backup {backup_id} holds no venv (only a snapshot)",
            hint="use 'repair install --from-snapshot' with its snapshot.json",
        )
    by_rename = info.kind == "moved" and fsops.same_filesystem(info.venv_path, install.venv.parent)
    if info.kind != "archive":
        reason = fsops.refuse_root(info.venv_path)
        if reason is not None:
            raise UsageError(f"backup {backup_id} cannot be restored: {reason}")
    box: list[Journal] = []
    venv = install.venv

    def on_ready(made: BackupInfo, dest: Path) -> None:
        journal = Journal(
            made.path / JOURNAL,
            {
                "schema": "repair.journal/1",
                "kind": "restore",
                "pid": os.getpid(),
                "started": time.time(),
                "venv": str(venv),
                "venv_backup": str(dest),
                "restoring": backup_id,
                "old_fp": fingerprint(venv),
                "new_fp": None,
                "token": new_token(),
                "created": False,
                "state": "backing-up",
            },
        )
        journal.set()
        box.append(journal)
        crash_point("restore:journal")

    reporter.step("keeping the current venv as a backup")
    before = create_backup(
        Context(install),
        move_venv=True,
        reporter=reporter,
        reason=f"before restoring {backup_id}",
        on_ready=on_ready,
    )
    journal = box[0]
    journal.set(state="running")
    crash_point("restore:moved")
    try:
        reporter.step(f"restoring {backup_id} to {venv}")
        if by_rename:
            journal.set(restore_fp=fingerprint(info.venv_path))
            fsops.guarded_move(info.venv_path, venv, protect=[install.dir])
        else:
            journal.set(created=True)
            if info.kind == "archive":
                _extract(info.venv_path, venv, journal)
            else:
                venv.mkdir()
                mark(venv, journal.data["token"])
                journal.set(new_fp=fingerprint(venv))
                copy_with_progress(info.venv_path, venv, reporter, "restoring")
                journal.set(new_fp=fingerprint(venv))
        crash_point("restore:placed")
    except BaseException:
        rollback(journal, install, reporter)
        raise
    (venv / fsops.PARTIAL_MARKER).unlink(missing_ok=True)
    if by_rename:
        write_meta(
            replace(info, has_venv=False, kind="snapshot", venv_path=None),
            reason=f"{info.reason} (restored by rename; its venv is the live one)",
        )
    journal.set(state="committed")
    return before


_MEMBER_TYPES = (
    tarfile.REGTYPE,
    tarfile.AREGTYPE,
    tarfile.DIRTYPE,
    tarfile.SYMTYPE,
    tarfile.LNKTYPE,
)


def _check_member(member: tarfile.TarInfo, links: set[str]) -> str | None:
    """Why an archive member may not be extracted (None when it may): only files, folders and
    links under ``venv/``, no absolute path, no ``..``, nothing below a link, no hard link out
    of the venv, and no symbolic link out of it except the interpreter links of ``bin/``."""
    name = member.name
    if member.type not in _MEMBER_TYPES:
        return f"{name!r} is not a file, folder or link"
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or "\\" in name:
        return f"{name!r} is an absolute path"
    parts = name.split("/")
    if ".." in parts or parts[0] != "venv":
        return f"{name!r} leaves the venv"
    if any("/".join(parts[:i]) in links for i in range(1, len(parts))):
        return f"{name!r} lies below a link"
    if member.issym():
        target = member.linkname
        inner = posixpath.normpath(posixpath.join(posixpath.dirname(name), target))
        interpreter = (
            parts[:2] == ["venv", "bin"]
            and len(parts) == 3
            and parts[2].startswith("python")
            and target.startswith("/")
        )
        if not interpreter and (target.startswith("/") or inner.split("/")[0] != "venv"):
            return f"{name!r} links to {target!r}, outside the venv"
    if member.islnk():
        target = posixpath.normpath(member.linkname)
        if (
            target.startswith("/")
            or ".." in target.split("/")
            or target.split("/")[0] != "venv"
            or target in links
        ):
            return f"{name!r} is a hard link to {member.linkname!r}, outside the venv"
    return None


def _extract(archive: Path, venv: Path, journal: Any = None) -> None:
    """Extract the archive's ``venv/`` to ``venv``, through a hidden staging folder, after every
    member is checked (``BackupError``, nothing written, for one that would leave the venv)."""
    staging = venv.with_name(f".{venv.name}.repair-extract")
    fsops.remove_own_folder(staging, marker=".repair-extract")
    try:
        raw = os.fdopen(open_regular(archive), "rb")
    except OSError as exc:
        raise BackupError(f"the archive {archive} is unreadable: {exc.strerror or exc}") from exc
    try:
        tar = tarfile.open(fileobj=raw, mode="r:*")  # noqa: SIM115 - closed by the with below
    except (OSError, tarfile.TarError, EOFError) as exc:
        raw.close()
        raise BackupError(f"the archive {archive} is unreadable: {exc}") from exc
    with raw, tar:
        try:
            members = tar.getmembers()
        except (OSError, tarfile.TarError, EOFError) as exc:
            raise BackupError(f"the archive {archive} is damaged: {exc}") from exc
        links = {m.name for m in members if m.issym()}
        for member in members:
            why = _check_member(member, links)
            if why is not None:
                raise BackupError(
                    f"the archive {archive} was not written by this tool: {why}; "
                    "nothing was extracted"
                )
        staging.mkdir()
        try:
            (staging / fsops.PARTIAL_MARKER).write_text("extract\n")
            try:
                if hasattr(tarfile, "data_filter"):
                    tar.extractall(staging, members=members, filter="tar")
                else:  # pragma: no cover - old 3.10 patch releases: checked above
                    tar.extractall(staging, members=members)
            except (OSError, tarfile.TarError, EOFError) as exc:
                raise BackupError(f"the archive {archive} could not be extracted: {exc}") from exc
            inner = staging / "venv"
            if journal is not None:
                mark(inner, journal.data["token"])
                journal.set(new_fp=fingerprint(inner))
            os.rename(inner, venv)
        finally:
            fsops.remove_own_folder(staging, marker=".repair-extract")
