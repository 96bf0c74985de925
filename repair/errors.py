"""One exception base, mapped to the contract's exit codes by the CLI's single handler."""

from __future__ import annotations


class ExitCode:
    OK = 0
    PROBLEMS = 1
    USAGE = 2
    RESTART = 3
    ROLLED_BACK = 4
    ROLLBACK_FAILED = 5
    BUSY = 6


class RepairError(Exception):
    """A failure the user can act on. Printed as one line; never a traceback."""

    exit_code = ExitCode.USAGE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(RepairError):
    """Bad usage or unusable input (exit 2)."""

    exit_code = ExitCode.USAGE


class BusyError(RepairError):
    """Another repair holds the lock, or the application is running (exit 6)."""

    exit_code = ExitCode.BUSY


class RolledBackError(RepairError):
    """The repair failed and everything was put back as it was (exit 4)."""

    exit_code = ExitCode.ROLLED_BACK


class RollbackFailedError(RepairError):
    """The repair failed and so did the rollback (exit 5): the message names the backup."""

    exit_code = ExitCode.ROLLBACK_FAILED


class PreflightError(RepairError):
    """The package index cannot provide what a rebuild or install needs: nothing was changed
    (exit 1; ``--force`` goes on anyway)."""

    exit_code = ExitCode.PROBLEMS


class ProcessError(RepairError):
    """A subprocess could not be started, timed out, or failed."""

    exit_code = ExitCode.PROBLEMS

    def __init__(
        self,
        message: str,
        *,
        returncode: int | None = None,
        output: str = "",
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.returncode = returncode
        self.output = output
