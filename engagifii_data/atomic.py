"""One atomic file replacement, used by every writer of this package (reports and checkpoints).

:func:`replace_atomically` writes through a uniquely named temp file created exclusively beside the
target (``mkstemp``: no fixed ``.tmp`` name to plant a symbolic link at), flushes and fsyncs it, gives
it its mode, moves it over the target with ``os.replace`` (which replaces a symbolic link itself,
never the file it points to) and fsyncs the folder. On any error the temp file is removed and the
previous file is untouched. Which paths may be written is the callers' rule
(:func:`engagifii_data.reports.files.resolve_target` for reports, ``checkpoint.check_path``).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

__all__ = ["replace_atomically"]


def replace_atomically(path: Path, write: Callable[[IO[bytes]], None], mode: int) -> None:
    """Replace ``path`` with what ``write(binary_file)`` writes, all or nothing.

    Parameters
    ----------
    path : pathlib.Path
        The file to create or replace; its folder must exist.
    write : callable
        Writes the whole content into the binary file it is given.
    mode : int
        The permission bits of the new file (e.g. ``0o600`` for a private checkpoint).

    Raises
    ------
    OSError
        From the file system (no space, no permission ...), or whatever ``write`` raises; the temp
        file is removed and ``path`` is as it was.
    """
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    with contextlib.suppress(OSError):  # make the rename durable (POSIX); not possible everywhere
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
