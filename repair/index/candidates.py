"""The files an index offers for a project, as pip chooses among them: parsed from their file
names, filtered by the requirement's specifier, the target's tags and ``requires-python``, and
ordered as pip orders them; and the remedies that name what would work instead."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from repair.index.findings import WHEEL_UNAVAILABLE
from repair.index.tags import KNOWN_PYTHONS

if TYPE_CHECKING:
    from packaging.specifiers import SpecifierSet
    from packaging.tags import Tag
    from packaging.version import Version

    from repair.index.client import FileLink
    from repair.index.tags import Target
    from repair.model import Finding


@dataclass(frozen=True)
class _Cand:
    link: FileLink
    version: Version
    tags: frozenset[Tag] | None  # None: an sdist


def _parse_link(link: FileLink) -> tuple[str, _Cand] | None:
    # lazy: packaging is heavy
    from packaging.utils import (
        InvalidSdistFilename,
        InvalidWheelFilename,
        parse_sdist_filename,
        parse_wheel_filename,
    )

    try:
        if link.is_wheel:
            name, version, _build, tags = parse_wheel_filename(link.filename)
            return str(name), _Cand(link, version, frozenset(tags))
        name, version = parse_sdist_filename(link.filename)
        return str(name), _Cand(link, version, None)
    except (InvalidWheelFilename, InvalidSdistFilename, ValueError):
        return None


def _python_ok(requires: str | None, version: str) -> bool:
    if not requires:
        return True
    from packaging.specifiers import InvalidSpecifier, SpecifierSet  # lazy: packaging is heavy

    try:
        return SpecifierSet(requires).contains(version, prereleases=True)
    except InvalidSpecifier:
        return True  # pip ignores a malformed requires-python


def _allowed(cands: list[_Cand], spec: SpecifierSet) -> list[_Cand]:
    versions = {c.version for c in cands}
    keep = set(spec.filter(versions))
    return [c for c in cands if c.version in keep]


def _installable(c: _Cand, target: Target, tagset: frozenset[Tag], pyversion: str) -> bool:
    if not _python_ok(c.link.requires_python, pyversion):
        return False
    return c.tags is None or bool(c.tags & tagset)


def _best(cands: list[_Cand]) -> _Cand | None:
    # pip's order: not yanked first, then the newest version, then a wheel over an sdist.
    if not cands:
        return None
    return max(cands, key=lambda c: (not c.link.yanked, c.version, c.tags is not None))


def _working_pythons(cands: list[_Cand], target: Target) -> list[str]:
    out = []
    for xy in KNOWN_PYTHONS:
        other = target.with_python(xy)
        tagset = other.tags()
        if any(
            c.tags is not None and not c.link.yanked and _installable(c, other, tagset, f"{xy}.0")
            for c in cands
        ):
            out.append(xy)
    return out


def _tag_label(target: Target) -> str:
    return f"cp{target.version[0]}{target.version[1]}-{target.platform}"


def _newest_not_yanked(
    cands: list[_Cand], tgt: Target, tagset: frozenset[Tag], pyver: str
) -> str | None:
    ok = [c.version for c in cands if not c.link.yanked and _installable(c, tgt, tagset, pyver)]
    return str(max(ok)) if ok else None


def _newest_wheel(
    cands: list[_Cand], tgt: Target, tagset: frozenset[Tag], pyver: str
) -> str | None:
    ok = [
        c.version
        for c in cands
        if c.tags is not None and not c.link.yanked and _installable(c, tgt, tagset, pyver)
    ]
    return str(max(ok)) if ok else None


def _source_remedy(name: str, pythons: list[str], newest_wheel: str | None) -> str:
    parts = []
    if newest_wheel:
        parts.append(f"pin {name}=={newest_wheel}, which has a wheel for this Python")
    if pythons:
        parts.append(f"use Python {', '.join(pythons)}, for which this version has wheels")
    if not parts:
        return (
            "Make sure a compiler and the library's headers are installed, or pin another version."
        )
    text = " or ".join(parts)
    return ("Either " + text if len(parts) > 1 else text[0].upper() + text[1:]) + "."


def _unavailable(
    name: str,
    text: str,
    spec: SpecifierSet,
    cands: list[_Cand],
    allowed: list[_Cand],
    tgt: Target,
    label: str,
) -> Finding:
    if not cands:
        return WHEEL_UNAVAILABLE(
            name,
            f"{text}: no project named {name} on any configured index",
            "Check the name, or add the index or --find-links folder that carries it.",
            working_pythons=[],
            versions=[],
        )
    if not allowed:
        versions = sorted({c.version for c in cands}, reverse=True)
        shown = ", ".join(str(v) for v in versions[:5])
        return WHEEL_UNAVAILABLE(
            name,
            f"{text}: no version of {name} matches '{spec}' (the index has {shown}"
            + (", ..." if len(versions) > 5 else "")
            + ")",
            "Pin a version the index carries.",
            working_pythons=[],
            versions=[str(v) for v in versions[:20]],
        )
    pythons = _working_pythons(allowed, tgt)
    versions = sorted({c.version for c in allowed}, reverse=True)
    if pythons:
        remedy = (
            f"Use Python {', '.join(pythons)} for this venv (recreate it with --python), "
            f"or pin a {name} version that has wheels for Python {tgt.xy}."
        )
    else:
        remedy = (
            f"No Python has a wheel of {name} '{spec}' for {tgt.platform}: pin another "
            "version, or use an index that builds it for this platform."
        )
    return WHEEL_UNAVAILABLE(
        name,
        f"{text}: no file of {name} {versions[0]} installs on {label}"
        + (f"; Python {', '.join(pythons)} would work" if pythons else ""),
        remedy,
        working_pythons=pythons,
        versions=[str(v) for v in versions[:20]],
    )
