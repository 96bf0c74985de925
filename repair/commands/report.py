"""``repair report``: a support report to paste into an issue or a forum thread.

The install (app, version, commit, launch arguments), the machine (OS, Python, GPU, driver, torch
build), the package sources, the health findings, the last diagnosis of the app's log and what
``repair`` would do, as Markdown (GitHub ``<details>`` blocks for the long parts) or JSON. Every
string goes through one scrubber before it is shown: credentials in URLs, tokens, passwords and
keys (also in launch arguments), the user's home folder and user names in paths.
"""

from __future__ import annotations

import os
import platform
import re
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from repair.app.target import resolve_selection
from repair.context import Context

if TYPE_CHECKING:
    from repair.options import CheckOptions, InstallSelection
    from repair.progress import Reporter

SCHEMA = "repair.support/1"
# Where the web UIs write their own log (newest wins); --log names another.
LOG_NAMES = ("sdnext.log", "comfyui.log", "user/comfyui*.log", "webui.log", "log/*.log",
             "logs/*.log")
# Launch arguments whose value is a secret.
_SECRET_FLAG = re.compile(r"(?i)^--?[\w-]*(auth|token|password|passwd|secret|key|ngrok)[\w-]*$")
_SECRET_INLINE = re.compile(
    r"(?i)(--?[\w-]*(?:auth|token|password|passwd|secret|key|ngrok)[\w-]*[= ])(\S+)")
_HF_TOKEN = re.compile(r"\b(hf_|ghp_|github_pat_|sk-)[A-Za-z0-9_]{8,}")
_USER_PATH = re.compile(r"(?i)([\\/](?:Users|home)[\\/])([^\\/\s\"'`]+)")


class Scrubber:
    """Secrets and personal names out of every string of the report."""

    def __init__(self, home: str | None = None, user: str | None = None) -> None:
        self.home = home if home is not None else os.path.expanduser("~")
        if user is None:
            try:
                import getpass

                user = getpass.getuser()
            except Exception:  # noqa: BLE001 - no user name is nothing to hide
                user = ""
        self.user = user or ""

    def text(self, value: str) -> str:
        from repair.proc import redact

        out = redact(value)
        out = _SECRET_INLINE.sub(lambda m: m.group(1) + "****", out)
        out = _HF_TOKEN.sub(lambda m: m.group(1) + "****", out)
        for home in {self.home, self.home.replace("\\", "/")}:
            if home and len(home) > 1:
                out = out.replace(home, "~")
        out = _USER_PATH.sub(lambda m: m.group(1) + "<user>", out)
        if len(self.user) >= 3:
            out = re.sub(rf"(?<![\w.-]){re.escape(self.user)}(?![\w.-])", "<user>", out)
        return out

    def args(self, args: list[str]) -> list[str]:
        """Launch arguments: the value after a secret-looking flag is hidden."""
        out: list[str] = []
        hide = False
        for arg in args:
            if hide:
                out.append("****")
                hide = False
                continue
            flag = arg.split("=", 1)[0]
            if _SECRET_FLAG.match(flag):
                if "=" in arg:
                    out.append(flag + "=****")
                else:
                    out.append(arg)
                    hide = True
                continue
            out.append(self.text(arg))
        return out

    def data(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.data(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.data(v) for v in value]
        return value


def find_log(root: Path) -> Path | None:
    """The app's own log, newest first."""
    found: list[Path] = []
    for pattern in LOG_NAMES:
        found += [p for p in root.glob(pattern) if p.is_file()]
    if not found:
        return None
    return max(found, key=lambda p: p.stat().st_mtime)


def _install_facts(ctx: Context) -> dict[str, Any]:
    from repair.app.gitrepo import git, has_git, inspect, remote_url
    from repair.checks.torch import launch_args

    install = ctx.install
    manifest = install.manifest
    facts: dict[str, Any] = {
        "app": manifest.name, "title": manifest.title, "dir": str(install.dir),
        "venv": str(install.venv), "version": None, "commit": None, "branch": None,
        "remote": None, "dirty_files": 0, "launch_args": launch_args(ctx),
        "settings_file": str(install.settings_file) if install.settings_file else None,
    }
    if has_git() and (install.dir / ".git").exists():
        state = inspect(install.dir, timeout=20)
        if state.ok:
            facts.update(commit=state.head, branch=state.branch, dirty_files=len(state.dirty))
            described = git(install.dir, "describe", "--tags", "--always", timeout=20)
            if described.ok:
                facts["version"] = described.stdout.strip() or None
            facts["remote"] = remote_url(install.dir)
    return facts


def _machine_facts(ctx: Context, target: dict[str, Any]) -> dict[str, Any]:
    backend = dict(target.get("backend") or {})
    machine: dict[str, Any] = {
        "os": platform.platform(), "system": platform.system(), "arch": platform.machine(),
        "tool_python": platform.python_version(),
        "venv_python": (target.get("python") or {}).get("version"),
        "backend": backend.get("machine"), "gpus": backend.get("devices", []),
        "driver": backend.get("driver"), "driver_cuda": backend.get("driver_cuda"),
        "torch": backend.get("torch"), "torch_version": backend.get("torch_version"),
    }
    return machine


def _sources(ctx: Context) -> dict[str, Any]:
    from repair.index.config import load_pip_config

    try:
        config = load_pip_config(venv=ctx.venv if ctx.venv_exists else None,
                                 index=ctx.options.index)
    except Exception as exc:  # noqa: BLE001 - a report never fails on one part
        return {"error": str(exc)}
    return {"index_urls": list(config.index_urls), "find_links": list(config.find_links),
            "no_index": config.no_index, "proxy": config.proxy,
            "files": [str(f) for f in config.files]}


def support_report(where: InstallSelection, options: CheckOptions, reporter: Reporter,
                   *, log: str | None = None) -> dict[str, Any]:
    """The support report of the install at ``where``, as data, scrubbed (``build_report``)."""
    install = resolve_selection(where)
    options = replace(options, backend=options.backend or "auto")  # the GPU belongs in it
    return build_report(Context(install, options, reporter=reporter), log=log)


def build_report(ctx: Context, *, log: str | None = None,
                 scrubber: Scrubber | None = None) -> dict[str, Any]:
    """The support report as data, scrubbed."""
    from repair import __version__
    from repair.checks.runner import check
    from repair.plan.planner import make_plan

    started = time.perf_counter()
    scrubber = scrubber or Scrubber()
    log_path = Path(log) if log else find_log(ctx.install.dir)
    diagnosis: dict[str, Any] | None = None
    if log_path is not None:  # first: a log named wrong is one line, before any work
        from repair.diagnose.scan import diagnose_log

        d = diagnose_log(log_path)
        diagnosis = {"log": str(log_path), "modified": time.strftime(
            "%Y-%m-%d %H:%M", time.localtime(log_path.stat().st_mtime)), **d.to_json()}
    report = check(ctx)
    plan = make_plan(ctx, report.findings)  # what a plain 'repair' would do
    install = _install_facts(ctx)
    launch = scrubber.args([str(a) for a in install.pop("launch_args")])
    data: dict[str, Any] = {
        "schema": SCHEMA,
        "tool": {"name": "webui-repair", "version": __version__},
        "created": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "install": {**install, "launch_args": launch},
        "machine": _machine_facts(ctx, report.target),
        "sources": _sources(ctx),
        "findings": [f.to_json() for f in report.findings],
        "summary": report.summary.to_json(),
        "running": report.extra.get("running", []),
        "diagnosis": diagnosis,
        "plan": plan.to_json(),
        "not_fixed": [{"id": f.id, "message": f.message, "remedy": f.remedy}
                      for f in plan.unresolved],
        "duration_ms": 0,
    }
    data = scrubber.data(data)
    data["install"]["launch_args"] = launch  # scrubbed as arguments, not again as text
    data["duration_ms"] = int((time.perf_counter() - started) * 1000)
    return data


def _details(summary: str, body: list[str]) -> list[str]:
    return ["<details>", f"<summary>{summary}</summary>", "", *body, "", "</details>", ""]


def markdown(data: dict[str, Any]) -> str:
    """The report as GitHub-flavoured Markdown: a short head that fits a screen, the long parts
    folded in ``<details>`` blocks."""
    from repair.model import Finding, Fix, Severity
    from repair.render import report_text

    inst, mach, summ = data["install"], data["machine"], data["summary"]
    lines = [f"### webui-repair report ({data['tool']['version']}, {data['created']})", ""]
    version = inst.get("version") or "unknown version"
    commit = (inst.get("commit") or "")[:10] or "no commit"
    lines += [
        "| | |", "| --- | --- |",
        f"| app | {inst['title']} (`{inst['app']}`) {version}, commit `{commit}`"
        + (f" on `{inst['branch']}`" if inst.get("branch") else "")
        + (f", {inst['dirty_files']} changed file(s)" if inst.get("dirty_files") else "") + " |",
        f"| folder | `{inst['dir']}` |",
        f"| venv | `{inst['venv']}`, Python {mach.get('venv_python') or 'unknown'} |",
        f"| launch | `{' '.join(inst['launch_args']) or '(none)'}` |",
        f"| OS | {mach['os']} ({mach['arch']}) |",
        f"| GPU | {', '.join(mach['gpus']) or 'none found'}; backend {mach['backend'] or '?'}"
        + (f", driver {mach['driver']}" if mach.get("driver") else "")
        + (f" (CUDA {mach['driver_cuda']})" if mach.get("driver_cuda") else "") + " |",
        f"| torch | {mach.get('torch_version') or 'not installed'}"
        + (f" ({mach['torch']} build)" if mach.get("torch") else "") + " |",
        f"| health | {summ['errors']} error(s), {summ['warnings']} warning(s), "
        f"{summ['infos']} note(s): {'healthy' if summ['healthy'] else 'not healthy'} |",
        "",
    ]
    if data["findings"]:
        findings = [Finding(f["id"], Severity(f["severity"]), f["subject"], f["message"],
                            f["remedy"], Fix(f["fix"]), f["restart_required"],
                            f.get("details", {})) for f in data["findings"]]
        from repair.model import Report

        text = report_text(Report(target={}, findings=findings,
                                  extra={"running": data.get("running", [])}),
                           hint=None, findings_only=True)
        lines += _details(f"Findings ({len(findings)})", ["```", text.rstrip(), "```"])
    if data.get("diagnosis"):
        d = data["diagnosis"]
        body = [f"Log `{d['log']}` ({d['modified']}, {d['lines']} lines): {d['verdict']}", ""]
        for c in d["causes"][:10]:
            body.append(f"- `{', '.join(c['ids'])}` (lines {', '.join(map(str, c['lines'][:5]))})"
                        f": {c['cause']} Rebuild helps: {c['rebuild_helps']}.")
        lines += _details("Last diagnosis of the log", body)
    plan = data["plan"]
    body = [f"{n}. {s['summary']}" for n, s in enumerate(plan, 1)] or ["Nothing to do."]
    if data["not_fixed"]:
        body += ["", "Not fixed automatically:"]
        body += [f"- `{f['id']}`: {f['message']} (what to do: {f['remedy']})"
                 for f in data["not_fixed"]]
    lines += _details("What `repair` would do", body)
    src = data["sources"]
    if src.get("error"):
        body = [f"could not be read: {src['error']}"]
    else:
        body = [f"- index: `{u}`" for u in src["index_urls"]] or ["- no index (--no-index)"]
        body += [f"- find-links: `{u}`" for u in src["find_links"]]
        body += [f"- config file: `{f}`" for f in src["files"]]
        if src.get("proxy"):
            body.append(f"- proxy: `{src['proxy']}`")
    lines += _details("Package sources", body)
    lines.append("Secrets, tokens and user names in paths are hidden. Made with "
                 "`repair report`.")
    return "\n".join(lines) + "\n"


def copy_to_clipboard(text: str) -> str | None:
    """Put ``text`` on the clipboard with the platform's own tool; the tool's name, or None
    when there is none."""
    from repair import proc

    candidates: list[list[str]]
    if sys.platform == "win32":
        candidates = [["clip"]]
    elif sys.platform == "darwin":
        candidates = [["pbcopy"]]
    else:
        candidates = [["wl-copy"], ["xclip", "-selection", "clipboard"],
                      ["xsel", "--clipboard", "--input"]]
    for argv in candidates:
        if proc.which(argv[0]) is None:
            continue
        import subprocess

        try:
            # clip.exe reads the console's code page unless the text says it is UTF-16
            data = ("\ufeff" + text).encode("utf-16-le") if argv == ["clip"] \
                else text.encode("utf-8")
            done = subprocess.run(argv, input=data, capture_output=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            continue
        if done.returncode == 0:
            return argv[0]
    return None
