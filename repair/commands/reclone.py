"""Reclone alone (``python -m repair.cli.reclone``, for tests and scripts): the application's
repository cloned anew, every piece of user data kept (``rebuild.reclone``), under the install's
locks. ``repair --reclone`` runs the same function inside the repair pipeline."""

from __future__ import annotations

from typing import TYPE_CHECKING

from repair.app.target import resolve_selection
from repair.context import Context
from repair.rebuild.reclone import RecloneResult, reclone
from repair.transaction.journal import install_lock

if TYPE_CHECKING:
    from repair.progress import Reporter
    from repair.selection import InstallSelection


def reclone_install(
    where: InstallSelection, reporter: Reporter, *, ref: str | None, repo_url: str | None
) -> RecloneResult:
    install = resolve_selection(where)
    with install_lock(install):  # the app's and the venv's locks, as every changing command
        return reclone(
            Context(install, reporter=reporter), ref=ref, repo_url=repo_url, reporter=reporter
        )
