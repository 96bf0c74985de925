"""Acceptance on a real ComfyUI install (its checkout and a venv built from the package index),
with three real-world custom-node requirement sets installed the way ComfyUI-Manager installs
them: one ``pip install -r`` per node.

Marked ``real`` (deselected by default): it needs the network (the machine's own pip
configuration) and a prebuilt install named by ``WEBUI_REPAIR_REAL_COMFYUI`` (a folder with the
ComfyUI checkout and its ``venv``), which it copies and never changes.

1. Each node is first checked with ``--before-install`` and installed with the constraints file
   it writes: no protected package moves.
2. Then each node is installed as the Manager does, without constraints: ``check --deep`` names
   every node that no longer works.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.cli import run_check

pytestmark = pytest.mark.real

# The machine's environment as it was before the tests' isolation removed its pip settings.
_REAL_ENV = dict(os.environ)

NODES = {
    "comfyui-faceswap": [
        "insightface==0.7.3",
        "onnx",
        "onnxruntime",
        "opencv-python",
        "numpy==1.26.4",
        "albumentations",
    ],
    "comfyui-facemesh": ["mediapipe", "opencv-python-headless", "scikit-image", "huggingface_hub"],
    "comfyui-inpaint": ["diffusers>=0.27", "transformers==4.38.2", "accelerate", "peft"],
}
# What each node imports (its requirements' modules).
MODULES = {
    "comfyui-faceswap": ["insightface", "onnx", "onnxruntime", "cv2", "numpy", "albumentations"],
    "comfyui-facemesh": ["mediapipe", "cv2", "skimage", "huggingface_hub"],
    "comfyui-inpaint": ["diffusers", "transformers", "accelerate", "peft"],
}


@pytest.fixture
def real_comfy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    source = _REAL_ENV.get("WEBUI_REPAIR_REAL_COMFYUI")
    if not source or not (Path(source) / "venv").is_dir():
        pytest.skip("WEBUI_REPAIR_REAL_COMFYUI names no prebuilt ComfyUI install")
    for name in list(os.environ):
        if name.startswith("PIP_"):
            monkeypatch.delenv(name)
    for name, value in _REAL_ENV.items():
        if name.startswith("PIP_"):
            monkeypatch.setenv(name, value)
    app = tmp_path / "ComfyUI"
    shutil.copytree(source, app, symlinks=True)
    for node, reqs in NODES.items():
        folder = app / "custom_nodes" / node
        folder.mkdir(parents=True)
        (folder / "__init__.py").write_text("")
        (folder / "requirements.txt").write_text("\n".join(reqs) + "\n")
    return app


def _pip(app: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    return subprocess.run(
        [str(app / "venv" / "bin" / "python"), "-m", "pip", "install", "-q", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=3600,
    )


def _versions(app: Path) -> dict[str, str]:
    out = subprocess.run(
        [str(app / "venv" / "bin" / "python"), "-m", "pip", "list", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return {d["name"].lower().replace("_", "-"): d["version"] for d in json.loads(out.stdout)}


def _broken(app: Path, node: str) -> bool:
    """A node is broken when one of its modules fails to import or an exact pin is unmet."""
    versions = _versions(app)
    for req in NODES[node]:
        if "==" in req:
            name, _, version = req.partition("==")
            if versions.get(name.lower()) != version:
                return True
    code = "; ".join(f"import {m}" for m in MODULES[node])
    res = subprocess.run(
        [str(app / "venv" / "bin" / "python"), "-c", code],
        capture_output=True,
        text=True,
        timeout=600,
    )
    return res.returncode != 0


def _named(report: dict[str, Any]) -> set[str]:
    out: set[str] = set()
    for f in report["findings"]:
        by = f.get("details", {}).get("requested_by")
        for who in [by] if isinstance(by, str) else by or []:
            out.add(who.removeprefix("custom node "))
        for side in f.get("details", {}).get("sources", []):
            if not side["app"]:
                out.add(side["who"].removeprefix("custom node "))
    return out


def test_before_install_then_manager_installs(real_comfy: Path, tmp_path: Path) -> None:
    app = real_comfy
    protected = ("torch", "torchvision", "torchaudio", "numpy", "transformers", "safetensors")
    start = _versions(app)
    for node in NODES:
        cons = tmp_path / f"{node}.txt"
        code, report = run_check(
            app, "--before-install", f"custom_nodes/{node}", "--write-constraints", str(cons)
        )
        data = report["before_install"]
        assert data["prediction"] == "pip", data
        risky = {f["subject"] for f in report["findings"] if f["id"] == "install-risky"}
        assert risky == set(data["protected"])
        before = _versions(app)
        _pip(app, "-r", str(app / "custom_nodes" / node / "requirements.txt"), "-c", str(cons))
        after = _versions(app)
        for name in protected:
            if name in before:
                assert before[name].split(".")[0] == after.get(name, "").split(".")[0], name
        for name in ("torch", "torchvision", "torchaudio"):
            assert after.get(name) == start.get(name), name
    # Now as ComfyUI-Manager does it: one unconstrained pip install -r per node.
    for node in NODES:
        _pip(app, "-r", str(app / "custom_nodes" / node / "requirements.txt"))
    code, report = run_check(app, "--deep")
    broken = {node for node in NODES if _broken(app, node)}
    assert broken, "the real node sets no longer break anything: update the sets"
    assert broken <= _named(report), (broken, report["findings"])
