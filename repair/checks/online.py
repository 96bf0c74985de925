"""``repair check --online``: the index preflight on the application's requirements: could a
rebuild of this venv finish, from the indexes the user's pip would use?"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

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


def run_preflight(ctx: Context) -> PreflightResult:
    """The preflight result for this install's requirements and the manifest's torch for the
    backend asked for (or detected, where already known), for this venv's Python."""
    # lazy: start-up time
    from repair.errors import UsageError
    from repair.index.tags import TargetError, target_from_interpreter
    from repair.rebuild.torch import manifest_torch
    from repair.rebuild.verify import index_preflight

    reqs = ctx.app_requirements
    wanted = reqs.for_index(constraints=True)
    try:
        target = target_from_interpreter(ctx.python_info)
    except TargetError as exc:
        raise UsageError(f"cannot tell which wheels fit this venv: {exc}") from exc
    # The machine's backend only when already probed (the probe runs nvidia-smi and the like).
    machine = ctx.machine_backend if ctx.computed("machine_backend") else None
    backend = ctx.options.backend or (machine.backend if machine is not None else None)
    try:
        spec = manifest_torch(ctx.install.manifest, backend) if backend != "auto" else None
    except UsageError:
        spec = None
    # The index only: which torch packages the requirements ask for is theirs to say.
    torch = {"index_url": spec.get("index_url")} if spec else None
    return index_preflight(
        wanted,
        target,
        ctx.options.index,
        torch=torch,
        reporter=ctx.reporter,
        requirement_options=reqs.options,
        venv=ctx.venv if ctx.venv_exists else None,
    )


@check(
    WHEEL_UNAVAILABLE,
    INDEX_UNREACHABLE,
    YANKED_PIN,
    SOURCE_BUILD_REQUIRED,
    TORCH_INDEX_FALLBACK,
    PREFLIGHT_UNCHECKED,
    option="online",
)
def online_preflight(ctx: Context) -> Iterator[Finding]:
    """Ask the package indexes whether every requirement has a file this venv's Python can
    install (see the preflight finding ids)."""
    result = run_preflight(ctx)
    ctx.preflight = result
    yield from result.findings
