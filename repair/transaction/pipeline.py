"""The repair pipeline: check -> plan -> lock -> back up -> journal -> execute -> verify ->
commit, or roll back.

The old venv is always moved aside into the backup by a rename (instant). A plan that recreates
the venv builds a new one in its place; any other plan works on a hard-link clone of the old one
(installers replace files, they never edit them, so the backup never changes). Rolling back is
deleting what is at the venv path (through the guarded delete) and renaming the backup back.

Every transition is written to ``journal.json`` in the backup folder before it happens; a run
that finds an unfinished journal (the process was killed) rolls it back, or finishes it when it
had already been verified.

Test hook (README, "Test hooks"): ``WEBUI_REPAIR_TEST_CRASH_AT=<point>`` makes the process exit
at once (``os._exit``) at that point; the points are listed in ``CRASH_POINTS`` (``step:<kind>``
and ``after:<kind>`` around each plan step).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from repair import fsops
from repair.backup.store import (
    BackupInfo,
    create_backup,
    install_lock,
    list_backups,
    venv_belongs,
    write_meta,
)
from repair.errors import (
    BusyError,
    ExitCode,
    PreflightError,
    RepairError,
    RollbackFailedError,
    UsageError,
)
from repair.model import Finding, Plan, Report, Severity, Step, StepResult
from repair.plan.planner import make_plan
from repair.progress import Reporter
from repair.transaction.journal import (
    CRASH_ENV,
    Journal,
    JournalError,
    crash_point,
    end_child,
    fingerprint,
    inside,
    made_by,
    mark,
    new_token,
)
from repair.transaction.journal import same_folder as _same_folder

if TYPE_CHECKING:
    from repair.app.target import Install
    from repair.context import Context

CRASH_ENV = CRASH_ENV
CRASH_POINTS = ("journal", "moved", "venv-ready", "verify", "verified", "committed",
                "rollback:start", "rollback:cleared", "rollback:renamed")
JOURNAL = "journal.json"
FINAL_STATES = {"committed", "rolled-back"}
_crash_point = crash_point


@dataclass
class PipelineResult:
    report: Report
    exit_code: int
    plan: Plan
    steps: list[StepResult] = field(default_factory=list)
    backup: BackupInfo | None = None
    error: str | None = None
    recovered: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# The journal (``transaction.journal``): what a run does, and how the next run finishes or undoes it


def load_journal(folder: Path) -> Journal | None:
    return Journal.load(folder / JOURNAL)


def journal_unfinished(folder: Path) -> bool:
    try:
        journal = load_journal(folder)
    except JournalError:
        return True  # unreadable: kept, never pruned
    return journal is not None and journal.state not in FINAL_STATES


def _saved_venv(journal: Journal, install: Install) -> Path | None:
    """Where the journal says the old venv was moved: only a place this tool puts backups."""
    value = journal.data.get("venv_backup")
    if not value:
        return None
    path = Path(os.path.abspath(str(value)))
    if not venv_belongs(install, journal.folder, path):
        raise JournalError(f"{journal.path} names {value} as the backup of the venv, which is "
                           "not a backup folder of this install",
                           hint=f"remove {journal.path} if nothing is left to recover")
    return path


def _ours(journal: Journal, venv: Path) -> bool:
    """Is what is at the venv path the venv this run began to build? (``journal.made_by``)"""
    return made_by(venv, journal.data)


def _make_room(journal: Journal, install: Install, reporter: Reporter | None = None) -> None:
    """Clear the venv path: delete the venv this run built; anything else (a venv rebuilt by
    hand since) is moved into the backup folder, never deleted."""
    venv = install.venv
    if not os.path.lexists(venv):
        return
    if _ours(journal, venv):
        fsops.guarded_rmtree(venv, venv_root=venv, protect=[install.dir])
        return
    n = 0
    while os.path.lexists(journal.folder / f"venv-found-{n}"):
        n += 1
    dest = journal.folder / f"venv-found-{n}"
    if reporter is not None:
        reporter.warn(f"{venv} was changed since the interrupted run: it is kept in {dest}")
    if os.path.islink(venv):
        os.rename(venv, dest)  # the link itself, never what it points to
    else:
        fsops.guarded_move(venv, dest, protect=[install.dir])


def _rollback(journal: Journal, install: Install, reporter: Reporter | None = None) -> None:
    """Put the old venv back (renames and deletes of what this run made; no new space needed).
    Safe to run again after a crash at any point of it."""
    venv = install.venv
    saved = _saved_venv(journal, install)
    _note(journal, state="rolling-back")
    crash_point("rollback:start")
    old_fp = journal.data.get("old_fp")
    if old_fp is not None and _same_folder(venv, old_fp):
        pass  # the old venv is in place: never moved, or already moved back
    elif saved is not None and os.path.lexists(saved):
        _make_room(journal, install, reporter)
        crash_point("rollback:cleared")
        fsops.guarded_move(saved, venv, protect=[install.dir])
        crash_point("rollback:renamed")
    elif old_fp is not None:
        raise RepairError(f"the backup of the venv is missing from {journal.folder}")
    elif journal.data.get("created"):
        _make_room(journal, install, reporter)  # there was no venv before
    from repair.backup.store import read_meta

    meta = read_meta(journal.folder)
    if meta is not None and meta.get("has_venv") and meta.get("kind") == "moved" \
            and not os.path.lexists(saved or journal.folder / "venv"):
        meta.update(has_venv=False, venv_path=None, kind="snapshot",
                    reason=f"{meta.get('reason', '')} (rolled back; venv restored)")
        with contextlib.suppress(OSError):  # a full disk: the listing is fixed next time
            fsops.atomic_write(journal.folder / "backup.json", json.dumps(meta, indent=2))
    _note(journal, state="rolled-back")


def _note(journal: Journal, **values: Any) -> None:
    """A journal write during a rollback: the rollback itself is renames and deletes and needs
    no space, so a full disk must not stop it. A lost note leaves an earlier state, from which
    the next run rolls back again (every step of a rollback can be run twice)."""
    try:
        journal.set(**values)
    except OSError:
        journal.data.update(values)


def _commit(journal: Journal, install: Install) -> None:
    if _ours(journal, install.venv):
        marker = install.venv / fsops.PARTIAL_MARKER
        if marker.exists():
            marker.unlink()
    journal.set(state="committed", durable=False)  # lost: "verified" is committed again


def recover(install: Install, reporter: Reporter) -> list[str]:
    """Finish or roll back every unfinished run on ``install`` (call with the locks held),
    after looking: a child process left from the killed run is ended first; an application
    running on the venv makes it wait (``BusyError``, exit 6); what the run did not make is
    never deleted. Returns what was done, one line each."""
    done: list[str] = []
    from repair.backup.store import backups_root

    root = backups_root(install)
    if not root.is_dir() or os.path.islink(root):
        return done
    for folder in sorted(root.iterdir()):
        if not folder.is_dir() or folder.is_symlink():
            continue
        journal = load_journal(folder)
        if journal is None or journal.state in FINAL_STATES:
            continue
        if journal.data.get("venv") and os.path.abspath(str(journal.data["venv"])) \
                != str(install.venv):
            continue  # the journal of another venv of this app (--venv): left for that one
        if end_child(journal):
            reporter.warn(f"ended the installer left running by the interrupted run {folder.name}")
        _wait_for_app(install)
        if journal.state in ("verified", "committing"):
            reporter.step(f"finishing the interrupted repair {folder.name} (it was verified)")
            _commit(journal, install)
            done.append(f"finished {folder.name}")
            continue
        if journal.data.get("restore_fp") is not None \
                and _same_folder(install.venv, journal.data["restore_fp"]):
            reporter.step(f"finishing the interrupted restore {folder.name}")
            journal.set(state="committed")
            done.append(f"finished {folder.name}")
            continue
        reporter.step(f"rolling back the interrupted repair {folder.name} (state {journal.state})")
        try:
            _rollback(journal, install, reporter)
        except JournalError:
            raise
        except Exception as exc:  # noqa: BLE001 - named to the user with the backup's place
            raise RollbackFailedError(
                f"could not roll back the interrupted repair {folder.name}: {exc}",
                hint=f"the old venv is kept in {journal.data.get('venv_backup')}; move it back to "
                f"{install.venv} by hand",
            ) from exc
        done.append(f"rolled back {folder.name}")
    return done


def _wait_for_app(install: Install) -> None:
    from repair.checks.processes import processes_using

    running = processes_using(install.venv) if os.path.isdir(install.venv) else []
    if running:
        names = ", ".join(p.describe() for p in running[:5])
        raise BusyError(f"an interrupted repair must be finished, and the application is running "
                        f"on this venv: {names}", hint="stop the web UI, then run repair again")


# ---------------------------------------------------------------------------------------------
# Steps

def _log(journal: Journal) -> Path:
    return journal.folder / "logs" / "install.log"


def _index(options: dict[str, Any]) -> Any:
    from repair.env.packages import IndexOptions

    return IndexOptions.from_options(options)


def _inside_venv(path: Path, venv: Path) -> bool:
    try:
        Path(os.path.abspath(path)).relative_to(venv)
        return True
    except ValueError:
        return False


def _translate(path: str, old: Path | None, venv: Path) -> Path:
    """Plan paths name the venv; the work happens there (the clone), never in the backup."""
    p = Path(path)
    if old is not None and _inside_venv(p, old):
        return venv / p.relative_to(old)
    return p


def _child_recorder(journal: Journal) -> Callable[[int], None]:
    """The installer runs in its own process group, recorded before it can change anything: a
    run killed meanwhile leaves a journal that names the group for the next run to end."""
    def record(pgid: int) -> None:
        journal.set(child_pgid=pgid)
    return record


def _run_step(step: Step, ctx: Context, journal: Journal, options: dict[str, Any],
              reporter: Reporter) -> str:
    from repair.env.layout import VenvLayout
    from repair.env.packages import pip_install

    install = ctx.install
    venv = install.venv
    python = VenvLayout.detect(venv).python
    from repair.plan.planner import default_installer

    installer = default_installer(ctx, options)
    p = step.params
    if step.kind == "recreate-venv":
        return ""  # done before the steps (the venv had to exist first)
    if step.kind == "reclone":
        from repair.rebuild import reclone as reclone_mod

        reclone_mod.reclone(ctx, ref=ctx.options.get("ref"), repo_url=ctx.options.get("repo_url"),
                            reporter=reporter)
        return ""
    if step.kind == "relink-venv":
        from repair.env.layout import relink_venv

        done = relink_venv(ctx.venv, Path(str(step.params["python"])))
        return "; ".join(done) or "already pointed there"
    if step.kind == "ensure-pip":
        from repair import proc

        proc.run([python, "-m", "ensurepip", "--upgrade", "--default-pip"], timeout=600,
                 env=proc.clean_env(venv=venv), check=True)
        return ""
    if step.kind == "remove":
        from repair.render import fold

        # One line for them all (the plan names each); a count on a terminal.
        names = [str(path).replace("\\", "/").rsplit("/", 1)[-1] for path in p["paths"]]
        reporter.info(f"removing {fold(names)}")
        with reporter.progress("removing", len(p["paths"])) as bar:
            for path in p["paths"]:
                target = _translate(path, None, venv)
                fsops.guarded_rmtree(target, venv_root=venv, protect=[install.dir])
                bar.advance()
        return f"{len(p['paths'])} removed"
    if step.kind == "purge":
        from repair.env.dists import load_dist

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
                        if os.path.lexists(target) and inside(target, venv) \
                                and not target.is_dir():
                            fsops.guarded_rmtree(target, venv_root=venv, protect=[install.dir])
                            count += 1
                if os.path.lexists(fpath):
                    fsops.guarded_rmtree(fpath, venv_root=venv, protect=[install.dir])
            for top in entry.get("tops", []):
                target = site / top
                if os.path.lexists(target):
                    fsops.guarded_rmtree(target, venv_root=venv, protect=[install.dir])
        return f"{count} file(s) removed"
    index = _index(options)
    if step.kind == "install-torch":
        from repair.rebuild.build import install_torch

        saved = journal.data.get("venv_backup")
        return install_torch(
            python, p, work=journal.folder / "rebuild", keep=_planned_set(journal),
            index=index, log=_log(journal), reporter=reporter, installer=installer,
            old_venv=Path(saved) if saved else None, on_start=_child_recorder(journal))
    if step.kind == "reinstall":
        args = ["--force-reinstall", "--no-deps", *p["requirements"]]
        for c in p.get("constraints", []):
            args += ["-c", c]
        stats = pip_install(python, args, log_path=_log(journal), reporter=reporter,
                            installer=installer, index=index, label="reinstalling "
                            + ", ".join(p["requirements"]), on_start=_child_recorder(journal))
        return f"{len(stats.installed)} installed"
    if step.kind == "install-requirements" and "expect" in p:
        from repair.rebuild.build import install_set

        saved = journal.data.get("venv_backup")
        torch: dict[str, Any] = next((s.get("params", {}) for s in journal.data.get("plan", [])
                                      if s.get("kind") == "install-torch"), {})
        return install_set(python, p, work=journal.folder / "rebuild",
                           old_venv=Path(saved) if saved else None, index=index,
                           log=_log(journal), reporter=reporter, installer=installer,
                           torch_pins=torch.get("requirements", []),
                           on_start=_child_recorder(journal))
    if step.kind == "install-requirements":
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
        stats = pip_install(python, args, log_path=_log(journal), reporter=reporter,
                            installer=installer, index=index, label="installing the requirements",
                            on_start=_child_recorder(journal))
        return f"{len(stats.installed)} installed"
    raise UsageError(f"unknown plan step {step.kind!r}")


def _planned_set(journal: Journal) -> dict[str, Any] | None:
    """The working set a rebuild plans (the install-requirements step's parameters)."""
    for step in journal.data.get("plan", []):
        if step.get("kind") == "install-requirements" and "expect" in step.get("params", {}):
            return dict(step["params"])
    return None


def _create_venv(ctx: Context, step: Step, reporter: Reporter, plan: Plan | None = None) -> str:
    """A new venv at the venv path (which carries the partial marker until it is done), with the
    interpreter the plan names. When the old venv's setuptools comes back from its files (reuse),
    the new venv is not seeded with another one, which the kept set would then replace."""
    from repair.rebuild.build import create_venv
    from repair.rebuild.python import choose_python, old_python

    python, version = step.params.get("python"), step.params.get("version")
    if not python or not version:  # a plan made without a choice (an older journal)
        old_version, old_interpreter = old_python(ctx)
        chosen = choose_python(ctx.install.manifest, requested=python,
                               old_version=old_version, old_interpreter=old_interpreter)
        python, version = chosen.path, chosen.version
    reporter.step(f"creating the venv with Python {version} ({python})")
    venv = ctx.install.venv
    venv.mkdir(parents=True)
    (venv / fsops.PARTIAL_MARKER).write_text("recreate\n")
    pins: list[Any] = next((s.params.get("pins", []) for s in (plan.steps if plan else ())
                            if s.kind == "install-requirements"), [])
    reused_setuptools = not ctx.options.get("no_reuse") and any(
        str(p).lower().startswith("setuptools==") for p in pins)
    how = create_venv(python, venv, installer=str(ctx.options.get("installer") or "pip"),
                      version=version, setuptools=not reused_setuptools)
    return f"Python {version} ({how})"


def _preflight(ctx: Context, plan: Plan, options: dict[str, Any], reporter: Reporter) -> None:
    """The index preflight, before anything is changed, for the interpreter the rebuild uses."""
    if options.get("force") or not plan.recreates:
        return
    from repair.rebuild.verify import preflight

    steps = {s.kind: s.params for s in plan.steps}
    python = steps["recreate-venv"].get("python") or (ctx.layout.python if ctx.venv_exists
                                                      else None)
    if python is None:
        return
    work = steps.get("install-requirements", {})
    reqs = ctx.app_requirements
    wanted: list[Any] = [line.requirement for line in reqs.requirements
                         if line.requirement is not None and not line.url]
    wanted += [p for p in work.get("pins", []) if " @ " not in p and not p.startswith("-e ")]
    wanted += [m["requirement"] for m in work.get("moves", []) if m.get("requirement")]
    hint = "nothing was changed" if work.get("fresh") or not work.get("pins") else \
        "nothing was changed; --fresh leaves the old versions behind and resolves anew"
    preflight(wanted, python, options, torch=steps.get("install-torch"),
              reporter=reporter, requirement_options=reqs.options,
              venv=ctx.venv if ctx.venv_exists else None, hint=hint)


# ---------------------------------------------------------------------------------------------
# The pipeline

def _report(ctx: Context) -> Report:
    from repair.commands.check import check

    return check(ctx)


# Facts of a context that no plan step changes: the machine's GPU backend (its probe runs
# nvidia-smi and the like) and the application's requirements files (not for a reclone).
_UNCHANGED = ("machine_backend", "app_requirements")


def _fresh(ctx: Context, plan: Plan | None = None) -> Context:
    """A new context on the same install: the venv's facts are read again; with ``plan``, what
    the plan cannot have changed is taken over from ``ctx`` rather than probed again."""
    from repair.context import Context

    new = Context(ctx.install, ctx.options, reporter=ctx.reporter)
    if plan is not None:
        keep = [k for k in _UNCHANGED
                if not (k == "app_requirements" and any(s.kind == "reclone" for s in plan.steps))]
        for key in keep:
            if key in ctx.__dict__:
                new.__dict__[key] = ctx.__dict__[key]
    return new


def _exit_for(report: Report) -> int:
    if report.summary.errors:
        return ExitCode.PROBLEMS
    if report.restart_required:
        return ExitCode.RESTART
    return ExitCode.OK


def _decorate(report: Report, plan: Plan, steps: list[StepResult], backup: BackupInfo | None,
              extra: dict[str, Any] | None = None) -> Report:
    report.extra["plan"] = plan.to_json()
    report.extra["steps"] = [s.to_json() for s in steps]
    report.extra["backup"] = backup.id if backup else None
    if backup is not None:
        report.extra["backup_path"] = str(backup.path)
    if extra:
        report.extra.update(extra)
    return report


def repair_install(ctx: Context, options: dict[str, Any] | None = None,
                   reporter: Reporter | None = None,
                   confirm: Callable[[Plan], bool] | None = None) -> PipelineResult:
    """Check, plan, back up, act, verify; roll back on any failure or Ctrl-C.

    Returns a result whose ``exit_code`` follows the contract (0, 1, 3, 4, 5). Raises
    ``BusyError`` (6) when another repair holds the lock or the application runs on the venv and
    the plan replaces files, ``UsageError`` (2) for unusable input; nothing is changed then.
    """
    options = dict(ctx.options if options is None else options)
    reporter = reporter or ctx.reporter
    install = ctx.install
    if os.path.lexists(install.venv) and install.layout != "no-venv":
        # Before anything else: the venv must be one the tool may replace (not the tool's own
        # venv, not the app folder, not a folder that is not a venv, not a link). A launcher
        # that runs the user's own Python (SKIP_VENV=1) gets a plan that changes nothing.
        fsops.check_venv_target(install.venv, install.dir)
    lock = contextlib.nullcontext() if options.get("dry_run") else install_lock(install)
    with lock:
        recovered = [] if options.get("dry_run") else recover(install, reporter)
        if recovered:
            ctx = _fresh(ctx)
        reporter.step(f"checking {install.dir}")
        before = _report(ctx)
        plan = make_plan(ctx, before.findings, options)
        extra = {"recovered": recovered} if recovered else {}
        if options.get("dry_run") or plan.empty:
            report = _decorate(before, plan, [], None, extra)
            code = ExitCode.PROBLEMS if (options.get("dry_run") and not plan.empty) \
                else _exit_for(before)
            return PipelineResult(report, code, plan, recovered=recovered)
        if ctx.venv_exists and ctx.layout.is_foreign:
            kind = "Windows" if ctx.layout.kind == "windows" else "Linux/macOS"
            raise UsageError(
                f"{ctx.venv} is a {kind} venv: its python cannot run on this machine",
                hint="run repair on the machine the web UI runs on; 'repair check' works here")
        if ctx.venv_exists and (plan.replaces_files or os.name == "nt"):
            from repair.checks.processes import processes_using

            running = processes_using(install.venv)
            if running:
                names = ", ".join(p.describe() for p in running[:5])
                raise BusyError(f"the application is running on this venv: {names}",
                                hint="stop the web UI, then run repair again")
        _preflight(ctx, plan, options, reporter)
        if confirm is not None and not confirm(plan):
            raise UsageError("cancelled: nothing was changed")
        if not plan.recreates:
            return _execute(ctx, before, plan, options, reporter, recovered)
        from repair.rebuild.build import app_folder_written

        entries = set(os.listdir(install.dir))
        result = _execute(ctx, before, plan, options, reporter, recovered)
        result.report.extra["written_outside_venv"] = app_folder_written(install, entries, reporter)
        return result


def _check_room(ctx: Context) -> None:
    """A rebuild needs about the old venv's size again (its files are not linked): checked
    before anything is changed (exit 1 when the disk is too full)."""
    venv = ctx.install.venv
    if not os.path.isdir(venv):
        return
    _files, size = fsops.tree_size(venv)
    free = fsops.free_space(venv.parent)
    need = size + (64 << 20)
    if free < need:
        raise PreflightError(
            f"not enough free space to rebuild the venv: about {need // (1 << 20)} MB needed, "
            f"{free // (1 << 20)} MB free on {venv.parent}",
            hint="nothing was changed; free some space and run repair again")


def _execute(ctx: Context, before: Report, plan: Plan, options: dict[str, Any],
             reporter: Reporter, recovered: list[str]) -> PipelineResult:
    install = ctx.install
    venv = install.venv
    results = [StepResult(s.kind, s.summary) for s in plan.steps]
    journal_box: list[Journal] = []
    extra = {"recovered": recovered} if recovered else {}

    def on_ready(info: BackupInfo, dest: Path) -> None:
        journal = Journal(info.path / JOURNAL, {
            "schema": "repair.journal/1", "pid": os.getpid(), "started": time.time(),
            "venv": str(venv), "venv_backup": str(dest), "moved": False, "created": False,
            "old_fp": fingerprint(venv), "new_fp": None, "child_pgid": None,
            "token": new_token(),
            "state": "backing-up",
            "plan": plan.to_json(), "steps": [{"kind": s.kind, "status": "pending"}
                                               for s in plan.steps],
        })
        journal.set()
        journal_box.append(journal)
        _crash_point("journal")

    if plan.recreates:
        _check_room(ctx)
    reporter.step("backing up")
    backup = create_backup(ctx, move_venv=True, reporter=reporter, reason="before repair",
                           on_ready=on_ready)
    journal = journal_box[0]
    try:
        journal.set(moved=backup.kind == "moved", state="running")
        _crash_point("moved")
        if plan.recreates:
            step = next(s for s in plan.steps if s.kind == "recreate-venv")
            started = time.monotonic()
            idx = plan.steps.index(step)
            journal.set(created=True)
            results[idx].detail = _create_venv(ctx, step, reporter, plan)
            mark(venv, journal.data["token"])
            journal.set(new_fp=fingerprint(venv))
            results[idx].status = "done"
            results[idx].duration_ms = int((time.monotonic() - started) * 1000)
            journal.step(idx, "done")
        elif backup.venv_path is not None and backup.kind == "moved":
            reporter.step("working on a hard-link copy of the venv (the backup stays untouched)")
            journal.set(created=True)
            venv.mkdir()
            mark(venv, journal.data["token"])
            journal.set(new_fp=fingerprint(venv))
            fsops.link_clone(backup.venv_path, venv)
            journal.set(new_fp=fingerprint(venv))  # with its pyvenv.cfg
        _crash_point("venv-ready")
        work = _fresh(ctx, plan)
        for idx, step in enumerate(plan.steps):
            if results[idx].status == "done":
                continue
            _crash_point(f"step:{step.kind}")
            journal.step(idx, "running")
            started = time.monotonic()
            try:
                results[idx].detail = _run_step(step, work, journal, options, reporter)
            except BaseException:
                results[idx].status = "failed"
                results[idx].duration_ms = int((time.monotonic() - started) * 1000)
                raise
            results[idx].status = "done"
            results[idx].duration_ms = int((time.monotonic() - started) * 1000)
            journal.step(idx, "done")
            _crash_point(f"after:{step.kind}")
        journal.set(state="verifying", durable=False)
        _crash_point("verify")
        reporter.step("verifying")
        _verify_set(journal, venv)
        after = _report(_fresh(ctx, plan))
        was = {(f.id, f.subject) for f in before.findings}
        new = [f for f in after.findings if f.severity is Severity.ERROR
               and (f.id, f.subject) not in was]
        if new:
            raise _VerifyFailed("; ".join(f"{f.id}: {f.message}" for f in new[:3]))
        journal.set(state="verified", durable=False)
        _crash_point("verified")
        _commit(journal, install)
        _crash_point("committed")
    except BaseException as exc:
        reason = "interrupted" if isinstance(exc, KeyboardInterrupt) else _describe(exc)
        for r in results:
            if r.status in ("pending", "running"):
                r.status = "skipped"
        if isinstance(exc, KeyboardInterrupt):
            # Say what happens now: a second Ctrl-C mid-rollback is what loses a venv.
            reporter.warn("interrupted: rolling back, so that the venv is as it was before; "
                          "this takes a moment, let it finish")
        else:
            reporter.warn(f"the repair failed ({reason}); rolling back")
        try:
            _rollback(journal, install, reporter)
        except Exception as exc2:  # noqa: BLE001 - reported as exit 5 with the backup's place
            message = (f"the repair failed ({reason}) and so did the rollback ({_describe(exc2)}); "
                       f"the old venv is kept in {journal.data.get('venv_backup')} (backup "
                       f"{backup.id}): move it back to {venv} by hand, or run repair again")
            with contextlib.suppress(OSError):
                journal.set(state="rollback-failed")
            report = _decorate(before, plan, results, backup, {**extra, "error": message})
            return PipelineResult(report, ExitCode.ROLLBACK_FAILED, plan, results, backup,
                                  message, recovered)
        message = f"the repair failed ({reason}); the venv was rolled back to how it was"
        report = _decorate(_report(_fresh(ctx, plan)), plan, results, backup,
                           {**extra, "error": message})
        return PipelineResult(report, ExitCode.ROLLED_BACK, plan, results, backup, message,
                              recovered)
    write_meta(backup, durable=False, venv_origin=str(venv), repaired=True)
    unfixed = unfixed_errors(before, after, plan)
    done: dict[str, Any] = dict(extra)
    if unfixed:
        done["unfixed"] = [{"id": f.id, "subject": f.subject} for f in unfixed]
    report = _decorate(after, plan, results, backup, done)
    remain = None
    if unfixed:
        shown = ", ".join(f"{f.id} ({f.subject})" for f in unfixed[:5])
        remain = (f"the repair ran but {len(unfixed)} of the errors it set out to fix remain: "
                  f"{shown}")
    return PipelineResult(report, _exit_for(after), plan, results, backup, remain, recovered)


def unfixed_errors(before: Report, after: Report, plan: Plan) -> list[Finding]:
    """The errors of ``before`` that the plan was to fix and that ``after`` still has: a repair
    that ends with them is not a success, whatever it did."""
    if plan.empty:
        return []
    left = {(f.id, f.subject) for f in plan.unresolved}
    was = {(f.id, f.subject) for f in before.findings
           if f.severity is Severity.ERROR and (f.id, f.subject) not in left}
    return [f for f in after.findings
            if f.severity is Severity.ERROR and (f.id, f.subject) in was]


class _VerifyFailed(Exception):
    pass


class _NotAsPlanned(_VerifyFailed):
    pass


def _verify_set(journal: Journal, venv: Path) -> None:
    """A rebuild must give the working set it planned: every planned distribution at its
    version (``repair.rebuild.verify.verify_set``)."""
    planned = _planned_set(journal)
    if planned is None:
        return
    from repair.rebuild.verify import verify_set

    torch: dict[str, Any] = next((s.get("params", {}) for s in journal.data.get("plan", [])
                                  if s.get("kind") == "install-torch"), {})
    problems = verify_set(venv, planned.get("expect", {}), planned.get("moves", []),
                          torch.get("requirements", []))
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise _NotAsPlanned("; ".join(problems[:5]) + more)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, _NotAsPlanned):
        return f"the new venv is not as planned: {exc}"
    if isinstance(exc, _VerifyFailed):
        return f"the check after it found new problems: {exc}"
    if isinstance(exc, RepairError):
        return exc.message
    return f"{type(exc).__name__}: {exc}"


def latest_backups(install: Install, n: int = 5) -> list[BackupInfo]:
    return list_backups(install)[:n]
