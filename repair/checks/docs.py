"""The documentation of finding ids: ``repair/data/findings/<id>.md``, one file per id."""

from __future__ import annotations

from importlib import resources

from repair.checks.registry import all_finding_types
from repair.errors import UsageError


def doc_text(finding_id: str) -> str | None:
    try:
        node = resources.files("repair") / "data" / "findings" / f"{finding_id}.md"
        return node.read_text(encoding="utf-8")
    except (FileNotFoundError, OSError):
        return None


def explain_text(finding_id: str) -> str:
    types = all_finding_types()
    if finding_id not in types:
        raise UsageError(f"unknown finding id {finding_id!r} (see 'repair check --list')")
    text = doc_text(finding_id)
    if text is None:
        raise UsageError(f"no documentation for {finding_id!r}")
    return text if text.endswith("\n") else text + "\n"
