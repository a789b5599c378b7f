"""Pure page-walk rules: envelope detection, the page plan, stop rules, repeat guard, de-duplication.

No HTTP here: the client feeds pages in, these rules decide what they mean.

Rules (DESIGN.md; engagifii-api.md "Listing events"):

- **Envelope**: rows are found under ``data | collection | result | items`` and the total under
  ``totalCount | pagingModel.totalRecords | totalRecords | total`` (docs, wire and sibling-service
  shapes). Neither found -> :class:`PaginationError` naming the keys seen.
- **Plan**: the first page's total and the *effective* page size (the server may cap ``PageSize``
  silently, so a first page shorter than requested but short of the total reveals the cap) give the
  number of pages ``ceil(total / size)``.
- **Stop** when the unique ids collected reach the total — never on a short page alone.
- **Repeat guard**: a page whose ids equal the previous page's ids (a server ignoring the page
  number) raises :class:`PaginationError`; so does asking for a page past the plan + 1.
- **De-duplicate** by ``id`` (rows shift when the listing changes during a walk); duplicates are
  counted.
- **Totals**: every page's total is recorded; a total that changes during the walk marks the walk
  unsettled (the client then re-reads or reports it incomplete, naming both totals).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .exceptions import PaginationError

#: Keys that may hold the rows of a page, in the order tried.
ROW_KEYS: tuple[str, ...] = ("data", "collection", "result", "items")
#: Paths (nested keys) that may hold the total count, in the order tried.
TOTAL_PATHS: tuple[tuple[str, ...], ...] = (
    ("totalCount",),
    ("pagingModel", "totalRecords"),
    ("totalRecords",),
    ("total",),
)


@dataclass(frozen=True)
class Page:
    """One page of a listing.

    Attributes
    ----------
    number : int
        1-based page number that was requested.
    rows : list of dict
        The events, as sent.
    total : int
        The total count the server reported with this page.
    """

    number: int
    rows: list[dict[str, Any]]
    total: int

    @property
    def ids(self) -> list[str]:
        """Row ids in order (rows without an id are skipped)."""
        return [str(r["id"]) for r in self.rows if isinstance(r, Mapping) and r.get("id") is not None]


def _lookup(body: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = body
    for key in path:
        if not isinstance(value, Mapping):
            return None
        found = None
        for k, v in value.items():
            if isinstance(k, str) and k.lower() == key.lower():
                found = v
                break
        value = found
        if value is None:
            return None
    return value


def parse_page(body: Any, number: int) -> Page:
    """Find the rows and the total in a list response.

    Parameters
    ----------
    body : Any
        The decoded JSON of a ``POST /event/list`` answer.
    number : int
        The page number that was requested.

    Returns
    -------
    Page

    Raises
    ------
    PaginationError
        The body is not an object, or holds no recognised rows or total (the message names the keys
        found, so a new envelope can be added to :data:`ROW_KEYS` / :data:`TOTAL_PATHS`).
    """
    if not isinstance(body, Mapping):
        raise PaginationError(number, f"expected a JSON object, got {type(body).__name__}")
    rows: Any = None
    for key in ROW_KEYS:
        rows = _lookup(body, (key,))
        if rows is not None:
            break
    total: Any = None
    for path in TOTAL_PATHS:
        total = _lookup(body, path)
        if total is not None:
            break
    if not isinstance(rows, list) or total is None:
        missing = []
        if not isinstance(rows, list):
            missing.append("rows (" + " | ".join(ROW_KEYS) + ")")
        if total is None:
            missing.append("total (" + " | ".join(".".join(p) for p in TOTAL_PATHS) + ")")
        raise PaginationError(
            number,
            "unrecognised response envelope: no " + " and no ".join(missing)
            + f"; keys present: {sorted(map(str, body.keys()))}",
        )
    try:
        total_int = int(total)
    except (TypeError, ValueError):
        raise PaginationError(number, f"total count is not a number: {total!r}") from None
    if total_int < 0:
        raise PaginationError(number, f"negative total count {total_int}")
    return Page(number=number, rows=[r for r in rows if isinstance(r, dict)], total=total_int)


def effective_page_size(first: Page, requested: int) -> int:
    """The page size the server actually uses, learnt from page 1.

    A first page shorter than requested while the total is larger means the server capped the page
    size silently (engagifii-api.md: servers of this family cap at 100 or 200). A first page *longer*
    than requested means the server uses its own, larger size; the plan follows the server either way.
    """
    n = len(first.rows)
    if n > 0 and n != requested and (first.total > n or n > requested):
        return n
    return requested


def plan_pages(total: int, page_size: int) -> int:
    """Number of pages for ``total`` rows at ``page_size`` per page (at least 1)."""
    if page_size < 1:
        raise ValueError("page_size must be >= 1")
    return max(1, math.ceil(total / page_size))


@dataclass
class WalkState:
    """Accumulates pages in page order and applies the stop, repeat and de-duplication rules.

    Parameters
    ----------
    first : Page
        Page 1.
    requested_page_size : int
        The ``PageSize`` that was sent.

    Attributes
    ----------
    total : int
        Total count reported by page 1.
    page_size : int
        Effective page size (see :func:`effective_page_size`).
    planned_pages : int
        Pages planned from page 1.
    totals_seen : list of int
        Distinct totals reported, in order of appearance.
    duplicates : int
        Rows dropped because their id was already collected.
    pages_done : list of int
        Page numbers accepted, in order.
    """

    first: Page
    requested_page_size: int
    total: int = 0
    page_size: int = 0
    planned_pages: int = 0
    totals_seen: list[int] = field(default_factory=list)
    duplicates: int = 0
    pages_done: list[int] = field(default_factory=list)
    _seen: set[str] = field(default_factory=set, repr=False)
    _previous_ids: list[str] = field(default_factory=list, repr=False)
    _unkeyed: int = 0
    _empty_run: int = 0
    _previous_total: int = -1

    #: Consecutive empty pages, before the total is reached, that stop a walk (a total that is wrong).
    MAX_EMPTY_RUN: ClassVar[int] = 2

    def __post_init__(self) -> None:
        self.total = self.first.total
        self.page_size = effective_page_size(self.first, self.requested_page_size)
        self.planned_pages = plan_pages(self.total, self.page_size)
        if self.first.total > 0 and not self.first.rows:
            raise PaginationError(1, f"page 1 is empty although the total count is {self.first.total}")

    @property
    def collected(self) -> int:
        """Unique rows collected so far (rows without an id count once each)."""
        return len(self._seen) + self._unkeyed

    @property
    def done(self) -> bool:
        """True when the unique rows collected reach the total reported by page 1."""
        return self.collected >= self.total

    @property
    def settled(self) -> bool:
        """True when every page reported the same total and the unique rows equal it."""
        return len(self.totals_seen) <= 1 and self.collected == self.total

    @property
    def latest_total(self) -> int:
        """The total reported by the most recent page."""
        return self.totals_seen[-1] if self.totals_seen else self.total

    def accept(self, page: Page) -> list[dict[str, Any]]:
        """Take the next page (in page order) and return its rows not collected before.

        Raises
        ------
        PaginationError
            The page repeats the previous page's ids, or lies past the planned pages + 1.
        """
        if page.number > self.planned_pages + 1:
            raise PaginationError(
                page.number,
                f"walk went past the planned {self.planned_pages} pages (+1); stopping instead of looping",
            )
        ids = page.ids
        # the same ids as the previous page under the same total: the server ignores the page number.
        # Under a changed total it is a listing that shifted by a whole page: de-duplication and
        # the re-read handle that.
        if self.pages_done and ids and ids == self._previous_ids and page.total == self._previous_total:
            raise PaginationError(
                page.number,
                f"returned the same {len(ids)} ids as page {self.pages_done[-1]}: "
                "the server appears to ignore the page number",
            )
        if page.total not in self.totals_seen:
            self.totals_seen.append(page.total)
        self._empty_run = self._empty_run + 1 if not page.rows else 0
        if self._empty_run >= self.MAX_EMPTY_RUN and not self.done:
            raise PaginationError(
                page.number,
                f"{self._empty_run} pages in a row came back empty with {self.collected} of the "
                f"{page.total} events reported collected: the total count looks wrong; stopping instead of "
                f"walking the remaining {max(0, self.planned_pages - page.number)} planned pages",
            )
        fresh: list[dict[str, Any]] = []
        for row in page.rows:
            rid = row.get("id")
            if rid is None:
                self._unkeyed += 1
                fresh.append(row)
                continue
            key = str(rid)
            if key in self._seen:
                self.duplicates += 1
                continue
            self._seen.add(key)
            fresh.append(row)
        self._previous_ids = ids
        self._previous_total = page.total
        self.pages_done.append(page.number)
        return fresh

    def remaining_pages(self) -> Sequence[int]:
        """Pages 2..planned still to fetch after page 1."""
        return range(2, self.planned_pages + 1)
