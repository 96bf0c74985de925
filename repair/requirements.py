"""Requirements files read as pip reads them: ``-r``/``-c`` includes, options, environment markers,
extras, URL and VCS lines, comments, line continuations and ``${VAR}`` expansion.

A malformed line is kept with its ``error``; the caller decides whether that is a finding or exit 2.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from repair.dists import canonical

if TYPE_CHECKING:
    from packaging.requirements import Requirement

def _strip_comment(line: str) -> str:
    """A ``#`` at the start or after whitespace begins a comment (as pip reads it), removed with
    the whitespace before it. A scan, not a regex: ``(^|\\s+)#.*$`` takes quadratic time on a
    line of many spaces."""
    i = line.find("#")
    while i != -1:
        if i == 0 or line[i - 1].isspace():
            return line[:i].rstrip()
        i = line.find("#", i + 1)
    return line
_ENV_RE = re.compile(r"\$\{([A-Z0-9_]+)\}")
_EGG_RE = re.compile(r"[#&]egg=([A-Za-z0-9_.\-]+)")
_VCS = ("git+", "hg+", "svn+", "bzr+")
_URL_SCHEMES = ("http://", "https://", "file:", "ftp://")

_INCLUDE = {"-r": "requirement", "--requirement": "requirement", "-c": "constraint",
            "--constraint": "constraint"}
# Global options that take a value; understood, recorded, never reported as errors.
_VALUE_OPTIONS = {
    "-i": "index_url", "--index-url": "index_url", "--extra-index-url": "extra_index_urls",
    "-f": "find_links", "--find-links": "find_links", "--trusted-host": "trusted_hosts",
    "--only-binary": "only_binary", "--no-binary": "no_binary", "--use-feature": "use_feature",
    "--progress-bar": None, "--config-settings": None, "--global-option": None,
}
_FLAG_OPTIONS = {"--no-index": "no_index", "--pre": "pre", "--prefer-binary": "prefer_binary",
                 "--require-hashes": "require_hashes", "--no-deps": None}
_PER_REQ_OPTION_RE = re.compile(r"\s--(hash|config-settings|global-option|install-option)[=\s]\S+")


@dataclass(frozen=True)
class ReqLine:
    source: Path
    lineno: int
    raw: str
    requirement: Requirement | None = None
    name: str | None = None  # canonical name, when one is known
    url: str | None = None
    editable: bool = False
    constraint: bool = False
    error: str | None = None

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


def _logical_lines(text: str) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    buf = ""
    start = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if not buf:
            start = number
        line = _strip_comment(line) if not line.rstrip().endswith("\\") else line
        if line.endswith("\\"):
            buf += line[:-1]
            continue
        buf += line
        buf = _strip_comment(buf).strip()
        if buf:
            out.append((start, buf))
        buf = ""
    if buf.strip():
        out.append((start, _strip_comment(buf).strip()))
    return out


def _expand(line: str) -> str:
    return _ENV_RE.sub(lambda m: os.environ.get(m.group(1), m.group(0)), line)


def parse_requirement(text: str, source: Path, lineno: int, *, constraint: bool = False,
                      editable: bool = False) -> ReqLine:
    """One requirement (PEP 508, URL, path or VCS) -> ReqLine."""
    from packaging.requirements import InvalidRequirement, Requirement

    text = _PER_REQ_OPTION_RE.sub("", " " + text).strip()
    lowered = text.lower()
    is_url = lowered.startswith(_VCS) or lowered.startswith(_URL_SCHEMES)
    is_path = text.startswith((".", "/", "\\")) or bool(re.match(r"^[A-Za-z]:[\\/]", text))
    if editable or is_url or is_path:
        url, _, marker = text.partition(";")
        url = url.strip()
        m = _EGG_RE.search(url)
        name = canonical(m.group(1)) if m else None
        if name is None and not lowered.startswith(_VCS):
            # A wheel file name says its own name.
            base = url.rstrip("/").rsplit("/", 1)[-1]
            if base.endswith(".whl") and "-" in base:
                name = canonical(base.split("-", 1)[0])
        req = None
        if name and marker.strip():
            try:
                req = Requirement(f"{name} @ {url if is_url else 'file:' + url} ; {marker.strip()}")
            except InvalidRequirement:
                req = None
        return ReqLine(source, lineno, text, req, name, url, editable, constraint)
    try:
        req = Requirement(text)
    except InvalidRequirement as exc:
        reason = str(exc).splitlines()[0]
        return ReqLine(source, lineno, text, constraint=constraint, error=reason)
    return ReqLine(source, lineno, text, req, canonical(req.name), req.url, editable, constraint)


def parse_file(path: Path, *, constraint: bool = False, _set: ReqSet | None = None,
               _seen: set[Path] | None = None) -> ReqSet:
    """Parse ``path`` and everything it includes.

    A missing top file raises ``FileNotFoundError``.
    """
    result = _set if _set is not None else ReqSet()
    seen = _seen if _seen is not None else set()
    resolved = path.resolve()
    if resolved in seen:
        return result
    seen.add(resolved)
    from repair.dists import MetadataError, read_text_file

    try:
        text = read_text_file(path)
    except MetadataError as exc:
        if not path.exists() and _set is None:
            raise FileNotFoundError(str(path)) from exc
        result.lines.append(ReqLine(path, 0, "", constraint=constraint, error=str(exc)))
        return result
    result.files.append(path)
    for lineno, line in _logical_lines(text):
        line = _expand(line)
        if line.startswith("-"):
            _parse_option(line, path, lineno, constraint, result, seen)
        else:
            result.lines.append(parse_requirement(line, path, lineno, constraint=constraint))
    return result


def _add_option_value(result: ReqSet, key: str, value: str) -> None:
    """Options that may repeat (``--extra-index-url``, remote ``-r``) collect a list of values."""
    values = result.options.setdefault(key, [])
    assert isinstance(values, list)
    values.append(value)


def _parse_option(line: str, path: Path, lineno: int, constraint: bool, result: ReqSet,
                  seen: set[Path]) -> None:
    try:
        parts = shlex.split(line, posix=True)
    except ValueError:
        parts = line.split()
    opt, value = parts[0], " ".join(parts[1:])
    if "=" in opt and opt.startswith("--"):
        opt, _, value = opt.partition("=")
    elif len(opt) > 2 and opt[:2] in ("-r", "-c", "-e", "-i", "-f") and not opt.startswith("--"):
        opt, value = opt[:2], opt[2:] + ((" " + value) if value else "")
    value = value.strip()
    if opt in _INCLUDE:
        if not value:
            result.lines.append(ReqLine(path, lineno, line, error=f"{opt} needs a file name"))
            return
        if value.lower().startswith(_URL_SCHEMES[:2]):
            _add_option_value(result, "remote_includes", value)
            return
        child = (path.parent / value) if not os.path.isabs(value) else Path(value)
        if not child.is_file():
            result.lines.append(ReqLine(path, lineno, line, constraint=constraint,
                                        error=f"included file not found: {value}"))
            return
        parse_file(child, constraint=constraint or _INCLUDE[opt] == "constraint", _set=result,
                   _seen=seen)
    elif opt in ("-e", "--editable"):
        result.lines.append(parse_requirement(value, path, lineno, constraint=constraint,
                                              editable=True))
    elif opt in _VALUE_OPTIONS:
        key = _VALUE_OPTIONS[opt]
        if key in ("extra_index_urls", "find_links", "trusted_hosts"):
            _add_option_value(result, key, value)
        elif key:
            result.options[key] = value
    elif opt in _FLAG_OPTIONS:
        key = _FLAG_OPTIONS[opt]
        if key:
            result.options[key] = True
    else:
        result.lines.append(ReqLine(path, lineno, line, error=f"unknown option {opt}"))
