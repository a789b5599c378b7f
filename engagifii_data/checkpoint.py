"""Resumable walks: every fetched page saved as it arrives, so a rerun fetches only what is missing.

A checkpoint is a JSON-lines file. Line 1 is a header naming what the pages belong to::

    {"format": "engagifii-checkpoint", "version": 1, "tenant": "ACME",
     "filters": {"only_upcoming": false, "search": null}, "page_size": 100, "total": 2400}

and every further line is one page as the API sent it: ``{"page": 3, "total": 2400, "rows": [...]}``.
Lines are appended, flushed and fsync'ed one page at a time, so an interrupted walk (a dropped
network, a killed kernel) loses at most the page being written; a torn last line is ignored.

Rules:

- A checkpoint made for another tenant, other server-side filters or another page size is refused
  with :class:`~engagifii_data.exceptions.ConfigurationError` (its pages would not fit this walk).
- On resume page 1 is always fetched again to re-check the listing. The same total and the same
  ids on page 1: saved pages are reused and only missing pages are fetched. Otherwise the listing
  changed, so the saved pages are discarded and the walk starts over. A file of another format
  version is refused; a damaged line (an interrupted write) is ignored and its page fetched again.
- When the walk completes the checkpoint file is deleted, so the next scheduled run reads fresh
  data instead of yesterday's pages.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .exceptions import ConfigurationError
from .pagination import Page

logger = logging.getLogger(__name__)

FORMAT = "engagifii-checkpoint"
VERSION = 1


class Checkpoint:
    """A checkpoint file for one tenant and one set of server-side filters.

    Use :meth:`open`; the client calls :meth:`start` with a fresh page 1, :meth:`save` for every
    other page, and :meth:`complete` at the end.
    """

    def __init__(self, path: Path, header: dict[str, Any], pages: dict[int, Page]) -> None:
        self.path = path
        self.header = header
        self._pages = pages
        self._lock = threading.Lock()

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
        """Open (or plan to create) the checkpoint at ``path`` for this walk.

        Raises
        ------
        ConfigurationError
            The file belongs to another tenant, other filters or another page size, or is not a
            checkpoint.
        """
        p = Path(path)
        header: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            "tenant": tenant,
            "filters": dict(filters),
            "page_size": page_size,
            "total": None,
        }
        pages: dict[int, Page] = {}
        if p.exists() and not p.is_file():
            raise ConfigurationError(f"checkpoint {p} is not a file; give a file path")
        if p.exists():
            saved_header, pages = _read(p)
            for key, label in (("tenant", "tenant"), ("filters", "filters"), ("page_size", "page size")):
                if saved_header.get(key) != header[key]:
                    raise ConfigurationError(
                        f"checkpoint {p} was made for {label} {saved_header.get(key)!r}, "
                        f"not {header[key]!r}; use another checkpoint path or delete this file"
                    )
            header["total"] = saved_header.get("total")
            logger.info(
                "checkpoint %s: %d saved pages for tenant %s (page 1 is fetched again to re-check the total)",
                p, len(pages), tenant,
            )
        return cls(p, header, pages)

    def pages(self) -> dict[int, Page]:
        """Pages saved so far, by page number."""
        with self._lock:
            return dict(self._pages)

    def start(self, first: Page) -> dict[int, Page]:
        """Record a fresh page 1 and return the saved pages still valid for its total."""
        with self._lock:
            saved_first = self._pages.get(1)
            same_front = saved_first is not None and saved_first.ids == first.ids
            if self.header.get("total") == first.total and same_front:
                reusable = {n: p for n, p in self._pages.items() if n != 1 and p.total == first.total}
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
        """Append one page (flushed and fsync'ed)."""
        with self._lock:
            self._pages[page.number] = page
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(_page_line(page))
                fh.flush()
                os.fsync(fh.fileno())

    def reset(self) -> None:
        """Forget every saved page (the listing changed; the walk starts over)."""
        with self._lock:
            self._pages = {}
            self.header["total"] = None

    def complete(self) -> None:
        """The walk finished: delete the checkpoint file."""
        with self._lock:
            self.path.unlink(missing_ok=True)

    def _rewrite(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write(json.dumps(self.header, ensure_ascii=False) + "\n")
            for number in sorted(self._pages):
                fh.write(_page_line(self._pages[number]))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)


def _page_line(page: Page) -> str:
    return json.dumps({"page": page.number, "total": page.total, "rows": page.rows}, ensure_ascii=False) + "\n"


def _read(path: Path) -> tuple[dict[str, Any], dict[int, Page]]:
    try:
        with path.open(encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except UnicodeDecodeError:
        raise ConfigurationError(f"{path} is not an engagifii-data checkpoint (not UTF-8 text)") from None
    try:
        header = json.loads(lines[0]) if lines else {}
    except json.JSONDecodeError:
        header = {}
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ConfigurationError(f"{path} is not an engagifii-data checkpoint; choose another path")
    if header.get("version") != VERSION:
        raise ConfigurationError(
            f"checkpoint {path} has format version {header.get('version')!r}, this version reads {VERSION}; "
            "delete it to start the walk over"
        )
    pages: dict[int, Page] = {}
    for line in lines[1:]:
        try:
            item = json.loads(line)
            rows = item["rows"]
            if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
                raise TypeError("rows must be a list of objects")
            pages[int(item["page"])] = Page(int(item["page"]), rows, int(item["total"]))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            logger.warning("checkpoint %s: ignoring a damaged line (an interrupted write)", path)
    return header, pages
