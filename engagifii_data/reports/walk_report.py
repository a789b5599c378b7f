"""WalkReport: the typed record of one walk, and the rule that a partial walk is never a report.

A frame returned by :meth:`EngagifiiClient.events` carries its walk's record in
``df.attrs["engagifii"]``, a plain JSON-able dict (the public, documented form; Parquet files keep
it). :class:`WalkReport` is the typed view of that dict: the client writes the attrs from a
``WalkReport`` and everything that reads them (the CLI summary, the explorer, the writers, the
notebooks) reads them back with :meth:`WalkReport.of`, so a renamed key fails loudly instead of
reading as zero.

``df.attrs["engagifii"]`` keys (one tenant):

==========================  =====================================================================
``tenant``                  the tenant code (a list of codes for a multi-tenant frame)
``total_count``             the total the listing reported on page 1 (summed over tenants)
``complete``                True only when every page was fetched and the rows were verified
``fetched_at``              ISO 8601 UTC time the walk started (``...Z``)
``pages``                   pages accepted; ``planned_pages`` pages planned from page 1's total
``page_size``               the page size the server used (it may cap the one asked for)
``requests``, ``retries``   HTTP requests sent (every attempt) and attempts retried during the walk
``duplicates``              rows dropped because their id (content, for a row without one) was already collected
``rows_fetched``, ``rows``  unique rows fetched, rows kept after the client-side filters
``totals_seen``             every distinct total reported during the walk, in order
``missing_pages``           pages not fetched (a partial walk)
``resumed_pages``           pages taken from a checkpoint instead of the API
``seconds``                 the walk's duration
``server_filters``          ``{"only_upcoming", "search"}``
``client_filters``          ``{"start", "end", "status"}`` (see :class:`~engagifii_data.query.EventQuery`)
``naive_datetimes``         ``{column: count}`` of naive datetimes with no known zone
``coerced``                 ``{column: count}`` of values that did not fit their dtype (became NA)
``repaired_text``           texts in the answers that were not valid Unicode (repaired to U+FFFD)
``concurrency``             ``{"start", "final", "ceiling", "throttled"}`` of the adaptive limit
``tenants``                 multi-tenant frames: ``{code: the one-tenant dict}``
==========================  =====================================================================

Only when event details were fetched (``events(details=True)``, ``event_details()``):

==========================  =====================================================================
``details``                 True
``details_requested``       events whose detail was asked for (distinct ids)
``details_fetched``         detail answers received (those taken from a checkpoint included)
``details_resumed``         details taken from a checkpoint instead of the API
``details_unfetched``       details neither received nor gone: a partial walk (0 when complete)
``details_skipped``         listed rows whose id is missing or unsafe in a URL path: not requested
``missing_ids``             ids whose detail answered 404: deleted since they were listed
``enriched``                ``events(details=True)``: listing rows that got their detail's fields
==========================  =====================================================================

In a detail walk ``requests``, ``retries`` and ``seconds`` cover the listing and the details,
``rows_fetched`` counts the listing's rows (``event_details(ids=...)``: the details received), and
``concurrency`` is the detail requests' limit (``throttled`` counts the 429s of both).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..exceptions import ReportError

#: The ``df.attrs`` key holding the walk report.
ATTRS_KEY = "engagifii"
#: The detail walk's counters (in ``attrs`` only when ``details`` is True).
_DETAIL_COUNTS = (
    "details_requested",
    "details_fetched",
    "details_resumed",
    "details_unfetched",
    "details_skipped",
    "enriched",
)


def _counts(value: Any) -> dict[str, int]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): int(v) for k, v in value.items() if v}


@dataclass(frozen=True)
class WalkReport:
    """What one walk did and whether its rows are complete (immutable).

    Attributes
    ----------
    tenants : tuple of str
        The tenant code(s) walked, in order.
    total_count : int
        The total the listing reported (summed over tenants), in events.
    complete : bool
        True only when every page was fetched and the unique rows matched the total.
    fetched_at : str
        ISO 8601 UTC time the walk started.
    pages, planned_pages, page_size : int
        Pages accepted, pages planned from page 1's total, and the page size the server used.
    requests, retries : int
        HTTP requests sent to the API during the walk (every attempt) and attempts retried.
    duplicates : int
        Rows dropped because their id was already collected.
    rows_fetched, rows : int
        Unique rows fetched; rows kept after the client-side filters.
    totals_seen : tuple of int
        Distinct totals reported during the walk, in order.
    missing_pages : tuple of int
        Pages not fetched (empty for a complete walk).
    resumed_pages : int
        Pages taken from a checkpoint.
    seconds : float
        Duration of the walk.
    server_filters, client_filters : dict
        See :class:`~engagifii_data.query.EventQuery`.
    naive_datetimes, coerced : dict of str to int
        Per column: naive datetimes with no known zone, values that did not fit and became NA.
    repaired_text : int
        Texts in the answers that were not valid Unicode (invalid UTF-8, a lone surrogate) and were
        repaired to U+FFFD.
    concurrency : dict
        The adaptive concurrency limit: ``start``, ``final``, ``ceiling``, ``throttled``.
    details : bool
        Whether event details were fetched (the ``details_*`` fields below are meaningful).
    details_requested, details_fetched, details_resumed, details_unfetched : int
        Details asked for (distinct ids), received (checkpoint included), taken from a checkpoint,
        and neither received nor gone (a partial detail walk).
    details_skipped : int
        Listed rows whose id fails the detail id rule (missing, not text, or able to change the
        request path): never requested.
    missing_ids : tuple of str
        Events whose detail answered 404 (deleted since they were listed); not an error.
    enriched : int
        Listing rows that got their detail's fields (``events(details=True)``).
    per_tenant : tuple of WalkReport
        The one-tenant reports of a multi-tenant walk (empty for one tenant).
    extra : dict
        Keys of ``attrs["engagifii"]`` this version does not know (kept as they are).
    """

    tenants: tuple[str, ...]
    total_count: int = 0
    complete: bool = False
    fetched_at: str = ""
    pages: int = 0
    planned_pages: int = 0
    page_size: int = 0
    requests: int = 0
    retries: int = 0
    duplicates: int = 0
    rows_fetched: int = 0
    rows: int = 0
    totals_seen: tuple[int, ...] = ()
    missing_pages: tuple[int, ...] = ()
    resumed_pages: int = 0
    seconds: float = 0.0
    server_filters: dict[str, Any] = field(default_factory=dict)
    client_filters: dict[str, Any] = field(default_factory=dict)
    naive_datetimes: dict[str, int] = field(default_factory=dict)
    coerced: dict[str, int] = field(default_factory=dict)
    repaired_text: int = 0
    concurrency: dict[str, int] = field(default_factory=dict)
    details: bool = False
    details_requested: int = 0
    details_fetched: int = 0
    details_resumed: int = 0
    details_unfetched: int = 0
    details_skipped: int = 0
    missing_ids: tuple[str, ...] = ()
    enriched: int = 0
    per_tenant: tuple[WalkReport, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def tenant(self) -> str:
        """The tenant code, or the codes joined with ``,`` for a multi-tenant walk."""
        return ",".join(self.tenants)

    def replace(self, **changes: Any) -> WalkReport:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    # -- attrs -----------------------------------------------------------------------------------

    def to_attrs(self) -> dict[str, Any]:
        """The public ``df.attrs["engagifii"]`` dict (JSON-able; see the module docstring)."""
        out: dict[str, Any] = {
            "tenant": self.tenants[0] if len(self.tenants) == 1 and not self.per_tenant else list(self.tenants),
            "total_count": self.total_count,
            "complete": self.complete,
            "fetched_at": self.fetched_at,
            "pages": self.pages,
            "planned_pages": self.planned_pages,
            "page_size": self.page_size,
            "requests": self.requests,
            "retries": self.retries,
            "duplicates": self.duplicates,
            "rows_fetched": self.rows_fetched,
            "rows": self.rows,
            "totals_seen": list(self.totals_seen),
            "missing_pages": list(self.missing_pages),
            "resumed_pages": self.resumed_pages,
            "seconds": self.seconds,
            "server_filters": dict(self.server_filters),
            "client_filters": dict(self.client_filters),
            "naive_datetimes": dict(self.naive_datetimes),
            "coerced": dict(self.coerced),
            "repaired_text": self.repaired_text,
            "concurrency": dict(self.concurrency),
            **self.extra,
        }
        if self.details:
            out.update({name: getattr(self, name) for name in _DETAIL_COUNTS})
            out.update(details=True, missing_ids=list(self.missing_ids))
        if self.per_tenant:
            out["tenants"] = {report.tenant: report.to_attrs() for report in self.per_tenant}
        return out

    @classmethod
    def from_attrs(cls, meta: Mapping[str, Any]) -> WalkReport:
        """Read the ``attrs["engagifii"]`` dict back (missing keys take their defaults).

        Raises
        ------
        ReportError
            ``meta`` is not a mapping, or names no tenant.
        """
        if not isinstance(meta, Mapping) or "tenant" not in meta:
            raise ReportError("not an engagifii walk report: expected a dict with at least a 'tenant' key")
        known = {f.name for f in dataclasses.fields(cls)} - {"tenants", "per_tenant", "extra"}
        tenant = meta["tenant"]
        tenants = (str(tenant),) if isinstance(tenant, str) else tuple(str(t) for t in tenant)
        values: dict[str, Any] = {"tenants": tenants}
        for name in known:
            if name in meta and meta[name] is not None:
                values[name] = meta[name]
        for name in ("totals_seen", "missing_pages"):
            values[name] = tuple(int(v) for v in values.get(name, ()))
        values["missing_ids"] = tuple(str(v) for v in values.get("missing_ids", ()))
        values["details"] = bool(values.get("details", False))
        for name in ("naive_datetimes", "coerced"):
            values[name] = _counts(values.get(name))
        values["repaired_text"] = (
            int(values.get("repaired_text") or 0)
            if not isinstance(values.get("repaired_text"), Mapping)
            else sum(_counts(values["repaired_text"]).values())
        )
        values["complete"] = bool(values.get("complete", False))
        nested = meta.get("tenants")
        if isinstance(nested, Mapping):
            values["per_tenant"] = tuple(cls.from_attrs(m) for m in nested.values() if isinstance(m, Mapping))
        values["extra"] = {k: v for k, v in meta.items() if k not in known and k not in ("tenant", "tenants")}
        return cls(**values)

    @classmethod
    def of(cls, df: pd.DataFrame) -> WalkReport:
        """The report of the walk that made ``df`` (from ``df.attrs["engagifii"]``).

        Raises
        ------
        ReportError
            ``df`` carries no walk report (it was not returned by ``events()``, or its ``attrs``
            were dropped by a pandas operation that does not keep them).
        """
        meta = df.attrs.get(ATTRS_KEY)
        if meta is None:
            raise ReportError(
                "this frame carries no walk report (df.attrs['engagifii']): it was not returned by "
                "EngagifiiClient.events(), or a pandas operation dropped its attrs"
            )
        return cls.from_attrs(meta)

    @classmethod
    def find(cls, df: pd.DataFrame) -> WalkReport | None:
        """Like :meth:`of`, but None when ``df`` carries no walk report."""
        return cls.of(df) if df.attrs.get(ATTRS_KEY) is not None else None

    def attach(self, df: pd.DataFrame) -> pd.DataFrame:
        """Write this report into ``df.attrs["engagifii"]`` (in place) and return ``df``."""
        df.attrs[ATTRS_KEY] = self.to_attrs()
        return df

    # -- several tenants -------------------------------------------------------------------------

    @classmethod
    def combine(cls, reports: Sequence[WalkReport]) -> WalkReport:
        """One report for a multi-tenant frame: sums and totals over ``reports``, each kept in ``per_tenant``."""

        def total(name: str) -> int:
            return sum(int(getattr(r, name)) for r in reports)

        def merged(name: str) -> dict[str, int]:
            out: dict[str, int] = {}
            for r in reports:
                for column, n in getattr(r, name).items():
                    out[column] = out.get(column, 0) + n
            return out

        first = reports[0] if reports else None
        return cls(
            tenants=tuple(t for r in reports for t in r.tenants),
            total_count=total("total_count"),
            complete=all(r.complete for r in reports),
            fetched_at=min((r.fetched_at for r in reports), default=""),
            pages=total("pages"),
            planned_pages=total("planned_pages"),
            page_size=max((r.page_size for r in reports), default=0),
            requests=total("requests"),
            retries=total("retries"),
            duplicates=total("duplicates"),
            rows_fetched=total("rows_fetched"),
            rows=total("rows"),
            totals_seen=tuple(r.total_count for r in reports),
            missing_pages=(),
            resumed_pages=total("resumed_pages"),
            seconds=round(sum(r.seconds for r in reports), 3),
            server_filters=dict(first.server_filters) if first else {},
            client_filters=dict(first.client_filters) if first else {},
            naive_datetimes=merged("naive_datetimes"),
            coerced=merged("coerced"),
            repaired_text=total("repaired_text"),
            details=any(r.details for r in reports),
            details_requested=total("details_requested"),
            details_fetched=total("details_fetched"),
            details_resumed=total("details_resumed"),
            details_unfetched=total("details_unfetched"),
            details_skipped=total("details_skipped"),
            enriched=total("enriched"),
            missing_ids=tuple(i for r in reports for i in r.missing_ids),
            per_tenant=tuple(reports),
        )

    # -- words -----------------------------------------------------------------------------------

    def missing_text(self) -> str:
        """The missing pages as ranges (``"3-5, 9"``), or an empty string."""
        return page_ranges(self.missing_pages)


def refuse_incomplete(df: pd.DataFrame, allow_incomplete: bool) -> None:
    """Raise unless ``df`` may be written as a report: a partial walk never looks complete.

    Frames without a walk report (made by hand) are written as they are.

    Raises
    ------
    ReportError
        ``df`` is the partial result of a walk (``complete`` False) and ``allow_incomplete`` is False.
    """
    if allow_incomplete:
        return
    report = WalkReport.find(df)
    if report is None or report.complete:
        return
    detail = f"; pages not fetched: {report.missing_text()}" if report.missing_pages else ""
    if report.details_unfetched:
        detail += f"; event details not fetched: {report.details_unfetched:,}"
    raise ReportError(
        f"refusing to write a partial result ({len(df):,} rows of a total of {report.total_count:,}"
        f"{detail}) as if it were complete; finish or resume the walk, or pass allow_incomplete=True"
    )


def page_ranges(pages: Sequence[int]) -> str:
    """Page numbers as sorted ranges: ``[3, 4, 5, 9]`` -> ``"3-5, 9"``."""
    out: list[list[int]] = []
    for page in sorted(pages):
        if out and out[-1][1] == page - 1:
            out[-1][1] = page
        else:
            out.append([page, page])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in out)
