"""Checks of site-packages as files: residue of interrupted (un)installs, two versions of one
project, files nobody owns, files RECORD lists that are gone, and (``--verify-files``) files whose
content differs from RECORD."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from repair.checks.registry import FindingType, check, finding_type
from repair.dists import _norm_rel
from repair.model import Finding, Fix, Severity

if TYPE_CHECKING:
    from repair.context import Context
    from repair.dists import Dist

STALE_RESIDUE = finding_type(
    "stale-residue", "Leftovers of an interrupted install or uninstall", Severity.ERROR, Fix.REMOVE
)
DUPLICATE_DISTRIBUTION = finding_type(
    "duplicate-distribution", "Two metadata folders for one project", Severity.ERROR, Fix.REINSTALL,
    restart_required=True,
)
ORPHAN_FILES = finding_type(
    "orphan-files", "Files in site-packages that no installed distribution owns", Severity.WARNING,
    Fix.REINSTALL,
)
MISSING_FILE = finding_type(
    "missing-file", "A file listed in RECORD is absent", Severity.ERROR, Fix.REINSTALL,
    restart_required=True,
)
RECORD_MISMATCH = finding_type(
    "record-mismatch", "A file's content differs from its RECORD hash", Severity.ERROR,
    Fix.REINSTALL, restart_required=True,
)

RECORD_OUTSIDE_VENV = finding_type(
    "record-outside-venv", "A distribution's files reach outside the venv", Severity.ERROR,
    Fix.REINSTALL,
)

# Top-level entries that belong to the venv, not to a distribution.
_VENV_OWNED = {"__pycache__", "_virtualenv.py", "_virtualenv.pth", "README.txt", "README",
               "easy-install.pth", "sitecustomize.py", "usercustomize.py"}
# Legacy eggs and virtualenv's own markers (pip-26.3.virtualenv) sit at the top level too.
_VENV_SUFFIXES = (".egg-link", ".egg", ".virtualenv")
_MAX_EXAMPLES = 5
_NT = os.name == "nt"


_norm = _norm_rel


def _is_bytecode(rel: str) -> bool:
    return rel.endswith((".pyc", ".pyo", "__pycache__")) or "/__pycache__/" in f"/{rel}"


def _per_dist(ftype: FindingType, groups: dict[str, list[str]], dists: dict[str, Dist],
              what: str) -> Iterator[Finding]:
    """One finding per distribution, naming how many of its files are affected and a few."""
    for folder, files in sorted(groups.items()):
        dist = dists[folder]
        files.sort()
        yield ftype(
            dist.name,
            f"{len(files)} file(s) of {dist.name} {dist.version} {what}: {_examples(files)}",
            f"run 'repair' to reinstall {dist.name}",
            files=files[:50],
            count=len(files),
        )


def _examples(paths: list[str]) -> str:
    shown = ", ".join(paths[:_MAX_EXAMPLES])
    more = len(paths) - _MAX_EXAMPLES
    return shown + (f" and {more} more" if more > 0 else "")


@dataclass
class Ownership:
    """Which files of site-packages each distribution owns, and which exist on disk.

    Built with set operations (not a loop per file): a torch venv has ~50,000 files."""

    owned: list[tuple[Dist, set[str]]] = field(default_factory=list)  # inside site-packages
    all_owned: set[str] = field(default_factory=set)
    tops: dict[str, Dist] = field(default_factory=dict)  # top-level entry name -> dist
    outside: dict[str, Dist] = field(default_factory=dict)  # "../" paths (scripts, headers)
    existing: set[str] = field(default_factory=set)  # every file found under an owned top
    extra: dict[str, list[str]] = field(default_factory=dict)  # top -> unowned files inside it
    unreadable: list[tuple[Dist, str]] = field(default_factory=list)


def _walk(base: str, prefix: str, out: list[str]) -> None:
    try:
        it = os.scandir(base)
    except OSError:
        return
    with it:
        for entry in it:
            rel = f"{prefix}/{entry.name}"
            try:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name != "__pycache__":
                        _walk(entry.path, rel, out)
                else:
                    out.append(rel)
            except OSError:
                continue


def ownership(ctx: Context) -> Ownership:
    """Computed once per context and shared by the checks below."""
    cached = ctx.__dict__.get("_ownership")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    from repair.dists import MetadataError

    own = Ownership()
    site = str(ctx.site)
    for dist in ctx.scan.dists:
        try:
            paths, outside = dist.record_paths
        except MetadataError as exc:
            own.unreadable.append((dist, str(exc)))
            continue
        if not paths and not outside and dist.kind == "egg-info":
            for top in dist.top_level:
                own.tops.setdefault(_norm(top), dist)
                own.tops.setdefault(_norm(top) + ".py", dist)
            continue
        for rel in outside:
            own.outside[rel] = dist
        inside = set(paths)
        own.owned.append((dist, inside))
        own.all_owned |= inside
        meta_prefix = _norm(dist.path.name) + "/"
        listing = {n.lower() for n in dist.listing} if _NT else dist.listing
        for top in {p.partition("/")[0] for p in inside}:
            if top + "/" != meta_prefix:
                own.tops.setdefault(top, dist)
        # The metadata folder was listed when it was scanned: no walk needed for its files.
        own.existing.update(meta_prefix + name for name in listing)
        for rel in inside:
            if rel.startswith(meta_prefix) and "/" in rel[len(meta_prefix):] and \
                    os.path.lexists(os.path.join(site, rel)):
                own.existing.add(rel)
    for entry in ctx.scan.entries:
        name = _norm(entry.name)
        if name not in own.tops:
            continue
        try:
            is_dir = entry.is_dir(follow_symlinks=False)
        except OSError:
            continue
        if not is_dir:
            own.existing.add(name)
            continue
        files: list[str] = []
        _walk(entry.path, name, files)
        found = {_norm(rel) for rel in files} if _NT else set(files)
        own.existing |= found
        if own.tops[name].kind == "dist-info":
            extra = [rel for rel in found - own.all_owned if not _is_bytecode(rel)]
            if extra:
                own.extra[name] = sorted(extra)
    ctx.__dict__["_ownership"] = own
    return own


@check(STALE_RESIDUE)
def stale_residue(ctx: Context) -> Iterator[Finding]:
    """Leftovers of an interrupted install or uninstall: pip's ``~name`` temporary folders, and
    metadata folders that lost their METADATA or RECORD."""
    if not ctx.scan.exists:
        return
    for path in ctx.scan.residue:
        yield STALE_RESIDUE(
            path.name,
            f"'{path.name}' in site-packages is left from an interrupted install or uninstall",
            "run 'repair' to remove it (pip leaves these when a file was locked, often by a "
            "running web UI); stop the web UI first",
            path=str(path),
        )
    for dist in ctx.scan.dists:
        if dist.problems:
            subject = dist.name or dist.path.name
            yield STALE_RESIDUE(
                subject,
                f"{dist.path.name}: {'; '.join(dist.problems)}",
                f"run 'repair' to reinstall {subject} (its metadata folder is half-removed)",
                fix=Fix.REINSTALL,
                path=str(dist.path),
            )
    for dist, problem in ownership(ctx).unreadable:
        yield STALE_RESIDUE(
            dist.name or dist.path.name,
            f"{dist.path.name}: RECORD unreadable: {problem}",
            f"run 'repair' to reinstall {dist.name}",
            fix=Fix.REINSTALL,
            path=str(dist.path),
        )


@check(DUPLICATE_DISTRIBUTION)
def duplicate_distribution(ctx: Context) -> Iterator[Finding]:
    """Two metadata folders for one project: two versions side by side, each owning some files."""
    for _key, group in ctx.scan.by_key().items():
        if len(group) < 2:
            continue
        versions = [d.version or "?" for d in group]
        folders = [d.path.name for d in group]
        yield DUPLICATE_DISTRIBUTION(
            group[0].name,
            f"{len(group)} versions of {group[0].name} are installed side by side "
            f"({', '.join(versions)}): {', '.join(folders)}",
            "run 'repair' to remove them all and reinstall the one version the application needs",
            versions=versions,
            folders=[str(d.path) for d in group],
        )


@check(ORPHAN_FILES)
def orphan_files(ctx: Context) -> Iterator[Finding]:
    """Files in site-packages that no installed distribution owns: extra files inside a package's
    folders (pieces of another version mixed in), and whole modules whose metadata is gone."""
    if not ctx.scan.exists:
        return
    own = ownership(ctx)
    for entry in ctx.scan.entries:
        name = entry.name
        norm = _norm(name)
        if norm in own.tops or name in _VENV_OWNED or name.endswith(_VENV_SUFFIXES):
            continue
        if name.endswith(".pth") or name.startswith("__editable__"):
            # .pth files of editable installs are owned through RECORD; a stray one is harmless
            # enough to leave to the user.
            continue
        yield ORPHAN_FILES(
            name,
            f"'{name}' in site-packages belongs to no installed distribution "
            "(its metadata is gone)",
            "if a package needs it, reinstall that package; otherwise run 'repair' to remove it",
            fix=Fix.REMOVE,
            path=entry.path,
        )
    for top, files in sorted(own.extra.items()):
        dist = own.tops[top]
        yield ORPHAN_FILES(
            dist.name,
            f"{len(files)} file(s) inside {top}/ are not in {dist.name} {dist.version}'s RECORD, "
            f"pieces of another version mixed in: {_examples(files)}",
            f"run 'repair' to reinstall {dist.name} cleanly "
            "(uninstall, remove the folder, install)",
            files=files[:50],
            count=len(files),
        )


@check(MISSING_FILE)
def missing_file(ctx: Context) -> Iterator[Finding]:
    """A file that RECORD lists is absent: the install was interrupted or files were deleted."""
    if not ctx.scan.exists:
        return
    own = ownership(ctx)
    missing: dict[str, list[str]] = {}
    dists: dict[str, Dist] = {}
    for dist, inside in own.owned:
        gone = [rel for rel in inside - own.existing
                if not _is_bytecode(rel) and not rel.endswith("/")]
        if gone:
            missing[dist.path.name] = gone
            dists[dist.path.name] = dist
    site = str(ctx.site)
    for rel, dist in own.outside.items():
        if _is_bytecode(rel):
            continue
        if not os.path.lexists(os.path.normpath(os.path.join(site, rel))):
            missing.setdefault(dist.path.name, []).append(rel)
            dists[dist.path.name] = dist
    yield from _per_dist(MISSING_FILE, missing, dists, "listed in RECORD are missing")


@check(RECORD_MISMATCH, option="verify_files")
def record_mismatch(ctx: Context) -> Iterator[Finding]:
    """With ``--verify-files``: a file's content differs from the hash in RECORD (a damaged or
    hand-edited file, or a file of another version)."""
    if not ctx.scan.exists:
        return
    from repair.verify import verify_hashes

    own = ownership(ctx)
    result = verify_hashes(ctx.site, ctx.scan.dists, own.existing, ctx.reporter,
                           workers=ctx.options.get("jobs"))
    ctx.__dict__["verify_stats"] = result.stats
    yield from _per_dist(RECORD_MISMATCH, result.mismatched, result.dists, "differ from RECORD")


def _leaves(path: str, root: str) -> bool:
    return path != root and not path.startswith(root.rstrip(os.sep) + os.sep)


@check(RECORD_OUTSIDE_VENV)
def record_outside_venv(ctx: Context) -> Iterator[Finding]:
    """A RECORD or ``installed-files.txt`` entry that resolves outside the venv, or a package
    folder in site-packages that is a link to a folder outside it. pip's uninstall removes every
    listed file and writes through links: uninstalling or reinstalling such a distribution would
    delete or change files that are not the venv's. ``repair`` removes its files inside the venv
    itself (never one outside, never through the link) and installs it again."""
    if not ctx.scan.exists:
        return
    from repair.dists import MetadataError

    site = str(ctx.site)
    venv = os.path.abspath(ctx.venv)
    real_venv = os.path.realpath(ctx.venv)
    links: dict[str, str] = {}
    for entry in ctx.scan.entries:
        try:
            if entry.is_symlink():
                target = os.path.realpath(entry.path)
                if _leaves(target, real_venv):
                    links[_norm(entry.name)] = target
        except OSError:
            continue
    owners = ownership(ctx).tops
    for dist in ctx.scan.dists:
        try:
            paths, outside = dist.record_paths
        except MetadataError:
            continue
        leaving = [rel for rel in outside + [p for p in paths if ".." in p]
                   if _leaves(os.path.normpath(os.path.join(site, rel)), venv)]
        linked = sorted(top for top, d in owners.items() if d is dist and top in links)
        if not leaving and not linked:
            continue
        what = []
        if leaving:
            what.append(f"{len(leaving)} RECORD path(s) outside the venv: {_examples(leaving)}")
        if linked:
            what.append("package folder(s) linked outside the venv: "
                        + ", ".join(f"{top} -> {links[top]}" for top in linked))
        yield RECORD_OUTSIDE_VENV(
            dist.name,
            f"{dist.name} {dist.version}: " + "; ".join(what),
            f"run 'repair': it removes {dist.name}'s files inside the venv itself (nothing "
            "outside, never through a link) and installs it again",
            files=leaving[:50],
            links=linked,
            path=str(dist.path),
        )
    owned = {top for top, _d in owners.items()}
    for top, target in sorted(links.items()):
        if top not in owned:
            yield RECORD_OUTSIDE_VENV(
                top,
                f"'{top}' in site-packages is a link to {target}, outside the venv",
                "run 'repair': it removes the link (never what it points to)",
                fix=Fix.REMOVE,
                path=os.path.join(site, top),
            )
