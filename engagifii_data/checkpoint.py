"""Resumable walks: every fetched page saved as it arrives, so a rerun fetches only what is missing.

A checkpoint is a JSON-lines file. Line 1 is a header naming what the pages belong to::

    {"format": "engagifii-checkpoint", "version": 2, "tenant": "ACME",
     "filters": {"only_upcoming": false, "search": null}, "page_size": 100, "total": 2400}

and every further line is one page as the API sent it, with a checksum of its content::

    {"page": 3, "total": 2400, "rows": [...], "sha256": "..."}

Lines are appended, flushed and fsync'ed one page at a time, so an interrupted walk (a dropped
network, a killed kernel) loses at most the page being written; a torn last line is ignored.

Rules:

- **Private and exclusive.** The file is created with mode 0600 through a uniquely named temp file
  beside it (never a fixed ``.tmp`` name a symlink could be planted at), and appended to without
  following symlinks. While a walk uses it, ``<name>.lock`` is locked (``flock``): a second walk on
  the same checkpoint gets a :class:`ConfigurationError` naming it, at once.
- **Checked first.** The path is checked when the walk starts, before any request: a folder, a path
  under a file or an unwritable folder is a :class:`ConfigurationError` naming the checkpoint; so is
  a write that fails later in the walk.
- **Yours only.** An existing checkpoint is read only when no other user could have written it (owned
  by you or root, not writable by others: :mod:`engagifii_data.ownership`, the rule ``.env`` files
  follow), and not when it sits in a sticky folder such as ``/tmp`` owned by someone else.
- **Trusted only when intact.** A page whose checksum does not match its content (edited or damaged
  on disk) is ignored and fetched again; so is a damaged line. A file of another format version, or
  made for another tenant, other server-side filters or another page size, is refused.
- **Re-checked.** On resume page 1 is always fetched again. The same total and the same ids on page 1:
  saved pages are reused and only missing pages are fetched. Otherwise the listing changed, so the
  saved pages are discarded and the walk starts over.
- **Gone when done.** When the walk completes the checkpoint (and its lock file) is deleted, so the
  next scheduled run reads fresh data instead of yesterday's pages.

Detail walks save their answers in a sibling file with the same rules (:class:`DetailCheckpoint`,
``walk.jsonl`` -> ``walk.details.jsonl``): one line per event id, a 404 saved as ``null``.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from .atomic import replace_atomically
from .exceptions import ConfigurationError
from .ownership import cannot_replace_reason, untrusted_reason
from .pagination import Page

logger = logging.getLogger(__name__)

FORMAT = "engagifii-checkpoint"
VERSION = 2
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _checksum(number: int, total: int | None, rows: Any) -> str:
    canonical = json.dumps(
        {"page": number, "total": total, "rows": rows}, sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def _shown(value: Any) -> str:
    """A header value in words: filters as ``name=value`` of those set (``none``), others as repr."""
    if isinstance(value, dict):
        return ", ".join(f"{k}={v!r}" for k, v in value.items() if v not in (None, False, "", [])) or "none"
    return repr(value)


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


class Checkpoint:
    """A checkpoint file for one tenant and one set of server-side filters, locked while open.

    Use :meth:`open`; the walk calls :meth:`start` with a fresh page 1, :meth:`save` for every other
    page, :meth:`complete` at the end of a complete walk and :meth:`release` in any case.
    """

    def __init__(self, path: Path, header: dict[str, Any], pages: dict[int, Page], lock_fd: int | None) -> None:
        self.path = path
        self.header = header
        self._pages = pages
        self._lock = threading.Lock()
        self._lock_fd = lock_fd

    def __repr__(self) -> str:
        return f"Checkpoint({str(self.path)!r}, tenant={self.header.get('tenant')!r}, pages={len(self._pages)})"

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        tenant: str,
        filters: Mapping[str, Any],
        page_size: int,
    ) -> Checkpoint:
        """Check, lock and read (or plan to create) the checkpoint at ``path`` for this walk.

        Raises
        ------
        ConfigurationError
            The path cannot hold a checkpoint; another walk is using it; the file belongs to another
            tenant, other filters or another page size, or is not a checkpoint of this version.
        """
        p = check_path(path)
        header: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            "tenant": tenant,
            "filters": dict(filters),
            "page_size": page_size,
            "total": None,
        }
        lock_fd = _lock(p)
        try:
            pages: dict[int, Page] = {}
            if p.exists():
                saved_header, pages = _read(p)
                for key, label in (("tenant", "tenant"), ("filters", "server filters"), ("page_size", "page size")):
                    if saved_header.get(key) != header[key]:
                        was, now = (_shown(saved_header.get(key)), _shown(header[key]))
                        raise ConfigurationError(
                            f"checkpoint {p} was made for {label} {was}, not {now}; "
                            "use another checkpoint path or delete this file"
                        )
                header["total"] = saved_header.get("total")
                logger.info(
                    "checkpoint %s: %d saved pages for tenant %s (page 1 is fetched again to re-check the total)",
                    p,
                    len(pages),
                    tenant,
                )
        except BaseException:
            _unlock(lock_fd, None)
            raise
        return cls(p, header, pages, lock_fd)

    @property
    def saved_pages(self) -> int:
        """Pages held in the checkpoint now (page 1 included)."""
        with self._lock:
            return len(self._pages)

    def start(self, first: Page) -> dict[int, Page]:
        """Record a fresh page 1 and return the saved pages still valid for its total."""
        with self._lock:
            saved_first = self._pages.get(1)
            same_front = saved_first is not None and saved_first.keys == first.keys
            if self.header.get("total") == first.total and same_front:
                reusable = {n: p for n, p in self._pages.items() if n != 1 and p.total in (None, first.total)}
                logger.info("checkpoint %s: resuming with %d saved pages", self.path, len(reusable))
            else:
                if self._pages:
                    logger.info(
                        "checkpoint %s: the listing changed (total %s -> %s%s), starting over",
                        self.path,
                        self.header.get("total"),
                        first.total,
                        "" if same_front else ", page 1 differs",
                    )
                reusable = {}
            self.header["total"] = first.total
            self._pages = {1: first, **reusable}
            self._rewrite()
            return dict(reusable)

    def save(self, page: Page) -> None:
        """Append one page (flushed and fsync'ed; symlinks not followed)."""
        line = _page_line(page)
        with self._lock:
            self._pages[page.number] = page
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | _NOFOLLOW)
                with os.fdopen(fd, "a", encoding="utf-8") as fh:
                    fh.write(line)
                    fh.flush()
                    os.fsync(fh.fileno())
            except OSError as exc:
                raise _write_error(self.path, exc) from None

    def reset(self) -> None:
        """Forget every saved page (the listing changed; the walk starts over)."""
        with self._lock:
            self._pages = {}
            self.header["total"] = None

    def complete(self) -> None:
        """The walk finished: delete the checkpoint file and its lock file."""
        with self._lock:
            self.path.unlink(missing_ok=True)
            fd, self._lock_fd = self._lock_fd, None
        _unlock(fd, _lock_path(self.path))

    def release(self) -> None:
        """Let another walk use the checkpoint (the file stays, for a later resume)."""
        with self._lock:
            fd, self._lock_fd = self._lock_fd, None
        _unlock(fd, None)

    def _rewrite(self) -> None:
        lines = [json.dumps(self.header, ensure_ascii=False) + "\n"]
        lines += [_page_line(self._pages[number]) for number in sorted(self._pages)]
        _replace_private(self.path, lines, "strict")


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


def _page_line(page: Page) -> str:
    item = {
        "page": page.number,
        "total": page.total,
        "rows": page.rows,
        "sha256": _checksum(page.number, page.total, page.rows),
    }
    return json.dumps(item, ensure_ascii=False) + "\n"


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


def _read(path: Path) -> tuple[dict[str, Any], dict[int, Page]]:
    header, lines = _read_header(path, FORMAT, VERSION, "checkpoint")
    pages: dict[int, Page] = {}
    for line in lines[1:]:
        try:
            item = json.loads(line)
            rows = item["rows"]
            number = int(item["page"])
            total = item["total"] if item["total"] is None else int(item["total"])
            if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
                raise TypeError("rows must be a list of objects")
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            logger.warning("checkpoint %s: ignoring a damaged line (an interrupted write)", path)
            continue
        if item.get("sha256") != _checksum(number, total, rows):
            logger.warning("checkpoint %s: page %d does not match its checksum; it will be fetched again", path, number)
            continue
        pages[number] = Page(number, rows, total)
    return header, pages


# --------------------------------------------------------------------------------------------------
# Detail walks: the same file rules, one line per event
# --------------------------------------------------------------------------------------------------

DETAIL_FORMAT = "engagifii-detail-checkpoint"
DETAIL_VERSION = 1
#: Saved detail lines are fsync'ed at least this often (lines, seconds); a crash loses at most those.
_SYNC_LINES, _SYNC_SECONDS = 32, 0.25


def detail_checkpoint_path(path: str | os.PathLike[str]) -> Path:
    """Where a walk's details are saved beside its listing checkpoint: ``walk.jsonl`` -> ``walk.details.jsonl``."""
    p = Path(path)
    return p.with_name(f"{p.stem}.details{p.suffix or '.jsonl'}")


def _detail_checksum(event_id: str, detail: Any) -> str:
    canonical = json.dumps(
        {"id": event_id, "detail": detail}, sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def _detail_line(event_id: str, detail: dict[str, Any] | None) -> str:
    item = {"id": event_id, "detail": detail, "sha256": _detail_checksum(event_id, detail)}
    return json.dumps(item, ensure_ascii=False) + "\n"


class DetailCheckpoint:
    """The detail answers of one tenant's detail walk, saved as they arrive (a sibling of :class:`Checkpoint`).

    The same rules as a listing checkpoint (private, locked, checksummed, checked before any request,
    deleted when the walk completes); the format differs: a header
    ``{"format": "engagifii-detail-checkpoint", "version": 1, "tenant": "ACME"}``, then one line per
    event, ``{"id": ..., "detail": {...} or null, "sha256": ...}`` (``null``: the event was gone,
    HTTP 404). Lines are flushed as they arrive and fsync'ed in groups (every 32 lines or quarter
    second, and when the walk ends): a crash loses at most the last group, which a rerun fetches again.
    A saved detail is reused by a rerun whatever the listing then says (details are keyed by event id).
    """

    def __init__(self, path: Path, tenant: str, details: dict[str, dict[str, Any] | None], lock_fd: int | None):
        self.path = path
        self.tenant = tenant
        self._details = details
        self._lock = threading.Lock()
        self._lock_fd = lock_fd
        self._fd: int | None = None
        self._unsynced = 0
        self._synced_at = time.monotonic()

    def __repr__(self) -> str:
        return f"DetailCheckpoint({str(self.path)!r}, tenant={self.tenant!r}, details={len(self._details)})"

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, tenant: str) -> DetailCheckpoint:
        """Check, lock and read the detail checkpoint at ``path``, rewritten without damaged lines.

        Raises
        ------
        ConfigurationError
            The path cannot hold a checkpoint; another walk is using it; the file belongs to another
            tenant or is not a detail checkpoint of this version.
        """
        p = check_path(path)
        lock_fd = _lock(p)
        try:
            details = _read_details(p, tenant) if p.exists() else {}
            if details:
                logger.info("checkpoint %s: %d saved details for tenant %s", p, len(details), tenant)
            store = cls(p, tenant, details, lock_fd)
            store._rewrite()
        except BaseException:
            _unlock(lock_fd, None)
            raise
        return store

    def saved(self) -> dict[str, dict[str, Any] | None]:
        """The saved answers: event id -> the detail, or None for an event that was gone (404)."""
        with self._lock:
            return dict(self._details)

    def save(self, event_id: str, detail: dict[str, Any] | None) -> None:
        """Append one answer (flushed now, fsync'ed with its group)."""
        line = _detail_line(event_id, detail).encode("utf-8", "surrogatepass")
        with self._lock:
            try:
                if self._fd is None:
                    self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | _NOFOLLOW)
                os.write(self._fd, line)
            except OSError as exc:
                raise _write_error(self.path, exc) from None
            self._details[event_id] = detail
            self._unsynced += 1
            now = time.monotonic()
            if self._unsynced >= _SYNC_LINES or now - self._synced_at >= _SYNC_SECONDS:
                os.fsync(self._fd)
                self._unsynced, self._synced_at = 0, now

    def complete(self) -> None:
        """The walk finished: delete the file and its lock file."""
        with self._lock:
            self._close()
            self.path.unlink(missing_ok=True)
            fd, self._lock_fd = self._lock_fd, None
        _unlock(fd, _lock_path(self.path))

    def release(self) -> None:
        """Sync what was saved and let another walk use the file (it stays, for a later resume)."""
        with self._lock:
            self._close()
            fd, self._lock_fd = self._lock_fd, None
        _unlock(fd, None)

    def _close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def _rewrite(self) -> None:
        header = {"format": DETAIL_FORMAT, "version": DETAIL_VERSION, "tenant": self.tenant}
        lines = [json.dumps(header, ensure_ascii=False) + "\n"]
        lines += [_detail_line(event_id, detail) for event_id, detail in self._details.items()]
        _replace_private(self.path, lines, "surrogatepass")


def _read_details(path: Path, tenant: str) -> dict[str, dict[str, Any] | None]:
    header, lines = _read_header(path, DETAIL_FORMAT, DETAIL_VERSION, "detail checkpoint")
    if header.get("tenant") != tenant:
        raise ConfigurationError(
            f"checkpoint {path} was made for tenant {header.get('tenant')!r}, not {tenant!r}; "
            "use another checkpoint path or delete this file"
        )
    details: dict[str, dict[str, Any] | None] = {}
    for line in lines[1:]:
        try:
            item = json.loads(line)
            event_id, detail = item["id"], item["detail"]
            if not isinstance(event_id, str) or not (detail is None or isinstance(detail, dict)):
                raise TypeError("id must be text and detail an object or null")
        except (json.JSONDecodeError, KeyError, TypeError):
            logger.warning("checkpoint %s: ignoring a damaged line (an interrupted write)", path)
            continue
        if item.get("sha256") != _detail_checksum(event_id, detail):
            logger.warning("checkpoint %s: the detail of %s does not match its checksum; fetched again", path, event_id)
            continue
        details[event_id] = detail
    return details
