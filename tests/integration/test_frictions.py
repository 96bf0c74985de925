"""Small frictions a person meets, each fixed: a diagnose that says how instead of waiting, a "no"
that is an answer, the fix column of the id list, one line for an unreachable index, an
impossible --python refused at once, the dry run naming what it leaves to the user."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli import invoke
from tests.kit import tree_digest
from tests.ptykit import run_in_pty

ROOT = Path(__file__).resolve().parents[2]
posix_only = pytest.mark.skipif(os.name == "nt", reason="pseudo-terminals are POSIX")


def repair_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "repair", *args]


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT))


@posix_only
def test_diagnose_without_a_log_at_a_terminal_says_how() -> None:
    seen = run_in_pty(repair_argv("diagnose"), env=_env(), timeout=30)
    assert seen.returncode == 2, seen.output
    assert "repair: error: name a log file, or pipe one in" in seen.output
    assert "Traceback" not in seen.output


def test_diagnose_without_a_log_reads_a_pipe() -> None:
    proc = subprocess.run(
        repair_argv("diagnose", "--json"),
        env=_env(),
        capture_output=True,
        text=True,
        input="Launching Web UI with arguments:\n",
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr


@posix_only
def test_answering_no_changes_nothing_and_exits_0(app: Path) -> None:
    (app / "requirements.txt").write_text("numpy==1.26.4\nbitsandbytes\n")
    before = tree_digest(app)
    seen = run_in_pty(
        repair_argv("--dir", str(app)), env=_env(), answers=[("Go ahead?", "n\n")], timeout=120
    )
    assert seen.returncode == 0, seen.output
    assert "Nothing was changed." in seen.output
    assert "error" not in seen.output.lower().split("go ahead?")[-1]
    after = {k: v for k, v in tree_digest(app).items() if not k.startswith(".repair-backups")}
    assert after == before


def test_check_list_shows_the_fix_column() -> None:
    out = invoke("check", "--list").output.splitlines()
    assert out[0].split() == ["id", "severity", "fix", "title"]
    row = next(line for line in out if line.startswith("restart-required "))
    assert row.split()[1:3] == ["warning", "manual"]


@pytest.mark.parametrize("value", ["3.99", "2.7", "three"])
def test_an_impossible_python_is_refused_in_one_line(tmp_path: Path, value: str) -> None:
    for args in (
        ["--python", value, "--dry-run", "--dir", str(tmp_path)],
        ["install", "generic", "--dir", str(tmp_path / "new"), "--python", value],
    ):
        result = invoke(*args)
        assert result.exit_code == 2, result.output
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert lines[0].startswith(f"repair: error: --python {value}")
        assert len(lines) <= 2  # the error, at most a hint
    assert not (tmp_path / "new").exists()


def test_an_unreachable_index_is_named_once(app: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same index from two places (pip's config and the command line, with and without
    the trailing slash) is one source, reported once."""
    monkeypatch.delenv("PIP_NO_INDEX")
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    result = invoke(
        "check", "--online", "--dir", str(app), "--extra-index-url", "http://127.0.0.1:9/simple/"
    )
    unreachable = [line for line in result.stdout.splitlines() if "index-unreachable" in line]
    assert len(unreachable) == 1, result.stdout


def test_dry_run_lists_restart_required_with_what_to_do(app: Path) -> None:
    python = app / "venv" / "bin" / "python"
    if not python.exists():
        pytest.skip("POSIX venv layout")
    sleeper = subprocess.Popen([str(python), "-c", "import time; time.sleep(60)"])
    try:
        time.sleep(1.1)
        for info in (app / "venv").glob("lib/python3*/site-packages/einops-*.dist-info"):
            os.utime(info)  # einops was "replaced" after the process started
        (app / "requirements.txt").write_text(
            (app / "requirements.txt").read_text() + "bitsandbytes\n"
        )
        result = invoke("--dry-run", "--dir", str(app))
    finally:
        sleeper.kill()
        sleeper.wait()
    text = result.stdout
    assert "Not fixed automatically:" in text
    tail = text[text.index("Not fixed automatically:") :]
    assert "restart-required" in tail and "what to do:" in tail
