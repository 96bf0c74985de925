"""``repair manifests list / validate FILE...``: the manifests found and where from, and the
problems of manifest files (``app.manifest``). ``show`` is ``app.manifest.load`` itself."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from repair.app import manifest as m


@dataclass(frozen=True)
class ManifestList:
    rows: list[dict[str, Any]]  # name, title, file, origin, error
    search_path: list[Path]  # first wins

    def to_json(self) -> dict[str, Any]:
        return {"manifests": self.rows, "search_path": [str(p) for p in self.search_path]}


def list_manifests() -> ManifestList:
    return ManifestList(m.list_entries(), m.search_path())


def validate_files(files: tuple[str, ...]) -> list[tuple[str, list[str]]]:
    """Each file with its problems (``FILE: key: problem``; none for a valid one), in the order
    given."""
    return [(name, m.check_file(Path(name))) for name in files]
