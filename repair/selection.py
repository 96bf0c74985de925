"""Which install a command works on, as given (``--dir``, ``--venv``, ``--manifest``; None: found
as ``app.target`` says), and the arguments of ``repair guard run``.

Named tuples, not dataclasses: the launch guard reads these before anything else, and importing
``dataclasses`` alone would cost a warm guard a fifth of its time. A leaf: it imports nothing of the
tool.
"""

from __future__ import annotations

from typing import NamedTuple


class InstallSelection(NamedTuple):
    """Which install a command works on, as given."""

    dir: str | None = None
    venv: str | None = None
    manifest: str | None = None


class GuardRun(NamedTuple):
    """``repair guard run [--dir] [--venv] [--manifest] [--warn | --stop]``."""

    where: InstallSelection = InstallSelection()
    warn: bool = False  # on an error, warn and go on (exit 0)
