"""EngagifiiClient: every page of the event listing, one access token per session.

Pages, then records, then frames (the pyairtable layering): :meth:`EngagifiiClient.iter_pages` is
lazy and sequential, :meth:`EngagifiiClient.events` is eager, concurrent and returns a typed
DataFrame (dtypes in :data:`engagifii_data.frames.EVENT_COLUMNS`).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd

from .auth import AccessToken, TokenManager
from .checkpoint import Checkpoint
from .config import Settings, check_header_value
from .exceptions import ConfigurationError, EngagifiiError, IncompleteWalkError, PaginationError, StopRequested
from .frames import COERCED_ATTR, NAIVE_DATETIMES_ATTR, FrameBuilder, empty_events_frame
from .pacing import AdaptiveConcurrency
from .pagination import Page, WalkState, parse_page
from .transport import Stats, Transport

logger = logging.getLogger(__name__)

LIST_PATH = "/api/1.0/event/list"
EVENT_PATH = "/api/1.0/event/{id}"
#: The four event statuses (API doc, EventViewModel.eventStatus).
STATUSES: tuple[str, ...] = ("Draft", "Published", "Cancelled", "Completed")


def build_list_body(
    page_number: int, page_size: int, *, only_upcoming: bool = False, search: str | None = None
) -> dict[str, Any]:
    """The JSON filter body for ``POST /api/1.0/event/list``.

    Property names are camelCase as the live plugin sends them (ASP.NET Core matches them
    case-insensitively); ``itemCount`` mirrors the page size (wire); the search goes to both ``text``
    and ``filterBody.searchText`` (both seen on the wire). The order is made explicit
    (``StartDateTime`` ascending) so pages are stable.

    Parameters
    ----------
    page_number : int
        1-based page number.
    page_size : int
        Rows per page requested (the server may cap it).
    only_upcoming : bool
        Server-side filter (default False: past events too).
    search : str, optional
        Server-side name search.

    Returns
    -------
    dict
    """
    body: dict[str, Any] = {
        "pageNumber": page_number,
        "pageSize": page_size,
        "itemCount": page_size,
        "onlyUpcoming": bool(only_upcoming),
        "sortBy": "StartDateTime",
        "isAscending": True,
    }
    if search:
        body["text"] = search
        body["filterBody"] = {"searchText": search}
    return body


@dataclass(frozen=True)
class WalkProgress:
    """Progress of one walk, passed to a ``progress`` callable after every page.

    Attributes
    ----------
    tenant : str
    pages_done, pages_total : int
        Pages accepted so far / planned from page 1's total.
    rows, total : int
        Unique rows collected / the total count reported by page 1.
    """

    tenant: str
    pages_done: int
    pages_total: int
    rows: int
    total: int


ProgressArg = bool | Callable[[WalkProgress], None] | None


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    try:
        ip = shell.get_ipython()
    except Exception:
        return False
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


class _Progress:
    """tqdm.auto bar and/or a callback, against the real total (rows)."""

    def __init__(self, progress: ProgressArg, tenant: str) -> None:
        self.callback = progress if callable(progress) else None
        if progress is None:
            show = _in_notebook() or sys.stderr.isatty()
        else:
            show = progress is True
        self.show = show
        self.tenant = tenant
        self.bar: Any = None

    def update(self, state: WalkState, rows: int) -> None:
        if self.show:
            if self.bar is None:
                from tqdm.auto import tqdm

                self.bar = tqdm(total=state.total, unit="rows", desc=f"events {self.tenant}", leave=True)
            self.bar.n = rows
            self.bar.set_postfix(pages=f"{len(state.pages_done)}/{state.planned_pages}", refresh=False)
            self.bar.refresh()
        if self.callback is not None:
            self.callback(
                WalkProgress(self.tenant, len(state.pages_done), state.planned_pages, rows, state.total)
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


@dataclass
class _WalkResult:
    state: WalkState
    frame: pd.DataFrame | None  # None until the walk ends (or fails)
    gate: AdaptiveConcurrency
    resumed: list[int] = field(default_factory=list)  # pages taken from the checkpoint


class EngagifiiClient:
    """A session with the Engagifii Events API: one access token, one connection pool.

    Parameters
    ----------
    settings : Settings
        Where and who (see :class:`~engagifii_data.config.Settings`).
    sleep : callable, optional
        Used for retry waits (default :func:`time.sleep`).

    Examples
    --------
    >>> from engagifii_data import EngagifiiClient, sandbox
    >>> with sandbox.run() as sb, EngagifiiClient(sb.settings()) as client:  # doctest: +SKIP
    ...     df = client.events("ACME")
    """

    def __init__(self, settings: Settings, *, sleep: Callable[[float], None] = time.sleep) -> None:
        if not isinstance(settings, Settings):
            raise ConfigurationError("EngagifiiClient needs a Settings object (or use EngagifiiClient.from_env())")
        self.settings = settings
        self._stats = Stats()
        self._tokens = TokenManager(settings, on_request=lambda: self._stats.add("token_requests"))
        self._transport = Transport(settings, self._tokens, self._stats, sleep=sleep, pool_size=32)

    @classmethod
    def from_env(cls, env_file: str | os.PathLike[str] | None = None, **overrides: Any) -> EngagifiiClient:
        """Build a client from ``ENGAGIFII_*`` variables and ``.env``.

        Parameters
        ----------
        env_file : path, optional
            Explicit ``.env`` file (search order in :meth:`Settings.from_env`).
        **overrides
            :class:`Settings` fields that win over the environment (e.g. ``max_requests_per_minute=100``).

        Raises
        ------
        ConfigurationError
            A required variable is missing or a value is invalid.
        """
        return cls(Settings.from_env(env_file, **overrides))

    def __repr__(self) -> str:
        return (
            f"EngagifiiClient(client_id={self.settings.client_id!r}, tenants={list(self.settings.tenant_codes)!r}, "
            f"api={self.settings.api_base_url!r})"
        )

    def __enter__(self) -> EngagifiiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pools."""
        self._transport.close()

    @property
    def stats(self) -> Stats:
        """Cumulative counters for this session: token_requests, http_requests, retries, pages."""
        return self._stats

    def authenticate(self) -> AccessToken:
        """Obtain (or reuse) the session's access token now, with the same retries as any request.

        Returns
        -------
        AccessToken
            Its ``lifetime`` (seconds); the token value is hidden from ``repr``.

        Raises
        ------
        AuthenticationError
            The identity server refused the client credentials or scope.
        ServerError, TransportError
            The identity server kept failing or could not be reached.
        """
        return self._transport.authenticate()

    @property
    def tenants(self) -> tuple[str, ...]:
        """Configured tenant codes (the first is the default)."""
        return self.settings.tenant_codes

    def _tenant(self, tenant: str | None) -> str:
        code = self.settings.tenant_code if tenant is None else str(tenant).strip()
        if not code:
            raise ConfigurationError("tenant code is empty")
        return check_header_value("tenant code", code)

    # -- pages -------------------------------------------------------------------------------

    def list_page(
        self,
        page_number: int,
        *,
        tenant: str | None = None,
        page_size: int = 100,
        only_upcoming: bool = False,
        search: str | None = None,
        _gate: AdaptiveConcurrency | None = None,
        _stop: Callable[[], bool] | None = None,
    ) -> Page:
        """Fetch one page of the event listing.

        Parameters
        ----------
        page_number : int
            1-based.
        tenant : str, optional
            Tenant code (default: the first configured).
        page_size : int
            Rows requested (default 100; the server may cap it).
        only_upcoming, search
            Server-side filters.

        Returns
        -------
        Page
            ``rows`` as sent and the ``total`` the server reported.

        Raises
        ------
        ApiError, AuthenticationError, TransportError, PaginationError
        """
        code = self._tenant(tenant)
        body = build_list_body(page_number, page_size, only_upcoming=only_upcoming, search=search)
        data = self._transport.request_json(
            "POST", LIST_PATH, tenant=code, json_body=body, page=page_number, gate=_gate, stop=_stop
        )
        page = parse_page(data, page_number)
        self._stats.add("pages")
        return page

    def iter_pages(
        self,
        tenant: str | None = None,
        *,
        only_upcoming: bool = False,
        search: str | None = None,
        page_size: int = 100,
    ) -> Iterator[Page]:
        """Yield the listing page by page (lazy, sequential), with the walk's guards.

        Pages are yielded with only the rows not seen on an earlier page (de-duplicated by id). The
        walk stops when the unique rows reach page 1's total, never on a short page alone. A lazy
        walk cannot re-read what it already yielded: if the total changed during the walk, or the
        unique rows do not match it, :class:`IncompleteWalkError` is raised after the last page
        (``.partial`` is None: the rows were yielded; :meth:`events` re-reads such a listing).

        Parameters
        ----------
        tenant : str, optional
            Tenant code (default: the first configured).
        only_upcoming, search
            Server-side filters, as in :meth:`events`.
        page_size : int
            Rows requested per page (default 100; a silent server cap is followed).

        Yields
        ------
        Page
            ``number`` (1-based), ``rows`` (dicts as sent, not seen on an earlier page) and the
            ``total`` that page reported.

        Raises
        ------
        PaginationError
            A page repeats the previous one, or the walk runs past the planned pages + 1.
        IncompleteWalkError
            After the last page, when the listing changed during the walk (both totals named).
        """
        _check_page_size(page_size)
        code = self._tenant(tenant)
        first = self.list_page(1, tenant=code, page_size=page_size, only_upcoming=only_upcoming, search=search)
        state = WalkState(first, page_size)
        yield Page(1, state.accept(first), first.total)
        number = 1
        while not state.done:
            number += 1
            page = self.list_page(
                number, tenant=code, page_size=page_size, only_upcoming=only_upcoming, search=search
            )
            fresh = state.accept(page)
            yield Page(number, fresh, page.total)
            if not page.rows:
                break
        if not state.settled:
            reason = (
                f"the walk could not be verified: total counts {state.totals_seen} reported during the walk, "
                f"{state.collected} unique events yielded (the listing changed; events() re-reads it)"
            )
            raise IncompleteWalkError(None, f"tenant {code}: {reason}")

    def event(self, event_id: str, *, tenant: str | None = None) -> dict[str, Any]:
        """Fetch one event (``GET /api/1.0/event/{id}``, more detail than the listing).

        Parameters
        ----------
        event_id : str
            The event's GUID.
        tenant : str, optional
            Tenant code (default: the first configured).

        Returns
        -------
        dict
            The event as sent.

        Raises
        ------
        NotFoundError
            No such event in this tenant.
        ValueError
            An empty id or one containing ``/``.
        """
        code = self._tenant(tenant)
        eid = str(event_id).strip()
        if not eid or "/" in eid:
            raise ValueError(f"invalid event id {event_id!r}")
        data = self._transport.request_json("GET", EVENT_PATH.format(id=quote(eid, safe="")), tenant=code)
        if isinstance(data, dict) and isinstance(data.get("data"), dict) and "id" not in data:
            data = data["data"]
        if not isinstance(data, dict):
            raise PaginationError(None, f"expected an event object, got {type(data).__name__}")
        return data

    # -- frames ------------------------------------------------------------------------------

    def events(
        self,
        tenant: str | Sequence[str] | None = None,
        *,
        only_upcoming: bool = False,
        search: str | None = None,
        start: dt.date | dt.datetime | str | None = None,
        end: dt.date | dt.datetime | str | None = None,
        status: str | Sequence[str] | None = None,
        page_size: int = 100,
        workers: int = 4,
        progress: ProgressArg = None,
        cancel: threading.Event | None = None,
        checkpoint: str | os.PathLike[str] | None = None,
        allow_incomplete: bool = False,
    ) -> pd.DataFrame:
        """Walk every page of the event listing into one typed DataFrame.

        Page 1 gives the total; pages 2..P are fetched by ``workers`` threads sharing the session's
        token and connection pool, and assembled in page order. The walk stops when the unique ids
        collected reach the total (never on a short page alone). If the total changes during the
        walk, or the unique ids do not match it, the pages are read once more; a listing that does
        not settle raises :class:`IncompleteWalkError`.

        Parameters
        ----------
        tenant : str or list of str, optional
            Tenant code(s); default the first configured. A list gives one frame with a leading
            ``tenant`` column, tenants in the order given.
        only_upcoming : bool
            Server-side: only events that have not ended (default False).
        search : str, optional
            Server-side: name contains this text.
        start, end : date, datetime or ISO string, optional
            Client-side filter on ``startDateTime`` (UTC): ``start <= startDateTime``, and
            ``startDateTime < end`` (a date-only ``end`` includes that whole day).
        status : str or list of str, optional
            Client-side filter on ``eventStatus`` (case-insensitive), e.g. ``["Published"]``.
        page_size : int
            Rows requested per page (default 100; a silent server cap is detected).
        workers : int
            Concurrent page requests after page 1 (default 4; 1 = sequential).
        progress : bool, callable or None
            None: a tqdm.auto bar in notebooks and terminals; True/False: force on/off; a callable
            receives a :class:`WalkProgress` after every page.
        cancel : threading.Event, optional
            When set, the walk stops after the current page and raises
            :class:`IncompleteWalkError` carrying the rows so far.
        checkpoint : path, optional
            A file where every page is saved as it arrives; a rerun with the same path fetches only
            the missing pages (see :mod:`engagifii_data.checkpoint`). With several tenants each gets
            its own file beside it (``walk.jsonl`` -> ``walk.ACME.jsonl``).
        allow_incomplete : bool
            Return a frame marked ``complete=False`` instead of raising when the walk could not be
            completed or verified (default False).

        Returns
        -------
        pandas.DataFrame
            Columns and dtypes as in :data:`engagifii_data.frames.EVENT_COLUMNS` (plus any new API
            fields after them); ``df.attrs["engagifii"]`` holds ``tenant``, ``total_count``,
            ``complete``, ``fetched_at`` (ISO UTC), ``pages``, ``duplicates``, ``rows_fetched``,
            ``totals_seen``, ``server_filters``, ``client_filters`` (``start`` inclusive, ``end``
            exclusive: ``end=date(2025, 1, 31)`` keeps rows before ``2025-02-01T00:00Z``), ``seconds``,
            ``resumed_pages`` (pages taken from the checkpoint instead of the API).

        Raises
        ------
        AuthenticationError
            Credentials refused (exit code 3 in the CLI).
        ApiError, TransportError
            Error answers or network failures after retries (exit code 4).
        PaginationError, IncompleteWalkError
            The walk could not be completed or verified (exit code 5); ``IncompleteWalkError.partial``
            holds the rows fetched.
        """
        _check_page_size(page_size)
        if not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
        statuses = _normalise_status(status)
        lo, hi = _date_bounds(start, end)
        if tenant is not None and not isinstance(tenant, str):
            given = [self._tenant(t) for t in tenant]
            if not given:
                raise ConfigurationError("empty tenant list")
            codes = list(dict.fromkeys(given))  # a tenant named twice is walked once
            if len(codes) < len(given):
                logger.warning("tenant codes given more than once are walked once: %s", ", ".join(codes))
            frames = []
            for code in codes:
                try:
                    frames.append(
                        self.events(
                            code,
                            only_upcoming=only_upcoming,
                            search=search,
                            start=start,
                            end=end,
                            status=status,
                            page_size=page_size,
                            workers=workers,
                            progress=progress,
                            cancel=cancel,
                            checkpoint=tenant_checkpoint(checkpoint, code) if len(codes) > 1 else checkpoint,
                            allow_incomplete=allow_incomplete,
                        )
                    )
                except IncompleteWalkError as exc:
                    done = f" (tenants {', '.join(codes[: len(frames)])} completed)" if frames else ""
                    raise IncompleteWalkError(
                        exc.page,
                        f"tenant {code}: {exc.reason}{done}",
                        partial=exc.partial,
                        cause=exc.cause,
                        missing_pages=exc.missing_pages,
                        checkpoint=exc.checkpoint,
                    ) from exc
            return _concat_tenants(codes, frames)
        code = self._tenant(tenant)
        self._transport.ensure_pool(workers + 1)
        server_filters = {"only_upcoming": bool(only_upcoming), "search": search}
        client_filters = {
            "start": lo.isoformat() if lo is not None else None,
            "end": hi.isoformat() if hi is not None else None,
            "status": list(statuses) if statuses else None,
        }
        started = time.monotonic()
        fetched_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        store = (
            Checkpoint.open(checkpoint, tenant=code, filters=server_filters, page_size=page_size)
            if checkpoint is not None
            else None
        )
        bar = _Progress(progress, code)
        try:
            try:
                result = self._walk(code, server_filters, page_size, workers, bar, cancel, store)
                if not result.state.settled:
                    first_totals = list(result.state.totals_seen)
                    logger.warning(
                        "tenant %s: listing changed during the walk (totals %s, %d unique rows); "
                        "reading it once more",
                        code,
                        first_totals,
                        result.state.collected,
                    )
                    if store is not None:
                        store.reset()
                    result = self._walk(code, server_filters, page_size, workers, bar, cancel, store)
                    if not result.state.settled:
                        totals = first_totals + [t for t in result.state.totals_seen if t not in first_totals]
                        reason = (
                            f"the listing did not settle: total counts {totals} reported during the walk, "
                            f"{result.state.collected} unique events collected"
                        )
                        frame = self._finish(
                            result, code, fetched_at, started, server_filters, client_filters,
                            statuses, lo, hi, complete=False, totals=totals,
                        )
                        if allow_incomplete:
                            logger.warning("tenant %s: %s", code, reason)
                            return frame
                        raise IncompleteWalkError(None, reason, partial=frame)
            except _WalkFailed as failed:
                frame = self._finish(
                    failed.result, code, fetched_at, started, server_filters, client_filters,
                    statuses, lo, hi, complete=False, missing=failed.missing,
                )
                if allow_incomplete and not isinstance(failed.cause, PaginationError):
                    return frame
                raise IncompleteWalkError(
                    failed.missing[0] if failed.missing else None,
                    failed.reason,
                    partial=frame,
                    cause=failed.cause,
                    missing_pages=failed.missing,
                    checkpoint=str(store.path) if store is not None else None,
                ) from failed.cause
        finally:
            bar.close()
        frame = self._finish(
            result, code, fetched_at, started, server_filters, client_filters, statuses, lo, hi, complete=True
        )
        if store is not None:
            store.complete()
        return frame

    def _finish(
        self,
        result: _WalkResult,
        code: str,
        fetched_at: str,
        started: float,
        server_filters: Mapping[str, Any],
        client_filters: Mapping[str, Any],
        statuses: Sequence[str],
        lo: pd.Timestamp | None,
        hi: pd.Timestamp | None,
        *,
        complete: bool,
        missing: Sequence[int] = (),
        totals: Sequence[int] | None = None,
    ) -> pd.DataFrame:
        state = result.state
        df = result.frame
        assert df is not None
        rows_fetched = len(df)
        df = _apply_client_filters(df, statuses, lo, hi)
        seconds = round(time.monotonic() - started, 3)
        meta = {
            "tenant": code,
            "total_count": state.total,
            "complete": complete,
            "fetched_at": fetched_at,
            "pages": len(state.pages_done),
            "planned_pages": state.planned_pages,
            "page_size": state.page_size,
            "duplicates": state.duplicates,
            "rows_fetched": rows_fetched,
            "totals_seen": list(totals if totals is not None else state.totals_seen),
            "missing_pages": list(missing),
            "server_filters": dict(server_filters),
            "client_filters": dict(client_filters),
            "seconds": seconds,
            "resumed_pages": len(result.resumed),
            "concurrency": {
                "start": result.gate.start,
                "final": result.gate.limit,
                "ceiling": result.gate.ceiling,
                "throttled": result.gate.throttled,
            },
        }
        df.attrs["engagifii"] = meta
        logger.info(
            "walk tenant %s: %d pages, %d rows (total %d), %d duplicates, %d retries so far, %.2f s%s",
            code,
            meta["pages"],
            rows_fetched,
            state.total,
            state.duplicates,
            self._stats.retries,
            seconds,
            "" if complete else " INCOMPLETE",
        )
        return df

    def _fetch_page(
        self,
        code: str,
        filters: Mapping[str, Any],
        page_size: int,
        number: int,
        gate: AdaptiveConcurrency | None = None,
        stop: Callable[[], bool] | None = None,
    ) -> Page:
        return self.list_page(
            number,
            tenant=code,
            page_size=page_size,
            only_upcoming=bool(filters["only_upcoming"]),
            search=filters["search"],
            _gate=gate,
            _stop=stop,
        )

    def _walk(
        self,
        code: str,
        filters: Mapping[str, Any],
        page_size: int,
        workers: int,
        bar: _Progress,
        cancel: threading.Event | None,
        store: Checkpoint | None,
    ) -> _WalkResult:
        gate = AdaptiveConcurrency(workers)
        first = self._fetch_page(code, filters, page_size, 1, gate)
        saved: dict[int, Page] = store.start(first) if store is not None else {}
        state = WalkState(first, page_size)
        if state.page_size < page_size:
            logger.info(
                "tenant %s: the server capped the page size at %d (asked for %d)", code, state.page_size, page_size
            )
        builder = _BatchedFrames()
        first_rows = state.accept(first)
        bar.update(state, state.collected)
        result = _WalkResult(state, None, gate)

        def failed(reason: str, cause: BaseException | None, missing: list[int]) -> _WalkFailed:
            # stop sending first: converting the rows held so far takes a while
            abort.set()
            if prefetch is not None:
                prefetch.stop()
            result.frame = builder.build()
            return _WalkFailed(reason, cause, result, missing)

        pages = list(state.remaining_pages())
        prefetch: _Prefetcher | None = None
        # set when the walk ends for any reason (an error, Ctrl-C): requests still in flight skip
        # their remaining retries instead of keeping the caller waiting for their backoff
        abort = threading.Event()

        def stop() -> bool:
            return abort.is_set() or (cancel is not None and cancel.is_set())

        def get(number: int) -> Page:
            if number in saved:
                result.resumed.append(number)
                return saved[number]
            page = self._fetch_page(code, filters, page_size, number, gate, stop)
            if store is not None:
                store.save(page)
            return page

        def take(number: int, fetch: Callable[[], Page], missing: list[int]) -> None:
            """Fetch page ``number`` and accept it in page order; failures keep the rows so far."""
            try:
                page = fetch()
            except StopRequested:
                raise failed("cancelled", None, missing) from None
            except EngagifiiError as exc:
                raise failed(f"page {number} could not be fetched: {exc}", exc, missing) from exc
            try:
                fresh = state.accept(page)
            except PaginationError as exc:
                raise failed(str(exc), exc, missing) from exc
            builder.add(fresh)
            bar.update(state, state.collected)

        try:
            if workers > 1 and pages:
                prefetch = _Prefetcher(get, pages, workers=workers, ahead=workers * 4)
            builder.add(first_rows)  # after the requests for pages 2.. are on their way
            for index, number in enumerate(pages):
                if cancel is not None and cancel.is_set():
                    raise failed("cancelled", None, pages[index:])
                if prefetch is not None and not prefetch.ready(index):
                    builder.flush(min_rows=500)  # convert held rows while this thread would only wait
                fetch = functools.partial(prefetch.result, index) if prefetch else functools.partial(get, number)
                take(number, fetch, pages[index:])
            if not state.done and state.planned_pages + 1 not in state.pages_done:
                # the listing may have grown or shifted: one page past the plan, never more.
                extra = state.planned_pages + 1
                take(extra, functools.partial(get, extra), [extra])
        finally:
            abort.set()
            if prefetch is not None:
                prefetch.close()
        result.frame = builder.build()
        return result


class _Prefetcher:
    """Fetches pages on worker threads, keeping up to ``ahead`` pages requested beyond the one consumed.

    Finished requests top the window up from the worker threads themselves, so converting rows on
    the caller's thread never leaves the connections idle; at most ``ahead`` pages of raw rows wait to
    be consumed (bounded memory). Results are taken in page order with :meth:`result`.
    """

    def __init__(self, fetch: Callable[[int], Page], pages: Sequence[int], *, workers: int, ahead: int) -> None:
        self._fetch = fetch
        self._pages = list(pages)
        self._ahead = max(1, ahead)
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="engagifii-page")
        self._futures: dict[int, Future[Page]] = {}
        self._lock = threading.RLock()
        self._next = 0
        self._consumed = 0
        self._closed = False
        self._fill()

    def _fill(self, _done: object = None) -> None:
        with self._lock:
            while not self._closed and self._next < len(self._pages) and self._next < self._consumed + self._ahead:
                number = self._pages[self._next]
                self._next += 1
                future = self._executor.submit(self._fetch, number)
                self._futures[number] = future
                future.add_done_callback(self._fill)

    def ready(self, index: int) -> bool:
        """Whether the page at ``index`` of the plan is fetched (or failed), so :meth:`result` won't block."""
        with self._lock:
            future = self._futures.get(self._pages[index]) if index < len(self._pages) else None
        return future is not None and future.done()

    def result(self, index: int) -> Page:
        """The page at ``index`` of the plan (blocks until fetched; re-raises its error)."""
        with self._lock:
            self._consumed = index
            self._fill()
            future = self._futures.pop(self._pages[index])
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


class _BatchedFrames:
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
        self._pending.extend(rows)
        if len(self._pending) >= self._batch_rows:
            self.flush()

    def flush(self, min_rows: int = 1) -> None:
        """Convert the pending rows now if there are at least ``min_rows`` of them."""
        if len(self._pending) >= max(1, min_rows):
            pending, self._pending = self._pending, []
            self._builder.add(pending)

    def build(self) -> pd.DataFrame:
        self.flush()
        return self._builder.build()


class _WalkFailed(Exception):
    def __init__(self, reason: str, cause: BaseException | None, result: _WalkResult, missing: list[int]) -> None:
        super().__init__(reason)
        self.reason = reason
        self.cause = cause
        self.result = result
        self.missing = missing


def tenant_checkpoint(path: str | os.PathLike[str] | None, tenant: str) -> Path | None:
    """The checkpoint file of one tenant in a multi-tenant walk: ``walk.jsonl`` -> ``walk.ACME.jsonl``."""
    if path is None:
        return None
    p = Path(path)
    return p.with_name(f"{p.stem}.{tenant}{p.suffix}")


def _check_page_size(page_size: int) -> None:
    if not isinstance(page_size, int) or isinstance(page_size, bool) or page_size < 1:
        raise ValueError(f"page_size must be an integer >= 1, got {page_size!r}")


def _normalise_status(status: str | Sequence[str] | None) -> tuple[str, ...]:
    if status is None:
        return ()
    values = [status] if isinstance(status, str) else list(status)
    known = {s.lower(): s for s in STATUSES}
    out = []
    for value in values:
        key = str(value).strip().lower()
        if key not in known:
            raise ValueError(f"unknown event status {value!r}; expected one of {', '.join(STATUSES)}")
        out.append(known[key])
    return tuple(dict.fromkeys(out))


_ISO_BOUND = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$")


def _to_utc(value: dt.date | dt.datetime | str) -> tuple[pd.Timestamp, bool]:
    """Parse a bound; returns (UTC timestamp, was_date_only)."""
    date_only = isinstance(value, dt.date) and not isinstance(value, dt.datetime)
    if isinstance(value, str):
        text = value.strip()
        if not _ISO_BOUND.match(text):
            raise ValueError(f"invalid date {value!r}; use YYYY-MM-DD or an ISO 8601 datetime")
        date_only = len(text) == 10
        try:
            ts = pd.Timestamp(text)
        except ValueError:
            raise ValueError(f"invalid date {value!r}; use YYYY-MM-DD or an ISO 8601 datetime") from None
    else:
        ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts, date_only


def _date_bounds(
    start: dt.date | dt.datetime | str | None, end: dt.date | dt.datetime | str | None
) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    lo = _to_utc(start)[0] if start is not None else None
    hi = None
    if end is not None:
        hi, date_only = _to_utc(end)
        if date_only:
            hi = hi + pd.Timedelta(days=1)
    if lo is not None and hi is not None and hi <= lo:
        raise ValueError(f"end ({end}) must be after start ({start})")
    return lo, hi


def _apply_client_filters(
    df: pd.DataFrame, statuses: Sequence[str], lo: pd.Timestamp | None, hi: pd.Timestamp | None
) -> pd.DataFrame:
    if not statuses and lo is None and hi is None:
        return df
    mask = pd.Series(True, index=df.index)
    if statuses:
        wanted = {s.lower() for s in statuses}
        mask &= df["eventStatus"].str.lower().isin(wanted).fillna(False).astype(bool)
    if lo is not None:
        mask &= (df["startDateTime"] >= lo).fillna(False).astype(bool)
    if hi is not None:
        mask &= (df["startDateTime"] < hi).fillna(False).astype(bool)
    out = df.loc[mask].reset_index(drop=True)
    out.attrs = dict(df.attrs)
    return out


def _concat_tenants(codes: Sequence[str], frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    parts = []
    for code, frame in zip(codes, frames, strict=True):
        part = frame.copy()
        if "tenant" in part.columns:  # a field the API itself calls "tenant" is kept, renamed
            part = part.rename(columns={"tenant": "record.tenant"})
        part.insert(0, "tenant", pd.Series([code] * len(part), dtype="string", index=part.index))
        parts.append(part)
    if parts:
        out = pd.concat(parts, ignore_index=True)
    else:
        out = empty_events_frame(tenant="")
    metas = {code: frame.attrs.get("engagifii", {}) for code, frame in zip(codes, frames, strict=True)}
    counts: dict[str, dict[str, int]] = {COERCED_ATTR: {}, NAIVE_DATETIMES_ATTR: {}}
    for frame in frames:
        for key, merged in counts.items():
            for column, n in dict(frame.attrs.get(key) or {}).items():
                merged[column] = merged.get(column, 0) + int(n)
    attrs: dict[Any, Any] = dict(counts)
    attrs["engagifii"] = {
        "tenant": list(codes),
        "total_count": sum(int(m.get("total_count", 0)) for m in metas.values()),
        "complete": all(bool(m.get("complete")) for m in metas.values()),
        "fetched_at": min((str(m.get("fetched_at", "")) for m in metas.values()), default=""),
        "pages": sum(int(m.get("pages", 0)) for m in metas.values()),
        "duplicates": sum(int(m.get("duplicates", 0)) for m in metas.values()),
        "tenants": metas,
    }
    out.attrs = attrs
    return out


def default_report_path(tenant: str | Sequence[str], fmt: str = "csv") -> Path:
    """``reports/events-<tenant>-<YYYYmmdd-HHMMSS>.<fmt>`` in the current directory."""
    name = tenant if isinstance(tenant, str) else "-".join(tenant)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("reports") / f"events-{name}-{stamp}.{fmt}"
