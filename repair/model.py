"""The data the tool passes around: findings, reports, plans. Frozen dataclasses, str-Enums."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from repair import __version__
from repair.proc import redact, redact_data


class FindingId:
    """Every finding id, as the code names it: permanent, kebab-case, naming the problem (never
    the fix). Each is registered once with ``checks.registry.finding_type`` and documented in
    ``repair/data/findings/<id>.md``."""

    CHECK_FAILED = "check-failed"
    DEPENDENCY_CONFLICT = "dependency-conflict"
    DUPLICATE_DISTRIBUTION = "duplicate-distribution"
    IMPORT_FAILURE = "import-failure"
    INDEX_UNREACHABLE = "index-unreachable"
    INSTALL_RISKY = "install-risky"
    INSTALL_UNRESOLVABLE = "install-unresolvable"
    KNOWN_CONFLICT = "known-conflict"
    LAUNCH_ARGS = "launch-args"
    LOG_SIGNATURE = "log-signature"
    MISSING_FILE = "missing-file"
    MIXED_VERSION = "mixed-version"
    ORPHAN_FILES = "orphan-files"
    PICKLE_MODELS = "pickle-models"
    PIP_MISSING = "pip-missing"
    PREFLIGHT_UNCHECKED = "preflight-unchecked"
    PYTHON_UNSUPPORTED = "python-unsupported"
    RECORD_MISMATCH = "record-mismatch"
    RECORD_OUTSIDE_VENV = "record-outside-venv"
    REPO_BEHIND = "repo-behind"
    REPO_CORRUPT = "repo-corrupt"
    REPO_DETACHED = "repo-detached"
    REPO_DIRTY = "repo-dirty"
    REPO_DIVERGED = "repo-diverged"
    REPO_DUBIOUS_OWNERSHIP = "repo-dubious-ownership"
    REPO_MISSING = "repo-missing"
    REQUIREMENT_CONFLICT = "requirement-conflict"
    REQUIREMENT_INVALID = "requirement-invalid"
    REQUIREMENT_UNMET = "requirement-unmet"
    REQUIRES_DIST_INVALID = "requires-dist-invalid"
    RESTART_REQUIRED = "restart-required"
    SHARED_FILES = "shared-files"
    SOURCE_BUILD_REQUIRED = "source-build-required"
    STALE_RESIDUE = "stale-residue"
    TORCH_BACKEND_MISMATCH = "torch-backend-mismatch"
    TORCH_GPU_UNSUPPORTED = "torch-gpu-unsupported"
    TORCH_INDEX_FALLBACK = "torch-index-fallback"
    UPDATE_RISKY = "update-risky"
    UPDATE_UNRESOLVABLE = "update-unresolvable"
    VENV_HOME_MOVED = "venv-home-moved"
    VENV_INTERPRETER_BROKEN = "venv-interpreter-broken"
    VENV_MISSING = "venv-missing"
    WHEEL_UNAVAILABLE = "wheel-unavailable"
    WHEEL_UNSUPPORTED = "wheel-unsupported"
    YANKED_PIN = "yanked-pin"


class StepKind:
    """The kinds of plan steps (``Step.kind``): what the planner makes and the pipeline runs."""

    RECREATE_VENV = "recreate-venv"
    RELINK_VENV = "relink-venv"
    ENSURE_PIP = "ensure-pip"
    REMOVE = "remove"
    PURGE = "purge"
    REINSTALL = "reinstall"
    INSTALL_TORCH = "install-torch"
    INSTALL_REQUIREMENTS = "install-requirements"
    RECLONE = "reclone"


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
            restart_required=(
                self.restart_required if restart_required is None else restart_required
            ),
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
        return any(f.id == FindingId.RESTART_REQUIRED for f in self.findings) or bool(
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


# Step kinds that replace files a running application may have loaded.
REPLACING = {
    StepKind.RECREATE_VENV,
    StepKind.REMOVE,
    StepKind.PURGE,
    StepKind.REINSTALL,
    StepKind.INSTALL_TORCH,
    StepKind.RECLONE,
}


@dataclass(frozen=True)
class Step:
    """One step of a repair plan (``repair.plan.planner``), run by the pipeline."""

    kind: str
    summary: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def replaces_files(self) -> bool:
        if self.kind == StepKind.INSTALL_REQUIREMENTS:
            return bool(self.params.get("force_reinstall") or self.params.get("changes_versions"))
        return self.kind in REPLACING

    def to_json(self) -> dict[str, Any]:
        """As shown and journaled: credentials in index URLs redacted."""
        return {
            "kind": self.kind,
            "summary": redact(self.summary),
            "params": redact_data(self.params),
        }


@dataclass(frozen=True)
class Plan:
    """The smallest plan that fixes a check's findings: data before anything runs (``--dry-run``
    shows it, ``--json`` carries it, the pipeline runs exactly it)."""

    steps: tuple[Step, ...] = ()
    unresolved: tuple[Finding, ...] = ()  # findings no step fixes (manual, config, ...)

    @property
    def empty(self) -> bool:
        return not self.steps

    @property
    def recreates(self) -> bool:
        return any(s.kind == StepKind.RECREATE_VENV for s in self.steps)

    @property
    def replaces_files(self) -> bool:
        return any(s.replaces_files for s in self.steps)

    def to_json(self) -> list[dict[str, Any]]:
        return [s.to_json() for s in self.steps]


@dataclass
class StepResult:
    """What one plan step did in a pipeline run."""

    kind: str
    summary: str
    status: str = "pending"  # pending | done | failed | skipped
    duration_ms: int = 0
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "summary": self.summary,
            "status": self.status,
            "duration_ms": self.duration_ms,
        }
        if self.detail:
            out["detail"] = self.detail
        return out
