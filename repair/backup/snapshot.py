"""A snapshot of an install, self-contained JSON (schema ``repair.snapshot/1``): every
distribution with its exact version, where it came from and the hash of its RECORD, the app's and
each extension's git commit, the Python and the platform, the package indexes and the torch index.
``repair install --from-snapshot`` reproduces it on another machine.
"""

from __future__ import annotations

import base64
import configparser
import hashlib
import os
import platform
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from repair.app.gitrepo import read_git_files
from repair.env.torchbuild import TORCH_FAMILY
from repair.proc import redact
from repair.rebuild.torch import index_for_build
from repair.saferead import read_regular

if TYPE_CHECKING:
    from repair.context import Context
    from repair.env.dists import Dist

SCHEMA = "repair.snapshot/1"
EXTENSION_DIRS = ("extensions", "custom_nodes")


def _record_hash(dist: Dist) -> str | None:
    record = dist.path / ("RECORD" if dist.kind == "dist-info" else "installed-files.txt")
    try:
        digest = hashlib.sha256(read_regular(record)).digest()
    except OSError:
        return None
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _redact_obj(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redact_obj(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_obj(v) for v in value]
    return value


def pip_sources(ctx: Context) -> dict[str, Any]:
    """The package sources the install uses: the options, else PIP_* variables, else the pip
    configuration files (global, user, the venv's own), as pip reads them."""

    index = ctx.options.index
    found: dict[str, Any] = {"index_url": None, "extra_index_urls": [], "find_links": []}
    files: list[Path] = []
    if os.environ.get("PIP_CONFIG_FILE") not in (None, os.devnull):
        files.append(Path(os.environ["PIP_CONFIG_FILE"]))
    elif "PIP_CONFIG_FILE" not in os.environ:
        home = Path.home()
        appdata = os.environ.get("APPDATA")
        xdg = os.environ.get("XDG_CONFIG_HOME") or str(home / ".config")
        files += [Path("/etc/pip.conf"), Path(xdg) / "pip" / "pip.conf", home / ".pip" / "pip.conf"]
        if appdata:
            files.append(Path(appdata) / "pip" / "pip.ini")
        files += [ctx.venv / "pip.conf", ctx.venv / "pip.ini"]
    for path in files:
        parser = configparser.RawConfigParser()
        try:
            parser.read(path, encoding="utf-8")
        except (configparser.Error, OSError, UnicodeDecodeError):
            continue
        for section in ("global", "install"):
            if not parser.has_section(section):
                continue
            for key, dest in (
                ("index-url", "index_url"),
                ("extra-index-url", "extra_index_urls"),
                ("find-links", "find_links"),
            ):
                if parser.has_option(section, key):
                    value = parser.get(section, key)
                    found[dest] = value.split() if dest != "index_url" else value.strip()
    env = os.environ
    if env.get("PIP_INDEX_URL"):
        found["index_url"] = env["PIP_INDEX_URL"]
    if env.get("PIP_EXTRA_INDEX_URL"):
        found["extra_index_urls"] = env["PIP_EXTRA_INDEX_URL"].split()
    if env.get("PIP_FIND_LINKS"):
        found["find_links"] = env["PIP_FIND_LINKS"].split()
    if index.index_url:
        found["index_url"] = index.index_url
    if index.extra_index_urls:
        found["extra_index_urls"] = list(index.extra_index_urls)
    if index.find_links:
        found["find_links"] = list(index.find_links)
    if found["index_url"] is None:
        found["index_url"] = "https://pypi.org/simple"
    return dict(_redact_obj(found))


def torch_source(ctx: Context) -> dict[str, Any]:
    """The installed torch build and the index that serves it (``repair.rebuild.torch``)."""
    build = ctx.torch_build if ctx.venv_exists else None
    if build is None:
        return {"backend": None, "index_url": None, "version": None}
    tag = build.version.partition("+")[2]
    index = index_for_build(ctx.install.manifest, build.kind, tag) if tag else None
    return {
        "backend": build.kind if build.kind != "unknown" else None,
        "index_url": redact(index) if index else None,
        "version": build.version,
    }


def _git_commit(folder: Path) -> dict[str, Any] | None:
    """The checkout's commit, branch and remote, read from its ``.git`` files
    (``app.gitrepo.read_git_files``): no git program runs, so a snapshot of many extensions stays
    fast and a checkout that git refuses to read (another user's) is still described."""
    if not (folder / ".git").exists():
        return None
    found = read_git_files(folder)
    if found.head is None:  # a damaged repo is recorded, not fatal
        return {"commit": None, "error": "HEAD names no commit"}
    return {
        "commit": found.head,
        "branch": found.branch,
        "remote": redact(found.url) if found.url else None,
    }


def _source(dist: Dist, indexes: dict[str, Any], redacted: bool = True) -> dict[str, Any]:
    direct = dist.direct_url
    if direct:
        url = str(direct.get("url", ""))
        out: dict[str, Any] = {"type": "direct", "url": redact(url) if redacted else url}
        if "vcs_info" in direct:
            out["type"] = "vcs"
            out["vcs"] = direct["vcs_info"].get("vcs")
            out["commit"] = direct["vcs_info"].get("commit_id")
        elif direct.get("dir_info", {}).get("editable"):
            out["type"] = "editable"
        elif "archive_info" in direct:
            out["hash"] = direct["archive_info"].get("hash") or direct["archive_info"].get("hashes")
        return out
    return {"type": "index", "index_url": indexes.get("index_url")}


def distributions(
    ctx: Context, *, redacted: bool = True, indexes: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Every distribution of the venv: name, exact version, installer, source, RECORD hash.
    ``redacted=False`` keeps credentials in URLs (for a rebuild on this machine, never
    written to a file)."""
    dists: list[dict[str, Any]] = []
    if not (ctx.venv_exists and ctx.scan.exists):
        return dists
    indexes = indexes if indexes is not None else {"index_url": None}
    torch_index = None
    for dist in ctx.scan.dists:
        if not dist.has_metadata:
            continue
        entry: dict[str, Any] = {
            "name": dist.name,
            "version": dist.version,
            "installer": dist.installer or None,
            "source": _source(dist, indexes, redacted),
            "record_hash": _record_hash(dist),
        }
        if dist.key in TORCH_FAMILY and "+" in dist.version:
            torch_index = torch_index or torch_source(ctx)["index_url"]
            if torch_index:
                entry["source"] = {"type": "index", "index_url": torch_index}
        dists.append(entry)
    return dists


def take_snapshot(ctx: Context) -> dict[str, Any]:
    """Describe the install as it is now (schema ``repair.snapshot/1``)."""
    install = ctx.install
    indexes = pip_sources(ctx)
    dists = distributions(ctx, indexes=indexes)
    extensions: list[dict[str, Any]] = []
    dirs = install.manifest.get("extensions.dirs", list(EXTENSION_DIRS))
    for rel in dirs:
        folder = install.dir / rel
        if not folder.is_dir():
            continue
        for child in sorted(folder.iterdir()):
            if child.is_dir():
                info = _git_commit(child)
                extensions.append({"path": f"{rel}/{child.name}", "git": info})
    python: dict[str, Any] = {"version": None, "implementation": None}
    if ctx.venv_exists:
        interp = ctx.python_info
        python = {
            "version": interp.version,
            "estimated": interp.estimated,
            "implementation": interp.markers.get("implementation_name"),
        }
    return {
        "schema": SCHEMA,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "app": {
            "manifest": install.manifest.name,
            "dir": str(install.dir),
            "venv": os.path.relpath(install.venv, install.dir)
            if _inside(install.venv, install.dir)
            else str(install.venv),
            "git": _git_commit(install.dir),
            "launch_args": install.launch_args or None,
        },
        "extensions": extensions,
        "python": python,
        "platform": {
            "system": ctx.markers.get("platform_system") or platform.system(),
            "machine": ctx.markers.get("platform_machine") or platform.machine(),
            "sys_platform": ctx.markers.get("sys_platform"),
        },
        "sources": indexes,
        "torch": torch_source(ctx),
        "distributions": dists,
    }


def _inside(child: Path, parent: Path) -> bool:
    try:
        child.relative_to(parent)
        return True
    except ValueError:
        return False
