"""The steps of ``repair install`` after the clone: Python, GPU backend, the index preflight,
the venv (built aside), torch, the requirements (then the venv moves into place), the launch
arguments and ``check --deep``. Each finished step is recorded with its inputs; a step whose
inputs changed runs again, and so does every step after it."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from repair import fsops
from repair.app.launchargs import card_advice, write_launch_args
from repair.app.reqfiles import parse_file
from repair.app.requirements import ReqSet
from repair.app.target import resolve
from repair.backup.store import create_backup
from repair.checks.runner import check
from repair.context import Context
from repair.env import backend as backend_mod
from repair.env import pythons
from repair.env.dists import canonical
from repair.env.layout import VenvLayout
from repair.env.packages import pip_install
from repair.env.torchbuild import TORCH_FAMILY
from repair.errors import UsageError
from repair.options import CheckOptions
from repair.progress import Reporter
from repair.provision.git import clone_app, clone_extensions
from repair.provision.plan import (
    PLATFORM_ONLY,
    SEED_PACKAGES,
    InstallPlan,
    InstallStepResult,
    kill_point,
    launch_args_for,
    partial_path,
    record_dir,
    snapshot_part,
    state_key,
    torch_spec,
    venv_python,
)
from repair.rebuild.build import create_venv, install_torch
from repair.rebuild.verify import preflight
from repair.rebuild.workingset import pin_line


class InstallRunner:
    """Runs the plan's steps in order, each recorded in the install state when it finishes."""

    def __init__(
        self, plan: InstallPlan, reporter: Reporter, confirm: Callable[[InstallPlan], bool] | None
    ) -> None:
        self.plan = plan
        self.req = plan.request
        self.reporter = reporter
        self.confirm = confirm
        self.state = plan.state
        self.results: list[InstallStepResult] = []
        self.redo = False  # once a step runs, every later one runs too
        self.backend: str | None = None
        self.devices: tuple[str, ...] = ()
        self.python: dict[str, Any] = {}
        self.launch: list[str] = []
        self.changed: list[str] = []
        self.report: Any = None

    # -- helpers -------------------------------------------------------------------------------
    @property
    def venv(self) -> Path:
        return self.plan.venv

    @property
    def building(self) -> Path:
        return partial_path(self.venv, "partial")

    def work_venv(self) -> Path:
        """The venv the install steps work on: the one being built, else the one in place."""
        return self.building if self.building.exists() else self.venv

    def log(self) -> Path:
        assert self.req.log_path is not None
        return self.req.log_path

    def step(self, name: str, key: str | Callable[[], str], func: Callable[[], str]) -> None:
        """Run one step unless it is done with the same inputs; ``key`` may be a function,
        evaluated after the step (for steps whose inputs are what they choose)."""
        if not self.redo and name in self.plan.todo:
            self.redo = True
        if not self.redo and isinstance(key, str) and self.state.done(name, key):
            self.results.append(InstallStepResult(name, "skipped", 0.0, "already done"))
            return
        self.redo = True
        self.reporter.step(f"{name}: {self._title(name)}")
        started = time.monotonic()
        try:
            detail = func()
        except BaseException:
            self.results.append(InstallStepResult(name, "failed", time.monotonic() - started))
            raise
        seconds = time.monotonic() - started
        kill_point(name)
        self.state.record(name, key if isinstance(key, str) else key(), seconds)
        self.results.append(InstallStepResult(name, "done", seconds, detail))
        if detail:
            self.reporter.info(detail)

    @staticmethod
    def _title(name: str) -> str:
        return {
            "clone": "getting the application",
            "extensions": "extensions",
            "python": "choosing Python",
            "venv": "creating the venv",
            "backend": "GPU backend",
            "torch": "installing torch",
            "requirements": "installing the requirements",
            "launch-args": "launch arguments",
            "verify": "repair check --deep",
        }[name]

    def pip(self, args: list[str], label: str) -> None:
        pip_install(
            venv_python(self.work_venv()),
            args,
            log_path=self.log(),
            reporter=self.reporter,
            installer=self.req.installer,
            label=label,
        )

    # -- the steps -----------------------------------------------------------------------------
    def run(self) -> None:
        plan = self.plan
        self.step(
            "clone", state_key(plan.repo_url, plan.ref), lambda: clone_app(plan, self.reporter)
        )
        self.state.attach(self.req.dir)
        if plan.snapshot is not None:
            self.step(
                "extensions", state_key(state_key(plan.snapshot)), lambda: clone_extensions(plan)
            )
        self.choose_python()
        self.choose_backend()
        spec = torch_spec(plan, self.backend)
        self.preflight(spec)
        self.step(
            "venv", state_key(self.state.facts.get("python_key"), str(self.venv)), self.create_venv
        )
        self.step("torch", state_key(self.backend, spec), lambda: self.install_torch(spec))
        self.install_requirements()
        self.launch = launch_args_for(plan.manifest, self.backend)
        self.step("launch-args", state_key(self.backend, self.launch), self.write_launch)
        self.step("verify", state_key("deep"), self.verify)

    def choose_python(self) -> None:
        facts = self.state.facts
        recorded = facts.get("python")
        if (
            not self.redo
            and "python" not in self.plan.todo
            and isinstance(recorded, dict)
            and Path(recorded.get("path", "")).exists()
        ):
            self.python = recorded
            self.results.append(InstallStepResult("python", "skipped", 0.0, "already done"))
            return

        def pick() -> str:
            requested = self.req.python
            snap = self.plan.snapshot
            recommended = self.plan.manifest.python_recommended or None
            if snap is not None and not requested:
                version = snapshot_part(snap.get("python")).get("version")
                if version:
                    xy = ".".join(str(version).split(".")[:2])
                    try:
                        info = choose_python(
                            self.plan.manifest.python_supported or None, xy, recommended
                        )
                    except UsageError:
                        info = choose_python(
                            self.plan.manifest.python_supported or None, None, recommended
                        )
                        self.plan.notes.append(
                            f"the snapshot used Python {version}; none found here, so Python "
                            f"{info['version']} was chosen instead"
                        )
                        self.plan.not_reproduced.append(
                            {
                                "what": f"Python {version}",
                                "why": "not found on this machine",
                                "instead": f"Python {info['version']}",
                            }
                        )
                    return self._set_python(info)
            info = choose_python(
                self.plan.manifest.python_supported or None, requested, recommended
            )
            return self._set_python(info)

        self.step("python", lambda: str(self.state.facts.get("python_key")), pick)

    def preflight(self, torch: dict[str, Any] | None) -> None:
        """Before the venv is made: can the indexes provide torch and every requirement, for
        this Python on this machine? Stops with exit 1 (nothing built) when they cannot, unless
        ``--force``."""
        if self.req.force or self.plan.snapshot is not None:
            return
        if not self.redo and not ({"venv", "torch", "requirements"} & set(self.plan.todo)):
            return  # the requirements are already in
        reqs, seen = ReqSet(), set[Path]()
        for path in self.plan.manifest.files_under(self.req.dir)[0]:
            parse_file(path, _set=reqs, _seen=seen)
        wanted = reqs.for_index()
        preflight(
            wanted,
            str(self.python["path"]),
            self.req.index,
            torch=torch,
            reporter=self.reporter,
            requirement_options=reqs.options,
            hint="nothing was built",
            needs="the install",
        )

    def _set_python(self, info: dict[str, Any]) -> str:
        self.python = info
        self.state.facts.update(
            python=info,
            python_key=state_key(info["path"], info["version"]),
            python_requested=self.req.python,
        )
        return f"Python {info['version']} ({info['path']})"

    def create_venv(self) -> str:
        building = self.building
        # A venv killed while being built: our own hidden folder.
        fsops.remove_own_folder(building, marker=".partial")
        if os.path.lexists(self.venv):
            # A venv from an earlier install: built anew beside it; at the end of the
            # requirements step it is moved into a backup (never deleted) and the new one takes
            # its place. Anything that is not a venv the tool may replace stops here.
            fsops.check_venv_target(self.venv, self.req.dir)
        self.state.forget("torch", "requirements")
        building.mkdir(parents=True)
        how = create_venv(
            str(self.python["path"]),
            building,
            prompt=self.venv.name,
            installer=self.req.installer,
            version=str(self.python["version"]),
        )
        return f"built aside in {building.name} ({how})"

    def choose_backend(self) -> None:
        facts = self.state.facts
        asked = self.req.backend if self.req.backend and self.req.backend != "auto" else None
        if asked is None and self.plan.snapshot is not None and not facts.get("backend"):
            asked = None  # the machine decides; the snapshot's backend is compared below

        def detect() -> str:
            machine = backend_mod.detect(asked)
            backend, devices, source = machine.backend, machine.devices, machine.source
            snap_backend = snapshot_part((self.plan.snapshot or {}).get("torch")).get("backend")
            if snap_backend and asked is None and snap_backend != backend:
                self.plan.notes.append(
                    f"the snapshot's torch was built for {snap_backend}; this machine has "
                    f"{backend}: torch for {backend} is installed from the manifest instead"
                )
                self.plan.not_reproduced.append(
                    {
                        "what": f"torch for {snap_backend}",
                        "why": f"this machine is {backend}",
                        "instead": f"torch for {backend} from the manifest",
                    }
                )
            self.backend, self.devices = backend, tuple(devices)
            facts.update(backend=backend, devices=list(devices))
            return f"{backend} ({source}" + (f": {', '.join(devices)}" if devices else "") + ")"

        if not self.redo and facts.get("backend") and (asked in (None, facts["backend"])):
            self.backend = str(facts["backend"])
            self.devices = tuple(facts.get("devices", []))
            self.results.append(InstallStepResult("backend", "skipped", 0.0, "already done"))
            return
        self.step("backend", lambda: state_key(self.backend), detect)

    def install_torch(self, spec: dict[str, Any] | None) -> str:
        if spec is None:
            return "the manifest installs no torch"
        install_torch(
            venv_python(self.work_venv()),
            spec,
            work=self.venv.parent,
            keep=None,
            index=self.req.index,
            log=self.log(),
            reporter=self.reporter,
            installer=self.req.installer,
        )
        return " ".join(spec["requirements"])

    def install_requirements(self) -> None:
        root, manifest = self.req.dir, self.plan.manifest
        if self.plan.snapshot is not None:
            pins, skipped = self._snapshot_pins()
            content = "\n".join(pins)
            files: list[Path] = []
            constraints: list[Path] = []
        else:
            pins, skipped = [], []
            files, constraints = manifest.files_under(root)
            content = "\n".join(
                p.read_text(encoding="utf-8", errors="replace") for p in files + constraints
            )
        key = state_key(content, self.backend)

        def install() -> str:
            args: list[str] = []
            if pins:
                folder = record_dir(self.req.dir) or self.req.dir
                pin_file = folder / "snapshot-requirements.txt"
                pin_file.parent.mkdir(parents=True, exist_ok=True)
                pin_file.write_text("\n".join(pins) + "\n", encoding="utf-8")
                args += ["-r", str(pin_file)]
            for f in files:
                args += ["-r", str(f)]
            for f in constraints:
                args += ["-c", str(f)]
            if args:
                self.pip(args + self.req.index.pip_args(), "requirements")
            kill_point("requirements-installed")
            self._put_venv_in_place()
            if self.plan.snapshot is not None:
                return f"{len(pins)} exact version(s)" + (
                    f"; left out: {', '.join(skipped)}" if skipped else ""
                )
            if not files:
                self.reporter.warn(
                    "the app has none of its requirement files "
                    f"({', '.join(manifest.requirement_files)})"
                )
            return f"from {', '.join(f.name for f in files) or 'nothing'}"

        self.state.facts["requirements_key"] = key
        self.step("requirements", key, install)

    def _snapshot_pins(self) -> tuple[list[str], list[str]]:
        snap = self.plan.snapshot or {}
        system = snapshot_part(snap.get("platform")).get("system")
        other_os = bool(system) and system != platform.system()
        snap_backend = snapshot_part(snap.get("torch")).get("backend")
        other_backend = bool(snap_backend) and snap_backend != self.backend
        if other_os:
            self.plan.notes.append(
                f"the snapshot comes from {system}; this is "
                f"{platform.system()}: wheels made for one system only are "
                "left out"
            )
        pins, skipped = [], []
        for dist in snap.get("distributions", []):
            name = canonical(str(dist.get("name", "")))
            if not name or name in TORCH_FAMILY:
                continue
            if name in SEED_PACKAGES:
                continue
            if (other_os or other_backend) and PLATFORM_ONLY.match(name):
                skipped.append(f"{name}=={dist.get('version')}")
                why = f"made for {system}" if other_os else f"part of torch for {snap_backend}"
                self.plan.not_reproduced.append(
                    {
                        "what": f"{name}=={dist.get('version')}",
                        "why": why,
                        "instead": "what torch for this machine needs",
                    }
                )
                continue
            pins.append(pin_line(str(dist["name"]), str(dist["version"]), dist.get("source")))
        return pins, skipped

    def _put_venv_in_place(self) -> None:
        building = self.building
        if not building.exists():
            return  # already in place (a run killed after the move)
        if os.path.lexists(self.venv):
            # Backed up first (moved into the app's backups by a rename), never deleted.
            manifest = self.plan.manifest
            install = resolve(
                str(self.req.dir),
                str(self.venv),
                manifest.source if manifest.source != "built-in" else manifest.name,
            )
            kept = create_backup(
                Context(install, reporter=self.reporter),
                move_venv=True,
                reporter=self.reporter,
                reason="before repair install",
            )
            self.reporter.info(f"the venv that was there is kept as backup {kept.id}")
            kill_point("venv-kept")
        fsops.move_aside(building, self.venv)
        relocate_venv(self.venv, building)

    def write_launch(self) -> str:
        for note in card_advice(self.backend or "", self.devices):
            self.plan.notes.append(note)
            self.reporter.info(note)
        changed = write_launch_args(self.req.dir, self.launch)
        self.changed = [str(p) for p in changed]
        args = " ".join(self.launch) or "(none needed)"
        where = ", ".join(p.name for p in changed) or "unchanged"
        return f"{args} -> {where}"

    def verify(self) -> str:
        manifest = self.plan.manifest
        ctx = Context(
            resolve(
                str(self.req.dir),
                str(self.venv),
                manifest.source if manifest.source != "built-in" else manifest.name,
            ),
            CheckOptions(deep=True, backend=self.backend),
            self.reporter,
        )
        self.report = check(ctx)
        summary = self.report.summary
        if not summary.healthy:
            ids = ", ".join(
                sorted({f.id for f in self.report.findings if f.severity.value == "error"})
            )
            raise Unhealthy(f"the check found {summary.errors} error(s): {ids}")
        return f"healthy ({summary.warnings} warning(s), {summary.infos} info)"


class Unhealthy(Exception):
    """The verify step found errors: the install is finished, and the result says so."""


def relocate_venv(venv: Path, old: Path) -> int:
    """A venv moved from ``old`` to ``venv``: rewrite the old path in its scripts (activate,
    console-script shebangs, Windows launchers) and ``pyvenv.cfg``. Returns the files changed.

    Windows launchers keep their zip archive intact: only the shebang before it changes, and the
    launcher finds the archive from its end."""
    old_b, new_b = os.fsencode(str(old)), os.fsencode(str(venv))
    changed = 0
    files = [venv / "pyvenv.cfg"]
    bin_dir = VenvLayout.detect(venv).bin_dir
    if bin_dir.is_dir():
        files += [p for p in bin_dir.iterdir() if p.is_file() and not p.is_symlink()]
    for path in files:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if old_b not in data:
            continue
        mode = path.stat().st_mode
        path.write_bytes(data.replace(old_b, new_b))
        os.chmod(path, mode)
        changed += 1
    return changed


def choose_python(
    spec: str | None, requested: str | None, recommended: str | None
) -> dict[str, Any]:
    """``{"path", "version"}`` of the interpreter for the venv (``repair.env.pythons``)."""
    info = pythons.choose_python(spec, requested, recommended)
    return {"path": str(info.path), "version": str(info.version)}
