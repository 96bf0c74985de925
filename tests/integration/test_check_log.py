"""repair check --log: a crash log's diagnosis joins the report as log-signature findings."""

from __future__ import annotations

from pathlib import Path

from tests.cli import invoke, run_check

HEALTHY = Path(__file__).parent.parent / "data" / "healthy-logs" / "a1111.log"


def test_log_causes_become_findings(app: Path, tmp_path: Path) -> None:
    log = tmp_path / "webui.log"
    log.write_text(
        "Launching Web UI with arguments: --xformers\n"
        "Traceback (most recent call last):\n"
        "ModuleNotFoundError: No module named 'torchvision.transforms.functional_tensor'\n"
        '"hipErrorNoBinaryForGpu: Unable to find code object for all current devices!"\n',
        encoding="utf-8",
    )
    code, report = run_check(app, "--log", str(log))
    log_findings = [f for f in report["findings"] if f["id"] == "log-signature"]
    assert [f["details"]["signatures"] for f in log_findings] == [
        ["torchvision-functional-tensor-missing"],
        ["rocm-no-binary-for-gpu"],
    ]
    first = log_findings[0]
    assert "line 3" in first["message"] and first["details"]["lines"] == [3]
    assert first["details"]["rebuild_helps"] == "partly"
    assert code == 1


def test_healthy_log_adds_nothing(app: Path) -> None:
    code, report = run_check(app, "--log", str(HEALTHY))
    assert report["findings"] == []
    assert code == 0


def test_bad_log_path_is_a_usage_error(app: Path, tmp_path: Path) -> None:
    for path, words in [
        (tmp_path / "missing.log", "no such log file"),
        (tmp_path, "is a directory"),
    ]:
        result = invoke("check", "--json", "--dir", str(app), "--log", str(path))
        assert result.exit_code == 2
        assert result.stdout == ""
        err = result.stderr
        assert words in err and len(err.strip().splitlines()) == 1, err
