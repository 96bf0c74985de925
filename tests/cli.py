"""The command line in-process, through click's ``CliRunner``, as the tests run it.

- ``invoke``: ``repair ARGS``; a crash (any exception other than the exit) fails the test.
- ``run_check``: ``repair check --json --dir ROOT ARGS``: the exit status and the report.
- ``finding_ids``: the ids of a report's findings, in order.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from repair.cli import cli


def invoke(*args: str, input: str | None = None) -> Result:
    result = CliRunner().invoke(cli, list(args), input=input)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def run_check(root: Path, *args: str) -> tuple[int, dict[str, Any]]:
    result = invoke("check", "--json", "--dir", str(root), *args)
    return result.exit_code, json.loads(result.stdout)


def finding_ids(report: dict[str, Any]) -> list[str]:
    return [f["id"] for f in report["findings"]]
