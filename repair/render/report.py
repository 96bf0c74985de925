"""The check report as text (``report_text``: findings of one cause folded into one entry,
wrapped at the terminal's width, coloured on a terminal) and the helpers every renderer shares:
``fold``, ``wrap``, ``paint``, ``terminal_width``."""

from __future__ import annotations

import shutil
import sys
import textwrap
from typing import Any

from repair.checks.registry import all_finding_types
from repair.model import Finding, FindingId, Report, Severity
from repair.proc import redact

_COLORS = {"error": "31", "warning": "33", "info": "36", "ok": "32", "dim": "2", "bold": "1"}
_LABEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "info"}


def fold(items: list[str] | tuple[str, ...], shown: int = 3) -> str:
    """``a, b, c and 36 more``: a list cut to its first ``shown`` items; all when ``shown`` is 0."""
    items = list(items)
    if not shown or len(items) <= shown + 1:
        if len(items) > 1:
            return ", ".join(items[:-1]) + " and " + items[-1]
        return "".join(items)
    return ", ".join(items[:shown]) + f" and {len(items) - shown} more"


def paint(text: str, style: str, color: bool) -> str:
    return f"\033[{_COLORS[style]}m{text}\033[0m" if color else text


def terminal_width(stream: Any = None) -> int:
    """The width to wrap text at: the terminal's columns (``COLUMNS`` wins), 0 (no wrapping)
    when the output is not a terminal, so that a pipe or a file gets whole lines to grep."""
    stream = stream or sys.stdout
    if not getattr(stream, "isatty", lambda: False)():
        return 0
    return max(shutil.get_terminal_size((100, 24)).columns, 40)


def wrap(text: str, width: int, first: str, rest: str) -> list[str]:
    """``text`` after the prefix ``first``, continued under ``rest``; unwrapped when width 0.
    Long words (paths, URLs) are never broken: they overflow rather than become uncopyable."""
    if not width:
        return [first + text]
    return textwrap.wrap(
        text,
        width=max(width - 1, 20),
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=False,
        break_on_hyphens=False,
    ) or [first]


_INDENT = " " * 10
# Groups of findings with one id told as one line: (phrase for n of them, remedy for them all).
_GROUP_TEXT = {
    (FindingId.REQUIREMENT_UNMET, "missing"): (
        "{n} requirements are not installed",
        "run 'repair' to install them",
    ),
    (FindingId.REQUIREMENT_UNMET, "version"): (
        "{n} requirements are installed at versions that do not fit",
        "run 'repair' to install versions that fit",
    ),
    (FindingId.DEPENDENCY_CONFLICT, ""): (
        "{n} installed distributions need what is missing or at the wrong version",
        "run 'repair' to install what they need",
    ),
    (FindingId.ORPHAN_FILES, ""): (
        "{n} files or folders in site-packages belong to no installed distribution",
        None,
    ),
    (FindingId.MISSING_FILE, ""): (
        "{n} distributions miss files listed in their RECORD",
        "run 'repair' to reinstall them",
    ),
    (FindingId.STALE_RESIDUE, ""): ("{n} leftovers of interrupted installs or uninstalls", None),
    (FindingId.DUPLICATE_DISTRIBUTION, ""): ("{n} projects have two metadata folders", None),
    (FindingId.MIXED_VERSION, ""): ("{n} distributions hold files of another version", None),
}
_FIX_TEXT = {
    "reinstall": "run 'repair' to reinstall them",
    "remove": "run 'repair' to remove them",
    "recreate-venv": "run 'repair --clean-venv' to recreate the venv",
    "reclone": "run 'repair --reclone'",
}


def _group_key(f: Finding) -> tuple[str, str, str]:
    kind = ""
    if f.id == FindingId.REQUIREMENT_UNMET:
        kind = "missing" if f.details.get("installed") is None else "version"
    return (f.id, f.severity.value, kind)


def _item(f: Finding) -> str:
    """How one finding of a group is named in the folded list."""
    if f.id == FindingId.REQUIREMENT_UNMET:
        req = str(f.details.get("requirement") or f.subject)
        installed = f.details.get("installed")
        return f"{req} (has {installed})" if installed else req
    if f.id == FindingId.DEPENDENCY_CONFLICT and f.details.get("required_by"):
        return f"{f.details['required_by']} needs {f.details.get('requirement') or f.subject}"
    return f.subject


def group_findings(findings: list[Finding]) -> list[list[Finding]]:
    """One group per cause: findings of one id (and, for requirements, one kind), in the order
    of their first member."""
    groups: dict[tuple[str, str, str], list[Finding]] = {}
    for f in findings:
        groups.setdefault(_group_key(f), []).append(f)
    return list(groups.values())


def _group_lines(group: list[Finding], color: bool, width: int) -> list[str]:
    f = group[0]
    label = f"{_LABEL[f.severity]:<7}"
    if len(group) == 1:
        message, remedy = f.message, f.remedy
    else:
        key = _group_key(f)
        phrase, remedy_text = _GROUP_TEXT.get((key[0], key[2]), (None, None))
        if phrase is None:
            ftype = all_finding_types().get(f.id)
            title = ftype.title if ftype else f.id
            phrase = f"{title} ({{n}})"
        items = list(dict.fromkeys(_item(g) for g in group))  # once each, in order
        message = phrase.format(n=len(group)) + ": " + fold(items)
        remedies = {g.remedy for g in group}
        remedy = (
            remedy_text
            or (f.remedy if len(remedies) == 1 else None)
            or _FIX_TEXT.get(f.fix.value)
            or f"{f.remedy} (and the like for the others: -v shows each)"
        )
    lines = wrap(f"{f.id}  {message}", width, f"  {label} ", _INDENT)
    if color:
        lines[0] = lines[0].replace(label, paint(label, f.severity.value, color), 1)
        lines[0] = lines[0].replace(f.id, paint(f.id, "bold", color), 1)
    fix = wrap(remedy, width, _INDENT + "fix: ", _INDENT + "     ")
    if color:
        fix[0] = fix[0].replace("fix:", paint("fix:", "dim", color), 1)
    return lines + fix


CHECK_HINT = "Run 'repair --dry-run' to see what a repair would do."


def report_text(
    report: Report,
    *,
    color: bool = False,
    verbose: bool = False,
    hint: str | None = CHECK_HINT,
    width: int = 0,
    findings_only: bool = False,
) -> str:
    """The text report, credentials in URLs redacted. Findings of one cause are one entry with
    their list folded (``-v``: every finding on its own); lines are wrapped at ``width`` (0: not
    wrapped). ``findings_only``: the findings without the install's head (a part of a larger
    report)."""
    return redact(
        _report_text(
            report,
            color=color,
            verbose=verbose,
            hint=hint,
            width=width,
            findings_only=findings_only,
        )
    )


def _report_text(
    report: Report, *, color: bool, verbose: bool, hint: str | None, width: int, findings_only: bool
) -> str:
    if findings_only:
        lines: list[str] = []
        for part in [[f] for f in report.findings] if verbose else group_findings(report.findings):
            lines.extend(_group_lines(part, color, width))
        return "\n".join(lines) + "\n"
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
        head.insert(
            3,
            f"  layout   {t.get('layout', 'venv')}"
            + (f"  ({layout_source})" if layout_source else ""),
        )
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
    lines = [*head, ""]
    if not report.findings:
        lines.append(paint("No problems found.", "ok", color))
    else:
        for severity in (Severity.ERROR, Severity.WARNING, Severity.INFO):
            group = [f for f in report.findings if f.severity is severity]
            if not group:
                continue
            title = {"error": "Errors", "warning": "Warnings", "info": "Notes"}[severity.value]
            lines.append(paint(f"{title} ({len(group)})", severity.value, color))
            parts = [[f] for f in group] if verbose else group_findings(group)
            for part in parts:
                lines.extend(_group_lines(part, color, width))
            lines.append("")
        s = report.summary
        verdict = "healthy" if s.healthy else "not healthy"
        summary = wrap(
            f"{s.errors} error(s), {s.warnings} warning(s), {s.infos} note(s): {verdict}",
            width,
            "",
            "",
        )
        summary[-1] = summary[-1].replace(
            verdict, paint(verdict, "ok" if s.healthy else "error", color), 1
        )
        lines.extend(summary)
        if not s.healthy and hint:
            lines.extend(wrap(hint, width, "", ""))
        running = report.extra.get("running") or []
        if (
            running
            and any(f.restart_required for f in report.findings)
            and not report.restart_required
        ):
            # Said once, and only when the web UI runs on this venv now.
            lines.extend(
                wrap(
                    f"The web UI is running ({fold(running)}): restart it after the repair.",
                    width,
                    "",
                    "",
                )
            )
    if report.restart_required:
        lines.extend(
            paint(line, "warning", color)
            for line in wrap("Restart the web UI for the changes to take effect.", width, "", "")
        )
    return "\n".join(lines).rstrip() + "\n"
