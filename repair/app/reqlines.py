"""The lines of a requirements file as pip 26 reads them: decoding (byte-order marks, PEP 263
comments, the locale), continuation lines, comments and ``${VAR}``, the split of a line into its
requirement and its options, and the options themselves, read like pip's option parser. The
requirements of the lines are read in ``repair.app.requirements``."""

from __future__ import annotations

import codecs
import locale
import optparse
import os
import re
import shlex
import urllib.parse
from typing import Any, NoReturn

_ENV_RE = re.compile(r"\$\{([A-Z0-9_]+)\}")
_PEP263_RE = re.compile(rb"coding[:=]\s*([-\w.]+)")
# Byte-order marks, longest first (the UTF-16-LE mark begins the UTF-32-LE one).
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
)
_HASHES = ("sha256", "sha384", "sha512")
_FEATURES = (
    "fast-deps",
    "inprocess-build-deps",
    "venv-isolation",
    "truststore",
    "no-binary-enable-wheel-cache",
    "build-constraint",
)


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


class LineError(ValueError):
    """A line pip would stop on; the message says why."""


# ---------------------------------------------------------------------------------------------
# Text


def decode(data: bytes) -> str:
    """The text of a requirements file, decoded as pip decodes it. Raises ``LineError``."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(encoding)
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
    def check(option: optparse.Option, opt: str, value: str, parser: optparse.OptionParser) -> None:
        if kind in ("binary", "release") and value.startswith("-"):
            raise LineError(f"{opt} needs a value")
        if kind == "hash":
            algo, sep, _ = value.partition(":")
            if not sep:
                raise LineError(
                    f"arguments to {opt} must be a hash name followed by a value, "
                    f"like --hash=sha256:abcde..."
                )
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
    for name, dest, kind in (
        ("--no-binary", "no_binary", "binary"),
        ("--only-binary", "only_binary", "binary"),
        ("--all-releases", "all_releases", "release"),
        ("--only-final", "only_final", "release"),
        ("--hash", "hashes", "hash"),
    ):
        p.add_option(name, dest=dest, action="callback", type="str", callback=_callback(kind))
    p.add_option(
        "-C",
        "--config-settings",
        dest="config_settings",
        action="callback",
        type="str",
        callback=_callback("config"),
    )
    for name in ("prefer-binary", "require-hashes", "no-require-hashes", "pre"):
        p.add_option(f"--{name}", dest=name.replace("-", "_"), action="store_true")
    p.add_option("--trusted-host", dest="trusted_hosts", action="append")
    p.add_option(
        "--use-feature", dest="use_feature", action="append", type="choice", choices=list(_FEATURES)
    )
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


_LIST_OPTIONS = (
    "extra_index_urls",
    "find_links",
    "trusted_hosts",
    "no_binary",
    "only_binary",
    "all_releases",
    "only_final",
    "use_feature",
)

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


def apply_options(values: optparse.Values, options: dict[str, object]) -> None:
    """Record an option line's options. Indexes as pip's finder takes them: ``--no-index``
    drops every index for good, ``--index-url`` replaces the indexes named before it.
    Raises ``LineError`` for a value pip cannot use."""
    for host in values.trusted_hosts or ():
        _check_host(host)
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
