"""A detail walk's checkpoint: one answer a line per event id, the same file rules as the listing's."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from ..exceptions import ConfigurationError
from .files import _NOFOLLOW, _lock, _lock_path, _read_header, _replace_private, _unlock, _write_error, check_path

logger = logging.getLogger("engagifii_data.checkpoint")  # one logger for the package, as before the split

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
