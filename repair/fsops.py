"""Everything destructive, in one place: a guarded delete, atomic writes, rename-based moves,
hard-link clones, free space.

``guarded_rmtree`` deletes only a folder that is a venv (or a folder this tool marked as one it
is building), only inside the venv it was given, never through a link, and never ``/``, a home
folder, an application checkout, or the venv the tool itself runs from.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from repair.errors import UsageError

# Written first into a venv folder the tool is building; a folder with it may be deleted even
# before it looks like a venv (a crash mid-creation), and it is removed when the venv is done.
PARTIAL_MARKER = ".webui-repair-partial"

# Test hook (documented in README, "Test hooks"): pretend the filesystem has this many bytes free.
FREE_SPACE_ENV = "WEBUI_REPAIR_TEST_FREE_SPACE"


class UnsafeDeleteError(UsageError):
    """A delete the guards refused. Nothing was touched."""


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _is_within(child: Path, parent: Path) -> bool:
    try:
        child.relative_to(parent)
        return True
    except ValueError:
        return False


def _looks_like_venv(path: Path) -> bool:
    from repair.venv import VenvLayout

    return VenvLayout.detect(path).looks_like_venv() or (path / PARTIAL_MARKER).is_file()


def _protected_roots() -> list[Path]:
    homes = {Path.home()}
    for var in ("HOME", "USERPROFILE"):
        value = os.environ.get(var)
        if value:
            homes.add(Path(value))
    roots = [_real(h) for h in homes]
    roots.append(_real(Path(os.path.abspath(os.sep))))
    return roots


def running_prefixes() -> list[Path]:
    """The venv (and base) the tool itself runs from: never deleted."""
    out = {_real(Path(sys.prefix)), _real(Path(sys.exec_prefix))}
    return sorted(out)


def check_deletable(path: Path, *, venv_root: Path, protect: Iterable[Path] = ()) -> None:
    """Raise ``UnsafeDeleteError`` unless ``path`` may be deleted as part of ``venv_root``."""
    path = Path(os.path.abspath(path))
    venv_root = Path(os.path.abspath(venv_root))
    if os.path.islink(venv_root):
        raise UnsafeDeleteError(f"refusing to delete through a link: {venv_root} is a link")
    real_root = _real(venv_root)
    # The path must lie inside the venv, both as written and once links are resolved (the
    # last component may be a link: it is removed as a link, never followed).
    parent_real = _real(path.parent) / path.name if path != venv_root else real_root
    if not _is_within(path, venv_root) or not _is_within(parent_real, real_root):
        raise UnsafeDeleteError(f"refusing to delete {path}: it is not inside the venv {venv_root}")
    for root in _protected_roots():
        if real_root == root or _is_within(root, real_root):
            raise UnsafeDeleteError(f"refusing to delete {venv_root}: it is or holds {root}")
    for prefix in running_prefixes():
        if real_root == prefix or _is_within(prefix, real_root):
            raise UnsafeDeleteError(
                f"refusing to delete {venv_root}: webui-repair itself runs from it",
                hint="install webui-repair outside the web UI's venv (pipx install webui-repair, "
                "or 'python -m pip install --user webui-repair') and run it from there",
            )
    for other in protect:
        other_real = _real(Path(other))
        if real_root == other_real or _is_within(other_real, real_root):
            raise UnsafeDeleteError(f"refusing to delete {venv_root}: it is or holds {other}")
    if (real_root / ".git").exists():
        raise UnsafeDeleteError(f"refusing to delete {venv_root}: it is a git checkout, not a venv")
    if real_root.exists() and not _looks_like_venv(real_root):
        raise UnsafeDeleteError(f"refusing to delete {venv_root}: it is not a venv")


def _on_error(func: Callable[..., Any], path: str, exc: BaseException) -> None:
    """Read-only files (Windows, and read-only folders anywhere): make writable and retry."""
    if isinstance(exc, FileNotFoundError):
        return
    denied = getattr(exc, "errno", None) in (errno.EACCES, errno.EPERM)
    if isinstance(exc, PermissionError) or denied:
        try:
            parent = os.path.dirname(path)
            os.chmod(parent, os.stat(parent).st_mode | stat.S_IWUSR | stat.S_IXUSR)
            if not os.path.islink(path):
                os.chmod(path, os.stat(path).st_mode | stat.S_IWUSR)
            func(path)
            return
        except OSError:
            pass
    raise exc


def guarded_rmtree(path: Path, *, venv_root: Path, protect: Iterable[Path] = ()) -> None:
    """Delete ``path`` (a folder or file inside ``venv_root``, or ``venv_root`` itself).

    A link is removed as a link, never followed. Refuses, raising ``UnsafeDeleteError`` before
    touching anything, whatever ``check_deletable`` refuses.
    """
    path = Path(os.path.abspath(path))
    check_deletable(path, venv_root=venv_root, protect=protect)
    if os.path.islink(path) or (os.path.lexists(path) and not os.path.isdir(path)):
        try:
            os.unlink(path)
        except PermissionError:
            os.chmod(path, stat.S_IWUSR | stat.S_IRUSR)
            os.unlink(path)
        return
    if not path.exists():
        return
    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=_on_error)
    else:  # pragma: no cover - exercised on 3.10/3.11
        shutil.rmtree(path, onerror=lambda f, p, info: _on_error(f, p, info[1]))


def atomic_write(path: Path, data: str | bytes, *, durable: bool = True) -> None:
    """Write to a temporary file beside ``path``, flush to disk, then rename over it.

    ``durable=False`` leaves out the fsync: the rename still makes the write all-or-nothing for
    any reader, but after a power cut the file may hold its previous content. Right after a
    large install an fsync waits for every file the installer wrote, which is seconds on a slow
    disk; use it for records whose loss only makes recovery more cautious."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        try:
            mode = stat.S_IMODE(os.stat(path).st_mode)
        except OSError:
            mode = 0o644
        os.chmod(tmp, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def move_aside(path: Path, dest: Path | None = None) -> Path:
    """Rename ``path`` to ``dest`` (default: a free sibling name). Instant whatever the size;
    raises ``OSError`` (EXDEV) when ``dest`` is on another filesystem: nothing is copied."""
    path = Path(path)
    if dest is None:
        n = 0
        while True:
            dest = path.with_name(f".{path.name}.repair-old{'-' + str(n) if n else ''}")
            if not os.path.lexists(dest):
                break
            n += 1
    if os.path.lexists(dest):
        raise FileExistsError(errno.EEXIST, "already exists", str(dest))
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.rename(path, dest)
    return dest


def same_filesystem(a: Path, b: Path) -> bool:
    """Can ``a`` be renamed into folder ``b``? (``b`` or its nearest existing parent.)"""
    while not b.exists() and b != b.parent:
        b = b.parent
    try:
        return os.stat(a).st_dev == os.stat(b).st_dev
    except OSError:
        return False


# Files that tools rewrite in place (not delete-then-write): copied, never hard-linked, so that
# a change in the clone can never reach the original.
_COPY_NAMES = {"pyvenv.cfg"}


def link_clone(src: Path, dest: Path) -> int:
    """Recreate the tree ``src`` at ``dest`` with hard links (links kept as links); copy where
    hard links are not possible. Installers replace files by delete-then-write, so the original
    never changes. ``dest`` carries the partial marker until the clone is complete. Returns the
    number of files."""
    count = 0
    dest.mkdir(parents=True)
    marker = dest / PARTIAL_MARKER
    marker.write_text("clone\n")
    for root, dirs, files in os.walk(src):
        rel = os.path.relpath(root, src)
        target_root = dest if rel == "." else dest / rel
        for name in list(dirs):
            s = os.path.join(root, name)
            d = target_root / name
            if os.path.islink(s):
                os.symlink(os.readlink(s), d)
                dirs.remove(name)
            else:
                d.mkdir()
                shutil.copystat(s, d, follow_symlinks=False)
        for name in files:
            s = os.path.join(root, name)
            d = target_root / name
            if os.path.islink(s):
                os.symlink(os.readlink(s), d)
            elif name in _COPY_NAMES or rel.split(os.sep)[0] in ("bin", "Scripts"):
                shutil.copy2(s, d, follow_symlinks=False)
            else:
                try:
                    os.link(s, d)
                except OSError:
                    shutil.copy2(s, d)
            count += 1
    if not (Path(src) / PARTIAL_MARKER).exists():
        marker.unlink()
    shutil.copystat(src, dest, follow_symlinks=False)
    return count


def copy_tree(src: Path, dest: Path, on_file: Callable[[int], None] | None = None) -> None:
    """An independent copy of ``src`` at ``dest`` (links kept as links, modes and times kept);
    ``dest`` carries the partial marker until the copy is complete. ``on_file`` hears the size
    of each file copied (a progress bar)."""
    dest.mkdir(parents=True)
    marker = dest / PARTIAL_MARKER
    marker.write_text("copy\n")

    def copy(a: str, b: str) -> str:
        out = shutil.copy2(a, b)
        if on_file is not None:
            on_file(os.lstat(b).st_size)
        return str(out)

    shutil.copytree(src, dest, symlinks=True, dirs_exist_ok=True, copy_function=copy)
    if not (Path(src) / PARTIAL_MARKER).exists():
        marker.unlink()
    shutil.copystat(src, dest, follow_symlinks=False)


def tree_size(path: Path) -> tuple[int, int]:
    """(files, bytes) under ``path``, links not followed."""
    files = size = 0
    for root, _dirs, names in os.walk(path):
        for name in names:
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            files += 1
            size += st.st_size
    return files, size


def free_space(path: Path) -> int:
    """Bytes free on the filesystem of ``path`` (or its nearest existing parent)."""
    override = os.environ.get(FREE_SPACE_ENV)
    if override:
        return int(override)
    p = Path(path)
    while not p.exists() and p != p.parent:
        p = p.parent
    return shutil.disk_usage(p).free


def remove_backup_folder(folder: Path, root: Path) -> None:
    """Delete a backup's own folder (snapshot, journal, logs): only a direct child of the
    backups folder ``root`` that holds ``backup.json``, and never one that still holds a venv."""
    folder = Path(os.path.abspath(folder))
    root = Path(os.path.abspath(root))
    if folder.parent != root or os.path.islink(folder):
        raise UnsafeDeleteError(f"refusing to delete {folder}: not a backup folder of {root}")
    if not folder.exists():
        return
    if not (folder / "backup.json").is_file() and any(folder.iterdir()):
        names = {p.name for p in folder.iterdir()}
        if not names <= {"snapshot.json", "journal.json", "logs"}:
            raise UnsafeDeleteError(f"refusing to delete {folder}: it is not a backup")
    if (folder / "venv").exists() and _looks_like_venv(folder / "venv"):
        guarded_rmtree(folder / "venv", venv_root=folder / "venv")
    shutil.rmtree(folder, onerror=lambda f, p, info: _on_error(f, p, info[1]))
