"""What a reclone carries over: every path of the old checkout that the new one does not track
(models, outputs, settings, extensions, the venv), as few entries as possible, and their
count and size, compared before and after the move."""

from __future__ import annotations

import os
from pathlib import Path

from repair.app.gitrepo import git


def count(root: Path, entries: list[str]) -> tuple[int, int]:
    """Files (links count as files, never followed) and bytes under each entry of ``root``."""
    files = size = 0
    for rel in entries:
        path = root / rel
        if path.is_symlink() or not path.is_dir():
            files += 1
            size += path.lstat().st_size
            continue
        for dirpath, dirnames, filenames in os.walk(path):
            links = [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
            for name in filenames + links:
                files += 1
                size += os.lstat(os.path.join(dirpath, name)).st_size
    return files, size


def tracked_paths(new: Path) -> tuple[set[str], set[str]]:
    out = git(new, "ls-files", "-z", check=True, timeout=300).stdout
    tracked = {p for p in out.split("\0") if p}
    dirs: set[str] = set()
    for p in tracked:
        parts = p.split("/")
        for i in range(1, len(parts)):
            dirs.add("/".join(parts[:i]))
    return tracked, dirs


def plan_moves(old: Path, tracked: set[str], tracked_dirs: set[str]) -> list[str]:
    """Every path of ``old`` that the new checkout does not track, as few entries as possible: a
    folder with nothing tracked below it moves whole."""
    out: list[str] = []

    def walk(rel_dir: str) -> None:
        with os.scandir(old / rel_dir if rel_dir else old) as it:
            entries = sorted(it, key=lambda e: e.name)
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            if rel == ".git":
                continue
            if entry.is_dir(follow_symlinks=False):
                if rel in tracked:
                    continue  # a submodule: the old one stays in the backup
                if rel in tracked_dirs:
                    walk(rel)
                else:
                    out.append(rel)
            elif rel not in tracked:
                out.append(rel)

    walk("")
    return out
