"""repair demo: builds its broken install offline and finds each breakage it made."""

from __future__ import annotations

from pathlib import Path

from repair.commands.demo import run_demo
from repair.progress import Reporter


def test_demo_finds_every_breakage_it_made(tmp_path: Path) -> None:
    result = run_demo(Reporter(), where=tmp_path, keep=True, repair=False)
    found = {(f.id, f.subject) for f in result.before.findings}
    assert ("stale-residue", "~umpy") in found
    assert ("duplicate-distribution", "numpy") in found
    assert ("requirement-unmet", "einops") in found
    assert ("dependency-conflict", "accelerate") in found
    assert not result.before.summary.healthy
    assert (result.root / "webui" / "venv").is_dir()


def test_demo_cleans_up_after_itself(tmp_path: Path) -> None:
    run_demo(Reporter(), where=tmp_path, keep=False, repair=False)
    assert list(tmp_path.iterdir()) == []


def test_demo_repairs_what_it_broke(tmp_path: Path) -> None:
    seen: list[str] = []
    result = run_demo(
        Reporter(),
        where=tmp_path,
        keep=True,
        repair=True,
        on_report=lambda stage, report: seen.append(stage),
    )
    assert seen == ["before", "after"]
    assert not result.before.summary.healthy
    assert result.after is not None and result.after.summary.healthy, result.after.findings
    assert result.exit_code in (0, 3)
    site = next((result.root / "webui" / "venv" / "lib").glob("python3*/site-packages"))
    assert not (site / "~umpy").exists()
    assert (result.root / "webui" / "models" / "README.txt").is_file()  # user data untouched
