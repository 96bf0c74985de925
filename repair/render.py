"""Text renderers of results, for people. (JSON is each result's ``to_json``.)"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from repair.model import Finding, Report, Severity

if TYPE_CHECKING:
    from repair.manifest import Manifest

_COLORS = {"error": "31", "warning": "33", "info": "36", "ok": "32", "dim": "2", "bold": "1"}
_LABEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "info"}


def paint(text: str, style: str, color: bool) -> str:
    return f"\033[{_COLORS[style]}m{text}\033[0m" if color else text


def _finding_lines(f: Finding, color: bool) -> list[str]:
    label = paint(f"{_LABEL[f.severity]:<7}", f.severity.value, color)
    lines = [f"  {label} {paint(f.id, 'bold', color)}  {f.message}"]
    lines.append(f"          {paint('fix:', 'dim', color)} {f.remedy}")
    if f.restart_required:
        lines.append(f"          {paint('then restart the web UI', 'dim', color)}")
    return lines


CHECK_HINT = "Run 'repair --dry-run' to see what a repair would do."


def report_text(report: Report, *, color: bool = False, verbose: bool = False,
                hint: str | None = CHECK_HINT) -> str:
    t = report.target
    python = (t.get("python") or {}).get("version") or "unknown"
    backend = t.get("backend") or {}
    head = [
        f"{paint('install', 'bold', color)}  {t['dir']}",
        f"  app      {t['manifest']}" + (f"  ({t['sources']['manifest']})" if verbose else ""),
        f"  venv     {t['venv']}" + (f"  ({t['sources']['venv']})" if verbose else ""),
        f"  python   {python}",
    ]
    layout_source = (t.get("sources") or {}).get("layout")
    if t.get("layout", "venv") != "venv" or layout_source:
        head.insert(3, f"  layout   {t.get('layout', 'venv')}"
                    + (f"  ({layout_source})" if layout_source else ""))
    if backend.get("machine") or backend.get("torch"):
        machine = backend.get("machine") or "not probed"
        if backend.get("devices"):
            machine += f" ({', '.join(backend['devices'])})"
        if verbose and backend.get("machine_source"):
            machine += f" [{backend['machine_source']}]"
        torch = backend.get("torch") or "not installed"
        if backend.get("torch_version"):
            torch += f" ({backend['torch_version']})"
        head.append(f"  backend  machine: {machine}, torch: {torch}")
    lines = head + [""]
    if not report.findings:
        lines.append(paint("No problems found.", "ok", color))
    else:
        for severity in (Severity.ERROR, Severity.WARNING, Severity.INFO):
            group = [f for f in report.findings if f.severity is severity]
            if not group:
                continue
            title = {"error": "Errors", "warning": "Warnings", "info": "Notes"}[severity.value]
            lines.append(paint(f"{title} ({len(group)})", severity.value, color))
            for f in group:
                lines.extend(_finding_lines(f, color))
            lines.append("")
        s = report.summary
        verdict = "healthy" if s.healthy else "not healthy"
        lines.append(
            f"{s.errors} error(s), {s.warnings} warning(s), {s.infos} note(s): "
            + paint(verdict, "ok" if s.healthy else "error", color)
        )
        if not s.healthy and hint:
            lines.append(hint)
    if report.restart_required:
        lines.append(paint("Restart the web UI for the changes to take effect.", "warning", color))
    return "\n".join(lines).rstrip() + "\n"


def manifests_text(rows: list[dict[str, Any]], search_path: list[Path]) -> str:
    """``repair manifests list``."""
    width = max((len(r["name"]) for r in rows), default=4)
    lines = []
    for r in rows:
        text = r["error"] if r["error"] else r["title"]
        origin = r["origin"] if not r["error"] else f"{r['origin']}, INVALID"
        where = f"{origin}, {r['file']}" if r["file"] else origin
        lines.append(f"{r['name']:<{width}}  {text}  ({where})")
    lines.append("")
    lines.append("Searched, first wins: " + os.pathsep.join(str(p) for p in search_path))
    return "\n".join(lines) + "\n"


def manifest_text(m: Manifest) -> str:
    """``repair manifests show NAME``."""
    def row(label: str, value: Any) -> str | None:
        if value in (None, "", [], {}):
            return None
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        return f"  {label:<15}{value}"

    lines: list[str | None] = [f"{m.name}: {m.title}", row("file", m.source),
                               row("repository", m.repository_url and
                                   f"{m.repository_url} ({m.branch})")]
    lines += [row("markers", m.get("detect.all")), row("any of", m.get("detect.any")),
              row("none of", m.get("detect.none")), row("venv", m.venv_dirs),
              row("venv setting", m.venv_settings), row("python", m.python_supported and
                                                        f"{m.python_supported} (recommended "
                                                        f"{m.python_recommended or '-'})"),
              row("requirements", m.requirement_files), row("constraints", m.constraint_files)]
    for backend in m.torch_backends:
        spec = m.torch_for(backend) or {}
        index = spec.get("index_url") or spec.get("extra_index_url")
        text = " ".join(spec.get("packages", [])) + (f"  ({index})" if index else "")
        lines.append(row(f"torch {backend}", text))
    lines += [row("user data", m.user_data), row("models", m.model_dirs),
              row("restart", m.restart_packages), row("deep imports", m.deep_modules)]
    rules = m.conflicts
    if rules:
        lines.append(f"  {'rules':<15}{len(rules)} known-conflict rules:")
        lines += [f"    {r.get('rule')}" for r in rules]
    return "\n".join(line for line in lines if line is not None) + "\n"
