"""EngagifiiClient: the facade. One access token and one connection pool per session.

Pages, then records, then frames (the pyairtable layering): :meth:`EngagifiiClient.iter_pages` is
lazy and sequential, :meth:`EngagifiiClient.events` is eager, concurrent and returns a typed
DataFrame (dtypes in :data:`engagifii_data.frames.EVENT_COLUMNS`). The walk itself is in
:mod:`engagifii_data.walk`, the query in :mod:`engagifii_data.query`.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import endpoints
from .auth import AccessToken
from .config import Settings, check_header_value
from .endpoints import EVENT_PATH, LIST_PATH
from .exceptions import (
    ConfigurationError,
    IncompleteWalkError,
)
from .pagination import Page, WalkState
from .query import STATUSES, EventQuery
from .transport import NO_HOOKS, RequestHooks, Stats, Transport
from .walk import ProgressArg, WalkOptions, WalkProgress, tenant_checkpoint

if TYPE_CHECKING:
    import pandas as pd

    from .walk import DetailAnswer

logger = logging.getLogger(__name__)


__all__ = ["EVENT_PATH", "LIST_PATH", "STATUSES", "EngagifiiClient", "WalkProgress", "tenant_checkpoint"]


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
        self._transport = Transport(settings, self._stats, sleep=sleep, pool_size=32)
        self._tokens = self._transport.tokens

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
            A required variable is missing, the ``.env`` is unsafe or unreadable, or a value is invalid.
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
        ServerError, RateLimitError, TransportError
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

    def query(self, tenant: str | Sequence[str] | EventQuery | None = None, **filters: Any) -> EventQuery:
        """The :class:`EventQuery` that :meth:`events` would run (tenants checked, default filled in).

        Raises
        ------
        QueryError, ConfigurationError
            An invalid filter or tenant code.
        """
        if isinstance(tenant, EventQuery):
            query = tenant
        else:
            tenants: tuple[str, ...] = ()
            if tenant is not None:
                tenants = (tenant,) if isinstance(tenant, str) else tuple(tenant)
            if tenant is not None and not isinstance(tenant, str) and not tenants:
                raise ConfigurationError("empty tenant list")
            query = EventQuery(tenants, **filters)
        query = query.with_defaults((self.settings.tenant_code,))
        for code in query.tenants:
            check_header_value("tenant code", code)
        return query

    # -- pages -------------------------------------------------------------------------------

    def _fetch_page(self, query: EventQuery, number: int, hooks: RequestHooks = NO_HOOKS) -> Page:
        page = endpoints.fetch_page(self._transport, self.settings.api_base_url, query, number, hooks)
        self._stats.add("pages")
        return page

    def list_page(
        self,
        page_number: int,
        *,
        tenant: str | None = None,
        page_size: int = 100,
        only_upcoming: bool = False,
        search: str | None = None,
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
            The page's rows as sent and the ``total`` the server reported.

        Raises
        ------
        ApiError, AuthenticationError, TransportError, PaginationError
        """
        query = self.query(self._tenant(tenant), only_upcoming=only_upcoming, search=search, page_size=page_size)
        return self._fetch_page(query, page_number)

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
            ``number`` (1-based), ``rows`` (only those not seen on an earlier page, as sent) and the
            ``total`` that page reported.

        Raises
        ------
        PaginationError
            A page repeats the previous one, or the walk runs past the planned pages + 1.
        IncompleteWalkError
            After the last page, when the listing changed during the walk (both totals named).
        """
        query = self.query(self._tenant(tenant), only_upcoming=only_upcoming, search=search, page_size=page_size)
        first = self._fetch_page(query, 1)
        state = WalkState(first, query.page_size)
        yield first.with_rows(state.accept(first))
        number = 1
        while not state.done:
            number += 1
            page = self._fetch_page(query, number)
            yield page.with_rows(state.accept(page))
            if not page.rows:
                break
        if not state.settled:
            reason = (
                f"the walk could not be verified: total counts {state.totals_seen} reported during the walk, "
                f"{state.collected} unique events yielded (the listing changed; events() re-reads it)"
            )
            raise IncompleteWalkError(None, f"tenant {query.tenant}: {reason}")

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
            No such event in this tenant (a 404 in the API's error envelope; any other 404 is an
            :class:`ApiError`: the base URL is not the Events API's).
        PaginationError
            The answer, through every attempt, is not the event asked for (another id, or none).
        ValueError
            An id that fails the detail id rule (:func:`engagifii_data.walk.ids.detail_id`: empty,
            not text, or able to change the request path).
        """
        return endpoints.fetch_event(self._transport, self._tenant(tenant), event_id)

    def _fetch_detail(self, code: str, event_id: str, hooks: RequestHooks) -> DetailAnswer:
        """One event's detail for the detail walk; an event that is gone (404) is ``data=None``."""
        return endpoints.fetch_detail(self._transport, code, event_id, hooks)

    # -- frames ------------------------------------------------------------------------------

    def events(
        self,
        tenant: str | Sequence[str] | EventQuery | None = None,
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
        details: bool = False,
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
            ``tenant`` column, tenants in the order given (a code given twice is walked once). An
            :class:`EventQuery` may be passed instead (the filter arguments are then ignored).
        only_upcoming : bool
            Server-side: only events that have not ended (default False).
        search : str, optional
            Server-side: name contains this text.
        start, end : date, datetime or ISO string, optional
            Client-side filter on ``startDateTime`` (UTC), both ends included: a date ``end``
            includes that whole day, a datetime ``end`` that very instant.
        status : str or list of str, optional
            Client-side filter on ``eventStatus`` (case-insensitive), e.g. ``["Published"]``.
        page_size : int
            Rows requested per page (default 100; a silent server cap is detected).
        workers : int
            Concurrent page requests after page 1 (default 4; 1 = sequential), and concurrent
            detail requests with ``details``.
        progress : bool, callable or None
            None: a tqdm.auto bar in notebooks and terminals; True/False: force on/off; a callable
            receives a :class:`WalkProgress` after every page (every detail with ``details``) and
            before every retry.
        cancel : threading.Event, optional
            When set, the walk stops at once, requests in flight cut off (page 1 included), and
            raises :class:`IncompleteWalkError` carrying the rows so far.
        checkpoint : path, optional
            A file where every page is saved as it arrives; a rerun with the same path fetches only
            the missing pages (see :mod:`engagifii_data.checkpoint`). With several tenants each gets
            its own file beside it (``walk.jsonl`` -> ``walk.ACME.jsonl``); details are saved beside
            it too (``walk.details.jsonl``, ``walk.ACME.details.jsonl``).
        allow_incomplete : bool
            Return a frame marked ``complete=False`` instead of raising when the walk could not be
            completed or verified (default False).
        details : bool
            Also fetch every listed event's detail (``GET /api/1.0/event/{id}``, after the
            client-side filters: only the rows kept) and fold it into its row: the detail wins for
            the fields it carries (``contacts.*`` are filled only this way), dtypes stay the declared
            ones. An event gone since it was listed (404) keeps its listing row and is named in the
            report's ``missing_ids``; the report's ``enriched`` counts the rows that got a detail.
            See :meth:`event_details` (default False).

        Returns
        -------
        pandas.DataFrame
            Columns and dtypes as in :data:`engagifii_data.frames.EVENT_COLUMNS` (plus any new API
            fields after them); ``df.attrs["engagifii"]`` holds the walk's report (read it with
            :meth:`WalkReport.of <engagifii_data.reports.WalkReport.of>`; keys in
            :mod:`engagifii_data.reports.walk_report`).

        Raises
        ------
        QueryError
            An invalid filter (exit code 2 in the CLI).
        AuthenticationError
            Credentials refused (exit code 3).
        ApiError, TransportError
            Error answers or network failures after retries on a tenant's page 1 (exit code 4).
        PaginationError, IncompleteWalkError
            The walk could not be completed or verified (exit code 5); ``IncompleteWalkError.partial``
            holds the rows fetched (a detail that could not be fetched is such a failure too).
        """
        options = WalkOptions(
            workers, progress, cancel, _path(checkpoint), allow_incomplete, "merge" if details else None
        )
        if isinstance(tenant, EventQuery):
            query = self.query(tenant)
        else:
            query = self.query(
                tenant,
                only_upcoming=only_upcoming,
                search=search,
                start=start,
                end=end,
                status=status,
                page_size=page_size,
            )
        return self._walk(query, options, several=not (tenant is None or isinstance(tenant, str | EventQuery)))

    def event_details(
        self,
        tenant: str | Sequence[str] | None = None,
        ids: Sequence[str] | None = None,
        *,
        workers: int = 4,
        progress: ProgressArg = None,
        cancel: threading.Event | None = None,
        checkpoint: str | os.PathLike[str] | None = None,
        allow_incomplete: bool = False,
    ) -> pd.DataFrame:
        """Fetch events' details (``GET /api/1.0/event/{id}``) concurrently into one typed DataFrame.

        The detail walk has the listing walk's guarantees: the session's token, retry policy and rate
        limit, ``workers`` requests in flight under an adaptive limit that backs off after a 429,
        progress, cancel and checkpoint/resume. Every detail is requested once.

        Parameters
        ----------
        tenant : str or list of str, optional
            Tenant code (default: the first configured). A list (only with ``ids=None``) gives one
            frame with a leading ``tenant`` column.
        ids : sequence of str, optional
            The events, e.g. ``df["id"]`` of a listing frame (duplicates are fetched once). None
            (default): every event of the tenant, the listing being walked first.
        workers : int
            Concurrent detail requests (default 4).
        progress, cancel, allow_incomplete
            As in :meth:`events`.
        checkpoint : path, optional
            With ``ids=None`` the listing's checkpoint (as in :meth:`events`); the details are saved
            beside it in ``<name>.details.jsonl`` (``walk.jsonl`` -> ``walk.details.jsonl``), one
            line per event as it arrives: a rerun fetches only the details not saved (with
            ``ids=None`` the listing is walked again first, so it is current).

        Returns
        -------
        pandas.DataFrame
            One row per event whose detail was received, in the order of ``ids`` (listing order for
            ``ids=None``): the declared columns and dtypes of
            :data:`engagifii_data.frames.EVENT_COLUMNS` filled from the detail answer (``contacts.*``
            included), new fields after them. An event that answered 404 (deleted since it was
            listed) has no row and is named in the report's ``missing_ids``; that is not an error.
            ``df.attrs["engagifii"]`` holds the report (``details`` True, ``details_requested``,
            ``details_fetched``, ``missing_ids``...).

        Raises
        ------
        IncompleteWalkError
            A detail could not be fetched after the retries (other than a 404), or the walk was
            cancelled; ``.partial`` holds the details received, ``.checkpoint`` the file to resume
            from.
        ValueError
            An id that fails the detail id rule (:func:`engagifii_data.walk.ids.detail_id`), or
            ``ids`` with several tenants.
        QueryError, AuthenticationError, ApiError, TransportError, PaginationError
            As in :meth:`events`, for the listing walked first with ``ids=None``.
        """
        options = WalkOptions(workers, progress, cancel, _path(checkpoint), allow_incomplete, "rows")
        if ids is None:
            return self._walk(self.query(tenant), options, several=not (tenant is None or isinstance(tenant, str)))
        if tenant is not None and not isinstance(tenant, str):
            raise ValueError("event_details(ids=...) takes one tenant code: ids belong to one tenant")
        from .walk import unique_ids, walk_tenant_details

        code = self._tenant(tenant)
        wanted = unique_ids(list(ids))
        self._transport.ensure_pool(workers + 1)
        return walk_tenant_details(code, wanted, None, options, self._fetch_detail, self._stats)

    def _walk(self, query: EventQuery, options: WalkOptions, *, several: bool) -> pd.DataFrame:
        from .walk import walk_events

        self._transport.ensure_pool(options.workers + 1)
        return walk_events(
            query,
            options,
            fetch_page=self._fetch_page,
            fetch_detail=self._fetch_detail,
            stats=self._stats,
            several=several,
        )


def _path(path: str | os.PathLike[str] | None) -> Path | None:
    return Path(path) if path is not None else None
