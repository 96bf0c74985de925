"""Tie a diagnosis to the install it came from.

For each cause that names a module, a path or a distribution: which distribution owns it (read
from site-packages' metadata with ``env.dists``, never by importing from the venv), whether it
is installed, at which version, whether two versions are mixed, and which requirement line of the
application or of a node asks for which version. A module that no requirement declares is named
as such. The remedy follows: the smallest ``repair`` that fixes it, the node or extension to
update, or that a rebuild will not help. Remedies that are launch arguments are worded for the
application (its flags, its settings files or launchers, from its manifest).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from repair.app.reqfiles import parse_file
from repair.diagnose.causes import Cause, Diagnosis, Tie
from repair.diagnose.names import ALTERNATIVES, FLAG_REMEDIES, IMPORT_NAMES
from repair.diagnose.signature import RebuildHelps
from repair.env.dists import canonical
from repair.env.ownership import ownership

if TYPE_CHECKING:
    from repair.app.manifest import Manifest
    from repair.app.requirements import ReqLine
    from repair.context import Context
    from repair.env.dists import Dist


@dataclass
class Wanted:
    where: str
    spec: str
    node: str | None
    met: bool | None


@dataclass
class Install:
    """What the install shows, read once per diagnosis."""

    manifest: Manifest
    app_dir: Path
    installed: dict[str, Dist]
    duplicates: dict[str, list[Dist]]
    tops: dict[str, Dist]
    stray: set[str]  # canonical names with a '~' leftover folder in site-packages
    requirements: list[tuple[ReqLine, str | None]]  # (line, node that asks, or None: the app)
    app_names: set[str] = field(default_factory=set)  # top-level names of the application

    @classmethod
    def read(cls, ctx: Context) -> Install:
        manifest = ctx.install.manifest
        app_dir = ctx.install.dir
        installed: dict[str, Dist] = {}
        duplicates: dict[str, list[Dist]] = {}
        tops: dict[str, Dist] = {}
        stray: set[str] = set()
        if ctx.venv_exists:
            try:
                installed = dict(ctx.installed)
                duplicates = {k: v for k, v in ctx.scan.by_key().items() if len(v) > 1}
                tops = dict(ownership(ctx).tops)
                stray = {
                    canonical(e.name[1:].split("-")[0])
                    for e in ctx.scan.entries
                    if e.name.startswith("~")
                }
            except OSError:
                pass
        reqs: list[tuple[ReqLine, str | None]] = [
            (line, None) for line in ctx.app_requirements.requirements
        ]
        for folder in manifest.get("extensions.paths", []):
            base = app_dir / folder
            try:
                nodes = sorted(p for p in base.iterdir() if p.is_dir())
            except OSError:
                continue
            for node in nodes:
                path = node / "requirements.txt"
                if not path.is_file():
                    continue
                try:
                    found = parse_file(path)
                except Exception:  # noqa: BLE001 - a node's broken file never stops a diagnosis
                    continue
                reqs.extend((line, node.name) for line in found.requirements)
        try:
            app_names = {_strip_py(e.name) for e in os.scandir(app_dir)}
        except OSError:
            app_names = set()
        return cls(manifest, app_dir, installed, duplicates, tops, stray, reqs, app_names)

    def owner(self, top: str) -> Dist | None:
        for name in (top, top + ".py", top.lower(), top.lower() + ".py"):
            if name in self.tops:
                return self.tops[name]
        return None

    def wanted(self, key: str, version: str | None) -> list[Wanted]:
        out = []
        for line, node in self.requirements:
            if line.name != key or line.requirement is None:
                continue
            spec = line.requirement.specifier
            met = None
            if version is not None and str(spec):
                try:
                    met = spec.contains(version, prereleases=True)
                except Exception:  # noqa: BLE001 - an odd version is "unknown", not a crash
                    met = None
            where = f"{line.source.parent.name}/{line.source.name}" if node else line.source.name
            out.append(Wanted(f"{where}:{line.lineno}", str(spec), node, met))
        return out


def _strip_py(name: str) -> str:
    return name[:-3] if name.endswith(".py") else name


def _site_top(path: str) -> str | None:
    """The top-level name inside site-packages (or dist-packages) that ``path`` is under."""
    parts = path.replace("\\", "/").split("/")
    for i, part in enumerate(parts[:-1]):
        if part.lower() in ("site-packages", "dist-packages"):
            return _strip_py(parts[i + 1])
    return None


def _distribution_of(cause: Cause, env: Install) -> tuple[str | None, str | None, Dist | None]:
    """(module top-level name, distribution key, installed dist) the cause is about."""
    named = cause.named
    top = None
    if named.get("path"):
        top = _site_top(named["path"])
    if top is None and named.get("module"):
        top = named["module"].split(".")[0]
    if top:
        dist = env.owner(top)
        if dist is not None:
            return top, dist.key, dist
        guess = IMPORT_NAMES.get(top, canonical(top))
        if not guess:
            return top, None, None
        for alt in ALTERNATIVES.get(guess, (guess,)):
            if alt in env.installed:
                return top, alt, env.installed[alt]
        return top, guess, None
    for key in ("req", "have_name", "dist"):
        if named.get(key):
            name = canonical(named[key])
            return None, name, env.installed.get(name)
    if cause.lead.family == "numpy":
        return "numpy", "numpy", env.installed.get("numpy")
    return None, None, None


def _told(cause: Cause, tie: Tie, note: str, remedy: str, *, rebuild_helps: bool) -> Cause:
    """``cause`` tied with its note and remedy; ``repair`` is the command when a rebuild helps."""
    helps = RebuildHelps.YES if rebuild_helps else RebuildHelps.NO
    command = "repair" if rebuild_helps else None
    return replace(
        cause, tie=replace(tie, note=note, remedy=remedy, command=command, rebuild_helps=helps)
    )


def tie_cause(cause: Cause, env: Install) -> Cause:
    """The cause with what the install shows and the remedy for it. A catalogue entry that
    leads keeps its own remedy unless the install shows that plain ``repair`` fixes it (a mixed
    distribution, a requirement of the application that is not met or not installed): the entry
    knows its error better than the general rules below."""
    tied = _tie_cause(cause, env)
    if cause.lead.shape or tied.tie is None or tied.tie.command == "repair":
        return tied
    return replace(tied, tie=replace(tied.tie, remedy="", command=None, rebuild_helps=None))


def _tie_cause(cause: Cause, env: Install) -> Cause:
    cause = _for_app(cause, env.manifest)
    helps = cause.rebuild_helps
    top, key, dist = _distribution_of(cause, env)
    if helps is RebuildHelps.NO and not cause.lead.shape:
        note = "A rebuild of the environment will not help: the cause is outside the packages."
        facts = Tie(node=cause.node, note=note, rebuild_helps=RebuildHelps.NO)
        if key is not None:
            version = dist.version if dist is not None else None
            facts = replace(
                facts,
                distribution=dist.name if dist is not None else key,
                module=top,
                installed=dist is not None,
                version=version,
                wanted=tuple(
                    f"{w.where} asks for {key}{w.spec or ' (any version)'}"
                    for w in env.wanted(key, version)
                ),
            )
        return replace(cause, tie=facts)
    if key is None and top is None:
        return cause
    node = cause.node
    kind = cause.lead.shape or ""
    version = dist.version if dist is not None else None
    wanted = env.wanted(key, version) if key else []
    unmet = [w for w in wanted if w.met is False]
    app_unmet = [w for w in unmet if w.node is None]
    mixed = bool(key) and (key in env.duplicates or key in env.stray)
    lines = tuple(
        f"{w.where} asks for {key}{w.spec or ' (any version)'}"
        + ("" if w.met is None else " (met)" if w.met else " (not met)")
        for w in wanted
    )
    have = cause.named.get("have")
    if (
        version is not None
        and have
        and kind == "version"
        and have != version
        and canonical(cause.named.get("have_name", key or "")) == key
    ):
        moved = f"The log's {key} {have} is no longer installed ({version} now). "
    else:
        moved = ""
    tie = Tie(
        distribution=dist.name if dist is not None else key,
        module=top,
        installed=dist is not None,
        version=version,
        mixed=mixed,
        wanted=lines,
        declared=bool(wanted),
        node=node,
    )
    name = tie.distribution or top or "it"
    ask = f"node '{node}'" if node else "the node or extension that imports it"
    if top and top in env.app_names and (dist is None or kind == "module"):
        if dist is not None:
            note = (
                f"'{top}' is a folder of the application, and the distribution '{dist.name}' "
                f"{dist.version} installed in the venv shadows it."
            )
            remedy = (
                f"Uninstall '{dist.name}' from the venv ('python -m pip uninstall "
                f"{dist.name}'); it is not the application's '{top}'."
            )
            return _told(cause, tie, note, remedy, rebuild_helps=False)
        note = f"'{top}' is part of the application itself, not a package."
        tie = replace(tie, distribution=None, installed=None)
        if "No module named" not in cause.matches[0].text:
            remedy = (
                f"The code that imports from '{top}' ({ask}) was written for another "
                "version of the application: update the application and then it."
            )
            return _told(cause, tie, note, remedy, rebuild_helps=False)
        remedy = (
            f"Start the application from its own folder with its own launcher; when "
            f"'{top}' is missing from the application's folder, 'repair --reclone' "
            "restores the application's files (user data kept)."
        )
        return replace(
            cause,
            tie=replace(
                tie,
                note=note,
                remedy=remedy,
                command="repair --reclone",
                rebuild_helps=RebuildHelps.PARTLY,
            ),
        )
    if mixed:
        note = f"Two versions of '{name}' are mixed in site-packages."
        remedy = f"Plain 'repair' reinstalls '{name}' in place at the version the install asks for."
        return _told(cause, tie, note, remedy, rebuild_helps=True)
    if dist is not None and unmet:
        who = "; ".join(
            f"{w.where}{' (node ' + w.node + ')' if w.node else ''} asks for {w.spec}"
            for w in unmet[:3]
        )
        note = f"'{dist.name}' {dist.version} is installed; {who}."
        if app_unmet:
            remedy = (
                f"Plain 'repair' installs the '{dist.name}' version the application's "
                "requirements ask for."
            )
            return _told(cause, tie, note, remedy, rebuild_helps=True)
        nodes = sorted({w.node for w in unmet if w.node})
        remedy = (
            f"The application's own pin is met; node {', '.join(nodes)} asks for another "
            f"'{dist.name}': update it, or remove it if it still asks for that version."
        )
        return _told(cause, tie, note, remedy, rebuild_helps=False)
    if dist is not None:
        note = (
            moved
            + f"'{dist.name}' {dist.version} is installed"
            + (", at a version its requirements accept." if wanted else ".")
        )
        if kind == "module" and "No module named" in cause.matches[0].text:
            note += " Its files are incomplete or it is installed for another Python."
            remedy = f"Plain 'repair' reinstalls '{dist.name}' when its files do not match RECORD."
            return _told(cause, tie, note, remedy, rebuild_helps=True)
        if kind in ("module", "api") and cause.lead.shape:
            remedy = (
                f"The code that uses '{top or name}' expects another version of it: update "
                f"{ask}; a rebuild installs the same '{dist.name}' again."
            )
            return _told(cause, tie, note, remedy, rebuild_helps=False)
        return replace(cause, tie=replace(tie, note=note))
    if wanted:
        by = ", ".join(w.where for w in wanted[:3])
        note = f"'{name}' is not installed, though {by} asks for it."
        remedy = f"Plain 'repair' installs '{name}' as the requirements ask."
        return _told(cause, tie, note, remedy, rebuild_helps=True)
    if kind == "module" and top and "No module named" not in cause.matches[0].text:
        note = (
            f"'{name}' is not installed in this install's venv: the log may come from "
            "another Python or another venv."
        )
        return replace(cause, tie=replace(tie, note=note))
    if kind in ("module", "") and top:
        note = (
            f"'{name}' is not installed, and no requirement file of the application or of "
            "any node declares it: a rebuild will not install it."
        )
        remedy = (
            f"Install it into the venv with the venv's own python ('python -m pip install "
            f"{name}'), and ask the author of {ask} to declare it in its requirements."
        )
        return _told(cause, tie, note, remedy, rebuild_helps=False)
    return replace(cause, tie=replace(tie, note=f"'{name}' is not installed."))


def _for_app(cause: Cause, manifest: Manifest) -> Cause:
    """Launch-argument remedies worded for the application: its flag, and where it goes."""
    flag_for = FLAG_REMEDIES.get(cause.lead.id)
    if flag_for is None:
        return cause
    purpose, why, first = flag_for
    flag = manifest.launch_flag(purpose)
    if not flag:
        return cause
    return replace(
        cause,
        app_remedy=f"{first} Or start {manifest.title} with {flag} {why}: "
        f"{where_arguments_go(manifest)}",
    )


def where_arguments_go(manifest: Manifest) -> str:
    settings = manifest.settings_files
    if settings:
        return f"add it to COMMANDLINE_ARGS in {' or '.join(settings)}."
    scripts = manifest.launch_scripts
    if scripts:
        return (
            f"add it to the command line that starts main.py ({', '.join(scripts)} in the "
            "portable build)."
        )
    return "add it to the command line that starts the application."


def tie(diagnosis: Diagnosis, ctx: Context) -> Diagnosis:
    """The diagnosis with each cause tied to the install of ``ctx``."""
    if diagnosis.healthy:
        return diagnosis
    env = Install.read(ctx)
    return replace(diagnosis, causes=tuple(tie_cause(c, env) for c in diagnosis.causes))


def for_app(diagnosis: Diagnosis, manifest: Manifest) -> Diagnosis:
    """Only the per-application wording, when the application is known but not its venv."""
    return replace(diagnosis, causes=tuple(_for_app(c, manifest) for c in diagnosis.causes))


def describe(env: Install) -> dict[str, Any]:
    return {
        "manifest": env.manifest.name,
        "installed": len(env.installed),
        "requirements": len(env.requirements),
    }
