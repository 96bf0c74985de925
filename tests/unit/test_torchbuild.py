"""Torch build classification on real metadata of torch wheels (version strings, Requires-Dist
lists and torch/version.py texts kept in tests/data/torch-wheels.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement

from repair.env.torchbuild import classify, read_version_py

DATA = json.loads((Path(__file__).resolve().parents[1] / "data" / "torch-wheels.json").read_text())
PLATFORM_ENV = {
    "linux": {"platform_system": "Linux", "sys_platform": "linux", "os_name": "posix"},
    "win32": {"platform_system": "Windows", "sys_platform": "win32", "os_name": "nt"},
    "darwin": {"platform_system": "Darwin", "sys_platform": "darwin", "os_name": "posix"},
}


def marker_ok_for(sys_platform: str, machine: str) -> Any:
    env = dict(
        PLATFORM_ENV[sys_platform],
        platform_machine=machine,
        python_version="3.10",
        python_full_version="3.10.13",
        extra="",
    )

    def ok(text: str) -> bool:
        req = Requirement(text)
        return req.marker is None or req.marker.evaluate(env)

    return ok


@pytest.mark.parametrize("case", DATA, ids=[c["id"] for c in DATA])
def test_classify_real_wheels(case: dict[str, Any]) -> None:
    sys_platform, machine = case["platform"]
    build = classify(
        case["version"],
        case["requires"],
        version_py=case["version_py"],
        installed=["torch", *case.get("installed", [])],
        sys_platform=sys_platform,
        platform_machine=machine,
        marker_ok=marker_ok_for(sys_platform, machine),
    )
    assert build.kind == case["kind"], build.evidence
    assert build.cuda == case["cuda"]
    assert build.evidence


def test_version_py_is_read_as_text() -> None:
    text = (
        "__version__ = '2.5.1+rocm6.2'\ndebug = False\ncuda: Optional[str] = None\n"
        "git_version = 'a8e7c98c'\nhip: Optional[str] = '6.2.41133-dd7f95766'\n"
        "raise SystemExit('never executed')\n"
    )
    assert read_version_py(text) == {
        "__version__": "2.5.1+rocm6.2",
        "cuda": None,
        "git_version": "a8e7c98c",
        "hip": "6.2.41133-dd7f95766",
    }


def test_no_evidence_on_linux_is_unknown() -> None:
    assert classify("2.1.2", ["filelock"]).kind == "unknown"
