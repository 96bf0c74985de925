"""``repair check``: the report of one install, with what ``--before-install``, ``--pre-update``
and ``--log`` add to it. Changes nothing. (The checks themselves run in ``checks.runner``.)"""

from __future__ import annotations

from typing import TYPE_CHECKING

from repair.app.target import resolve_selection
from repair.checks.runner import check
from repair.context import Context
from repair.errors import UsageError

if TYPE_CHECKING:
    from repair.model import Report
    from repair.options import CheckOptions
    from repair.progress import Reporter
    from repair.selection import InstallSelection


def check_install(where: InstallSelection, options: CheckOptions, reporter: Reporter) -> Report:
    """The report of the install at ``where``. Bad input (a bad folder, ``--write-constraints``
    without ``--before-install``, an unreadable ``--before-install`` argument) raises
    ``UsageError`` before any check runs."""
    if options.write_constraints and not options.before_install:
        raise UsageError("--write-constraints needs --before-install")
    install = resolve_selection(where)
    if options.before_install is not None:
        # Start-up time: only a check --before-install reads a node's requirements.
        # lazy: start-up time
        from repair.checks.beforeinstall import parse_input

        parse_input(install.dir, options.before_install)
    return check(Context(install, options, reporter=reporter))
