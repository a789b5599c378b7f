"""EventQuery: what one listing walk asks for, validated once.

One frozen value object carries the tenants, the filters the server applies (``onlyUpcoming``, the
name search), the filters applied to the frame afterwards (a ``startDateTime`` range and
``eventStatus`` values) and the page size. It builds the list body, describes itself (for the CLI
summary, the explorer and the checkpoint key) and applies the client-side filters, so nothing else
spells the filters out again.

Date bounds (UTC, on ``startDateTime``):

- ``start`` is inclusive: a date means from 00:00 that day, a datetime from that instant;
- ``end`` is inclusive too: a date includes that whole day (events before 00:00 of the next day), a
  datetime includes events starting at that very instant. ``--to`` in the CLI means the same.

Naive datetimes are taken as UTC; aware ones are converted. This module imports no pandas until a
frame is filtered (``engagifii-data --help`` stays fast).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from .exceptions import QueryError

if TYPE_CHECKING:
    import pandas as pd

#: The four event statuses (API doc, ``EventViewModel.eventStatus``).
STATUSES: tuple[str, ...] = ("Draft", "Published", "Cancelled", "Completed")

#: Largest page size accepted (the server caps silently anyway; this only stops nonsense).
MAX_PAGE_SIZE = 10_000

#: The Python names of the query's fields, as errors name them by default.
PYTHON_NAMES: Mapping[str, str] = {
    "start": "start",
    "end": "end",
    "status": "status",
    "page_size": "page_size",
    "tenant": "tenant",
    "search": "search",
}

_ISO_BOUND = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$")

DateLike = dt.date | dt.datetime | str


def _bound(name: str, value: DateLike) -> tuple[dt.datetime, bool]:
    """A bound as an aware UTC datetime, and whether it was given as a date only."""
    if isinstance(value, dt.datetime):
        when, date_only = value, False
    elif isinstance(value, dt.date):
        when, date_only = dt.datetime(value.year, value.month, value.day), True
    elif isinstance(value, str):
        text = value.strip()
        if not _ISO_BOUND.match(text):
            raise QueryError(name, f"{{{name}}} {value!r} is not a date: use YYYY-MM-DD or an ISO 8601 datetime")
        try:
            when = dt.datetime.fromisoformat(text.replace(" ", "T", 1))
        except ValueError:
            raise QueryError(name, f"{{{name}}} {value!r} is not a valid date") from None
        date_only = len(text) == 10
    else:
        # pandas.Timestamp is a datetime; anything else is a caller's mistake
        raise QueryError(name, f"{{{name}}} must be a date, a datetime or an ISO 8601 string, got {value!r}")
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC), date_only


def _iso(when: dt.datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class EventQuery:
    """One listing query: tenants, server filters, client filters and page size (immutable).

    Build it with the keyword arguments of :meth:`EngagifiiClient.events`; every value is checked
    and normalised here, once.

    Parameters
    ----------
    tenants : tuple of str
        Tenant codes, in the order walked (duplicates removed); empty means the client's default.
    only_upcoming : bool
        Server-side: only events that have not ended (default False).
    search : str, optional
        Server-side: the name contains this text (sent as ``text`` and ``filterBody.searchText``).
    start : date, datetime or ISO string, optional
        Client-side: ``startDateTime >= start`` (UTC; a date means 00:00 that day).
    end : date, datetime or ISO string, optional
        Client-side: ``startDateTime`` on or before ``end`` (UTC; a date includes that whole day).
    status : str or sequence of str
        Client-side ``eventStatus`` values, case-insensitive (one of :data:`STATUSES`).
    page_size : int
        Rows asked for per page (default 100; the server may cap it silently).

    Attributes
    ----------
    start, end : datetime or None
        The normalised bounds, aware UTC. A date ``end`` is kept as 00:00 of that day with
        ``end_date_only`` True, and then includes the whole day.
    end_date_only : bool
        Whether ``end`` was given as a date.

    Raises
    ------
    QueryError
        A value is invalid (its ``field`` says which; :meth:`QueryError.named` renames the fields for
        the CLI's options).
    """

    tenants: tuple[str, ...] = ()
    only_upcoming: bool = False
    search: str | None = None
    start: Any = None
    end: Any = None
    status: Any = ()
    page_size: int = 100
    end_date_only: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        tenants = (self.tenants,) if isinstance(self.tenants, str) else tuple(self.tenants or ())
        codes = tuple(dict.fromkeys(str(t).strip() for t in tenants))
        if any(not code for code in codes):
            raise QueryError("tenant", "{tenant} is empty")
        object.__setattr__(self, "tenants", codes)
        object.__setattr__(self, "only_upcoming", bool(self.only_upcoming))
        search = self.search
        if search is not None:
            search = str(search).strip() or None
        object.__setattr__(self, "search", search)
        size = self.page_size
        if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= MAX_PAGE_SIZE:
            raise QueryError("page_size", f"{{page_size}} must be an integer from 1 to {MAX_PAGE_SIZE:,}, got {size!r}")
        object.__setattr__(self, "status", _statuses(self.status))
        start = _bound("start", self.start)[0] if self.start is not None else None
        end: dt.datetime | None = None
        date_only = False
        if self.end is not None:
            end, date_only = _bound("end", self.end)
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)
        object.__setattr__(self, "end_date_only", date_only)
        if start is not None and self.end_before is not None and self.end_before <= start:
            problem = f"{{end}} ({self._end_text()}) is before {{start}} ({self._start_text()}): nothing can match"
            raise QueryError("end", problem)

    # -- derived values --------------------------------------------------------------------------

    @property
    def end_before(self) -> dt.datetime | None:
        """The first instant after the range (UTC): 00:00 after a date ``end``, 1 µs after a datetime."""
        if self.end is None:
            return None
        assert isinstance(self.end, dt.datetime)
        try:
            return self.end + (dt.timedelta(days=1) if self.end_date_only else dt.timedelta(microseconds=1))
        except OverflowError:  # the last day of year 9999: nothing comes after it
            return dt.datetime.max.replace(tzinfo=dt.UTC)

    @property
    def tenant(self) -> str:
        """The only tenant (raises QueryError when there are none or several)."""
        if len(self.tenants) != 1:
            raise QueryError("tenant", f"expected one {{tenant}}, got {len(self.tenants)}")
        return self.tenants[0]

    @property
    def has_client_filters(self) -> bool:
        """True when the frame is filtered after the walk (dates or statuses)."""
        return bool(self.status) or self.start is not None or self.end is not None

    def for_tenant(self, code: str) -> EventQuery:
        """The same query for one tenant."""
        return replace(self, tenants=(code,), start=self.start, end=self._end_argument())

    def with_defaults(self, tenants: Sequence[str]) -> EventQuery:
        """This query, or the same for ``tenants`` when it names none."""
        return self if self.tenants else replace(self, tenants=tuple(tenants), end=self._end_argument())

    def _end_argument(self) -> Any:
        if self.end is None:
            return None
        assert isinstance(self.end, dt.datetime)
        return self.end.date() if self.end_date_only else self.end

    # -- the request -----------------------------------------------------------------------------

    def list_body(self, page_number: int) -> dict[str, Any]:
        """The JSON body of ``POST /api/1.0/event/list`` for one page.

        Property names are camelCase as the live plugin sends them (ASP.NET Core matches them
        case-insensitively); ``itemCount`` mirrors the page size (wire); the search goes to both
        ``text`` and ``filterBody.searchText`` (both seen on the wire). The order is explicit
        (``StartDateTime`` ascending) so pages are stable.

        Parameters
        ----------
        page_number : int
            1-based page number.

        Returns
        -------
        dict
        """
        body: dict[str, Any] = {
            "pageNumber": page_number,
            "pageSize": self.page_size,
            "itemCount": self.page_size,
            "onlyUpcoming": self.only_upcoming,
            "sortBy": "StartDateTime",
            "isAscending": True,
        }
        if self.search:
            body["text"] = self.search
            body["filterBody"] = {"searchText": self.search}
        return body

    @property
    def server_filters(self) -> dict[str, Any]:
        """``{"only_upcoming": bool, "search": str | None}``: what the server applies."""
        return {"only_upcoming": self.only_upcoming, "search": self.search}

    @property
    def client_filters(self) -> dict[str, Any]:
        """``{"start", "end", "status"}``: what is applied to the frame.

        ``start`` is an ISO UTC instant (inclusive); ``end`` is the inclusive bound as given, a date
        (``"2025-01-31"``, the whole day) or an ISO UTC instant; ``status`` a list of statuses.
        """
        return {
            "start": _iso(self.start) if self.start is not None else None,
            "end": self._end_text() if self.end is not None else None,
            "status": list(self.status) if self.status else None,
        }

    def checkpoint_key(self) -> str:
        """A short key of what the pages depend on (server filters and page size): 10 hex digits."""
        raw = json.dumps({**self.server_filters, "page_size": self.page_size}, sort_keys=True)
        return hashlib.sha1(raw.encode("utf-8")).hexdigest()[:10]

    # -- words -----------------------------------------------------------------------------------

    def _end_text(self) -> str:
        if self.end is None:
            return "…"
        assert isinstance(self.end, dt.datetime)
        return self.end.date().isoformat() if self.end_date_only else _iso(self.end)

    def _start_text(self) -> str:
        if self.start is None:
            return "…"
        assert isinstance(self.start, dt.datetime)
        if self.start.time() == dt.time(0) and self.start.tzinfo is not None:
            return self.start.date().isoformat()
        return _iso(self.start)

    def describe(self) -> str:
        """Which filters the server applies and which the frame, in one line.

        Returns
        -------
        str
            e.g. ``"server: onlyUpcoming, search 'gala' · client: status Published, 2026-01-01..2026-03-31"``
            (``none`` on a side without filters; the range is on ``startDateTime``, UTC, both ends
            included).
        """
        server = []
        if self.only_upcoming:
            server.append("onlyUpcoming")
        if self.search:
            server.append(f"search {self.search!r}")
        client = []
        if self.status:
            client.append("status " + ", ".join(self.status))
        if self.start is not None and self.end is not None:
            client.append(f"startDateTime {self._start_text()}..{self._end_text()}")
        elif self.start is not None:
            client.append(f"startDateTime from {self._start_text()}")
        elif self.end is not None:
            client.append(f"startDateTime up to {self._end_text()}")
        return f"server: {', '.join(server) or 'none'} · client: {', '.join(client) or 'none'}"

    def contradictions(self, now: dt.datetime | None = None) -> list[str]:
        """Filter combinations that leave few or no events, in plain words (empty when there is none).

        ``onlyUpcoming`` keeps events that have not ended, while ``end`` bounds when events *start*: with
        an ``end`` in the past only the events started by then and still running can match (often none).

        Parameters
        ----------
        now : datetime, optional
            The server's clock (default: this machine's; the sandbox has its own).
        """
        now = now or dt.datetime.now(dt.UTC)
        out = []
        before = self.end_before
        if self.only_upcoming and before is not None and before <= now:
            out.append(
                f"only upcoming events (not ended) were asked for, but they must start by {self._end_text()}, in "
                "the past: only events still running match, often none"
            )
        return out

    # -- the frame -------------------------------------------------------------------------------

    def apply(self, df: pd.DataFrame) -> pd.DataFrame:
        """Apply the client-side filters to an events frame (a new frame; ``df`` is not changed).

        Rows whose ``startDateTime`` is missing are dropped by a date bound; rows whose
        ``eventStatus`` is missing are dropped by a status filter. ``attrs`` are carried over.

        Parameters
        ----------
        df : pandas.DataFrame
            An events frame (``startDateTime`` ``datetime64[ns, UTC]``, ``eventStatus`` ``string``).

        Returns
        -------
        pandas.DataFrame
            ``df`` itself when there is nothing to filter, else the kept rows with a fresh ``RangeIndex``.
        """
        if not self.has_client_filters:
            return df
        import pandas as pd

        mask = pd.Series(True, index=df.index)
        if self.status:
            wanted = {s.lower() for s in self.status}
            mask &= df["eventStatus"].str.lower().isin(wanted).fillna(False).astype(bool)
        if self.start is not None:
            mask &= (df["startDateTime"] >= pd.Timestamp(self.start)).fillna(False).astype(bool)
        if self.end is not None:
            before = self.end_before
            assert before is not None
            kept = (
                df["startDateTime"] < pd.Timestamp(before)
                if self.end_date_only
                else (df["startDateTime"] <= pd.Timestamp(self.end))
            )
            mask &= kept.fillna(False).astype(bool)
        out = df.loc[mask].reset_index(drop=True)
        out.attrs = dict(df.attrs)
        return out


def _statuses(status: Any) -> tuple[str, ...]:
    if status is None:
        return ()
    values = [status] if isinstance(status, str) else list(status)
    known = {s.lower(): s for s in STATUSES}
    out = []
    for value in values:
        key = str(value).strip().lower()
        if key not in known:
            raise QueryError("status", f"unknown {{status}} {value!r}; expected one of {', '.join(STATUSES)}")
        out.append(known[key])
    return tuple(dict.fromkeys(out))
