"""The concurrent walk of one tenant's listing: every page, or a clear account of what is missing.

The walk knows nothing of HTTP: it is given a *page fetcher* (``fetch(number, hooks) -> Page``) and an
:class:`~engagifii_data.query.EventQuery` for one tenant, and returns the typed frame with its
:class:`~engagifii_data.reports.WalkReport` in ``attrs``. The client passes a fetcher that sends the
list request; the tests pass fakes.

How a walk goes:

1. Page 1 gives the total; the plan is ``ceil(total / page size)`` pages (the page rules are in
   :mod:`engagifii_data.pagination`).
2. Pages 2..P are requested by ``workers`` threads (:class:`Prefetcher`), at most ``4 x workers``
   ahead of the page being accepted, and accepted in page order; rows are converted to typed
   batches while the walk waits (:class:`BatchedFrames`).
3. If the listing changed during the walk (another total, or unique rows short of it), it is read
   once more; a listing that still does not settle gives :class:`IncompleteWalkError` naming both
   totals.
4. A page that cannot be fetched stops the walk: requests not yet sent are dropped first, then the
   rows so far become the ``.partial`` frame of :class:`IncompleteWalkError` (marked incomplete, with
   the missing pages). With a checkpoint every page is saved as it arrives, so a rerun fetches only
   what is missing.
5. ``cancel`` (a :class:`threading.Event`) is polled before every request and during every wait,
   page 1 included: a cancelled walk ends at once, the requests in flight cut off (not saved).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..checkpoint import Checkpoint
from ..exceptions import EngagifiiError, IncompleteWalkError, PaginationError, StopRequested
from ..frames import COERCED_ATTR, NAIVE_DATETIMES_ATTR
from ..pacing import AdaptiveConcurrency
from ..pagination import Page, WalkState
from ..query import EventQuery
from ..reports.walk_report import WalkReport
from ..transport import RequestHooks, Stats
from .prefetch import BatchedFrames, Prefetcher
from .progress import ProgressArg, ProgressReporter

logger = logging.getLogger(__name__)

__all__ = ["PageFetcher", "walk_listing"]

#: Fetches one page: ``fetch(page_number, hooks) -> Page`` (raises EngagifiiError, StopRequested).
PageFetcher = Callable[[int, RequestHooks], Page]


@dataclass
class _Pass:
    """One read of the listing: its page state, its frame, its concurrency gate, resumed pages."""

    state: WalkState
    frame: pd.DataFrame | None  # None until the pass ends (or fails)
    gate: AdaptiveConcurrency
    resumed: list[int] = field(default_factory=list)


class _PassFailed(Exception):
    def __init__(self, reason: str, cause: BaseException | None, result: _Pass, missing: Sequence[int]) -> None:
        super().__init__(reason)
        self.reason = reason
        self.cause = cause
        self.result = result
        self.missing = missing


def walk_listing(
    fetch: PageFetcher,
    query: EventQuery,
    *,
    stats: Stats | None = None,
    workers: int = 4,
    progress: ProgressArg = None,
    cancel: threading.Event | None = None,
    checkpoint: str | Path | None = None,
    allow_incomplete: bool = False,
) -> pd.DataFrame:
    """Walk every page of one tenant's listing into a typed frame.

    Parameters
    ----------
    fetch : callable
        ``fetch(page_number, hooks) -> Page``; ``hooks`` carry the concurrency gate, the stop signal
        and the retry callback that every request of the walk must honour.
    query : EventQuery
        One tenant (``query.tenant``), the filters and the page size.
    stats : Stats, optional
        The session's counters; the report's ``requests``/``retries`` are their growth during the walk.
    workers : int
        Concurrent page requests after page 1 (default 4; 1 = sequential).
    progress : bool, callable or None
        See :class:`ProgressReporter`.
    cancel : threading.Event, optional
        When set, the walk stops at once; requests in flight are cut off (their answers are not kept).
    checkpoint : path, optional
        A file where every page is saved as it arrives (:class:`~engagifii_data.checkpoint.Checkpoint`).
    allow_incomplete : bool
        Return a partial frame (marked incomplete) instead of raising, except when the server's
        paging itself cannot be followed (default False).

    Returns
    -------
    pandas.DataFrame
        The declared columns and dtypes (``engagifii_data.frames.EVENT_COLUMNS``), the client-side
        filters applied, ``attrs["engagifii"]`` written from the :class:`WalkReport`.

    Raises
    ------
    IncompleteWalkError
        A page could not be fetched, the walk was cancelled, or the listing did not settle; its
        ``.partial`` holds the rows fetched.
    PaginationError
        Page 1 is unusable (no envelope, an absurd total).
    EngagifiiError
        Page 1 could not be fetched (authentication, API or network errors after retries).
    """
    walk = _ListingWalk(fetch, query, stats, workers, cancel, allow_incomplete)
    store = (
        Checkpoint.open(checkpoint, tenant=query.tenant, filters=query.server_filters, page_size=query.page_size)
        if checkpoint is not None
        else None
    )
    bar = ProgressReporter(progress, query.tenant)
    try:
        return walk.run(store, bar)
    finally:
        bar.close()
        if store is not None:
            store.release()


class _ListingWalk:
    """One tenant's walk: passes over the listing until it settles (at most two), then its report."""

    def __init__(
        self,
        fetch: PageFetcher,
        query: EventQuery,
        stats: Stats | None,
        workers: int,
        cancel: threading.Event | None,
        allow_incomplete: bool,
    ) -> None:
        self.fetch, self.query, self.stats, self.workers = fetch, query, stats, workers
        self.cancel, self.allow_incomplete = cancel, allow_incomplete
        self.started = time.monotonic()
        self.fetched_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        self.before = stats.snapshot() if stats is not None else {}

    def run(self, store: Checkpoint | None, bar: ProgressReporter) -> pd.DataFrame:
        """Read the listing (once more if it changed meanwhile) into the frame, or raise incomplete."""
        try:
            result = _PassReader(self.fetch, self.query, self.workers, bar, self.cancel, store).read()
            if not result.state.settled:
                return self._read_again(result, store, bar)
        except _PassFailed as failed:
            return self._failed(failed, store)
        frame = self.finish(result, complete=True)
        if store is not None:
            store.complete()
        return frame

    def _read_again(self, result: _Pass, store: Checkpoint | None, bar: ProgressReporter) -> pd.DataFrame:
        first_totals = list(result.state.totals_seen)
        logger.warning(
            "tenant %s: listing changed during the walk (totals %s, %d unique rows); reading it once more",
            self.query.tenant,
            first_totals,
            result.state.collected,
        )
        if store is not None:
            store.reset()
        result = _PassReader(self.fetch, self.query, self.workers, bar, self.cancel, store).read()
        if result.state.settled:
            frame = self.finish(result, complete=True)
            if store is not None:
                store.complete()
            return frame
        totals = first_totals + [t for t in result.state.totals_seen if t not in first_totals]
        reason = (
            f"the listing did not settle: total counts {totals} reported during the walk, "
            f"{result.state.collected} unique events collected"
        )
        frame = self.finish(result, complete=False, totals=totals)
        if self.allow_incomplete:
            logger.warning("tenant %s: %s", self.query.tenant, reason)
            return frame
        raise IncompleteWalkError(None, reason, partial=frame)

    def _failed(self, failed: _PassFailed, store: Checkpoint | None) -> pd.DataFrame:
        missing = list(failed.missing)
        frame = self.finish(failed.result, complete=False, missing=missing)
        if self.allow_incomplete and not isinstance(failed.cause, PaginationError):
            return frame
        raise IncompleteWalkError(
            missing[0] if missing else None,
            failed.reason,
            partial=frame,
            cause=failed.cause,
            missing_pages=missing,
            checkpoint=str(store.path) if store is not None else None,
            saved_pages=store.saved_pages if store is not None else None,
        ) from failed.cause

    def finish(
        self, result: _Pass, *, complete: bool, missing: Sequence[int] = (), totals: Sequence[int] = ()
    ) -> pd.DataFrame:
        """The client-filtered frame of a pass, its :class:`WalkReport` attached."""
        assert result.frame is not None
        fetched = result.frame
        df = self.query.apply(fetched)
        report = self._report(result, fetched, df, complete=complete, missing=missing, totals=totals)
        report.attach(df)
        logger.info(
            "walk tenant %s: %d pages, %d rows (total %d), %d duplicates, %d retries, %.2f s%s",
            self.query.tenant,
            report.pages,
            report.rows_fetched,
            report.total_count,
            report.duplicates,
            report.retries,
            report.seconds,
            "" if complete else " INCOMPLETE",
        )
        return df

    def _report(
        self,
        result: _Pass,
        fetched: pd.DataFrame,
        df: pd.DataFrame,
        *,
        complete: bool,
        missing: Sequence[int],
        totals: Sequence[int],
    ) -> WalkReport:
        after = self.stats.snapshot() if self.stats is not None else {}
        state, gate, query = result.state, result.gate, self.query
        return WalkReport(
            tenants=(query.tenant,),
            total_count=state.total,
            complete=complete,
            fetched_at=self.fetched_at,
            pages=len(state.pages_done),
            planned_pages=state.planned_pages,
            page_size=state.page_size,
            requests=after.get("http_requests", 0) - self.before.get("http_requests", 0),
            retries=after.get("retries", 0) - self.before.get("retries", 0),
            duplicates=state.duplicates,
            rows_fetched=len(fetched),
            rows=len(df),
            totals_seen=tuple(totals or state.totals_seen),
            missing_pages=tuple(missing),
            resumed_pages=len(result.resumed),
            seconds=round(time.monotonic() - self.started, 3),
            server_filters=query.server_filters,
            client_filters=query.client_filters,
            naive_datetimes=dict(fetched.attrs.get(NAIVE_DATETIMES_ATTR) or {}),
            coerced=dict(fetched.attrs.get(COERCED_ATTR) or {}),
            repaired_text=state.repaired,
            concurrency={
                "start": gate.start,
                "final": gate.limit,
                "ceiling": gate.ceiling,
                "throttled": gate.throttled,
            },
        )


class _PassReader:
    """One pass over the listing, pages in order; a failure raises :class:`_PassFailed` with the rows so far."""

    def __init__(
        self,
        fetch: PageFetcher,
        query: EventQuery,
        workers: int,
        bar: ProgressReporter,
        cancel: threading.Event | None,
        store: Checkpoint | None,
    ) -> None:
        self.fetch, self.query, self.workers, self.bar, self.cancel, self.store = (
            fetch,
            query,
            workers,
            bar,
            cancel,
            store,
        )
        self.gate = AdaptiveConcurrency(workers)
        # set when the pass ends for any reason (an error, Ctrl-C): requests still in flight skip their
        # remaining retries instead of keeping the caller waiting for their backoff
        self.abort = threading.Event()
        self.hooks = RequestHooks(gate=self.gate, stop=self._stop, on_retry=bar.retrying)
        self.builder = BatchedFrames()
        self.prefetch: Prefetcher[int, Page] | None = None
        self.saved: dict[int, Page] = {}

    def _stop(self) -> bool:
        return self.abort.is_set() or (self.cancel is not None and self.cancel.is_set())

    def read(self) -> _Pass:
        """Page 1, then pages 2..P (concurrently when ``workers`` > 1), then one page past the plan if short."""
        state, first_rows = self._first()
        self.result = _Pass(state, None, self.gate)
        pages = state.remaining_pages()
        try:
            if self.workers > 1 and len(pages):
                self.prefetch = Prefetcher(self._get, pages, workers=self.workers, ahead=self.workers * 4)
            self.builder.add(first_rows)  # after the requests for pages 2.. are on their way
            for index, number in enumerate(pages):
                if self.cancel is not None and self.cancel.is_set():
                    raise self._failed("cancelled", None, pages[index:])
                if self.prefetch is not None and not self.prefetch.ready(index):
                    self.builder.flush(min_rows=500)  # convert held rows while this thread would only wait
                prefetch = self.prefetch
                page_of = (
                    functools.partial(prefetch.result, index) if prefetch else functools.partial(self._get, number)
                )
                self._take(number, page_of, pages[index:])
            if not state.done and state.planned_pages + 1 not in state.pages_done:
                # the listing may have grown or shifted: one page past the plan, never more
                extra = state.planned_pages + 1
                self._take(extra, functools.partial(self._get, extra), [extra])
        finally:
            self.abort.set()
            if self.prefetch is not None:
                self.prefetch.close()
        self.result.frame = self.builder.build()
        return self.result

    def _first(self) -> tuple[WalkState, list[dict[str, Any]]]:
        try:
            first = self.fetch(1, self.hooks)
        except StopRequested:
            raise IncompleteWalkError(1, "cancelled", missing_pages=[1]) from None
        self.saved = self.store.start(first) if self.store is not None else {}
        state = WalkState(first, self.query.page_size)
        if state.page_size < self.query.page_size:
            logger.info(
                "tenant %s: the server capped the page size at %d (asked for %d)",
                self.query.tenant,
                state.page_size,
                self.query.page_size,
            )
        first_rows = state.accept(first)
        self.bar.update(state)
        return state, first_rows

    def _failed(self, reason: str, cause: BaseException | None, missing: Sequence[int]) -> _PassFailed:
        # stop sending first: converting the rows held so far takes a while
        self.abort.set()
        if self.prefetch is not None:
            self.prefetch.stop()
        self.result.frame = self.builder.build()
        return _PassFailed(reason, cause, self.result, missing)

    def _get(self, number: int) -> Page:
        if number in self.saved:
            self.result.resumed.append(number)
            return self.saved[number]
        page = self.fetch(number, self.hooks)
        if self.store is not None:
            self.store.save(page)
        return page

    def _take(self, number: int, page_of: Callable[[], Page], missing: Sequence[int]) -> None:
        """Fetch page ``number`` and accept it in page order; failures keep the rows so far."""
        try:
            page = page_of()
        except StopRequested:
            raise self._failed("cancelled", None, missing) from None
        except EngagifiiError as exc:
            raise self._failed(f"page {number} could not be fetched: {exc}", exc, missing) from exc
        try:
            fresh = self.result.state.accept(page)
        except PaginationError as exc:
            raise self._failed(str(exc), exc, missing) from exc
        self.builder.add(fresh)
        self.bar.update(self.result.state)
