"""The data the tool passes around: findings, reports, plans. Frozen dataclasses, str-Enums."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from repair import __version__


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 0, "warning": 1, "info": 2}[self.value]


class Fix(str, enum.Enum):
    """What the repair pipeline would do about a finding."""

    REMOVE = "remove"
    REINSTALL = "reinstall"
    RECREATE_VENV = "recreate-venv"
    RECLONE = "reclone"
    CONFIG = "config"
    MANUAL = "manual"
    NONE = "none"


@dataclass(frozen=True)
class Finding:
    id: str
    severity: Severity
    subject: str
    message: str
    remedy: str
    fix: Fix = Fix.NONE
    restart_required: bool = False
    # Extra machine-readable facts (paths, versions, rule names); shown in JSON as "details".
    details: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "severity": self.severity.value,
            "subject": self.subject,
            "message": self.message,
            "remedy": self.remedy,
            "fix": self.fix.value,
            "restart_required": self.restart_required,
        }
        if self.details:
            out["details"] = self.details
        return out


@dataclass(frozen=True)
class FindingType:
    """A kind of finding: its permanent id, title, default severity and fix. Calling it makes a
    ``Finding``; ``repair.checks.registry.finding_type`` registers one."""

    id: str
    title: str
    severity: Severity
    fix: Fix
    restart_required: bool = False

    def __call__(
        self,
        subject: str,
        message: str,
        remedy: str,
        *,
        severity: Severity | None = None,
        fix: Fix | None = None,
        restart_required: bool | None = None,
        **details: Any,
    ) -> Finding:
        return Finding(
            id=self.id,
            severity=severity or self.severity,
            subject=subject,
            message=message,
            remedy=remedy,
            fix=fix or self.fix,
            restart_required=(self.restart_required if restart_required is None
                              else restart_required),
            details=details,
        )


@dataclass(frozen=True)
class Summary:
    errors: int
    warnings: int
    infos: int
    healthy: bool

    @classmethod
    def of(cls, findings: list[Finding] | tuple[Finding, ...], *, strict: bool = False) -> Summary:
        errors = sum(1 for f in findings if f.severity is Severity.ERROR)
        warnings = sum(1 for f in findings if f.severity is Severity.WARNING)
        infos = sum(1 for f in findings if f.severity is Severity.INFO)
        healthy = errors == 0 and (warnings == 0 or not strict)
        return cls(errors, warnings, infos, healthy)

    def to_json(self) -> dict[str, Any]:
        return {
            "errors": self.errors,
            "warnings": self.warnings,
            "infos": self.infos,
            "healthy": self.healthy,
        }


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Errors first, then warnings, then infos; stable within a severity."""
    return sorted(findings, key=lambda f: f.severity.rank)


SCHEMA = "repair.report/1"


@dataclass
class Report:
    """The result of ``check`` (and of the pipeline, which adds plan, steps and backup)."""

    target: dict[str, Any]
    findings: list[Finding]
    duration_ms: int = 0
    strict: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def summary(self) -> Summary:
        return Summary.of(self.findings, strict=self.strict)

    @property
    def restart_required(self) -> bool:
        return any(f.id == "restart-required" for f in self.findings) or bool(
            self.extra.get("restart_required")
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "schema": SCHEMA,
            "tool": {"name": "webui-repair", "version": __version__},
            "target": self.target,
            "findings": [f.to_json() for f in self.findings],
            "summary": self.summary.to_json(),
            "restart_required": self.restart_required,
            "duration_ms": self.duration_ms,
        }
        for key, value in self.extra.items():
            if key != "restart_required":
                out[key] = value
        return out
