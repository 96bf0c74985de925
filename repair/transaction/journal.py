"""The one transaction record of every changing command: a journal, locks, fingerprints and the
crash hook.

Like pipx's ``preserve_venv``: keep what was there (by a rename), write what is about to happen,
do it, write that it is done. A journal is a small JSON file written atomically and flushed to
disk before each act that cannot be taken back; it names the paths it touches and the
*fingerprint* of each folder it expects to find (device, inode and mtime of the folder and of its
``pyvenv.cfg``), so that a later run can tell the venv this run made from one rebuilt by hand.

Locks: one per venv (its real path) and one per application folder, both taken by every command
that changes either (``repair``, ``repair install``, ``backup create/restore/prune``, a reclone).
They are files under the user's state folder, named by a hash of the real path, so that two apps
sharing one venv (``VENV_DIR``) see each other, and a venv that is moved aside keeps its lock.

Test hook (README, "Test hooks"): ``WEBUI_REPAIR_TEST_CRASH_AT=<point>`` ends the process at once
(``os._exit(137)``, as ``kill -9`` would) when it reaches that point; every command names its
points (``transaction.pipeline.CRASH_POINTS``, ``rebuild.reclone.STEPS``, the install's steps).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import secrets
import signal
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from platformdirs import user_state_dir

from repair import fsops
from repair.errors import BusyError, UsageError

if TYPE_CHECKING:
    from repair.app.target import Install

CRASH_ENV = "WEBUI_REPAIR_TEST_CRASH_AT"
CRASH_CODE = 137
MAX_JOURNAL_BYTES = 4 << 20
JOURNAL = "journal.json"  # in the backup folder of the run
FINAL_STATES = {"committed", "rolled-back"}


def crash_point(name: str) -> None:
    """The test hook: exit at once, without cleanup, when ``name`` is the point asked for."""
    if os.environ.get(CRASH_ENV) == name:
        os._exit(CRASH_CODE)


# ---------------------------------------------------------------------------------------------
# Fingerprints


def fingerprint(folder: Path) -> dict[str, Any] | None:
    """Who ``folder`` is: device, inode and mtime of the folder and its ``pyvenv.cfg``
    (never through a link). None when it does not exist."""
    try:
        st = os.lstat(folder)
    except OSError:
        return None
    out: dict[str, Any] = {
        "dev": st.st_dev,
        "ino": st.st_ino,
        "mtime_ns": st.st_mtime_ns,
        "link": stat.S_ISLNK(st.st_mode),
    }
    try:
        cfg = os.lstat(Path(folder) / "pyvenv.cfg")
        out["cfg"] = {"ino": cfg.st_ino, "mtime_ns": cfg.st_mtime_ns}
    except OSError:
        out["cfg"] = None
    return out


def same_folder(folder: Path, expected: dict[str, Any] | None) -> bool:
    """Is ``folder`` the one fingerprinted? The folder's own mtime changes with every entry
    added or removed in it, so identity is the device and inode, and the ``pyvenv.cfg`` seen
    then (a venv rebuilt in the same place has a new one, even where the filesystem gave the
    new folder the old inode number)."""
    if not isinstance(expected, dict):
        return False
    now = fingerprint(folder)
    if (
        now is None
        or now["link"]
        or now["dev"] != expected.get("dev")
        or now["ino"] != expected.get("ino")
    ):
        return False
    was = expected.get("cfg")
    return was is None or now["cfg"] == was


def new_token() -> str:
    return secrets.token_hex(8)


def mark(folder: Path, token: str) -> None:
    """Write the partial marker of a folder this run builds, holding the journal's token."""
    (Path(folder) / fsops.PARTIAL_MARKER).write_text(f"{token}\n", encoding="utf-8")


def made_by(folder: Path, journal_data: dict[str, Any]) -> bool:
    """Did the run of this journal make ``folder``? Its identity (device and inode) must be the
    one recorded, and either its partial marker holds the run's token or its ``pyvenv.cfg`` is
    the one recorded. Anything else (a venv rebuilt by hand) is not the run's to delete."""
    expected = journal_data.get("new_fp")
    token = journal_data.get("token")
    marker = Path(folder) / fsops.PARTIAL_MARKER
    try:
        marked = (
            bool(token)
            and not os.path.islink(folder)
            and stat.S_ISREG(os.lstat(marker).st_mode)
            and marker.read_text(encoding="utf-8").strip() == token
        )
    except (OSError, UnicodeDecodeError):
        marked = False
    if not isinstance(expected, dict):
        return marked and bool(journal_data.get("created"))
    now = fingerprint(folder)
    if (
        now is None
        or now["link"]
        or now["dev"] != expected.get("dev")
        or now["ino"] != expected.get("ino")
    ):
        return False
    return marked or (expected.get("cfg") is not None and now["cfg"] == expected["cfg"])


# ---------------------------------------------------------------------------------------------
# The journal


def inside(path: Path, root: Path) -> bool:
    """``path`` is ``root`` or below it, as written and with the links of its parent resolved."""
    path, root = Path(os.path.abspath(path)), Path(os.path.abspath(root))
    if path != root and root not in path.parents:
        return False
    real_parent, real_root = Path(os.path.realpath(path.parent)), Path(os.path.realpath(root))
    return path == root or real_parent == real_root or real_root in real_parent.parents


class JournalError(UsageError):
    """A journal that cannot be read (exit 2, one line)."""


class Journal:
    """``data`` is plain JSON: ``state``, the paths, their fingerprints, the child process."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self.data = data

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def state(self) -> str:
        return str(self.data.get("state"))

    def set(self, durable: bool = True, **values: Any) -> None:
        """Record ``values``. ``durable=False`` (no fsync) is for what only makes recovery more
        cautious when it is lost (see ``fsops.atomic_write``)."""
        self.data.update(values)
        self.data["updated"] = time.time()
        fsops.atomic_write(self.path, json.dumps(self.data, indent=2), durable=durable)

    def step(self, index: int, status: str) -> None:
        """Progress of one plan step (no fsync: recovery never reads the steps)."""
        self.data["steps"][index]["status"] = status
        self.set(durable=False)

    @classmethod
    def load(cls, path: Path) -> Journal | None:
        """The journal at ``path``; None when there is none; ``JournalError`` when it is not a
        journal (a one-line error, never a traceback)."""
        try:
            st = os.lstat(path)
        except OSError:
            return None
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_JOURNAL_BYTES:
            raise JournalError(
                f"{path} is not a journal of this tool",
                hint=f"remove {path} if nothing is left to recover",
            )
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError) as exc:
            raise JournalError(
                f"{path} is unreadable ({type(exc).__name__})",
                hint=f"remove {path} if nothing is left to recover",
            ) from exc
        if not isinstance(data, dict) or not isinstance(data.get("state"), str):
            raise JournalError(
                f"{path} is not a journal of this tool",
                hint=f"remove {path} if nothing is left to recover",
            )
        return cls(path, data)


def load_journal(folder: Path) -> Journal | None:
    return Journal.load(folder / JOURNAL)


def journal_unfinished(folder: Path) -> bool:
    try:
        journal = load_journal(folder)
    except JournalError:
        return True  # unreadable: kept, never pruned
    return journal is not None and journal.state not in FINAL_STATES


# ---------------------------------------------------------------------------------------------
# A child left from a killed run


def end_child(journal: Journal, grace: float = 10.0) -> bool:
    """End the process group the journal records (the installer a killed run started), and wait
    for it to be gone. True when one was still running."""
    pgid = journal.data.get("child_pgid")
    if not isinstance(pgid, int) or pgid <= 1 or os.name == "nt":
        return False
    if not _group_alive(pgid):
        return False
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, grace)):
        with contextlib.suppress(OSError):
            os.killpg(pgid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not _group_alive(pgid):
                return True
            time.sleep(0.05)
    raise BusyError(
        f"the installer process group {pgid} of an interrupted run does not end",
        hint=f"end it (kill -9 -{pgid}), then run repair again",
    )


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    # Linux: a group whose members are all zombies (ended, not yet reaped) is gone.
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] != "Z":
            return True
    return False


# ---------------------------------------------------------------------------------------------
# Locks


def _lock_dir() -> Path:
    return Path(user_state_dir("webui-repair", appauthor=False)) / "locks"


def lock_path(kind: str, folder: Path) -> Path:
    """The lock file of ``folder`` (its real path, so that every name of it shares one lock)."""
    real = os.path.normcase(os.path.realpath(folder))
    digest = hashlib.sha256(real.encode("utf-8", "surrogateescape")).hexdigest()[:20]
    return _lock_dir() / f"{kind}-{digest}.lock"


@contextlib.contextmanager
def _flock(path: Path, busy: BusyError) -> Iterator[Path]:
    path.parent.mkdir(parents=True, exist_ok=True)
    if os.name == "nt":
        # lazy: Windows only, and filelock's import (asyncio) costs more than the lock
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
    # POSIX: flock(2), as filelock's UnixFileLock does (the two see each other's locks),
    # without importing filelock, whose import (asyncio) costs more than the lock.
    import fcntl  # lazy: POSIX only

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


@contextlib.contextmanager
def locked(app: Path, venv: Path) -> Iterator[Path]:
    """The application's lock and the venv's lock, both or neither (exit 6 when either is
    held). Yields the application's lock file."""
    hint = "wait for it to finish; if none is running, the lock is released when its process ends"
    app_lock = lock_path("app", app)
    with (
        _flock(
            app_lock,
            BusyError(f"another repair is running on {app} (it holds {app_lock})", hint=hint),
        ),
        _flock(
            lock_path("venv", venv),
            BusyError(
                f"another repair is running on the venv {venv} (another application may share it)",
                hint=hint,
            ),
        ),
    ):
        yield app_lock


@contextlib.contextmanager
def install_lock(install: Install) -> Iterator[Path]:
    """``locked`` for an install: the lock every changing command takes (exit 6 when another
    holds the application's or the venv's lock)."""
    with locked(install.dir, install.venv) as path:
        yield path
