"""Concurrent fetching for the walks: a bounded, ordered prefetch window, and rows converted in batches.

:class:`Prefetcher` fetches pages (or event details) on worker threads and hands them back in plan
order; :class:`BatchedFrames` converts the rows accepted to typed frames in batches of about 1,000 while
the walk waits. Both know nothing of HTTP.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Generic, TypeVar

import pandas as pd

from ..frames import FrameBuilder

__all__ = ["BatchedFrames", "Prefetcher"]

K = TypeVar("K")
T = TypeVar("T")


class Prefetcher(Generic[K, T]):
    """Fetches items on worker threads, keeping up to ``ahead`` requested beyond the one consumed.

    Finished requests top the window up from the worker threads themselves, so converting rows on the
    caller's thread never leaves the connections idle; at most ``ahead`` results wait to be consumed
    (bounded memory). Results are taken in plan order with :meth:`result`. ``keys`` (page numbers,
    event ids) must be distinct; it may be a ``range``: nothing is built per planned page.
    """

    def __init__(self, fetch: Callable[[K], T], keys: Sequence[K], *, workers: int, ahead: int) -> None:
        self._fetch = fetch
        self._keys = keys
        self._ahead = max(1, ahead)
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="engagifii-fetch")
        self._futures: dict[K, Future[T]] = {}
        self._lock = threading.RLock()
        self._next = 0
        self._consumed = 0
        self._closed = False
        self._fill()

    def _fill(self, _done: object = None) -> None:
        with self._lock:
            while not self._closed and self._next < len(self._keys) and self._next < self._consumed + self._ahead:
                key = self._keys[self._next]
                self._next += 1
                future = self._executor.submit(self._fetch, key)
                self._futures[key] = future
                future.add_done_callback(self._fill)

    def ready(self, index: int) -> bool:
        """Whether the item at ``index`` of the plan is fetched (or failed), so :meth:`result` won't block."""
        with self._lock:
            future = self._futures.get(self._keys[index]) if index < len(self._keys) else None
        return future is not None and future.done()

    def result(self, index: int) -> T:
        """The item at ``index`` of the plan (blocks until fetched; re-raises its error)."""
        with self._lock:
            self._consumed = index
            self._fill()
            future = self._futures.pop(self._keys[index])
        return future.result()

    def stop(self) -> None:
        """Send nothing more: cancel the requests not started (those in flight finish on their own)."""
        with self._lock:
            self._closed = True
            for future in self._futures.values():
                future.cancel()
            self._futures.clear()

    def close(self) -> None:
        """:meth:`stop`, then wait for the requests in flight."""
        self.stop()
        self._executor.shutdown(wait=True, cancel_futures=True)


class BatchedFrames:
    """A :class:`FrameBuilder` fed in batches of about ``batch_rows`` rows instead of page by page.

    Converting costs a fixed overhead per batch (one array per column, one localisation per time
    zone), so pages are collected and converted together; at most ``batch_rows`` raw rows (plus one
    page) are held at a time, and :meth:`build` converts what is pending first.
    """

    def __init__(self, batch_rows: int = 1000) -> None:
        self._builder = FrameBuilder(copy_lists=False)  # the walk owns the decoded pages
        self._pending: list[dict[str, Any]] = []
        self._batch_rows = batch_rows

    def add(self, rows: Sequence[dict[str, Any]]) -> None:
        """Hold ``rows``; convert the held rows once there are ``batch_rows`` of them."""
        self._pending.extend(rows)
        if len(self._pending) >= self._batch_rows:
            self.flush()

    def flush(self, min_rows: int = 1) -> None:
        """Convert the pending rows now if there are at least ``min_rows`` of them."""
        if len(self._pending) >= max(1, min_rows):
            pending, self._pending = self._pending, []
            self._builder.add(pending)

    def build(self) -> pd.DataFrame:
        """The frame of every row added, in order."""
        self.flush()
        return self._builder.build()
