"""Text renderers of results, for people. (JSON is each result's ``to_json``.)"""

from __future__ import annotations

from repair.model import Finding, Report, Severity

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


def report_text(report: Report, *, color: bool = False, verbose: bool = False) -> str:
    t = report.target
    python = (t.get("python") or {}).get("version") or "unknown"
    backend = t.get("backend") or {}
    head = [
        f"{paint('install', 'bold', color)}  {t['dir']}",
        f"  app      {t['manifest']}" + (f"  ({t['sources']['manifest']})" if verbose else ""),
        f"  venv     {t['venv']}" + (f"  ({t['sources']['venv']})" if verbose else ""),
        f"  python   {python}",
    ]
    if backend.get("machine") or backend.get("torch"):
        head.append(f"  backend  machine: {backend.get('machine') or 'unknown'}, "
                    f"torch: {backend.get('torch') or 'not installed'}")
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
        if not s.healthy:
            lines.append("Run 'repair --dry-run' to see what a repair would do.")
    if report.restart_required:
        lines.append(paint("Restart the web UI for the changes to take effect.", "warning", color))
    return "\n".join(lines).rstrip() + "\n"
