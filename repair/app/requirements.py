"""Requirements files read as pip 26 reads them.

What pip does, and so what this module does (pip's own parser is the oracle of the differential
tests in ``tests/integration/test_pip_differential.py``):

- decoding: a UTF-8/UTF-16/UTF-32 byte-order mark wins (Notepad, PowerShell 5's ``>``), then a
  PEP 263 ``# coding=`` comment on one of the first two lines, then UTF-8, then the locale's
  encoding;
- lines: a line ending in ``\\`` continues on the next, except a comment line; comments start at
  a ``#`` at the start of a line or after whitespace; ``${VAR}`` is replaced when VAR is set and
  not empty;
- a line is split at the first token (space-separated) that starts with ``-``: what comes before
  is the requirement, what follows is options, read like pip's option parser (abbreviated long
  options, ``--opt=value``, quoting); an unknown option or a bad value stops pip, and is an error
  here;
- a requirement line ignores global options written after it (``torch==2 --extra-index-url U``);
- ``-r``/``-c`` include files relative to the including file; a file included from a constraints
  file with ``-r`` holds requirements; an include cycle is an error, a file included twice is not;
- a URL line splits its marker only at ``"; "``, any other line at the first ``";"``; a wheel URL
  or path pins its version (``foo-1.0-py3-none-any.whl`` is ``foo==1.0``); ``#egg=`` names a URL;
  paths are resolved against the folder pip runs in (``cwd``, by default the top file's folder).

A malformed line is kept with its ``error``; the caller decides whether that is a finding or
exit 2. Unlike pip, reading goes on after an error, so that every bad line is reported at once.
"""

from __future__ import annotations

import os
import posixpath
import re
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from repair.app.reqlines import (
    LineError,
)
from repair.env.dists import canonical

if TYPE_CHECKING:
    from packaging.markers import Marker
    from packaging.requirements import Requirement

_EGG_RE = re.compile(r"[#&]egg=([^&]*)")
_PROJECT_RE = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.I)
_EXTRAS_RE = re.compile(r"^(.+)(\[[^\]]+\])$")

_VCS = ("bzr", "git", "hg", "svn")
_VCS_SCHEMES = frozenset(
    {
        "bzr+http",
        "bzr+https",
        "bzr+ssh",
        "bzr+sftp",
        "bzr+ftp",
        "bzr+lp",
        "bzr+file",
        "git+http",
        "git+https",
        "git+ssh",
        "git+git",
        "git+file",
        "hg+file",
        "hg+http",
        "hg+https",
        "hg+ssh",
        "hg+static-http",
        "svn+ssh",
        "svn+http",
        "svn+https",
        "svn+svn",
        "svn+file",
    }
)
_URL_SCHEMES = frozenset({"http", "https", "file", "ftp"}) | _VCS_SCHEMES
_ARCHIVES = (
    ".zip",
    ".whl",
    ".tar.bz2",
    ".tbz",
    ".tar.gz",
    ".tgz",
    ".tar",
    ".tar.xz",
    ".txz",
    ".tlz",
    ".tar.lz",
    ".tar.lzma",
)


@dataclass(frozen=True)
class ReqLine:
    source: Path
    lineno: int
    raw: str
    requirement: Requirement | None = None  # name, extras, specifier and marker (no URL)
    name: str | None = None  # canonical name, when one is known
    url: str | None = None  # the URL or path of a direct reference
    editable: bool = False
    constraint: bool = False
    error: str | None = None
    extras: frozenset[str] = frozenset()
    marker: Marker | None = None

    @property
    def where(self) -> str:
        return f"{self.source.name}:{self.lineno}"


@dataclass
class ReqSet:
    lines: list[ReqLine] = field(default_factory=list)
    options: dict[str, object] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)

    @property
    def requirements(self) -> list[ReqLine]:
        return [r for r in self.lines if not r.constraint and r.error is None and r.name]

    @property
    def constraints(self) -> list[ReqLine]:
        return [r for r in self.lines if r.constraint and r.error is None and r.name]

    @property
    def errors(self) -> list[ReqLine]:
        return [r for r in self.lines if r.error is not None]

    def for_index(self, *, constraints: bool = False) -> list[Requirement]:
        """What a package index must serve for these files, the index preflight's input: every
        named requirement that is not a URL (and every constraint, when asked)."""
        out = [r.requirement for r in self.requirements if r.requirement is not None and not r.url]
        if constraints:
            out += [r.requirement for r in self.constraints if r.requirement is not None]
        return out


# ---------------------------------------------------------------------------------------------
# One requirement


def _is_url(text: str) -> bool:
    try:
        scheme = urllib.parse.urlsplit(text).scheme
    except ValueError as exc:  # pip stops on it too
        raise LineError(f"not a valid URL: {exc}") from exc
    return scheme in _URL_SCHEMES


def _looks_like_path(name: str) -> bool:
    return os.sep in name or (os.altsep is not None and os.altsep in name) or name.startswith(".")


def _is_archive(path: str) -> bool:
    base, ext = posixpath.splitext(path)
    if base.lower().endswith(".tar"):
        ext = base[-4:] + ext
    return ext.lower() in _ARCHIVES


def _path_to_url(path: str) -> str:
    import urllib.request  # lazy: pulls in http.client; only for paths

    return urllib.parse.urljoin("file://", urllib.request.pathname2url(os.path.normpath(path)))


def _url_filename(url: str) -> str:
    path = urllib.parse.urlsplit(url).path
    return urllib.parse.unquote(posixpath.basename(path.rstrip("/")))


def _egg(url: str) -> str | None:
    m = _EGG_RE.search(url)
    if m is None:
        return None
    if not _PROJECT_RE.match(m.group(1)):
        raise LineError(f"#egg={m.group(1)} is not a project name")
    return m.group(1)


def _requirement(text: str) -> Requirement:
    from packaging.requirements import InvalidRequirement, Requirement  # lazy: packaging is heavy

    try:
        return Requirement(text)
    except InvalidRequirement as exc:
        hint = ""
        if "=" in text and not any(op in text for op in ("==", ">=", "<=", "!=", "~=", "===")):
            hint = " (= is not an operator: did you mean ==?)"
        raise LineError(f"{str(exc).splitlines()[0]}{hint}") from exc


def _extras(text: str) -> frozenset[str]:
    """``[a,b]`` after a path, read as pip reads it (as a requirement's extras)."""
    return frozenset(canonical(e) for e in _requirement("placeholder" + text.lower()).extras)


def _marker(text: str) -> Marker | None:
    from packaging.markers import InvalidMarker, Marker  # lazy: packaging is heavy

    text = text.strip()
    if not text:
        return None
    try:
        return Marker(text)
    except InvalidMarker as exc:
        raise LineError(f"invalid marker {text!r}: {str(exc).splitlines()[0]}") from exc


def _wheel_pin(filename: str) -> str:
    # lazy: packaging is heavy
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    try:
        name, version, _, _ = parse_wheel_filename(filename)
    except InvalidWheelFilename as exc:
        raise LineError(f"{filename!r} is not a valid wheel file name") from exc
    return f"{name}=={version}"


def _line_parts(
    text: str, cwd: Path
) -> tuple[Requirement | None, str | None, frozenset[str], Marker | None]:
    """pip's reading of one requirement (not editable): (requirement, url, extras, marker)."""
    url_line = _is_url(text)
    sep = "; " if url_line else ";"
    marker = None
    if sep in text:
        text, marker_text = text.split(sep, 1)
        marker = _marker(marker_text)
    name = text.strip()
    url: str | None = None
    extras: frozenset[str] = frozenset()
    if url_line:
        url = name
    else:
        path = os.path.normpath(os.path.join(cwd, name))
        m = _EXTRAS_RE.match(path)
        if m:
            path = m.group(1).rstrip()
            extras = _extras(m.group(2))
        if _looks_like_path(name) and os.path.isdir(path):
            if not (
                os.path.isfile(os.path.join(path, "pyproject.toml"))
                or os.path.isfile(os.path.join(path, "setup.py"))
            ):
                raise LineError(
                    f"directory {name!r} is not installable: neither setup.py nor "
                    f"pyproject.toml found"
                )
            url = _path_to_url(path)
        elif _is_archive(path):
            before, at, _ = name.partition("@")
            if os.path.isfile(path) or not at or _looks_like_path(before):
                url = _path_to_url(path)
    req_text: str | None = name
    if url is not None and "../" in url and urllib.parse.urlsplit(url).scheme == "file":
        # A relative file: URL becomes an absolute one, as pip makes it.
        url = _path_to_url(os.path.join(cwd, urllib.parse.unquote(urllib.parse.urlsplit(url).path)))
    if url is not None:
        filename = _url_filename(url)
        req_text = _wheel_pin(filename) if filename.endswith(".whl") else _egg(url)
    req = _requirement(req_text) if req_text is not None else None
    if req is not None:
        marker = marker or req.marker
        extras = extras | frozenset(canonical(e) for e in req.extras)
        if req.url and url is None:
            url = req.url
    return req, url, extras, marker


def _editable_url(text: str, url: str) -> None:
    """An editable must be a local project (``file:``) or a VCS URL."""
    try:
        scheme = urllib.parse.urlsplit(url).scheme
    except ValueError:
        scheme = ""
    if scheme not in _VCS_SCHEMES and not url.lower().startswith("file:"):
        raise LineError(
            f"{text} is not a valid editable requirement: it should be a path to a "
            f"local project or a VCS URL (git+https://...)"
        )


def _editable_parts(
    text: str, cwd: Path
) -> tuple[Requirement | None, str, frozenset[str], Marker | None]:
    from packaging.requirements import InvalidRequirement, Requirement  # lazy: packaging is heavy

    try:
        direct = Requirement(text)
    except InvalidRequirement:
        direct = None
    if direct is not None and direct.url:
        _editable_url(text, direct.url)
        req = _requirement(direct.name)
        return req, direct.url, frozenset(canonical(e) for e in direct.extras), direct.marker
    url = text
    extras: frozenset[str] = frozenset()
    m = _EXTRAS_RE.match(url)
    bare = url
    if m:
        bare = m.group(1).rstrip()
        extras = _extras(m.group(2))
    if os.path.isdir(os.path.join(cwd, bare)):
        bare = _path_to_url(os.path.join(cwd, bare))
    if bare.lower().startswith("file:"):
        egg = _egg(bare)
        return (_requirement(egg) if egg else None), bare, extras, None
    for vcs in _VCS:
        if url.lower().startswith(f"{vcs}:"):
            url = f"{vcs}+{url}"
            break
    _editable_url(text, url)
    egg = _egg(url)
    if not egg:
        raise LineError(f"cannot tell the project's name of {text!r}: write it as 'name @ URL'")
    return _requirement(egg), url, frozenset(), None


def parse_requirement(
    text: str,
    source: Path,
    lineno: int,
    *,
    constraint: bool = False,
    editable: bool = False,
    cwd: Path | None = None,
) -> ReqLine:
    """One requirement (PEP 508, URL, path or VCS) -> ReqLine, read as pip reads it."""
    base = cwd if cwd is not None else source.parent
    url: str | None
    try:
        if editable:
            if constraint:
                raise LineError("editable requirements are not allowed as constraints")
            req, url, extras, marker = _editable_parts(text, base)
        else:
            req, url, extras, marker = _line_parts(text, base)
        if req is not None and (marker is not None and req.marker is None or req.url):
            req = _requirement(_plain(req, marker))
    except LineError as exc:
        return ReqLine(
            source, lineno, text, constraint=constraint, editable=editable, error=str(exc)
        )
    return ReqLine(
        source,
        lineno,
        text,
        req,
        canonical(req.name) if req is not None else None,
        url,
        editable,
        constraint,
        extras=extras,
        marker=marker,
    )


def _plain(req: Requirement, marker: Marker | None) -> str:
    """``req`` without its URL and with ``marker``: what the checks compare."""
    extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
    text = f"{req.name}{extras}{req.specifier}"
    return f"{text} ; {marker}" if marker is not None else text


# ---------------------------------------------------------------------------------------------
# Remedies

_PLAIN_ARG_RE = re.compile(r"^[A-Za-z0-9_.:/=+\-]+$")


def pip_spec(req: Requirement) -> str:
    """What to hand ``pip install`` for ``req`` in this venv: name, extras and version (its
    marker has been evaluated already), or ``name @ URL``."""
    extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
    if req.url:
        return f"{req.name}{extras} @ {req.url}"
    return f"{req.name}{extras}{req.specifier}"


def shell_arg(value: Requirement | str) -> str:
    """One command-line argument that POSIX shells, cmd and PowerShell read alike: bare when it
    holds nothing any of them treats specially, else in double quotes (``"torch>=2"``,
    ``"diffusers[torch]"``), with any double quote inside turned into a single one (PEP 508
    accepts either in markers)."""
    text = value if isinstance(value, str) else pip_spec(value)
    if _PLAIN_ARG_RE.match(text):
        return text
    return '"' + text.replace('"', "'") + '"'
