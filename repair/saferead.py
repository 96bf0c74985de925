"""Reading files the tool does not control (metadata, manifests, archives, records): only a
regular file is opened, so that a FIFO or a device named like one can never block a check or
a repair. The other side of ``fsops``, which holds everything that writes or deletes."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path


def open_regular(path: Path | str) -> int:
    """Open ``path`` for reading only if it is a regular file (links followed): a FIFO or a
    device named like a metadata file would block or never end. Returns the descriptor;
    raises ``OSError`` ("not a regular file") without blocking."""
    flags = (
        os.O_RDONLY
        | getattr(os, "O_NONBLOCK", 0)
        | getattr(os, "O_NOCTTY", 0)
        | getattr(os, "O_BINARY", 0)
    )
    fd = os.open(path, flags)
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "is a folder", str(path))
        if not stat.S_ISREG(mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        if flags & getattr(os, "O_NONBLOCK", 0):
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_regular(path: Path | str) -> bytes:
    """The bytes of a regular file (see ``open_regular``)."""
    with os.fdopen(open_regular(path), "rb") as f:
        return f.read()


def read_regular_text(path: Path | str, errors: str = "strict") -> str:
    return read_regular(path).decode("utf-8", errors=errors)
