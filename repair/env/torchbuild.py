"""Which build of torch is installed (CUDA, ROCm, CPU, DirectML, XPU, MPS), read from its files
without importing it.

Evidence, strongest first: the local version tag (``2.1.2+cu121``, ``+rocm6.2``, ``+cpu``,
``+xpu``); the ``cuda``/``hip`` assignments in ``torch/version.py`` (read as text); the
Requires-Dist list (``nvidia-*``/``cuda-toolkit`` for PyPI's CUDA wheels, which carry no tag;
``pytorch-triton-rocm`` for ROCm); ``torch-directml`` installed beside it; and the platform (PyPI's
macOS arm64 wheel is the MPS build, its Windows wheel the CPU build).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from repair.env.dists import canonical

# The torch set: the distributions one torch build is made of, installed together from one index.
TORCH_FAMILY = ("torch", "torchvision", "torchaudio")
# The torch set and the packages built against it: what a custom node must not move.
TORCH_STACK = (*TORCH_FAMILY, "xformers", "torch-directml")

if TYPE_CHECKING:
    from repair.env.dists import Dist

_TAG_RE = re.compile(r"^(?:cu(?P<cu>\d+)|rocm(?P<rocm>[\d.]+)|(?P<cpu>cpu)|(?P<xpu>xpu))")
_ASSIGN_RE = re.compile(
    r"^(?P<name>__version__|cuda|hip|xpu|git_version)\s*(?::[^=]+)?=\s*(?P<value>.+?)\s*$",
    re.MULTILINE,
)
_CUDA_PKG_RE = re.compile(r"^(nvidia-[a-z0-9-]*-cu(?P<major>\d+)|cuda-toolkit|nvidia-cuda-runtime)")


@dataclass(frozen=True)
class TorchBuild:
    kind: str  # cuda, rocm, cpu, directml, ipex, mps, unknown
    version: str  # the distribution's version, as installed
    cuda: str | None = None  # "12.1"
    hip: str | None = None  # "6.2.41133-dd7f95766" or "6.2" from the tag
    local: str = ""  # the local version tag without "+"
    evidence: str = ""  # what decided it, for the report

    def to_json(self) -> dict[str, str | None]:
        return {
            "kind": self.kind,
            "version": self.version,
            "cuda": self.cuda,
            "hip": self.hip,
            "evidence": self.evidence,
        }


def _cuda_from_tag(digits: str) -> str:
    # cu121 -> 12.1, cu118 -> 11.8, cu130 -> 13.0, cu92 -> 9.2
    return f"{digits[:-1]}.{digits[-1]}"


def read_version_py(text: str) -> dict[str, str | None]:
    """``__version__``, ``cuda``, ``hip``, ``git_version`` from torch/version.py's text."""
    out: dict[str, str | None] = {}
    for m in _ASSIGN_RE.finditer(text):
        try:
            value = ast.literal_eval(m.group("value"))
        except (ValueError, SyntaxError):
            continue
        if value is None or isinstance(value, str):
            out[m.group("name")] = value
    return out


def classify(
    version: str,
    requires: Iterable[str] = (),
    *,
    version_py: str | None = None,
    installed: Mapping[str, Dist] | Iterable[str] = (),
    sys_platform: str = "linux",
    platform_machine: str = "x86_64",
    marker_ok: Callable[[str], bool] | None = None,
) -> TorchBuild:
    """Classify a torch distribution from its metadata.

    ``marker_ok`` evaluates a Requires-Dist line's marker for the venv (so that PyPI's Linux-only
    ``nvidia-*`` lines do not count on Windows); by default every line counts.
    """
    names = {canonical(n) for n in installed}
    local = version.partition("+")[2]
    m = _TAG_RE.match(local)
    info = read_version_py(version_py) if version_py else {}
    cuda = info.get("cuda")
    hip = info.get("hip")
    directml = "torch-directml" in names

    def build(kind: str, evidence: str, **kw: str | None) -> TorchBuild:
        return TorchBuild(kind, version, kw.get("cuda", cuda), kw.get("hip", hip), local, evidence)

    if m is not None:
        if m.group("cu"):
            tagged = cuda or _cuda_from_tag(m.group("cu"))
            return build("cuda", f"version tag +{local}", cuda=tagged)
        if m.group("rocm"):
            return build("rocm", f"version tag +{local}", hip=hip or m.group("rocm"))
        if m.group("xpu"):
            return build("ipex", f"version tag +{local}")
        if directml:
            return build("directml", "torch-directml installed beside a CPU torch")
        return build("cpu", f"version tag +{local}")
    if hip:
        return build("rocm", f"torch/version.py: hip = {hip!r}")
    if cuda:
        return build("cuda", f"torch/version.py: cuda = {cuda!r}")
    cuda_deps = []
    rocm_deps = False
    for text in requires:
        name_part, _, marker = text.partition(";")
        name = canonical(re.split(r"[\s\[(<>=!~]", name_part.strip(), maxsplit=1)[0])
        if marker.strip() and marker_ok is not None and not marker_ok(text):
            continue
        if name == "pytorch-triton-rocm":
            rocm_deps = True
        dep = _CUDA_PKG_RE.match(name)
        if dep:
            cuda_deps.append((name, text))
    if rocm_deps:
        return build("rocm", "Requires-Dist: pytorch-triton-rocm")
    if cuda_deps:
        cuda_version = cuda or _cuda_from_deps(cuda_deps)
        return build("cuda", f"Requires-Dist: {cuda_deps[0][0]}", cuda=cuda_version)
    if directml:
        return build("directml", "torch-directml installed beside a CPU torch")
    if "intel-extension-for-pytorch" in names:
        return build("ipex", "intel-extension-for-pytorch installed beside torch")
    if sys_platform == "darwin" and platform_machine in ("arm64", "aarch64"):
        return build("mps", "PyPI build for Apple silicon")
    if version_py is not None:
        return build("cpu", "torch/version.py: cuda = None, hip = None")
    if sys_platform in ("win32", "darwin"):
        return build("cpu", f"no CUDA or ROCm evidence (PyPI's {sys_platform} wheel is CPU-only)")
    return build("unknown", "no version tag, no version.py, no CUDA or ROCm dependencies")


def _cuda_from_deps(deps: list[tuple[str, str]]) -> str | None:
    """The CUDA version from ``nvidia-cuda-runtime-cu12==12.1.105`` or ``cuda-toolkit==13.0.2``."""
    for name, text in deps:
        if name.startswith(("nvidia-cuda-runtime", "cuda-toolkit")):
            m = re.search(r"==\s*\(?\s*(\d+)\.(\d+)", text)
            if m:
                return f"{m.group(1)}.{m.group(2)}"
    for name, _ in deps:
        m = re.search(r"-cu(\d+)$", name)
        if m:
            return m.group(1)  # the major version only
    return None


def from_dist(
    dist: Dist,
    installed: Mapping[str, Dist],
    *,
    sys_platform: str,
    platform_machine: str,
    marker_ok: Callable[[str], bool] | None = None,
) -> TorchBuild:
    """Classify the installed torch distribution ``dist`` (its site-packages holds torch/)."""
    version_py: str | None
    try:
        version_py = (Path(dist.site) / "torch" / "version.py").read_text(
            encoding="utf-8", errors="replace"
        )
    except OSError:
        version_py = None
    return classify(
        dist.version,
        dist.requires,
        version_py=version_py,
        installed=installed,
        sys_platform=sys_platform,
        platform_machine=platform_machine,
        marker_ok=marker_ok,
    )
