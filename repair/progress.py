"""Progress and step narration, decoupled from the terminal.

Library code receives a ``Reporter``; the CLI passes one that writes to stderr (a bar only when
stderr is a terminal), tests pass ``Reporter()`` which says nothing.
"""

from __future__ import annotations

import sys
import threading
import time
from types import TracebackType
from typing import TextIO


class Progress:
    """A counter with a label. ``advance`` is thread-safe."""

    def __init__(self, reporter: Reporter, label: str, total: int, unit: str = "") -> None:
        self.reporter = reporter
        self.label = label
        self.total = max(total, 0)
        self.unit = unit
        self.done = 0
        self._lock = threading.Lock()
        self._last = 0.0

    def advance(self, amount: int = 1) -> None:
        with self._lock:
            self.done += amount
            now = time.monotonic()
            if now - self._last >= 0.1 or self.done >= self.total:
                self._last = now
                self.reporter._draw(self)

    def __enter__(self) -> Progress:
        self.reporter._draw(self)
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.reporter._finish(self)


class Reporter:
    """Says nothing. Subclasses decide where words go."""

    def step(self, message: str) -> None:
        """A step of long work begins (one line)."""

    def info(self, message: str) -> None:
        """A line of narration."""

    def warn(self, message: str) -> None:
        """Something the user should know, that does not stop the work."""

    def progress(self, label: str, total: int, unit: str = "") -> Progress:
        return Progress(self, label, total, unit)

    def _draw(self, progress: Progress) -> None:
        pass

    def _finish(self, progress: Progress) -> None:
        pass


def _human(n: float, unit: str) -> str:
    if unit != "B":
        return f"{int(n)}"
    for suffix in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or suffix == "TB":
            return f"{n:.0f} {suffix}" if suffix == "B" else f"{n:.1f} {suffix}"
        n /= 1000
    return f"{n:.1f} TB"


class StreamReporter(Reporter):
    """Narration to a stream (stderr by default); a live bar only on a terminal."""

    def __init__(self, stream: TextIO | None = None, *, quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def _write(self, text: str) -> None:
        if "://" in text:
            from repair.proc import redact

            text = redact(text)
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            pass

    def step(self, message: str) -> None:
        if not self.quiet:
            self._write(f"==> {message}\n")

    def info(self, message: str) -> None:
        if not self.quiet:
            self._write(f"    {message}\n")

    def warn(self, message: str) -> None:
        self._write(f"warning: {message}\n")

    def _draw(self, progress: Progress) -> None:
        if self.quiet or not self.tty or not progress.total:
            return
        width = 30
        frac = min(progress.done / progress.total, 1.0)
        bar = "#" * int(width * frac) + "-" * (width - int(width * frac))
        self._write(
            f"\r{progress.label} [{bar}] {_human(progress.done, progress.unit)}"
            f"/{_human(progress.total, progress.unit)} {frac:4.0%}"
        )

    def _finish(self, progress: Progress) -> None:
        if not self.quiet and self.tty and progress.total:
            self._write("\n")
