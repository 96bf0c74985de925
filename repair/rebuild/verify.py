"""What is checked around a build: before anything is built, the index preflight with the
interpreter and platform the rebuild will use (``preflight``); after it, the new venv against
the planned set (``verify_set``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.version import InvalidVersion, Version

from repair.env.dists import canonical, scan_site
from repair.env.interp import ProbeError, probe
from repair.env.layout import VenvLayout
from repair.env.torchbuild import TORCH_FAMILY
from repair.errors import PreflightError
from repair.index.config import load_pip_config
from repair.index.preflight import preflight as run_index_preflight
from repair.index.tags import TargetError, target_from_interpreter
from repair.model import Severity
from repair.rebuild.torch import local_folder, req_name
from repair.render.report import fold

if TYPE_CHECKING:
    from repair.index.preflight import PreflightResult
    from repair.options import IndexOptions
    from repair.progress import Reporter


def verify_set(
    venv: Path,
    expect: Mapping[str, str],
    moves: Iterable[Mapping[str, Any]] = (),
    torch: Iterable[str] = (),
) -> list[str]:
    """What the new venv has that the plan did not intend: a planned distribution missing or at
    another version, a moved one missing. Empty when it is as planned."""
    have = {
        d.key: d.version
        for d in scan_site(VenvLayout.detect(venv).site_packages()).dists
        if d.has_metadata
    }

    def same(a: str, b: str) -> bool:
        try:
            return Version(a) == Version(b)
        except InvalidVersion:
            return a == b

    wanted = dict(expect)
    for line in torch:
        m = re.match(r"^([A-Za-z0-9_.\-]+)\s*===?\s*(\S+)$", line.strip())
        if m:
            wanted[canonical(m.group(1))] = m.group(2)
        else:
            wanted.setdefault(canonical(req_name(line)), "")
    problems = []
    for key, version in sorted(wanted.items()):
        got = have.get(key)
        if got is None:
            problems.append(f"{key} is missing (planned: {version or 'any version'})")
        elif version and not same(got, version):
            problems.append(f"{key} is {got}, planned {version}")
    for move in moves:
        if move.get("to") == "removed":
            continue
        if canonical(str(move["name"])) not in have:
            problems.append(f"{move['name']} is missing (planned: {move.get('to')})")
    return problems


def index_preflight(
    requirements: Iterable[Any],
    target: Any,
    index: IndexOptions,
    *,
    torch: Mapping[str, Any] | None,
    reporter: Reporter,
    requirement_options: Any = None,
    venv: Path | None = None,
) -> PreflightResult:
    """The index preflight of ``requirements`` (strings or ``Requirement`` objects) and of the
    torch step's packages (``torch``: its parameters) for ``target`` (``repair.index.tags``),
    from the sources pip would use with ``index``. Shared by ``check --online``, the pipeline
    and ``repair install``."""
    torch = torch or {}
    packages = [str(p) for p in torch.get("requirements", [])]
    torch_url = torch.get("index_url") or torch.get("extra_index_url")
    torch_names = {canonical(req_name(p)) for p in packages}
    wanted: list[Any] = [
        r
        for r in requirements
        if canonical(r.name if hasattr(r, "name") else req_name(str(r))) not in torch_names
        and not str(r).startswith("-e ")
    ]
    wanted += packages
    folder = local_folder(torch_url)
    if folder is not None:  # a folder of wheels: pip gets it as --find-links
        index = replace(index, find_links=(*index.find_links, str(folder)))
        torch_url = None
    config = load_pip_config(venv=venv, index=index, requirements_options=requirement_options)
    return run_index_preflight(
        wanted,
        target,
        config,
        torch_index=torch_url,
        offline=index.offline,
        reporter=reporter,
        torch_packages=torch_names or TORCH_FAMILY,
    )


def preflight(
    requirements: Iterable[Any],
    python: str | Path,
    index: IndexOptions,
    *,
    torch: Mapping[str, Any] | None,
    reporter: Reporter,
    requirement_options: Any = None,
    venv: Path | None = None,
    hint: str = "nothing was changed",
    needs: str = "the rebuild",
) -> None:
    """Before anything is built: can the package sources provide what the rebuild installs, for
    the interpreter the rebuild uses (probed: this machine's real platform and C library)?
    Raises ``PreflightError`` (exit 1) when they cannot; a preflight that cannot run is a
    warning."""
    requirements = list(requirements)
    if not requirements and not (torch or {}).get("requirements"):
        return
    try:
        target = target_from_interpreter(probe(Path(python)))
        result = index_preflight(
            requirements,
            target,
            index,
            torch=torch,
            reporter=reporter,
            requirement_options=requirement_options,
            venv=venv,
        )
    except (ProbeError, TargetError, ValueError) as exc:
        reporter.warn(f"the index preflight could not run: {exc}")
        return
    except Exception as exc:  # noqa: BLE001 - a preflight that cannot run does not block
        reporter.warn(f"the index preflight could not run: {type(exc).__name__}: {exc}")
        return
    blocking = [f for f in result.findings if f.severity is Severity.ERROR]
    unchecked = list(result.unchecked)
    if unchecked and not blocking:
        # One line: the unreachable source is named once, not once per requirement.
        reporter.warn(
            f"{len(unchecked)} requirement(s) not checked against an index "
            f"({unchecked[0].reason}): {fold([str(u.requirement) for u in unchecked])}"
        )
    if blocking:
        raise PreflightError(
            f"the package index cannot provide what {needs} needs: "
            + "; ".join(f.message for f in blocking[:3]),
            hint=f"{hint}; fix the package sources, or run again with --force",
        )
