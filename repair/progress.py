"""Progress and step narration, decoupled from the terminal.

Library code receives a ``Reporter``; the CLI passes one that writes to stderr (a live line that
redraws in place only when stderr is a terminal; one line per step otherwise), tests pass
``Reporter()`` which says nothing.
"""

from __future__ import annotations

import sys
import threading
import time
from types import TracebackType
from typing import TextIO


class Progress:
    """A counter with a label, an optional note (the item being worked on) and a time-left
    estimate. ``advance`` and ``update`` are thread-safe. ``total`` 0: the amount is unknown
    (a status line with the note and the time spent)."""

    def __init__(self, reporter: Reporter, label: str, total: int, unit: str = "") -> None:
        self.reporter = reporter
        self.label = label
        self.total = max(total, 0)
        self.unit = unit
        self.done = 0
        self.note = ""
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._last = 0.0

    def advance(self, amount: int = 1) -> None:
        with self._lock:
            self.done += amount
            self._maybe_draw()

    def update(
        self,
        *,
        done: int | None = None,
        total: int | None = None,
        note: str | None = None,
        label: str | None = None,
        force: bool = False,
    ) -> None:
        """Set any of the counter, the total, the note and the label; redraws (throttled)."""
        with self._lock:
            if label is not None and label != self.label:
                self.label = label
                self.started = time.monotonic()
                force = True
            if total is not None and total != self.total:
                self.total = max(total, 0)
                self.started = time.monotonic()  # a new phase: its own rate
            if done is not None:
                self.done = done
            if note is not None:
                force = force or note != self.note
                self.note = note
            self._maybe_draw(force)

    def _maybe_draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last >= 0.1 or (self.total and self.done >= self.total):
            self._last = now
            self.reporter._draw(self)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def eta(self) -> float | None:
        """Seconds left at the rate so far; None until there is a rate to go by."""
        if not self.total or self.done <= 0 or self.elapsed < 1.0:
            return None
        rate = self.done / self.elapsed
        return max(self.total - self.done, 0) / rate if rate > 0 else None

    def __enter__(self) -> Progress:
        self.reporter._draw(self)
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.reporter._finish(self, ok=et is None)


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

    def _finish(self, progress: Progress, ok: bool = True) -> None:
        pass


def human(n: float, unit: str) -> str:
    """``18.2 MB`` for bytes, the number itself otherwise."""
    if unit != "B":
        return f"{int(n)}"
    for suffix in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or suffix == "TB":
            return f"{n:.0f} {suffix}" if suffix == "B" else f"{n:.1f} {suffix}"
        n /= 1000
    return f"{n:.1f} TB"


def duration(seconds: float) -> str:
    """``7 s``, ``3 min 05 s``, ``1 h 02 min``."""
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def progress_line(progress: Progress, width: int) -> str:
    """The live line: ``label [#####-----] 12.0 MB/40.0 MB  30%  1 min 05 s left  note``, cut
    to ``width``."""
    parts = [progress.label]
    if progress.total:
        frac = min(progress.done / progress.total, 1.0)
        cells = 20 if width >= 80 else 10
        bar = "#" * int(cells * frac) + "-" * (cells - int(cells * frac))
        parts.append(
            f"[{bar}] {human(progress.done, progress.unit)}/"
            f"{human(progress.total, progress.unit)} {frac:4.0%}"
        )
        eta = progress.eta()
        if eta is not None and eta >= 0.5 and progress.done < progress.total:
            parts.append(f"{duration(eta)} left")
    elif progress.done and progress.unit == "B":
        parts.append(human(progress.done, progress.unit))
    if progress.note:
        parts.append(progress.note)
    if not progress.total:
        parts.append(f"({duration(progress.elapsed)})")
    line = "  ".join(parts)
    return line if len(line) < width else line[: max(width - 4, 10)] + "..."


class StreamReporter(Reporter):
    """Narration to a stream (stderr by default); a live line only on a terminal."""

    def __init__(
        self, stream: TextIO | None = None, *, quiet: bool = False, width: int | None = None
    ) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._width = width
        self._live = False  # a live line is on the screen, without its newline
        self._lock = threading.RLock()

    @property
    def width(self) -> int:
        if self._width:
            return self._width
        # lazy: start-up time
        import shutil

        return max(shutil.get_terminal_size((80, 24)).columns, 20)

    def _write(self, text: str) -> None:
        if "://" in text:
            # lazy: start-up time
            from repair.proc import redact

            text = redact(text)
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            pass

    def _say(self, text: str) -> None:
        """A whole line: first wipe the live line, so that nothing is left of it."""
        with self._lock:
            if self._live:
                self._write("\r\x1b[K")
                self._live = False
            self._write(text)

    def step(self, message: str) -> None:
        if not self.quiet:
            self._say(f"==> {message}\n")

    def info(self, message: str) -> None:
        if not self.quiet:
            self._say(f"    {message}\n")

    def warn(self, message: str) -> None:
        self._say(f"warning: {message}\n")

    def _draw(self, progress: Progress) -> None:
        if self.quiet or not self.tty:
            return
        with self._lock:
            # \r and erase-to-end: a shorter line never leaves the tail of a longer one.
            self._write("\r\x1b[K" + progress_line(progress, self.width))
            self._live = True

    def _finish(self, progress: Progress, ok: bool = True) -> None:
        if self.quiet:
            return
        with self._lock:
            if self.tty and self._live:
                # The live line goes: what follows (a summary, a warning) is said once.
                self._write("\r\x1b[K")
                self._live = False
