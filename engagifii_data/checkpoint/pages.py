"""The listing's checkpoint: one page a line, checksummed, re-checked against a fresh page 1 on resume."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..exceptions import ConfigurationError
from ..pagination import Page
from .files import _NOFOLLOW, _lock, _lock_path, _read_header, _replace_private, _unlock, _write_error, check_path

logger = logging.getLogger("engagifii_data.checkpoint")  # one logger for the package, as before the split

FORMAT = "engagifii-checkpoint"
VERSION = 2


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


def _page_line(page: Page) -> str:
    item = {
        "page": page.number,
        "total": page.total,
        "rows": page.rows,
        "sha256": _checksum(page.number, page.total, page.rows),
    }
    return json.dumps(item, ensure_ascii=False) + "\n"


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
