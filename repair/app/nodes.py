"""The install's requirements as one set: the application's files and every custom node's or
extension's ``requirements.txt``. Which of them ask for versions no single version satisfies
(a node against the application, or two nodes), which nodes the plan must leave out so that the
others install, and which packages no node may move (the manifest's ``[protect]`` table and the
application's own pins).

Compatibility is decided offline, from the specifiers alone: two specifier sets fit when some
version near one of their bounds satisfies both (``==1.26.4`` and ``>=2`` do not; ``<2`` and
``>=1.25`` do).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.requirements import Requirement
from packaging.version import InvalidVersion, Version

from repair.app.requirements import ReqLine
from repair.env.dists import canonical
from repair.env.torchbuild import TORCH_STACK

if TYPE_CHECKING:
    from collections.abc import Callable

    from packaging.specifiers import SpecifierSet

    from repair.app.target import RequirementSource
    from repair.context import Context

    # pip's resolver in the venv: (what it would install, why there is no answer, unresolvable)
    DryRun = Callable[..., tuple[list[dict[str, Any]] | None, str | None, bool]]


@dataclass(frozen=True)
class Ask:
    """One requirement line and who asks for it."""

    name: str  # canonical
    who: str  # "ComfyUI", "custom node X", "extension Y"
    is_app: bool
    line: ReqLine

    @property
    def spec(self) -> SpecifierSet:
        req = self.line.requirement
        assert req is not None
        return req.specifier

    @property
    def text(self) -> str:
        req = self.line.requirement
        return f"{req.name}{req.specifier}" if req is not None else self.line.raw

    def to_json(self) -> dict[str, Any]:
        return {
            "who": self.who,
            "requirement": self.text,
            "file": str(self.line.source),
            "line": self.line.lineno,
            "app": self.is_app,
        }


@dataclass(frozen=True)
class Conflict:
    name: str
    first: Ask
    second: Ask

    @property
    def blocked(self) -> str:
        """The side the plan leaves out: the node (never the application); of two nodes, the
        one loaded later."""
        return self.second.who


def _who(ctx: Context, source: RequirementSource | None) -> str:
    return ctx.install.manifest.title if source is None else source.label


def asks(ctx: Context) -> dict[str, list[Ask]]:
    """Every requirement with a version specifier, per package, for the venv's Python (markers
    evaluated), from the application's files (requirements and constraints) and each node's."""
    out: dict[str, list[Ask]] = {}
    for source, reqs in ctx.requirement_sets():
        who = _who(ctx, source)
        for line in reqs.lines:
            req = line.requirement
            if line.error is not None or not line.name or req is None or req.url:
                continue
            if not ctx.marker_matches(req.marker):
                continue
            out.setdefault(line.name, []).append(Ask(line.name, who, source is None, line))
    # The installed build of a protected package (torch and its family) stands with the
    # application: a node that asks for another version is left out, never obeyed.
    if out and ctx.venv_exists:
        for name, kinds in sorted(protected(ctx).items()):
            dist = ctx.installed.get(name)
            if (
                "version" not in kinds
                or dist is None
                or not any(not a.is_app for a in out.get(name, []))
            ):
                continue
            text = f"{name}=={dist.version}"
            line = ReqLine(ctx.venv, 0, text, Requirement(text), name)
            out[name].insert(
                0, Ask(name, f"the installed {name} {dist.version} (protected)", True, line)
            )
    return out


def _candidates(specs: list[SpecifierSet]) -> set[Version]:
    """Versions at and just around every bound the specifiers name."""
    out: set[Version] = set()
    for spec_set in specs:
        for spec in spec_set:
            text = spec.version.removesuffix(".*")
            try:
                base = Version(text)
            except InvalidVersion:
                continue
            out.add(base)
            release = list(base.release)
            out.add(Version(".".join(map(str, release + [1]))))
            for i in range(len(release)):
                out.add(Version(".".join(map(str, release[:i] + [release[i] + 1]))))
                if release[i] > 0:
                    out.add(Version(".".join(map(str, release[:i] + [release[i] - 1, 999]))))
    return out


def satisfiable(specs: list[SpecifierSet], extra: list[Version] | None = None) -> bool:
    """Whether one version satisfies every specifier set (offline, from their bounds)."""
    specs = [s for s in specs if len(s)]
    if len(specs) < 2:
        return True
    if any(sp.operator == "===" for s in specs for sp in s):
        return True  # arbitrary equality: cannot be reasoned about, pip decides
    candidates = _candidates(specs) | set(extra or [])
    return any(all(s.contains(v, prereleases=True) for s in specs) for v in candidates)


def conflicts(ctx: Context) -> list[Conflict]:
    """Pairs of askers (a node against the application, or two nodes) whose requirements on
    one package no version satisfies; the application's own lines are not compared with each
    other (its constraint files may narrow its requirements)."""
    out: list[Conflict] = []
    for name, items in sorted(asks(ctx).items()):
        for i, first in enumerate(items):
            for second in items[i + 1 :]:
                if first.is_app and second.is_app or first.who == second.who:
                    continue
                if not satisfiable([first.spec, second.spec]):
                    a, b = (first, second) if first.is_app or not second.is_app else (second, first)
                    out.append(Conflict(name, a, b))
    return out


def blocked(ctx: Context) -> dict[str, list[Conflict]]:
    """The nodes the plan leaves out (a label -> the conflicts that make it so), so that the
    application and every other node install together."""
    out: dict[str, list[Conflict]] = {}
    for conflict in conflicts(ctx):
        if conflict.first.who in out:
            continue  # already left out: its other conflicts no longer matter
        out.setdefault(conflict.blocked, []).append(conflict)
    return out


def install_files(ctx: Context) -> tuple[list[str], list[str]]:
    """The requirements files one pip run installs together (the application's, then every
    node's that is not left out) and the application's constraint files."""
    left_out = blocked(ctx)
    reqs: list[str] = []
    cons: list[str] = []
    for source in ctx.install.requirement_sources():
        if not source.path.is_file() or source.label in left_out:
            continue
        (cons if source.constraint else reqs).append(str(source.path))
    return reqs, cons


# ---------------------------------------------------------------------------------------------
# Protected packages

DEFAULT_PROTECT = TORCH_STACK
DEFAULT_MAJOR = ("numpy",)


def protected(ctx: Context) -> dict[str, set[str]]:
    """Packages that no node or extension may move, each with how: the manifest's
    ``protect.packages`` (``version``: kept at their version), ``protect.no_downgrade`` (never
    lower), ``protect.major`` (kept in their major version) and the application's ``==`` pins
    (``app-pin``)."""
    manifest = ctx.install.manifest
    out: dict[str, set[str]] = {}
    for key, kind, default in (
        ("protect.packages", "version", DEFAULT_PROTECT),
        ("protect.no_downgrade", "no-downgrade", ()),
        ("protect.major", "major", DEFAULT_MAJOR),
    ):
        for name in manifest.get(key, list(default)):
            out.setdefault(canonical(name), set()).add(kind)
    for line in ctx.app_requirements.lines:
        req = line.requirement
        if (
            line.name
            and req is not None
            and any(s.operator in ("==", "===") for s in req.specifier)
        ):
            out.setdefault(line.name, set()).add("app-pin")
    return out


REASONS = {
    "version": "protected: its build must not change under the application",
    "no-downgrade": "protected: must not be downgraded",
    "major": "protected: kept in its major version (modules built for one fail with another)",
    "app-pin": "pinned by the application",
}


def move_breaks(kinds: set[str], old: str | None, new: str) -> str | None:
    """Why moving a protected package ``old`` -> ``new`` breaks its protection, or None."""
    if old is None:
        return None  # not installed: nothing to protect yet
    try:
        ov, nv = Version(old), Version(new)
    except InvalidVersion:
        return REASONS["version"] if old != new else None
    for kind in ("version", "app-pin", "no-downgrade", "major"):
        if kind not in kinds:
            continue
        if (
            kind in ("version", "app-pin")
            and ov != nv
            or kind == "no-downgrade"
            and nv < ov
            or kind == "major"
            and ov.major != nv.major
        ):
            return REASONS[kind]
    return None


def keep_line(name: str, kinds: set[str], version: str) -> str | None:
    """The constraint that holds one installed protected package where its kinds say."""
    if kinds & {"version", "app-pin"}:
        return f"{name}=={version}"
    try:
        v = Version(version)
    except InvalidVersion:
        return None
    parts = []
    if "no-downgrade" in kinds:
        parts.append(f">={version}")
    elif "major" in kinds:
        parts.append(f">={v.major}")
    if "major" in kinds:
        parts.append(f"<{v.major + 1}")
    return name + ",".join(parts) if parts else None


def keep_lines(ctx: Context) -> list[str]:
    """Constraint lines that hold every installed protected package where it is."""
    installed = ctx.installed if ctx.venv_exists else {}
    lines = []
    for name, kinds in sorted(protected(ctx).items()):
        dist = installed.get(name)
        line = keep_line(name, kinds, dist.version) if dist is not None else None
        if line:
            lines.append(line)
    return lines


def plan_keep(ctx: Context) -> list[str]:
    """The keep constraints a repair's install can honour: those the requirements of the
    application and of the nodes it installs allow (a pin they reject is left out, so that
    pip can move that package where they say)."""
    left_out = blocked(ctx)
    wanted = asks(ctx)
    out: list[str] = []
    for text in keep_lines(ctx):
        keep = Requirement(text)
        specs = [a.spec for a in wanted.get(keep.name, []) if a.who not in left_out]
        extra: list[Version] = []
        for spec in keep.specifier:
            try:
                extra.append(Version(spec.version))
            except InvalidVersion:
                pass
        if satisfiable([keep.specifier, *specs], extra):
            out.append(text)
    return out


def _import_name(dist: Any) -> str | None:
    """The module a distribution is imported as: its ``top_level.txt`` (the one named like it
    when there are several), else the first top-level package or module its RECORD lists."""
    tops = [t for t in dist.top_level if t and not t.startswith("_") and "/" not in t]
    if not tops:
        try:
            records = dist.record
        except Exception:  # noqa: BLE001 - an unreadable RECORD: nothing to probe
            return None
        seen: list[str] = []
        for rec in records:
            first, _, rest = rec.path.partition("/")
            if first.startswith(("_", "..")) or first.endswith(
                (".dist-info", ".data", ".egg-info", ".pth")
            ):
                continue
            name = first[:-3] if not rest and first.endswith(".py") else first if rest else None
            if name and name.isidentifier() and name not in seen:
                seen.append(name)
        tops = seen
    if not tops:
        return None
    key = dist.name.lower().replace("-", "_")
    return next((t for t in tops if t.lower() == key), tops[0])


def node_modules(ctx: Context) -> dict[str, list[str]]:
    """For ``check --deep``: the import name of every installed distribution a custom node or
    extension asks for, with the nodes that ask (so that a failed import names them)."""
    out: dict[str, list[str]] = {}
    installed = ctx.installed
    for source, reqs in ctx.node_requirements:
        for line in reqs.requirements:
            dist = installed.get(line.name or "")
            if dist is None:
                continue
            module = _import_name(dist)
            if module and source.label not in out.setdefault(module, []):
                out[module].append(source.label)
    return out


def pip_left_out(
    ctx: Context,
    reqs: list[str],
    cons: list[str],
    keep: list[str],
    index_args: list[str],
    dry_run: DryRun,
) -> dict[str, str]:
    """Nodes that pip cannot install with the application and the other nodes, through their
    dependencies (what the specifiers alone do not show: a node's package that needs numpy 2
    beside a node that pins numpy 1): ``{label: pip's reason}``. Asks pip's resolver (a dry
    run in the venv, ``dry_run``: ``repair.checks.preupdate.dry_run``): first everything, then
    without one node at a time, the last loaded first. Empty when everything installs, or when
    pip cannot be asked."""
    labels = {str(s.path): s.label for s in ctx.install.requirement_sources() if not s.is_app}
    nodes = [r for r in reqs if r in labels]
    if not nodes or not ctx.venv_exists or ctx.interp is None:
        return {}
    with tempfile.TemporaryDirectory(prefix="repair-plan-") as tmp:
        inputs = [("-c", c) for c in cons]
        if keep:
            path = Path(tmp) / "keep.txt"
            path.write_text("\n".join(keep) + "\n", encoding="utf-8")
            inputs.append(("-c", str(path)))

        def attempt(files: list[str]) -> tuple[bool | None, str | None]:
            items, why, unresolvable = dry_run(
                ctx, [("-r", f) for f in files] + inputs, extra=index_args
            )
            return (True if items is not None else False if unresolvable else None), why

        ok, why = attempt(reqs)
        if ok is not False:
            return {}
        left: dict[str, str] = {}
        remaining = list(reqs)
        for node in reversed(nodes):
            trial = [r for r in remaining if r != node]
            ok_without, _ = attempt(trial)
            if ok_without is None:
                return {}
            left[labels[node]] = why or "pip cannot install it with the rest"
            remaining = trial
            if ok_without:
                return left
    return {}
