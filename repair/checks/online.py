"""``repair check --online``: the index preflight on the application's requirements: could a
rebuild of this venv finish, from the indexes the user's pip would use?"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from repair.checks.registry import check
from repair.index.findings import (
    INDEX_UNREACHABLE,
    PREFLIGHT_UNCHECKED,
    SOURCE_BUILD_REQUIRED,
    TORCH_INDEX_FALLBACK,
    WHEEL_UNAVAILABLE,
    YANKED_PIN,
)
from repair.model import Finding

if TYPE_CHECKING:
    from repair.context import Context
    from repair.index.preflight import PreflightResult


def run_preflight(ctx: Context, options: dict[str, Any] | None = None) -> PreflightResult:
    """The preflight result for this install's requirements (shared with the pipeline, which
    passes its own options: index URLs, find-links, offline)."""
    options = ctx.options if options is None else options
    from repair.errors import UsageError
    from repair.index.config import load_pip_config
    from repair.index.preflight import preflight
    from repair.index.tags import TargetError, target_from_interpreter

    reqs = ctx.app_requirements
    wanted = [line.requirement for line in reqs.requirements
              if line.requirement is not None and not line.url]
    wanted += [line.requirement for line in reqs.constraints if line.requirement is not None]
    config = load_pip_config(venv=ctx.venv if ctx.venv_exists else None, options=options,
                             requirements_options=reqs.options)
    try:
        target = target_from_interpreter(ctx.python_info)
    except TargetError as exc:
        raise UsageError(f"cannot tell which wheels fit this venv: {exc}") from exc
    from repair.rebuild import manifest_torch

    machine = ctx.__dict__.get("machine_backend")  # probed only when already known
    backend = options.get("backend") or (machine.backend if machine is not None else None)
    try:
        spec = manifest_torch(ctx.install.manifest, backend) if backend != "auto" else None
    except UsageError:
        spec = None
    torch_index = str(spec["index_url"]) if spec and spec.get("index_url") else None
    return preflight(wanted, target, config, torch_index=torch_index,
                     offline=bool(options.get("offline")), reporter=ctx.reporter)


@check(WHEEL_UNAVAILABLE, INDEX_UNREACHABLE, YANKED_PIN, SOURCE_BUILD_REQUIRED,
       TORCH_INDEX_FALLBACK, PREFLIGHT_UNCHECKED, option="online")
def online_preflight(ctx: Context) -> Iterator[Finding]:
    """Ask the package indexes whether every requirement has a file this venv's Python can
    install (see the preflight finding ids)."""
    result = run_preflight(ctx)
    ctx.__dict__["preflight"] = result
    yield from result.findings
