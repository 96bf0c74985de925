"""``repair report`` as GitHub-flavoured Markdown: a short head that fits a screen, the long
parts (findings, the log's diagnosis, the plan, the package sources) folded in ``<details>``
blocks. The data comes scrubbed (``commands.report``)."""

from __future__ import annotations

from typing import Any

from repair.model import Finding, Fix, Report, Severity
from repair.render.report import report_text


def _details(summary: str, body: list[str]) -> list[str]:
    return ["<details>", f"<summary>{summary}</summary>", "", *body, "", "</details>", ""]


def support_markdown(data: dict[str, Any]) -> str:
    """The report as GitHub-flavoured Markdown: a short head that fits a screen, the long parts
    folded in ``<details>`` blocks."""
    inst, mach, summ = data["install"], data["machine"], data["summary"]
    lines = [f"### webui-repair report ({data['tool']['version']}, {data['created']})", ""]
    version = inst.get("version") or "unknown version"
    commit = (inst.get("commit") or "")[:10] or "no commit"
    lines += [
        "| | |",
        "| --- | --- |",
        f"| app | {inst['title']} (`{inst['app']}`) {version}, commit `{commit}`"
        + (f" on `{inst['branch']}`" if inst.get("branch") else "")
        + (f", {inst['dirty_files']} changed file(s)" if inst.get("dirty_files") else "")
        + " |",
        f"| folder | `{inst['dir']}` |",
        f"| venv | `{inst['venv']}`, Python {mach.get('venv_python') or 'unknown'} |",
        f"| launch | `{' '.join(inst['launch_args']) or '(none)'}` |",
        f"| OS | {mach['os']} ({mach['arch']}) |",
        f"| GPU | {', '.join(mach['gpus']) or 'none found'}; backend {mach['backend'] or '?'}"
        + (f", driver {mach['driver']}" if mach.get("driver") else "")
        + (f" (CUDA {mach['driver_cuda']})" if mach.get("driver_cuda") else "")
        + " |",
        f"| torch | {mach.get('torch_version') or 'not installed'}"
        + (f" ({mach['torch']} build)" if mach.get("torch") else "")
        + " |",
        f"| health | {summ['errors']} error(s), {summ['warnings']} warning(s), "
        f"{summ['infos']} note(s): {'healthy' if summ['healthy'] else 'not healthy'} |",
        "",
    ]
    if data["findings"]:
        findings = [
            Finding(
                f["id"],
                Severity(f["severity"]),
                f["subject"],
                f["message"],
                f["remedy"],
                Fix(f["fix"]),
                f["restart_required"],
                f.get("details", {}),
            )
            for f in data["findings"]
        ]
        text = report_text(
            Report(target={}, findings=findings, extra={"running": data.get("running", [])}),
            hint=None,
            findings_only=True,
        )
        lines += _details(f"Findings ({len(findings)})", ["```", text.rstrip(), "```"])
    if data.get("diagnosis"):
        d = data["diagnosis"]
        body = [f"Log `{d['log']}` ({d['modified']}, {d['lines']} lines): {d['verdict']}", ""]
        for c in d["causes"][:10]:
            body.append(
                f"- `{', '.join(c['ids'])}` (lines {', '.join(map(str, c['lines'][:5]))})"
                f": {c['cause']} Rebuild helps: {c['rebuild_helps']}."
            )
        lines += _details("Last diagnosis of the log", body)
    plan = data["plan"]
    body = [f"{n}. {s['summary']}" for n, s in enumerate(plan, 1)] or ["Nothing to do."]
    if data["not_fixed"]:
        body += ["", "Not fixed automatically:"]
        body += [
            f"- `{f['id']}`: {f['message']} (what to do: {f['remedy']})" for f in data["not_fixed"]
        ]
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
    lines.append("Secrets, tokens and user names in paths are hidden. Made with `repair report`.")
    return "\n".join(lines) + "\n"
