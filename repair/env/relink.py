"""The ``relink-venv`` step: point a venv whose base Python moved at another Python of the same
version, by rewriting ``pyvenv.cfg`` and the interpreter links in place (each atomically)."""

from __future__ import annotations

import os
from pathlib import Path

from repair import fsops
from repair.env.layout import POSIX, VenvLayout


def relink_venv(venv: Path, python: Path) -> list[str]:
    """Point a venv whose base Python moved at ``python`` (same version): rewrite pyvenv.cfg's
    ``home`` (and ``executable``/``base-executable``/version keys where present), and on POSIX
    re-point the ``bin/python*`` links. Every write is atomic (a temporary beside it, then a
    rename), so a file hard-linked into a backup is replaced, never changed in place. Returns
    what was changed."""
    layout = VenvLayout.detect(venv)
    cfg_path = layout.cfg_path
    python = Path(python)
    new_home = str(python.parent)
    changed: list[str] = []
    text = cfg_path.read_text(encoding="utf-8", errors="replace").lstrip("\ufeff")
    lines = []
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        name = key.strip().lower()
        if sep and name == "home" and value.strip() != new_home:
            line = f"{key.rstrip()} = {new_home}"
            changed.append(f"home = {new_home}")
        elif sep and name in ("executable", "base-executable") and value.strip() != str(python):
            line = f"{key.rstrip()} = {python}"
            changed.append(f"{name} = {python}")
        lines.append(line)
    fsops.atomic_write(cfg_path, "\n".join(lines) + "\n")
    if layout.kind == POSIX:
        for link in sorted(layout.bin_dir.glob("python*")):
            if not link.is_symlink() or link.name.endswith("-config"):
                continue
            target = os.readlink(link)
            if os.path.dirname(target) in ("", "."):
                continue  # python -> python3.10: a link inside bin/, right once that one is
            tmp = link.with_name(f".{link.name}.relink")
            if os.path.lexists(tmp):
                os.unlink(tmp)
            os.symlink(python, tmp)
            os.replace(tmp, link)
            changed.append(f"{link.name} -> {python}")
    return changed
