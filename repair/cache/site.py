"""The check's caches for one venv: parsed metadata folders (with their RECORD paths), the
interpreter probe, and the findings of the file checks of site-packages.

- A metadata folder is stamped by the ``stat`` of the folder and of every file in it: an added,
  removed or rewritten file is a miss, and only that folder is read again.
- The probe is stamped by the venv's python (the link and what it points to), ``pyvenv.cfg``
  and the base Python's folder.
- The findings of the checks that look only at which files exist (residue, duplicates, orphans,
  missing files) are stamped by site-packages, every metadata folder and every folder the walk
  went through: a file added or removed anywhere changes its folder's modification time. With
  ``--verify-files`` they always run.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from repair.cache.store import StatKey, Store, fingerprint_ok, stat_key
from repair.env.dists import Dist, load_dist
from repair.env.interp import InterpreterInfo
from repair.env.interp import probe as run_probe
from repair.model import Finding, Fix, Severity

if TYPE_CHECKING:
    from repair.checks.registry import Check
    from repair.context import Context

# The modules whose checks depend only on the venv's files and the requirement files: their
# findings are kept with the stat of everything they read (``env_stamp``).
ENV_MODULES = (
    "repair.checks.venv",
    "repair.checks.site",
    "repair.checks.requirements",
    "repair.checks.conflicts",
)
# The checks whose findings depend only on the files the site memo stamps.
MEMO_CHECKS = ("stale_residue", "duplicate_distribution", "orphan_files", "missing_file")
_CACHED_TYPES: dict[str, type] = {
    "str": str,
    "list[str]": list,
    "frozenset[str]": frozenset,
    "int": int,
    "bool": bool,
}


def open_store(ctx: Context) -> Store | None:
    if not ctx.venv_exists:
        return None
    store = Store.open(str(ctx.venv.resolve()), "venv")
    return store if store.path is not None else None


# -- metadata folders ----------------------------------------------------------------------------
def _dist_fields() -> list[tuple[str, type]] | None:
    """The Dist fields a cache entry holds, or None when one has a type this cache cannot
    store (then nothing is cached rather than something lost)."""
    out = []
    for f in dataclasses.fields(Dist):
        if f.name in ("path", "site"):
            continue
        kind = _CACHED_TYPES.get(str(f.type))
        if kind is None:
            return None
        out.append((f.name, kind))
    return out


class DistCache:
    """``load_dist`` through the cache. Use ``load`` in place of ``repair.env.dists.load_dist``,
    then ``finish`` with the distributions once the checks have run."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.fields = _dist_fields()
        self.stamps: dict[str, list[Any]] = {}
        self.hits: set[str] = set()
        self._records: Store | None = None  # RECORD paths: a file of their own, read on need

    def _stamp(self, path: Path) -> list[Any]:
        key = stat_key(path)
        stamp: list[Any] = [key]
        if key is None or not key[3]:
            return stamp
        try:
            names = sorted(os.listdir(path))
        except OSError:
            return stamp
        for name in names:
            stamp.append([name, stat_key(os.path.join(path, name))])
        return stamp

    def load(self, path: Path, site: Path) -> Dist:
        if self.fields is None:
            return load_dist(path, site)
        stamp = self._stamp(path)
        self.stamps[path.name] = stamp
        value = self.store.get("dists", path.name, stamp)
        if value is not None:
            dist = self._revive(value, path, site)
            if dist is not None:
                self.hits.add(path.name)
                return dist
        return load_dist(path, site)

    def _revive(self, value: Any, path: Path, site: Path) -> Dist | None:
        assert self.fields is not None
        try:
            kwargs: dict[str, Any] = {}
            for name, kind in self.fields:
                item = value[name]
                if kind in (str, int, bool):
                    if type(item) is not kind:
                        return None
                else:
                    if not isinstance(item, list) or not all(isinstance(s, str) for s in item):
                        return None
                    item = frozenset(item) if kind is frozenset else list(item)
                kwargs[name] = item
            return Dist(path=path, site=site, **kwargs)
        except (KeyError, TypeError, ValueError):
            return None

    def records(self, dists: list[Dist]) -> None:
        """Fill in ``record_paths`` of the distributions whose folder did not change."""
        if self.fields is None or self.store.path is None:
            return
        self._records = Store.open(str(self.store.path), "records")
        for dist in dists:
            stamp = self.stamps.get(dist.path.name)
            value = self._records.get("record_paths", dist.path.name, stamp)
            if (
                stamp is not None
                and isinstance(value, list)
                and len(value) == 2
                and all(isinstance(v, str) for v in value)
            ):
                dist.set_record_paths(_split(value[0]), _split(value[1]))

    def finish(self, dists: list[Dist]) -> None:
        """Store the folders read in this run, and the RECORD paths computed."""
        if self.fields is None:
            return
        for dist in dists:
            stamp = self.stamps.get(dist.path.name)
            if stamp is None:
                continue
            if dist.path.name not in self.hits:
                value: dict[str, Any] = {}
                for name, kind in self.fields:
                    item = getattr(dist, name)
                    value[name] = sorted(item) if kind is frozenset else item
                self.store.put("dists", dist.path.name, stamp, value)
            record = dist.record_paths_read()
            if (
                self._records is not None
                and record is not None
                and not any("\n" in p for part in record for p in part)
            ):
                self._records.get("record_paths", dist.path.name, stamp)  # keep if there
                if self._records.section("record_paths").get(dist.path.name, [None])[0] != stamp:
                    self._records.put(
                        "record_paths",
                        dist.path.name,
                        stamp,
                        ["\n".join(record[0]), "\n".join(record[1])],
                    )
        if self._records is not None and self.store.path is not None:
            self._records.save(str(self.store.path))


def _split(text: str) -> list[str]:
    return text.split("\n") if text else []


# -- the interpreter probe -----------------------------------------------------------------------
def _probe_stamp(ctx: Context) -> list[Any]:
    python = ctx.layout.python
    stamp: list[Any] = [
        str(python),
        stat_key(python),
        stat_key(python, follow=False),
        stat_key(ctx.layout.cfg_path),
    ]
    cfg = ctx.cfg
    if cfg is not None and cfg.home:
        stamp.append(stat_key(cfg.home))
    return stamp


def probe(ctx: Context, store: Store | None) -> InterpreterInfo:
    """``repair.env.interp.probe`` of the venv's python, from the cache when nothing it depends on
    changed. A failed probe is never cached."""
    if store is None:
        return run_probe(ctx.layout.python)
    stamp = _probe_stamp(ctx)
    value = store.get("probe", "python", stamp)
    if isinstance(value, dict):
        version, markers = value.get("version"), value.get("markers")
        executable, facts = value.get("executable"), value.get("facts")
        if (
            isinstance(version, str)
            and isinstance(executable, str)
            and isinstance(facts, dict)
            and isinstance(markers, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in markers.items())
        ):
            return InterpreterInfo(
                version=version, markers=markers, executable=executable, facts=facts
            )
    info = run_probe(ctx.layout.python)
    store.put(
        "probe",
        "python",
        stamp,
        {
            "version": info.version,
            "markers": info.markers,
            "executable": info.executable,
            "facts": info.facts,
        },
    )
    return info


# -- the findings of the file checks -------------------------------------------------------------
def _memo_stamp(ctx: Context, dirs: list[str], cache: DistCache) -> list[Any] | None:
    dist_stamps = []
    for dist in ctx.scan.dists:
        stamp = cache.stamps.get(dist.path.name)
        if stamp is None:
            return None
        dist_stamps.append([dist.path.name, stamp])
    dir_stamps: list[StatKey | None] = [stat_key(d, follow=False) for d in dirs]
    return [stat_key(ctx.site), dist_stamps, dir_stamps]


def memo_lookup(ctx: Context) -> dict[str, list[Finding]] | None:
    """The findings of ``MEMO_CHECKS`` from the last run, when nothing they read changed."""
    cache = ctx.dist_cache
    store = ctx.cache_store
    if cache is None or store is None or ctx.options.verify_files or not ctx.scan.exists:
        return None
    entry: Any = store.section("memo").get("site")
    try:
        dirs = entry[1]["dirs"]
        if not isinstance(dirs, list) or not all(isinstance(d, str) for d in dirs):
            return None
    except (TypeError, KeyError, IndexError):
        return None
    stamp = _memo_stamp(ctx, dirs, cache)
    value = store.get("memo", "site", stamp)
    if value is None:
        return None
    ctx.memo_dirs = dirs
    ctx.memo_dir_keys = stamp[2] if stamp else None
    try:
        return {name: [_finding(item) for item in value["findings"][name]] for name in MEMO_CHECKS}
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def records(ctx: Context) -> None:
    """RECORD paths from the cache, before the file checks read them."""
    cache = ctx.dist_cache
    if cache is not None and ctx.scan.exists:
        cache.records(ctx.scan.dists)


def memo_store(ctx: Context, produced: dict[str, list[Finding]]) -> None:
    """Remember the findings of ``MEMO_CHECKS``, stamped by what they read."""
    cache = ctx.dist_cache
    store = ctx.cache_store
    own = ctx.site_ownership
    if cache is None or store is None or own is None or ctx.options.verify_files:
        return
    if any(name not in produced for name in MEMO_CHECKS):
        return
    dirs = set(getattr(own, "dirs", None) or ())
    if not dirs and own.tops:
        return  # this version of the site checks does not say which folders it walked
    site = str(ctx.site)
    for rel in own.outside:
        dirs.add(os.path.dirname(os.path.normpath(os.path.join(site, rel))))
    for dist, inside in own.owned:
        dist_stamp = cache.stamps.get(dist.path.name) or []
        if not any(isinstance(k, list) and k[1] and k[1][3] for k in dist_stamp[1:]):
            continue  # no folder inside the metadata folder
        prefix = dist.path.name + "/"
        for rel in inside:
            if rel.startswith(prefix) and "/" in rel[len(prefix) :]:
                dirs.add(os.path.dirname(os.path.join(site, rel)))
    ordered = sorted(dirs)
    stamp = _memo_stamp(ctx, ordered, cache)
    if stamp is None:
        return
    ctx.memo_dirs = ordered
    ctx.memo_dir_keys = stamp[2]
    findings = {name: [f.to_json() for f in produced[name]] for name in MEMO_CHECKS}
    store.put("memo", "site", stamp, {"dirs": ordered, "findings": findings})


# -- the findings of every check of the venv's files ---------------------------------------------
def _env_key(ctx: Context) -> str:
    manifest = ctx.install.manifest
    return f"env\0{ctx.install.dir}\0{manifest.name}\0{manifest.source}"


def env_lookup(ctx: Context) -> dict[str, list[Finding]] | None:
    """The findings of the checks of ``ENV_MODULES`` from the last run, when every file and
    folder they read is as it was."""
    store = ctx.cache_store
    if store is None or ctx.options.verify_files:
        return None
    key = _env_key(ctx)
    entry = store.section("memo").get(key)
    if not isinstance(entry, list) or len(entry) != 2 or not fingerprint_ok(entry[0]):
        return None
    value = store.get("memo", key, entry[0])
    try:
        found = {
            name: [_finding(item) for item in items] for name, items in value["findings"].items()
        }
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    store.keep_section("dists")
    store.keep_section("memo")
    ctx.cached_env_stamp = entry[0]  # what they read, checked just now
    return found


def env_store(ctx: Context, produced: dict[str, list[Finding]], checks: list[Check]) -> None:
    store = ctx.cache_store
    if store is None or ctx.options.verify_files:
        return
    names = [c.name for c in checks if c.func.__module__ in ENV_MODULES and c.option is None]
    if any(name not in produced for name in names):
        return
    stamp = env_stamp(ctx)
    if stamp is not None:
        findings = {name: [f.to_json() for f in produced[name]] for name in names}
        store.put("memo", _env_key(ctx), stamp, {"findings": findings})


def env_stamp(ctx: Context) -> list[Any] | None:
    """``[path, follow, stat]`` of everything the checks of ``ENV_MODULES`` read; None when the
    run did not go through the cache (then there is nothing to compare against next time)."""
    if ctx.cached_env_stamp is not None:
        return ctx.cached_env_stamp
    cache = ctx.dist_cache
    out: list[Any] = []

    def add(path: Path | str, follow: bool = True) -> None:
        out.append([str(path), follow, stat_key(path, follow=follow)])

    install = ctx.install
    add(install.dir)
    for name in install.manifest.settings_files:
        add(install.dir / name)
    source = install.manifest.source
    if source != "built-in":
        add(os.path.abspath(source))
    add(ctx.venv)
    if not ctx.venv_exists:
        return out
    if cache is None:
        return None
    add(ctx.layout.python)
    add(ctx.layout.python, False)
    add(ctx.layout.cfg_path)
    if ctx.cfg is not None and ctx.cfg.home:
        add(ctx.cfg.home)
    add(ctx.site)
    for dist in ctx.scan.dists:
        stamp = cache.stamps.get(dist.path.name)
        if stamp is None:
            return None
        out.append([str(dist.path), True, stamp[0]])
        out.extend([str(dist.path / name), True, key] for name, key in stamp[1:])
    if ctx.scan.exists and ctx.memo_dirs is None:
        return None  # the folders the file checks walked are not known
    dirs = ctx.memo_dirs or []
    keys = ctx.memo_dir_keys or [stat_key(d, follow=False) for d in dirs]
    out.extend([d, False, key] for d, key in zip(dirs, keys, strict=True))
    paths = [
        install.dir / rel
        for rel in [*install.manifest.requirement_files, *install.manifest.constraint_files]
    ]
    if ctx.computed("app_requirements"):
        paths += ctx.app_requirements.files
    for path in dict.fromkeys(paths):
        add(path)
    return out


def _finding(data: dict[str, Any]) -> Finding:
    texts = [data["id"], data["subject"], data["message"], data["remedy"]]
    if not all(isinstance(t, str) for t in texts):
        raise TypeError("bad finding")
    details = data.get("details", {})
    if not isinstance(details, dict) or not isinstance(data["restart_required"], bool):
        raise TypeError("bad finding")
    return Finding(
        id=texts[0],
        severity=Severity(data["severity"]),
        subject=texts[1],
        message=texts[2],
        remedy=texts[3],
        fix=Fix(data["fix"]),
        restart_required=data["restart_required"],
        details=details,
    )


def finish(ctx: Context) -> None:
    """Save what this run read; never raises."""
    store = ctx.cache_store
    cache = ctx.dist_cache
    if store is None:
        return
    try:
        if cache is not None and ctx.computed("scan"):
            cache.finish(ctx.scan.dists)
        if ctx.options.verify_files:
            store.keep_section("memo")
        store.save(str(ctx.venv.resolve()))
    except Exception:  # noqa: BLE001 - the cache is a shortcut, never a reason to fail
        pass
