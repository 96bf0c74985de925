"""Checks of site-packages as files: residue of interrupted (un)installs, two versions of one
project, files nobody owns, files RECORD lists that are gone, and (``--verify-files``) files whose
content differs from RECORD."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from repair.checks.registry import check, finding_type
from repair.env.dists import MetadataError, _norm_rel, canonical
from repair.env.ownership import Ownership, is_bytecode, ownership
from repair.model import Finding, FindingId, FindingType, Fix, Severity

if TYPE_CHECKING:
    from repair.context import Context
    from repair.env.dists import Dist

STALE_RESIDUE = finding_type(
    FindingId.STALE_RESIDUE,
    "Leftovers of an interrupted install or uninstall",
    Severity.ERROR,
    Fix.REMOVE,
)
DUPLICATE_DISTRIBUTION = finding_type(
    FindingId.DUPLICATE_DISTRIBUTION,
    "Two metadata folders for one project",
    Severity.ERROR,
    Fix.REINSTALL,
    restart_required=True,
)
ORPHAN_FILES = finding_type(
    FindingId.ORPHAN_FILES,
    "Files in site-packages that no installed distribution owns",
    Severity.WARNING,
    Fix.REINSTALL,
)
MISSING_FILE = finding_type(
    FindingId.MISSING_FILE,
    "A file listed in RECORD is absent",
    Severity.ERROR,
    Fix.REINSTALL,
    restart_required=True,
)
MIXED_VERSION = finding_type(
    FindingId.MIXED_VERSION,
    "A distribution's folders hold files of another version",
    Severity.ERROR,
    Fix.REINSTALL,
    restart_required=True,
)
SHARED_FILES = finding_type(
    FindingId.SHARED_FILES,
    "Several distributions own the same files",
    Severity.ERROR,
    Fix.REINSTALL,
    restart_required=True,
)
RECORD_MISMATCH = finding_type(
    FindingId.RECORD_MISMATCH,
    "A file's content differs from its RECORD hash",
    Severity.ERROR,
    Fix.REINSTALL,
    restart_required=True,
)

RECORD_OUTSIDE_VENV = finding_type(
    FindingId.RECORD_OUTSIDE_VENV,
    "A distribution's files reach outside the venv",
    Severity.ERROR,
    Fix.REINSTALL,
)

# Top-level entries that belong to the venv, not to a distribution.
_VENV_OWNED = {
    "__pycache__",
    "_virtualenv.py",
    "_virtualenv.pth",
    "README.txt",
    "README",
    "easy-install.pth",
    "sitecustomize.py",
    "usercustomize.py",
}
# Legacy eggs and virtualenv's own markers (pip-26.3.virtualenv) sit at the top level too.
_VENV_SUFFIXES = (".egg-link", ".egg", ".virtualenv")
_MAX_EXAMPLES = 5

_norm = _norm_rel


def _per_dist(
    ftype: FindingType, groups: dict[str, list[str]], dists: dict[str, Dist], what: str
) -> Iterator[Finding]:
    """One finding per distribution, naming how many of its files are affected and a few."""
    for folder, files in sorted(groups.items()):
        dist = dists[folder]
        files.sort()
        yield ftype(
            dist.name,
            f"{len(files)} file(s) of {dist.name} {dist.version} "
            f"{what.format(file=dist.record_label)}: {_examples(files)}",
            f"run 'repair' to reinstall {dist.name}",
            files=files[:50],
            count=len(files),
        )


def _examples(paths: list[str]) -> str:
    shown = ", ".join(paths[:_MAX_EXAMPLES])
    more = len(paths) - _MAX_EXAMPLES
    return shown + (f" and {more} more" if more > 0 else "")


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
    for key, group in ctx.scan.by_key().items():
        if len(group) < 2:
            continue
        versions = [d.version or "?" for d in group]
        folders = [d.path.name for d in group]
        live = ctx.installed.get(key)
        on_disk = f"; the files on disk are {live.version}'s" if live is not None else ""
        yield DUPLICATE_DISTRIBUTION(
            group[0].name,
            f"{len(group)} versions of {group[0].name} are installed side by side "
            f"({', '.join(versions)}): {', '.join(folders)}{on_disk}",
            "run 'repair' to remove them all and reinstall the one version the application needs",
            versions=versions,
            folders=[str(d.path) for d in group],
            live=live.version if live is not None else None,
        )


@check(ORPHAN_FILES)
def orphan_files(ctx: Context) -> Iterator[Finding]:
    """Whole modules and folders in site-packages that no installed distribution owns: their
    metadata is gone. (Unowned files inside a distribution's own folders are ``mixed-version``.)"""
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


def _shadowed(ctx: Context, dist: Dist) -> bool:
    """A metadata folder of a name installed twice whose files are not the ones on disk: its
    absent and differing files are ``duplicate-distribution``'s evidence, not findings of
    their own."""
    live = ctx.installed.get(dist.key)
    return live is not None and live is not dist


def _where(files: list[str]) -> str:
    """The folders that hold most of ``files``: ``numpy/_core/ 297, numpy/ 12``."""
    counts: dict[str, int] = {}
    for rel in files:
        folder = "/".join(rel.split("/")[:2][:-1] if rel.count("/") < 2 else rel.split("/")[:2])
        counts[folder + "/"] = counts.get(folder + "/", 0) + 1
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    return "in " + ", ".join(f"{folder} {n}" for folder, n in top)


def _owner_of(own: Ownership, rel: str) -> Dist:
    """The distribution whose folders hold ``rel``: the owner of the nearest folder above it
    that a RECORD lists files in (a namespace folder such as ``nvidia/`` has many owners)."""
    folders = own.folders
    if folders is None:
        folders = {}
        for dist, inside in own.owned:
            for path in inside:
                folders.setdefault(path.rpartition("/")[0], dist)
        own.folders = folders
    parent = rel.rpartition("/")[0]
    while parent:
        if parent in folders:
            return folders[parent]
        parent = parent.rpartition("/")[0]
    return own.tops[rel.partition("/")[0]]


@check(MIXED_VERSION)
def mixed_version(ctx: Context) -> Iterator[Finding]:
    """A distribution's own package folders hold files of another version: files that no
    installed RECORD lists, or files whose size differs from what RECORD lists (one ``stat``
    per file, no hashing). Python imports them as one package, and the import fails in ways no
    plain ``pip install`` fixes (numpy 2 modules inside numpy 1.26: ``cannot import name
    'broadcast_to'``). Files several distributions claim are ``shared-files``' evidence."""
    if not ctx.scan.exists:
        return
    own = ownership(ctx)
    extra: dict[str, list[str]] = {}
    changed: dict[str, list[str]] = {}
    dists: dict[str, Dist] = {}
    for _top, files in sorted(own.extra.items()):
        for rel in files:
            dist = _owner_of(own, rel)
            extra.setdefault(dist.path.name, []).append(rel)
            dists[dist.path.name] = dist
    sizes = own.sizes
    for dist, _inside in own.owned:
        if dist.kind != "dist-info" or _shadowed(ctx, dist):
            continue
        bad = [
            rel
            for rel, size in dist.record_sizes.items()
            if sizes.get(rel, size) not in (size, -1)
            and rel not in own.shared
            and not is_bytecode(rel)
        ]
        if bad:
            changed[dist.path.name] = bad
            dists[dist.path.name] = dist
    for folder in sorted(dists):
        dist = dists[folder]
        new, diff = sorted(extra.get(folder, [])), sorted(changed.get(folder, []))
        parts = []
        if new:
            parts.append(
                f"{len(new)} file(s) that no RECORD lists ({_where(new)}: {_examples(new)})"
            )
        if diff:
            parts.append(
                f"{len(diff)} file(s) whose size differs from {dist.record_label} "
                f"({_examples(diff)})"
            )
        files = new + diff
        tops = sorted(
            {
                rel.partition("/")[0]
                for rel in files
                if own.top_owners.get(rel.partition("/")[0]) == {folder}
            }
        )
        yield MIXED_VERSION(
            dist.name,
            f"{dist.name} {dist.version} on disk is not the version its metadata declares: its "
            f"folders hold {' and '.join(parts)}",
            f"run 'repair' to reinstall {dist.name} cleanly (remove its files and folders, "
            "then install it again)",
            files=files[:50],
            count=len(files),
            unlisted=len(new),
            size_differs=len(diff),
            tops=tops,
            folder=str(dist.path),
            version=dist.version,
        )


@check(SHARED_FILES)
def shared_files(ctx: Context) -> Iterator[Finding]:
    """Several distributions of different names own the same files with different content
    (opencv-python, opencv-python-headless and opencv-contrib-python in one ``cv2/``): only one
    version of each file can be on disk, so every other owner is broken, and uninstalling any of
    them removes files the others need."""
    if not ctx.scan.exists:
        return
    own = ownership(ctx)
    if not own.shared:
        return
    # One finding per set of distributions that share files with each other (opencv-python
    # shares cv2/ with -headless, which shares more with -contrib: one finding for the three).
    groups: list[tuple[set[str], list[str]]] = []
    by_folder: dict[str, Dist] = {}
    for rel, owners in own.shared.items():
        names = {d.path.name for d in owners}
        by_folder.update((d.path.name, d) for d in owners)
        joined = [g for g in groups if g[0] & names]
        for g in joined:
            groups.remove(g)
            names |= g[0]
        groups.append((names, [rel] + [p for g in joined for p in g[1]]))
    wanted = _wanted_names(ctx)
    for key, files in sorted(groups, key=lambda g: sorted(g[0])):
        files.sort()
        owners = [by_folder[f] for f in sorted(key)]
        keep = _keeper(owners, files, own, wanted)
        listed = ", ".join(f"{d.name} {d.version}" for d in owners)
        yield SHARED_FILES(
            owners[0].name,
            f"{len(owners)} distributions own the same {len(files)} file(s) with different "
            f"content ({listed}): {_examples(files)}; the files on disk are {keep.name}'s",
            f"run 'repair' to remove them all and reinstall only {keep.name}; install one of "
            "them only (custom nodes that ask for another flavour share its module)",
            dists=[d.name for d in owners],
            folders=[str(d.path) for d in owners],
            keep=keep.name,
            keep_version=keep.version,
            files=files[:50],
            count=len(files),
        )


def _wanted_names(ctx: Context) -> set[str]:
    """Names the application's requirements or an installed distribution's own requirements
    (extras aside) ask for: facexlib asks for opencv-python, so that one is kept."""
    wanted = (
        {line.name for line in ctx.app_requirements.requirements if line.name}
        if ctx.venv_exists
        else set()
    )
    for dist in ctx.scan.dists:
        for req in dist.requires:
            if "extra" in req.partition(";")[2]:
                continue
            m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", req)
            if m:
                wanted.add(canonical(m.group(1)))
    return wanted


def _keeper(owners: list[Dist], files: list[str], own: Ownership, wanted: set[str]) -> Dist:
    """The one to keep: the one the application's requirements or the installed distributions
    ask for, else (several or none asked for) the one whose RECORD sizes the files on disk
    have."""
    named = [d for d in owners if d.key in wanted]
    if len(named) == 1:
        return named[0]
    if named:
        owners = named

    def score(d: Dist) -> int:
        sizes = d.record_sizes
        return sum(1 for rel in files if rel in sizes and own.sizes.get(rel) == sizes[rel])

    return max(owners, key=score)


@check(MISSING_FILE)
def missing_file(ctx: Context) -> Iterator[Finding]:
    """A file that RECORD lists is absent: the install was interrupted or files were deleted."""
    if not ctx.scan.exists:
        return
    own = ownership(ctx)
    missing: dict[str, list[str]] = {}
    dists: dict[str, Dist] = {}
    for dist, inside in own.owned:
        if _shadowed(ctx, dist):
            continue
        gone = [
            rel for rel in inside - own.existing if not is_bytecode(rel) and not rel.endswith("/")
        ]
        if gone:
            missing[dist.path.name] = gone
            dists[dist.path.name] = dist
    site = str(ctx.site)
    for rel, dist in own.outside.items():
        if is_bytecode(rel) or _shadowed(ctx, dist):
            continue
        if not os.path.lexists(os.path.normpath(os.path.join(site, rel))):
            missing.setdefault(dist.path.name, []).append(rel)
            dists[dist.path.name] = dist
    yield from _per_dist(MISSING_FILE, missing, dists, "listed in {file} are missing")


@check(RECORD_MISMATCH, option="verify_files")
def record_mismatch(ctx: Context) -> Iterator[Finding]:
    """With ``--verify-files``: a file's content differs from the hash in RECORD (a damaged or
    hand-edited file, or a file of another version)."""
    if not ctx.scan.exists:
        return
    from repair.env.records import verify_hashes  # lazy: only --verify-files hashes

    own = ownership(ctx)
    result = verify_hashes(
        ctx.site, ctx.scan.dists, own.existing, ctx.reporter, workers=ctx.options.jobs
    )
    ctx.verify_stats = result.stats
    yield from _per_dist(
        RECORD_MISMATCH, result.mismatched, result.dists, "differ from the hash in {file}"
    )


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
        leaving = [
            rel
            for rel in outside + [p for p in paths if ".." in p]
            if _leaves(os.path.normpath(os.path.join(site, rel)), venv)
        ]
        linked = sorted(top for top, d in owners.items() if d is dist and top in links)
        if not leaving and not linked:
            continue
        what = []
        if leaving:
            what.append(f"{len(leaving)} RECORD path(s) outside the venv: {_examples(leaving)}")
        if linked:
            what.append(
                "package folder(s) linked outside the venv: "
                + ", ".join(f"{top} -> {links[top]}" for top in linked)
            )
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
