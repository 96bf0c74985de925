"""repair check with torch builds, GPU backends, known-conflict rules, launch arguments and model
files: real venvs, real wheels, fake GPU tools on PATH printing real captured outputs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.cli import invoke, run_check
from tests.kit import build_wheel, copy_venv, pip_install, site_packages, unpack_wheel

TOOLS = Path(__file__).resolve().parents[1] / "data" / "tools"
TREES = Path(__file__).resolve().parents[1] / "data" / "trees"
pytestmark = pytest.mark.skipif(os.name == "nt", reason="fake GPU tools are POSIX shell scripts")
CAT = shutil.which("cat") or "/bin/cat"


def torch_wheel(
    dest: Path,
    version: str,
    cuda: str | None = None,
    hip: str | None = None,
    requires: tuple[str, ...] = (),
) -> Path:
    version_py = (
        f"__version__ = {version!r}\ndebug = False\ncuda: Optional[str] = {cuda!r}\n"
        f"git_version = 'a8e7c98cb95ff97bb30a728c6b2a1ce6bff946eb'\n"
        f"hip: Optional[str] = {hip!r}\n"
    )
    return build_wheel(
        dest / version,
        "torch",
        version,
        requires=list(requires),
        files={"torch/__init__.py": f"__version__ = {version!r}\n", "torch/version.py": version_py},
    )


def a1111_app(root: Path, template_venv: Path, *wheels: Path, args: str = "") -> Path:
    for line in (TREES / "a1111-v1.10.1.txt").read_text().splitlines():
        path = root / line
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
    (root / "requirements_versions.txt").write_text("")
    (root / "webui-user.sh").write_text(f'#!/bin/bash\nexport COMMANDLINE_ARGS="{args}"\n')
    venv = copy_venv(template_venv, root / "venv")
    for wheel in wheels:
        unpack_wheel(wheel, site_packages(venv))
    return root


def gpu_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tool: str | None) -> None:
    """PATH with only the fake GPU tool (or none): nvidia-smi from the H100 capture."""
    bin_dir = tmp_path / "fakebin"
    bin_dir.mkdir()
    if tool == "nvidia-smi":
        script = (
            f'#!/bin/sh\ncase "$1" in --query-gpu=compute_cap*) echo 9.0; exit 0;;\n'
            f'--query-gpu*) {CAT} "{TOOLS}/nvidia-smi-h100-query.csv";'
            f' exit 0;; esac\n{CAT} "{TOOLS}/nvidia-smi-h100.txt"\n'
        )
    elif tool == "rocminfo":
        script = f'#!/bin/sh\n{CAT} "{TOOLS}/rocminfo-rx6800xt.txt"\n'
    else:
        script = None
    if script:
        (bin_dir / tool).write_text(script)
        (bin_dir / tool).chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))


def found(report: dict[str, Any], fid: str) -> list[dict[str, Any]]:
    return [f for f in report["findings"] if f["id"] == fid]


def test_cpu_torch_on_nvidia_machine_hidden_by_skip_flag(
    tmp_path: Path, template_venv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = a1111_app(
        tmp_path / "app",
        template_venv,
        torch_wheel(tmp_path / "w", "2.1.2+cpu"),
        args="--skip-torch-cuda-test --xformers",
    )
    gpu_path(tmp_path, monkeypatch, "nvidia-smi")
    code, report = run_check(app)
    assert code == 1
    assert report["target"]["manifest"] == "a1111"
    backend = report["target"]["backend"]
    assert (backend["machine"], backend["torch"]) == ("cuda", "cpu")
    assert backend["devices"] == ["NVIDIA H100 80GB HBM3"]
    assert backend["machine_source"] == "nvidia-smi"
    mismatch = found(report, "torch-backend-mismatch")
    assert len(mismatch) == 1
    assert "--skip-torch-cuda-test" in mismatch[0]["message"]
    assert "download.pytorch.org/whl/cu121" in mismatch[0]["remedy"]
    args = {f["subject"] for f in found(report, "launch-args")}
    assert {"--skip-torch-cuda-test", "--xformers"} <= args
    text = invoke("check", "--dir", str(app)).stdout
    assert "backend  machine: cuda (NVIDIA H100 80GB HBM3), torch: cpu (2.1.2+cpu)" in text


def test_cuda_torch_on_nvidia_machine_is_fine(
    tmp_path: Path, template_venv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = a1111_app(
        tmp_path / "app", template_venv, torch_wheel(tmp_path / "w", "2.1.2+cu121", cuda="12.1")
    )
    gpu_path(tmp_path, monkeypatch, "nvidia-smi")
    _, report = run_check(app)
    assert not found(report, "torch-backend-mismatch")
    assert report["target"]["backend"]["torch"] == "cuda"


def test_cuda_build_newer_than_the_driver(
    tmp_path: Path, template_venv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = a1111_app(
        tmp_path / "app", template_venv, torch_wheel(tmp_path / "w", "2.9.0+cu130", cuda="13.0")
    )
    gpu_path(tmp_path, monkeypatch, "nvidia-smi")
    _, report = run_check(app)
    assert not found(report, "torch-backend-mismatch")  # the H100 driver supports CUDA 13.0
    # The same machine with a driver that supports CUDA 12.2 only.
    header = tmp_path / "old-driver.txt"
    header.write_text(
        (TOOLS / "nvidia-smi-h100.txt")
        .read_text()
        .replace("CUDA Version: 13.0", "CUDA Version: 12.2")
    )
    script = tmp_path / "fakebin" / "nvidia-smi"
    script.write_text(script.read_text().replace(str(TOOLS / "nvidia-smi-h100.txt"), str(header)))
    _, report = run_check(app)
    mismatch = found(report, "torch-backend-mismatch")
    assert mismatch and "supports CUDA up to 12.2" in mismatch[0]["message"]
    assert mismatch[0]["fix"] == "manual"


def test_gpu_newer_than_the_torch_build(
    tmp_path: Path, template_venv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = a1111_app(
        tmp_path / "app", template_venv, torch_wheel(tmp_path / "w", "2.1.2+cu121", cuda="12.1")
    )
    gpu_path(tmp_path, monkeypatch, "nvidia-smi")
    _, report = run_check(app)
    assert not found(report, "torch-gpu-unsupported")  # an H100 (9.0) runs CUDA 12.1 builds
    assert report["target"]["backend"]["compute_caps"] == ["9.0"]
    # The same machine with an RTX 50xx (compute capability 12.0).
    script = tmp_path / "fakebin" / "nvidia-smi"
    script.write_text(script.read_text().replace("echo 9.0", "echo 12.0"))
    _, report = run_check(app)
    unsupported = found(report, "torch-gpu-unsupported")
    assert unsupported and "sm_120" in unsupported[0]["message"]
    assert "whl/cu128" in unsupported[0]["remedy"]
    assert unsupported[0]["details"]["needs_cuda"] == "12.8"


def test_cuda_torch_on_amd_linux_and_backend_override(
    tmp_path: Path, template_venv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = a1111_app(
        tmp_path / "app", template_venv, torch_wheel(tmp_path / "w", "2.1.2+cu121", cuda="12.1")
    )
    gpu_path(tmp_path, monkeypatch, "rocminfo")
    _, report = run_check(app)
    mismatch = found(report, "torch-backend-mismatch")
    assert mismatch and "rocm" in mismatch[0]["message"] and "rocminfo" in mismatch[0]["message"]
    assert "whl/rocm5.7" in mismatch[0]["remedy"]
    # --backend cuda says the user means CUDA: then the build fits.
    _, report = run_check(app, "--backend", "cuda")
    assert not found(report, "torch-backend-mismatch")
    assert report["target"]["backend"]["machine_source"] == "--backend"


def test_no_torch_means_no_gpu_probe(
    tmp_path: Path, template_venv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = a1111_app(tmp_path / "app", template_venv)
    gpu_path(tmp_path, monkeypatch, None)
    marker = tmp_path / "probed"
    (tmp_path / "fakebin" / "nvidia-smi").write_text(f"#!/bin/sh\necho x > {marker}\nexit 1\n")
    (tmp_path / "fakebin" / "nvidia-smi").chmod(0o755)
    _, report = run_check(app)
    assert not marker.exists()
    assert report["target"]["backend"].get("machine") is None


def test_directml_launch_args_and_unpickle(
    tmp_path: Path, template_venv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheels = tmp_path / "w"
    app = a1111_app(
        tmp_path / "app",
        template_venv,
        torch_wheel(wheels, "2.4.1"),
        build_wheel(wheels, "torch-directml", "0.2.4.dev240913"),
        args="--use-directml --disable-safe-unpickle",
    )
    gpu_path(tmp_path, monkeypatch, None)
    _, report = run_check(app, "--manifest", "amdgpu")
    subjects = {f["subject"] for f in found(report, "launch-args")}
    assert {"--no-half", "--disable-safe-unpickle"} <= subjects
    no_half = next(f for f in found(report, "launch-args") if f["subject"] == "--no-half")
    assert "--opt-sub-quad-attention" in no_half["remedy"]
    assert report["target"]["backend"]["torch"] == "directml"


def test_pickle_models(
    tmp_path: Path, template_venv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = a1111_app(tmp_path / "app", template_venv)
    gpu_path(tmp_path, monkeypatch, None)
    (app / "models" / "Stable-diffusion" / "sd15.safetensors").write_bytes(b"x")
    _, report = run_check(app)
    assert not found(report, "pickle-models")
    (app / "models" / "Stable-diffusion" / "old.ckpt").write_bytes(b"x")
    (app / "embeddings" / "style.pt").write_bytes(b"x")
    _, report = run_check(app)
    pickles = found(report, "pickle-models")
    assert len(pickles) == 1 and pickles[0]["severity"] == "info"
    assert pickles[0]["details"]["count"] == 2


@pytest.mark.slow
def test_known_conflict_with_real_pip(
    tmp_path: Path, template_venv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheels = tmp_path / "wheels"
    build_wheel(wheels, "numpy", "2.1.0")
    build_wheel(
        wheels,
        "opencv-python",
        "4.9.0.80",
        requires=["numpy>=1.21.2"],
        files={"cv2/__init__.py": ""},
    )
    root = tmp_path / "app"
    root.mkdir()
    (root / "requirements.txt").write_text("opencv-python\n")
    venv = copy_venv(template_venv, root / "venv")
    pip_install(venv, "numpy==2.1.0", "opencv-python==4.9.0.80", find_links=[wheels])
    gpu_path(tmp_path, monkeypatch, None)
    code, report = run_check(root)
    conflicts = found(report, "known-conflict")
    assert [c["details"]["rule"] for c in conflicts] == ["numpy2-opencv-numpy1"]
    assert conflicts[0]["subject"] == "opencv-python" and conflicts[0]["fix"] == "reinstall"
    assert code == 1
