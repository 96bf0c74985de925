"""Running one plan step on the venv (``run_step``): the removals and purges the tool does
itself, inside the venv only, and the installs it hands to pip or uv, each installer's process
group recorded in the journal before it can change anything.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from repair import fsops, proc
from repair.env.dists import load_dist
from repair.env.layout import VenvLayout
from repair.env.packages import pip_install
from repair.env.relink import relink_venv
from repair.errors import UsageError
from repair.model import StepKind
from repair.options import RepairOptions
from repair.plan.planner import default_installer
from repair.rebuild.build import install_set, install_torch
from repair.rebuild.reclone import reclone
from repair.render.report import fold
from repair.transaction.journal import Journal, inside

if TYPE_CHECKING:
    from repair.context import Context
    from repair.model import Step


def _log(journal: Journal) -> Path:
    return journal.folder / "logs" / "install.log"


def _child_recorder(journal: Journal) -> Callable[[int], None]:
    """The installer runs in its own process group, recorded before it can change anything: a
    run killed meanwhile leaves a journal that names the group for the next run to end."""

    def record(pgid: int) -> None:
        journal.set(child_pgid=pgid)

    return record


def run_step(step: Step, ctx: Context, journal: Journal) -> str:
    """Carry out one step of the plan on the venv of ``ctx``, under its pipeline options;
    returns what it did, in a few words (shown beside the step)."""
    install = ctx.install
    venv = install.venv
    reporter = ctx.reporter
    options = RepairOptions.of(ctx.options)
    python = VenvLayout.detect(venv).python
    installer = default_installer(ctx)
    p = step.params
    if step.kind == StepKind.RECREATE_VENV:
        return ""  # done before the steps (the venv had to exist first)
    if step.kind == StepKind.RECLONE:
        reclone(ctx, ref=options.ref, repo_url=options.repo_url, reporter=reporter)
        return ""
    if step.kind == StepKind.RELINK_VENV:
        done = relink_venv(ctx.venv, Path(str(step.params["python"])))
        return "; ".join(done) or "already pointed there"
    if step.kind == StepKind.ENSURE_PIP:
        proc.run(
            [python, "-m", "ensurepip", "--upgrade", "--default-pip"],
            timeout=600,
            env=proc.clean_env(venv=venv),
            check=True,
        )
        return ""
    if step.kind == StepKind.REMOVE:
        # One line for them all (the plan names each); a count on a terminal.
        names = [str(path).replace("\\", "/").rsplit("/", 1)[-1] for path in p["paths"]]
        reporter.info(f"removing {fold(names)}")
        with reporter.progress("removing", len(p["paths"])) as bar:
            for path in p["paths"]:
                target = Path(path)
                fsops.guarded_rmtree(target, venv_root=venv, protect=[install.dir])
                bar.advance()
        return f"{len(p['paths'])} removed"
    if step.kind == StepKind.PURGE:
        site = ctx.site
        count = 0
        for _name, entry in p["dists"].items():
            for folder in entry["folders"]:
                fpath = Path(folder)
                if entry.get("record_files") and fpath.is_dir():
                    dist = load_dist(fpath, site)
                    try:
                        records = dist.record
                    except Exception:  # noqa: BLE001 - an unreadable RECORD: folder only
                        records = []
                    for rec in records:
                        target = Path(os.path.normpath(site / rec.path))
                        # Only what lies inside the venv, links of the path resolved: never a
                        # file a RECORD names outside it, never through a linked folder.
                        if os.path.lexists(target) and inside(target, venv) and not target.is_dir():
                            fsops.guarded_rmtree(target, venv_root=venv, protect=[install.dir])
                            count += 1
                if os.path.lexists(fpath):
                    fsops.guarded_rmtree(fpath, venv_root=venv, protect=[install.dir])
            for top in entry.get("tops", []):
                target = site / top
                if os.path.lexists(target):
                    fsops.guarded_rmtree(target, venv_root=venv, protect=[install.dir])
        return f"{count} file(s) removed"
    index = options.index
    if step.kind == StepKind.INSTALL_TORCH:
        saved = journal.data.get("venv_backup")
        return install_torch(
            python,
            p,
            work=journal.folder / "rebuild",
            keep=planned_set(journal),
            index=index,
            log=_log(journal),
            reporter=reporter,
            installer=installer,
            old_venv=Path(saved) if saved else None,
            on_start=_child_recorder(journal),
        )
    if step.kind == StepKind.REINSTALL:
        args = ["--force-reinstall", "--no-deps", *p["requirements"]]
        for c in p.get("constraints", []):
            args += ["-c", c]
        stats = pip_install(
            python,
            args,
            log_path=_log(journal),
            reporter=reporter,
            installer=installer,
            index=index,
            label="reinstalling " + ", ".join(p["requirements"]),
            on_start=_child_recorder(journal),
        )
        return f"{len(stats.installed)} installed"
    if step.kind == StepKind.INSTALL_REQUIREMENTS and "expect" in p:
        saved = journal.data.get("venv_backup")
        torch: dict[str, Any] = next(
            (
                s.get("params", {})
                for s in journal.data.get("plan", [])
                if s.get("kind") == StepKind.INSTALL_TORCH
            ),
            {},
        )
        return install_set(
            python,
            p,
            work=journal.folder / "rebuild",
            old_venv=Path(saved) if saved else None,
            index=index,
            log=_log(journal),
            reporter=reporter,
            installer=installer,
            torch_pins=torch.get("requirements", []),
            on_start=_child_recorder(journal),
        )
    if step.kind == StepKind.INSTALL_REQUIREMENTS:
        args = []
        for f in p["files"]:
            args += ["-r", f]
        for c in p.get("constraints", []):
            args += ["-c", c]
        if p.get("keep"):
            # Protected packages stay where they are (torch, numpy's major, the app's pins).
            keep = journal.path.parent / "keep-constraints.txt"
            fsops.atomic_write(keep, "\n".join(p["keep"]) + "\n")
            args += ["-c", str(keep)]
        args += list(p.get("extra", []))
        if p.get("force_reinstall"):
            args.append("--force-reinstall")
        if not p["files"] and not p.get("extra"):
            return "no requirements"
        stats = pip_install(
            python,
            args,
            log_path=_log(journal),
            reporter=reporter,
            installer=installer,
            index=index,
            label="installing the requirements",
            on_start=_child_recorder(journal),
        )
        return f"{len(stats.installed)} installed"
    raise UsageError(f"unknown plan step {step.kind!r}")


def planned_set(journal: Journal) -> dict[str, Any] | None:
    """The working set a rebuild plans (the install-requirements step's parameters)."""
    for step in journal.data.get("plan", []):
        if step.get("kind") == StepKind.INSTALL_REQUIREMENTS and "expect" in step.get("params", {}):
            return dict(step["params"])
    return None
