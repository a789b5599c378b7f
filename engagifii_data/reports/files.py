"""Safe file writes: atomic replacement through a temp file beside the target."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

# --------------------------------------------------------------------------------------------------
# Atomic writes
# --------------------------------------------------------------------------------------------------


def _umask() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[bytes]], None]) -> Path:
    """Write via ``write(binary_file)`` to a temp file beside ``path``, fsync, then ``os.replace``.

    On any error the temp file is removed and an existing file at ``path`` is left untouched.

    * A symbolic link is followed: the file it points to is replaced (atomically, as above) and the
      link stays a link, as editors do. A dangling link gets its target created.
    * An existing device, FIFO or socket (``/dev/stdout``, a named pipe) is not a file that can be
      replaced: the bytes are written straight into it, which cannot be atomic. Replacing it would turn
      ``/dev/null`` into a regular file (as root).

    Raises
    ------
    IsADirectoryError
        ``path`` is a directory.
    OSError
        Any other reason the file cannot be written (no space, no permission, a parent is a file).
    """
    target = Path(path)
    with contextlib.suppress(FileNotFoundError):
        kind = os.stat(target).st_mode  # through links: /dev/stdout -> /proc/self/fd/1 -> a pipe
        if stat.S_ISDIR(kind):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        if not stat.S_ISREG(kind):
            with open(target, "wb") as fh:
                write(fh)
            return target
    if target.is_symlink():  # to a regular file, or dangling
        target = Path(os.path.realpath(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = target.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    with contextlib.suppress(OSError):  # make the rename durable (POSIX); not possible everywhere
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return Path(path)

