"""The JSON report keeps the contract's schema (repair.report/1)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.cli import invoke, run_check

# The contract's example report, as keys and value types. Kept here so the test runs anywhere;
# when the design folder sits beside the checkout, the test also reads it from there.
CONTRACT_REPORT = {
    "schema": str,
    "tool": dict,
    "target": dict,
    "findings": list,
    "summary": dict,
    "restart_required": bool,
    "duration_ms": int,
}
CONTRACT_TARGET = {"dir", "venv", "manifest", "python", "backend"}
CONTRACT_FINDING = {"id", "severity", "subject", "message", "remedy", "fix", "restart_required"}
CONTRACT_SUMMARY = {"errors", "warnings", "infos", "healthy"}
FIXES = {"remove", "reinstall", "recreate-venv", "reclone", "config", "manual", "none"}


def _contract_example() -> dict[str, Any] | None:
    here = Path(__file__).resolve()
    for parent in here.parents:
        contract = parent / "shared" / "design" / "contract.md"
        if contract.is_file():
            text = contract.read_text(encoding="utf-8")
            m = re.search(r"```json\n(\{\n  \"schema\": \"repair.report/1\".*?)\n```", text, re.S)
            return json.loads(m.group(1)) if m else None
    return None


def _report(root: Path) -> dict[str, Any]:
    return run_check(root)[1]


def test_report_matches_contract_schema(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("numpy\n")
    report = _report(tmp_path)  # no venv: one finding
    for key, kind in CONTRACT_REPORT.items():
        assert isinstance(report[key], kind), key
    assert report["schema"] == "repair.report/1"
    assert report["tool"]["name"] == "webui-repair"
    assert set(report["target"]) >= CONTRACT_TARGET
    assert {"version", "executable"} <= set(report["target"]["python"])
    assert {"machine", "torch"} <= set(report["target"]["backend"])
    assert set(report["summary"]) == CONTRACT_SUMMARY
    assert report["findings"]
    for finding in report["findings"]:
        assert set(finding) >= CONTRACT_FINDING
        assert finding["severity"] in {"error", "warning", "info"}
        assert finding["fix"] in FIXES
        assert re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", finding["id"])


def test_report_keys_match_the_contract_document(tmp_path: Path) -> None:
    example = _contract_example()
    if example is None:
        pytest.skip("the design folder is not beside this checkout")
    (tmp_path / "requirements.txt").write_text("numpy\n")
    report = _report(tmp_path)  # no venv: one finding
    assert set(example) <= set(report)
    assert set(example["target"]) <= set(report["target"])
    assert set(example["summary"]) == set(report["summary"])
    assert set(example["findings"][0]) <= set(report["findings"][0])


def test_json_stdout_holds_one_object_only(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("numpy\n")
    result = invoke("check", "--json", "--dir", str(tmp_path))
    json.loads(result.stdout)  # raises if anything else was printed on stdout
