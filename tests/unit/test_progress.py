"""The live line's text, and what the installer makes of pip's lines (pip 23 without byte
counts, pip 24.1+ with --progress-bar raw)."""

from __future__ import annotations

import io
import time
from pathlib import Path

from repair.env.packages import _InstallWatch
from repair.progress import Progress, Reporter, StreamReporter, duration, progress_line


class Recorder(Reporter):
    def __init__(self) -> None:
        self.seen: list[str] = []

    def _draw(self, progress: Progress) -> None:
        self.seen.append(progress_line(progress, 200))


def test_line_fits_the_width_and_says_the_time_left() -> None:
    bar = Progress(Reporter(), "downloading torch 2.1.2+cu121", 2_300_000_000, unit="B")
    bar.done = 1_150_000_000
    bar.started -= 30  # half done in 30 s: 30 s to go
    line = progress_line(bar, 100)
    assert "1.1 GB/2.3 GB" in line and "50%" in line and "30 s left" in line
    assert len(progress_line(bar, 40)) <= 40


def test_duration() -> None:
    assert duration(7) == "7 s"
    assert duration(185) == "3 min 05 s"
    assert duration(3720) == "1 h 02 min"


def test_pip_23_lines(tmp_path: Path) -> None:
    rec = Recorder()
    bar = Progress(rec, "resolving", 0)
    watch = _InstallWatch(bar, tmp_path / "venv" / "bin" / "python", raw=False)
    for line in [
        "Collecting numpy==1.26.2",
        "  Downloading numpy-1.26.2-cp310-cp310-manylinux_2_17_x86_64.whl (18.2 MB)",
        "Collecting einops==0.4.1",
        "  Using cached einops-0.4.1-py3-none-any.whl (28 kB)",
        "Installing collected packages: numpy, einops",
    ]:
        watch.line(line)
    watch.stop()
    joined = "\n".join(rec.seen)
    assert "collecting  1: numpy==1.26.2" in joined
    assert "downloading numpy 1.26.2  (18.2 MB)" in joined  # no bar stuck at 0%
    assert "collecting  2: einops==0.4.1" in joined
    assert "installing  [" in rec.seen[-1] and "0/2" in rec.seen[-1]


def test_pip_raw_lines(tmp_path: Path) -> None:
    rec = Recorder()
    bar = Progress(rec, "resolving", 0)
    watch = _InstallWatch(bar, tmp_path / "python", raw=True)
    watch.line("  Downloading torch-2.1.2-cp310-cp310-win_amd64.whl (2.3 GB)")
    time.sleep(0.15)  # redraws are throttled to ten a second
    watch.line("Progress 1150000000 of 2300000000")
    assert "1.1 GB/2.3 GB" in rec.seen[-1] and "50%" in rec.seen[-1]


def test_no_terminal_no_control_characters() -> None:
    out = io.StringIO()
    reporter = StreamReporter(out)
    reporter.step("installing")
    with reporter.progress("verifying files", 10) as bar:
        bar.advance(10)
    reporter.info("done")
    assert out.getvalue() == "==> installing\n    done\n"


def test_terminal_line_is_wiped_before_words() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    reporter = StreamReporter(out, width=80)
    with reporter.progress("verifying files", 100) as bar:
        bar.update(done=42, force=True)
        reporter.warn("something")
        bar.update(done=99, force=True)
    text = out.getvalue()
    assert "\r\x1b[Kwarning: something\n" in text
    assert text.endswith("\r\x1b[K")  # the live line goes at the end
