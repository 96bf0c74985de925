"""The record of a ``repair install``: which steps finished, with the inputs they finished with.

It lives in the checkout's git folder (``.git/webui-repair/install.json``), where git status does
not see it and a reclone replaces it. Written atomically after each step, so a run killed at any
point finds the last finished step. A step whose inputs changed (another backend, another commit)
is run again, and so is every step after it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from repair.fsops import atomic_write

SCHEMA = "repair.install-state/1"
STATE_NAME = "install.json"

def kill_point(step: str) -> None:
    """The crash hook (``transaction.journal``): ``WEBUI_REPAIR_TEST_CRASH_AT=install:<step>``
    ends the process in the middle of the named step (after its work, before it is recorded)."""
    from repair.transaction.journal import crash_point

    crash_point(f"install:{step}")


def state_dir(app_dir: Path) -> Path | None:
    """The tool's folder inside the checkout's git folder; None when ``app_dir`` is no checkout."""
    git = app_dir / ".git"
    if git.is_dir():
        return git / "webui-repair"
    if git.is_file():  # a worktree or submodule: "gitdir: PATH"
        text = git.read_text(encoding="utf-8", errors="replace").strip()
        if text.startswith("gitdir:"):
            target = Path(text.split(":", 1)[1].strip())
            if not target.is_absolute():
                target = app_dir / target
            return target / "webui-repair"
    return None


class InstallState:
    """Finished steps: ``{step: {"key": inputs, "seconds": s, "at": time}}`` plus facts."""

    def __init__(self, path: Path | None, data: dict[str, Any] | None = None) -> None:
        self.path = path
        self.data: dict[str, Any] = data or {"schema": SCHEMA, "steps": {}, "facts": {}}

    @classmethod
    def load(cls, app_dir: Path) -> InstallState:
        folder = state_dir(app_dir)
        if folder is None:
            return cls(None)
        path = folder / STATE_NAME
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            return cls(path)
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            return cls(path)
        data.setdefault("steps", {})
        data.setdefault("facts", {})
        return cls(path, data)

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
        self.steps[step] = {"key": key, "seconds": round(seconds, 3),
                            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        self.facts.update(facts)
        self.save()

    def forget(self, *steps: str) -> None:
        for step in steps:
            self.steps.pop(step, None)
        self.save()

    def attach(self, app_dir: Path) -> None:
        """Give a state built before the checkout existed its file (after the clone)."""
        folder = state_dir(app_dir)
        if folder is not None:
            self.path = folder / STATE_NAME

    def save(self) -> None:
        if self.path is not None:
            atomic_write(self.path, json.dumps(self.data, indent=2, sort_keys=True) + "\n")
