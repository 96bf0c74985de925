"""requires-dist-invalid and wheel-unsupported end to end, and remedies every shell reads alike."""

from __future__ import annotations

from pathlib import Path

from tests.cli import run_check
from tests.kit import site_packages


def _dist(site: Path, name: str, version: str, requires: list[str], tags: list[str]) -> None:
    folder = site / f"{name}-{version}.dist-info"
    folder.mkdir()
    lines = [f"Name: {name}", f"Version: {version}"] + [f"Requires-Dist: {r}" for r in requires]
    (folder / "METADATA").write_text("\n".join(lines) + "\n\n")
    (folder / "RECORD").write_text(f"{name}-{version}.dist-info/METADATA,,\n")
    (folder / "WHEEL").write_text("Wheel-Version: 1.0\n" + "".join(f"Tag: {t}\n" for t in tags))


def test_unreadable_requires_dist_and_foreign_wheel_are_findings(app: Path) -> None:
    site = site_packages(app / "venv")
    _dist(site, "oldpkg", "0.1", ["numpy (>=1.0", "einops"], ["py3-none-any"])
    _dist(site, "winonly", "1.0", [], ["cp310-cp310-win_amd64", "cp39-cp39-win32"])
    code, report = run_check(app)
    by_id: dict[str, list[dict[str, object]]] = {}
    for f in report["findings"]:
        by_id.setdefault(str(f["id"]), []).append(f)
    bad = by_id["requires-dist-invalid"]
    assert [f["subject"] for f in bad] == ["oldpkg"]
    assert "numpy (>=1.0" in str(bad[0]["message"])
    assert [f["subject"] for f in by_id["wheel-unsupported"]] == ["winonly"]
    assert "not supported on this platform" in str(by_id["wheel-unsupported"][0]["message"])
    assert code == 1


def test_remedies_quote_for_every_shell(app: Path) -> None:
    (app / "requirements.txt").write_text("numpy>=2\nsentencepiece ; python_version >= '3.0'\n")
    site = site_packages(app / "venv")
    _dist(
        site,
        "needsextra",
        "1.0",
        ['neverthere[gpu]>=2; extra == "x" or os_name != "nt" or os_name == "nt"'],
        ["py3-none-any"],
    )
    code, report = run_check(app)
    remedies = {
        f["subject"]: str(f["remedy"])
        for f in report["findings"]
        if f["id"] in ("requirement-unmet", "dependency-conflict")
    }
    assert remedies["sentencepiece"].endswith("-m pip install sentencepiece")
    assert remedies["neverthere"].endswith('-m pip install "neverthere[gpu]>=2"')
    for text in remedies.values():
        quoted = text.split(" install ", 1)[-1]
        assert "'" not in quoted and quoted.count('"') in (0, 2)
