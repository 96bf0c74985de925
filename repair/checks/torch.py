"""The installed torch build against the machine's GPU backend (or the one asked for with
``--backend``), read from torch's metadata without importing it."""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from repair.checks.registry import check, finding_type
from repair.model import Finding, FindingId, Fix, Severity

if TYPE_CHECKING:
    from repair.context import Context

TORCH_BACKEND_MISMATCH = finding_type(
    FindingId.TORCH_BACKEND_MISMATCH,
    "The installed torch build does not fit the GPU backend",
    Severity.ERROR,
    Fix.REINSTALL,
    restart_required=True,
)


TORCH_GPU_UNSUPPORTED = finding_type(
    FindingId.TORCH_GPU_UNSUPPORTED,
    "The GPU's compute capability is not in the torch build",
    Severity.ERROR,
    Fix.MANUAL,
    restart_required=True,
)

# The first CUDA version whose torch builds carry kernels for a compute capability (torch ships
# sm_XY kernels only for the architectures its CUDA toolkit can build): Blackwell consumer
# cards (RTX 50xx, 12.0) and data-centre Blackwell (10.0) need CUDA 12.8 builds.
_MIN_CUDA = {
    (12, 0): (12, 8),
    (12, 1): (12, 9),
    (10, 0): (12, 8),
    (10, 1): (12, 8),
    (10, 3): (12, 9),
    (9, 0): (11, 8),
    (8, 9): (11, 8),
    (8, 7): (11, 4),
    (8, 6): (11, 1),
    (8, 0): (11, 0),
    (7, 5): (10, 0),
}
# CUDA 13 builds no longer carry kernels for Maxwell, Pascal and Volta (below 7.5).
_CUDA13_MIN_CC = (7, 5)


def gpu_unsupported(cc: str, cuda: str) -> tuple[str, str] | None:
    """Why a CUDA ``cuda`` build of torch has no kernels for compute capability ``cc``, and the
    CUDA version to install instead; None when it has them (or nothing is known)."""
    have, build = _version_tuple(cc), _version_tuple(cuda)
    if not have or not build or len(have) < 2:
        return None
    need = _MIN_CUDA.get((have[0], have[1]))
    if need is not None and build < need:
        return (
            f"compute capability {cc} (sm_{have[0]}{have[1]}) needs a CUDA "
            f"{need[0]}.{need[1]} build or newer",
            f"{need[0]}.{need[1]}",
        )
    if build >= (13, 0) and have < _CUDA13_MIN_CC:
        return (
            f"CUDA 13 builds dropped compute capability {cc} (sm_{have[0]}{have[1]}); "
            "the newest build for it is CUDA 12.6",
            "12.6",
        )
    return None


def launch_args(ctx: Context) -> list[str]:
    """COMMANDLINE_ARGS of webui-user.bat/.sh, split as the shell would."""
    text = ctx.install.launch_args
    try:
        return shlex.split(text, posix=True)
    except ValueError:
        return text.split()


def effective_torch(ctx: Context) -> str | None:
    """The torch build as the app will use it: a CUDA build run through ZLUDA counts as zluda,
    a CPU build with OpenVINO installed as openvino."""
    build = ctx.torch_build
    if build is None:
        return None
    args = launch_args(ctx)
    if build.kind == "cuda" and ((ctx.install.dir / ".zluda").is_dir() or "--use-zluda" in args):
        return "zluda"
    if (
        build.kind == "cpu"
        and "openvino" in ctx.installed
        and ("--use-openvino" in args or ctx.options.backend == "openvino")
    ):
        return "openvino"
    return build.kind


def torch_command(ctx: Context, backend: str) -> str | None:
    """The manifest's install command for torch on ``backend``, or None when it has none."""
    spec = ctx.install.manifest.torch_for(backend)
    if not spec:
        return None
    from repair.app.requirements import shell_arg  # lazy: only a finding's remedy needs it

    packages = " ".join(shell_arg(p) for p in spec.get("packages", []))
    cmd = f"{shell_arg(str(ctx.layout.python))} -m pip install --force-reinstall {packages}"
    if spec.get("index_url"):
        cmd += f" --index-url {spec['index_url']}"
    if spec.get("extra_index_url"):
        cmd += f" --extra-index-url {spec['extra_index_url']}"
    return cmd


def _version_tuple(text: str | None) -> tuple[int, ...] | None:
    if not text:
        return None
    try:
        return tuple(int(x) for x in text.split(".")[:2])
    except ValueError:
        return None


@check(TORCH_BACKEND_MISMATCH)
def torch_backend_mismatch(ctx: Context) -> Iterator[Finding]:
    """The torch build (CUDA, ROCm, DirectML, XPU, CPU, ...) does not fit the machine's GPU or
    the backend asked for with --backend: the web UI says "Torch is not able to use GPU", or runs
    everything on the CPU when --skip-torch-cuda-test hides that. Also a CUDA build newer than
    the NVIDIA driver supports."""
    build = ctx.torch_build
    if build is None or build.kind == "unknown":
        return
    machine = ctx.machine_backend
    kind = effective_torch(ctx) or build.kind
    accepts = machine.accepts()
    manifest = ctx.install.manifest
    where = "asked for with --backend" if machine.overridden else f"found by {machine.source}"
    devices = f" ({', '.join(machine.devices)})" if machine.devices else ""
    hidden = "--skip-torch-cuda-test" in launch_args(ctx)
    details: dict[str, Any] = {
        "torch": build.to_json(),
        "machine": machine.backend,
        "source": machine.source,
    }
    if accepts and kind not in accepts:
        wanted = machine.backend if machine.backend in accepts else accepts[0]
        command = torch_command(ctx, wanted)
        if command:
            remedy = f"run 'repair --reinstall --backend {wanted}', or: {command}"
        elif manifest.torch_backends:
            remedy = (
                f"{manifest.title} has no torch for {wanted} in its manifest "
                f"(it has: {', '.join(manifest.torch_backends)}); install a {wanted} "
                "build of torch by hand, or pass --backend for the one you mean to use"
            )
        else:
            remedy = f"install a {wanted} build of torch ('repair --reinstall --backend {wanted}')"
        message = (
            f"torch {build.version} is a {kind} build ({build.evidence}), but the "
            f"backend is {machine.backend}{devices}, {where}"
        )
        if hidden:
            message += "; --skip-torch-cuda-test in COMMANDLINE_ARGS hides this"
            details["hidden_by"] = "--skip-torch-cuda-test"
        yield TORCH_BACKEND_MISMATCH("torch", message, remedy, wanted=wanted, **details)
        return
    if kind == "cuda" and machine.vendor == "nvidia" and machine.cuda and build.cuda:
        have, need = _version_tuple(machine.cuda), _version_tuple(build.cuda)
        if have and need and need[0] > have[0]:
            yield TORCH_BACKEND_MISMATCH(
                "torch",
                f"torch {build.version} is built for CUDA {build.cuda}, but the NVIDIA driver "
                f"{machine.driver or ''} supports CUDA up to {machine.cuda}".replace("  ", " "),
                f"update the NVIDIA driver, or install a torch built for CUDA {machine.cuda} or "
                "older",
                fix=Fix.MANUAL,
                driver=machine.driver,
                driver_cuda=machine.cuda,
                **details,
            )


@check(TORCH_GPU_UNSUPPORTED)
def torch_gpu_unsupported(ctx: Context) -> Iterator[Finding]:
    """The NVIDIA GPU's compute capability (``nvidia-smi --query-gpu=compute_cap``) is not in
    the CUDA build of torch: an RTX 50xx (12.0, sm_120) on a CUDA 12.6 or older build fails
    with "no kernel image is available for execution on the device", and CUDA 13 builds no
    longer run on GPUs older than Turing. The finding names the CUDA build to install."""
    build = ctx.torch_build
    if build is None or build.kind != "cuda" or not build.cuda or not ctx.backend_wanted:
        return
    machine = ctx.machine_backend
    if machine.vendor != "nvidia" or not machine.compute_caps:
        return
    for n, cc in enumerate(machine.compute_caps):
        why = gpu_unsupported(cc, build.cuda)
        if why is None:
            continue
        reason, cuda = why
        device = machine.devices[n] if n < len(machine.devices) else f"GPU {n}"
        tag = "cu" + cuda.replace(".", "")
        yield TORCH_GPU_UNSUPPORTED(
            "torch",
            f"torch {build.version} is a CUDA {build.cuda} build, but the {device}'s {reason}",
            f"install a torch built for CUDA {cuda} or newer, with its matching torchvision: "
            f"{ctx.layout.python} -m pip install --force-reinstall torch torchvision "
            f"--index-url https://download.pytorch.org/whl/{tag}",
            device=device,
            compute_cap=cc,
            torch_cuda=build.cuda,
            needs_cuda=cuda,
        )
        return


def describe_backend(ctx: Context, target: dict[str, Any]) -> None:
    """``target.backend``: the machine's backend and the torch build (only probed when needed)."""
    backend: dict[str, Any] = dict(target.get("backend") or {})
    if ctx.backend_wanted:
        machine = ctx.machine_backend
        backend["machine"] = machine.backend
        backend["machine_source"] = machine.source
        if machine.devices:
            backend["devices"] = list(machine.devices)
        if machine.driver:
            backend["driver"] = machine.driver
        if machine.cuda:
            backend["driver_cuda"] = machine.cuda
        if machine.compute_caps:
            backend["compute_caps"] = list(machine.compute_caps)
    build = ctx.torch_build if ctx.venv_exists else None
    if build is not None:
        backend["torch"] = effective_torch(ctx)
        backend["torch_version"] = build.version
    deep = ctx.deep
    if deep is not None and deep.torch:
        backend["torch_sees"] = deep.torch
    target["backend"] = backend
