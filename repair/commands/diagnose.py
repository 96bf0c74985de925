"""``repair diagnose [LOG|-]``: a start-up or crash log matched against the signature catalogue,
each cause tied to the install when one is named (``repair.diagnose``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from repair.app.manifest import load
from repair.app.target import resolve_selection
from repair.context import Context
from repair.diagnose.environment import for_app, tie
from repair.diagnose.scan import diagnose_log, diagnose_stream
from repair.errors import UsageError

if TYPE_CHECKING:
    from repair.diagnose.causes import Diagnosis
    from repair.selection import InstallSelection


def diagnose_input(
    where: InstallSelection,
    log: str | None,
    stdin: TextIO,
    *,
    on_paste: Callable[[], None] | None = None,
) -> Diagnosis:
    """The diagnosis of ``log`` (a file; ``-`` or None: ``stdin``). With a folder or a venv in
    ``where``, each cause is tied to that install; with a manifest alone, worded for that
    application. ``on_paste`` runs before a log is read from a terminal (to say how to end it)."""
    # Start-up time: the install, its context and the manifest are read only when named.
    install = None
    if where.dir or where.venv:
        install = resolve_selection(where)  # a bad --dir is a usage error before the log is read
    if log is None:
        if stdin.isatty():
            # Nothing piped in and no file named: say how, rather than wait for a paste.
            raise UsageError(
                "name a log file, or pipe one in: 'repair diagnose webui.log' or "
                "'python launch.py 2>&1 | repair diagnose -'",
                hint="'repair diagnose -' reads a pasted log (end it with Ctrl-D, "
                "Ctrl-Z Enter on Windows)",
            )
        log = "-"
    elif log == "-" and stdin.isatty() and on_paste is not None:
        on_paste()
    result = diagnose_stream(stdin.buffer) if log == "-" else diagnose_log(log)
    if install is not None:
        result = tie(result, Context(install))
    elif where.manifest:
        result = for_app(result, load(where.manifest))
    return result
