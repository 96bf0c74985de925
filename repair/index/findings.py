"""The preflight's finding ids, apart from its code so that registering them costs nothing."""

from __future__ import annotations

from repair.checks.registry import finding_type
from repair.model import Fix, Severity

WHEEL_UNAVAILABLE = finding_type(
    "wheel-unavailable", "No installable file for the target Python and platform",
    Severity.ERROR, Fix.MANUAL)
INDEX_UNREACHABLE = finding_type(
    "index-unreachable", "A package index or find-links location does not answer",
    Severity.ERROR, Fix.CONFIG)
YANKED_PIN = finding_type(
    "yanked-pin", "The pinned version was yanked from the index", Severity.WARNING, Fix.MANUAL)
SOURCE_BUILD_REQUIRED = finding_type(
    "source-build-required", "The install would build a package from source",
    Severity.WARNING, Fix.MANUAL)
TORCH_INDEX_FALLBACK = finding_type(
    "torch-index-fallback", "Torch would come from another index than the backend's",
    Severity.ERROR, Fix.CONFIG)
PREFLIGHT_UNCHECKED = finding_type(
    "preflight-unchecked", "Some requirements could not be checked against an index",
    Severity.INFO, Fix.NONE)
