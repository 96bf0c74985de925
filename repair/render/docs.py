"""The finding docs as terminal text (``repair check --explain ID``) and the list of finding ids
(``repair check --list``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from repair.render.report import paint, wrap

if TYPE_CHECKING:
    from repair.model import FindingType


def list_text(types: Mapping[str, FindingType]) -> str:
    """``repair check --list``: every finding id with its severity, fix and title."""
    width = max(len(i) for i in types)
    fix_width = max(len(t.fix.value) for t in types.values())
    lines = [f"{'id':<{width}}  {'severity':<8}  {'fix':<{fix_width}}  title"]
    lines += [
        f"{t.id:<{width}}  {t.severity.value:<8}  {t.fix.value:<{fix_width}}  {t.title}"
        for t in sorted(types.values(), key=lambda t: t.id)
    ]
    return "\n".join(lines) + "\n"


def markdown_text(md: str, *, width: int = 0, color: bool = False) -> str:
    """The small Markdown of the finding docs as terminal text: the heading bold, ``**``, back
    quotes and link syntax dropped, paragraphs and list items wrapped at ``width`` (0: each
    paragraph on one line), code blocks kept as they are, indented."""

    def inline(text: str) -> str:
        text = re.sub(r"\*\*(.+?)\*\*", r"\1", text)
        text = re.sub(r"(?<![\w`])\*(\S.*?)\*(?!\w)", r"\1", text)
        text = re.sub(r"\[([^\]]+)\]\(([^)]+)\)", r"\1 (\2)", text)
        return re.sub(r"`([^`]+)`", r"\1", text)

    out: list[str] = []
    para: list[str] = []
    bullet: str | None = None

    def flush() -> None:
        nonlocal bullet
        if para:
            text = inline(" ".join(p.strip() for p in para))
            if bullet is not None:
                out.extend(wrap(text, width, f"  {bullet} ", "    "))
            else:
                out.extend(wrap(text, width, "", ""))
            para.clear()
        bullet = None

    lines = md.splitlines()
    in_code = False
    for line in lines:
        if line.strip().startswith("```"):
            flush()
            in_code = not in_code
            continue
        if in_code:
            out.append("    " + line)
            continue
        heading = re.match(r"^(#{1,6})\s+(.*)$", line)
        item = re.match(r"^\s*([-*]|\d+\.)\s+(.*)$", line)
        if heading:
            flush()
            if out and out[-1] != "":
                out.append("")
            out.append(paint(inline(heading.group(2)), "bold", color))
            out.append("")
        elif not line.strip():
            flush()
            if out and out[-1] != "":
                out.append("")
        elif item:
            flush()
            bullet = "-" if item.group(1) in "-*" else item.group(1)
            para.append(item.group(2))
        else:
            para.append(line)
    flush()
    return "\n".join(out).strip() + "\n"
