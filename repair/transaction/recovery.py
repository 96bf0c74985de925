"""Finishing or undoing an interrupted run (the journal of ``repair.transaction.journal``).

Rolling back is deleting what is at the venv path (only what the run made, through the guarded
delete) and renaming the backup back: renames and deletes only, so that a full disk cannot stop
it, and every step of it can be run twice. A run that finds an unfinished journal (the process
was killed) rolls it back, or finishes it when it had already been verified.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from repair import fsops
from repair.backup.store import backups_root, read_meta, venv_belongs
from repair.checks.processes import processes_using
from repair.errors import BusyError, RepairError, RollbackFailedError
from repair.transaction.journal import (
    FINAL_STATES,
    Journal,
    JournalError,
    crash_point,
    end_child,
    load_journal,
    made_by,
    same_folder,
)

if TYPE_CHECKING:
    from repair.app.target import Install
    from repair.progress import Reporter


def _saved_venv(journal: Journal, install: Install) -> Path | None:
    """Where the journal says the old venv was moved: only a place this tool puts backups."""
    value = journal.data.get("venv_backup")
    if not value:
        return None
    path = Path(os.path.abspath(str(value)))
    if not venv_belongs(install, journal.folder, path):
        raise JournalError(
            f"{journal.path} names {value} as the backup of the venv, which is "
            "not a backup folder of this install",
            hint=f"remove {journal.path} if nothing is left to recover",
        )
    return path


def _ours(journal: Journal, venv: Path) -> bool:
    """Is what is at the venv path the venv this run began to build? (``journal.made_by``)"""
    return made_by(venv, journal.data)


def _make_room(journal: Journal, install: Install, reporter: Reporter | None = None) -> None:
    """Clear the venv path: delete the venv this run built; anything else (a venv rebuilt by
    hand since) is moved into the backup folder, never deleted."""
    venv = install.venv
    if not os.path.lexists(venv):
        return
    if _ours(journal, venv):
        fsops.guarded_rmtree(venv, venv_root=venv, protect=[install.dir])
        return
    n = 0
    while os.path.lexists(journal.folder / f"venv-found-{n}"):
        n += 1
    dest = journal.folder / f"venv-found-{n}"
    if reporter is not None:
        reporter.warn(f"{venv} was changed since the interrupted run: it is kept in {dest}")
    if os.path.islink(venv):
        os.rename(venv, dest)  # the link itself, never what it points to
    else:
        fsops.guarded_move(venv, dest, protect=[install.dir])


def rollback(journal: Journal, install: Install, reporter: Reporter | None = None) -> None:
    """Put the old venv back (renames and deletes of what this run made; no new space needed).
    Safe to run again after a crash at any point of it."""
    venv = install.venv
    saved = _saved_venv(journal, install)
    _note(journal, state="rolling-back")
    crash_point("rollback:start")
    old_fp = journal.data.get("old_fp")
    if old_fp is not None and same_folder(venv, old_fp):
        pass  # the old venv is in place: never moved, or already moved back
    elif saved is not None and os.path.lexists(saved):
        _make_room(journal, install, reporter)
        crash_point("rollback:cleared")
        fsops.guarded_move(saved, venv, protect=[install.dir])
        crash_point("rollback:renamed")
    elif old_fp is not None:
        raise RepairError(f"the backup of the venv is missing from {journal.folder}")
    elif journal.data.get("created"):
        _make_room(journal, install, reporter)  # there was no venv before
    meta = read_meta(journal.folder)
    if (
        meta is not None
        and meta.get("has_venv")
        and meta.get("kind") == "moved"
        and not os.path.lexists(saved or journal.folder / "venv")
    ):
        meta.update(
            has_venv=False,
            venv_path=None,
            kind="snapshot",
            reason=f"{meta.get('reason', '')} (rolled back; venv restored)",
        )
        with contextlib.suppress(OSError):  # a full disk: the listing is fixed next time
            fsops.atomic_write(journal.folder / "backup.json", json.dumps(meta, indent=2))
    _note(journal, state="rolled-back")


def _note(journal: Journal, **values: Any) -> None:
    """A journal write during a rollback: the rollback itself is renames and deletes and needs
    no space, so a full disk must not stop it. A lost note leaves an earlier state, from which
    the next run rolls back again (every step of a rollback can be run twice)."""
    try:
        journal.set(**values)
    except OSError:
        journal.data.update(values)


def commit(journal: Journal, install: Install) -> None:
    if _ours(journal, install.venv):
        marker = install.venv / fsops.PARTIAL_MARKER
        if marker.exists():
            marker.unlink()
    journal.set(state="committed", durable=False)  # lost: "verified" is committed again


def recover(install: Install, reporter: Reporter) -> list[str]:
    """Finish or roll back every unfinished run on ``install`` (call with the locks held),
    after looking: a child process left from the killed run is ended first; an application
    running on the venv makes it wait (``BusyError``, exit 6); what the run did not make is
    never deleted. Returns what was done, one line each."""
    done: list[str] = []
    root = backups_root(install)
    if not root.is_dir() or os.path.islink(root):
        return done
    for folder in sorted(root.iterdir()):
        if not folder.is_dir() or folder.is_symlink():
            continue
        journal = load_journal(folder)
        if journal is None or journal.state in FINAL_STATES:
            continue
        if journal.data.get("venv") and os.path.abspath(str(journal.data["venv"])) != str(
            install.venv
        ):
            continue  # the journal of another venv of this app (--venv): left for that one
        if end_child(journal):
            reporter.warn(f"ended the installer left running by the interrupted run {folder.name}")
        _wait_for_app(install)
        if journal.state in ("verified", "committing"):
            reporter.step(f"finishing the interrupted repair {folder.name} (it was verified)")
            commit(journal, install)
            done.append(f"finished {folder.name}")
            continue
        if journal.data.get("restore_fp") is not None and same_folder(
            install.venv, journal.data["restore_fp"]
        ):
            reporter.step(f"finishing the interrupted restore {folder.name}")
            journal.set(state="committed")
            done.append(f"finished {folder.name}")
            continue
        reporter.step(f"rolling back the interrupted repair {folder.name} (state {journal.state})")
        try:
            rollback(journal, install, reporter)
        except JournalError:
            raise
        except Exception as exc:  # noqa: BLE001 - named to the user with the backup's place
            raise RollbackFailedError(
                f"could not roll back the interrupted repair {folder.name}: {exc}",
                hint=f"the old venv is kept in {journal.data.get('venv_backup')}; move it back to "
                f"{install.venv} by hand",
            ) from exc
        done.append(f"rolled back {folder.name}")
    return done


def _wait_for_app(install: Install) -> None:
    running = processes_using(install.venv) if os.path.isdir(install.venv) else []
    if running:
        names = ", ".join(p.describe() for p in running[:5])
        raise BusyError(
            f"an interrupted repair must be finished, and the application is running "
            f"on this venv: {names}",
            hint="stop the web UI, then run repair again",
        )
