"""repair report on a broken install whose pip configuration holds a password: what a
maintainer needs, and nothing of the user's secrets, home folder or name."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from repair.commands.report import Scrubber
from tests.cli import invoke
from tests.kit import site_packages

PASSWORD = "hunter2-Sup3rSecret"
TOKEN = "hf_AbCdEfGhIjKlMnOpQrSt"


@pytest.fixture
def broken(app: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The app inside the user's home, einops gone, a pip config with credentials, a log."""
    home = app.parent  # the app lies in the home folder, as it does on most machines
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("USERPROFILE", str(home))
    conf = home / ".config" / "pip" / "pip.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text(
        f"[global]\nindex-url = https://alice:{PASSWORD}@pypi.example.invalid/simple\n"
        f"extra-index-url = https://pypi.example.invalid/simple?token={PASSWORD}\n"
    )
    monkeypatch.setenv("PIP_CONFIG_FILE", str(conf))
    monkeypatch.delenv("PIP_NO_INDEX")
    for dist in site_packages(app / "venv").glob("einops*"):
        shutil.rmtree(dist)
    (app / "webui.log").write_text(
        f"Launching Web UI with arguments: --hf-token {TOKEN}\n"
        "Traceback (most recent call last):\n"
        "ImportError: numpy.core.multiarray failed to import\n"
    )
    return app


def _clean(text: str, home: Path) -> None:
    assert PASSWORD not in text
    assert TOKEN not in text
    assert str(home) not in text


def test_markdown_report(broken: Path) -> None:
    result = invoke("report", "--dir", str(broken))
    assert result.exit_code == 0, result.output
    text = result.stdout
    _clean(text, broken.parent)
    assert "`~/app`" in text  # the folder, with the home folder hidden
    assert "<details>" in text and "<summary>Findings" in text
    assert "requirement-unmet" in text and "einops" in text
    assert "What `repair` would do" in text and "install the requirements" in text
    assert "Last diagnosis of the log" in text
    assert "pypi.example.invalid" in text  # the index is there, its credentials are not
    head = text.split("<details>")[0]
    assert len(head.splitlines()) <= 20  # the head fits a screen


def test_json_report(broken: Path) -> None:
    result = invoke("report", "--json", "--dir", str(broken))
    assert result.exit_code == 0, result.output
    _clean(result.stdout, broken.parent)
    data = json.loads(result.stdout)
    assert data["schema"] == "repair.support/1"
    assert {"install", "machine", "findings", "summary", "diagnosis", "plan", "sources"} <= set(
        data
    )
    assert data["install"]["dir"] == "~/app"
    assert data["machine"]["os"] and data["machine"]["venv_python"]
    assert [f for f in data["findings"] if f["id"] == "requirement-unmet"]
    assert data["diagnosis"]["log"] == "~/app/webui.log" and data["diagnosis"]["causes"]
    assert any(s["kind"] == "install-requirements" for s in data["plan"])


def test_copy_uses_the_clipboard_tool(
    broken: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if os.name == "nt":
        pytest.skip("POSIX clipboard tools")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    got = tmp_path / "clipboard.txt"
    tool = bin_dir / "xclip"
    tool.write_text(f"#!/bin/sh\ncat > '{got}'\n")
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr("sys.platform", "linux")
    result = invoke("report", "--copy", "--dir", str(broken))
    assert result.exit_code == 0
    assert "copied to the clipboard (xclip)" in result.stderr
    assert got.read_text() == result.stdout


def test_scrubber() -> None:
    s = Scrubber(home="/home/artist", user="artist")
    assert s.text("/home/artist/sd/webui") == "~/sd/webui"
    assert s.text(r"C:\Users\artist\sd") == r"C:\Users\<user>\sd"
    assert s.text("/home/bob/x") == "/home/<user>/x"
    assert s.text("https://me:pw@host/simple") == "https://****@host/simple"
    assert s.text("run by artist today") == "run by <user> today"
    assert s.text(f"token {TOKEN}") == "token hf_****"
    assert s.args(["--listen", "--gradio-auth", "me:pw", "--api-auth=me:pw", "--xformers"]) == [
        "--listen",
        "--gradio-auth",
        "****",
        "--api-auth=****",
        "--xformers",
    ]


def test_a_missing_log_is_one_line(app: Path, tmp_path: Path) -> None:
    result = invoke("report", "--dir", str(app), "--log", str(tmp_path / "nope.log"))
    assert result.exit_code == 2
    assert result.stderr.startswith("repair: error: no such log file")
