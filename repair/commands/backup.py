"""``repair backup create / list / restore ID / prune --keep N``: snapshots of an install's
environment (``backup.store``); the changing ones under the install's locks."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from repair.app.target import resolve_selection
from repair.backup.restore import restore_backup
from repair.backup.store import (
    BackupInfo,
    create_backup,
    list_backups,
    prune_backups,
)
from repair.context import Context
from repair.transaction.journal import install_lock

if TYPE_CHECKING:
    from repair.progress import Reporter
    from repair.selection import InstallSelection

# Asked before a change, with the question; raises (``UsageError``) when the answer is no.
# None: the change goes ahead (``--yes``).
Confirm = Callable[[str], None] | None


def backup_create(
    where: InstallSelection, reporter: Reporter, *, archive: bool, snapshot_only: bool
) -> BackupInfo:
    """Snapshot the install at ``where`` and keep a copy of its venv."""
    install = resolve_selection(where)
    with install_lock(install):
        return create_backup(
            Context(install, reporter=reporter),
            archive=archive,
            snapshot_only=snapshot_only,
            reporter=reporter,
        )


def backup_list(where: InstallSelection) -> list[BackupInfo]:
    """The backups of the install, newest first."""
    return list_backups(resolve_selection(where))


def backup_restore(
    where: InstallSelection, backup_id: str, reporter: Reporter, confirm: Confirm
) -> BackupInfo:
    """Put backup ``backup_id``'s venv back; returns the backup that keeps the venv it
    replaced."""
    install = resolve_selection(where)
    if confirm is not None:
        confirm(
            f"Replace {install.venv} with backup {backup_id}? (the current venv is kept as "
            "a backup)"
        )
    with install_lock(install):
        return restore_backup(install, backup_id, reporter)


def backup_prune(where: InstallSelection, keep: int, confirm: Confirm) -> list[BackupInfo]:
    """Delete all but the newest ``keep`` backups; returns the removed ones."""
    install = resolve_selection(where)
    if confirm is not None:
        confirm(f"Delete all but the newest {keep} backup(s) of {install.dir}?")
    with install_lock(install):
        return prune_backups(install, keep)
