"""``repair schedule``: a recurring health check (or pre-update check) with the platform's own
scheduler: a systemd user timer on Linux (cron where no systemd user session runs), Task
Scheduler on Windows (``schtasks``), launchd on macOS.

Everything a scheduler is given is made by pure functions (unit files, cron line, ``schtasks``
arguments, plist), so that every platform's text is tested anywhere; ``apply`` writes the files
and runs the commands. Each scheduled run (``repair schedule run``) appends one JSON line to a
history file and says what is new since the run before.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import sys
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from repair.app.target import resolve_selection
from repair.checks.runner import check
from repair.context import Context
from repair.errors import ProcessError, UsageError
from repair.options import CheckOptions
from repair.proc import run, which
from repair.selection import InstallSelection

if TYPE_CHECKING:
    from repair.model import Report
    from repair.progress import Reporter

SCHEDULERS = ("systemd", "cron", "schtasks", "launchd")
EVERY = ("daily", "weekly")
CRON_MARK = "# webui-repair:"


@dataclass(frozen=True)
class Spec:
    """One scheduled job: which install, how often, which flavour, and the program to run."""

    dir: Path
    every: str = "daily"
    at: str = "03:30"
    pre_update: bool = False
    manifest: str | None = None
    venv: str | None = None
    program: tuple[str, ...] = field(default_factory=lambda: (sys.executable, "-m", "repair"))

    def __post_init__(self) -> None:
        if self.every not in EVERY:
            raise UsageError(f"--every must be one of {', '.join(EVERY)}, not {self.every!r}")
        if not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", self.at):
            raise UsageError(f"--at must be HH:MM (24-hour clock), not {self.at!r}")

    @property
    def hour(self) -> int:
        return int(self.at.split(":")[0])

    @property
    def minute(self) -> int:
        return int(self.at.split(":")[1])

    @property
    def flavour(self) -> str:
        return "pre-update check" if self.pre_update else "health check"

    @property
    def name(self) -> str:
        """A stable name per install and flavour: ``webui-repair-<folder>-<hash>[-pre-update]``."""
        slug = re.sub(r"[^A-Za-z0-9]+", "-", self.dir.name).strip("-").lower() or "app"
        digest = hashlib.sha256(str(self.dir).encode()).hexdigest()[:8]
        return f"webui-repair-{slug}-{digest}" + ("-pre-update" if self.pre_update else "")

    def command(self) -> list[str]:
        args = [*self.program, "schedule", "run", "--dir", str(self.dir)]
        if self.manifest:
            args += ["--manifest", self.manifest]
        if self.venv:
            args += ["--venv", self.venv]
        if self.pre_update:
            args.append("--pre-update")
        return args


def _template(name: str) -> str:
    return (resources.files("repair") / "data" / "schedule" / name).read_text(encoding="utf-8")


def _systemd_quote(arg: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9_@%+=:,./-]+", arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def systemd_units(spec: Spec) -> dict[str, str]:
    """``<name>.service`` and ``<name>.timer`` for the systemd user manager."""
    calendar = (
        f"*-*-* {spec.hour:02d}:{spec.minute:02d}:00"
        if spec.every == "daily"
        else f"Sun *-*-* {spec.hour:02d}:{spec.minute:02d}:00"
    )
    values = {
        "flavour": spec.flavour,
        "dir": str(spec.dir),
        "every": spec.every,
        "calendar": calendar,
        "command": " ".join(_systemd_quote(a).replace("%", "%%") for a in spec.command()),
    }
    return {
        f"{spec.name}.service": _template("webui-repair.service.in").format(**values),
        f"{spec.name}.timer": _template("webui-repair.timer.in").format(**values),
    }


def cron_line(spec: Spec) -> str:
    dow = "*" if spec.every == "daily" else "0"
    command = " ".join(shlex.quote(a) for a in spec.command()).replace("%", "\\%")
    return f"{spec.minute} {spec.hour} * * {dow} {command} {CRON_MARK}{spec.name}"


def cron_merge(existing: str, spec: Spec, *, remove: bool = False) -> str:
    """The crontab with the job's line replaced (or removed); other lines untouched."""
    mark = f"{CRON_MARK}{spec.name}"
    lines = [ln for ln in existing.splitlines() if not ln.rstrip().endswith(mark)]
    if not remove:
        lines.append(cron_line(spec))
    return "\n".join(lines) + "\n" if lines else ""


def _windows_quote(arg: str) -> str:
    return f'"{arg}"' if (" " in arg or not arg) else arg


def schtasks_create(spec: Spec) -> list[str]:
    """The ``schtasks /Create`` command line (Windows Task Scheduler)."""
    task = " ".join(_windows_quote(a) for a in spec.command())
    args = [
        "schtasks",
        "/Create",
        "/F",
        "/TN",
        f"webui-repair\\{spec.name}",
        "/TR",
        task,
        "/SC",
        spec.every.upper(),
        "/ST",
        f"{spec.hour:02d}:{spec.minute:02d}",
    ]
    if spec.every == "weekly":
        args += ["/D", "SUN"]
    return args


def schtasks_delete(spec: Spec) -> list[str]:
    return ["schtasks", "/Delete", "/F", "/TN", f"webui-repair\\{spec.name}"]


def launchd_label(spec: Spec) -> str:
    return f"io.github.webui-repair.{spec.name}"


def launchd_plist(spec: Spec, log: Path) -> str:
    arguments = "\n".join(f"    <string>{escape(a)}</string>" for a in spec.command())
    interval = [("Hour", spec.hour), ("Minute", spec.minute)]
    if spec.every == "weekly":
        interval.append(("Weekday", 0))
    return _template("launchd.plist.in").format(
        label=launchd_label(spec),
        arguments=arguments,
        log=escape(str(log)),
        interval="\n".join(f"    <key>{k}</key>\n    <integer>{v}</integer>" for k, v in interval),
    )


def spec_for(
    where: InstallSelection, *, every: str = "daily", at: str = "03:30", pre_update: bool = False
) -> Spec:
    """The job of the install at ``where``; a manifest file and a venv are given to the
    scheduler by their absolute paths."""
    install = resolve_selection(where)
    chosen = where.manifest
    if chosen and (chosen.endswith(".toml") or os.sep in chosen or "/" in chosen):
        chosen = str(Path(chosen).resolve())
    venv_opt = str(Path(where.venv).resolve()) if where.venv else None
    return Spec(
        dir=install.dir, manifest=chosen, venv=venv_opt, every=every, at=at, pre_update=pre_update
    )


# ---------------------------------------------------------------------------------------------
# Where things go, and what runs


def systemd_user_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "systemd" / "user"


def launch_agents_dir() -> Path:
    return Path.home() / "Library" / "LaunchAgents"


def state_dir() -> Path:
    # lazy: start-up time
    from platformdirs import user_state_dir

    return Path(user_state_dir("webui-repair", appauthor=False))


def history_file(spec: Spec) -> Path:
    return state_dir() / "history" / f"{spec.name}.jsonl"


def systemd_available() -> tuple[bool, str]:
    if which("systemctl") is None:
        return False, "systemctl is not installed"
    try:
        res = run(["systemctl", "--user", "show-environment"], timeout=10)
    except ProcessError as exc:
        return False, exc.message
    if not res.ok:
        return False, ("no systemd user session: " + (res.stderr.strip().splitlines() or ["?"])[0])
    return True, ""


def detect() -> tuple[str | None, str]:
    """The scheduler to use here, and why (or why none)."""
    if sys.platform == "win32":
        return "schtasks", "Windows"
    if sys.platform == "darwin":
        return "launchd", "macOS"
    ok, why = systemd_available()
    if ok:
        return "systemd", "a systemd user session runs"
    if which("crontab"):
        return "cron", f"systemd is not usable ({why})"
    return None, f"systemd is not usable ({why}) and crontab is not installed"


def pick_scheduler(name: str) -> str:
    """``name``, or for ``auto`` the one ``detect`` finds (``UsageError`` when none)."""
    if name != "auto":
        return name
    found, why = detect()
    if found is None:
        raise UsageError(
            f"no scheduler found here: {why}",
            hint="install cron, or run in a systemd user session (loginctl enable-linger $USER)",
        )
    return found


@dataclass(frozen=True)
class SchedulePlan:
    """What an install or remove does: files to write (or delete) and commands to run."""

    scheduler: str
    files: dict[Path, str | None]  # None: delete
    commands: tuple[tuple[str, ...], ...]
    crontab: str | None = None  # cron: the job's line (install) or "" (remove)

    def to_json(self) -> dict[str, Any]:
        return {
            "scheduler": self.scheduler,
            "files": {str(k): v for k, v in self.files.items()},
            "commands": [list(c) for c in self.commands],
            "crontab": self.crontab,
        }


def plan(spec: Spec, scheduler: str, *, remove: bool = False) -> SchedulePlan:
    if scheduler == "systemd":
        folder = systemd_user_dir()
        units = systemd_units(spec)
        timer = f"{spec.name}.timer"
        if remove:
            return SchedulePlan(
                scheduler,
                {folder / n: None for n in units},
                (
                    ("systemctl", "--user", "disable", "--now", timer),
                    ("systemctl", "--user", "daemon-reload"),
                ),
            )
        return SchedulePlan(
            scheduler,
            {folder / n: t for n, t in units.items()},
            (
                ("systemctl", "--user", "daemon-reload"),
                ("systemctl", "--user", "enable", "--now", timer),
            ),
        )
    if scheduler == "cron":
        return SchedulePlan(
            scheduler,
            {},
            (("crontab", "-l"), ("crontab", "-")),
            crontab="" if remove else cron_line(spec),
        )
    if scheduler == "schtasks":
        return SchedulePlan(
            scheduler, {}, (tuple(schtasks_delete(spec) if remove else schtasks_create(spec)),)
        )
    if scheduler == "launchd":
        path = launch_agents_dir() / f"{launchd_label(spec)}.plist"
        if remove:
            return SchedulePlan(
                scheduler, {path: None}, (("launchctl", "unload", "-w", str(path)),)
            )
        log = state_dir() / "logs" / f"{spec.name}.log"
        return SchedulePlan(
            scheduler, {path: launchd_plist(spec, log)}, (("launchctl", "load", "-w", str(path)),)
        )
    raise UsageError(f"unknown scheduler {scheduler!r} (known: {', '.join(SCHEDULERS)})")


@dataclass(frozen=True)
class Applied:
    plan: SchedulePlan
    done: bool
    problem: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {**self.plan.to_json(), "done": self.done, "problem": self.problem}


def apply(p: SchedulePlan, spec: Spec, *, remove: bool = False) -> Applied:
    """Write the plan's files, then run its commands; the first failing command stops it and
    is reported (files stay written so the user can enable them by hand)."""
    for path, text in p.files.items():
        if text is None:
            path.unlink(missing_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    try:
        if p.scheduler == "cron":
            current = run(["crontab", "-l"], timeout=30)
            existing = current.stdout if current.ok else ""  # "no crontab for user" is empty
            run(
                ["crontab", "-"],
                input=cron_merge(existing, spec, remove=remove),
                timeout=30,
                check=True,
            )
        else:
            for command in p.commands:
                res = run(list(command), timeout=60)
                if not res.ok and not remove:  # removing what is not there is fine
                    lines = (res.stderr or res.stdout).strip().splitlines()
                    return Applied(
                        p,
                        False,
                        f"{' '.join(command)} failed: "
                        + (lines[0] if lines else f"exit {res.returncode}"),
                    )
    except ProcessError as exc:
        return Applied(p, False, exc.message)
    return Applied(p, True)


def status(spec: Spec, scheduler: str | None) -> dict[str, Any]:
    """Whether the job is installed (as far as the files and the scheduler say) and its last
    runs from the history file."""
    out: dict[str, Any] = {
        "name": spec.name,
        "scheduler": scheduler,
        "installed": False,
        "history": str(history_file(spec)),
        "last_runs": [],
    }
    if scheduler in ("systemd", "launchd"):
        files = [p for p in plan(spec, scheduler).files if p.exists()]
        out["installed"] = bool(files)
        out["files"] = [str(p) for p in files]
    elif scheduler == "cron":
        try:
            res = run(["crontab", "-l"], timeout=30)
            out["installed"] = f"{CRON_MARK}{spec.name}" in res.stdout
        except ProcessError as exc:
            out["problem"] = exc.message
    elif scheduler == "schtasks":
        try:
            res = run(["schtasks", "/Query", "/TN", f"webui-repair\\{spec.name}"], timeout=30)
            out["installed"] = res.ok
        except ProcessError as exc:
            out["problem"] = exc.message
    out["last_runs"] = read_history(history_file(spec))[-5:]
    return out


# ---------------------------------------------------------------------------------------------
# History of scheduled runs


def read_history(path: Path) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return entries
    for line in lines:
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut short by a crash: skip it
    return entries


def _key(finding: dict[str, Any]) -> str:
    return f"{finding['id']}:{finding['subject']}"


def record_run(path: Path, report: Report, *, pre_update: bool, exit_code: int) -> dict[str, Any]:
    """Append this run to the history and return what changed since the run before:
    ``{"file", "previous", "new", "resolved"}`` (findings as ``id:subject``)."""
    data = report.to_json()
    keys = sorted({_key(f) for f in data["findings"]})
    previous = next(
        (e for e in reversed(read_history(path)) if e.get("pre_update") == pre_update), None
    )
    before = set(previous["findings"]) if previous else set()
    entry = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "dir": data["target"]["dir"],
        "pre_update": pre_update,
        "exit": exit_code,
        "summary": data["summary"],
        "findings": keys,
    }
    if "update" in data:
        entry["update"] = {k: data["update"].get(k) for k in ("behind", "safe", "risky")}
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")
    return {
        "file": str(path),
        "previous": previous["time"] if previous else None,
        "new": [k for k in keys if k not in before],
        "resolved": sorted(before - set(keys)),
    }


def scheduled_check(
    spec: Spec, where: InstallSelection, reporter: Reporter
) -> tuple[Report, dict[str, Any]]:
    """What the scheduler runs: the check (``--pre-update`` when the job is one), one line
    appended to the job's history; returns the report and what changed since the run before."""
    # Start-up time: only the scheduled run itself needs the check engine.

    report = check(
        Context(
            resolve_selection(where), CheckOptions(pre_update=spec.pre_update), reporter=reporter
        )
    )
    change = record_run(
        history_file(spec),
        report,
        pre_update=spec.pre_update,
        exit_code=0 if report.summary.healthy else 1,
    )
    return report, change
