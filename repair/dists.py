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
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from repair.fsops import read_regular_text

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
    from repair.fsops import read_regular

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
        from packaging.version import InvalidVersion, Version

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

    def has_record(self) -> bool:
        return ("RECORD" if self.kind == "dist-info" else "installed-files.txt") in self.listing

    @cached_property
    def record_paths(self) -> tuple[list[str], list[str]]:
        """The paths of RECORD as ownership compares them: ``/``-separated, no ``./``, lower
        case on Windows; split into those inside site-packages and those outside (``../bin``).
        Parsed from the whole text at once, without building an entry per line."""
        if self.kind != "dist-info" or '"' in self._record_text:
            raw = [e.path for e in self.record]
        else:
            raw = [line.rsplit(",", 2)[0] for line in self._record_text.splitlines()
                   if line and line[0] != ","]
        text = "\n" + self._record_text
        if os.name == "nt" or "\\" in text or "\n./" in text:
            raw = [_norm_rel(p) for p in raw]
        if "\n../" in text or "\n/" in text:  # scripts and headers outside site-packages
            outside = [p for p in raw if p.startswith(("../", "/"))]
            if outside:
                return [p for p in raw if not p.startswith(("../", "/"))], outside
        return raw, []

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
        if self.kind == "dist-info":
            record = self._file("RECORD")
            if not record.is_file():
                return []
            text = read_text_file(record)
            if '"' in text:  # quoted paths (commas in names): the csv module's job
                rows = list(csv.reader(io.StringIO(text)))
            else:  # the common case, several times faster than csv
                rows = [line.rsplit(",", 2) for line in text.splitlines()]
            entries = []
            for row in rows:
                if not row or not row[0]:
                    continue
                size: int | None = None
                if len(row) > 2 and row[2].strip().isdigit():
                    size = int(row[2])
                entries.append(RecordEntry(row[0], row[1] if len(row) > 1 else "", size))
            return entries
        files = self._file("installed-files.txt")
        if not files.is_file():
            return []
        base = os.path.relpath(self.path, self.site)
        out = []
        for line in read_text_file(files).splitlines():
            line = line.strip()
            if line:
                rel = os.path.normpath(os.path.join(base, line)).replace(os.sep, "/")
                out.append(RecordEntry(rel, "", None))
        return out


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


def _name_from_folder(folder: str) -> tuple[str, str]:
    stem = folder.rsplit(".", 1)[0]
    name, _, rest = stem.partition("-")
    version = rest.split("-")[0] if rest else ""
    return name, version


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
    folder_name, folder_version = _name_from_folder(path.name)
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

    def by_key(self) -> dict[str, list[Dist]]:
        out: dict[str, list[Dist]] = {}
        for dist in self.dists:
            if dist.name:
                out.setdefault(dist.key, []).append(dist)
        return out

    def installed(self) -> dict[str, Dist]:
        """One distribution per name: the first with readable metadata."""
        out: dict[str, Dist] = {}
        for key, group in self.by_key().items():
            good = [d for d in group if d.has_metadata] or group
            out[key] = good[0]
        return out

    def iter_metadata(self) -> Iterator[Dist]:
        return iter(self.dists)


def scan_site(site: Path) -> SiteScan:
    """List the distributions and the rest of the top level of ``site``."""
    dists: list[Dist] = []
    residue: list[Path] = []
    entries: list[os.DirEntry[str]] = []
    try:
        it = os.scandir(site)
    except FileNotFoundError:
        return SiteScan(site, [], [], [], exists=False)
    with it:
        for entry in it:
            name = entry.name
            if name.startswith("~"):
                residue.append(Path(entry.path))
            elif name.endswith(".dist-info") or name.endswith(".egg-info"):
                dists.append(load_dist(Path(entry.path), site))
            else:
                entries.append(entry)
    dists.sort(key=lambda d: d.path.name.lower())
    entries.sort(key=lambda e: e.name)
    residue.sort()
    return SiteScan(site, dists, residue, entries)
