"""Switchable misbehaviour of the sandbox (all off by default; no third-party imports)."""

from __future__ import annotations

from dataclasses import dataclass, field

#: Values allowed in :attr:`Faults.page_faults` and :attr:`Faults.detail_faults`.
PAGE_FAULTS = ("html503", "drop", "truncate")
#: Values allowed in :attr:`Faults.envelope`.
ENVELOPES = ("wire", "docs")


@dataclass
class Faults:
    """Faults injected by a running sandbox; tests may change any field while it serves.

    Attributes
    ----------
    latency : float
        Seconds slept at the start of every request, token and API alike (default 0).
    token_lifetime : int
        Seconds an issued access token lives: the token response's ``expires_in`` and the
        JWT's ``exp - iat`` (default 3600).
    rate_limit_every : int
        When N > 0, every Nth API request (list and detail alike, counted from when the fault
        is set, over all tenants) answers 429 with ``Retry-After: <retry_after>`` and the
        documented error envelope, code ``RATE_LIMITED`` (default 0: off).
    retry_after : str
        The ``Retry-After`` value sent with a 429: seconds (``"1"``) or an HTTP date
        (default ``"1"``).
    page_faults : dict of int to str
        Page number -> fault, applied to the *first* request of that page per tenant only
        (later attempts succeed): ``"html503"`` a 503 with an Azure-style HTML page
        (``Content-Type: text/html``); ``"drop"`` the TCP connection is closed without any
        response; ``"truncate"`` HTTP 200, ``Content-Type: application/json``, the body cut
        in half (with a matching ``Content-Length``, so only the JSON is broken).
    detail_faults : dict of str to str
        Event id (lower case) or ``"*"`` (every event) -> fault, applied to the *first*
        ``GET /api/1.0/event/{id}`` of that id per tenant only (later attempts succeed), with
        the same three faults as ``page_faults``; an id's own entry wins over ``"*"``. The
        attempt is spent even if the event does not exist (a ``truncate`` then answers 404).
    ignore_page_number : bool
        Always serve the rows of page 1, whatever page is asked for (the paging model still
        echoes the requested page number) (default False).
    insert_after_first_page : int
        When N > 0: right after page 1 of a tenant's listing has been served, insert N new
        events into that tenant, once per tenant, at positions spread through the listing,
        so later pages shift and the total grows by N (default 0).
    delete_after_listing : int
        When N > 0: once every page of a tenant's listing has been served (pages 1..last of one
        query, i.e. one page size and filter, whatever the order; truncated answers do not
        count), N events of that listing, spread through it, are deleted from the tenant, once
        per tenant: they were listed but no longer exist, so their detail answers 404
        ``NOT_FOUND`` and later listings leave them out (default 0). ``sb.delete_events()``
        deletes at any moment.
    fail_from_page : int or None
        Pages >= N always answer 500 ``INTERNAL_ERROR`` in the documented envelope
        (default None: off).
    max_page_size : int
        A larger ``PageSize`` is capped silently to this (the page just has fewer rows; the
        wire envelope's ``pagingModel.pageSize`` shows the cap) (default 100).
    envelope : str
        ``"wire"`` (default): ``{"collection": [...], "pagingModel": {"totalRecords": N,
        "pageNumber": p, "pageSize": s, "totalPages": t}}``; ``"docs"``:
        ``{"totalCount": N, "data": [...]}``.
    reject_tokens : bool
        Every API request (list and detail) answers 401 ``invalid_token`` (default False).
    """

    latency: float = 0.0
    token_lifetime: int = 3600
    rate_limit_every: int = 0
    retry_after: str = "1"
    page_faults: dict[int, str] = field(default_factory=dict)
    detail_faults: dict[str, str] = field(default_factory=dict)
    ignore_page_number: bool = False
    insert_after_first_page: int = 0
    delete_after_listing: int = 0
    fail_from_page: int | None = None
    max_page_size: int = 100
    envelope: str = "wire"
    reject_tokens: bool = False

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` naming every field whose value cannot be served, and why.

        The message has one ``field: what is wrong`` part per bad field, joined by ``; ``.
        """
        problems = [f"{name}: {why}" for name, why in self._problems()]
        if problems:
            raise ValueError("; ".join(problems))

    def _problems(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        if self.envelope not in ENVELOPES:
            out.append(("envelope", f"must be one of {', '.join(ENVELOPES)}, got {self.envelope!r}"))
        for page, fault in self.page_faults.items():
            if isinstance(page, bool) or not isinstance(page, int) or page < 1:
                out.append(("page_faults", f"keys are page numbers from 1, got {page!r}"))
            if fault not in PAGE_FAULTS:
                out.append(
                    ("page_faults", f"page {page}: the fault must be one of {', '.join(PAGE_FAULTS)}, got {fault!r}")
                )
        for event_id, fault in self.detail_faults.items():
            if not isinstance(event_id, str) or not event_id or event_id != event_id.strip().lower():
                out.append(("detail_faults", f"keys are lower-case event ids or '*', got {event_id!r}"))
            if fault not in PAGE_FAULTS:
                out.append(
                    ("detail_faults", f"{event_id}: the fault must be one of {', '.join(PAGE_FAULTS)}, got {fault!r}")
                )
        at_least = {
            "latency": (self.latency, 0, " seconds"),
            "token_lifetime": (self.token_lifetime, 1, " seconds"),
            "rate_limit_every": (self.rate_limit_every, 0, ""),
            "insert_after_first_page": (self.insert_after_first_page, 0, ""),
            "delete_after_listing": (self.delete_after_listing, 0, ""),
            "max_page_size": (self.max_page_size, 1, ""),
            "fail_from_page": (self.fail_from_page, 1, ""),
        }
        for name, (value, low, unit) in at_least.items():
            if value is not None and not value >= low:  # `not >=` also catches NaN
                out.append((name, f"must be at least {low}{unit}, got {value!r}"))
        return out
