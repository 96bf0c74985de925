"""``check --deep``: import the key modules in the venv's own python, in one subprocess with a
timeout, and ask torch what device it sees. A module that fails to import becomes
``import-failure``, with the cause matched against the error-signature catalogue when it knows
the message."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from repair.checks.registry import check, finding_type
from repair.model import Finding, Fix, Severity

if TYPE_CHECKING:
    from repair.context import Context

IMPORT_FAILURE = finding_type(
    "import-failure", "A key module fails to import", Severity.ERROR, Fix.REINSTALL,
    restart_required=True,
)

# module -> distributions that provide it (any of them installed means "try it").
DEFAULT_MODULES: dict[str, tuple[str, ...]] = {
    "numpy": ("numpy",),
    "torch": ("torch",),
    "torchvision": ("torchvision",),
    "xformers": ("xformers",),
    "bitsandbytes": ("bitsandbytes",),
    "accelerate": ("accelerate",),
    "cv2": ("opencv-python", "opencv-python-headless", "opencv-contrib-python",
            "opencv-contrib-python-headless"),
    "transformers": ("transformers",),
    "diffusers": ("diffusers",),
}
DEEP_TIMEOUT = 300.0
_MARK = "@@webui-repair-deep@@"

PROBE = r"""
import importlib, json, sys, time, traceback
mods = json.loads(sys.argv[1])
out = {"modules": {}, "torch": None}

def failure(exc):
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    lines = [l for l in text.strip().splitlines() if l.strip()]
    return {"ok": False, "type": type(exc).__name__, "message": str(exc)[:2000],
            "last": lines[-1] if lines else "", "traceback": text[-6000:]}

for name in mods:
    t = time.perf_counter()
    try:
        mod = importlib.import_module(name)
        out["modules"][name] = {"ok": True, "version": str(getattr(mod, "__version__", "") or "")}
        if name == "torchvision":
            import torchvision.ops
            import torch
            torch.ops.torchvision.nms
    except BaseException as exc:
        out["modules"][name] = failure(exc)
        if isinstance(exc, KeyboardInterrupt):
            break
    out["modules"][name]["seconds"] = round(time.perf_counter() - t, 3)

torch = sys.modules.get("torch")
if torch is not None and out["modules"].get("torch", {}).get("ok"):
    info = {"version": str(torch.__version__), "cuda": getattr(torch.version, "cuda", None),
            "hip": getattr(torch.version, "hip", None)}
    try:
        info["cuda_available"] = bool(torch.cuda.is_available())
        if info["cuda_available"]:
            info["device_count"] = torch.cuda.device_count()
            info["device_name"] = torch.cuda.get_device_name(0)
    except BaseException as exc:
        info["cuda_error"] = "%s: %s" % (type(exc).__name__, exc)
    try:
        mps = getattr(torch.backends, "mps", None)
        info["mps_available"] = bool(mps is not None and mps.is_available())
    except BaseException:
        info["mps_available"] = False
    try:
        xpu = getattr(torch, "xpu", None)
        info["xpu_available"] = bool(xpu is not None and xpu.is_available())
    except BaseException:
        info["xpu_available"] = False
    try:
        import importlib.util
        if importlib.util.find_spec("torch_directml") is not None:
            import torch_directml
            info["directml"] = {"available": bool(torch_directml.is_available()),
                                "device_name": torch_directml.device_name(0)}
    except BaseException as exc:
        info["directml"] = {"available": False, "error": "%s: %s" % (type(exc).__name__, exc)}
    out["torch"] = info
sys.stdout.flush()
print("\n" + MARK + json.dumps(out))
""".replace("MARK", repr(_MARK))


@dataclass(frozen=True)
class DeepResult:
    modules: dict[str, dict[str, Any]]
    torch: dict[str, Any] | None


class DeepError(Exception):
    pass


def modules_to_probe(ctx: Context) -> list[str]:
    """The default key modules that are installed, then the manifest's own ``deep.modules``."""
    installed = ctx.installed
    names = [m for m, dists in DEFAULT_MODULES.items() if any(d in installed for d in dists)]
    from repair.dists import canonical

    for module in ctx.install.manifest.deep_modules:
        if module in names:
            continue
        top = module.split(".")[0]
        if canonical(top) in installed or (ctx.site / top).exists() or (
                ctx.site / f"{top}.py").exists():
            names.append(module)
    from repair.nodes import node_modules

    names += [m for m in node_modules(ctx) if m not in names]  # what custom nodes import
    return names


def run_probe(ctx: Context, modules: list[str], timeout: float = DEEP_TIMEOUT) -> DeepResult:
    from repair import proc
    from repair.errors import ProcessError

    python = ctx.layout.python
    env = proc.clean_env(venv=ctx.venv)
    env["PYTHONNOUSERSITE"] = "1"
    try:
        result = proc.run([python, "-I", "-c", PROBE, json.dumps(modules)], timeout=timeout,
                          env=env, cwd=ctx.install.dir)
    except ProcessError as exc:
        raise DeepError(str(exc)) from exc
    for line in reversed(result.stdout.splitlines()):
        if line.startswith(_MARK):
            try:
                data = json.loads(line[len(_MARK):])
            except ValueError:
                break
            return DeepResult(data.get("modules", {}), data.get("torch"))
    tail = (result.stderr or result.stdout).strip().splitlines()
    raise DeepError(f"the import probe exited with code {result.returncode}"
                    + (f": {tail[-1]}" if tail else ""))


def _signature(text: str) -> dict[str, Any] | None:
    """The first signature of the catalogue that matches ``text``, as JSON (None when none)."""
    from repair.diagnose import match_text

    try:
        matches = match_text(text)
    except Exception:  # noqa: BLE001 - a catalogue problem must not hide the import failure
        return None
    for m in matches or ():
        data = m.to_json() if hasattr(m, "to_json") else m
        if isinstance(data, dict) and data.get("id"):
            return {k: data.get(k) for k in ("id", "family", "cause", "remedy", "rebuild_helps",
                                             "restart_needed")}
    return None


@check(IMPORT_FAILURE, option="deep")
def import_failure(ctx: Context) -> Iterator[Finding]:
    """With --deep: a key module (numpy, torch, torchvision ops, xformers, bitsandbytes,
    accelerate, cv2, transformers, diffusers, and the manifest's own) fails to import in the
    venv's python. The matched error signature says why."""
    if not ctx.venv_exists or ctx.interp is None:
        return  # venv-missing / venv-interpreter-broken say why; nothing can be imported
    modules = modules_to_probe(ctx)
    if not modules:
        return
    ctx.reporter.step(f"importing {len(modules)} module(s) in the venv's python")
    try:
        result = run_probe(ctx, modules, float(ctx.options.get("deep_timeout") or DEEP_TIMEOUT))
    except DeepError as exc:
        yield IMPORT_FAILURE(
            ", ".join(modules),
            f"the import probe did not finish: {exc}",
            "run the web UI once to see the error, or 'repair diagnose' on its log",
            modules=modules,
        )
        return
    ctx.facts["deep"] = result
    for name in modules:
        info = result.modules.get(name) or {}
        if info.get("ok", False):
            continue
        text = f"{info.get('traceback', '')}\n{info.get('type', '')}: {info.get('message', '')}"
        signature = _signature(text)
        error = f"{info.get('type', 'Error')}: {info.get('message', '')}".strip()
        remedy = (signature or {}).get("remedy") or (
            "run 'repair' (it reinstalls the package and what it needs); if it persists, "
            "run 'repair --clean-venv'")
        details: dict[str, Any] = {"module": name, "error_type": info.get("type"),
                                   "error": info.get("message"), "last_line": info.get("last")}
        if signature:
            details["signature"] = signature
        from repair.nodes import node_modules

        needed_by = node_modules(ctx).get(name, [])
        if needed_by:
            details["requested_by"] = needed_by
        message = f"import {name} fails: {error.splitlines()[0][:300] if error else 'unknown'}"
        if needed_by:
            message += f" (needed by {', '.join(needed_by)})"
        if signature and signature.get("cause"):
            message += f" ({signature['cause']})"
        yield IMPORT_FAILURE(name, message, str(remedy), **details)
