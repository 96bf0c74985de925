"""A static registry of finding types and checks.

A finding type has a permanent kebab-case id that names the problem (never the fix), a title, a
default severity and fix, and a documentation entry in ``repair/data/findings/<id>.md``. A check is
a plain function ``(ctx) -> Iterable[Finding]`` registered with the ids it can emit and the option
that gates it (``None``: always runs).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from repair.model import Finding, FindingType, Fix, Severity
from repair.options import CHECK_OPTIONS, CheckOptions

if TYPE_CHECKING:
    from repair.context import Context

_ID_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")

FINDING_TYPES: dict[str, FindingType] = {}
CHECKS: list[Check] = []

# Modules whose import registers checks, in the order their checks run.
CHECK_MODULES = (
    "repair.checks.venv",
    "repair.checks.site",
    "repair.checks.requirements",
    "repair.checks.online",
    "repair.checks.repo",
    "repair.checks.preupdate",
    "repair.checks.torch",
    "repair.checks.conflicts",
    "repair.checks.launch",
    "repair.checks.deep",
    "repair.checks.processes",
)


class RegistryError(Exception):
    pass


def finding_type(
    id: str, title: str, severity: Severity, fix: Fix, *, restart_required: bool = False
) -> FindingType:
    """Register a finding type. Refuses duplicate and ill-formed ids."""
    if not _ID_RE.match(id):
        raise RegistryError(f"finding id {id!r} is not kebab-case")
    if id in FINDING_TYPES:
        raise RegistryError(f"finding id {id!r} is registered twice")
    if not title or title.endswith("."):
        raise RegistryError(f"finding id {id!r} needs a short title without a full stop")
    ftype = FindingType(id, title, severity, fix, restart_required)
    FINDING_TYPES[id] = ftype
    return ftype


CheckFunc = Callable[["Context"], Iterable[Finding]]


@dataclass(frozen=True)
class Check:
    name: str
    func: CheckFunc
    ids: tuple[str, ...]
    option: str | None  # the field of CheckOptions that must be true for this check to run

    def enabled(self, options: CheckOptions) -> bool:
        return self.option is None or bool(getattr(options, self.option))


def check(*types: FindingType, option: str | None = None) -> Callable[[CheckFunc], CheckFunc]:
    """Register a check function that emits findings of ``types``."""

    def register(func: CheckFunc) -> CheckFunc:
        name = func.__name__
        if any(c.name == name and c.func.__module__ == func.__module__ for c in CHECKS):
            raise RegistryError(f"check {name} is registered twice")
        if option is not None and option not in CHECK_OPTIONS:
            raise RegistryError(f"check {name} is gated on an unknown option {option!r}")
        for t in types:
            if t.id not in FINDING_TYPES:
                raise RegistryError(f"check {name} emits unregistered id {t.id!r}")
        CHECKS.append(Check(name, func, tuple(t.id for t in types), option))
        return func

    return register


def load_all() -> list[Check]:
    """Import every check module (registering its checks) and return the checks in order."""
    for module in CHECK_MODULES:
        importlib.import_module(module)
    # In the modules' order whatever imported one first (a module may import another's names).
    order = {module: n for n, module in enumerate(CHECK_MODULES)}
    return sorted(CHECKS, key=lambda c: order.get(c.func.__module__, len(order)))


def all_finding_types() -> dict[str, FindingType]:
    """Every finding id the tool knows, including those emitted outside ``check`` (pipeline,
    preflight, ...). Modules that define ids outside the check modules are listed here."""
    load_all()
    for module in EXTRA_ID_MODULES:
        importlib.import_module(module)
    return dict(FINDING_TYPES)


# Modules that define finding ids but are not check modules.
EXTRA_ID_MODULES: tuple[str, ...] = (
    "repair.checks.runner",
    "repair.diagnose.causes",
    "repair.index.findings",
)
