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

from repair.env.layout import PyvenvCfgError, VenvLayout, read_pyvenv_cfg
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


def _is_file(path: Path) -> bool:
    """A regular file (never a link, a FIFO or a device)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _has_stdlib(root: Path) -> bool:
    """A Python installation carries its standard library (``os.py``); a venv never does."""
    if (root / "Lib" / "os.py").exists() or (root / "lib" / "os.py").exists():
        return True
    try:
        libs = [p for p in (root / "lib").iterdir() if p.name.startswith("python")]
    except OSError:
        libs = []
    return any((lib / "os.py").exists() for lib in libs)


def _is_embedded(root: Path) -> bool:
    """An embedded Python (ComfyUI portable's ``python_embeded``): a ``._pth`` file beside it."""
    try:
        return any(p.name.endswith("._pth") for p in root.iterdir())
    except OSError:
        return False


def python_homes(venv: Path | None = None) -> list[Path]:
    """Installations of Python that are never deleted or moved: the tool's own base interpreter,
    the system prefixes, and the ``home`` (and its prefix) of ``venv``'s ``pyvenv.cfg``."""
    out = {_real(Path(p)) for p in (sys.base_prefix, sys.base_exec_prefix)}
    out |= {_real(Path(p)) for p in ("/usr", "/usr/local", "/opt", "/Library")}
    if venv is not None and _is_file(venv / "pyvenv.cfg"):
        try:
            home = read_pyvenv_cfg(venv / "pyvenv.cfg").home
        except PyvenvCfgError:
            home = None
        if home and Path(home).is_absolute():
            h = _real(Path(home))
            out |= {h, h.parent} if h.name.lower() in ("bin", "scripts") else {h}
    return sorted(out)


def venv_kind(root: Path) -> str:
    """What ``root`` is, for the guards: ``venv`` (a ``pyvenv.cfg``), ``partial`` (one this tool
    is building), ``embedded`` (repaired in place, never deleted), ``python`` (an installation),
    ``link``, ``missing`` or ``other``."""
    if os.path.islink(root):
        return "link"
    if not os.path.lexists(root):
        return "missing"
    if not os.path.isdir(root):
        return "other"
    if _has_stdlib(root):
        return "python"
    if _is_file(root / "pyvenv.cfg"):
        return "venv"
    if _is_file(root / PARTIAL_MARKER):
        return "partial"
    if _is_embedded(root):
        return "embedded"
    if any(os.path.lexists(p) for p in VenvLayout.detect(root).python_candidates()):
        return "python"  # an interpreter without pyvenv.cfg: an installation, not a venv
    return "other"


def _looks_like_venv(path: Path) -> bool:
    return venv_kind(path) in ("venv", "partial")


_KIND_WHY = {
    "python": "it is a Python installation (no pyvenv.cfg), not a venv",
    "embedded": "it is an embedded Python, which is repaired in place and never deleted",
    "other": "it is not a venv (no pyvenv.cfg)",
    "link": "it is a link",
}


def refuse_root(root: Path, *, protect: Iterable[Path] = ()) -> str | None:
    """Why the folder ``root`` may not be deleted or moved as a whole; None when it may (a venv
    by its ``pyvenv.cfg``, or a folder this tool is building)."""
    root = Path(os.path.abspath(root))
    if os.path.islink(root):
        return "it is a link: the tool never works through one"
    real_root = _real(root)
    for r in _protected_roots():
        if real_root == r or _is_within(r, real_root):
            return f"it is or holds {r}"
    for prefix in running_prefixes():
        if real_root == prefix or _is_within(prefix, real_root):
            return "webui-repair itself runs from it"
    for home in python_homes(real_root):
        if real_root == home or _is_within(home, real_root):
            return f"it is or holds the Python installation {home}"
    for other in protect:
        other_real = _real(Path(other))
        if real_root == other_real or _is_within(other_real, real_root):
            return f"it is or holds {other}"
    if os.path.lexists(real_root / ".git"):
        return "it is a git checkout, not a venv"
    kind = venv_kind(real_root)
    if kind in _KIND_WHY:
        return _KIND_WHY[kind]
    return None


def _running_hint(reason: str) -> str | None:
    if "runs from" in reason:
        return (
            "install webui-repair outside the web UI's venv (pipx install webui-repair, "
            "or 'python -m pip install --user webui-repair') and run it from there"
        )
    return None


def check_venv_target(venv: Path, app: Path) -> None:
    """Before a command changes anything: ``venv`` (the ``--venv`` / ``VENV_DIR`` folder) must be
    a venv the tool may replace, or not exist yet. Raises ``UsageError`` (exit 2) naming why."""
    if not os.path.lexists(venv) or venv_kind(Path(venv)) == "embedded":
        return
    reason = refuse_root(venv, protect=[app])
    if reason is not None:
        raise UnsafeDeleteError(
            f"refusing to change {venv}: {reason}",
            hint=_running_hint(reason) or "point --venv (or VENV_DIR) at the web UI's own venv",
        )


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
    if not real_root.exists():
        return
    if path == venv_root:
        reason = refuse_root(venv_root, protect=protect)
    else:
        reason = _root_verdict(venv_root, tuple(str(p) for p in protect))
    if reason is not None and not (path != venv_root and venv_kind(real_root) == "embedded"):
        raise UnsafeDeleteError(f"refusing to delete {path}: {reason}", hint=_running_hint(reason))


_VERDICT: dict[tuple[object, ...], str | None] = {}


def _root_verdict(root: Path, protect: tuple[str, ...]) -> str | None:
    """``refuse_root`` for the many deletes inside one venv (a purge of a large distribution):
    kept while the root folder and its ``pyvenv.cfg`` are the same (inode and mtime)."""

    def ident(p: Path) -> tuple[int, int] | None:
        try:
            st = os.lstat(p)
        except OSError:
            return None
        return st.st_ino, st.st_mtime_ns

    key = (str(root), protect, ident(root), ident(root / "pyvenv.cfg"), ident(root / "lib"))
    if key not in _VERDICT:
        _VERDICT.clear()  # one venv at a time
        _VERDICT[key] = refuse_root(root, protect=[Path(p) for p in protect])
    return _VERDICT[key]


def guarded_move(src: Path, dest: Path, *, protect: Iterable[Path] = ()) -> Path:
    """Move the venv ``src`` to ``dest`` by a rename, after the same guards as a delete of it."""
    reason = refuse_root(src, protect=protect)
    if reason is not None:
        raise UnsafeDeleteError(f"refusing to move {src}: {reason}", hint=_running_hint(reason))
    return move_aside(src, dest)


def remove_own_folder(path: Path, *, marker: str) -> None:
    """Delete a hidden working folder this tool made (a clone being built, an extraction): only
    a real folder, not a link, whose name starts with '.' and contains ``marker``."""
    path = Path(os.path.abspath(path))
    if not os.path.lexists(path):
        return
    if os.path.islink(path) or not path.name.startswith(".") or marker not in path.name:
        raise UnsafeDeleteError(f"refusing to delete {path}: not a working folder of this tool")
    if not os.path.isdir(path):
        os.unlink(path)
        return
    _rmtree(path)


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
    _rmtree(path)


def _rmtree(path: Path) -> None:
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
    dest.mkdir(parents=True, exist_ok=True)
    marker = dest / PARTIAL_MARKER
    own_marker = not marker.exists()  # one the caller wrote stays until the caller is done
    if own_marker:
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
    if own_marker and not (Path(src) / PARTIAL_MARKER).exists():
        marker.unlink()
    shutil.copystat(src, dest, follow_symlinks=False)
    return count


def copy_tree(src: Path, dest: Path, on_file: Callable[[int], None] | None = None) -> None:
    """An independent copy of ``src`` at ``dest`` (links kept as links, modes and times kept);
    ``dest`` carries the partial marker until the copy is complete. ``on_file`` hears the size
    of each file copied (a progress bar)."""
    dest.mkdir(parents=True, exist_ok=True)
    marker = dest / PARTIAL_MARKER
    own_marker = not marker.exists()
    if own_marker:
        marker.write_text("copy\n")

    def copy(a: str, b: str) -> str:
        out = shutil.copy2(a, b)
        if on_file is not None:
            on_file(os.lstat(b).st_size)
        return str(out)

    shutil.copytree(
        src,
        dest,
        symlinks=True,
        dirs_exist_ok=True,
        copy_function=copy,
        ignore=lambda _d, names: [PARTIAL_MARKER] if PARTIAL_MARKER in names else [],
    )
    if own_marker and not (Path(src) / PARTIAL_MARKER).exists():
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
