"""Backend detection with fake nvidia-smi, rocminfo, lspci, sycl-ls and powershell programs on
PATH that print real captured outputs (tests/data/tools)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from repair.env.backend import detect, parse_rocminfo
from repair.errors import UsageError

TOOLS = Path(__file__).resolve().parents[1] / "data" / "tools"
pytestmark = pytest.mark.skipif(os.name == "nt", reason="fake tools are POSIX shell scripts")
CAT = shutil.which("cat") or "/bin/cat"


def fake(
    bin_dir: Path,
    name: str,
    output: str | None = None,
    *,
    query: str | None = None,
    code: int = 0,
    body: str | None = None,
) -> None:
    """A program ``name`` that prints a captured output (``query`` for --query-gpu calls)."""
    bin_dir.mkdir(exist_ok=True)
    lines = ["#!/bin/sh"]
    if body is not None:
        lines.append(body)
    else:
        if query is not None:
            lines.append(f'case "$1" in --query-gpu*) {CAT} "{TOOLS / query}"; exit {code};; esac')
        if output is not None:
            lines.append(f'{CAT} "{TOOLS / output}"')
        lines.append(f"exit {code}")
    path = bin_dir / name
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o755)


def env_for(bin_dir: Path) -> dict[str, str]:
    bin_dir.mkdir(exist_ok=True)
    return {"PATH": str(bin_dir), "SystemRoot": str(bin_dir / "nowindows")}


def test_nvidia_from_real_capture(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    fake(bin_dir, "nvidia-smi", "nvidia-smi-h100.txt", query="nvidia-smi-h100-query.csv")
    found = detect(system="Linux", env=env_for(bin_dir), root=tmp_path)
    assert (found.backend, found.vendor, found.source) == ("cuda", "nvidia", "nvidia-smi")
    assert found.devices == ("NVIDIA H100 80GB HBM3",)
    assert found.driver == "580.159.04" and found.cuda == "13.0"
    assert found.accepts() == ("cuda",)


def test_nvidia_smi_without_driver_falls_back_to_lspci(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    fake(bin_dir, "nvidia-smi", "nvidia-smi-no-driver.txt", code=9)
    fake(bin_dir, "lspci", "lspci-nvidia.txt")
    found = detect(system="Linux", env=env_for(bin_dir), root=tmp_path)
    assert (found.backend, found.source) == ("cuda", "lspci")
    assert found.probes["nvidia-smi"].startswith("exit 9: NVIDIA-SMI has failed")
    assert "H100" in found.devices[0]


def test_rocminfo_gpu_agent_and_rocm_version(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    fake(bin_dir, "rocminfo", "rocminfo-rx6800xt.txt")
    info = tmp_path / "opt" / "rocm" / ".info"
    info.mkdir(parents=True)
    (info / "version").write_text("6.2.0-66\n")
    found = detect(system="Linux", env=env_for(bin_dir), root=tmp_path)
    assert (found.backend, found.vendor, found.source) == ("rocm", "amd", "rocminfo")
    assert found.devices == ("AMD Radeon RX 6800 XT (gfx1030)",)
    assert found.rocm == "6.2.0"
    assert found.probes["nvidia-smi"] == "not found"


def test_rocminfo_without_gpu_then_lspci(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    fake(bin_dir, "rocminfo", "rocminfo-cpu-only.txt")
    fake(bin_dir, "lspci", "lspci-amd.txt")
    found = detect(system="Linux", env=env_for(bin_dir), root=tmp_path)
    assert (found.backend, found.source) == ("rocm", "lspci")
    assert "Navi 21" in found.devices[0]


def test_parse_rocminfo_lists_only_gpus() -> None:
    assert parse_rocminfo((TOOLS / "rocminfo-rx6800xt.txt").read_text()) == [
        ("gfx1030", "AMD Radeon RX 6800 XT")
    ]
    assert parse_rocminfo((TOOLS / "rocminfo-cpu-only.txt").read_text()) == []


def test_no_tools_at_all_is_cpu_not_a_crash(tmp_path: Path) -> None:
    found = detect(system="Linux", env=env_for(tmp_path / "empty"), root=tmp_path)
    assert (found.backend, found.vendor, found.source) == ("cpu", None, "no GPU found")
    assert found.probes["nvidia-smi"] == "not found" and found.probes["rocminfo"] == "not found"
    assert found.accepts() == ()


def test_integrated_intel_graphics_is_not_a_gpu_backend(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    fake(bin_dir, "lspci", "lspci-intel-igpu.txt")
    assert detect(system="Linux", env=env_for(bin_dir), root=tmp_path).backend == "cpu"


def test_sycl_ls_finds_arc(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    fake(bin_dir, "sycl-ls", "sycl-ls-arc.txt")
    found = detect(system="Linux", env=env_for(bin_dir), root=tmp_path)
    assert (found.backend, found.source) == ("ipex", "sycl-ls")
    assert "Arc(TM) A770" in found.devices[0]


def test_hanging_tool_times_out(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    sleep = shutil.which("sleep") or "/bin/sleep"
    fake(bin_dir, "nvidia-smi", body=f"exec {sleep} 30")
    found = detect(system="Linux", env=env_for(bin_dir), root=tmp_path, timeout=0.5)
    assert found.probes["nvidia-smi"].startswith("failed: timed out")
    assert found.backend == "cpu"


def test_tool_that_cannot_run(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "rocminfo").write_text("#!/nonexistent/interpreter\n")
    (bin_dir / "rocminfo").chmod(0o755)
    found = detect(system="Linux", env=env_for(bin_dir), root=tmp_path)
    assert found.probes["rocminfo"].startswith("failed:")


@pytest.mark.parametrize(
    ("capture", "device"),
    [
        ("win32-videocontroller-radeon.json", "AMD Radeon RX 580 2048SP"),
        ("win32-videocontroller-two.json", "AMD Radeon RX 6700 XT"),
    ],
)
def test_windows_video_controllers(tmp_path: Path, capture: str, device: str) -> None:
    bin_dir = tmp_path / "bin"
    fake(bin_dir, "powershell", capture)
    found = detect(system="Windows", env=env_for(bin_dir), root=tmp_path)
    assert (found.backend, found.vendor, found.source) == (
        "directml",
        "amd",
        "Win32_VideoController",
    )
    assert found.devices == (device,)
    assert set(found.accepts()) == {"directml", "zluda", "rocm"}


def test_apple_silicon_is_mps_without_probes(tmp_path: Path) -> None:
    found = detect(system="Darwin", machine="arm64", env=env_for(tmp_path / "bin"))
    assert (found.backend, found.vendor) == ("mps", "apple") and found.probes == {}


def test_override(tmp_path: Path) -> None:
    found = detect("zluda", system="Linux", env=env_for(tmp_path / "bin"))
    assert (found.backend, found.source, found.overridden) == ("zluda", "--backend", True)
    assert found.accepts() == ("zluda",)
    with pytest.raises(UsageError, match="--backend: 'vulkan'"):
        detect("vulkan")
