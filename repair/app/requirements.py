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

import codecs
import optparse
import os
import posixpath
import re
import shlex
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from repair.env.dists import canonical

if TYPE_CHECKING:
    from packaging.markers import Marker
    from packaging.requirements import Requirement

_ENV_RE = re.compile(r"\$\{([A-Z0-9_]+)\}")
_SCHEME_RE = re.compile(r"^(http|https|file):", re.I)
_EGG_RE = re.compile(r"[#&]egg=([^&]*)")
_PROJECT_RE = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.I)
_EXTRAS_RE = re.compile(r"^(.+)(\[[^\]]+\])$")
_PEP263_RE = re.compile(rb"coding[:=]\s*([-\w.]+)")

_VCS = ("bzr", "git", "hg", "svn")
_VCS_SCHEMES = frozenset({
    "bzr+http", "bzr+https", "bzr+ssh", "bzr+sftp", "bzr+ftp", "bzr+lp", "bzr+file",
    "git+http", "git+https", "git+ssh", "git+git", "git+file",
    "hg+file", "hg+http", "hg+https", "hg+ssh", "hg+static-http",
    "svn+ssh", "svn+http", "svn+https", "svn+svn", "svn+file",
})
_URL_SCHEMES = frozenset({"http", "https", "file", "ftp"}) | _VCS_SCHEMES
_ARCHIVES = (".zip", ".whl", ".tar.bz2", ".tbz", ".tar.gz", ".tgz", ".tar", ".tar.xz", ".txz",
             ".tlz", ".tar.lz", ".tar.lzma")
# Byte-order marks, longest first (the UTF-16-LE mark begins the UTF-32-LE one).
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF32_BE, "utf-32-be"),
         (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF16_BE, "utf-16-be"),
         (codecs.BOM_UTF16_LE, "utf-16-le"))
_HASHES = ("sha256", "sha384", "sha512")
_FEATURES = ("fast-deps", "inprocess-build-deps", "venv-isolation", "truststore",
             "no-binary-enable-wheel-cache", "build-constraint")


def strip_comment(line: str) -> str:
    """``line`` without its comment: from the first ``#`` that starts the line or follows
    whitespace, with the whitespace before it. Linear time (a regex with ``\\s+#`` takes
    quadratic time on long runs of spaces)."""
    start = line.find("#")
    while start > 0 and not line[start - 1].isspace():
        start = line.find("#", start + 1)
    if start < 0:
        return line
    while start > 0 and line[start - 1].isspace():
        start -= 1
    return line[:start]


def _is_comment_line(line: str) -> bool:
    return line.lstrip().startswith("#")


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


class LineError(ValueError):
    """A line pip would stop on; the message says why."""


# ---------------------------------------------------------------------------------------------
# Text


def decode(data: bytes) -> str:
    """The text of a requirements file, decoded as pip decodes it. Raises ``LineError``."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom):].decode(encoding)
            except UnicodeDecodeError as exc:
                raise LineError(f"not valid {encoding} after its byte-order mark") from exc
    for line in data.split(b"\n")[:2]:
        if line[:1] == b"#":
            m = _PEP263_RE.search(line)
            if m is not None:
                name = m.group(1).decode("ascii")
                try:
                    return data.decode(name)
                except LookupError as exc:
                    raise LineError(f"unknown encoding {name!r} in its coding comment") from exc
                except UnicodeDecodeError as exc:
                    raise LineError(f"not valid {name} (its coding comment)") from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        import locale

        encoding = locale.getpreferredencoding(False) or "utf-8"
        try:
            return data.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise LineError(f"neither UTF-8 nor the locale's encoding ({encoding})") from exc


def logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, line) with continuations joined, comments and blank lines dropped
    and ``${VAR}`` expanded, as pip's preprocessing does."""
    joined: list[tuple[int, str]] = []
    parts: list[str] = []
    first = 0
    for number, line in enumerate(text.splitlines(), start=1):
        comment = _is_comment_line(line)
        if not line.endswith("\\") or comment:
            if comment:
                line = " " + line  # a comment never continues, and ends what it follows
            if parts:
                parts.append(line)
                joined.append((first, "".join(parts)))
                parts = []
            else:
                joined.append((number, line))
        else:
            if not parts:
                first = number
            parts.append(line.strip("\\"))
    if parts:
        joined.append((first, "".join(parts)))
    out = []
    for number, line in joined:
        line = strip_comment(line).strip()
        if line:
            out.append((number, _expand(line)))
    return out


def _expand(line: str) -> str:
    def sub(m: re.Match[str]) -> str:
        return os.environ.get(m.group(1)) or m.group(0)

    return _ENV_RE.sub(sub, line)


def split_options(line: str) -> tuple[str, str]:
    """The requirement part and the options part: the options start at the first
    space-separated token that starts with ``-``."""
    tokens = line.split(" ")
    for i, token in enumerate(tokens):
        if token.startswith("-"):
            return " ".join(tokens[:i]), " ".join(tokens[i:])
    return line, ""


# ---------------------------------------------------------------------------------------------
# Options


class _Parser(optparse.OptionParser):
    def error(self, msg: str) -> NoReturn:
        raise LineError(msg)

    def exit(self, status: int = 0, msg: str | None = None) -> NoReturn:
        raise LineError(msg or "cannot read the options")


def _callback(kind: str) -> Any:
    def check(option: optparse.Option, opt: str, value: str, parser: optparse.OptionParser
              ) -> None:
        if kind in ("binary", "release") and value.startswith("-"):
            raise LineError(f"{opt} needs a value")
        if kind == "hash":
            algo, sep, _ = value.partition(":")
            if not sep:
                raise LineError(f"arguments to {opt} must be a hash name followed by a value, "
                                f"like --hash=sha256:abcde...")
            if algo not in _HASHES:
                raise LineError(f"allowed hash algorithms for {opt} are {', '.join(_HASHES)}")
        if kind == "config" and "=" not in value:
            raise LineError(f"arguments to {opt} must be of the form KEY=VAL")
        values = getattr(parser.values, str(option.dest)) or []
        setattr(parser.values, str(option.dest), [*values, value])

    return check


def _build_parser() -> _Parser:
    p = _Parser(add_help_option=False)
    p.add_option("-i", "--index-url", "--pypi-url", dest="index_url")
    p.add_option("--extra-index-url", dest="extra_index_urls", action="append")
    p.add_option("--no-index", dest="no_index", action="store_true")
    p.add_option("-c", "--constraint", dest="constraints", action="append")
    p.add_option("-r", "--requirement", dest="requirements", action="append")
    p.add_option("-e", "--editable", dest="editables", action="append")
    p.add_option("-f", "--find-links", dest="find_links", action="append")
    for name, dest, kind in (("--no-binary", "no_binary", "binary"),
                             ("--only-binary", "only_binary", "binary"),
                             ("--all-releases", "all_releases", "release"),
                             ("--only-final", "only_final", "release"),
                             ("--hash", "hashes", "hash")):
        p.add_option(name, dest=dest, action="callback", type="str", callback=_callback(kind))
    p.add_option("-C", "--config-settings", dest="config_settings", action="callback",
                 type="str", callback=_callback("config"))
    for name in ("prefer-binary", "require-hashes", "no-require-hashes", "pre"):
        p.add_option(f"--{name}", dest=name.replace("-", "_"), action="store_true")
    p.add_option("--trusted-host", dest="trusted_hosts", action="append")
    p.add_option("--use-feature", dest="use_feature", action="append", type="choice",
                 choices=list(_FEATURES))
    return p


def parse_options(text: str) -> optparse.Values:
    """The options of one line, read as pip reads them. Raises ``LineError``."""
    try:
        args = shlex.split(text)
    except ValueError as exc:
        raise LineError(f"cannot split the options: {exc}") from exc
    parser = _build_parser()
    values, _ = parser.parse_args(args, parser.get_default_values())
    return values


_LIST_OPTIONS = ("extra_index_urls", "find_links", "trusted_hosts", "no_binary", "only_binary",
                 "all_releases", "only_final", "use_feature")
_FLAG_OPTIONS = ("no_index", "prefer_binary", "require_hashes", "no_require_hashes", "pre")


def _check_host(host: str) -> None:
    """A ``--trusted-host`` value pip can use (``host`` or ``host:port``)."""
    netloc = f"[{host}]" if host.count(":") >= 2 and "@" not in host and "[" not in host else host
    try:
        parsed = urllib.parse.urlparse(f"https://{netloc}")
        hostname, _ = parsed.hostname, parsed.port
    except ValueError as exc:
        raise LineError(f"--trusted-host {host!r}: {exc}") from exc
    if hostname is None:
        raise LineError(f"--trusted-host {host!r} has no host part")


def _apply_options(values: optparse.Values, result: ReqSet) -> None:
    """Record an option line's options. Indexes as pip's finder takes them: ``--no-index``
    drops every index for good, ``--index-url`` replaces the indexes named before it.
    Raises ``LineError`` for a value pip cannot use."""
    for host in values.trusted_hosts or ():
        _check_host(host)
    options = result.options
    if values.no_index:
        options["no_index"] = True
        options.pop("index_url", None)
        options.pop("extra_index_urls", None)
    if values.index_url and not options.get("no_index"):
        options["index_url"] = values.index_url
        options.pop("extra_index_urls", None)
    for key in _LIST_OPTIONS:
        if key == "extra_index_urls" and options.get("no_index"):
            continue
        for value in getattr(values, key) or ():
            listed = options.setdefault(key, [])
            assert isinstance(listed, list)
            listed.append(value)
    for key in _FLAG_OPTIONS:
        if getattr(values, key):
            options[key] = True


def index_urls(options: dict[str, object]) -> list[str]:
    """The indexes a file's options leave pip with (before the command line's own)."""
    if options.get("no_index"):
        return []
    first = [str(options["index_url"])] if options.get("index_url") else []
    extra = options.get("extra_index_urls") or []
    assert isinstance(extra, list)
    return first + [str(u) for u in extra]


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
    import urllib.request

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
    from packaging.requirements import InvalidRequirement, Requirement

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
    from packaging.markers import InvalidMarker, Marker

    text = text.strip()
    if not text:
        return None
    try:
        return Marker(text)
    except InvalidMarker as exc:
        raise LineError(f"invalid marker {text!r}: {str(exc).splitlines()[0]}") from exc


def _wheel_pin(filename: str) -> str:
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    try:
        name, version, _, _ = parse_wheel_filename(filename)
    except InvalidWheelFilename as exc:
        raise LineError(f"{filename!r} is not a valid wheel file name") from exc
    return f"{name}=={version}"


def _line_parts(text: str, cwd: Path) -> tuple[Requirement | None, str | None, frozenset[str],
                                                   Marker | None]:
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
            if not (os.path.isfile(os.path.join(path, "pyproject.toml"))
                    or os.path.isfile(os.path.join(path, "setup.py"))):
                raise LineError(f"directory {name!r} is not installable: neither setup.py nor "
                                f"pyproject.toml found")
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
        raise LineError(f"{text} is not a valid editable requirement: it should be a path to a "
                        f"local project or a VCS URL (git+https://...)")


def _editable_parts(text: str, cwd: Path) -> tuple[Requirement | None, str, frozenset[str],
                                                       Marker | None]:
    from packaging.requirements import InvalidRequirement, Requirement

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
        raise LineError(f"cannot tell the project's name of {text!r}: write it as "
                        f"'name @ URL'")
    return _requirement(egg), url, frozenset(), None


def parse_requirement(text: str, source: Path, lineno: int, *, constraint: bool = False,
                      editable: bool = False, cwd: Path | None = None) -> ReqLine:
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
        return ReqLine(source, lineno, text, constraint=constraint, editable=editable,
                       error=str(exc))
    return ReqLine(source, lineno, text, req, canonical(req.name) if req is not None else None,
                   url, editable, constraint, extras=extras, marker=marker)


def _plain(req: Requirement, marker: Marker | None) -> str:
    """``req`` without its URL and with ``marker``: what the checks compare."""
    extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
    text = f"{req.name}{extras}{req.specifier}"
    return f"{text} ; {marker}" if marker is not None else text


# ---------------------------------------------------------------------------------------------
# Files


def parse_file(path: Path, *, constraint: bool = False, cwd: Path | None = None,
               _set: ReqSet | None = None, _seen: set[Path] | None = None) -> ReqSet:
    """Parse ``path`` and everything it includes. ``cwd`` is the folder pip would run in
    (relative paths of requirements resolve there); by default the folder of ``path``.

    A missing top file raises ``FileNotFoundError``. ``_seen`` is shared by callers that parse
    several top files: a top file already read (directly or as an include) is not read again.
    """
    result = _set if _set is not None else ReqSet()
    seen = _seen if _seen is not None else set()
    top = Path(os.path.abspath(path))
    if top in seen:
        return result
    if not path.exists() and _set is None:
        raise FileNotFoundError(str(path))
    _parse(path, constraint, cwd if cwd is not None else top.parent, result, seen,
           {str(top): None})
    return result


def _read(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LineError(f"cannot read {path.name}: {exc.strerror or exc}") from exc
    text = decode(data)
    if "\x00" in text:
        raise LineError(f"{path.name} is binary, not text")
    return text


def _parse(path: Path, constraint: bool, cwd: Path, result: ReqSet, seen: set[Path],
           chain: dict[str, str | None]) -> None:
    seen.add(Path(os.path.abspath(path)))
    try:
        text = _read(path)
    except LineError as exc:
        result.lines.append(ReqLine(path, 0, "", constraint=constraint, error=str(exc)))
        return
    result.files.append(path)
    for lineno, line in logical_lines(text):
        args, options = split_options(line)
        try:
            values = parse_options(options)
        except LineError as exc:
            result.lines.append(ReqLine(path, lineno, line, constraint=constraint,
                                        error=str(exc)))
            continue
        if args or values.editables:
            # With -e anywhere on the line, the requirement is editable (pip's rule), even one
            # written before the option.
            result.lines.append(parse_requirement(args or values.editables[0], path, lineno,
                                                  constraint=constraint,
                                                  editable=bool(values.editables), cwd=cwd))
        elif values.requirements or values.constraints:
            nested = values.requirements[0] if values.requirements else values.constraints[0]
            _include(path, lineno, line, nested, not values.requirements, cwd, result, seen,
                     chain)
        else:
            try:
                _apply_options(values, result)
            except LineError as exc:
                result.lines.append(ReqLine(path, lineno, line, constraint=constraint,
                                            error=str(exc)))


def _include(path: Path, lineno: int, line: str, target: str, constraint: bool, cwd: Path,
             result: ReqSet, seen: set[Path], chain: dict[str, str | None]) -> None:
    if _SCHEME_RE.search(target):
        if target.lower().startswith("file:"):
            from urllib.request import url2pathname

            target = url2pathname(urllib.parse.urlsplit(target).path)
        else:
            listed = result.options.setdefault("remote_includes", [])
            assert isinstance(listed, list)
            listed.append(target)  # read by pip from the network; not here
            return
    child = os.path.abspath(os.path.join(os.path.dirname(path), target))
    if child in chain:
        again = f" and again in {chain[child]}" if chain[child] else ""
        result.lines.append(ReqLine(path, lineno, line, constraint=constraint,
                                    error=f"{target} includes itself (from {path.name}{again})"))
        return
    if not os.path.isfile(child):
        result.lines.append(ReqLine(path, lineno, line, constraint=constraint,
                                    error=f"included file not found: {target}"))
        return
    _parse(Path(child), constraint, cwd, result, seen, {**chain, child: str(path)})


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
