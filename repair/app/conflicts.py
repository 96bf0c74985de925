"""Known-conflict rules: combinations of installed packages known to break, as data.

A rule (a ``[[conflicts]]`` table in a manifest or an included rules file) fires when every one of
its ``when`` conditions holds for the installed set, and its ``backend``/``torch`` limits (if any)
fit. Conditions are evaluated with ``packaging`` against the installed versions; nothing is
imported from the venv.

Condition keys (one table each):
- ``package``: a name, or a list of names (any of them; the one found is the finding's subject);
  the condition holds for the first one
  installed that passes the tests below.
- ``version``: a specifier the installed version must satisfy (``">=2"``).
- ``absent = true``: holds when none of ``package`` is installed.
- ``violates = "app"``: the installed version does not satisfy the application's own
  requirement for it; ``"app-major"``: and the major version differs from every version the
  application names.
- ``requires_unmet = "torch"``: the package's own Requires-Dist on that name is not satisfied.
- ``local_differs = "torch"``: both carry a local version tag (``+cu121``) and the tags differ.
- ``torch_cuda``: a specifier the installed torch build's CUDA version must satisfy (no package).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from repair.env.dists import canonical

if TYPE_CHECKING:
    from packaging.specifiers import SpecifierSet

    from repair.env.dists import Dist
    from repair.env.torchbuild import TorchBuild

BACKENDS = ("cuda", "rocm", "directml", "zluda", "openvino", "ipex", "cpu", "mps")
_RULE_KEYS = {
    "rule",
    "severity",
    "message",
    "remedy",
    "fix",
    "when",
    "backend",
    "torch",
    "restart",
    "source",
}
_COND_KEYS = {
    "package",
    "version",
    "absent",
    "violates",
    "requires_unmet",
    "local_differs",
    "torch_cuda",
}
_SEVERITIES = ("error", "warning", "info")
_FIXES = ("remove", "reinstall", "recreate-venv", "reclone", "config", "manual", "none")
_RULE_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_.:-]+)\}")


def _specifier(text: str) -> SpecifierSet:
    from packaging.specifiers import SpecifierSet  # lazy: packaging is heavy

    return SpecifierSet(text)


def _check_spec(value: Any, where: str) -> str | None:
    from packaging.specifiers import InvalidSpecifier  # lazy: packaging is heavy

    if not isinstance(value, str):
        return f"{where}: expected a version specifier string"
    try:
        _specifier(value)
    except InvalidSpecifier:
        return f"{where}: {value!r} is not a version specifier"
    return None


def _validate_condition(cond: Any, where: str) -> list[str]:
    if not isinstance(cond, dict):
        return [f"{where}: expected a table (package = ..., version = ...)"]
    problems = [f"{where}.{k}: unknown condition key" for k in cond if k not in _COND_KEYS]
    package = cond.get("package")
    if package is None and "torch_cuda" not in cond:
        problems.append(f"{where}: needs package (or torch_cuda)")
    if package is not None:
        names = package if isinstance(package, list) else [package]
        if not names or not all(isinstance(n, str) and n for n in names):
            problems.append(f"{where}.package: expected a name or a list of names")
    for key in ("version", "torch_cuda"):
        if key in cond:
            problem = _check_spec(cond[key], f"{where}.{key}")
            if problem:
                problems.append(problem)
    if "absent" in cond and cond["absent"] is not True:
        problems.append(f"{where}.absent: expected true")
    if cond.get("absent") is True and len(cond.keys() - {"package", "absent"}) > 0:
        problems.append(f"{where}: absent cannot be combined with other tests")
    if "violates" in cond and cond["violates"] not in ("app", "app-major"):
        problems.append(f'{where}.violates: expected "app" or "app-major"')
    for key in ("requires_unmet", "local_differs"):
        if key in cond and not (isinstance(cond[key], str) and cond[key]):
            problems.append(f"{where}.{key}: expected a package name")
    return problems


def validate_rules(rules: Any, key: str = "conflicts") -> list[str]:
    """Problems with a ``[[conflicts]]`` array, each as ``key: problem``."""
    if rules is None:
        return []
    if not isinstance(rules, list):
        return [f"{key}: expected an array of tables ([[conflicts]])"]
    problems: list[str] = []
    seen: set[str] = set()
    for i, rule in enumerate(rules):
        where = f"{key}[{i}]"
        if not isinstance(rule, dict):
            problems.append(f"{where}: expected a table")
            continue
        name = rule.get("rule")
        if isinstance(name, str):
            where = f"{key}[{i}] ({name})"
        problems.extend(f"{where}.{k}: unknown key" for k in rule if k not in _RULE_KEYS)
        if not isinstance(name, str) or not _RULE_RE.match(name):
            problems.append(f"{where}.rule: missing or not a kebab-case name")
        elif name in seen:
            problems.append(f"{where}.rule: {name!r} is defined twice")
        else:
            seen.add(name)
        for text_key in ("message", "remedy"):
            if not isinstance(rule.get(text_key), str) or not rule.get(text_key):
                problems.append(f"{where}.{text_key}: missing or not a string")
        if rule.get("severity", "error") not in _SEVERITIES:
            problems.append(
                f"{where}.severity: {rule.get('severity')!r} is not one of {', '.join(_SEVERITIES)}"
            )
        if rule.get("fix", "manual") not in _FIXES:
            problems.append(f"{where}.fix: {rule.get('fix')!r} is not one of {', '.join(_FIXES)}")
        if "restart" in rule and not isinstance(rule["restart"], bool):
            problems.append(f"{where}.restart: expected true or false")
        for limit in ("backend", "torch"):
            values = rule.get(limit)
            if values is None:
                continue
            if not isinstance(values, list) or not values or not all(v in BACKENDS for v in values):
                problems.append(
                    f"{where}.{limit}: expected a list of backends ({', '.join(BACKENDS)})"
                )
        when = rule.get("when")
        if not isinstance(when, list) or not when:
            problems.append(f"{where}.when: expected a non-empty list of conditions")
        else:
            for j, cond in enumerate(when):
                problems.extend(_validate_condition(cond, f"{where}.when[{j}]"))
    return problems


# ---------------------------------------------------------------------------------------------
# Evaluation


@dataclass(frozen=True)
class Facts:
    """What the rules are evaluated against."""

    installed: Mapping[str, Dist]  # canonical name -> distribution
    app_specs: Mapping[str, SpecifierSet] = field(default_factory=dict)  # the app's requirements
    machine: str | None = None  # the machine's (or asked-for) backend
    torch: TorchBuild | None = None


@dataclass(frozen=True)
class Hit:
    rule: str
    severity: str
    fix: str
    restart: bool
    subject: str
    message: str
    remedy: str
    packages: dict[str, str]  # name -> installed version, of the packages the rule looked at


def _version(text: str) -> Any:
    from packaging.version import InvalidVersion, Version  # lazy: packaging is heavy

    try:
        return Version(text)
    except InvalidVersion:
        return None


def _majors(spec: SpecifierSet) -> set[int]:
    majors = set()
    for item in spec:
        version = _version(item.version.rstrip(".*"))
        if version is not None:
            majors.add(version.major)
    return majors


def _own_requirement_unmet(dist: Dist, target: str, facts: Facts) -> bool:
    from packaging.requirements import InvalidRequirement, Requirement  # lazy: packaging is heavy

    other = facts.installed.get(canonical(target))
    if other is None:
        return False
    other_version = _version(other.version)
    for text in dist.requires:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            continue
        if (
            canonical(req.name) != canonical(target)
            or req.marker is not None
            and "extra" in str(req.marker)
        ):
            continue
        if other_version is None or not req.specifier.contains(other_version, prereleases=True):
            return True
    return False


def _local(version: str) -> str:
    return version.partition("+")[2]


def _condition(cond: Mapping[str, Any], facts: Facts) -> tuple[bool, str | None]:
    """Whether the condition holds, and the package it matched (None for torch_cuda/absent)."""
    if "torch_cuda" in cond:
        cuda = facts.torch.cuda if facts.torch is not None else None
        version = _version(cuda) if cuda else None
        if version is None or not _specifier(cond["torch_cuda"]).contains(version):
            return False, None
        if "package" not in cond:
            return True, None
    package = cond["package"]
    names = [package] if isinstance(package, str) else list(package)
    if cond.get("absent"):
        return all(canonical(n) not in facts.installed for n in names), None
    for name in names:
        dist = facts.installed.get(canonical(name))
        if dist is None:
            continue
        version = _version(dist.version)
        if "version" in cond and (
            version is None or not _specifier(cond["version"]).contains(version, prereleases=True)
        ):
            continue
        violates = cond.get("violates")
        if violates:
            spec = facts.app_specs.get(canonical(name))
            if spec is None or version is None or spec.contains(version, prereleases=True):
                continue
            if violates == "app-major" and (not _majors(spec) or version.major in _majors(spec)):
                continue
        if "requires_unmet" in cond and not _own_requirement_unmet(
            dist, cond["requires_unmet"], facts
        ):
            continue
        if "local_differs" in cond:
            other = facts.installed.get(canonical(cond["local_differs"]))
            # PyPI builds carry no tag and fit any tagged build of the same version: only two
            # different tags (+cu121 beside +cpu) are a mismatch.
            mine, theirs = _local(dist.version), _local(other.version) if other else ""
            if other is None or not mine or not theirs or mine == theirs:
                continue
        return True, dist.name
    return False, None


def _fill(template: str, values: Mapping[str, str]) -> str:
    def sub(m: re.Match[str]) -> str:
        key = m.group(1)
        return values.get(key, values.get(canonical(key), m.group(0)))

    return _PLACEHOLDER.sub(sub, template)


def evaluate(rules: Iterable[Mapping[str, Any]], facts: Facts) -> list[Hit]:
    """The rules that fire, in order."""
    hits: list[Hit] = []
    torch_kind = facts.torch.kind if facts.torch is not None else None
    for rule in rules:
        if rule.get("backend") and facts.machine not in rule["backend"]:
            continue
        if rule.get("torch") and torch_kind not in rule["torch"]:
            continue
        matched: list[str] = []
        chosen: str | None = None  # the package a list condition picked: the rule's subject
        ok = True
        for cond in rule["when"]:
            holds, name = _condition(cond, facts)
            if not holds:
                ok = False
                break
            if name:
                matched.append(name)
                if chosen is None and isinstance(cond.get("package"), list):
                    chosen = name
        if not ok:
            continue
        values: dict[str, str] = {}
        for key, dist in facts.installed.items():
            values[key] = dist.version
            values[dist.name] = dist.version
        for key, spec in facts.app_specs.items():
            values[f"app:{key}"] = str(spec)
        values["machine"] = facts.machine or "unknown"
        values["torch_build"] = torch_kind or "none"
        if facts.torch is not None and facts.torch.cuda:
            values["torch_cuda"] = facts.torch.cuda
        subject = chosen or (matched[0] if matched else str(rule["rule"]))
        values["subject"] = subject
        subject_dist = facts.installed.get(canonical(subject))
        values["subject_version"] = subject_dist.version if subject_dist else ""
        hits.append(
            Hit(
                rule=str(rule["rule"]),
                severity=str(rule.get("severity", "error")),
                fix=str(rule.get("fix", "manual")),
                restart=bool(rule.get("restart", True)),
                subject=subject,
                message=_fill(str(rule["message"]), values),
                remedy=_fill(str(rule["remedy"]), values),
                packages={n: facts.installed[canonical(n)].version for n in matched},
            )
        )
    return hits
