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
from repair.backup import BackupInfo, create_backup, install_lock, list_backups, write_meta
from repair.errors import BusyError, ExitCode, RepairError, UsageError
from repair.model import Report, Severity
from repair.planner import Plan, Step, make_plan
from repair.progress import Reporter

if TYPE_CHECKING:
    from repair.context import Context
    from repair.install import Install

CRASH_ENV = "WEBUI_REPAIR_TEST_CRASH_AT"
CRASH_POINTS = ("journal", "moved", "venv-ready", "verify", "verified", "committed")
JOURNAL = "journal.json"
FINAL_STATES = {"committed", "rolled-back"}


def _crash_point(name: str) -> None:
    if os.environ.get(CRASH_ENV) == name:
        os._exit(137)


@dataclass
class StepResult:
    kind: str
    summary: str
    status: str = "pending"  # pending | done | failed | skipped
    duration_ms: int = 0
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "summary": self.summary, "status": self.status,
                               "duration_ms": self.duration_ms}
        if self.detail:
            out["detail"] = self.detail
        return out


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
# The journal

class Journal:
    def __init__(self, folder: Path, data: dict[str, Any]) -> None:
        self.folder = folder
        self.data = data

    @property
    def path(self) -> Path:
        return self.folder / JOURNAL

    @property
    def state(self) -> str:
        return str(self.data.get("state"))

    def set(self, durable: bool = True, **values: Any) -> None:
        """Record ``values``. ``durable=False`` (no fsync) is for what happens after the bulk
        of the work: losing such a write to a power cut only leaves an earlier state, from which
        recovery rolls back (or, from "verified", commits); see ``fsops.atomic_write``."""
        self.data.update(values)
        self.data["updated"] = time.time()
        fsops.atomic_write(self.path, json.dumps(self.data, indent=2), durable=durable)

    def step(self, index: int, status: str) -> None:
        self.data["steps"][index]["status"] = status
        self.set(durable=False)  # progress only: recovery never reads the steps

    @classmethod
    def load(cls, folder: Path) -> Journal | None:
        try:
            data = json.loads((folder / JOURNAL).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return cls(folder, data) if isinstance(data, dict) else None


def journal_unfinished(folder: Path) -> bool:
    journal = Journal.load(folder)
    return journal is not None and journal.state not in FINAL_STATES


def _rollback(journal: Journal, install: Install) -> None:
    """Put the old venv back: delete what is at the venv path, rename the backup back."""
    venv = install.venv
    saved = Path(journal.data["venv_backup"]) if journal.data.get("venv_backup") else None
    journal.set(state="rolling-back")
    if saved is not None and saved.exists():
        if os.path.lexists(venv):
            fsops.guarded_rmtree(venv, venv_root=venv, protect=[install.dir])
        fsops.move_aside(saved, venv)
        meta_folder = journal.folder
        from repair.backup import read_meta

        meta = read_meta(meta_folder)
        if meta is not None:
            meta.update(has_venv=False, venv_path=None, kind="snapshot",
                        reason=f"{meta.get('reason', '')} (rolled back; venv restored)")
            fsops.atomic_write(meta_folder / "backup.json", json.dumps(meta, indent=2))
    elif journal.data.get("moved"):
        raise RepairError(f"the backup of the venv is missing from {journal.folder}")
    elif journal.data.get("created") and os.path.lexists(venv):
        # There was no venv before: remove the one this run began to build.
        fsops.guarded_rmtree(venv, venv_root=venv, protect=[install.dir])
    journal.set(state="rolled-back")


def _commit(journal: Journal, install: Install) -> None:
    marker = install.venv / fsops.PARTIAL_MARKER
    if marker.exists():
        marker.unlink()
    journal.set(state="committed", durable=False)  # lost: "verified" is committed again


def recover(install: Install, reporter: Reporter) -> list[str]:
    """Finish or roll back every unfinished repair of ``install`` (call with the lock held).
    Returns what was done, one line each."""
    done: list[str] = []
    from repair.backup import backups_root

    root = backups_root(install)
    if not root.is_dir():
        return done
    for folder in sorted(root.iterdir()):
        journal = Journal.load(folder) if folder.is_dir() else None
        if journal is None or journal.state in FINAL_STATES:
            continue
        if journal.state in ("verified", "committing"):
            reporter.step(f"finishing the interrupted repair {folder.name} (it was verified)")
            _commit(journal, install)
            done.append(f"finished {folder.name}")
            continue
        reporter.step(f"rolling back the interrupted repair {folder.name} (state {journal.state})")
        try:
            _rollback(journal, install)
        except Exception as exc:  # noqa: BLE001 - named to the user with the backup's place
            from repair.errors import RollbackFailedError

            raise RollbackFailedError(
                f"could not roll back the interrupted repair {folder.name}: {exc}",
                hint=f"the old venv is kept in {journal.data.get('venv_backup')}; move it back to "
                f"{install.venv} by hand",
            ) from exc
        done.append(f"rolled back {folder.name}")
    return done


# ---------------------------------------------------------------------------------------------
# Steps

def _log(journal: Journal) -> Path:
    return journal.folder / "logs" / "install.log"


def _index(options: dict[str, Any]) -> Any:
    from repair.installer import IndexOptions

    return IndexOptions(
        index_url=options.get("index_url"),
        extra_index_urls=tuple(options.get("extra_index_urls") or ()),
        find_links=tuple(options.get("find_links") or ()),
        offline=bool(options.get("offline")),
    )


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


def _run_step(step: Step, ctx: Context, journal: Journal, options: dict[str, Any],
              reporter: Reporter) -> str:
    from repair.installer import pip_install
    from repair.venv import VenvLayout

    install = ctx.install
    venv = install.venv
    python = VenvLayout.detect(venv).python
    installer = options.get("installer") or "pip"
    p = step.params
    if step.kind == "recreate-venv":
        return ""  # done before the steps (the venv had to exist first)
    if step.kind == "reclone":
        from repair import reclone as reclone_mod

        reclone_mod.reclone(ctx, ref=ctx.options.get("ref"), repo_url=ctx.options.get("repo_url"),
                            reporter=reporter)
        return ""
    if step.kind == "relink-venv":
        from repair.venv import relink_venv

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
        from repair.dists import load_dist

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
                        if os.path.lexists(target) and _inside_venv(target, venv) \
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
        from repair import rebuild

        saved = journal.data.get("venv_backup")
        return rebuild.install_torch(
            python, p, work=journal.folder / "rebuild", keep=_planned_set(journal),
            index=index, log=_log(journal), reporter=reporter, installer=installer,
            old_venv=Path(saved) if saved else None)
    if step.kind == "reinstall":
        args = ["--force-reinstall", "--no-deps", *p["requirements"]]
        for c in p.get("constraints", []):
            args += ["-c", c]
        stats = pip_install(python, args, log_path=_log(journal), reporter=reporter,
                            installer=installer, index=index, label="reinstalling "
                            + ", ".join(p["requirements"]))
        return f"{len(stats.installed)} installed"
    if step.kind == "install-requirements" and "expect" in p:
        from repair import rebuild

        saved = journal.data.get("venv_backup")
        torch: dict[str, Any] = next((s.get("params", {}) for s in journal.data.get("plan", [])
                                      if s.get("kind") == "install-torch"), {})
        return rebuild.install_set(python, p, work=journal.folder / "rebuild",
                                   old_venv=Path(saved) if saved else None, index=index,
                                   log=_log(journal), reporter=reporter, installer=installer,
                                   torch_pins=torch.get("requirements", []))
    if step.kind == "install-requirements":
        args = []
        for f in p["files"]:
            args += ["-r", f]
        for c in p.get("constraints", []):
            args += ["-c", c]
        args += list(p.get("extra", []))
        if p.get("force_reinstall"):
            args.append("--force-reinstall")
        if not p["files"] and not p.get("extra"):
            return "no requirements"
        stats = pip_install(python, args, log_path=_log(journal), reporter=reporter,
                            installer=installer, index=index, label="installing the requirements")
        return f"{len(stats.installed)} installed"
    raise UsageError(f"unknown plan step {step.kind!r}")


def _planned_set(journal: Journal) -> dict[str, Any] | None:
    """The working set a rebuild plans (the install-requirements step's parameters)."""
    for step in journal.data.get("plan", []):
        if step.get("kind") == "install-requirements" and "expect" in step.get("params", {}):
            return dict(step["params"])
    return None


def _create_venv(ctx: Context, step: Step, reporter: Reporter) -> str:
    """A new venv at the venv path (which carries the partial marker until it is done), with the
    interpreter the plan names."""
    from repair import rebuild

    python, version = step.params.get("python"), step.params.get("version")
    if not python or not version:  # a plan made without a choice (an older journal)
        old_version, old_interpreter = rebuild.old_python(ctx)
        chosen = rebuild.choose_python(ctx.install.manifest, requested=python,
                                       old_version=old_version, old_interpreter=old_interpreter)
        python, version = chosen.path, chosen.version
    reporter.step(f"creating the venv with Python {version} ({python})")
    venv = ctx.install.venv
    venv.mkdir(parents=True)
    (venv / fsops.PARTIAL_MARKER).write_text("recreate\n")
    how = rebuild.create_venv(python, venv, installer=str(ctx.options.get("installer") or "pip"),
                              version=version)
    return f"Python {version} ({how})"


def _preflight(ctx: Context, plan: Plan, options: dict[str, Any], reporter: Reporter) -> None:
    """The index preflight, before anything is changed, for the interpreter the rebuild uses."""
    if options.get("force") or not plan.recreates:
        return
    from repair import rebuild

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
    rebuild.preflight(wanted, python, options, torch=steps.get("install-torch"),
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
    if os.path.lexists(install.venv):
        # Before anything else: the venv must be one the tool may replace (not the tool's own
        # venv, not the app folder, not a folder that is not a venv, not a link).
        fsops.check_deletable(install.venv, venv_root=install.venv, protect=[install.dir])
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
        from repair.rebuild import app_folder_written

        entries = set(os.listdir(install.dir))
        result = _execute(ctx, before, plan, options, reporter, recovered)
        result.report.extra["written_outside_venv"] = app_folder_written(install, entries, reporter)
        return result


def _execute(ctx: Context, before: Report, plan: Plan, options: dict[str, Any],
             reporter: Reporter, recovered: list[str]) -> PipelineResult:
    install = ctx.install
    venv = install.venv
    results = [StepResult(s.kind, s.summary) for s in plan.steps]
    journal_box: list[Journal] = []
    extra = {"recovered": recovered} if recovered else {}

    def on_ready(info: BackupInfo, dest: Path) -> None:
        journal = Journal(info.path, {
            "schema": "repair.journal/1", "pid": os.getpid(), "started": time.time(),
            "venv": str(venv), "venv_backup": str(dest), "moved": False, "created": False,
            "state": "backing-up",
            "plan": plan.to_json(), "steps": [{"kind": s.kind, "status": "pending"}
                                               for s in plan.steps],
        })
        journal.set()
        journal_box.append(journal)
        _crash_point("journal")

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
            results[idx].detail = _create_venv(ctx, step, reporter)
            results[idx].status = "done"
            results[idx].duration_ms = int((time.monotonic() - started) * 1000)
            journal.step(idx, "done")
        elif backup.venv_path is not None and backup.kind == "moved":
            reporter.step("working on a hard-link copy of the venv (the backup stays untouched)")
            journal.set(created=True)
            fsops.link_clone(backup.venv_path, venv)
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
            _rollback(journal, install)
        except Exception as exc2:  # noqa: BLE001 - reported as exit 5 with the backup's place
            message = (f"the repair failed ({reason}) and so did the rollback ({_describe(exc2)}); "
                       f"the old venv is kept in {journal.data.get('venv_backup')}: move it back "
                       f"to {venv} by hand")
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
    report = _decorate(after, plan, results, backup, extra)
    return PipelineResult(report, _exit_for(after), plan, results, backup, None, recovered)


class _VerifyFailed(Exception):
    pass


class _NotAsPlanned(_VerifyFailed):
    pass


def _verify_set(journal: Journal, venv: Path) -> None:
    """A rebuild must give the working set it planned: every planned distribution at its
    version (``repair.rebuild.verify_set``)."""
    planned = _planned_set(journal)
    if planned is None:
        return
    from repair.rebuild import verify_set

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
