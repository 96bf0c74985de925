"""The preflight's finding ids, apart from its code so that registering them costs nothing."""

from __future__ import annotations

from repair.checks.registry import finding_type
from repair.model import FindingId, Fix, Severity

WHEEL_UNAVAILABLE = finding_type(
    FindingId.WHEEL_UNAVAILABLE,
    "No installable file for the target Python and platform",
    Severity.ERROR,
    Fix.MANUAL,
)
INDEX_UNREACHABLE = finding_type(
    FindingId.INDEX_UNREACHABLE,
    "A package index or find-links location does not answer",
    Severity.ERROR,
    Fix.CONFIG,
)
YANKED_PIN = finding_type(
    FindingId.YANKED_PIN,
    "The pinned version was yanked from the index",
    Severity.WARNING,
    Fix.MANUAL,
)
SOURCE_BUILD_REQUIRED = finding_type(
    FindingId.SOURCE_BUILD_REQUIRED,
    "The install would build a package from source",
    Severity.WARNING,
    Fix.MANUAL,
)
TORCH_INDEX_FALLBACK = finding_type(
    FindingId.TORCH_INDEX_FALLBACK,
    "Torch would come from another index than the backend's",
    Severity.ERROR,
    Fix.CONFIG,
)
PREFLIGHT_UNCHECKED = finding_type(
    FindingId.PREFLIGHT_UNCHECKED,
    "Some requirements could not be checked against an index",
    Severity.INFO,
    Fix.NONE,
)
