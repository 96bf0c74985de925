"""Reading what is installed in a site-packages folder: ``.dist-info`` and ``.egg-info`` metadata,
``RECORD`` files and ``Requires-Dist`` lists, straight from the files (no pip, no imports from the
venv). Parsing is tolerant: a broken metadata folder becomes a ``problem`` on the distribution, and
the checks turn problems into findings.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from repair.saferead import read_regular, read_regular_text

_CANON_RE = re.compile(r"[-_.]+")
_SECTION_RE = re.compile(r"^\[(?P<extra>[^:\]]*)(?::(?P<marker>.*))?\]$")


def _norm_rel(rel: str) -> str:
    rel = rel.replace("\\", "/")
    while rel.startswith("./"):
        rel = rel[2:]
    return rel.lower() if os.name == "nt" else rel


def canonical(name: str) -> str:
    """PEP 503 normalisation, as ``packaging.utils.canonicalize_name`` does, without the import."""
    return _CANON_RE.sub("-", name).lower()


class MetadataError(Exception):
    """A metadata file that cannot be read as text."""


def read_text_file(path: Path) -> str:
    """Read a metadata file as text; binary or undecodable content raises ``MetadataError``."""
    try:
        raw = read_regular(path)
    except OSError as exc:
        raise MetadataError(f"cannot read {path.name}: {exc.strerror or exc}") from exc
    if b"\x00" in raw:
        raise MetadataError(f"{path.name} is binary, not text")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        # Old setuptools wrote PKG-INFO in the locale's encoding.
        return raw.decode("latin-1")


def parse_headers(text: str) -> dict[str, list[str]]:
    """RFC 822 headers of a METADATA/PKG-INFO file, up to the first blank line; tolerant."""
    headers: dict[str, list[str]] = {}
    last: list[str] | None = None
    end = text.find("\n\n")  # the body (a long description) is not needed
    if end != -1:
        text = text[:end]
    for line in text.splitlines():
        if not line.strip():
            break
        if line[0] in " \t":
            if last is not None and last:
                last[-1] += "\n" + line.strip()
            continue
        key, sep, value = line.partition(":")
        if not sep:
            continue
        last = headers.setdefault(key.strip().lower(), [])
        last.append(value.strip())
    return headers


@dataclass(frozen=True)
class RecordEntry:
    path: str  # as written in RECORD, relative to site-packages, "/" separated
    hash: str  # "sha256=..." or ""
    size: int | None


@dataclass
class Dist:
    """One installed distribution, as its metadata folder describes it."""

    path: Path
    site: Path
    kind: str  # "dist-info" or "egg-info"
    name: str = ""
    version: str = ""
    requires: list[str] = field(default_factory=list)
    extras: list[str] = field(default_factory=list)
    requires_python: str = ""
    problems: list[str] = field(default_factory=list)
    listing: frozenset[str] = frozenset()  # names inside the metadata folder

    @cached_property
    def key(self) -> str:
        return canonical(self.name)

    @cached_property
    def parsed_version(self) -> Any:
        """``packaging.version.Version`` of this distribution, or None when it is not valid."""
        from packaging.version import InvalidVersion, Version  # lazy: packaging is heavy

        try:
            return Version(self.version)
        except InvalidVersion:
            return None

    @property
    def has_metadata(self) -> bool:
        return bool(self.name) and bool(self.version)

    def _file(self, name: str) -> Path:
        return self.path / name

    @cached_property
    def installer(self) -> str:
        try:
            return read_regular_text(self._file("INSTALLER"), errors="replace").strip()
        except OSError:
            return ""

    @cached_property
    def direct_url(self) -> dict[str, Any] | None:
        try:
            data = json.loads(read_regular_text(self._file("direct_url.json")))
        except (OSError, ValueError, RecursionError):
            return None
        return data if isinstance(data, dict) else None

    @cached_property
    def top_level(self) -> list[str]:
        try:
            text = read_regular_text(self._file("top_level.txt"), errors="replace")
        except OSError:
            return []
        return [line.strip() for line in text.splitlines() if line.strip()]

    @property
    def record_file(self) -> str:
        """The file that lists this distribution's files: ``RECORD`` for a ``.dist-info``,
        ``installed-files.txt`` for a legacy ``.egg-info`` (``setup.py install``)."""
        return "RECORD" if self.kind == "dist-info" else "installed-files.txt"

    @property
    def record_label(self) -> str:
        """``<metadata folder>/<file>``, as messages name the file that lists a path."""
        return f"{self.path.name}/{self.record_file}"

    def has_record(self) -> bool:
        return self.record_file in self.listing

    @cached_property
    def _rows(self) -> list[tuple[str, str, str]] | list[list[str]]:
        """(path, hash, size) per entry, paths relative to site-packages as written (egg-info
        paths rebased from the metadata folder onto site-packages). Raises ``MetadataError``."""
        if self.kind == "dist-info":
            text = self._record_text
            if not text:
                return []
            if '"' in text:  # quoted paths (commas in names): the csv module's job
                return [
                    (r[0], r[1] if len(r) > 1 else "", r[2] if len(r) > 2 else "")
                    for r in csv.reader(io.StringIO(text))
                    if r and r[0]
                ]
            # The common case, several times faster than csv.
            split = [line.rsplit(",", 2) for line in text.splitlines() if line and line[0] != ","]
            if all(len(r) == 3 for r in split):
                return split  # lists of three, read as (path, hash, size)
            return [(r[0], r[1] if len(r) > 1 else "", r[2] if len(r) > 2 else "") for r in split]
        if self.record_file not in self.listing:
            return []
        # installed-files.txt: one path a line, relative to the .egg-info folder itself
        # ("../numpy/__init__.py", "../../../../bin/pygrun").
        base = os.path.relpath(self.path, self.site)
        out = []
        for line in read_text_file(self._file(self.record_file)).splitlines():
            line = line.strip()
            if line:
                if os.path.isabs(line):
                    rel = line.replace(os.sep, "/")
                else:
                    rel = os.path.normpath(os.path.join(base, line)).replace(os.sep, "/")
                out.append((rel, "", ""))
        return out

    @cached_property
    def record_paths(self) -> tuple[list[str], list[str]]:
        """The paths of RECORD as ownership compares them: ``/``-separated, no ``./``, lower
        case on Windows; split into those inside site-packages and those outside (``../bin``,
        absolute paths)."""
        raw = [row[0] for row in self._rows]
        if self._needs_norm:
            raw = [_norm_rel(p) for p in raw]
        if self._may_leave:
            outside = [p for p in raw if p.startswith(_LEAVING) and _is_outside(p)]
            if outside:
                gone = set(outside)
                return [p for p in raw if p not in gone], outside
        return raw, []

    def record_paths_read(self) -> tuple[list[str], list[str]] | None:
        """``record_paths`` if it has been computed (or given by ``set_record_paths``), else
        None: a cache stores only what this run read."""
        return self.__dict__.get("record_paths")

    def set_record_paths(self, inside: list[str], outside: list[str]) -> None:
        """Give ``record_paths`` from a cache, so that RECORD is not read for it."""
        self.__dict__["record_paths"] = (inside, outside)

    @cached_property
    def _may_leave(self) -> bool:
        """Whether any path may lie outside site-packages; a text search spares a test per
        path for the wheels that install no scripts or headers."""
        if self.kind != "dist-info" or os.name == "nt":
            return True
        text = "\n" + self._record_text
        return "\n../" in text or "\n/" in text or ":" in text

    @cached_property
    def record_sizes(self) -> dict[str, int]:
        """Normalised path -> size, for the RECORD entries inside site-packages that give one."""
        norm, leave = self._needs_norm, self._may_leave
        out = {(_norm_rel(p) if norm else p): int(s) for p, _h, s in self._rows if s.isdigit()}
        if leave:
            for rel in [r for r in out if r.startswith(_LEAVING) and _is_outside(r)]:
                del out[rel]
        return out

    @cached_property
    def record_hashes(self) -> dict[str, str]:
        """Normalised path -> hash (``sha256=...``), for the entries that give one."""
        norm = self._needs_norm
        return {(_norm_rel(p) if norm else p): h for p, h, _s in self._rows if h}

    @cached_property
    def _needs_norm(self) -> bool:
        """Whether paths need ``_norm_rel`` (Windows, backslashes, ``./``): most RECORDs do not,
        and skipping it saves a pass over ~50,000 paths."""
        if os.name == "nt" or self.kind != "dist-info":
            return True
        text = self._record_text
        return "\\" in text or "\n./" in "\n" + text

    @cached_property
    def _record_text(self) -> str:
        if self.kind != "dist-info" or "RECORD" not in self.listing:
            return ""
        return read_text_file(self._file("RECORD"))

    @cached_property
    def record(self) -> list[RecordEntry]:
        """RECORD entries (dist-info), or installed-files.txt rebased on site-packages (egg-info).

        Raises ``MetadataError`` when the file is there but unreadable.
        """
        return [
            RecordEntry(p, h, int(s) if s.strip().isdigit() else None) for p, h, s in self._rows
        ]


_LEAVING = ("../", "/") if os.name != "nt" else ("../", "/", *"abcdefghijklmnopqrstuvwxyz")


def _is_outside(rel: str) -> bool:
    """A RECORD path outside site-packages: scripts, headers, data (``../../../bin/x``) or an
    absolute path."""
    return rel.startswith(("../", "/")) or (len(rel) > 2 and rel[1] == ":" and rel[2] == "/")


def _egg_requires(text: str) -> list[str]:
    """requires.txt sections (``[extra]``, ``[:marker]``, ``[extra:marker]``) as Requires-Dist
    strings."""
    out: list[str] = []
    extra = marker = ""
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = _SECTION_RE.match(line)
        if m:
            extra = (m.group("extra") or "").strip()
            marker = (m.group("marker") or "").strip()
            continue
        conds = []
        if marker:
            conds.append(f"({marker})")
        if extra:
            conds.append(f'extra == "{extra}"')
        out.append(f"{line}; {' and '.join(conds)}" if conds else line)
    return out


def _name_from_folder(folder: str) -> str:
    return folder.rsplit(".", 1)[0].partition("-")[0]


def load_dist(path: Path, site: Path) -> Dist:
    kind = "dist-info" if path.name.endswith(".dist-info") else "egg-info"
    try:
        listing = frozenset(os.listdir(path))
        is_dir = True
    except NotADirectoryError:  # an .egg-info may be a single file
        listing, is_dir = frozenset(), False
    except OSError:
        listing, is_dir = frozenset(), True
    dist = Dist(path=path, site=site, kind=kind, listing=listing)
    meta_name = "METADATA" if kind == "dist-info" else "PKG-INFO"
    meta = path / meta_name if is_dir else path
    folder_name = _name_from_folder(path.name)
    if is_dir and meta_name not in listing:
        dist.problems.append(f"{meta_name} is missing")
        dist.name, dist.version = folder_name, ""
        return dist
    try:
        text = read_text_file(meta)
    except MetadataError as exc:
        dist.problems.append(str(exc))
        dist.name, dist.version = folder_name, ""
        return dist
    headers = parse_headers(text)
    dist.name = (headers.get("name") or [""])[0] or folder_name
    dist.version = (headers.get("version") or [""])[0]
    if not dist.version:
        dist.problems.append(f"{meta_name} has no Version")
    dist.requires = headers.get("requires-dist", [])
    dist.extras = headers.get("provides-extra", [])
    dist.requires_python = (headers.get("requires-python") or [""])[0]
    if kind == "egg-info" and "requires.txt" in listing and not dist.requires:
        try:
            dist.requires = _egg_requires(read_text_file(path / "requires.txt"))
        except MetadataError:
            pass
    if kind == "dist-info" and "RECORD" not in listing:
        dist.problems.append("RECORD is missing")
    return dist


@dataclass
class SiteScan:
    """One pass over a site-packages folder."""

    site: Path
    dists: list[Dist]
    residue: list[Path]  # "~" folders and files left by interrupted (un)installs
    entries: list[os.DirEntry[str]]  # everything else at the top level
    exists: bool = True
    # Development installs whose metadata lives in the project, not in site-packages: legacy
    # ``.egg-link`` files and directories that a ``.pth`` file adds to sys.path.
    linked: list[Dist] = field(default_factory=list)

    def by_key(self) -> dict[str, list[Dist]]:
        out: dict[str, list[Dist]] = {}
        for dist in self.dists:
            if dist.name:
                out.setdefault(dist.key, []).append(dist)
        return out

    def installed(self) -> dict[str, Dist]:
        """One distribution per name. With two metadata folders for one name, the live one is
        the one whose files are on disk as its RECORD lists them (see ``live_dist``)."""
        out: dict[str, Dist] = {}
        for dist in self.linked:
            if dist.has_metadata:
                out.setdefault(dist.key, dist)
        for key, group in self.by_key().items():
            good = [d for d in group if d.has_metadata] or group
            out[key] = good[0] if len(good) == 1 else live_dist(good)
        return out


def disk_match(dist: Dist, limit: int = 400) -> tuple[int, int]:
    """(files on disk with the size RECORD gives, files compared) for up to ``limit`` of the
    distribution's package files: a ``stat`` each, no hashing."""
    try:
        sizes = dist.record_sizes
    except MetadataError:
        return 0, 0
    meta = _norm_rel(dist.path.name) + "/"
    good = seen = 0
    for rel, size in sizes.items():
        if rel.startswith(meta):
            continue
        seen += 1
        try:
            if os.stat(os.path.join(dist.site, rel)).st_size == size:
                good += 1
        except OSError:
            pass
        if seen >= limit:
            break
    return good, seen


def live_dist(group: list[Dist]) -> Dist:
    """Of several metadata folders for one name, the one the files on disk belong to: the most
    RECORD entries present with their size; on a tie, the highest version."""

    def score(d: Dist) -> tuple[float, Any]:
        good, seen = disk_match(d)
        version = d.parsed_version
        return (good / seen if seen else 0.0, (1, version) if version is not None else (0, None))

    best = group[0]
    best_score = score(best)
    for d in group[1:]:
        s = score(d)
        if s[0] > best_score[0] or (
            s[0] == best_score[0] and s[1][0] and best_score[1][0] and s[1][1] > best_score[1][1]
        ):
            best, best_score = d, s
    return best


def _project_dists(folder: Path, site: Path, seen: set[Path]) -> list[Dist]:
    """``*.egg-info``/``*.dist-info`` folders directly in ``folder`` (a development checkout)."""
    try:
        real = folder.resolve()
        if real in seen or real == site.resolve():
            return []
        seen.add(real)
        names = os.listdir(folder)
    except OSError:
        return []
    return [
        load_dist(folder / n, folder)
        for n in sorted(names)
        if n.endswith((".egg-info", ".dist-info"))
    ]


def _linked_dists(site: Path, entries: list[os.DirEntry[str]]) -> list[Dist]:
    """Development installs: the project folder an ``.egg-link`` names, and the folders that
    ``.pth`` files add to sys.path, each looked into for its metadata."""
    out: list[Dist] = []
    seen: set[Path] = set()
    for entry in entries:
        name = entry.name
        if not name.endswith((".egg-link", ".pth")):
            continue
        try:
            text = read_text_file(Path(entry.path))
        except MetadataError:
            continue
        lines = [ln.strip() for ln in text.splitlines()]
        if name.endswith(".egg-link"):
            lines = lines[:1]
        for line in lines:
            if not line or line.startswith(("#", "import ", "import\t")):
                continue
            folder = Path(line) if os.path.isabs(line) else site / line
            if folder.is_dir():
                out.extend(_project_dists(folder, site, seen))
    return out


def scan_site(site: Path, load: Callable[[Path, Path], Dist] = load_dist) -> SiteScan:
    """List the distributions and the rest of the top level of ``site``; ``load`` reads one
    metadata folder (``load_dist``, or a cache in front of it)."""
    dists: list[Dist] = []
    residue: list[Path] = []
    entries: list[os.DirEntry[str]] = []
    try:
        it = os.scandir(site)
    except FileNotFoundError:
        return SiteScan(site, [], [], [], exists=False)
    linking = False
    with it:
        for entry in it:
            name = entry.name
            if name.startswith("~"):
                residue.append(Path(entry.path))
            elif name.endswith(".dist-info") or name.endswith(".egg-info"):
                dists.append(load(Path(entry.path), site))
            else:
                entries.append(entry)
                linking = linking or name.endswith((".egg-link", ".pth"))
    dists.sort(key=lambda d: d.path.name.lower())
    entries.sort(key=lambda e: e.name)
    residue.sort()
    linked = _linked_dists(site, entries) if linking else []
    return SiteScan(site, dists, residue, entries, linked=linked)
