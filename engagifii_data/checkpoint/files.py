"""The file rules every checkpoint follows: the path checked first, trust, the lock, private atomic writes."""

from __future__ import annotations

import contextlib
import errno
import json
import os
from pathlib import Path
from typing import IO, Any

from ..atomic import replace_atomically
from ..exceptions import ConfigurationError
from ..ownership import cannot_replace_reason, untrusted_reason

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def check_path(path: str | os.PathLike[str]) -> Path:
    """Check that a checkpoint can live at ``path`` (before any request is sent).

    Raises
    ------
    ConfigurationError
        ``path`` is a folder, a part of it is a file, or its folder cannot be created or written; an
        existing file another user could have written (:mod:`engagifii_data.ownership`), or one in a
        sticky folder that belongs to another user (it could not be replaced).
    """
    p = Path(path)
    if p.is_dir():
        raise ConfigurationError(f"checkpoint {p} is a folder, not a file; give a file path for the checkpoint")
    blocker = next((q for q in p.parents if q.exists() and not q.is_dir()), None)
    if blocker is not None:
        raise ConfigurationError(f"checkpoint {p}: {blocker} is a file, not a folder")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigurationError(f"checkpoint {p}: cannot create its folder: {exc.strerror or exc}") from None
    if not os.access(p.parent, os.W_OK | os.X_OK):
        raise ConfigurationError(f"checkpoint {p}: its folder {p.parent} is not writable")
    if p.exists() and not p.is_file():
        raise ConfigurationError(f"checkpoint {p} is not a regular file")
    if p.is_file():
        _refuse_untrusted(p, p.stat())
        reason = cannot_replace_reason(p)
        if reason is not None:
            raise ConfigurationError(f"checkpoint {p}: {reason}; use another checkpoint path")
    return p


def _refuse_untrusted(path: Path, info: os.stat_result) -> None:
    """A checkpoint another user could have written is never read: its pages would become report rows."""
    reason = untrusted_reason(info)
    if reason is not None:
        raise ConfigurationError(
            f"refusing to read checkpoint {path}: {reason}; its pages could have been written by someone "
            "else. Delete it or use another checkpoint path"
        )


def _write_error(path: Path, exc: OSError) -> ConfigurationError:
    """A checkpoint that cannot be written (mid-walk too) names the checkpoint, never the report."""
    return ConfigurationError(f"checkpoint {path}: cannot write it: {exc.strerror or exc}; use another checkpoint path")


def _replace_private(path: Path, lines: list[str], errors: str) -> None:
    """Replace the checkpoint with ``lines`` (UTF-8), mode 0600, by the package's one atomic writer.

    ``os.replace`` replaces a symbolic link at ``path`` itself: a checkpoint never writes through one.
    """
    data = "".join(lines).encode("utf-8", errors)

    def write(fh: IO[bytes]) -> None:
        fh.write(data)

    try:
        replace_atomically(path, write, 0o600)
    except OSError as exc:
        raise _write_error(path, exc) from None


def _lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


def _lock(path: Path) -> int | None:
    """Take the checkpoint's lock file (non-blocking); ``None`` where ``flock`` does not exist."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no locking
        return None
    lock_path = _lock_path(path)
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | _NOFOLLOW, 0o600)
    except OSError as exc:
        raise ConfigurationError(
            f"checkpoint {path}: cannot create files in {path.parent} ({exc.strerror or exc})"
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise ConfigurationError(
                f"checkpoint {path} is in use by another walk; wait for it to end or use another checkpoint path"
            ) from None
        raise ConfigurationError(f"checkpoint {path}: cannot lock it: {exc.strerror or exc}") from None
    return fd


def _unlock(fd: int | None, remove: Path | None) -> None:
    """Release the lock (closing its descriptor) and, when ``remove`` is given, delete the lock file."""
    if remove is not None:  # also after an earlier release: a completed walk leaves no lock file behind
        with contextlib.suppress(OSError):
            remove.unlink()
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)  # closing the descriptor releases the flock


def _read_header(path: Path, fmt: str, version: int, what: str) -> tuple[dict[str, Any], list[str]]:
    """A checkpoint file's header (format and version checked) and its lines; symlinks not followed."""
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW)
        with os.fdopen(fd, encoding="utf-8", errors="surrogatepass") as fh:
            _refuse_untrusted(path, os.fstat(fh.fileno()))  # the opened file itself: no gap to swap it
            lines = fh.read().splitlines()
    except UnicodeDecodeError:
        raise ConfigurationError(f"{path} is not an engagifii-data {what} (not UTF-8 text)") from None
    except OSError as exc:
        raise ConfigurationError(f"checkpoint {path}: cannot read it: {exc.strerror or exc}") from None
    try:
        header = json.loads(lines[0]) if lines else {}
    except json.JSONDecodeError:
        header = {}
    if not isinstance(header, dict) or header.get("format") != fmt:
        raise ConfigurationError(f"{path} is not an engagifii-data {what}; choose another path")
    if header.get("version") != version:
        raise ConfigurationError(
            f"{what} {path} has format version {header.get('version')!r}, this version reads {version}; "
            "delete it to start the walk over"
        )
    return header, lines
