"""The checks on the shapes of real installs, offline: the metadata of a real A1111 v1.10.1 venv
(Python 3.10, torch 2.1.2, requirements_versions.txt) and of a real ComfyUI venv (Python 3.12,
its requirements and the current torch), captured by ``tests/realshapes.py``, laid
out again with zero-filled payload of the recorded sizes, healthy and broken the ways the field
breaks them (numpy 2 files over numpy 1.26, one numpy 2 module, three opencv flavours in one
``cv2/``, two metadata folders for one name, ``~`` residue)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.gitkit import git, make_upstream
from tests.realshapes import interpreter, lay_dist, lay_venv, load

A1111 = "a1111-v1.10.1"
FILE_IDS = {
    "mixed-version",
    "shared-files",
    "missing-file",
    "orphan-files",
    "stale-residue",
    "duplicate-distribution",
}


@pytest.fixture(scope="module")
def shapes() -> dict[str, Any]:
    return load(A1111)


@pytest.fixture(scope="module")
def wheels() -> dict[str, Any]:
    return {d["folder"].split("-")[0].lower(): d for d in load("wheels")["dists"]}


@pytest.fixture(scope="module")
def real_a1111(tmp_path_factory: pytest.TempPathFactory, shapes: dict[str, Any]) -> Path:
    """The A1111 install: a git checkout with the app's requirement files, and its venv."""
    base = tmp_path_factory.mktemp("real")
    bare, _seed = make_upstream(base, "webui", dict(shapes["app_files"]))
    app = base / "a1111"
    git(base, "clone", "-q", str(bare), str(app))
    lay_venv(shapes, app / "venv")
    return app


def _check(
    app: Path, data: dict[str, Any], manifest: str = "a1111", **options: Any
) -> dict[str, Any]:
    from repair.app.target import resolve
    from repair.checks.runner import check
    from repair.context import Context
    from repair.options import CheckOptions

    install = resolve(str(app), str(app / "venv"), manifest)
    ctx = Context(install, CheckOptions(**{"backend": "cuda", **options}))
    # The interpreter's answers as the real venv's python gave them (its binary is not laid).
    ctx.__dict__["_probe"] = (interpreter(data), None)
    report: dict[str, Any] = check(ctx).to_json()
    return report


def _by_id(report: dict[str, Any], fid: str) -> list[dict[str, Any]]:
    return [f for f in report["findings"] if f["id"] == fid]


def test_healthy_real_a1111_has_no_finding_at_all(real_a1111: Path, shapes: dict[str, Any]) -> None:
    report = _check(real_a1111, shapes)
    assert report["findings"] == []
    assert report["summary"]["healthy"] is True


def test_healthy_real_comfyui_has_no_finding_at_all(tmp_path: Path) -> None:
    data = load("comfyui")
    bare, _seed = make_upstream(tmp_path, "comfy", dict(data["app_files"]))
    app = tmp_path / "ComfyUI"
    git(tmp_path, "clone", "-q", str(bare), str(app))
    lay_venv(data, app / "venv")
    report = _check(app, data, "comfyui")
    assert report["findings"] == []


def test_legacy_egg_info_paths_are_relative_to_their_folder(
    real_a1111: Path, shapes: dict[str, Any]
) -> None:
    # antlr4-python3-runtime, installed by `setup.py install`: "../../../../bin/pygrun".
    egg = next(d for d in shapes["dists"] if d["folder"].startswith("antlr4"))
    assert "../../../../bin/pygrun" in egg["files"]["installed-files.txt"]
    assert (real_a1111 / "venv" / "bin" / "pygrun").is_file()


@pytest.fixture()
def small(tmp_path: Path, shapes: dict[str, Any]) -> tuple[Path, Path]:
    """A generic app whose venv holds the captured numpy, opencv, antlr4 (egg-info) and the
    nvidia namespace distributions: the shapes the broken cases need, laid in a second."""
    app = tmp_path / "app"
    app.mkdir()
    (app / "requirements.txt").write_text("numpy\n")
    only = {
        d["folder"]
        for d in shapes["dists"]
        if d["folder"]
        .lower()
        .startswith(("numpy-", "opencv", "antlr4", "nvidia_cublas", "nvidia_cudnn", "jsonmerge"))
    }
    site = lay_venv(shapes, app / "venv", only=only)
    return app, site


def test_small_layout_is_healthy(small: tuple[Path, Path], shapes: dict[str, Any]) -> None:
    app, _site = small
    report = _check(app, shapes, "generic")
    # Not the whole venv (pip, jsonschema are not laid): only the file checks must be quiet.
    assert {f["id"] for f in report["findings"]} & FILE_IDS == set()


def _numpy2(site: Path, wheels: dict[str, Any], *, files: set[str] | None = None) -> None:
    """numpy 2.2.6's package files (not its metadata) laid over the installed numpy 1.26."""
    dist = wheels["numpy"]
    tmp = site.parent / "numpy2-unpacked"
    lay_dist(tmp, dist)
    for path in sorted(tmp.rglob("*")):
        rel = path.relative_to(tmp).as_posix()
        if path.is_dir() or rel.startswith(dist["folder"]):
            continue
        if files is not None and rel not in files:
            continue
        target = site / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    shutil.rmtree(tmp)


def test_numpy2_files_over_numpy_126_is_an_error(
    small: tuple[Path, Path], shapes: dict[str, Any], wheels: dict[str, Any]
) -> None:
    app, site = small
    _numpy2(site, wheels)
    report = _check(app, shapes, "generic")
    mixed = _by_id(report, "mixed-version")
    assert [f["subject"] for f in mixed] == ["numpy"]
    details = mixed[0]["details"]
    assert details["unlisted"] > 100  # numpy/_core/... of numpy 2
    assert details["size_differs"] > 10
    assert "numpy/_core/" in mixed[0]["message"]
    assert report["summary"]["healthy"] is False
    assert _by_id(report, "orphan-files") == []


def test_only_stride_tricks_of_numpy2_is_an_error(
    small: tuple[Path, Path], shapes: dict[str, Any], wheels: dict[str, Any]
) -> None:
    app, site = small
    _numpy2(site, wheels, files={"numpy/lib/stride_tricks.py"})
    report = _check(app, shapes, "generic")
    mixed = _by_id(report, "mixed-version")
    assert len(mixed) == 1 and mixed[0]["details"]["size_differs"] == 1
    assert mixed[0]["details"]["files"] == ["numpy/lib/stride_tricks.py"]
    assert "numpy-1.26.2.dist-info/RECORD" in mixed[0]["message"]


def test_three_opencv_flavours_in_one_cv2(
    small: tuple[Path, Path], shapes: dict[str, Any], wheels: dict[str, Any]
) -> None:
    app, site = small
    lay_dist(site, wheels["opencv_python_headless"])
    lay_dist(site, wheels["opencv_contrib_python"])  # installed last: its files are on disk
    report = _check(app, shapes, "generic")
    shared = _by_id(report, "shared-files")
    assert len(shared) == 1
    owners = set(shared[0]["details"]["dists"])
    assert owners == {"opencv-python", "opencv-python-headless", "opencv-contrib-python"}
    assert shared[0]["details"]["keep"] == "opencv-contrib-python"
    assert any(p.startswith("cv2/") for p in shared[0]["details"]["files"])


def test_two_dist_infos_live_version_is_the_one_on_disk(
    small: tuple[Path, Path], shapes: dict[str, Any], wheels: dict[str, Any]
) -> None:
    from repair.env.dists import scan_site

    app, site = small
    # numpy 2.2.6's metadata beside 1.26's, while the files on disk stay 1.26's.
    lay_dist(site, wheels["numpy"], payload=False)
    report = _check(app, shapes, "generic")
    dup = _by_id(report, "duplicate-distribution")
    assert dup and dup[0]["subject"] == "numpy"
    assert dup[0]["details"]["live"] == "1.26.2"
    # numpy 2's absent and differing files are the duplicate's evidence, not findings of their own
    assert {f["id"] for f in report["findings"]} & FILE_IDS == {"duplicate-distribution"}
    assert scan_site(site).installed()["numpy"].version == "1.26.2"


def test_tilde_residue(small: tuple[Path, Path], shapes: dict[str, Any]) -> None:
    app, site = small
    os.rename(site / "numpy", site / "~umpy")
    report = _check(app, shapes, "generic")
    assert [f["subject"] for f in _by_id(report, "stale-residue")] == ["~umpy"]
    missing = _by_id(report, "missing-file")
    assert missing and "numpy-1.26.2.dist-info/RECORD" in missing[0]["message"]


def test_missing_script_named_with_installed_files_txt(
    small: tuple[Path, Path], shapes: dict[str, Any]
) -> None:
    app, _site = small
    (app / "venv" / "bin" / "pygrun").unlink()
    report = _check(app, shapes, "generic")
    missing = _by_id(report, "missing-file")
    assert [f["subject"] for f in missing] == ["antlr4-python3-runtime"]
    assert "installed-files.txt" in missing[0]["message"]
    assert "bin/pygrun" in missing[0]["message"]
