"""Bad input: a one-line error and exit 2, never a traceback (run as a real process)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def repair(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=str(root))
    return subprocess.run(
        [sys.executable, "-m", "repair", *args], capture_output=True, text=True, env=env, cwd=cwd
    )


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_missing_dir(tmp_path: Path) -> None:
    proc = repair("check", "--dir", str(tmp_path / "nope"))
    assert proc.returncode == 2
    assert "no such folder" in one_line_error(proc)


def test_file_where_a_dir_should_be(tmp_path: Path) -> None:
    f = tmp_path / "file.txt"
    f.write_text("x")
    proc = repair("check", "--dir", str(f))
    assert proc.returncode == 2
    assert "not a folder" in one_line_error(proc)


def test_venv_option_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "venvfile").write_text("x")
    proc = repair("check", "--dir", str(tmp_path), "--venv", str(tmp_path / "venvfile"))
    assert proc.returncode == 2
    assert "is a file" in one_line_error(proc)


@pytest.mark.parametrize(
    "content, expected",
    [
        ("not = [valid toml", "not valid TOML"),
        ('name = "x"\ntitle = "X"\n', "schema: missing"),
        ('schema = 99\nname = "x"\ntitle = "X"\n', "schema: 99 is not supported"),
        ('schema = 1\nname = "x"\n', "title: missing"),
        (
            'schema = 1\nname = "x"\ntitle = "X"\n[python]\nsupported = "three"\n',
            "python.supported",
        ),
        (
            'schema = 1\nname = "x"\ntitle = "X"\n[venv]\ndirs = "venv"\n',
            "venv.dirs: expected list",
        ),
    ],
)
def test_malformed_manifest(tmp_path: Path, content: str, expected: str) -> None:
    manifest = tmp_path / "bad.toml"
    manifest.write_text(content)
    proc = repair("check", "--dir", str(tmp_path), "--manifest", str(manifest))
    assert proc.returncode == 2
    line = one_line_error(proc)
    assert expected in line and "bad.toml" in line


def test_unknown_manifest_name(tmp_path: Path) -> None:
    proc = repair("check", "--dir", str(tmp_path), "--manifest", "no-such-app")
    assert proc.returncode == 2
    assert "unknown manifest 'no-such-app'" in one_line_error(proc)


@pytest.mark.skipif(os.name == "nt" or os.geteuid() == 0, reason="root reads everything")
def test_permission_denied(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0)
    try:
        proc = repair("check", "--dir", str(locked))
        assert proc.returncode == 2
        assert "permission denied" in one_line_error(proc)
    finally:
        locked.chmod(0o755)


def test_unreadable_metadata_and_record_are_findings_not_crashes(tmp_path: Path) -> None:
    site = tmp_path / "venv" / "Lib" / "site-packages"
    (tmp_path / "venv" / "Scripts").mkdir(parents=True)
    (tmp_path / "venv" / "pyvenv.cfg").write_text("home = C:\\Python310\nversion = 3.10.6\n")
    bad = site / "bad-1.0.dist-info"
    bad.mkdir(parents=True)
    (bad / "METADATA").write_bytes(b"\x00\x01binary")
    worse = site / "worse-2.0.dist-info"
    worse.mkdir()
    (worse / "METADATA").write_text("Name: worse\nVersion: 2.0\n")
    (worse / "RECORD").write_bytes(b"\x00\x00\x00")
    proc = repair("check", "--dir", str(tmp_path), "--json")
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    import json

    report = json.loads(proc.stdout)
    stale = {f["subject"] for f in report["findings"] if f["id"] == "stale-residue"}
    assert {"bad", "worse"} <= stale
