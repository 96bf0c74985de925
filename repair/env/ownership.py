"""Which files of site-packages each distribution owns, and which exist on disk: the facts the
file checks of site-packages (``repair.checks.site``) and the diagnosis share, computed once per
context."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from repair.env.dists import MetadataError, _norm_rel

if TYPE_CHECKING:
    from repair.context import Context
    from repair.env.dists import Dist

_norm = _norm_rel
_NT = os.name == "nt"


def is_bytecode(rel: str) -> bool:
    return rel.endswith((".pyc", ".pyo", "__pycache__")) or "/__pycache__/" in f"/{rel}"


@dataclass
class Ownership:
    """Which files of site-packages each distribution owns, and which exist on disk.

    Built with set operations (not a loop per file): a torch venv has ~50,000 files."""

    owned: list[tuple[Dist, set[str]]] = field(default_factory=list)  # inside site-packages
    all_owned: set[str] = field(default_factory=set)
    tops: dict[str, Dist] = field(default_factory=dict)  # top-level entry name -> dist
    top_owners: dict[str, set[str]] = field(default_factory=dict)  # top -> metadata folders
    outside: dict[str, Dist] = field(default_factory=dict)  # "../" paths (scripts, headers)
    existing: set[str] = field(default_factory=set)  # every file found under an owned top
    sizes: dict[str, int] = field(default_factory=dict)  # size on disk of each file found
    extra: dict[str, list[str]] = field(default_factory=dict)  # top -> unowned files inside it
    unreadable: list[tuple[Dist, str]] = field(default_factory=list)
    dirs: list[str] = field(default_factory=list)  # every folder walked (for the check's cache)
    # Paths that several distributions of different names list with different content.
    shared: dict[str, list[Dist]] = field(default_factory=dict)
    # Folder -> the first distribution whose RECORD lists a file in it (built on first use).
    folders: dict[str, Dist] | None = None


# Files that only a build of an extension reads (torch alone ships ~8,000 headers): their size
# is not compared, which spares a third of the stats of a torch venv.
_BUILD_ONLY = (".h", ".hpp", ".hxx", ".cuh", ".inl", ".c", ".cc", ".cpp", ".pxd", ".pyx")


def _walk(base: str, prefix: str, out: dict[str, int], dirs: list[str]) -> None:
    """Every file below ``base`` (``__pycache__`` skipped) with its size: one ``stat`` each,
    which is what the size comparison with RECORD needs (-1: not compared, see
    ``_BUILD_ONLY``); every folder walked goes to ``dirs`` (for the check's cache)."""
    dirs.append(base)
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
                        _walk(entry.path, rel, out, dirs)
                else:
                    out[rel] = (
                        -1
                        if entry.name.endswith(_BUILD_ONLY)
                        else entry.stat(follow_symlinks=False).st_size
                    )
            except OSError:
                continue


def ownership(ctx: Context) -> Ownership:
    """Computed once per context and shared by the checks below."""
    if ctx.site_ownership is not None:
        return ctx.site_ownership
    own = Ownership()
    site = str(ctx.site)
    first_owner: dict[str, Dist] = {}
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
        overlap = inside & own.all_owned
        if overlap:
            _note_shared(own, dist, overlap, first_owner)
        first_owner.update(dict.fromkeys(inside - own.all_owned, dist))
        own.owned.append((dist, inside))
        own.all_owned |= inside
        meta_prefix = _norm(dist.path.name) + "/"
        listing = {n.lower() for n in dist.listing} if _NT else dist.listing
        for top in {p.partition("/")[0] for p in inside}:
            if top + "/" != meta_prefix:
                own.tops.setdefault(top, dist)
                own.top_owners.setdefault(top, set()).add(dist.path.name)
        # The metadata folder was listed when it was scanned: no walk needed for its files.
        own.existing.update(meta_prefix + name for name in listing)
        for rel in inside:
            if (
                rel.startswith(meta_prefix)
                and "/" in rel[len(meta_prefix) :]
                and os.path.lexists(os.path.join(site, rel))
            ):
                own.existing.add(rel)
    for entry in ctx.scan.entries:
        name = _norm(entry.name)
        if name not in own.tops:
            continue
        try:
            is_dir = entry.is_dir(follow_symlinks=False)
            if not is_dir:
                own.existing.add(name)
                own.sizes[name] = entry.stat(follow_symlinks=False).st_size
                continue
        except OSError:
            continue
        files: dict[str, int] = {}
        _walk(entry.path, name, files, own.dirs)
        if _NT:
            files = {_norm(rel): size for rel, size in files.items()}
        own.existing.update(files)
        own.sizes.update(files)
        if own.tops[name].has_record():
            extra = [rel for rel in files.keys() - own.all_owned if not is_bytecode(rel)]
            if extra:
                own.extra[name] = sorted(extra)
    ctx.site_ownership = own
    return own


def _note_shared(
    own: Ownership, dist: Dist, overlap: set[str], first_owner: dict[str, Dist]
) -> None:
    """Record the paths ``dist`` shares with a distribution of another name whose RECORD gives
    them other content. Equal hashes (the empty ``__init__.py`` of a namespace package that
    every ``nvidia-*`` wheel ships) are no conflict; two versions of one name are
    ``duplicate-distribution``'s."""
    for rel in overlap:
        other = first_owner.get(rel)
        if other is None or other.key == dist.key or is_bytecode(rel):
            continue
        a, b = dist.record_hashes.get(rel, ""), other.record_hashes.get(rel, "")
        if a and b:
            if a == b:
                continue
        else:  # a RECORD without hashes: the sizes tell, else there is no evidence
            sa, sb = dist.record_sizes.get(rel), other.record_sizes.get(rel)
            if sa is None or sb is None or sa == sb:
                continue
        owners = own.shared.setdefault(rel, [other])
        if dist not in owners:
            owners.append(dist)
