"""``repair diagnose`` as text: each cause of a crash log with its lines, what owns the module
in the install, the remedy and whether a rebuild helps; then the verdict."""

from __future__ import annotations

from typing import TYPE_CHECKING

from repair.diagnose.signature import RebuildHelps
from repair.render.report import paint

if TYPE_CHECKING:
    from repair.diagnose.causes import Diagnosis

# Whether a rebuild helps, as said and coloured.
_MARK = {
    RebuildHelps.YES: ("rebuild fixes it", "ok"),
    RebuildHelps.PARTLY: ("rebuild may help", "warning"),
    RebuildHelps.NO: ("rebuild will NOT help", "error"),
}


def diagnosis_text(result: Diagnosis, *, color: bool = False) -> str:
    """The diagnosis of a log: ``ok`` and the verdict when nothing known was found, else each
    cause numbered, then the verdict."""
    if result.healthy:
        return f"{paint('ok', 'ok', color)}: {result.verdict}\n"
    lines = []
    for i, cause in enumerate(result.causes, 1):
        mark = _MARK[cause.rebuild_helps]
        ids = ", ".join(s.id for s in cause.signatures)
        if cause.lead.shape:
            ids += f" '{cause.subject}'"
        lines.append(paint(f"{i}. {ids}", "bold", color) + f"  [{paint(*mark, color)}]")
        for m in cause.matches:
            lines.append(f"   line {m.line}: {m.text}")
        more = cause.count - len(cause.matches)
        if more > 0:
            lines.append(f"   ... and {more} more matching line{'s' if more > 1 else ''}")
        lines.append(f"   cause:  {cause.cause}")
        tie = cause.tie
        if tie is not None and tie.distribution:
            state = f"{tie.version} installed" if tie.installed else "not installed"
            lines.append(
                f"   owner:  {tie.distribution} ({state}" + (", mixed" if tie.mixed else "") + ")"
            )
            for line in tie.wanted[:5]:
                lines.append(f"           {line}")
        if cause.node:
            lines.append(f"   node:   {cause.node}")
        lines.append(f"   remedy: {cause.remedy}")
        if cause.command:
            lines.append(f"   repair: {cause.command}")
        if cause.restart_needed:
            lines.append("   restart the application after the fix")
        lines.append(f"   seen in: {cause.lead.source[0]}")
        lines.append("")
    lines.append(paint("verdict: ", "bold", color) + result.verdict)
    return "\n".join(lines) + "\n"
