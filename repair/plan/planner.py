"""Findings -> the smallest plan that fixes them. The plan is data: ``--dry-run`` prints it,
``--json`` carries it, and the executor runs exactly it.

- residue is removed;
- only broken or stale distributions are reinstalled (a mixed or duplicated one is purged first,
  then the right version is force-reinstalled without touching its dependencies);
- the venv is recreated only when it must be (missing, broken interpreter, unsupported Python,
  ``--clean-venv``), on the old venv's Python, with its torch build and its working set
  (``repair.rebuild``: the plan names the interpreter, a torch change and its reason, and what
  moves from which version to which);
- ``--reinstall`` reinstalls every requirement.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from repair.app.nodes import blocked, install_files, pip_left_out, plan_keep
from repair.app.target import made_by_uv
from repair.checks.preupdate import dry_run
from repair.env.dists import canonical
from repair.env.packages import find_uv
from repair.model import Finding, FindingId, Fix, Plan, Severity, Step, StepKind
from repair.options import IndexOptions, RepairOptions
from repair.rebuild.python import choose_python, old_python
from repair.rebuild.reuseplan import plan_reuse
from repair.rebuild.torch import choose_torch
from repair.rebuild.workingset import plan_working_set

if TYPE_CHECKING:
    from repair.context import Context

RECREATE_IDS = {
    FindingId.VENV_MISSING,
    FindingId.VENV_INTERPRETER_BROKEN,
    FindingId.PYTHON_UNSUPPORTED,
}


def _spec_for(ctx: Context, name: str, installed_version: str | None) -> str:
    """The requirement to reinstall ``name`` with: the application's own line when it has
    one, else the installed version exactly."""
    key = canonical(name)
    for line in ctx.app_requirements.requirements:
        req = line.requirement
        if (
            line.name == key
            and req is not None
            and not line.editable
            and ctx.marker_matches(req.marker)
        ):
            return str(req).split(";")[0].strip()
    return f"{name}=={installed_version}" if installed_version else name


def _files(ctx: Context) -> tuple[list[str], list[str]]:
    """The requirements files installed together (the application's and every custom node's or
    extension's that fits them) and the constraint files (see ``repair.app.nodes``)."""
    return install_files(ctx)


def _torch_step(
    ctx: Context, options: RepairOptions, *, force: bool, changes_only: bool = False
) -> Step | None:
    """The torch step (``repair.rebuild.torch.choose_torch``); ``changes_only``: only when the build
    changes (the old one does not fit the backend)."""
    choice = choose_torch(ctx, backend=options.backend)
    if choice is None or (changes_only and choice.keep):
        return None
    return Step(StepKind.INSTALL_TORCH, choice.summary(), choice.to_params(force))


def _install_all(
    ctx: Context,
    *,
    force: bool,
    extra: list[str] | None = None,
    changes_versions: bool = True,
    index: IndexOptions,
) -> Step:
    reqs, cons = _files(ctx)
    keep = plan_keep(ctx) if ctx.venv_exists and not force else []
    left_out = sorted(blocked(ctx))
    # What the specifiers cannot show, pip's resolver can: a node it cannot install with the rest.
    unresolvable = pip_left_out(ctx, reqs, cons, keep, index.pip_args(), dry_run)
    if unresolvable:
        paths = {s.label: str(s.path) for s in ctx.install.requirement_sources()}
        reqs = [r for r in reqs if r not in {paths.get(n) for n in unresolvable}]
    names = ", ".join(ctx.install.manifest.requirement_files)
    nodes = len(reqs) - sum(1 for r in reqs if Path(r).parent == ctx.install.dir)
    if nodes:
        names += f" and {nodes} custom node/extension file(s)"
    what = "reinstall every requirement" if force else "install the requirements"
    if extra:
        what += f" and {', '.join(extra)}"
    if keep:
        what += f", keeping {', '.join(keep)}"
    if left_out:
        what += f"; leaving out {', '.join(left_out)} (requirement-conflict)"
    if unresolvable:
        what += (
            f"; leaving out {', '.join(sorted(unresolvable))} (pip cannot install it with "
            f"the rest: {next(iter(unresolvable.values()))})"
        )
    return Step(
        StepKind.INSTALL_REQUIREMENTS,
        f"{what} ({names})",
        {
            "files": reqs,
            "constraints": cons,
            "extra": extra or [],
            "keep": keep,
            "left_out": left_out + sorted(unresolvable),
            "unresolvable": unresolvable,
            "force_reinstall": force,
            "changes_versions": changes_versions,
        },
    )


def _rebuild_steps(
    ctx: Context, findings: list[Finding], options: RepairOptions, why: str
) -> list[Step]:
    """A new venv: its Python, torch, the working set (``repair.rebuild``)."""
    manifest = ctx.install.manifest
    old_version, old_interpreter = old_python(ctx)
    python = choose_python(
        manifest, requested=options.python, old_version=old_version, old_interpreter=old_interpreter
    )
    steps = [
        Step(
            StepKind.RECREATE_VENV,
            f"recreate the venv ({why}) with Python {python.version} ({python.path}: "
            f"{python.reason})",
            {
                "reason": why,
                "python": python.path,
                "version": python.version,
                "why_python": python.reason,
                "old_version": old_version,
            },
        )
    ]
    torch = choose_torch(ctx, backend=options.backend)
    work = plan_working_set(ctx, findings, torch, fresh=options.fresh)
    reuse = plan_reuse(
        work, torch, findings, enabled=not options.no_reuse, verify_hashes=options.verify_files
    )
    if torch is not None:
        summary = torch.summary()
        if reuse.torch:
            summary += "; reused from the old venv when its files are intact"
        steps.append(Step(StepKind.INSTALL_TORCH, summary, torch.to_params()))
    reqs, cons = _files(ctx)
    names = ", ".join(manifest.requirement_files) or "no requirement files"
    if work.fresh or not work.pins:
        summary = f"install the requirements anew ({names})"
    else:
        summary = (
            f"bring back the {len(work.pins)} distributions of the old venv at their "
            f"versions: {reuse.text()}"
        )
        if work.moves:
            summary += f"; {len(work.moves)} move on purpose, then the requirements ({names})"
    steps.append(
        Step(
            StepKind.INSTALL_REQUIREMENTS,
            summary,
            {
                "files": reqs,
                "constraints": cons,
                "extra": [],
                "force_reinstall": False,
                "changes_versions": True,
                **work.to_params(),
                **reuse.to_params(),
            },
        )
    )
    return steps


def make_plan(ctx: Context, findings: list[Finding]) -> Plan:
    """The smallest plan for ``findings`` under the pipeline's options of ``ctx``
    (``RepairOptions.of``)."""
    options = RepairOptions.of(ctx.options)
    ids = {f.id for f in findings}
    steps: list[Step] = []
    unresolved: list[Finding] = []
    if ctx.install.layout == "no-venv":
        # The launcher runs the user's own Python (VENV_DIR=-, SKIP_VENV=1): the tool changes
        # no Python installation; what is wrong is said, with its remedy.
        return Plan(
            (),
            tuple(
                f
                for f in findings
                if f.severity is not Severity.INFO and f.id != FindingId.RESTART_REQUIRED
            ),
        )
    if options.reclone:
        steps.append(Step(StepKind.RECLONE, "reclone the application, keeping user data"))
    recreate_for = sorted(ids & RECREATE_IDS)
    if ctx.install.in_place and (options.clean_venv or recreate_for):
        # An embedded Python or the user's own Python: never recreated; its packages are
        # repaired in place below, the rest is said.
        unresolved += [f for f in findings if f.id in RECREATE_IDS]
        findings = [f for f in findings if f.id not in RECREATE_IDS]
        recreate_for = []
        options = replace(options, clean_venv=False)
        if not ctx.venv_exists:
            return Plan((), tuple(unresolved))
    if options.clean_venv or recreate_for:
        why = "--clean-venv" if options.clean_venv else ", ".join(recreate_for)
        steps += _rebuild_steps(ctx, findings, options, why)
        for f in findings:
            if f.id not in RECREATE_IDS | {FindingId.VENV_HOME_MOVED} and f.fix in (
                Fix.MANUAL,
                Fix.CONFIG,
            ):
                unresolved.append(f)
        return Plan(tuple(steps), tuple(unresolved))

    removes: list[str] = []
    purge: dict[str, dict[str, Any]] = {}  # name -> {"folders": [...], "tops": [...]}
    reinstall: dict[str, str] = {}  # canonical name -> requirement
    install_missing = False
    changes_versions = False
    extra: list[str] = []
    ensure_pip = False
    installed = ctx.installed if ctx.venv_exists else {}

    def want(name: str) -> None:
        key = canonical(name)
        dist = installed.get(key)
        reinstall[key] = _spec_for(ctx, name, dist.version if dist else None)

    for f in findings:
        d = f.details
        if f.id == FindingId.RESTART_REQUIRED:
            unresolved.append(f)  # no step restarts the app: the dry run says what to do
            continue
        if f.severity is Severity.INFO and f.fix is Fix.NONE:
            continue
        if f.id == FindingId.VENV_HOME_MOVED:
            # Before any other step: the venv's python must run for pip to.
            steps.insert(
                0,
                Step(
                    StepKind.RELINK_VENV,
                    f"point the venv at {d.get('python')} "
                    "(pyvenv.cfg's home and the python links; no rebuild)",
                    {"python": d.get("python"), "home": d.get("home")},
                ),
            )
        elif f.id == FindingId.STALE_RESIDUE:
            if f.fix is Fix.REMOVE and d.get("path"):
                removes.append(str(d["path"]))
            else:
                entry = purge.setdefault(canonical(f.subject), {"folders": [], "tops": []})
                entry["folders"].append(str(d.get("path")))
                want(f.subject)
        elif f.id == FindingId.DUPLICATE_DISTRIBUTION:
            entry = purge.setdefault(canonical(f.subject), {"folders": [], "tops": []})
            entry["folders"] += list(d.get("folders", []))
            entry["record_files"] = True
            want(f.subject)
        elif f.id == FindingId.RECORD_OUTSIDE_VENV:
            # Removed by the tool itself, inside the venv only, before any installer could
            # uninstall it (pip would follow the paths out of the venv), then installed again.
            if f.fix is Fix.REMOVE and d.get("path"):
                removes.append(str(d["path"]))
            else:
                entry = purge.setdefault(canonical(f.subject), {"folders": [], "tops": []})
                entry["folders"].append(str(d.get("path")))
                entry["record_files"] = True
                entry["tops"] += list(d.get("links", []))
                want(f.subject)
        elif f.id == FindingId.ORPHAN_FILES:
            if f.fix is Fix.REMOVE and d.get("path"):
                removes.append(str(d["path"]))
            else:
                dist = installed.get(canonical(f.subject))
                entry = purge.setdefault(canonical(f.subject), {"folders": [], "tops": []})
                if dist is not None:
                    entry["folders"].append(str(dist.path))
                entry["record_files"] = True
                entry["tops"] += sorted({p.split("/", 1)[0] for p in d.get("files", [])})
                want(f.subject)
        elif f.id == FindingId.MIXED_VERSION:
            entry = purge.setdefault(canonical(f.subject), {"folders": [], "tops": []})
            entry["folders"].append(str(d.get("folder")))
            entry["record_files"] = True
            entry["tops"] += list(d.get("tops", []))
            want(f.subject)
        elif f.id == FindingId.SHARED_FILES:
            # Every owner goes; only the one to keep comes back.
            for name, folder in zip(d.get("dists", []), d.get("folders", []), strict=False):
                entry = purge.setdefault(canonical(name), {"folders": [], "tops": []})
                entry["folders"].append(str(folder))
                entry["record_files"] = True
            keep = str(d.get("keep") or f.subject)
            reinstall[canonical(keep)] = _spec_for(ctx, keep, d.get("keep_version"))
        elif f.id in (FindingId.MISSING_FILE, FindingId.RECORD_MISMATCH):
            want(f.subject)
        elif f.id == FindingId.REQUIREMENT_UNMET:
            install_missing = True
            changes_versions |= d.get("installed") is not None
        elif f.id == FindingId.DEPENDENCY_CONFLICT:
            install_missing = True
            changes_versions |= d.get("installed") is not None
            if d.get("requirement"):
                extra.append(str(d["requirement"]))
        elif f.id == FindingId.PIP_MISSING:
            ensure_pip = True
        elif f.id == FindingId.TORCH_BACKEND_MISMATCH:
            torch = _torch_step(ctx, options, force=True, changes_only=True)
            if torch:
                steps.append(torch)
            else:
                unresolved.append(f)
        elif f.fix is Fix.REINSTALL and f.subject and not f.subject.startswith(("python ", "/")):
            req = d.get("requirement")
            if req:
                reinstall[canonical(f.subject)] = str(req)
            else:
                want(f.subject)
        elif f.fix is Fix.REMOVE and d.get("path"):
            removes.append(str(d["path"]))
        elif f.fix is Fix.RECLONE and options.reclone:
            continue
        elif f.severity is not Severity.INFO or f.fix is not Fix.NONE:
            unresolved.append(f)

    if ensure_pip or (install_missing or reinstall or options.reinstall) and _needs_pip_seed(ctx):
        steps.append(
            Step(
                StepKind.ENSURE_PIP,
                "install pip into the venv (ensurepip)"
                + (": it was made by uv, and uv is not here" if not ensure_pip else ""),
            )
        )
    if removes:
        shown = ", ".join(sorted({p.rsplit("/", 1)[-1] for p in removes}))
        steps.append(
            Step(StepKind.REMOVE, f"remove residue: {shown}", {"paths": sorted(set(removes))})
        )
    if purge:
        steps.append(
            Step(
                StepKind.PURGE,
                f"remove every trace of {', '.join(sorted(purge))}",
                {
                    "dists": {
                        k: {
                            "folders": sorted(set(v["folders"])),
                            "tops": sorted(set(v["tops"])),
                            "record_files": bool(v.get("record_files")),
                        }
                        for k, v in sorted(purge.items())
                    }
                },
            )
        )
    if reinstall:
        reqs = [reinstall[k] for k in sorted(reinstall)]
        _, cons = _files(ctx)
        steps.append(
            Step(
                StepKind.REINSTALL,
                f"reinstall {', '.join(reqs)} (forced, dependencies kept)",
                {"requirements": reqs, "constraints": cons},
            )
        )
    if options.reinstall:
        torch = _torch_step(ctx, options, force=False, changes_only=True)
        if torch and not any(s.kind == StepKind.INSTALL_TORCH for s in steps):
            steps.append(torch)
        steps.append(_install_all(ctx, force=True, extra=extra, index=options.index))
    elif install_missing:
        steps.append(
            _install_all(
                ctx,
                force=False,
                extra=extra,
                changes_versions=changes_versions,
                index=options.index,
            )
        )
    return Plan(tuple(steps), tuple(unresolved))


def _needs_pip_seed(ctx: Context) -> bool:
    """A venv made by uv has no pip (normal): installs use uv when it is here and asked for,
    else pip must be seeded first."""
    if not ctx.venv_exists or "pip" in ctx.installed:
        return False
    return default_installer(ctx) != "uv"


def default_installer(ctx: Context) -> str:
    """``--installer`` when given; else uv for a venv made by uv when uv is here; else pip."""
    asked = RepairOptions.of(ctx.options).installer
    if asked:
        return asked
    if made_by_uv(ctx.venv):
        if find_uv() is not None:
            return "uv"
    return "pip"
