"""What a ``repair install`` will do: the request, the plan (the steps still to do, from the
install's record and the snapshot), and the keys that say whether a finished step finished with
the same inputs. Reads; changes nothing.

The record (``InstallState``) is a journal (``transaction.journal``) in the checkout's git folder
(``.git/webui-repair/install.json``), where git status does not see it and a reclone replaces it.
It is written atomically after each step, so a run killed at any point finds the last finished
step. A step whose inputs changed (another backend, another commit) is run again, and so is every
step after it."""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repair.app.gitrepo import git_dir
from repair.app.launchargs import recommended_args
from repair.app.manifest import Manifest, load
from repair.app.target import resolve
from repair.env.dists import canonical
from repair.env.layout import VenvLayout
from repair.env.torchbuild import TORCH_FAMILY
from repair.errors import UsageError
from repair.options import IndexOptions
from repair.progress import Reporter
from repair.rebuild.torch import manifest_torch
from repair.rebuild.workingset import pin_line
from repair.saferead import read_regular_text
from repair.transaction.journal import Journal, JournalError, crash_point

STEPS = (
    "clone",
    "extensions",
    "python",
    "backend",
    "venv",
    "torch",
    "requirements",
    "launch-args",
    "verify",
)
VENV_STEPS = ("venv", "torch", "requirements")
# Seeded by virtualenv into every venv; a snapshot's versions of them are not reproduced.
SEED_PACKAGES = ("pip", "setuptools", "wheel", "distribute")
# Wheels that only exist for one OS or GPU stack: dropped when the snapshot came from another.
PLATFORM_ONLY = re.compile(
    r"^(nvidia-.*|triton|pytorch-triton.*|torch-directml|intel-.*|"
    r"onnxruntime-(gpu|directml|openvino))$"
)
SNAPSHOT_SCHEMA = "repair.snapshot/1"
STATE_SCHEMA = "repair.install-state/1"
STATE_NAME = "install.json"


def kill_point(step: str) -> None:
    """The crash hook (``transaction.journal``): ``WEBUI_REPAIR_TEST_CRASH_AT=install:<step>``
    ends the process in the middle of the named step (after its work, before it is recorded)."""
    crash_point(f"install:{step}")


def record_dir(app_dir: Path) -> Path | None:
    """The tool's folder inside the checkout's git folder; None when ``app_dir`` is no checkout."""
    folder = git_dir(app_dir)
    return None if folder is None else folder / "webui-repair"


class InstallState:
    """Finished steps: ``{step: {"key": inputs, "seconds": s, "at": time}}`` plus facts; the
    journal's ``state`` is the last step recorded."""

    def __init__(self, path: Path | None, data: dict[str, Any] | None = None) -> None:
        self.path = path
        self.data: dict[str, Any] = data or {
            "schema": STATE_SCHEMA,
            "state": "new",
            "steps": {},
            "facts": {},
        }

    @classmethod
    def load(cls, app_dir: Path) -> InstallState:
        """The record of the checkout at ``app_dir``; an empty one when there is none or it
        cannot be read (the install then starts from its first step)."""
        folder = record_dir(app_dir)
        if folder is None:
            return cls(None)
        path = folder / STATE_NAME
        try:
            journal = Journal.load(path)
        except JournalError:
            return cls(path)
        if journal is None or journal.data.get("schema") != STATE_SCHEMA:
            return cls(path)
        journal.data.setdefault("steps", {})
        journal.data.setdefault("facts", {})
        return cls(path, journal.data)

    @property
    def steps(self) -> dict[str, dict[str, Any]]:
        steps: dict[str, dict[str, Any]] = self.data["steps"]
        return steps

    @property
    def facts(self) -> dict[str, Any]:
        facts: dict[str, Any] = self.data["facts"]
        return facts

    def done(self, step: str, key: str) -> bool:
        entry = self.steps.get(step)
        return entry is not None and entry.get("key") == key

    def record(self, step: str, key: str, seconds: float, **facts: Any) -> None:
        self.steps[step] = {
            "key": key,
            "seconds": round(seconds, 3),
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        self.facts.update(facts)
        self.data["state"] = step
        self.save()

    def forget(self, *steps: str) -> None:
        for step in steps:
            self.steps.pop(step, None)
        self.save()

    def attach(self, app_dir: Path) -> None:
        """Give a state built before the checkout existed its file (after the clone)."""
        folder = record_dir(app_dir)
        if folder is not None:
            self.path = folder / STATE_NAME

    def save(self) -> None:
        if self.path is not None:
            Journal(self.path, self.data).set()


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
class InstallStepResult:
    name: str
    status: str  # "done", "skipped" (already done), "not-needed", "failed"
    seconds: float = 0.0
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "seconds": round(self.seconds, 3),
            "detail": self.detail,
        }


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


# ---------------------------------------------------------------------------------------------
# Snapshots


def load_snapshot(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(read_regular_text(path))
    except FileNotFoundError as exc:
        raise UsageError(f"--from-snapshot: no such file: {path}") from exc
    except (OSError, ValueError, RecursionError) as exc:
        raise UsageError(
            f"--from-snapshot: {path} is not a readable JSON file ({type(exc).__name__})"
        ) from exc
    if not isinstance(data, dict) or data.get("schema") != SNAPSHOT_SCHEMA:
        raise UsageError(f"--from-snapshot: {path} is not a snapshot ({SNAPSHOT_SCHEMA})")
    if not isinstance(data.get("distributions", []), list):
        raise UsageError(f"--from-snapshot: {path}: 'distributions' is not a list")
    return data


def snapshot_part(node: Any) -> dict[str, Any]:
    """A part of a snapshot (``app``, ``git``, ``torch``, ...); empty when it is missing or not
    an object."""
    return node if isinstance(node, dict) else {}


# ---------------------------------------------------------------------------------------------
# Planning


def state_key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def venv_python(venv: Path) -> Path:
    return VenvLayout.detect(venv).python


def partial_path(path: Path, what: str) -> Path:
    """The hidden name beside ``path`` under which it is built (``.venv.partial``)."""
    return path.with_name(f".{path.name}.{what}")


def all_steps(plan: InstallPlan) -> list[str]:
    """The steps of an install, in order (``extensions`` only from a snapshot)."""
    return [s for s in STEPS if s != "extensions" or plan.snapshot is not None]


def plan_install(request: InstallRequest, reporter: Reporter | None = None) -> InstallPlan:
    """What this run will do. Reads the manifest, the snapshot and the install state; changes
    nothing. Bad input raises ``UsageError``."""
    manifest = load(request.app)
    snapshot = load_snapshot(request.snapshot) if request.snapshot else None
    notes: list[str] = []
    root = request.dir
    if root.exists() and not root.is_dir():
        raise UsageError(f"--dir {root} is a file, not a folder")

    repo_url = request.repo_url
    ref = request.ref
    if snapshot is not None:
        git = snapshot_part(snapshot_part(snapshot.get("app")).get("git"))
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
        try:
            return resolve(
                str(root), None, manifest.source if manifest.source != "built-in" else manifest.name
            ).venv
        except UsageError:
            pass
    dirs = manifest.venv_dirs
    return Path(os.path.abspath(root / (dirs[0] if dirs else "venv")))


def _todo(plan: InstallPlan) -> list[str]:
    """Every step from the first one that is not done (with the same inputs) to the end."""
    req, state = plan.request, plan.state
    steps = all_steps(plan)
    keys = _static_keys(plan)
    first = len(steps)
    for i, step in enumerate(steps):
        key = keys.get(step)
        if key is None or not state.done(step, key):
            first = i
            break
    # Reality beats the record: a venv that is gone (or still aside) redoes the venv steps.
    if first > steps.index("requirements") and not venv_python(plan.venv).exists():
        first = min(first, steps.index("venv"))
    if (
        first >= steps.index("python")
        and req.python
        and state.facts.get("python_requested") != req.python
    ):
        first = min(first, steps.index("python"))
    return steps[first:]


def _static_keys(plan: InstallPlan) -> dict[str, str | None]:
    """Keys of the steps whose inputs are known before the run; the others (``None``) are
    compared with what the run chooses (``provision.steps``)."""
    req, state = plan.request, plan.state
    facts = state.facts
    snap_key = state_key(plan.snapshot) if plan.snapshot else ""
    backend = req.backend if req.backend and req.backend != "auto" else facts.get("backend")
    python_key = facts.get("python_key")
    return {
        "clone": state_key(plan.repo_url, plan.ref),
        "extensions": state_key(snap_key),
        "python": python_key
        if (not req.python or facts.get("python_requested") == req.python)
        else None,
        "venv": state_key(python_key, str(plan.venv)),
        "backend": state_key(backend) if backend else None,
        "torch": state_key(backend, torch_spec(plan, backend)) if backend else None,
        "requirements": facts.get("requirements_key"),
        "launch-args": state_key(backend, launch_args_for(plan.manifest, backend))
        if backend
        else None,
        "verify": state_key("deep"),
    }


def launch_args_for(manifest: Manifest, backend: str | None) -> list[str]:
    return recommended_args(manifest, backend) if backend else []


def torch_spec(plan: InstallPlan, backend: str | None) -> dict[str, Any] | None:
    """The torch step's parameters for the backend (``repair.rebuild.torch.manifest_torch``), the
    snapshot's exact versions when it was taken on the same backend; None when the manifest
    installs no torch (``generic``)."""
    spec = manifest_torch(plan.manifest, backend)
    if spec is None:
        return None
    out = {
        "requirements": list(spec["packages"]),
        "index_url": spec["index_url"],
        "extra_index_url": spec["extra_index_url"],
        "backend": backend,
    }
    snap = plan.snapshot
    if snap is not None:
        torch = snapshot_part(snap.get("torch"))
        if torch.get("backend") in (None, backend):
            pins = [
                pin_line(str(d["name"]), str(d["version"]), None)
                for d in snap.get("distributions", [])
                if canonical(str(d.get("name", ""))) in TORCH_FAMILY
            ]
            if pins:
                out["requirements"] = pins
                if torch.get("index_url") and "****" not in str(torch["index_url"]):
                    out["index_url"] = torch["index_url"]
    return out
