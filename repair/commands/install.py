"""``repair install APP --dir PATH``: from nothing to a verified install, idempotent and resumable.

Steps, in order: ``clone`` (the app at the manifest's URL or ``--repo-url``, at ``--ref``),
``extensions`` (only from a snapshot), ``python`` (one the app supports), ``venv`` (built under a
hidden temporary name), ``backend`` (detected, or ``--backend``), ``torch`` (from the manifest's
index for the backend), ``requirements`` (then the venv is renamed into place), ``launch-args``
(``COMMANDLINE_ARGS`` in webui-user.sh/.bat), ``verify`` (``check --deep``).

Each finished step is recorded in the install state (``transaction.installstate``) with the inputs
it finished with. A second run skips what is done; a run killed halfway goes on where it stopped; a
failed run removes the half-built venv (and a half-made clone), so nothing is left that the web UI
or a later run would take for an install.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from repair import fsops, proc
from repair.app.manifest import Manifest
from repair.env import backend as backend_mod
from repair.env import pythons
from repair.env.packages import IndexOptions, pip_install
from repair.errors import (
    BusyError,
    PreflightError,
    ProcessError,
    RepairError,
    RolledBackError,
    UsageError,
)
from repair.progress import Reporter
from repair.transaction.installstate import InstallState, kill_point, state_dir

STEPS = ("clone", "extensions", "python", "backend", "venv", "torch", "requirements",
         "launch-args", "verify")
VENV_STEPS = ("venv", "torch", "requirements")
TORCH_FAMILY = ("torch", "torchvision", "torchaudio")
# Seeded by virtualenv into every venv; a snapshot's versions of them are not reproduced.
SEED_PACKAGES = ("pip", "setuptools", "wheel", "distribute")
# Wheels that only exist for one OS or GPU stack: dropped when the snapshot came from another.
PLATFORM_ONLY = re.compile(r"^(nvidia-.*|triton|pytorch-triton.*|torch-directml|intel-.*|"
                           r"onnxruntime-(gpu|directml|openvino))$")
SNAPSHOT_SCHEMA = "repair.snapshot/1"


@dataclass(frozen=True)
class InstallRequest:
    app: str  # manifest name or file
    dir: Path
    backend: str | None = None
    repo_url: str | None = None
    ref: str | None = None
    python: str | None = None
    snapshot: Path | None = None
    installer: str = "pip"
    index: IndexOptions = IndexOptions()
    log_path: Path | None = None
    force: bool = False  # go on when the preflight says the install cannot finish


@dataclass
class StepResult:
    name: str
    status: str  # "done", "skipped" (already done), "not-needed", "failed"
    seconds: float = 0.0
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "seconds": round(self.seconds, 3),
                "detail": self.detail}


@dataclass
class InstallPlan:
    request: InstallRequest
    manifest: Manifest
    repo_url: str
    ref: str | None
    venv: Path
    state: InstallState
    todo: list[str]  # the steps this run will do, in order
    snapshot: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)  # what was chosen instead, and why
    not_reproduced: list[dict[str, str]] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return not self.todo

    def describe(self) -> list[str]:
        """The plan, one line per step (what the prompt shows)."""
        req = self.request
        what = {
            "clone": f"clone {proc.redact(self.repo_url)}"
            + (f" at {self.ref}" if self.ref else "") + f" into {req.dir}",
            "extensions": "clone the snapshot's extensions at their recorded commits",
            "python": "pick a Python the app supports"
            + (f" ({self.manifest.python_supported})" if self.manifest.python_supported else "")
            + (f", asked for {req.python}" if req.python else ""),
            "venv": f"create the venv {self.venv} (built aside, moved into place when complete)",
            "backend": f"GPU backend: {req.backend}" if req.backend and req.backend != "auto"
            else "detect the GPU backend",
            "torch": "install torch for the backend from the manifest's index"
            + (" (the snapshot's versions)" if self.snapshot else ""),
            "requirements": "install the snapshot's exact versions" if self.snapshot
            else "install the app's requirements",
            "launch-args": "write the launch arguments into webui-user.sh/.bat",
            "verify": "verify: repair check --deep",
        }
        return [f"{i}. {what[step]}" for i, step in enumerate(self.todo, 1)]


@dataclass
class InstallResult:
    plan: InstallPlan
    steps: list[StepResult]
    backend: str | None = None
    python: dict[str, Any] = field(default_factory=dict)
    launch_args: list[str] = field(default_factory=list)
    changed_files: list[str] = field(default_factory=list)
    report: Any = None  # repair.model.Report of the verify step
    duration_ms: int = 0

    @property
    def already_installed(self) -> bool:
        return self.plan.finished

    @property
    def healthy(self) -> bool:
        return self.report is None or bool(self.report.summary.healthy)

    def to_json(self) -> dict[str, Any]:
        from repair import __version__

        plan = self.plan
        return {
            "schema": "repair.install/1",
            "tool": {"name": "webui-repair", "version": __version__},
            "app": plan.manifest.name,
            "dir": str(plan.request.dir),
            "venv": str(plan.venv),
            "repository": {"url": proc.redact(plan.repo_url), "ref": plan.ref},
            "backend": self.backend,
            "python": self.python,
            "launch_args": self.launch_args,
            "already_installed": self.already_installed,
            "steps": [s.to_json() for s in self.steps],
            "notes": list(plan.notes),
            "not_reproduced": list(plan.not_reproduced),
            "log": str(plan.request.log_path) if plan.request.log_path else None,
            "report": self.report.to_json() if self.report is not None else None,
            "healthy": self.healthy,
            "duration_ms": self.duration_ms,
        }


# ---------------------------------------------------------------------------------------------
# Snapshots


def load_snapshot(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(fsops.read_regular_text(path))
    except FileNotFoundError as exc:
        raise UsageError(f"--from-snapshot: no such file: {path}") from exc
    except (OSError, ValueError, RecursionError) as exc:
        raise UsageError(f"--from-snapshot: {path} is not a readable JSON file "
                         f"({type(exc).__name__})") from exc
    if not isinstance(data, dict) or data.get("schema") != SNAPSHOT_SCHEMA:
        raise UsageError(f"--from-snapshot: {path} is not a snapshot ({SNAPSHOT_SCHEMA})")
    if not isinstance(data.get("distributions", []), list):
        raise UsageError(f"--from-snapshot: {path}: 'distributions' is not a list")
    return data


def _canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _git_info(node: Any) -> dict[str, Any]:
    return node if isinstance(node, dict) else {}


# ---------------------------------------------------------------------------------------------
# Planning


def _state_key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _venv_python(venv: Path) -> Path:
    from repair.env.layout import VenvLayout

    return VenvLayout.detect(venv).python


def _partial(path: Path, what: str) -> Path:
    return path.with_name(f".{path.name}.{what}")


def plan_install(request: InstallRequest, reporter: Reporter | None = None) -> InstallPlan:
    """What this run will do. Reads the manifest, the snapshot and the install state; changes
    nothing. Bad input raises ``UsageError``."""
    from repair.app import manifest as manifests

    manifest = manifests.load(request.app)
    snapshot = load_snapshot(request.snapshot) if request.snapshot else None
    notes: list[str] = []
    root = request.dir
    if root.exists() and not root.is_dir():
        raise UsageError(f"--dir {root} is a file, not a folder")

    repo_url = request.repo_url
    ref = request.ref
    if snapshot is not None:
        git = _git_info(_git_info(snapshot.get("app")).get("git"))
        remote = git.get("remote")
        if not repo_url and isinstance(remote, str) and remote and "****" not in remote:
            repo_url = remote
        if not ref and git.get("commit"):
            ref = str(git["commit"])
    if not repo_url:
        repo_url = manifest.repository_url
        if repo_url and not ref and manifest.get("repository.branch"):
            ref = manifest.branch
    if not repo_url:
        raise UsageError(f"the manifest {manifest.name!r} names no repository: pass --repo-url")

    state = InstallState.load(root) if root.is_dir() else InstallState(None)
    venv = _venv_path(root, manifest)
    plan = InstallPlan(request, manifest, repo_url, ref, venv, state, [], snapshot, notes)
    plan.todo = _todo(plan)
    return plan


def _venv_path(root: Path, manifest: Manifest) -> Path:
    if root.is_dir():
        from repair.app.target import resolve

        try:
            return resolve(str(root), None, manifest.source if manifest.source != "built-in"
                           else manifest.name).venv
        except UsageError:
            pass
    dirs = manifest.venv_dirs
    return Path(os.path.abspath(root / (dirs[0] if dirs else "venv")))


def _todo(plan: InstallPlan) -> list[str]:
    """Every step from the first one that is not done (with the same inputs) to the end."""
    req, state = plan.request, plan.state
    steps = [s for s in STEPS if s != "extensions" or plan.snapshot is not None]
    keys = _static_keys(plan)
    first = len(steps)
    for i, step in enumerate(steps):
        key = keys.get(step)
        if key is None or not state.done(step, key):
            first = i
            break
    # Reality beats the record: a venv that is gone (or still aside) redoes the venv steps.
    if first > steps.index("requirements") and not _venv_python(plan.venv).exists():
        first = min(first, steps.index("venv"))
    if first >= steps.index("python") and req.python and state.facts.get("python_requested") \
            != req.python:
        first = min(first, steps.index("python"))
    return steps[first:]


def _static_keys(plan: InstallPlan) -> dict[str, str | None]:
    """Keys of the steps whose inputs are known before the run; the others (``None``) are
    compared with what the run chooses, by ``_Runner.key``."""
    req, state = plan.request, plan.state
    facts = state.facts
    snap_key = _state_key(plan.snapshot) if plan.snapshot else ""
    backend = req.backend if req.backend and req.backend != "auto" else facts.get("backend")
    python_key = facts.get("python_key")
    return {
        "clone": _state_key(plan.repo_url, plan.ref),
        "extensions": _state_key(snap_key),
        "python": python_key if (not req.python or facts.get("python_requested") == req.python)
        else None,
        "venv": _state_key(python_key, str(plan.venv)),
        "backend": _state_key(backend) if backend else None,
        "torch": _state_key(backend, _torch_spec(plan, backend)) if backend else None,
        "requirements": facts.get("requirements_key"),
        "launch-args": _state_key(backend, _launch_args(plan.manifest, backend))
        if backend else None,
        "verify": _state_key("deep"),
    }


def _launch_args(manifest: Manifest, backend: str | None) -> list[str]:
    from repair.app.launchargs import recommended_args

    return recommended_args(manifest, backend) if backend else []


def _torch_spec(plan: InstallPlan, backend: str | None) -> dict[str, Any] | None:
    """The torch step's parameters for the backend (``repair.rebuild.torch.manifest_torch``), the
    snapshot's exact versions when it was taken on the same backend; None when the manifest
    installs no torch (``generic``)."""
    from repair.rebuild.torch import manifest_torch
    from repair.rebuild.workingset import pin_line

    spec = manifest_torch(plan.manifest, backend)
    if spec is None:
        return None
    out = {"requirements": list(spec["packages"]), "index_url": spec["index_url"],
           "extra_index_url": spec["extra_index_url"], "backend": backend}
    snap = plan.snapshot
    if snap is not None:
        torch = _git_info(snap.get("torch"))
        if torch.get("backend") in (None, backend):
            pins = [pin_line(str(d["name"]), str(d["version"]), None)
                    for d in snap.get("distributions", [])
                    if _canon(str(d.get("name", ""))) in TORCH_FAMILY]
            if pins:
                out["requirements"] = pins
                if torch.get("index_url") and "****" not in str(torch["index_url"]):
                    out["index_url"] = torch["index_url"]
    return out


# ---------------------------------------------------------------------------------------------
# Running


class _Runner:
    def __init__(self, plan: InstallPlan, reporter: Reporter,
                 confirm: Callable[[InstallPlan], bool] | None) -> None:
        self.plan = plan
        self.req = plan.request
        self.reporter = reporter
        self.confirm = confirm
        self.state = plan.state
        self.results: list[StepResult] = []
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
        return _partial(self.venv, "partial")

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
            self.results.append(StepResult(name, "skipped", 0.0, "already done"))
            return
        self.redo = True
        self.reporter.step(f"{name}: {self._title(name)}")
        started = time.monotonic()
        try:
            detail = func()
        except BaseException:
            self.results.append(StepResult(name, "failed", time.monotonic() - started))
            raise
        seconds = time.monotonic() - started
        kill_point(name)
        self.state.record(name, key if isinstance(key, str) else key(), seconds)
        self.results.append(StepResult(name, "done", seconds, detail))
        if detail:
            self.reporter.info(detail)

    @staticmethod
    def _title(name: str) -> str:
        return {"clone": "getting the application", "extensions": "extensions",
                "python": "choosing Python", "venv": "creating the venv",
                "backend": "GPU backend", "torch": "installing torch",
                "requirements": "installing the requirements",
                "launch-args": "launch arguments", "verify": "repair check --deep"}[name]

    def pip(self, args: list[str], label: str) -> None:
        pip_install(_venv_python(self.work_venv()), args, log_path=self.log(),
                    reporter=self.reporter, installer=self.req.installer, label=label)

    # -- the steps -----------------------------------------------------------------------------
    def run(self) -> None:
        plan = self.plan
        self.step("clone", _state_key(plan.repo_url, plan.ref), self.clone)
        self.state.attach(self.req.dir)
        if plan.snapshot is not None:
            self.step("extensions", _state_key(_state_key(plan.snapshot)), self.extensions)
        self.choose_python()
        self.choose_backend()
        spec = _torch_spec(plan, self.backend)
        self.preflight(spec)
        self.step("venv", _state_key(self.state.facts.get("python_key"), str(self.venv)),
                  self.create_venv)
        self.step("torch", _state_key(self.backend, spec), lambda: self.install_torch(spec))
        self.install_requirements()
        self.launch = _launch_args(plan.manifest, self.backend)
        self.step("launch-args", _state_key(self.backend, self.launch), self.write_launch)
        self.step("verify", _state_key("deep"), self.verify)

    def clone(self) -> str:
        root = self.req.dir
        if root.is_dir() and (root / ".git").exists():
            return self._adopt_checkout(root)
        if root.exists() and any(root.iterdir()):
            raise UsageError(f"{root} is not empty and is not a git checkout",
                             hint="choose a new or empty folder with --dir")
        temp = _partial(root, "partial-clone")
        fsops.remove_own_folder(temp, marker=".partial-clone")  # a clone killed halfway
        import git

        env = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "", "GCM_INTERACTIVE": "never"}
        self.reporter.info(f"cloning {proc.redact(self.plan.repo_url)}")
        try:
            repo = git.Repo.clone_from(self.plan.repo_url, temp, env=env)
            if self.plan.ref:
                self._checkout(repo, self.plan.ref)
        except (git.GitCommandError, git.GitError) as exc:
            fsops.remove_own_folder(temp, marker=".partial-clone")
            raise ProcessError(f"cannot clone {proc.redact(self.plan.repo_url)}: "
                               f"{_git_message(exc)}") from exc
        except BaseException:
            fsops.remove_own_folder(temp, marker=".partial-clone")
            raise
        commit = repo.head.commit.hexsha
        repo.close()
        kill_point("clone-rename")
        if root.exists():
            root.rmdir()  # empty (checked above)
        root.parent.mkdir(parents=True, exist_ok=True)
        fsops.move_aside(temp, root)
        self.state.attach(root)
        return f"{root} at {commit[:12]}"

    def _adopt_checkout(self, root: Path) -> str:
        import git

        try:
            repo = git.Repo(root)
            if self.plan.ref:
                head = repo.head.commit.hexsha
                try:
                    wanted = repo.commit(self.plan.ref).hexsha
                except (git.BadName, ValueError):
                    wanted = None
                if wanted != head:
                    if repo.is_dirty(untracked_files=False):
                        raise UsageError(f"{root} has local changes; cannot check out "
                                         f"{self.plan.ref}", hint="commit or stash them first")
                    self._checkout(repo, self.plan.ref)
            commit = repo.head.commit.hexsha
            self.state.attach(root)
        except (git.GitCommandError, git.InvalidGitRepositoryError, ValueError) as exc:
            raise UsageError(f"{root} is a broken git checkout: {_git_message(exc)}",
                             hint="run 'repair check' on it, or choose another --dir") from exc
        return f"existing checkout {root} at {commit[:12]}"

    def _checkout(self, repo: Any, ref: str) -> None:
        import git

        try:
            repo.git.checkout(ref)
        except git.GitCommandError:
            repo.git.fetch("origin", ref)
            repo.git.checkout("FETCH_HEAD")

    def extensions(self) -> str:
        import git

        snap = self.plan.snapshot or {}
        done, missed = 0, []
        for ext in snap.get("extensions", []):
            rel = str(ext.get("path", ""))
            info = _git_info(ext.get("git"))
            remote, commit = info.get("remote"), info.get("commit")
            target = (self.req.dir / rel).resolve()
            if not rel or not target.is_relative_to(self.req.dir.resolve()):
                continue
            if not remote or "****" in str(remote) or not commit:
                missed.append(rel)
                self.plan.not_reproduced.append(
                    {"what": rel, "why": "the snapshot has no usable remote or commit for it",
                     "instead": "not installed"})
                continue
            try:
                if (target / ".git").exists():
                    repo = git.Repo(target)
                else:
                    temp = _partial(target, "partial-clone")
                    fsops.remove_own_folder(temp, marker=".partial-clone")
                    repo = git.Repo.clone_from(str(remote), temp,
                                               env={"GIT_TERMINAL_PROMPT": "0"})
                    repo.close()
                    fsops.move_aside(temp, target)
                    repo = git.Repo(target)
                if repo.head.commit.hexsha != commit:
                    self._checkout(repo, str(commit))
                repo.close()
                done += 1
            except (git.GitCommandError, git.GitError, OSError) as exc:
                missed.append(rel)
                self.plan.not_reproduced.append(
                    {"what": rel, "why": f"cannot clone or check out: {_git_message(exc)}",
                     "instead": "not installed"})
        return f"{done} extension(s) at their recorded commits" + (
            f"; not reproduced: {', '.join(missed)}" if missed else "")

    def choose_python(self) -> None:
        facts = self.state.facts
        recorded = facts.get("python")
        if (not self.redo and "python" not in self.plan.todo and isinstance(recorded, dict)
                and Path(recorded.get("path", "")).exists()):
            self.python = recorded
            self.results.append(StepResult("python", "skipped", 0.0, "already done"))
            return

        def pick() -> str:
            requested = self.req.python
            snap = self.plan.snapshot
            recommended = self.plan.manifest.python_recommended or None
            if snap is not None and not requested:
                version = _git_info(snap.get("python")).get("version")
                if version:
                    xy = ".".join(str(version).split(".")[:2])
                    try:
                        info = choose_python(self.plan.manifest.python_supported or None, xy,
                                             recommended)
                    except UsageError:
                        info = choose_python(self.plan.manifest.python_supported or None, None,
                                             recommended)
                        self.plan.notes.append(
                            f"the snapshot used Python {version}; none found here, so Python "
                            f"{info['version']} was chosen instead")
                        self.plan.not_reproduced.append(
                            {"what": f"Python {version}", "why": "not found on this machine",
                             "instead": f"Python {info['version']}"})
                    return self._set_python(info)
            info = choose_python(self.plan.manifest.python_supported or None, requested,
                                 recommended)
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
        from repair.app.requirements import ReqSet, parse_file
        from repair.rebuild.verify import preflight
        from repair.rebuild.workingset import requirement_files

        reqs, seen = ReqSet(), set[Path]()
        for path in requirement_files(self.req.dir, self.plan.manifest)[0]:
            parse_file(path, _set=reqs, _seen=seen)
        wanted = [line.requirement for line in reqs.requirements
                  if line.requirement is not None and not line.url]
        index = self.req.index
        options = {"index_url": index.index_url, "extra_index_urls": index.extra_index_urls,
                   "find_links": index.find_links, "offline": index.offline}
        preflight(wanted, str(self.python["path"]), options, torch=torch,
                  reporter=self.reporter, requirement_options=reqs.options,
                  hint="nothing was built", needs="the install")

    def _set_python(self, info: dict[str, Any]) -> str:
        self.python = info
        self.state.facts.update(python=info, python_key=_state_key(info["path"], info["version"]),
                                python_requested=self.req.python)
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
        from repair.rebuild.build import create_venv

        building.mkdir(parents=True)
        how = create_venv(str(self.python["path"]), building, prompt=self.venv.name,
                          installer=self.req.installer, version=str(self.python["version"]))
        return f"built aside in {building.name} ({how})"

    def choose_backend(self) -> None:
        facts = self.state.facts
        asked = self.req.backend if self.req.backend and self.req.backend != "auto" else None
        if asked is None and self.plan.snapshot is not None and not facts.get("backend"):
            asked = None  # the machine decides; the snapshot's backend is compared below

        def detect() -> str:
            machine = backend_mod.detect(asked)
            backend, devices, source = machine.backend, machine.devices, machine.source
            snap_backend = _git_info((self.plan.snapshot or {}).get("torch")).get("backend")
            if snap_backend and asked is None and snap_backend != backend:
                self.plan.notes.append(
                    f"the snapshot's torch was built for {snap_backend}; this machine has "
                    f"{backend}: torch for {backend} is installed from the manifest instead")
                self.plan.not_reproduced.append(
                    {"what": f"torch for {snap_backend}", "why": f"this machine is {backend}",
                     "instead": f"torch for {backend} from the manifest"})
            self.backend, self.devices = backend, tuple(devices)
            facts.update(backend=backend, devices=list(devices))
            return f"{backend} ({source}" + (f": {', '.join(devices)}" if devices else "") + ")"

        if not self.redo and facts.get("backend") and (asked in (None, facts["backend"])):
            self.backend = str(facts["backend"])
            self.devices = tuple(facts.get("devices", []))
            self.results.append(StepResult("backend", "skipped", 0.0, "already done"))
            return
        self.step("backend", lambda: _state_key(self.backend), detect)

    def install_torch(self, spec: dict[str, Any] | None) -> str:
        if spec is None:
            return "the manifest installs no torch"
        from repair.rebuild.build import install_torch

        install_torch(_venv_python(self.work_venv()), spec, work=self.venv.parent, keep=None,
                      index=self.req.index, log=self.log(),
                      reporter=self.reporter, installer=self.req.installer)
        return " ".join(spec["requirements"])

    def install_requirements(self) -> None:
        from repair.rebuild.workingset import requirement_files

        root, manifest = self.req.dir, self.plan.manifest
        if self.plan.snapshot is not None:
            pins, skipped = self._snapshot_pins()
            content = "\n".join(pins)
            files: list[Path] = []
            constraints: list[Path] = []
        else:
            pins, skipped = [], []
            files, constraints = requirement_files(root, manifest)
            content = "\n".join(p.read_text(encoding="utf-8", errors="replace")
                                for p in files + constraints)
        key = _state_key(content, self.backend)

        def install() -> str:
            args: list[str] = []
            if pins:
                folder = state_dir(self.req.dir) or self.req.dir
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
                    f"; left out: {', '.join(skipped)}" if skipped else "")
            if not files:
                self.reporter.warn("the app has none of its requirement files "
                                   f"({', '.join(manifest.requirement_files)})")
            return f"from {', '.join(f.name for f in files) or 'nothing'}"

        self.state.facts["requirements_key"] = key
        self.step("requirements", key, install)

    def _snapshot_pins(self) -> tuple[list[str], list[str]]:
        from repair.rebuild.workingset import pin_line

        snap = self.plan.snapshot or {}
        system = _git_info(snap.get("platform")).get("system")
        other_os = bool(system) and system != platform.system()
        snap_backend = _git_info(snap.get("torch")).get("backend")
        other_backend = bool(snap_backend) and snap_backend != self.backend
        if other_os:
            self.plan.notes.append(f"the snapshot comes from {system}; this is "
                                   f"{platform.system()}: wheels made for one system only are "
                                   "left out")
        pins, skipped = [], []
        for dist in snap.get("distributions", []):
            name = _canon(str(dist.get("name", "")))
            if not name or name in TORCH_FAMILY:
                continue
            if name in SEED_PACKAGES:
                continue
            if (other_os or other_backend) and PLATFORM_ONLY.match(name):
                skipped.append(f"{name}=={dist.get('version')}")
                why = f"made for {system}" if other_os else f"part of torch for {snap_backend}"
                self.plan.not_reproduced.append(
                    {"what": f"{name}=={dist.get('version')}", "why": why,
                     "instead": "what torch for this machine needs"})
                continue
            pins.append(pin_line(str(dist["name"]), str(dist["version"]), dist.get("source")))
        return pins, skipped

    def _put_venv_in_place(self) -> None:
        building = self.building
        if not building.exists():
            return  # already in place (a run killed after the move)
        if os.path.lexists(self.venv):
            # Backed up first (moved into the app's backups by a rename), never deleted.
            from repair.app.target import resolve
            from repair.backup.store import create_backup
            from repair.context import Context

            manifest = self.plan.manifest
            install = resolve(str(self.req.dir), str(self.venv),
                              manifest.source if manifest.source != "built-in" else manifest.name)
            kept = create_backup(Context(install, reporter=self.reporter), move_venv=True,
                                 reporter=self.reporter, reason="before repair install")
            self.reporter.info(f"the venv that was there is kept as backup {kept.id}")
            kill_point("venv-kept")
        fsops.move_aside(building, self.venv)
        relocate_venv(self.venv, building)

    def write_launch(self) -> str:
        from repair.app.launchargs import card_advice, write_launch_args

        for note in card_advice(self.backend or "", self.devices):
            self.plan.notes.append(note)
            self.reporter.info(note)
        changed = write_launch_args(self.req.dir, self.launch)
        self.changed = [str(p) for p in changed]
        args = " ".join(self.launch) or "(none needed)"
        where = ", ".join(p.name for p in changed) or "unchanged"
        return f"{args} -> {where}"

    def verify(self) -> str:
        from repair.app.target import resolve
        from repair.commands.check import check
        from repair.context import Context

        manifest = self.plan.manifest
        ctx = Context(resolve(str(self.req.dir), str(self.venv),
                              manifest.source if manifest.source != "built-in" else manifest.name),
                      {"deep": True, "backend": self.backend}, self.reporter)
        self.report = check(ctx)
        summary = self.report.summary
        if not summary.healthy:
            ids = ", ".join(sorted({f.id for f in self.report.findings
                                    if f.severity.value == "error"}))
            raise _Unhealthy(f"the check found {summary.errors} error(s): {ids}")
        return f"healthy ({summary.warnings} warning(s), {summary.infos} info)"


class _Unhealthy(Exception):
    pass


def _git_message(exc: BaseException) -> str:
    text = str(getattr(exc, "stderr", "") or exc).strip()
    lines = [ln.strip().removeprefix("stderr:").strip(" '") for ln in text.splitlines()
             if ln.strip()]
    fatal = [ln for ln in lines if "fatal:" in ln or "error:" in ln]
    return proc.redact((fatal or lines or [type(exc).__name__])[-1])


def relocate_venv(venv: Path, old: Path) -> int:
    """A venv moved from ``old`` to ``venv``: rewrite the old path in its scripts (activate,
    console-script shebangs, Windows launchers) and ``pyvenv.cfg``. Returns the files changed.

    Windows launchers keep their zip archive intact: only the shebang before it changes, and the
    launcher finds the archive from its end."""
    from repair.env.layout import VenvLayout

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


# ---------------------------------------------------------------------------------------------
# The pieces shared with other commands (Python, backend, pip).


def choose_python(spec: str | None, requested: str | None, recommended: str | None
                  ) -> dict[str, Any]:
    """``{"path", "version"}`` of the interpreter for the venv (``repair.env.pythons``)."""
    info = pythons.choose_python(spec, requested, recommended)
    return {"path": str(info.path), "version": str(info.version)}


# ---------------------------------------------------------------------------------------------
# The entry point


def default_log_path() -> Path:
    from platformdirs import user_log_dir

    folder = Path(user_log_dir("webui-repair", appauthor=False))
    return folder / f"install-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"


def run_install(plan: InstallPlan, reporter: Reporter,
                confirm: Callable[[InstallPlan], bool] | None = None) -> InstallResult:
    """Do the plan. Asks ``confirm`` once (when given) before changing anything.

    Raises ``UsageError`` (bad input, exit 2), ``BusyError`` (another install runs, 6) and
    ``RolledBackError`` (a step failed; the half-built venv or clone was removed, 4)."""
    started = time.monotonic()
    if plan.finished:
        reporter.step(f"{plan.request.dir} is already installed; nothing to do")
        result = InstallResult(plan, [StepResult(s, "skipped", 0.0, "already done")
                                      for s in _all_steps(plan)])
        result.backend = plan.state.facts.get("backend")
        result.python = dict(plan.state.facts.get("python") or {})
        result.launch_args = _launch_args(plan.manifest, result.backend)
        result.duration_ms = int((time.monotonic() - started) * 1000)
        return result
    if confirm is not None and not confirm(plan):
        raise UsageError("nothing was changed (the plan was not confirmed)")
    if plan.request.log_path is None:
        plan = _with_log(plan, default_log_path())
    runner = _Runner(plan, reporter, confirm)
    with _lock(plan.request.dir, plan.venv):
        try:
            runner.run()
        except _Unhealthy as exc:
            reporter.warn(str(exc))
        except RepairError as exc:
            raise _failed(runner, exc) from exc
        except OSError as exc:
            raise _failed(runner, RepairError(f"{type(exc).__name__}: {exc}")) from exc
    result = InstallResult(plan, runner.results, runner.backend, runner.python, runner.launch,
                           runner.changed, runner.report)
    result.duration_ms = int((time.monotonic() - started) * 1000)
    return result


def _all_steps(plan: InstallPlan) -> list[str]:
    return [s for s in STEPS if s != "extensions" or plan.snapshot is not None]


def _with_log(plan: InstallPlan, log: Path) -> InstallPlan:

    plan.request = replace(plan.request, log_path=log)
    return plan


def _failed(runner: _Runner, exc: RepairError) -> RepairError:
    """Clean up after a failed step: no half-built venv or clone stays behind."""
    if isinstance(exc, UsageError | BusyError | PreflightError):
        _cleanup(runner)
        return exc
    failed = next((r.name for r in reversed(runner.results) if r.status == "failed"), "?")
    removed = _cleanup(runner)
    kept = ""
    if (runner.req.dir / ".git").exists():
        kept = f"; the checkout {runner.req.dir} is kept, and the next run goes on from there"
    message = (f"install failed at step '{failed}': {exc.message}"
               + (f"; removed the half-built {', '.join(removed)}" if removed else "") + kept)
    log = runner.req.log_path
    hint = exc.hint or (f"the log is {log}" if log is not None and log.exists() else None)
    return RolledBackError(message, hint=hint)


def _cleanup(runner: _Runner) -> list[str]:
    removed = []
    building = runner.building
    if building.exists():
        fsops.remove_own_folder(building, marker=".partial")
        removed.append(f"venv ({building.name})")
        if runner.state.path is not None:
            runner.state.forget(*VENV_STEPS)
    temp = _partial(runner.req.dir, "partial-clone")
    if temp.exists():
        fsops.remove_own_folder(temp, marker=".partial-clone")
        removed.append("clone")
    return removed


@contextlib.contextmanager
def _lock(root: Path, venv: Path) -> Iterator[None]:
    """The application's and the venv's locks, the ones ``repair`` takes too (exit 6)."""
    from repair.transaction.journal import locked

    with locked(root, venv):
        yield
