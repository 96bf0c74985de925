"""Reuse planned and done: which pins of the working set the new venv takes from the old one's
files rather than from an installer (``plan_reuse``, shown in the plan; ``--no-reuse`` turns it
off), and the one place where they are brought over (``reuse_from_old``, through
``repair.rebuild.reuse``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from repair.env.dists import canonical
from repair.model import Fix
from repair.progress import human
from repair.rebuild.reuse import reuse_distributions
from repair.rebuild.torch import req_name

if TYPE_CHECKING:
    from repair.model import Finding
    from repair.rebuild.torch import TorchChoice
    from repair.rebuild.workingset import WorkingSet


def _pin_version(pin: str, expect: Mapping[str, str]) -> tuple[str, str] | None:
    """``(name, version)`` of a pin whose files the backup may give back: ``name==version``
    or ``name @ URL`` (a direct or VCS install: its files, ``direct_url.json`` included, are
    what that URL gave). None for an editable install (its source folder may sit inside the
    old venv) and for a pin without a known version."""
    line = pin.strip()
    if line.startswith("-"):
        return None
    m = re.match(r"^([A-Za-z0-9_.\-]+)\s*===?\s*(\S+)$", line)
    if m:
        return m.group(1), m.group(2)
    name = req_name(line)
    version = expect.get(canonical(name))
    return (name, version) if name and version and "@" in line else None


@dataclass
class Reused:
    """What ``reuse_from_old`` did: ``left`` are the pins still to install."""

    left: list[str] = field(default_factory=list)
    reused: int = 0
    bytes_linked: int = 0
    bytes_copied: int = 0
    reasons: dict[str, str] = field(default_factory=dict)


def reuse_from_old(
    pins: list[str],
    old_venv: Path | None,
    new_venv: Path,
    *,
    expect: Mapping[str, str] | None = None,
    verify_hashes: bool = False,
    suspects: Iterable[str] = (),
) -> Reused:
    """The one place where intact distributions of the old venv (its backup) are brought into
    the new one without an installer (``rebuild.reuse``): each pin kept at the version the old
    venv has, with its files intact there (RECORD sizes; hashes too with ``verify_hashes`` and
    for the ``suspects``, names the plan's findings were about), is linked; the pins left to
    install are returned with the reasons."""
    out = Reused()
    if old_venv is None or not pins or not Path(old_venv).is_dir():
        out.left = list(pins)
        return out
    expect = expect or {}
    suspect = {canonical(s) for s in suspects}
    by_key: dict[str, str] = {}
    groups: dict[bool, list[tuple[str, str]]] = {False: [], True: []}
    for pin in pins:
        nv = _pin_version(pin, expect)
        if nv is None:
            out.left.append(pin)
            continue
        by_key[canonical(nv[0])] = pin
        groups[verify_hashes or canonical(nv[0]) in suspect].append(nv)
    for hashes, keep in groups.items():
        if not keep:
            continue
        result = reuse_distributions(
            old_venv, new_venv, keep, verify_hashes=hashes, kept_with=groups[not hashes]
        )
        out.reused += len(result.reused)
        out.bytes_linked += result.bytes_linked
        out.bytes_copied += result.bytes_copied
        out.reasons.update(result.reasons)
        out.left += [by_key[canonical(name)] for name, _ in result.left_to_install]
    return out


@dataclass(frozen=True)
class ReusePlan:
    """What a rebuild expects to reuse from the old venv (``plan_reuse``): ``reused`` pins of
    the working set (those whose files the findings do not call broken), ``installed`` the
    rest; ``torch``: the torch build is kept and its packages too are reused when intact."""

    enabled: bool
    reused: int = 0
    installed: int = 0
    torch: bool = False
    verify_hashes: bool = False
    suspects: tuple[str, ...] = ()

    def text(self) -> str:
        if not self.enabled:
            return f"{self.installed} installed (--no-reuse)"
        return (
            f"{self.reused} reused from the old venv where their files are intact, "
            f"{self.installed} installed"
        )

    def to_params(self) -> dict[str, Any]:
        return {
            "reuse": self.enabled,
            "verify_hashes": self.verify_hashes,
            "suspects": list(self.suspects),
        }


def plan_reuse(
    work: WorkingSet,
    torch: TorchChoice | None,
    findings: Iterable[Finding],
    *,
    enabled: bool,
    verify_hashes: bool = False,
) -> ReusePlan:
    """The reuse a rebuild plans: every pin but an editable one and one whose files a finding
    says are broken (a reinstall is its fix); a finding's subject is suspect, its files are
    verified by hash."""
    pins = list(work.pins.items()) if not work.fresh else []
    if not enabled:
        return ReusePlan(False, 0, len(pins))
    findings = list(findings)
    suspects = tuple(sorted({canonical(f.subject) for f in findings if f.subject}))
    broken = {canonical(f.subject) for f in findings if f.subject and f.fix is Fix.REINSTALL}
    reused = sum(
        1 for key, pin in pins if key not in broken and _pin_version(pin, work.versions) is not None
    )
    keep_torch = (
        torch is not None
        and torch.keep
        and not any(canonical(req_name(p)) in broken for p in torch.packages)
    )
    return ReusePlan(True, reused, len(pins) - reused, keep_torch, verify_hashes, suspects)


def reuse_note(done: Reused, downloaded: int | None) -> str:
    """The step's result: distributions reused, bytes linked, bytes downloaded."""
    text = f"{done.reused} reused ({human(done.bytes_linked, 'B')} linked"
    if done.bytes_copied:
        text += f", {human(done.bytes_copied, 'B')} copied"
    return text + f"), {human(downloaded or 0, 'B')} downloaded"
