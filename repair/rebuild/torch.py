"""The torch build a new venv gets (``choose_torch``): kept as it is (same version, same local
tag, from the index that serves that build) unless it does not fit the backend (the machine's,
as ``check`` detects it, or ``--backend``); then the manifest's packages for the backend, as a
plan step that says why. ``Manifest.torch_for`` is the one reader of the manifest's torch table;
``torch_index`` the package sources of the torch step.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from repair.checks.torch import effective_torch
from repair.env.dists import canonical
from repair.env.torchbuild import TORCH_FAMILY
from repair.errors import UsageError
from repair.index.client import _local_folder as index_local_folder

if TYPE_CHECKING:
    from repair.app.manifest import Manifest
    from repair.context import Context
    from repair.options import IndexOptions

# Distributions that belong to one torch build (its CUDA/ROCm libraries): they move with it.
BUILD_PARTS = re.compile(r"^(nvidia-.*|triton|pytorch-triton.*|cuda-.*)$")
PYTORCH_INDEX = "https://download.pytorch.org/whl/"
_TAG = re.compile(r"^(cu\d+|rocm[\d.]+|cpu|xpu)$")


@dataclass(frozen=True)
class TorchChoice:
    backend: str | None
    packages: tuple[str, ...]
    index_url: str | None  # None: the user's own package index
    extra_index_url: str | None = None
    keep: bool = True  # the old venv's build, unchanged
    reason: str = ""
    was: str | None = None  # the old build, described
    drop: tuple[str, ...] = ()  # old distributions that belong to the old build

    def summary(self) -> str:
        where = self.index_url or self.extra_index_url or "the package index"
        what = ", ".join(self.packages)
        if self.keep:
            return f"install {what} (the same torch build) from {where}"
        return f"install {what} for {self.backend} from {where}: {self.reason}"

    def to_params(self, force: bool = False) -> dict[str, Any]:
        return {
            "requirements": list(self.packages),
            "index_url": self.index_url,
            "extra_index_url": self.extra_index_url,
            "backend": self.backend,
            "keep": self.keep,
            "reason": self.reason,
            "was": self.was,
            "drop": list(self.drop),
            "force_reinstall": force,
        }


def manifest_torch(manifest: Manifest, backend: str | None) -> dict[str, Any] | None:
    """``{"packages", "index_url", "extra_index_url"}`` of the manifest for ``backend``; None
    when the manifest has no torch table at all (or no backend is known)."""
    if backend is None or not manifest.torch_backends and not manifest.get("torch"):
        return None
    spec = manifest.torch_for(backend)
    if spec is None:
        known = ", ".join(manifest.torch_backends)
        raise UsageError(
            f"the manifest {manifest.name!r} has no torch for the backend "
            f"{backend!r} (it knows: {known})",
            hint="choose one of those with --backend",
        )
    return {
        "packages": [str(p) for p in spec.get("packages", [])],
        "index_url": spec.get("index_url"),
        "extra_index_url": spec.get("extra_index_url"),
    }


def from_manifest(
    manifest: Manifest,
    backend: str | None,
    *,
    reason: str,
    was: str | None = None,
    drop: Iterable[str] = (),
) -> TorchChoice | None:
    spec = manifest_torch(manifest, backend)
    if spec is None or not spec["packages"]:
        return None
    return TorchChoice(
        backend,
        tuple(spec["packages"]),
        spec["index_url"],
        spec["extra_index_url"],
        keep=False,
        reason=reason,
        was=was,
        drop=tuple(drop),
    )


def index_for_build(manifest: Manifest, kind: str, tag: str) -> str:
    """The index that serves torch builds tagged ``+tag``: the manifest's index for the build's
    backend when its URL names that tag or no tag at all (a mirror), else any of the manifest's
    indexes named for the tag, else PyTorch's own index for it."""

    def last(url: str) -> str:
        return url.rstrip("/").rsplit("/", 1)[-1]

    own = (manifest.torch_for(kind) or {}).get("index_url")
    if own and (last(str(own)) == tag or not _TAG.match(last(str(own)))):
        return str(own)
    for backend in manifest.torch_backends:
        url = (manifest.torch_for(backend) or {}).get("index_url")
        if url and last(str(url)) == tag:
            return str(url)
    return PYTORCH_INDEX + tag


def choose_torch(ctx: Context, *, backend: str | None = None) -> TorchChoice | None:
    """The torch a rebuild of ``ctx``'s venv installs. ``backend``: ``--backend`` (None or
    "auto": the machine's, as ``check`` detects it)."""
    manifest = ctx.install.manifest
    if backend == "auto":
        backend = None
    installed = ctx.installed if ctx.venv_exists else {}
    torch = installed.get("torch")
    build = ctx.torch_build if torch is not None else None
    machine = ctx.machine_backend
    explicit = backend is not None  # --backend: a manifest without it is an error

    def manifest_choice(wanted: str, **kw: Any) -> TorchChoice | None:
        try:
            return from_manifest(manifest, wanted, **kw)
        except UsageError:
            if explicit:
                raise
            return None  # the manifest has no torch for the machine: the old one stays

    if torch is None or build is None:
        return manifest_choice(
            backend or machine.backend,
            reason="the old venv has no torch" if ctx.venv_exists else "there is no old venv",
        )
    kind = effective_torch(ctx) or build.kind
    family = [installed[n] for n in TORCH_FAMILY if n in installed]
    parts = sorted(
        d.name
        for d in installed.values()
        if BUILD_PARTS.match(d.key) and d.key in {canonical(req_name(r)) for r in torch.requires}
    )
    was = f"torch {torch.version} ({build.kind} build, {build.evidence})"
    accepts = machine.accepts()
    where = "asked for with --backend" if machine.overridden else f"found by {machine.source}"
    if build.kind == "unknown":
        choice = manifest_choice(
            backend or machine.backend,
            was=was,
            drop=parts,
            reason=f"the build of {was} is not known",
        )
        if choice is not None:
            return choice
    elif accepts and kind not in accepts:
        wanted = machine.backend if machine.backend in accepts else accepts[0]
        choice = manifest_choice(
            wanted,
            was=was,
            drop=parts,
            reason=f"{was} does not fit the backend {machine.backend}, {where}",
        )
        if choice is not None:
            return choice
    elif (
        kind == "cuda"
        and machine.vendor == "nvidia"
        and _major(build.cuda) > _major(machine.cuda) > 0
    ):
        choice = manifest_choice(
            "cuda",
            was=was,
            drop=parts,
            reason=f"{was} needs CUDA {build.cuda}; the NVIDIA driver "
            f"{machine.driver or ''} supports CUDA up to {machine.cuda}",
        )
        if choice is not None and choice.packages != tuple(
            f"{d.name}=={d.version}" for d in family
        ):
            return choice
    # Keep the build: the same versions (local tags included) from the index that serves them.
    tag = torch.version.partition("+")[2]
    index = index_for_build(manifest, build.kind, tag) if tag else None
    pins = tuple(f"{d.name}=={d.version}" for d in family)
    return TorchChoice(
        build.kind if build.kind != "unknown" else machine.backend,
        pins,
        index,
        None,
        keep=True,
        reason=f"keeps {was}",
        was=was,
    )


def _major(version: str | None) -> int:
    m = re.match(r"\d+", version or "")
    return int(m.group(0)) if m else 0


def req_name(text: str) -> str:
    """The name a requirement line starts with (no parsing: URLs and markers may follow)."""
    return re.split(r"[\s\[(<>=!~;@]", text.strip(), maxsplit=1)[0]


def torch_index(choice: TorchChoice, user: IndexOptions) -> IndexOptions:
    """The package sources of the torch step: the user's own (torch's dependencies come from
    there) and the build's index as an extra one, listed first (uv asks extra indexes first and
    takes a package from the first index that has it; pip takes the best match of all)."""
    extras = [u for u in (choice.index_url, choice.extra_index_url) if u]
    if not extras:
        return user
    folders = [str(f) for f in map(local_folder, extras) if f is not None]
    urls = [u for u in extras if local_folder(u) is None]
    return replace(
        user,
        find_links=(*user.find_links, *folders),
        extra_index_urls=tuple(dict.fromkeys([*urls, *user.extra_index_urls])),
    )


def local_folder(url: str | None) -> Path | None:
    """A ``file:`` URL or a path naming a local folder of wheels (passed as ``--find-links``;
    a folder with an index.html is an index)."""
    if not url:
        return None
    path = index_local_folder(url)
    return (
        path if path is not None and path.is_dir() and not (path / "index.html").exists() else None
    )
