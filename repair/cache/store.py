"""The cache store: what a check parsed, so that the next check re-reads only what changed.

Every entry is keyed by a path and checked against that path's ``stat`` (size, modification
time in nanoseconds, inode): an entry whose file changed is a miss and the file is read again.
Files modified in the last two seconds are never cached (a second change within the clock's
granularity would go unseen). The cache lives in the user cache folder
(``WEBUI_REPAIR_CACHE_DIR`` overrides it; ``off`` turns it off), one small JSON file per venv and
kind of data. It is only ever a shortcut: a missing, stale, corrupt or hostile file is ignored and
rebuilt, files are replaced atomically, and each file and the folder are bounded in size.

This module imports only the standard library's cheapest modules: it is on the path of a warm
check, whose start-up time it exists to cut.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

ENV_DIR = "WEBUI_REPAIR_CACHE_DIR"
FORMAT = "webui-repair.cache/1"
RACY_NS = 2_000_000_000  # files younger than this are not cached
MAX_FILE_BYTES = 48 * 1024 * 1024  # one cache file, read or written
MAX_FILES = 256  # files in the cache folder; the least recently written go first

StatKey = list[int]


def cache_dir() -> Path | None:
    """The cache folder, or None when caching is off."""
    value = os.environ.get(ENV_DIR)
    if value is not None:
        return None if value.strip().lower() in ("", "off", "0", "none") else Path(value)
    from platformdirs import user_cache_dir  # lazy: not needed when WEBUI_REPAIR_CACHE_DIR is set

    return Path(user_cache_dir("webui-repair", appauthor=False)) / "check"


def stat_key(path: str | os.PathLike[str], *, follow: bool = True) -> StatKey | None:
    """``[size, mtime_ns, inode, is_dir]`` of ``path``, or None when it does not exist."""
    try:
        st = os.stat(path) if follow else os.lstat(path)
    except (OSError, ValueError):
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ino, 1 if (st.st_mode & 0o170000) == 0o040000 else 0]


def fingerprint_ok(entries: Any) -> bool:
    """Whether every ``[path, follow, key]`` triple still matches the file system."""
    if not isinstance(entries, list):
        return False
    try:
        for path, follow, key in entries:
            if stat_key(path, follow=bool(follow)) != key:
                return False
    except (TypeError, ValueError):
        return False
    return True


def _name_for(scope: str, kind: str) -> str:
    digest = hashlib.sha256(scope.encode("utf-8", "surrogatepass")).hexdigest()[:20]
    return f"{digest}.{kind}.json"


class Store:
    """One cache file: ``section -> key -> [stat keys, value]``.

    Entries read or written in this run are the ones saved, so entries of removed packages drop
    out. ``get`` never raises on bad content; callers validate the value's shape (a value of the
    wrong shape is a miss)."""

    def __init__(self, path: Path | None, data: dict[str, Any] | None = None) -> None:
        self.path = path
        self._old: dict[str, Any] = data or {}
        self._new: dict[str, dict[str, Any]] = {}
        self.dirty = False
        self.now_ns = time.time_ns()

    @classmethod
    def open(cls, scope: str, kind: str) -> Store:
        """The store for ``scope`` (a venv path, an install) and ``kind``; empty when there is
        none, it cannot be read, or it is not a cache file of this version of the tool."""
        folder = cache_dir()
        if folder is None:
            return cls(None)
        path = folder / _name_for(scope, kind)
        return cls(path, _read(path, scope))

    def section(self, name: str) -> dict[str, Any]:
        sec = self._old.get(name)
        return sec if isinstance(sec, dict) else {}

    def get(self, section: str, key: str, stamp: Any) -> Any:
        """The value stored under ``key`` if its stamp equals ``stamp``, else None."""
        entry = self.section(section).get(key)
        if not isinstance(entry, list) or len(entry) != 2 or entry[0] != stamp:
            return None
        self._new.setdefault(section, {})[key] = entry
        return entry[1]

    def put(self, section: str, key: str, stamp: Any, value: Any) -> None:
        """Store ``value``; not when a stat in ``stamp`` is too recent to be trusted."""
        if isinstance(stamp, list) and _has_racy(stamp, self.now_ns):
            self.dirty = True  # the old entry, if any, is stale: leave it out
            return
        self._new.setdefault(section, {})[key] = [stamp, value]
        self.dirty = True

    def keep_section(self, section: str) -> None:
        """Keep every entry of ``section`` (when this run did not look at them all)."""
        self._new.setdefault(section, {}).update(self.section(section))

    def save(self, scope: str) -> None:
        """Write the entries of this run, atomically; never raises."""
        if self.path is None:
            return
        if (
            not self.dirty
            and self._new.keys() == self._old.keys()
            and all(len(v) == len(self.section(k)) for k, v in self._new.items())
        ):
            return
        try:
            data = json.dumps(
                {"format": FORMAT, "scope": scope, "sections": self._new},
                separators=(",", ":"),
                ensure_ascii=False,
            )
            raw = data.encode("utf-8", "surrogatepass")
            if len(raw) > MAX_FILE_BYTES:
                self.path.unlink(missing_ok=True)
                return
            # lazy: the guard's fast path reads the cache, never writes it
            from repair.fsops import atomic_write

            atomic_write(self.path, raw, durable=False)
            self.dirty = False
            _prune(self.path.parent)
        except (OSError, ValueError, TypeError, RecursionError):
            pass


def _has_racy(stamp: Any, now_ns: int) -> bool:
    """Whether any stat key nested in ``stamp`` is too recent to trust."""
    limit = now_ns - RACY_NS
    stack = [stamp]
    while stack:
        item = stack.pop()
        if len(item) == 4 and type(item[0]) is int and type(item[1]) is int:
            if item[1] > limit:
                return True
        else:
            stack.extend(x for x in item if type(x) is list)
    return False


def _read(path: Path, scope: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            return {}
        data = json.loads(raw)
    except Exception:  # noqa: BLE001 - any bad cache file is simply not used
        return {}
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("scope") != scope:
        return {}
    sections = data.get("sections")
    return sections if isinstance(sections, dict) else {}


def _prune(folder: Path) -> None:
    """Keep the folder to ``MAX_FILES`` cache files, newest first."""
    try:
        names = [e for e in os.scandir(folder) if e.name.endswith(".json") and e.is_file()]
        if len(names) <= MAX_FILES:
            return
        names.sort(key=lambda e: e.stat().st_mtime_ns, reverse=True)
        for entry in names[MAX_FILES:]:
            os.unlink(entry.path)
    except OSError:
        pass
