"""``repair guard install / remove / status`` as text."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from repair.commands.guard import GuardResult


def guard_text(result: GuardResult) -> str:
    """``repair guard install / remove / status``: each launcher, guarded or not, and what
    changed."""
    verbs = {"install": "guard added to", "remove": "guard removed from"}
    lines = []
    for lc in result.launchers:
        if result.action in verbs and lc.path in result.changed:
            lines.append(f"{verbs[result.action]} {lc.path}")
        elif lc.guarded:
            mode = "warns and goes on" if lc.warn else "stops the launch"
            lines.append(f"guarded: {lc.path} (on an error it {mode})")
        else:
            lines.append(f"not guarded: {lc.path}")
    if not result.launchers:
        lines.append("no launcher found (name one with --launcher FILE)")
    return "\n".join(lines) + "\n"
