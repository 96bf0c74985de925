"""The documentation of finding ids: ``repair/data/findings/<id>.md``, one file per id."""

from __future__ import annotations

from importlib import resources

from repair.errors import UsageError


def doc_text(finding_id: str) -> str | None:
    try:
        node = resources.files("repair") / "data" / "findings" / f"{finding_id}.md"
        return node.read_text(encoding="utf-8")
    except (FileNotFoundError, OSError):
        return None


def list_text() -> str:
    from repair.checks.registry import all_finding_types

    types = all_finding_types()
    width = max(len(i) for i in types)
    fix_width = max(len(t.fix.value) for t in types.values())
    lines = [f"{'id':<{width}}  {'severity':<8}  {'fix':<{fix_width}}  title"]
    lines += [f"{t.id:<{width}}  {t.severity.value:<8}  {t.fix.value:<{fix_width}}  {t.title}"
              for t in sorted(types.values(), key=lambda t: t.id)]
    return "\n".join(lines) + "\n"


def explain_text(finding_id: str) -> str:
    from repair.checks.registry import all_finding_types

    types = all_finding_types()
    if finding_id not in types:
        raise UsageError(f"unknown finding id {finding_id!r} (see 'repair check --list')")
    text = doc_text(finding_id)
    if text is None:
        raise UsageError(f"no documentation for {finding_id!r}")
    return text if text.endswith("\n") else text + "\n"
