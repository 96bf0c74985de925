"""``repair manifests list`` and ``repair manifests show NAME`` as text."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from repair.app.manifest import Manifest


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

    lines: list[str | None] = [
        f"{m.name}: {m.title}",
        row("file", m.source),
        row("repository", m.repository_url and f"{m.repository_url} ({m.branch})"),
    ]
    lines += [
        row("markers", m.get("detect.all")),
        row("any of", m.get("detect.any")),
        row("none of", m.get("detect.none")),
        row("venv", m.venv_dirs),
        row("venv setting", m.venv_settings),
        row(
            "python",
            m.python_supported
            and f"{m.python_supported} (recommended {m.python_recommended or '-'})",
        ),
        row("requirements", m.requirement_files),
        row("constraints", m.constraint_files),
    ]
    for backend in m.torch_backends:
        spec = m.torch_for(backend) or {}
        index = spec.get("index_url") or spec.get("extra_index_url")
        text = " ".join(spec.get("packages", [])) + (f"  ({index})" if index else "")
        lines.append(row(f"torch {backend}", text))
    lines += [
        row("user data", m.user_data),
        row("models", m.model_dirs),
        row("restart", m.restart_packages),
        row("deep imports", m.deep_modules),
    ]
    rules = m.conflicts
    if rules:
        lines.append(f"  {'rules':<15}{len(rules)} known-conflict rules:")
        lines += [f"    {r.get('rule')}" for r in rules]
    return "\n".join(line for line in lines if line is not None) + "\n"
