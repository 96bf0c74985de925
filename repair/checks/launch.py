"""Launch arguments (COMMANDLINE_ARGS of webui-user.bat/.sh) against the machine, and model files
that can run code when loaded."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from repair.checks.registry import check, finding_type
from repair.checks.torch import effective_torch, launch_args
from repair.model import Finding, FindingId, Fix, Severity

if TYPE_CHECKING:
    from repair.context import Context

LAUNCH_ARGS = finding_type(
    FindingId.LAUNCH_ARGS,
    "Launch arguments that do not fit the machine",
    Severity.WARNING,
    Fix.CONFIG,
    restart_required=True,
)
PICKLE_MODELS = finding_type(
    FindingId.PICKLE_MODELS,
    "Model files in a format that can run code when loaded",
    Severity.INFO,
    Fix.MANUAL,
)

PICKLE_SUFFIXES = (".ckpt", ".pt")
_BACKEND_FLAGS = {
    "--use-directml": "directml",
    "--use-zluda": "zluda",
    "--use-ipex": "ipex",
    "--use-rocm": "rocm",
    "--use-cuda": "cuda",
    "--use-openvino": "openvino",
    "--use-cpu-torch": "cpu",
}


def _where(ctx: Context) -> str:
    f = ctx.install.settings_file
    return f"COMMANDLINE_ARGS in {f.name}" if f else "COMMANDLINE_ARGS"


@check(LAUNCH_ARGS)
def launch_args_check(ctx: Context) -> Iterator[Finding]:
    """COMMANDLINE_ARGS that do not fit the machine: DirectML without --no-half (half precision
    fails on many cards: "mat1 and mat2 must have the same dtype"), --skip-torch-cuda-test hiding
    a torch that cannot use the GPU, --disable-safe-unpickle (models can run code), a backend flag
    for hardware the machine does not have, --xformers without a CUDA torch."""
    args = launch_args(ctx)
    if not args:
        return
    where = _where(ctx)
    manifest = ctx.install.manifest
    torch = effective_torch(ctx)
    flags = [a.split("=", 1)[0] for a in args]
    if "--disable-safe-unpickle" in flags:
        yield LAUNCH_ARGS(
            "--disable-safe-unpickle",
            f"{where} has --disable-safe-unpickle: .ckpt/.pt files are loaded without the check "
            "that stops them from running code",
            "remove --disable-safe-unpickle and convert the models that needed it to .safetensors",
            argument="--disable-safe-unpickle",
        )
    directml = "--use-directml" in flags or "--directml" in flags or torch == "directml"
    if directml and "--no-half" not in flags:
        recommended = manifest.recommended_args("directml")
        yield LAUNCH_ARGS(
            "--no-half",
            f"DirectML is in use ({where}) without --no-half: many AMD cards fail in half "
            'precision ("mat1 and mat2 must have the same dtype", or black images)',
            "add --no-half to COMMANDLINE_ARGS"
            + (f" (recommended for DirectML: {recommended})" if recommended else ""),
            argument="--no-half",
            backend="directml",
        )
    machine = ctx.machine_backend if ctx.backend_wanted else None
    if "--skip-torch-cuda-test" in flags and torch is not None:
        gpu = machine is not None and bool(machine.accepts())
        if torch in ("cpu", "unknown") or (
            gpu and machine is not None and torch not in machine.accepts()
        ):
            on_gpu = f" on a machine with a {machine.backend} GPU" if gpu and machine else ""
            yield LAUNCH_ARGS(
                "--skip-torch-cuda-test",
                f"{where} has --skip-torch-cuda-test and the installed torch is a {torch} "
                f"build{on_gpu}: the check is skipped and everything runs on the CPU",
                "install the torch build for the GPU ('repair --reinstall --backend ...'), then "
                "remove --skip-torch-cuda-test",
                argument="--skip-torch-cuda-test",
                torch=torch,
            )
    if machine is not None and not machine.overridden and machine.vendor is not None:
        for flag, backend in _BACKEND_FLAGS.items():
            if flag not in flags or backend == "cpu":
                continue
            fits = backend in machine.accepts() or (
                backend == "openvino" and machine.vendor == "intel"
            )
            if backend == "zluda" and machine.system != "Windows":
                fits = False
            if not fits:
                yield LAUNCH_ARGS(
                    flag,
                    f"{where} has {flag}, but the machine's GPU is {machine.vendor} "
                    f"({machine.backend}, found by {machine.source})",
                    f"remove {flag}"
                    + (
                        f"; for this machine: {manifest.recommended_args(machine.backend)}"
                        if manifest.recommended_args(machine.backend)
                        else ""
                    ),
                    argument=flag,
                    machine=machine.backend,
                )
    if "--xformers" in flags and torch is not None and torch not in ("cuda",):
        yield LAUNCH_ARGS(
            "--xformers",
            f"{where} has --xformers, but xformers needs a CUDA torch and this one is {torch}",
            "remove --xformers (use --opt-sdp-attention or --opt-sub-quad-attention instead)",
            argument="--xformers",
            torch=torch,
        )


def _model_roots(ctx: Context) -> list[Path]:
    root = ctx.install.dir
    paths = [root / rel for rel in ctx.install.manifest.model_dirs]
    args = launch_args(ctx)
    for i, arg in enumerate(args):
        name, eq, value = arg.partition("=")
        if name in ("--models-dir", "--ckpt-dir", "--embeddings-dir", "--lora-dir", "--vae-dir"):
            value = value if eq else (args[i + 1] if i + 1 < len(args) else "")
            if value:
                p = Path(value).expanduser()
                paths.append(p if p.is_absolute() else root / p)
    out: list[Path] = []
    for p in paths:
        if p.is_dir() and not any(_inside(p, q) for q in out):
            out = [q for q in out if not _inside(q, p)] + [p]
    return out


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


@check(PICKLE_MODELS)
def pickle_models(ctx: Context) -> Iterator[Finding]:
    """.ckpt/.pt model files under the application's model folders: Python pickles, which can
    run code when loaded. .safetensors holds the same weights without that risk. Files the
    application's own repository tracks (A1111 ships ``models/VAE-approx/model.pt``) are its
    own, not a download: they are not reported."""
    found: list[Path] = []
    for folder in _model_roots(ctx):
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            found.extend(
                Path(dirpath) / f for f in filenames if f.lower().endswith(PICKLE_SUFFIXES)
            )
    if found:
        # lazy: start-up time
        from repair.app.gitrepo import tracked_files

        shipped = tracked_files(ctx.install.dir, found)
        found = [p for p in found if p not in shipped]
    if not found:
        return
    root = ctx.install.dir
    shown = []
    for path in sorted(found):
        try:
            shown.append(str(path.relative_to(root)))
        except ValueError:
            shown.append(str(path))
    sample = ", ".join(shown[:3]) + (f" and {len(shown) - 3} more" if len(shown) > 3 else "")
    yield PICKLE_MODELS(
        "models",
        f"{len(found)} model file(s) in pickle format (.ckpt/.pt), which can run code when "
        f"loaded: {sample}",
        "prefer .safetensors versions of these models, or convert them; load pickles only "
        "from sources you trust",
        count=len(found),
        files=shown[:100],
    )
