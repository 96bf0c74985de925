"""Requirements files read as pip reads them: a file and everything it includes (``-r``, ``-c``),
decoded as pip decodes it, with each include cycle and missing include reported on its line."""

from __future__ import annotations

import os
import re
import urllib.parse
from pathlib import Path

from repair.app.reqlines import (
    LineError,
    apply_options,
    decode,
    logical_lines,
    parse_options,
    split_options,
)
from repair.app.requirements import ReqLine, ReqSet, parse_requirement

_SCHEME_RE = re.compile(r"^(http|https|file):", re.I)


def parse_file(
    path: Path,
    *,
    constraint: bool = False,
    cwd: Path | None = None,
    _set: ReqSet | None = None,
    _seen: set[Path] | None = None,
) -> ReqSet:
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
    _parse(path, constraint, cwd if cwd is not None else top.parent, result, seen, {str(top): None})
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


def _parse(
    path: Path,
    constraint: bool,
    cwd: Path,
    result: ReqSet,
    seen: set[Path],
    chain: dict[str, str | None],
) -> None:
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
            result.lines.append(ReqLine(path, lineno, line, constraint=constraint, error=str(exc)))
            continue
        if args or values.editables:
            # With -e anywhere on the line, the requirement is editable (pip's rule), even one
            # written before the option.
            result.lines.append(
                parse_requirement(
                    args or values.editables[0],
                    path,
                    lineno,
                    constraint=constraint,
                    editable=bool(values.editables),
                    cwd=cwd,
                )
            )
        elif values.requirements or values.constraints:
            nested = values.requirements[0] if values.requirements else values.constraints[0]
            _include(path, lineno, line, nested, not values.requirements, cwd, result, seen, chain)
        else:
            try:
                apply_options(values, result.options)
            except LineError as exc:
                result.lines.append(
                    ReqLine(path, lineno, line, constraint=constraint, error=str(exc))
                )


def _include(
    path: Path,
    lineno: int,
    line: str,
    target: str,
    constraint: bool,
    cwd: Path,
    result: ReqSet,
    seen: set[Path],
    chain: dict[str, str | None],
) -> None:
    if _SCHEME_RE.search(target):
        if target.lower().startswith("file:"):
            from urllib.request import url2pathname  # lazy: pulls in http.client; only for paths

            target = url2pathname(urllib.parse.urlsplit(target).path)
        else:
            listed = result.options.setdefault("remote_includes", [])
            assert isinstance(listed, list)
            listed.append(target)  # read by pip from the network; not here
            return
    child = os.path.abspath(os.path.join(os.path.dirname(path), target))
    if child in chain:
        again = f" and again in {chain[child]}" if chain[child] else ""
        result.lines.append(
            ReqLine(
                path,
                lineno,
                line,
                constraint=constraint,
                error=f"{target} includes itself (from {path.name}{again})",
            )
        )
        return
    if not os.path.isfile(child):
        result.lines.append(
            ReqLine(
                path,
                lineno,
                line,
                constraint=constraint,
                error=f"included file not found: {target}",
            )
        )
        return
    _parse(Path(child), constraint, cwd, result, seen, {**chain, child: str(path)})
