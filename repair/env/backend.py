"""The machine's GPU backend: NVIDIA (nvidia-smi), AMD (rocminfo, rocm-smi, hipconfig, ROCm folders,
lspci; on Windows the video controllers through PowerShell/CIM), Intel (sycl-ls, oneAPI), Apple
(MPS), or none (CPU). ``--backend`` overrides detection.

Every probe runs through ``repair.proc`` with a short timeout; a tool that is missing, fails or
hangs is recorded in ``probes`` and detection goes on. Nothing is cached across runs.
"""

from __future__ import annotations

import json
import os
import platform
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repair import proc
from repair.errors import ProcessError, UsageError

BACKENDS = ("cuda", "rocm", "directml", "zluda", "openvino", "ipex", "cpu", "mps")
PROBE_TIMEOUT = 5.0


@dataclass(frozen=True)
class MachineBackend:
    backend: str  # one of BACKENDS
    vendor: str | None  # nvidia, amd, intel, apple, or None (no GPU found / asked for)
    source: str  # "--backend", "nvidia-smi", "rocminfo", "lspci", ..., "no GPU found"
    system: str  # Linux, Windows, Darwin
    devices: tuple[str, ...] = ()
    driver: str | None = None
    cuda: str | None = None  # the highest CUDA version the NVIDIA driver supports
    rocm: str | None = None
    probes: dict[str, str] = field(default_factory=dict)  # tool -> what happened
    compute_caps: tuple[str, ...] = ()  # NVIDIA: "12.0" per GPU (nvidia-smi compute_cap)

    @property
    def overridden(self) -> bool:
        return self.source == "--backend"

    def accepts(self) -> tuple[str, ...]:
        """Torch builds that fit this machine."""
        if self.overridden:
            return {"zluda": ("zluda",), "openvino": ("openvino", "cpu")}.get(
                self.backend, (self.backend,)
            )
        if self.vendor == "nvidia":
            return ("cuda",)
        if self.vendor == "amd":
            return ("directml", "zluda", "rocm") if self.system == "Windows" else ("rocm",)
        if self.vendor == "intel":
            return ("ipex", "openvino")
        if self.vendor == "apple":
            return ("mps",)
        return ()  # no GPU seen: any build runs (on the CPU)

    def to_json(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "vendor": self.vendor,
            "source": self.source,
            "devices": list(self.devices),
            "driver": self.driver,
            "cuda": self.cuda,
            "rocm": self.rocm,
            "probes": dict(self.probes),
            "compute_caps": list(self.compute_caps),
        }


class _Prober:
    def __init__(self, env: Mapping[str, str] | None, timeout: float) -> None:
        self.env = dict(os.environ if env is None else env)
        self.timeout = timeout
        self.probes: dict[str, str] = {}

    def which(self, name: str, extra: tuple[str, ...] = ()) -> str | None:
        found = proc.which(name, path=self.env.get("PATH"))
        if found:
            return found
        for folder in extra:
            for candidate in (Path(folder) / name, Path(folder) / f"{name}.exe"):
                if candidate.is_file():
                    return str(candidate)
        return None

    def run(
        self, name: str, args: list[str], key: str | None = None, extra: tuple[str, ...] = ()
    ) -> str | None:
        """The tool's stdout when it ran and exited 0; otherwise None, recorded in probes."""
        key = key or name
        exe = self.which(name, extra)
        if exe is None:
            self.probes[key] = "not found"
            return None
        try:
            result = proc.run([exe, *args], timeout=self.timeout, env=self.env)
        except ProcessError as exc:
            self.probes[key] = f"failed: {exc}"
            return None
        if not result.ok:
            lines = (result.stdout + result.stderr).strip().splitlines()
            first = f": {lines[0][:160]}" if lines else ""
            self.probes[key] = f"exit {result.returncode}{first}"
            return None
        self.probes[key] = "ok"
        return result.stdout


def parse_nvidia_query(text: str) -> tuple[list[str], str | None]:
    """``name, driver_version`` CSV lines (no header) -> device names and the driver version."""
    devices, driver = [], None
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if not parts or not parts[0] or parts[0].lower() == "name":
            continue
        devices.append(parts[0])
        if len(parts) > 1 and parts[1]:
            driver = driver or parts[1]
    return devices, driver


def parse_compute_caps(text: str) -> tuple[str, ...]:
    """``compute_cap`` CSV lines (``12.0``), one per GPU; anything else is skipped."""
    return tuple(
        line.strip() for line in text.splitlines() if re.fullmatch(r"\d+\.\d+", line.strip())
    )


def parse_nvidia_header(text: str) -> tuple[str | None, str | None]:
    """The driver and CUDA versions from plain ``nvidia-smi`` output."""
    driver = re.search(r"Driver Version:\s*([\d.]+)", text)
    cuda = re.search(r"CUDA Version:\s*([\d.]+)", text)
    return (driver.group(1) if driver else None), (cuda.group(1) if cuda else None)


def parse_rocminfo(text: str) -> list[tuple[str, str]]:
    """GPU agents in ``rocminfo`` output: (gfx name, marketing name)."""
    gpus = []
    for block in re.split(r"\n\*{3,}\s*\nAgent \d+\s*\n\*{3,}\s*\n", text)[1:]:
        fields: dict[str, str] = {}
        for line in block.splitlines():
            key, sep, value = line.strip().partition(":")
            if sep and key not in fields:
                fields[key.strip()] = value.strip()
        if fields.get("Device Type") == "GPU":
            gpus.append((fields.get("Name", ""), fields.get("Marketing Name", "")))
    return gpus


_LSPCI_GPU = re.compile(
    r"(VGA compatible controller|Display controller|3D controller)(?: \[\w+\])?:\s*(.+)"
)


def parse_lspci(text: str) -> list[tuple[str | None, str]]:
    """(vendor, description) of each display controller in ``lspci`` output."""
    out: list[tuple[str | None, str]] = []
    for line in text.splitlines():
        m = _LSPCI_GPU.search(line)
        if not m:
            continue
        desc = m.group(2).strip()
        out.append((_vendor(desc), desc))
    return out


def _vendor(name: str) -> str | None:
    low = name.lower()
    if "nvidia" in low:
        return "nvidia"
    if "amd" in low or "radeon" in low or "ati technologies" in low or "advanced micro" in low:
        return "amd"
    if "intel" in low:
        # Integrated graphics do not make an XPU machine; Arc and Data Center GPUs do.
        return "intel" if re.search(r"\barc\b|data center gpu|flex|dg2|battlemage", low) else None
    if "microsoft basic" in low or "virtual" in low:
        return None
    return None


def parse_video_controllers(text: str) -> list[str]:
    """Names from ``Get-CimInstance Win32_VideoController | Select Name | ConvertTo-Json``."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return []
    items = data if isinstance(data, list) else [data]
    return [str(i.get("Name")) for i in items if isinstance(i, dict) and i.get("Name")]


def detect(
    override: str | None = None,
    *,
    system: str | None = None,
    machine: str | None = None,
    env: Mapping[str, str] | None = None,
    root: Path = Path("/"),
    timeout: float = PROBE_TIMEOUT,
) -> MachineBackend:
    """The machine's GPU backend. ``root`` is where ROCm/oneAPI folders are looked for (tests)."""
    system = system or platform.system()
    machine = (machine or platform.machine()).lower()
    if override and override != "auto":
        if override not in BACKENDS:
            raise UsageError(f"--backend: {override!r} is not one of auto, {', '.join(BACKENDS)}")
        vendor = {
            "cuda": "nvidia",
            "rocm": "amd",
            "directml": "amd",
            "zluda": "amd",
            "ipex": "intel",
            "mps": "apple",
        }.get(override)
        return MachineBackend(override, vendor, "--backend", system)
    p = _Prober(env, timeout)
    if system == "Darwin":
        if machine in ("arm64", "aarch64"):
            return MachineBackend("mps", "apple", "platform (macOS on Apple silicon)", system)
        return MachineBackend("cpu", None, "platform (macOS on Intel)", system)

    windows = system == "Windows"
    system32 = (str(Path(p.env.get("SystemRoot", r"C:\Windows")) / "System32"),) if windows else ()
    # NVIDIA
    out = p.run(
        "nvidia-smi",
        ["--query-gpu=name,driver_version", "--format=csv,noheader"],
        key="nvidia-smi",
        extra=system32,
    )
    if out is not None:
        devices, driver = parse_nvidia_query(out)
        if devices:
            header = p.run("nvidia-smi", [], key="nvidia-smi (header)", extra=system32)
            head_driver, cuda = parse_nvidia_header(header or "")
            # A query of its own: drivers before 510 do not know the field and fail the query.
            caps = p.run(
                "nvidia-smi",
                ["--query-gpu=compute_cap", "--format=csv,noheader"],
                key="nvidia-smi (compute_cap)",
                extra=system32,
            )
            return MachineBackend(
                "cuda",
                "nvidia",
                "nvidia-smi",
                system,
                tuple(devices),
                driver or head_driver,
                cuda,
                probes=p.probes,
                compute_caps=parse_compute_caps(caps or ""),
            )

    names: list[tuple[str | None, str]] = []
    if windows:
        cim = p.run(
            "powershell",
            [
                "-NoProfile",
                "-Command",
                "Get-CimInstance Win32_VideoController | Select Name | ConvertTo-Json",
            ],
            key="powershell Win32_VideoController",
        )
        names = [(_vendor(n), n) for n in parse_video_controllers(cim or "")]
        for vendor, backend in (("nvidia", "cuda"), ("amd", "directml"), ("intel", "ipex")):
            found = tuple(n for v, n in names if v == vendor)
            if found:
                return MachineBackend(
                    backend, vendor, "Win32_VideoController", system, found, probes=p.probes
                )
    else:
        # AMD: rocminfo lists the GPU agents; the other probes only say ROCm is there.
        rocm_version = _rocm_version(p, root)
        info = p.run("rocminfo", [])
        gpus = parse_rocminfo(info or "")
        if gpus:
            agents = tuple(f"{market} ({gfx})" if market else gfx for gfx, market in gpus)
            return MachineBackend(
                "rocm", "amd", "rocminfo", system, agents, rocm=rocm_version, probes=p.probes
            )
        smi = p.run("rocm-smi", ["--showproductname"])
        if smi and re.search(r"GPU\[\d+\]", smi):
            cards = tuple(sorted(set(re.findall(r"Card (?:series|SKU|Series):\s*(.+)", smi))))
            return MachineBackend(
                "rocm", "amd", "rocm-smi", system, cards, rocm=rocm_version, probes=p.probes
            )
        lspci = p.run("lspci", [])
        names = [(v, d) for v, d in parse_lspci(lspci or "")]
        for vendor, backend in (("nvidia", "cuda"), ("amd", "rocm"), ("intel", "ipex")):
            found = tuple(d for v, d in names if v == vendor)
            if found:
                return MachineBackend(
                    backend, vendor, "lspci", system, found, rocm=rocm_version, probes=p.probes
                )
    # Intel: sycl-ls lists level-zero GPUs; oneAPI folders only say the toolkit is there.
    sycl = p.run("sycl-ls", [])
    if sycl:
        gpus_sycl = tuple(
            line.split("]", 1)[-1].strip()
            for line in sycl.splitlines()
            if re.search(r"level_zero:gpu|ext_oneapi_level_zero:gpu", line)
        )
        if gpus_sycl:
            return MachineBackend("ipex", "intel", "sycl-ls", system, gpus_sycl, probes=p.probes)
    return MachineBackend("cpu", None, "no GPU found", system, probes=p.probes)


def _rocm_version(p: _Prober, root: Path) -> str | None:
    """The installed ROCm version: /opt/rocm/.info/version, HIP_PATH, or ``hipconfig --version``."""
    for base in (p.env.get("ROCM_PATH"), p.env.get("HIP_PATH"), str(root / "opt" / "rocm")):
        if not base:
            continue
        info = Path(base) / ".info" / "version"
        try:
            text = info.read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            continue
        p.probes[f"{base}/.info/version"] = "ok"
        return text.split("-")[0] or None
    out = p.run("hipconfig", ["--version"])
    if out:
        m = re.match(r"\s*(\d+\.\d+(?:\.\d+)?)", out)
        return m.group(1) if m else None
    return None
