"""repair check --online: the preflight against a real local index, on a real venv."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli import invoke
from tests.localindex import LocalIndex, build_wheel


def test_online_reports_a_pin_without_wheels_for_this_python(
    app: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PIP_NO_INDEX")  # the test's own index is the only source
    wheels = tmp_path / "index"
    for name, version in [
        ("numpy", "1.26.4"),
        ("accelerate", "1.2.0"),
        ("transformers", "4.40.0"),
        ("safetensors", "0.4.3"),
        ("einops", "0.8.0"),
    ]:
        build_wheel(wheels, name, version)
    build_wheel(wheels, "oldtorch", "2.1.2", tag="cp38-cp38-manylinux1_x86_64")
    reqs = app / "requirements.txt"
    reqs.write_text(reqs.read_text() + "oldtorch==2.1.2\n")
    with LocalIndex(wheels) as index:
        result = invoke(
            "check", "--json", "--online", "--dir", str(app), "--index-url", index.simple()
        )
    report = json.loads(result.stdout)
    unavailable = [f for f in report["findings"] if f["id"] == "wheel-unavailable"]
    assert [f["subject"] for f in unavailable] == ["oldtorch"], report["findings"]
    assert result.exit_code == 1


def test_without_online_nothing_is_asked(app: Path) -> None:
    result = invoke(
        "check", "--json", "--dir", str(app), "--index-url", "http://127.0.0.1:9/simple/"
    )
    report = json.loads(result.stdout)
    assert report["findings"] == []
