"""Marker detection on synthetic trees shaped like each app at several releases (file lists in
tests/data/trees, one path a line)."""

from __future__ import annotations

from pathlib import Path

import pytest

from repair.app import manifest as manifests

TREES = Path(__file__).resolve().parents[1] / "data" / "trees"
EXPECTED = {
    "a1111-v1.0.0-pre": "a1111",
    "a1111-v1.6.0": "a1111",
    "a1111-v1.10.1": "a1111",
    "forge-2024-02": "forge",
    "forge-2025-06": "forge",
    "amdgpu-2023-09": "amdgpu",
    "amdgpu-2025-11": "amdgpu",
    "sdnext-2023-06": "sdnext",
    "sdnext-2026-07": "sdnext",
    "comfyui-2023-03": "comfyui",
    "comfyui-2025-10": "comfyui",
    "generic-app": "generic",
}


def build_tree(root: Path, listing: Path) -> Path:
    for line in listing.read_text().splitlines():
        if line.strip():
            path = root / line.strip()
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("")
    return root


def test_every_tree_has_an_expectation() -> None:
    assert {p.stem for p in TREES.glob("*.txt")} == set(EXPECTED)


@pytest.mark.parametrize(("tree", "expected"), sorted(EXPECTED.items()))
def test_detect(tmp_path: Path, tree: str, expected: str) -> None:
    root = build_tree(tmp_path / tree, TREES / f"{tree}.txt")
    assert manifests.detect(root).name == expected


@pytest.mark.parametrize("tree", ["forge-2025-06", "amdgpu-2025-11", "sdnext-2026-07"])
def test_forks_fit_only_their_own_manifest(tmp_path: Path, tree: str) -> None:
    """A fork's tree holds all of A1111's files: A1111's manifest must refuse it, not only lose
    on score."""
    root = build_tree(tmp_path / tree, TREES / f"{tree}.txt")
    fitting = {
        m.name
        for m in manifests.load_all()
        if m.name != "generic" and manifests.match_score(m, root) is not None
    }
    assert fitting == {EXPECTED[tree]}


def test_a1111_tree_with_one_forge_folder_is_forge(tmp_path: Path) -> None:
    root = build_tree(tmp_path / "a", TREES / "a1111-v1.10.1.txt")
    (root / "modules_forge").mkdir()
    assert manifests.detect(root).name == "forge"


def test_empty_folder_is_generic(tmp_path: Path) -> None:
    assert manifests.detect(tmp_path).name == "generic"
