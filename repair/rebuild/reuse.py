"""Give a new venv the distributions of an old one (its backup) without downloading them again.

``reuse_distributions(old_venv, new_venv, keep)`` takes each ``(name, version)`` of ``keep`` that
the old venv has at that version, checks that its files there are intact (every size RECORD
gives, and with ``verify_hashes`` every hash), and puts them into the new venv by hard link (a
reflink, else a copy, when the two are on different filesystems): the package files, the metadata
folder (``METADATA``, ``RECORD``, ``INSTALLER``, ``direct_url.json``, entry points) and the
scripts. A console script names its interpreter (a ``#!`` line, pip's ``/bin/sh`` trampoline for
long paths, or the ``#!`` line inside a Windows ``.exe`` launcher): it is written anew for the
new venv's python, never linked, and RECORD is rewritten with its new hash. Everything that
cannot be reused is returned, with the reason, to be installed from the index.

The old venv is only ever read. Installers replace files (write a new file, rename it over the
old name), never edit one in place, so a later upgrade in the new venv leaves the shared inode,
and the backup, as it was. Both venv layouts (``bin``/``lib/pythonX.Y`` and ``Scripts``/``Lib``)
and the embedded Python of portable builds (``python.exe`` beside ``Lib``) are handled; the two
interpreters must have the same ``X.Y``. A legacy ``.egg-info`` install is reused from its
``installed-files.txt`` (which has neither sizes nor hashes: with ``verify_hashes`` it is left to
install).
"""

from __future__ import annotations

import base64
import csv
import errno
import filecmp
import hashlib
import io
import os
import re
import shutil
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from repair.env.dists import Dist, canonical, scan_site
from repair.env.layout import VenvLayout, read_pyvenv_cfg

__all__ = ["ReuseResult", "reuse_distributions"]

_SHEBANG_PY = re.compile(
    rb"^#!\s*\"?(?P<path>[^\"\r\n]*?python[^\"\s\\/]*)\"?(?P<rest>[ \t][^\r\n]*)?(?P<eol>\r?\n)"
)
_SH_EXEC = re.compile(rb"^'''exec' (?P<q>[\"']?)(?P<path>[^\"'\r\n]*python[^\"'\s]*)(?P=q) ")
_ZIP_LOCAL = b"PK\x03\x04"


@dataclass
class ReuseResult:
    """``reused``: ``(name, version)`` now in the new venv; ``left_to_install``: what the
    installer must still install (``reasons`` says why for each name); ``bytes_linked``: the
    size of the files the new venv shares with the old one."""

    reused: list[tuple[str, str]] = field(default_factory=list)
    left_to_install: list[tuple[str, str]] = field(default_factory=list)
    bytes_linked: int = 0
    bytes_copied: int = 0
    files: int = 0
    reasons: dict[str, str] = field(default_factory=dict)

    def leave(self, name: str, version: str, reason: str) -> None:
        self.left_to_install.append((name, version))
        self.reasons[name] = reason


@dataclass(frozen=True)
class _Layout:
    root: Path
    site: Path
    scripts: Path
    python: Path
    xy: str | None
    windows: bool


def _layout(root: Path) -> _Layout:
    root = Path(root)
    if (root / "python.exe").exists() and not (root / "pyvenv.cfg").exists():
        # An embedded Python (portable builds): the interpreter sits beside Lib.
        return _Layout(
            root,
            root / "Lib" / "site-packages",
            root / "Scripts",
            root / "python.exe",
            _embedded_xy(root),
            True,
        )
    layout = VenvLayout.detect(root)
    xy = None
    try:
        cfg = read_pyvenv_cfg(layout.cfg_path)
        xy = ".".join(cfg.version.split(".")[:2]) if cfg.version else None
    except Exception:  # noqa: BLE001 - a missing or odd pyvenv.cfg: tell from the tree
        xy = None
    site = layout.site_packages(xy)
    if xy is None and layout.kind == "posix" and site.parent.name.startswith("python"):
        xy = site.parent.name[len("python") :].rstrip("t")
    return _Layout(root, site, layout.bin_dir, layout.python, xy, layout.kind == "windows")


def _embedded_xy(root: Path) -> str | None:
    for pattern in ("python3*._pth", "python3*.zip", "python3*.dll"):
        for path in root.glob(pattern):
            digits = path.name.split(".")[0][len("python") :]
            if digits.isdigit() and len(digits) >= 2:
                return f"{digits[0]}.{digits[1:]}"
    return None


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode("ascii")


def _file_hash(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return base64.urlsafe_b64encode(h.digest()).rstrip(b"=").decode("ascii")


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _reflink(src: str, dst: str) -> bool:
    """A copy-on-write clone (Linux FICLONE: btrfs, XFS); False where the filesystem has none."""
    if not hasattr(os, "O_RDONLY") or os.name != "posix":
        return False
    try:
        # lazy: POSIX only; without it the file is copied
        import fcntl

        ficlone = 0x40049409
        with open(src, "rb") as s, open(dst, "xb") as d:
            fcntl.ioctl(d.fileno(), ficlone, s.fileno())
        shutil.copystat(src, dst)
        return True
    except (OSError, ImportError):
        try:
            os.unlink(dst)
        except OSError:
            pass
        return False


def _same(src: str, dst: str) -> bool:
    """The same file (linked before), or one with the same bytes."""
    try:
        if os.path.samefile(src, dst):
            return True
        return filecmp.cmp(src, dst, shallow=False)
    except OSError:
        return False


def _place(src: str, dst: str, result: ReuseResult, size: int) -> None:
    try:
        os.link(src, dst)
        result.bytes_linked += size
        return
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EACCES):
            raise
    if os.path.lexists(dst):
        raise FileExistsError(errno.EEXIST, "already in the new venv", dst)
    if not _reflink(src, dst):
        shutil.copy2(src, dst)
    result.bytes_copied += size


def _venv_python(path: bytes) -> bool:
    """An interpreter in a venv's (or an embedded Python's) folder, as installers write it."""
    parts = re.split(rb"[\\/]", path.strip())
    if len(parts) < 2 or b" " in parts[-1] or not parts[-1].lower().startswith(b"python"):
        return False
    return parts[-2].lower() in (b"bin", b"scripts") or parts[-1].lower() == b"python.exe"


def _quote(path: bytes, was_quoted: bool) -> bytes:
    return b'"' + path + b'"' if was_quoted or b" " in path else path


def _rewrite_script(data: bytes, new_python: str) -> bytes | None:
    """The script for the new interpreter, or None when it names no python of a venv."""
    target = new_python.encode("utf-8")
    m = _SHEBANG_PY.match(data)
    if m and _venv_python(m.group("path")):
        quoted = _quote(target, data[2 : m.end()].lstrip().startswith(b'"'))
        return b"#!" + quoted + (m.group("rest") or b"") + m.group("eol") + data[m.end() :]
    if data.startswith(b"#!/bin/sh"):
        # pip's trampoline for interpreter paths too long for a #! line.
        lines = data.split(b"\n", 2)
        if len(lines) == 3:
            sm = _SH_EXEC.match(lines[1])
            if sm and _venv_python(sm.group("path")):
                line = b"'''exec' \"" + target + b'" ' + lines[1][sm.end() :]
                return lines[0] + b"\n" + line + b"\n" + lines[2]
    if data[:2] == b"MZ":
        # A Windows launcher: the .exe, then "#!python\r\n", then a zip with __main__.py.
        zip_at = data.rfind(_ZIP_LOCAL)
        while zip_at > 0:
            bang = data.rfind(b"#!", 0, zip_at)
            line_end = data.find(b"\n", bang) + 1 if bang >= 0 else 0
            if bang >= 0 and line_end == zip_at:
                eol = b"\r\n" if data[zip_at - 2 : zip_at] == b"\r\n" else b"\n"
                quoted = _quote(target, data[bang + 2 : bang + 3] == b'"')
                return data[:bang] + b"#!" + quoted + eol + data[zip_at:]
            zip_at = data.rfind(_ZIP_LOCAL, 0, zip_at)
    return None


@dataclass
class _Plan:
    links: list[tuple[str, str, int]] = field(default_factory=list)  # src, dst, size
    scripts: list[tuple[str, str, str]] = field(default_factory=list)  # src, dst, RECORD path
    record_src: str | None = None
    record_dst: str | None = None
    rewrite_record: bool = True  # RECORD has hashes to update; installed-files.txt has none


def _plan(
    dist: Dist,
    old: _Layout,
    new: _Layout,
    verify_hashes: bool,
    shared: dict[str, set[int | str]] | None = None,
) -> _Plan | str:
    """Where each file goes, or the reason the distribution cannot be reused. ``shared``: the
    sizes and hashes each path has in the RECORDs of the kept distributions that share it; a
    file of another size or hash than this RECORD says, which another kept distribution lists,
    is that one's (opencv flavours sharing ``cv2/``): it comes back as it was on disk, whoever
    wrote it last."""
    if not dist.has_record():
        return "no RECORD to verify its files against"
    if dist.kind != "dist-info" and verify_hashes:
        return "an .egg-info install has no hashes to verify its files against"
    record_file = "RECORD" if dist.kind == "dist-info" else "installed-files.txt"
    try:
        entries = dist.record
    except Exception as exc:  # noqa: BLE001 - an unreadable RECORD is a reason, not a crash
        return f"RECORD unreadable: {exc}"
    plan = _Plan()
    old_site, old_root = os.path.normpath(str(old.site)), os.path.normpath(str(old.root))
    old_scripts = os.path.normpath(str(old.scripts))
    record_name = f"{dist.path.name}/{record_file}"
    plan.record_src = str(dist.path / record_file)
    plan.record_dst = os.path.join(str(new.site), dist.path.name, record_file)
    plan.rewrite_record = dist.kind == "dist-info"
    for entry in entries:
        rel = entry.path.replace("\\", "/")
        src = os.path.normpath(os.path.join(old_site, rel))
        if not _inside(src, old_root):
            return f"RECORD lists a file outside the venv: {rel}"
        if rel == record_name:
            continue
        if _inside(src, old_site):
            dst = str(new.site) + src[len(old_site) :]
        elif _inside(src, old_scripts):
            dst = str(new.scripts) + src[len(old_scripts) :]
        else:
            dst = str(new.root) + src[len(old_root) :]
        bytecode = rel.endswith((".pyc", ".pyo"))
        try:
            st = os.lstat(src)
        except OSError:
            if bytecode:
                continue  # Python writes bytecode again where it is missing
            return f"{rel} is missing"
        if not stat.S_ISREG(st.st_mode):
            return f"{rel} is not a plain file"
        theirs = False
        if entry.size is not None and st.st_size != entry.size:
            if bytecode:
                continue  # compiled again since the install: Python writes it anew
            theirs = st.st_size in (shared or {}).get(rel, ())
            if not theirs:
                return f"{rel} has {st.st_size} bytes, RECORD says {entry.size}"
        if verify_hashes and entry.hash and not theirs:
            algo, _, want = entry.hash.partition("=")
            try:
                got = _file_hash(Path(src), algo)
            except ValueError:
                return f"{rel}: unknown hash {algo!r}"
            # Another kept distribution's version of a shared file (same size, other content).
            if got != want and f"{algo}={got}" not in (shared or {}).get(rel, ()):
                return f"{rel} differs from its RECORD hash"
        if _inside(src, old_scripts):
            plan.scripts.append((src, dst, rel))
        else:
            plan.links.append((src, dst, st.st_size))
    return plan


def _apply(plan: _Plan, new: _Layout, result: ReuseResult, made: set[str]) -> None:
    """Link the files, write the scripts, then the metadata (RECORD last): a distribution is
    only installed once every file is in place."""
    created: list[str] = []
    rewritten: dict[str, tuple[str, int]] = {}
    try:
        for src, dst, size in plan.links:
            folder = os.path.dirname(dst)
            if folder not in made:
                os.makedirs(folder, exist_ok=True)
                made.add(folder)
            try:
                _place(src, dst, result, size)
            except FileExistsError:
                if _same(src, dst):
                    continue  # a file two distributions share (a namespace's __init__.py)
                raise
            created.append(dst)
        for src, dst, rel in plan.scripts:
            if os.path.lexists(dst):
                raise FileExistsError(errno.EEXIST, "already in the new venv", dst)
            with open(src, "rb") as f:
                data = f.read()
            new_data = _rewrite_script(data, str(new.python))
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            if new_data is None:
                _place(src, dst, result, len(data))
            else:
                with open(dst, "xb") as f:
                    f.write(new_data)
                shutil.copymode(src, dst)
                rewritten[rel] = (_record_hash(new_data), len(new_data))
                result.bytes_copied += len(new_data)
            created.append(dst)
        assert plan.record_src is not None and plan.record_dst is not None
        os.makedirs(os.path.dirname(plan.record_dst), exist_ok=True)
        if rewritten and plan.rewrite_record:
            with open(plan.record_src, encoding="utf-8", newline="") as f:
                rows = list(csv.reader(f))
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\n")
            for row in rows:
                if row and row[0].replace("\\", "/") in rewritten:
                    digest, size = rewritten[row[0].replace("\\", "/")]
                    row = [row[0], digest, str(size)]
                writer.writerow(row)
            with open(plan.record_dst, "x", encoding="utf-8", newline="") as f:
                f.write(out.getvalue())
        else:
            _place(plan.record_src, plan.record_dst, result, os.path.getsize(plan.record_src))
        created.append(plan.record_dst)
        result.files += len(created)
    except BaseException:
        folders = set()
        for path in reversed(created):
            try:
                os.unlink(path)
            except OSError:
                pass
            folders.add(os.path.dirname(path))
        root, keep = str(new.root), {str(new.root), str(new.site), str(new.scripts)}
        for folder in sorted(folders, key=len, reverse=True):
            while _inside(folder, root) and folder not in keep:
                try:
                    os.rmdir(folder)  # only an empty one: folders others use stay
                except OSError:
                    break
                made.discard(folder)
                folder = os.path.dirname(folder)
        raise


def _shared_files(
    installed: dict[str, list[Dist]], wanted: list[tuple[str, str]]
) -> dict[str, set[int | str]]:
    """Path -> the sizes and hashes the RECORDs of the kept distributions give it, for the paths
    that more than one of them lists (files several distributions share)."""
    sizes: dict[str, set[int | str]] = {}
    owners: dict[str, int] = {}
    for name, _version in wanted:
        group = installed.get(canonical(name), [])
        if len(group) != 1:
            continue
        try:
            entries = group[0].record
        except Exception:  # noqa: BLE001 - _plan gives the reason for an unreadable RECORD
            continue
        for entry in entries:
            rel = entry.path.replace("\\", "/")
            owners[rel] = owners.get(rel, 0) + 1
            if entry.size is not None:
                sizes.setdefault(rel, set()).add(entry.size)
            if entry.hash:
                sizes.setdefault(rel, set()).add(entry.hash)
    return {rel: s for rel, s in sizes.items() if owners[rel] > 1}


def reuse_distributions(
    old_venv: Path | str,
    new_venv: Path | str,
    keep: Iterable[tuple[str, str]],
    verify_hashes: bool = False,
    kept_with: Iterable[tuple[str, str]] = (),
) -> ReuseResult:
    """Put each ``(name, version)`` of ``keep`` from ``old_venv`` into ``new_venv`` (see the
    module's documentation); return what was reused and what is left to install.
    ``kept_with``: the other distributions that come back (reused in another call, or
    installed), whose files the kept ones may share."""
    result = ReuseResult()
    old, new = _layout(Path(old_venv)), _layout(Path(new_venv))
    wanted = list(keep)
    if old.xy is None or old.xy != new.xy:
        for name, version in wanted:
            result.leave(
                name,
                version,
                f"the old venv's Python ({old.xy or 'unknown'}) is not "
                f"the new one's ({new.xy or 'unknown'})",
            )
        return result
    made: set[str] = set()  # folders known to exist in the new venv
    installed = scan_site(old.site).by_key()
    present = scan_site(new.site).by_key()
    # Files shared with any distribution that comes back, in this call or another one.
    shared = _shared_files(installed, [*wanted, *kept_with])
    for name, version in wanted:
        key = canonical(name)
        if key in present:
            have = present[key][0].version
            if have != version:
                result.leave(name, version, f"the new venv has {have}")
            continue  # already there at this version: nothing to do
        group = installed.get(key, [])
        if len(group) != 1:
            result.leave(
                name,
                version,
                "not in the old venv"
                if not group
                else "more than one metadata folder in the old venv",
            )
            continue
        dist = group[0]
        if dist.version != version:
            result.leave(name, version, f"the old venv has {dist.version or 'no version'}")
            continue
        plan = _plan(dist, old, new, verify_hashes, shared)
        if isinstance(plan, str):
            result.leave(name, version, plan)
            continue
        try:
            _apply(plan, new, result, made)
        except OSError as exc:
            result.leave(name, version, f"could not place its files: {exc.strerror or exc}")
            continue
        result.reused.append((name, version))
    return result
