"""``repair backup list`` as text."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from repair.backup.store import BackupInfo


def backup_list_text(infos: list[BackupInfo]) -> str:
    """The backups, newest first: id, when, kind and why; ``No backups.`` when there is none."""
    lines = [] if infos else ["No backups."]
    lines += [f"{i.id}  {i.created}  {i.kind:<8}  {i.reason}" for i in infos]
    return "\n".join(lines) + "\n"
