"""Safe file writes: one rule for where a report may be written, and atomic replacement.

The rule (:func:`resolve_target`), used both by the early check (:func:`check_writable`, which the CLI
runs before a long walk) and by the writer (:func:`atomic_write`):

- a folder, or a path under a regular file, cannot be written;
- a **symbolic link** is followed only when the link is owned by the current user or by the owner of
  the folder it sits in (the rule of Linux's ``fs.protected_symlinks``): a link another user planted
  in a shared folder such as ``/tmp`` never redirects a report onto a victim's file;
- a path naming a descriptor this process has open (``/dev/stdout``, which ``-o -`` means,
  ``/dev/stderr``, ``/dev/fd/N``) is written into through that descriptor, as a shell redirection:
  ``>> all.csv`` appends, and the shell's file is never replaced or truncated;
- an existing device, FIFO or socket (a named pipe) is written into, not replaced;
- an existing file in a folder with the sticky bit (``/tmp``) that belongs to another user cannot be
  replaced by us: refused before any work is done;
- anything else is replaced by :func:`engagifii_data.atomic.replace_atomically` (a uniquely named
  temp file created exclusively beside the target, flushed, fsync'ed and moved over the target with
  ``os.replace``; the previous file's mode kept). On any error the temp file is removed and the
  previous file is untouched: a failed export never leaves a half-written report.

Errors are :class:`~engagifii_data.exceptions.ReportNotWritable` (an ``OSError``) naming the path, the
reason and what to do.
"""

from __future__ import annotations

import errno
import io
import os
import re
import stat
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ..atomic import replace_atomically
from ..exceptions import ReportNotWritable
from ..ownership import cannot_replace_reason

#: Report formats by file extension (anything else is CSV).
FORMATS_BY_SUFFIX: dict[str, str] = {".parquet": "parquet", ".pq": "parquet", ".xlsx": "xlsx", ".csv": "csv"}
#: Every report format.
FORMATS: tuple[str, ...] = ("csv", "parquet", "xlsx")


def report_format(path: str | os.PathLike[str] | None, fmt: str | None = None) -> tuple[str, str | None]:
    """The format to write ``path`` in, and a warning when an explicit ``fmt`` contradicts the name.

    Parameters
    ----------
    path : path or None
        The report path (``.parquet``/``.pq`` -> Parquet, ``.xlsx`` -> Excel, anything else CSV).
    fmt : {"csv", "parquet", "xlsx"}, optional
        An explicit choice; it wins over the extension.

    Returns
    -------
    (str, str or None)
        The format, and a warning text or None: an explicit ``fmt`` the name contradicts, or a name
        whose extension names no format (``events.json`` is written as CSV).

    Raises
    ------
    ValueError
        An unknown ``fmt``.
    """
    suffix = Path(path).suffix.lower() if path is not None else ""
    by_name = FORMATS_BY_SUFFIX.get(suffix)
    if fmt is None:
        given = Path(path or "")
        if suffix and by_name is None and (given.is_file() or not given.exists()):
            # `-o events.json` is not JSON: say what it is (an existing device or pipe keeps quiet)
            return "csv", f"writing CSV to {path} (its extension names no report format; .csv, .parquet or .xlsx)"
        return by_name or "csv", None
    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if path is not None and by_name is not None and by_name != fmt:
        return fmt, f"writing {fmt} to {path} (the file name suggests {by_name})"
    return fmt, None


def not_writable(path: str | os.PathLike[str], exc: OSError) -> ReportNotWritable:
    """The :class:`ReportNotWritable` for ``exc`` raised while writing ``path``, with a fitting hint."""
    if isinstance(exc, ReportNotWritable):
        return exc
    code = exc.errno
    if code in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        hint = "free some space or choose another path"
    elif code in (errno.EACCES, errno.EPERM, errno.EROFS):
        hint = "choose a path you can write to"
    elif code in (errno.ENOTDIR, errno.EEXIST, errno.EISDIR):
        hint = "give the path of a file whose folders are folders"
    else:
        hint = "choose another path"
    reason = exc.strerror or str(exc)
    if code == errno.ENOTDIR:
        blocker = next((p for p in Path(path).parents if p.exists() and not p.is_dir()), None)
        if blocker is not None:
            reason = f"{blocker} is a file, not a folder"
    return ReportNotWritable(str(path), reason, errno=code, hint=hint)


@dataclass(frozen=True)
class Target:
    """Where a report will go: the file to replace, or a stream to write into.

    Attributes
    ----------
    path : pathlib.Path
        The file replaced (a symlink's target), or the device/FIFO written into.
    stream : bool
        True for a device, FIFO or socket (written into, cannot be atomic).
    """

    path: Path
    stream: bool
    fd: int | None = None


#: Paths that name an already open file descriptor of this process (``-o -`` is ``/dev/stdout``).
_DESCRIPTOR_PATH = re.compile(r"^/(?:dev/fd|proc/self/fd)/(?P<fd>[0-9]+)$")
_STANDARD_STREAMS = {"/dev/stdin": 0, "/dev/stdout": 1, "/dev/stderr": 2}


def _descriptor(given: Path) -> int | None:
    """The descriptor ``given`` names (``/dev/stdout``, ``/dev/fd/3``), if it names one and it is open.

    Such a path is written into through the descriptor already open, as a shell redirection would: opening
    it again would truncate a file that ``>>`` appends to, and replacing it would put a new file where
    the shell's file was (or beside a deleted one).
    """
    text = str(given)
    match = _DESCRIPTOR_PATH.match(text)
    fd = int(match["fd"]) if match else _STANDARD_STREAMS.get(text)
    if fd is None or os.name != "posix":
        return None
    try:
        os.fstat(fd)
    except OSError:
        return None
    return fd


def _check_descriptor(given: Path, fd: int) -> None:
    import fcntl

    if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDONLY:
        raise ReportNotWritable(
            str(given), "it is open for reading only", errno=errno.EBADF, hint="give a file path or redirect the output"
        )


def resolve_target(path: str | os.PathLike[str]) -> Target:
    """Apply the rule of the module docstring to ``path`` (nothing is created).

    Raises
    ------
    ReportNotWritable
        ``path`` is a folder, a symbolic link owned by another user, or a stream that cannot be
        written.
    """
    given = Path(path)
    fd = _descriptor(given)
    if fd is not None:
        _check_descriptor(given, fd)
        return Target(given, True, fd)
    try:
        link = os.lstat(given)
    except FileNotFoundError:
        return Target(given, False)
    except OSError as exc:
        raise not_writable(given, exc) from None
    if stat.S_ISLNK(link.st_mode):
        _check_link_owner(given, link)
        try:
            kind = os.stat(given).st_mode
        except FileNotFoundError:  # a dangling link: its target is created
            return Target(Path(os.path.realpath(given)), False)
        except OSError as exc:
            raise not_writable(given, exc) from None
    else:
        kind = link.st_mode
    if stat.S_ISDIR(kind):
        raise ReportNotWritable(
            str(given), "it is a folder", errno=errno.EISDIR, hint="give the path of a file, e.g. reports/events.csv"
        )
    if not stat.S_ISREG(kind):  # a device, FIFO or socket (e.g. /dev/stdout -> a pipe): written into
        if not os.access(given, os.W_OK):
            raise ReportNotWritable(
                str(given), "permission denied", errno=errno.EACCES, hint="choose a path you can write to"
            )
        return Target(given, True)
    real = Path(os.path.realpath(given))
    reason = cannot_replace_reason(real)
    if reason is not None:
        raise ReportNotWritable(str(given), reason, errno=errno.EPERM, hint="choose another path")
    return Target(real, False)


def continues_a_file(path: str | os.PathLike[str]) -> bool:
    """Whether a report at ``path`` goes after bytes already there (``-o - >> all.csv``).

    True only for a stream (``-o -``, ``/dev/fd/N``) that is a regular file already holding bytes or
    positioned past its start. A CSV written there carries no BOM: a BOM is a mark for the start of a
    file, and in the middle of one it is a stray character glued to the header's first name.

    Returns
    -------
    bool
        False for a file that is replaced, a pipe, a terminal, or an empty redirected file.
    """
    try:
        target = resolve_target(path)
    except ReportNotWritable:
        return False
    if not target.stream:
        return False
    try:
        if target.fd is not None:
            info = os.fstat(target.fd)
            offset = os.lseek(target.fd, 0, os.SEEK_CUR) if stat.S_ISREG(info.st_mode) else 0
        else:
            info, offset = os.stat(target.path), 0
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and (info.st_size > 0 or offset > 0)


def _check_link_owner(path: Path, link: os.stat_result) -> None:
    if os.name != "posix":
        return
    try:
        folder_owner = os.stat(path.parent if str(path.parent) else Path(".")).st_uid
    except OSError:
        folder_owner = -1
    if link.st_uid in (os.geteuid(), folder_owner):
        return
    raise ReportNotWritable(
        str(path),
        f"it is a symbolic link owned by another user (uid {link.st_uid}) in a folder they do not own; "
        "it is not followed",
        errno=errno.EPERM,
        hint="remove the link or choose another path",
    )


def check_writable(path: str | os.PathLike[str]) -> Target:
    """Prove a report can be written at ``path``, by the writer's own rule (before a long walk).

    Folders are created; a probe file is created exclusively beside the target and removed.

    Raises
    ------
    ReportNotWritable
        As :func:`resolve_target`, or the folder cannot be created or written.
    """
    target = resolve_target(path)
    if target.stream:
        return target
    try:
        _make_parents(target.path)
        fd, probe = tempfile.mkstemp(dir=target.path.parent, prefix=f".{target.path.name}.", suffix=".probe")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise not_writable(path, exc) from None
    return target


def _make_parents(target: Path) -> None:
    for parent in reversed(target.parents):
        if parent.exists() and not parent.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(parent))
    target.parent.mkdir(parents=True, exist_ok=True)


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
    """Write via ``write(binary_file)`` under the rule of the module docstring; return ``path``.

    Raises
    ------
    ReportNotWritable
        The file cannot be written (no space, no permission, a part of the path is a file, a symbolic
        link owned by another user); the temp file is removed and any previous file is untouched.
    """
    target = resolve_target(path)
    if target.stream:
        # The whole report is made in memory first: a writer (a zip archive, a Parquet footer) finishes
        # before the stream is touched, so a reader that goes away (`| head`) breaks one plain write,
        # never a half-closed archive that complains on garbage collection.
        buffer = io.BytesIO()
        write(buffer)
        try:
            if target.fd is not None:
                sys.stdout.flush()  # text printed before the report stays before it
                with os.fdopen(os.dup(target.fd), "wb") as fh:
                    fh.write(buffer.getbuffer())
                return Path(path)
            with open(target.path, "wb") as fh:
                fh.write(buffer.getbuffer())
        except BrokenPipeError:
            raise  # a closed pipe (`| head`): the caller decides, it is not an unwritable report
        except OSError as exc:
            raise not_writable(path, exc) from None
        return Path(path)
    try:
        _make_parents(target.path)
        try:
            mode = target.path.stat().st_mode & 0o777
        except FileNotFoundError:
            mode = 0o666 & ~_umask()
        replace_atomically(target.path, write, mode)
    except OSError as exc:
        raise not_writable(path, exc) from None
    return Path(path)
