"""repair check --log: a crash log's diagnosis joins the report as log-signature findings."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from repair.cli import cli

HEALTHY = Path(__file__).parent.parent / "data" / "healthy-logs" / "a1111.log"


def run(root: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["check", "--json", "--dir", str(root), *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.stdout, result.stderr


def test_log_causes_become_findings(app: Path, tmp_path: Path) -> None:
    log = tmp_path / "webui.log"
    log.write_text(
        "Launching Web UI with arguments: --xformers\n"
        "Traceback (most recent call last):\n"
        "ModuleNotFoundError: No module named 'torchvision.transforms.functional_tensor'\n"
        "\"hipErrorNoBinaryForGpu: Unable to find code object for all current devices!\"\n",
        encoding="utf-8",
    )
    code, out, _ = run(app, "--log", str(log))
    report = json.loads(out)
    log_findings = [f for f in report["findings"] if f["id"] == "log-signature"]
    assert [f["details"]["signatures"] for f in log_findings] == [
        ["torchvision-functional-tensor-missing"], ["rocm-no-binary-for-gpu"]]
    first = log_findings[0]
    assert "line 3" in first["message"] and first["details"]["lines"] == [3]
    assert first["details"]["rebuild_helps"] == "partly"
    assert code == 1


def test_healthy_log_adds_nothing(app: Path) -> None:
    code, out, _ = run(app, "--log", str(HEALTHY))
    assert json.loads(out)["findings"] == []
    assert code == 0


def test_bad_log_path_is_a_usage_error(app: Path, tmp_path: Path) -> None:
    for path, words in [(tmp_path / "missing.log", "no such log file"),
                        (tmp_path, "is a directory")]:
        code, out, err = run(app, "--log", str(path))
        assert code == 2
        assert out == ""
        assert words in err and len(err.strip().splitlines()) == 1, err
