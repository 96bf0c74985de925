"""The working set of a new venv (``plan_working_set``): every distribution of the old venv at
the version it had (from the snapshot's distribution list), except what the plan moves on
purpose (a requirement of the app that the old version does not meet, a conflict, a torch build
change). ``fresh`` resolves anew from the app's requirement files instead. ``pin_line`` is the
requirement line that brings one distribution back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from repair.backup.snapshot import distributions
from repair.env.dists import canonical
from repair.env.torchbuild import TORCH_FAMILY
from repair.model import FindingId

if TYPE_CHECKING:
    from repair.context import Context
    from repair.model import Finding
    from repair.rebuild.torch import TorchChoice

# Seeded by the venv creator; their versions are not part of the working set.
SEEDED = ("pip", "wheel", "distribute")


def pin_line(name: str, version: str, source: Mapping[str, Any] | None) -> str:
    """The requirement line that brings back one distribution: ``name==version``, or its
    recorded URL / VCS source (at the recorded commit), or ``-e`` for an editable folder."""
    source = source or {}
    url = str(source.get("url") or "")
    if url and "****" not in url:
        if source.get("type") == "vcs":
            commit = source.get("commit")
            return f"{name} @ {source.get('vcs') or 'git'}+{url}" + (f"@{commit}" if commit else "")
        if source.get("type") == "editable":
            return f"-e {url}"
        if source.get("type") in ("direct", "archive"):
            return f"{name} @ {url}"
    return f"{name}=={version}"


@dataclass(frozen=True)
class Move:
    name: str
    old: str | None  # the old version (None: new)
    new: str  # the specifier it moves to, or "removed"
    why: str
    requirement: str | None = None  # passed to the installer (None: the app's files bring it)

    def to_json(self) -> dict[str, str | None]:
        return {
            "name": self.name,
            "from": self.old,
            "to": self.new,
            "why": self.why,
            "requirement": self.requirement,
        }


@dataclass
class WorkingSet:
    pins: dict[str, str] = field(default_factory=dict)  # canonical name -> requirement line
    versions: dict[str, str] = field(default_factory=dict)  # canonical name -> exact version
    moves: list[Move] = field(default_factory=list)
    fresh: bool = False

    def to_params(self) -> dict[str, Any]:
        return {
            "pins": [self.pins[k] for k in sorted(self.pins)],
            "expect": dict(sorted(self.versions.items())),
            "moves": [m.to_json() for m in self.moves],
            "fresh": self.fresh,
        }


def plan_working_set(
    ctx: Context, findings: Iterable[Finding], torch: TorchChoice | None, *, fresh: bool = False
) -> WorkingSet:
    """What the new venv will hold besides torch (see the module's text)."""
    out = WorkingSet(fresh=fresh)
    if fresh or not ctx.venv_exists:
        return out
    drop = {canonical(n) for n in (torch.drop if torch is not None else ())}
    for entry in distributions(ctx, redacted=False):
        key = canonical(str(entry["name"]))
        if key in SEEDED or key in TORCH_FAMILY or _seeded(ctx.site, entry):
            continue
        if key in drop:
            out.moves.append(
                Move(
                    str(entry["name"]),
                    str(entry["version"]),
                    "removed",
                    "part of the old torch build",
                )
            )
            continue
        out.pins[key] = pin_line(str(entry["name"]), str(entry["version"]), entry.get("source"))
        out.versions[key] = str(entry["version"])
    # What the plan moves on purpose: app requirements the kept version does not meet (and
    # the ones not installed at all), the other side of a conflict.
    wanted: list[tuple[Any, str, str | None]] = []
    reqs = ctx.app_requirements
    for line in [*reqs.requirements, *reqs.constraints]:
        req = line.requirement
        if req is None or line.url or line.editable or not ctx.marker_matches(req.marker):
            continue
        wanted.append((req, "the app requires " + str(req).split(";")[0].strip(), None))
    for f in findings:
        text = f.details.get("requirement") if f.id == FindingId.DEPENDENCY_CONFLICT else None
        if text:
            try:
                wanted.append((Requirement(str(text)), f"{f.id} on {f.subject}", str(text)))
            except InvalidRequirement:
                continue
    for req, why, line_text in wanted:
        key = canonical(req.name)
        if key in TORCH_FAMILY:
            continue
        have = out.versions.get(key)
        if have is None:
            if key not in drop and not any(m.name == req.name for m in out.moves):
                out.moves.append(
                    Move(req.name, None, str(req.specifier) or "any version", why, line_text)
                )
            continue
        try:
            ok = req.specifier.contains(Version(have), prereleases=True)
        except InvalidVersion:
            ok = False
        if not ok:
            del out.pins[key]
            del out.versions[key]
            out.moves.append(Move(req.name, have, str(req.specifier), why, line_text))
    return out


def _seeded(site: Path, entry: Mapping[str, Any]) -> bool:
    """Put there by virtualenv's seeder (``setuptools-X.virtualenv`` beside it): the new venv is
    seeded the same way."""
    folder = re.sub(r"[-_.]+", "_", str(entry["name"]))
    return any(
        (site / f"{n}-{entry['version']}.virtualenv").exists() for n in {folder, str(entry["name"])}
    )
