"""The check's cache: the same findings cold or warm on every fixture tree, a warm check that
reads only what changed, and a change anywhere seen at once."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

import repair.cache.store as cache
from repair.app import manifest as manifests
from tests.cli import finding_ids, run_check
from tests.conftest import APP_REQUIREMENTS
from tests.kit import copy_venv, site_packages

TREES = Path(__file__).resolve().parents[1] / "data" / "trees"


def _age(root: Path, seconds: float = 120) -> None:
    """Move every modification time into the past: the cache leaves alone what changed in the
    last two seconds, and these trees were written just now."""
    past = time.time() - seconds
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        for name in filenames + dirnames:
            os.utime(os.path.join(dirpath, name), (past, past), follow_symlinks=False)
    os.utime(root, (past, past))


def build_install(root: Path, tree: str, template: Path) -> Path:
    """An app shaped like ``tree`` with a venv that has one of everything a check of files can
    find: a missing file, an unowned file, residue, an unmet requirement."""
    for line in (TREES / f"{tree}.txt").read_text().splitlines():
        if line.strip():
            path = root / line.strip()
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("")
    manifest = manifests.detect(root)
    for rel in manifest.requirement_files:
        (root / rel).write_text("\n".join([*APP_REQUIREMENTS, "einops==0.7.0"]) + "\n")
    for rel in manifest.constraint_files:
        (root / rel).write_text("numpy<2\n")
    venv = copy_venv(template, root / "venv")
    site = site_packages(venv)
    (site / "numpy" / "lib" / "stride_tricks.py").unlink()
    (site / "numpy" / "lib" / "extra_from_numpy2.py").write_text("")
    (site / "~umpy").mkdir()
    _age(root)
    return root


def _check(root: Path) -> tuple[int, dict[str, Any]]:
    return run_check(root, "--venv", str(root / "venv"))


def _findings(report: dict[str, Any]) -> list[dict[str, Any]]:
    return report["findings"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("tree", sorted(p.stem for p in TREES.glob("*.txt")))
def test_same_findings_cold_and_warm(
    tmp_path: Path, tree: str, template_app_venv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(cache.ENV_DIR, str(tmp_path / "cache"))
    root = build_install(tmp_path / tree, tree, template_app_venv)
    code_cold, cold = _check(root)
    assert {"missing-file", "mixed-version", "stale-residue", "requirement-unmet"} <= set(
        finding_ids(cold)
    ), finding_ids(cold)
    assert list((tmp_path / "cache").glob("*.venv.json"))

    # Warm: the file checks' findings come from the cache, without walking site-packages.
    import repair.checks.site as site_checks
    import repair.env.ownership as ownership_mod

    def no_walk(ctx: Any) -> Any:
        raise AssertionError("a warm check walked site-packages")

    with monkeypatch.context() as m:
        m.setattr(site_checks, "ownership", no_walk)
        m.setattr(ownership_mod, "ownership", no_walk)
        code_warm, warm = _check(root)
    assert (code_warm, _findings(warm)) == (code_cold, _findings(cold))

    # A change deep inside a package: seen warm exactly as a cold check sees it.
    site = site_packages(root / "venv")
    (site / "numpy" / "lib" / "twodim_base.py").unlink()
    (site / "numpy" / "lib" / "stride_tricks.py").write_text("")
    code_warm, warm = _check(root)
    monkeypatch.setenv(cache.ENV_DIR, "off")
    code_cold, cold = _check(root)
    assert (code_warm, _findings(warm)) == (code_cold, _findings(cold))
    missing = [f for f in _findings(cold) if f["id"] == "missing-file"]
    assert missing and missing[0]["details"]["files"] == ["numpy/lib/twodim_base.py"]

    # A requirement file changed (the venv did not): seen warm too.
    monkeypatch.setenv(cache.ENV_DIR, str(tmp_path / "cache"))
    _age(root)
    _check(root)
    manifest = manifests.detect(root)
    for rel in manifest.requirement_files:
        with (root / rel).open("a") as f:
            f.write("sentencepiece==0.2.0\n")
    code_warm, warm = _check(root)
    monkeypatch.setenv(cache.ENV_DIR, "off")
    code_cold, cold = _check(root)
    assert (code_warm, _findings(warm)) == (code_cold, _findings(cold))
    assert any("sentencepiece" in f["message"] for f in _findings(cold))


def test_only_changed_metadata_is_read_again(
    app: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(cache.ENV_DIR, str(tmp_path / "cache"))
    _age(app)
    _, first = run_check(app)
    import repair.cache.site as cache_site
    import repair.context as context
    import repair.env.dists as dists

    read: list[str] = []
    real = dists.load_dist

    def counting(path: Path, site: Path) -> Any:
        read.append(path.name)
        return real(path, site)

    # Every reader of metadata folders: through the cache, and without it.
    monkeypatch.setattr(cache_site, "load_dist", counting)
    monkeypatch.setattr(context, "load_dist", counting)
    _, warm = run_check(app)
    assert read == [] and warm["findings"] == first["findings"]
    meta = next(site_packages(app / "venv").glob("numpy-*.dist-info")) / "METADATA"
    meta.write_text(meta.read_text().replace("Version: 1.26.4", "Version: 1.26.3"))
    _, changed = run_check(app)
    assert read == [meta.parent.name]
    assert "requirement-unmet" not in finding_ids(first)
    assert "requirement-unmet" in finding_ids(changed)


def test_a_corrupt_cache_changes_nothing(
    app: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "cache"
    monkeypatch.setenv(cache.ENV_DIR, str(folder))
    site = site_packages(app / "venv")
    (site / "einops" / "__init__.py").unlink()
    _age(app)
    code, first = run_check(app)
    assert "missing-file" in finding_ids(first)
    files = list(folder.iterdir())
    assert files
    for f in files:
        f.write_bytes(
            b'{"format": "webui-repair.cache/1", "scope": 1, "sections": {"dists": '
            b'{"x": [[], {"name": 5}]}}}'
        )
    again = run_check(app)
    assert (again[0], again[1]["findings"]) == (code, first["findings"])
    # Right format, right scope, wrong shapes everywhere.
    import json

    for f in folder.iterdir():
        data = json.loads(f.read_text())
        for section in data["sections"].values():
            for key in section:
                section[key] = [
                    section[key][0],
                    {"name": 5, "findings": {"missing_file": [7]}, "dirs": ["/"], "version": []},
                ]
        f.write_text(json.dumps(data))
    again = run_check(app)
    assert (again[0], again[1]["findings"]) == (code, first["findings"])


def test_verify_files_never_comes_from_the_cache(
    app: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(cache.ENV_DIR, str(tmp_path / "cache"))
    _age(app)
    run_check(app)
    target = site_packages(app / "venv") / "einops" / "__init__.py"
    stat = target.stat()
    target.write_bytes(b"#" * stat.st_size)
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    code, report = run_check(app, "--verify-files")
    assert "record-mismatch" in finding_ids(report)
