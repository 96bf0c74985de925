"""What a person sees during long work, read from a real pseudo-terminal: a real pip install
from a local index (a download that takes seconds, a count that advances, the time left), no
stray characters left by a redrawn line, one line per step without a terminal, and what Ctrl-C
does next."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from repair.env import wheelkit
from tests.integration.installkit import World, install_args, make_world
from tests.localindex import LocalIndex
from tests.ptykit import run_in_pty

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(os.name == "nt", reason="pseudo-terminals are POSIX")
SMALL = ["tinyone", "tinytwo", "tinythree", "tinyfour"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return make_world(tmp_path_factory.mktemp("install-world"))


def screen(output: str) -> list[str]:
    """The lines left on a terminal after ``output``: carriage returns go back to column 0,
    ESC[K erases to the end of the line, text overwrites what was there."""
    lines: list[str] = []
    for raw in output.split("\n"):
        row: list[str] = []
        col = 0
        for part in re.split(r"(\r|\x1b\[K|\x1b\[[0-9;]*m)", raw):
            if part == "\r":
                col = 0
            elif part == "\x1b[K":
                del row[col:]
            elif part.startswith("\x1b["):
                continue  # colours
            else:
                for ch in part:
                    if col < len(row):
                        row[col] = ch
                    else:
                        row.append(ch)
                    col += 1
        lines.append("".join(row).rstrip())
    return lines


def test_screen_model() -> None:
    # what the old bar did: a shorter redraw left the tail of the longer one
    assert screen("verifying 142%\rverifying 9%") == ["verifying 9%2%"]
    assert screen("verifying 142%\r\x1b[Kverifying 9%") == ["verifying 9%"]


@pytest.fixture
def index_app(app: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.delenv("PIP_NO_INDEX")
    wheels = tmp_path / "wheels"
    for name in SMALL:
        wheelkit.build_wheel(wheels, name, "1.0")
    # 3 MB that do not compress, served at 1 MB/s: a download of about 3 seconds
    wheelkit.build_wheel(
        wheels,
        "bigpkg",
        "1.0",
        files={"bigpkg/__init__.py": "", "bigpkg/blob.bin": os.urandom(3_000_000)},
    )
    reqs = app / "requirements.txt"
    reqs.write_text(reqs.read_text() + "\n".join(["bigpkg", *SMALL]) + "\n")
    with LocalIndex(wheels) as index:
        index.file_rate = 1_000_000
        yield app, index


def _argv(app: Path, index: LocalIndex) -> list[str]:
    return [
        sys.executable,
        "-m",
        "repair",
        "--yes",
        "--dir",
        str(app),
        "--index-url",
        index.simple(),
    ]


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1")


def test_a_real_install_at_a_terminal(index_app) -> None:  # type: ignore[no-untyped-def]
    app, index = index_app
    seen = run_in_pty(_argv(app, index), env=_env(), columns=100, timeout=300)
    assert seen.returncode in (0, 3), seen.output
    live = seen.output
    # the download: its name, its bytes against its size, the time left
    assert "downloading bigpkg 1.0" in live
    sizes = re.findall(r"([\d.]+) MB/3\.0 MB", live)
    assert len(set(sizes)) >= 3, sizes  # the byte count moved
    assert re.search(r"\d+ s left", live), live[-2000:]
    # a count that advances while pip collects
    counts = [int(n) for n in re.findall(r"collecting  (\d+): ", live)]
    assert counts and counts == sorted(counts) and counts[-1] >= 5, counts
    # what stays on the screen: clean lines, each step once, no leftovers of the live line
    lines = screen(seen.output)
    for line in lines:
        assert not re.search(r"%\d", line), line
        assert "[#" not in line and "[-" not in line, line
        assert len(line) <= 100 or "/" in line, line
    steps = [line for line in lines if line.startswith("==> ")]
    assert len(steps) == len(set(steps)), steps
    assert "==> installing the requirements (pip)" in steps


def test_without_a_terminal_one_line_per_step(index_app) -> None:  # type: ignore[no-untyped-def]
    app, index = index_app
    proc = subprocess.run(
        _argv(app, index), env=_env(), capture_output=True, text=True, timeout=300
    )
    assert proc.returncode in (0, 3), proc.stderr
    assert "\r" not in proc.stderr and "\x1b" not in proc.stderr
    steps = [line for line in proc.stderr.splitlines() if line.startswith("==> ")]
    assert steps.count("==> installing the requirements (pip)") == 1
    assert "Progress " not in proc.stderr
    log = next((app / ".repair-backups").rglob("install.log")).read_text()
    assert "Progress " not in log  # pip's byte counts are not kept in the log


def test_ctrl_c_says_what_happens_next(index_app) -> None:  # type: ignore[no-untyped-def]
    app, index = index_app
    index.file_rate = 200_000  # 15 s: Ctrl-C comes during the download
    before = sorted(p.name for p in (app / "venv").rglob("*.dist-info"))
    seen = run_in_pty(
        _argv(app, index), env=_env(), columns=100, interrupt_on="downloading bigpkg", timeout=300
    )
    text = "\n".join(screen(seen.output))
    assert "interrupted: rolling back" in text, text[-3000:]
    assert seen.returncode == 4, text[-2000:]
    assert "the venv was rolled back to how it was" in text
    assert sorted(p.name for p in (app / "venv").rglob("*.dist-info")) == before


def test_ctrl_c_during_an_install_says_how_to_go_on(world: World, tmp_path: Path) -> None:
    target = tmp_path / "webui"
    argv = [sys.executable, "-m", "repair", *install_args(world, target)]
    seen = run_in_pty(argv, env=_env(), columns=100, interrupt_on="==> torch:", timeout=300)
    text = "\n".join(screen(seen.output))
    assert seen.returncode == 130, text[-2000:]
    assert "interrupted: the finished steps are kept; run the same command again" in text
    assert "Traceback" not in text
    again = run_in_pty(argv, env=_env(), columns=100, timeout=300)
    assert again.returncode == 0, again.output[-2000:]
    assert "clone         skipped" in "\n".join(screen(again.output))


def test_verify_files_bar_leaves_nothing_behind(app: Path) -> None:
    seen = run_in_pty(
        [sys.executable, "-m", "repair", "check", "--verify-files", "--dir", str(app)],
        env=_env(),
        columns=60,
        timeout=120,
    )
    assert seen.returncode == 0, seen.output
    assert "verifying files" in seen.output  # the bar was drawn ...
    for line in screen(seen.output):  # ... and left no trace
        assert "verifying files" not in line and not re.search(r"%\d", line), line
