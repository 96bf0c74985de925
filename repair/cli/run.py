"""``repair`` with no command: the repair pipeline."""

from __future__ import annotations

from typing import Any

import click

from repair.errors import UsageError


def run_pipeline(ctx: click.Context, options: dict[str, Any]) -> None:
    raise UsageError("the repair pipeline is not available in this build; run 'repair check'")
