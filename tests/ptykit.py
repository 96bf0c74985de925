"""Run a command under a real pseudo-terminal and read what a person would see (POSIX only)."""

from __future__ import annotations

import os
import select
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass
class Seen:
    returncode: int
    output: str  # everything written to the terminal, control characters and all
    chunks: list[tuple[float, str]]  # (seconds since start, text) as it arrived


def run_in_pty(
    argv: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    cwd: str | None = None,
    answers: Sequence[tuple[str, str]] = (),
    columns: int = 80,
    interrupt_on: str | None = None,
    timeout: float = 120.0,
) -> Seen:
    """Run ``argv`` with stdin, stdout and stderr on one pseudo-terminal of ``columns`` columns.
    ``answers``: (text to wait for, text to type) pairs, in order. ``interrupt_on``: when this
    text appears, Ctrl-C: SIGINT to the whole process group, as a terminal sends it. The process
    is killed after ``timeout`` seconds (its return code is then -9)."""
    import fcntl
    import pty
    import signal
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = dict(os.environ if env is None else env, COLUMNS=str(columns), TERM="xterm")
    started = time.monotonic()
    proc = subprocess.Popen(
        list(argv),
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        cwd=cwd,
        start_new_session=True,
        close_fds=True,
    )
    os.close(slave)
    chunks: list[tuple[float, str]] = []
    text = ""
    pending = list(answers)
    try:
        while True:
            if time.monotonic() - started > timeout:
                proc.kill()
                break
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # the child closed the terminal
                    data = b""
                if not data:
                    if proc.poll() is not None:
                        break
                    continue
                piece = data.decode("utf-8", "replace")
                chunks.append((time.monotonic() - started, piece))
                text += piece
                while pending and pending[0][0] in text:
                    os.write(master, pending.pop(0)[1].encode())
                if interrupt_on is not None and interrupt_on in text:
                    interrupt_on = None
                    os.killpg(proc.pid, signal.SIGINT)
            elif proc.poll() is not None:
                break
    finally:
        os.close(master)
    code = proc.wait()
    return Seen(code, text.replace("\r\n", "\n"), chunks)
