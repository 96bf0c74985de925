"""What ``pip check`` reports, read from the files: each installed distribution's own
Requires-Dist (extras, markers, unmet and ill-formed requirements) and wheels whose tags this
interpreter does not support. Nothing is imported from the venv."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from repair.env.dists import canonical

if TYPE_CHECKING:
    from packaging.markers import Marker
    from packaging.requirements import Requirement
    from packaging.tags import Tag

    from repair.env.dists import Dist


_EXTRA_ATOM_RE = re.compile(r"""\bextra\s*==\s*(['"])([^'"]+)\1""")
_OR_RE = re.compile(r"\bor\b")


def needs_extra(text: str) -> str | None:
    """The extra a Requires-Dist line applies to, read from its text without parsing it: its
    marker is ``extra == "x"`` alone or joined to other tests by ``and`` only (``foo;
    platform_system == "Linux" and extra == "cuda"``). None when it applies without an extra or
    cannot be told apart cheaply (an ``or``, written with or without spaces). Most lines of big
    packages are for extras nobody asked for: skipping them unparsed keeps the check fast."""
    _, sep, marker = text.partition(";")
    if not sep or "extra" not in marker or _OR_RE.search(marker):
        return None
    m = _EXTRA_ATOM_RE.search(marker)
    return m.group(2) if m else None


def skip_for_extras(text: str, extras: tuple[str, ...]) -> bool:
    """Whether a Requires-Dist line can be skipped unparsed: it needs an extra not in ``extras``
    (canonical names, ``""`` for none)."""
    extra = needs_extra(text)
    return extra is not None and canonical(extra) not in extras


@lru_cache(maxsize=16384)
def parse_requires(text: str) -> Requirement | str:
    """A Requires-Dist line as a ``Requirement``, or the reason it cannot be read (pip stops
    checking a distribution with such a line)."""
    from packaging.requirements import InvalidRequirement, Requirement  # lazy: packaging is heavy

    try:
        return Requirement(text.strip())
    except InvalidRequirement as exc:
        return str(exc).splitlines()[0]


def marker_holds(
    marker: Marker | None, env: Mapping[str, str], extras: tuple[str, ...] = ("",)
) -> bool:
    """``marker`` evaluated for the venv's interpreter (``env``), for any of ``extras``."""
    if marker is None:
        return True
    values = dict(env)
    for extra in extras:
        values["extra"] = extra
        try:
            if marker.evaluate(values):
                return True
        except Exception:  # noqa: BLE001 - an unknown marker variable never crashes a check
            return False
    return False


@dataclass(frozen=True)
class Unmet:
    """``dist`` requires ``requirement``; ``target`` is the installed distribution of that name
    (None: not installed)."""

    dist: Dist
    requirement: Requirement
    target: Dist | None


@dataclass(frozen=True)
class BadRequires:
    """A Requires-Dist line of ``dist`` that cannot be read."""

    dist: Dist
    line: str
    error: str


def requested_extras(
    installed: Mapping[str, Dist],
    env: Mapping[str, str],
    wanted: Mapping[str, set[str]] | None = None,
) -> dict[str, set[str]]:
    """Which extras of each installed distribution something asks for (``wanted``: the
    application's own requests, canonical names), followed through chains of extras."""
    out: dict[str, set[str]] = {k: set(v) for k, v in (wanted or {}).items()}
    for _ in range(10):  # chains of extras are short; bounded against cycles
        changed = False
        for key, dist in installed.items():
            extras = ("",) + tuple(sorted(out.get(key, ())))
            for text in dist.requires:
                if "[" not in text.partition(";")[0] or skip_for_extras(text, extras):
                    continue
                req = parse_requires(text)
                if (
                    isinstance(req, str)
                    or not req.extras
                    or not marker_holds(req.marker, env, extras)
                ):
                    continue
                target = canonical(req.name)
                before = len(out.setdefault(target, set()))
                out[target].update(canonical(e) for e in req.extras)
                changed |= len(out[target]) != before
        if not changed:
            break
    return out


def unmet_dependencies(
    installed: Mapping[str, Dist],
    env: Mapping[str, str],
    wanted: Mapping[str, set[str]] | None = None,
) -> list[Unmet]:
    """Each installed distribution's requirements that are missing or not satisfied, markers
    evaluated for ``env`` and the extras something asks for (``wanted``, see
    ``requested_extras``): what ``pip check`` reports, and more (pip ignores extras)."""
    out: list[Unmet] = []
    wanted = wanted or {}
    for key, dist in sorted(installed.items()):
        extras = ("",) + tuple(sorted(wanted.get(key, ())))
        for text in dist.requires:
            if skip_for_extras(text, extras):
                continue
            req = parse_requires(text)
            if isinstance(req, str) or not marker_holds(req.marker, env, extras):
                continue
            target = installed.get(canonical(req.name))
            if target is None or not satisfies(req, target):
                out.append(Unmet(dist, req, target))
    return out


def satisfies(req: Requirement, dist: Dist) -> bool:
    """Whether the installed ``dist`` fits ``req``'s specifier (pre-releases count, as in
    ``pip check``)."""
    if not req.specifier:
        return True
    version = dist.parsed_version
    return version is not None and req.specifier.contains(version, prereleases=True)


_V = r"(?:\d+!)?\d+(?:\.\d+)*(?:(?:a|b|rc)\d+)?(?:\.post\d+)?(?:\.dev\d+)?"
_LOCAL = r"(?:\+[a-z0-9]+(?:\.[a-z0-9]+)*)?"
_SPEC = rf"(?:(?:==|!=)\s*{_V}(?:\.\*|{_LOCAL})|(?:<=|>=|<|>|~=)\s*{_V})"
_VAR = (
    r"(?:python_version|python_full_version|os_name|sys_platform|platform_release"
    r"|platform_system|platform_version|platform_machine|platform_python_implementation"
    r"|implementation_name|implementation_version|extra)"
)
_TEST = rf"""{_VAR}\s*(?:==|!=|<=|>=|<|>|~=|not\s+in|in)\s*(?:"[^"]*"|'[^']*')"""
_ATOM = rf"(?:{_TEST}|\(\s*{_TEST}\s*\))"
# Requires-Dist lines of the common shapes that are certainly valid: they need no parsing to
# know it (most lines of a big venv). Anything else is parsed.
_SURELY_VALID_RE = re.compile(  # each optional part starts with its own mandatory token, so
    # that runs of spaces cannot be split in many ways (linear time on any line)
    rf"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
    rf"(?:\s*\[\s*[A-Za-z0-9._-]+(?:\s*,\s*[A-Za-z0-9._-]+)*\s*\])?"
    rf"(?:\s*{_SPEC}(?:\s*,\s*{_SPEC})*|\s*\(\s*{_SPEC}(?:\s*,\s*{_SPEC})*\s*\))?"
    rf"(?:\s*;\s*{_ATOM}(?:\s+(?:and|or)\s+{_ATOM})*)?\s*"
)


def bad_requires(installed: Mapping[str, Dist]) -> list[BadRequires]:
    """Requires-Dist lines that cannot be read, with their distribution."""
    out = []
    for _, dist in sorted(installed.items()):
        for text in dist.requires:
            if _SURELY_VALID_RE.fullmatch(text):
                continue
            req = parse_requires(text)
            if isinstance(req, str):
                out.append(BadRequires(dist, text, req))
    return out


def unsupported_wheels(installed: Mapping[str, Dist], tags: frozenset[Tag]) -> list[Dist]:
    """Distributions whose WHEEL file names only tags the interpreter does not support: what
    ``pip check`` reports as "not supported on this platform"."""
    from packaging.tags import parse_tag  # lazy: packaging is heavy

    out = []
    for _, dist in sorted(installed.items()):
        if dist.kind != "dist-info" or "WHEEL" not in dist.listing:
            continue
        try:
            text = (dist.path / "WHEEL").read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        declared: set[Tag] = set()
        for line in text.splitlines():
            key, sep, value = line.partition(":")
            if sep and key.strip().lower() == "tag" and value.strip():
                try:
                    declared |= parse_tag(value.strip())
                except ValueError:
                    continue
        if declared.isdisjoint(tags):  # no Tag line at all: pip says the same
            out.append(dist)
    return out
