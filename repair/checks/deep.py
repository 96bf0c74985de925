"""``check --deep``: import the key modules in the venv's own python, in one subprocess with a
timeout, and ask torch what device it sees. A module that fails to import becomes
``import-failure``, with the cause matched against the error-signature catalogue when it knows
the message."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from repair.checks.registry import check, finding_type
from repair.checks.site import MIXED_VERSION
from repair.model import Finding, FindingId, Fix, Severity

if TYPE_CHECKING:
    from repair.context import Context

IMPORT_FAILURE = finding_type(
    FindingId.IMPORT_FAILURE,
    "A key module fails to import",
    Severity.ERROR,
    Fix.REINSTALL,
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
    "cv2": (
        "opencv-python",
        "opencv-python-headless",
        "opencv-contrib-python",
        "opencv-contrib-python-headless",
    ),
    "transformers": ("transformers",),
    "diffusers": ("diffusers",),
}
DEEP_TIMEOUT = 300.0
_EXC_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Warning)\b.*")
_ADDR = re.compile(r"0x[0-9a-fA-F]+")
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
        out["modules"][name] = {"ok": True, "version": str(getattr(mod, "__version__", "") or ""),
                                "file": str(getattr(mod, "__file__", "") or "")}
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
    # lazy: start-up time
    from repair.env.dists import canonical

    for module in ctx.install.manifest.deep_modules:
        if module in names:
            continue
        top = module.split(".")[0]
        if (
            canonical(top) in installed
            or (ctx.site / top).exists()
            or (ctx.site / f"{top}.py").exists()
        ):
            names.append(module)
    # lazy: start-up time
    from repair.app.nodes import node_modules

    names += [m for m in node_modules(ctx) if m not in names]  # what custom nodes import
    return names


def run_probe(ctx: Context, modules: list[str], timeout: float = DEEP_TIMEOUT) -> DeepResult:
    # lazy: start-up time
    from repair import proc
    from repair.errors import ProcessError

    python = ctx.layout.python
    env = proc.clean_env(venv=ctx.venv)
    env["PYTHONNOUSERSITE"] = "1"
    try:
        result = proc.run(
            [python, "-I", "-c", PROBE, json.dumps(modules)],
            timeout=timeout,
            env=env,
            cwd=ctx.install.dir,
        )
    except ProcessError as exc:
        raise DeepError(str(exc)) from exc
    for line in reversed(result.stdout.splitlines()):
        if line.startswith(_MARK):
            try:
                data = json.loads(line[len(_MARK) :])
            except ValueError:
                break
            return DeepResult(data.get("modules", {}), data.get("torch"))
    tail = (result.stderr or result.stdout).strip().splitlines()
    raise DeepError(
        f"the import probe exited with code {result.returncode}" + (f": {tail[-1]}" if tail else "")
    )


def _signature(text: str) -> dict[str, Any] | None:
    """The first signature of the catalogue that matches ``text``, as JSON (None when none)."""
    # lazy: start-up time
    from repair.diagnose.scan import match_text

    try:
        matches = match_text(text)
    except Exception:  # noqa: BLE001 - a catalogue problem must not hide the import failure
        return None
    for m in matches or ():
        data = m.to_json() if hasattr(m, "to_json") else m
        if isinstance(data, dict) and data.get("id"):
            return {
                k: data.get(k)
                for k in ("id", "family", "cause", "remedy", "rebuild_helps", "restart_needed")
            }
    return None


@check(IMPORT_FAILURE, MIXED_VERSION, option="deep")
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
        result = run_probe(ctx, modules, float(ctx.options.deep_timeout or DEEP_TIMEOUT))
    except DeepError as exc:
        yield IMPORT_FAILURE(
            ", ".join(modules),
            f"the import probe did not finish: {exc}",
            "run the web UI once to see the error, or 'repair diagnose' on its log",
            modules=modules,
        )
        return
    ctx.deep = result
    yield from _loaded_versions(ctx, result)
    groups: dict[str, list[str]] = {}
    for name in modules:
        info = result.modules.get(name) or {}
        if not info.get("ok", False):
            groups.setdefault(first_cause(info), []).append(name)
    # lazy: start-up time
    from repair.app.nodes import node_modules

    needs = node_modules(ctx)
    for cause, names in groups.items():
        yield _failure(names, cause, result, needs)


def first_cause(info: dict[str, Any]) -> str:
    """The exception an import failure started with: in a chained traceback the first one
    printed ("During handling of the above exception..."), with addresses and line numbers
    left out so that one cause reads the same from every module it breaks."""
    text = str(info.get("traceback") or "")
    for line in text.splitlines():
        if _EXC_LINE.match(line):
            return _ADDR.sub("0x?", line.strip())
    return f"{info.get('type', 'Error')}: {info.get('message', '')}".strip()


def _failure(
    names: list[str], cause: str, result: DeepResult, needs: dict[str, list[str]]
) -> Finding:
    """One finding for the modules that fail from one first cause; its subject is the module
    the cause names (numpy, for cv2, torch and transformers failing on numpy), else the first."""
    subject = next((n for n in names if re.search(rf"\b{re.escape(n)}\b", cause)), names[0])
    info = result.modules.get(subject) or result.modules.get(names[0]) or {}
    text = f"{info.get('traceback', '')}\n{info.get('type', '')}: {info.get('message', '')}"
    signature = _signature(text)
    error = f"{info.get('type', 'Error')}: {info.get('message', '')}".strip()
    remedy = (signature or {}).get("remedy") or (
        "run 'repair' (it reinstalls the package and what it needs); if it persists, "
        "run 'repair --clean-venv'"
    )
    details: dict[str, Any] = {
        "module": subject,
        "error_type": info.get("type"),
        "error": info.get("message"),
        "last_line": info.get("last"),
        "first_cause": cause,
        "modules": names,
    }
    if signature:
        details["signature"] = signature
    message = f"import {subject} fails: {error.splitlines()[0][:300] if error else 'unknown'}"
    others = [n for n in names if n != subject]
    if others:
        message += f"; {', '.join(others)} fail(s) from the same first cause"
    needed_by = sorted({node for n in names for node in needs.get(n, [])})
    if needed_by:
        details["requested_by"] = needed_by
        message += f" (needed by {', '.join(needed_by)})"
    if signature and signature.get("cause"):
        message += f" ({signature['cause']})"
    return IMPORT_FAILURE(subject, message, str(remedy), **details)


def _same_release(loaded: str, declared: str) -> bool:
    """Whether a module's ``__version__`` is the distribution's version: equal releases, one a
    prefix of the other (cv2 says 4.11.0 for opencv-python 4.11.0.86), local tags aside."""
    # lazy: start-up time
    from packaging.version import InvalidVersion, Version

    try:
        a, b = Version(loaded), Version(declared)
    except InvalidVersion:
        return loaded.split("+")[0] == declared.split("+")[0]
    n = min(len(a.release), len(b.release))
    return a.release[:n] == b.release[:n] and a.pre == b.pre


def _loaded_versions(ctx: Context, result: DeepResult) -> Iterator[Finding]:
    """What Python loaded against what the metadata says: a module whose ``__version__`` is not
    its distribution's version, or that was loaded from outside the venv's site-packages."""

    installed = ctx.installed
    site = os.path.realpath(ctx.site)
    for module, dists in DEFAULT_MODULES.items():
        info = result.modules.get(module) or {}
        if not info.get("ok"):
            continue
        dist = next((installed[d] for d in dists if d in installed), None)
        if dist is None:
            continue
        loaded, where = str(info.get("version") or ""), str(info.get("file") or "")
        outside = bool(where) and not os.path.realpath(where).startswith(site + os.sep)
        if loaded and dist.version and not _same_release(loaded, dist.version):
            message = (
                f"import {module} loads version {loaded}, but the installed metadata says "
                f"{dist.name} {dist.version}"
            )
        elif outside:
            message = (
                f"import {module} loads {where}, outside the venv's site-packages, not "
                f"the installed {dist.name} {dist.version}"
            )
        else:
            continue
        yield MIXED_VERSION(
            dist.name,
            message,
            f"run 'repair' to reinstall {dist.name} cleanly; if the module comes from outside "
            "the venv, remove what puts it on the path (PYTHONPATH, a .pth file, user site)",
            loaded=loaded,
            file=where,
            version=dist.version,
            folder=str(dist.path),
            tops=[],
            files=[],
            count=0,
            unlisted=0,
            size_differs=0,
        )
