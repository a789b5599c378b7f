"""Pure page-walk rules: envelope detection, the page plan, stop rules, repeat guard, de-duplication.

No HTTP here: the client feeds pages in, these rules decide what they mean.

Rules (from the vendor's API reference and the two response envelopes seen on the wire):

- **Envelope**: rows are found under ``data | collection | result | items`` and the total under
  ``totalCount | pagingModel.totalRecords | totalRecords | total`` (docs, wire and sibling-service
  shapes). Rows ``null`` or absent with a total of 0 are zero rows (an empty listing as real servers
  send it); the total may be missing or ``null`` on pages after page 1 (page 1's total stands).
  Anything else unrecognised -> :class:`PaginationError` naming the keys seen.
- **Absurd totals** (negative, fractional, not a number, over :data:`MAX_TOTAL` events, or more than
  :data:`MAX_PAGES` pages at the page size) -> :class:`PaginationError` before any plan is built;
  nothing is ever built per planned page (the plan is a ``range``).
- **Plan**: the first page's total and the *effective* page size (the server may cap ``PageSize``
  silently, so a first page shorter than requested but short of the total reveals the cap) give the
  number of pages ``ceil(total / size)``.
- **Stop** when the unique ids collected reach the total — never on a short page alone.
- **Row key** (:func:`row_key`): a row's ``id`` when it has a usable one, otherwise a hash of the
  row's canonical JSON, so rows without an id (missing, null, empty) are still recognised when repeated.
- **Repeat guard**: a page whose row keys equal the previous page's (a server ignoring the page
  number) raises :class:`PaginationError`; so does asking for a page past the plan + 1.
- **De-duplicate** by row key (rows shift when the listing changes during a walk); duplicates are
  counted.
- **Totals**: every page's total is recorded; a total that changes during the walk marks the walk
  unsettled (the client then re-reads or reports it incomplete, naming both totals).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .exceptions import PaginationError

#: Largest total count believed, in events (a listing this large is a broken total, not a tenant).
MAX_TOTAL = 10_000_000
#: Most pages a walk plans (``ceil(total / page size)``).
MAX_PAGES = 1_000_000

#: Keys that may hold the rows of a page, in the order tried.
ROW_KEYS: tuple[str, ...] = ("data", "collection", "result", "items")
#: Paths (nested keys) that may hold the total count, in the order tried.
TOTAL_PATHS: tuple[tuple[str, ...], ...] = (
    ("totalCount",),
    ("pagingModel", "totalRecords"),
    ("totalRecords",),
    ("total",),
)


#: Prefix of a content key: no id the API sends starts with a NUL character.
_CONTENT_KEY = "\x00sha256:"
_GUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")


def row_key(row: Mapping[str, Any]) -> str:
    """The key that identifies a listing row for the repeat guard and de-duplication.

    The row's ``id`` (as text) when it is usable: present, not null, not blank text, not an object or
    a list. Otherwise a SHA-256 of the row's canonical JSON (sorted keys, no spaces, ASCII escapes),
    so the same id-less row sent twice has the same key and is caught like a repeated id.
    """
    rid = row.get("id")
    if isinstance(rid, str) and rid.strip():
        text = rid.strip()
        guid = text.strip("{}").strip()
        return guid.lower() if _GUID.fullmatch(guid) else text  # GUIDs compare without case and braces
    if isinstance(rid, bool):
        pass  # true/false are not ids: keyed by content
    elif isinstance(rid, int):
        return str(rid)
    elif isinstance(rid, float) and math.isfinite(rid):
        return str(int(rid)) if rid.is_integer() else repr(rid)  # 1 and 1.0 are one id
    canonical = json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=repr)
    return _CONTENT_KEY + hashlib.sha256(canonical.encode("ascii")).hexdigest()


@dataclass(frozen=True)
class Page:
    """One page of a listing.

    Attributes
    ----------
    number : int
        1-based page number that was requested.
    rows : list of dict
        The events: as sent by :meth:`EngagifiiClient.list_page`; only those not seen on an earlier
        page when yielded by :meth:`EngagifiiClient.iter_pages`.
    total : int or None
        The total count the server reported with this page (None: a page after page 1 that did not
        say; page 1's total stands).
    repaired : int
        Texts in the answer that were not valid Unicode and were repaired to U+FFFD.
    """

    number: int
    rows: list[dict[str, Any]]
    total: int | None
    repaired: int = 0

    def with_rows(self, rows: list[dict[str, Any]]) -> Page:
        """The same page holding ``rows`` instead."""
        return Page(self.number, rows, self.total, self.repaired)

    @property
    def ids(self) -> list[str]:
        """Row ids in order (rows without an id are skipped)."""
        return [str(r["id"]) for r in self.rows if isinstance(r, Mapping) and r.get("id") is not None]

    @property
    def keys(self) -> list[str]:
        """Row keys in order (:func:`row_key`: the id, or a content hash for a row without one)."""
        return [row_key(r) for r in self.rows]


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


def _check_total(total: Any, number: int) -> int:
    """The total as an int, or PaginationError for anything absurd (:func:`plain_number`'s rule)."""
    from .responses.numbers import NotPlainNumber, plain_number  # here: this module imports no HTTP stack

    try:
        value = int(plain_number(total, "total count", whole=True))
    except NotPlainNumber as exc:
        raise PaginationError(number, str(exc)) from None
    if value < 0:
        raise PaginationError(number, f"negative total count {value}")
    if value > MAX_TOTAL:
        raise PaginationError(number, f"total count {value:,} is beyond the maximum of {MAX_TOTAL:,} events")
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


def parse_page(body: Any, number: int, *, repaired: int = 0) -> Page:
    """Find the rows and the total in a list response.

    Parameters
    ----------
    body : Any
        The decoded JSON of a ``POST /event/list`` answer.
    number : int
        The page number that was requested.
    repaired : int
        Texts repaired while decoding (carried on the page).

    Returns
    -------
    Page

    Raises
    ------
    PaginationError
        The body is not an object; it holds no recognised rows and total (the message names the keys
        found, so a new envelope can be added to :data:`ROW_KEYS` / :data:`TOTAL_PATHS`); page 1 has no
        total; or the total is absurd.
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
    _refuse_disagreeing_envelopes(body, number)
    checked = _check_total(total, number) if total is not None else None
    if rows is None and checked == 0:
        rows = []  # an empty listing sent as rows null, or without its rows key
    present = [k for k in body if isinstance(k, str) and k.lower() in ROW_KEYS]
    if rows is None and present and checked is not None:
        raise PaginationError(number, f"the rows ({present[0]}) are null although the total count is {checked:,}")
    if isinstance(rows, list) and not all(isinstance(r, dict) for r in rows):
        odd = sum(1 for r in rows if not isinstance(r, dict))
        raise PaginationError(number, f"{odd} of the {len(rows)} rows are not event objects (JSON objects)")
    if not isinstance(rows, list) or (checked is None and number == 1):
        missing = []
        if not isinstance(rows, list):
            missing.append("rows (" + " | ".join(ROW_KEYS) + ")")
        if checked is None:
            missing.append("total (" + " | ".join(".".join(p) for p in TOTAL_PATHS) + ")")
        raise PaginationError(
            number,
            "unrecognised response envelope: no "
            + " and no ".join(missing)
            + f"; keys present: {_short(sorted(map(str, body.keys()))[:20])}",
        )
    return Page(number=number, rows=[r for r in rows if isinstance(r, dict)], total=checked, repaired=repaired)


def _refuse_disagreeing_envelopes(body: Mapping[str, Any], number: int) -> None:
    """Two envelopes in one answer (``data`` and ``collection``, ``totalCount`` and ``pagingModel``)
    must say the same: reading one and ignoring the other would make a report of either answer.

    Raises
    ------
    PaginationError
        Two row lists, or two totals, that differ.
    """
    rows = {key: found for key in ROW_KEYS if (found := _lookup(body, (key,))) is not None}
    totals = {".".join(path): found for path in TOTAL_PATHS if (found := _lookup(body, path)) is not None}
    for what, seen in (("row lists", rows), ("total counts", totals)):
        values = list(seen.values())
        if any(v != values[0] for v in values[1:]):
            names = " and ".join(seen)
            raise PaginationError(
                number,
                f"the answer carries two envelopes whose {what} disagree ({names})",
            )


def effective_page_size(first: Page, requested: int) -> int:
    """The page size the server actually uses, learnt from page 1.

    A first page shorter than requested while the total is larger means the server capped the page
    size silently (other Engagifii APIs document caps of 100 or 200). A first page *longer*
    than requested means the server uses its own, larger size; the plan follows the server either way.
    """
    n = len(first.rows)
    total = first.total or 0
    if n > 0 and n != requested and (total > n or n > requested):
        return n
    return requested


def plan_pages(total: int, page_size: int) -> int:
    """Number of pages for ``total`` rows at ``page_size`` per page (at least 1).

    Raises
    ------
    PaginationError
        More than :data:`MAX_PAGES` pages.
    """
    if page_size < 1:
        raise ValueError("page_size must be >= 1")
    pages = max(1, math.ceil(total / page_size))
    if pages > MAX_PAGES:
        raise PaginationError(
            1, f"a total of {total:,} at {page_size} per page needs {pages:,} pages, over the maximum of {MAX_PAGES:,}"
        )
    return pages


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
        Rows dropped because their key (:func:`row_key`: id, or content without an id) was already
        collected.
    pages_done : list of int
        Page numbers accepted, in order.
    repaired : int
        Texts repaired to valid Unicode over the pages accepted.
    """

    first: Page
    requested_page_size: int
    total: int = 0
    page_size: int = 0
    planned_pages: int = 0
    totals_seen: list[int] = field(default_factory=list)
    duplicates: int = 0
    pages_done: list[int] = field(default_factory=list)
    repaired: int = 0
    _seen: set[str] = field(default_factory=set, repr=False)
    _previous_keys: list[str] = field(default_factory=list, repr=False)
    _empty_run: int = 0
    _previous_total: int = -1

    #: Consecutive empty pages, before the total is reached, that stop a walk (a total that is wrong).
    MAX_EMPTY_RUN: ClassVar[int] = 2

    def __post_init__(self) -> None:
        if self.first.total is None:
            raise PaginationError(1, "page 1 has no total count")
        self.total = self.first.total
        self.page_size = effective_page_size(self.first, self.requested_page_size)
        self.planned_pages = plan_pages(self.total, self.page_size)
        if self.total > 0 and not self.first.rows:
            raise PaginationError(1, f"page 1 is empty although the total count is {self.total}")

    @property
    def collected(self) -> int:
        """Unique rows collected so far (by :func:`row_key`)."""
        return len(self._seen)

    @property
    def done(self) -> bool:
        """True when the unique rows collected reach the total reported by page 1."""
        return self.collected >= self.total

    @property
    def settled(self) -> bool:
        """True when every page reported the same total and the unique rows equal it."""
        return len(self.totals_seen) <= 1 and self.collected == self.total

    def accept(self, page: Page) -> list[dict[str, Any]]:
        """Take the next page (in page order) and return its rows not collected before.

        Raises
        ------
        PaginationError
            The page repeats the previous page's rows (by :func:`row_key`), or lies past the planned
            pages + 1.
        """
        if page.number > self.planned_pages + 1:
            raise PaginationError(
                page.number,
                f"walk went past the planned {self.planned_pages} pages (+1); stopping instead of looping",
            )
        keys = page.keys
        # a page that does not repeat the total: the total stands as last reported
        total = (
            page.total
            if page.total is not None
            else (self._previous_total if self._previous_total >= 0 else self.total)
        )
        # the same rows as the previous page under the same total: the server ignores the page number.
        # Under a changed total it is a listing that shifted by a whole page: de-duplication and
        # the re-read handle that. Keys, not ids: id-less rows are compared by content.
        if self.pages_done and keys and keys == self._previous_keys and total == self._previous_total:
            what = "ids" if all(not k.startswith(_CONTENT_KEY) for k in keys) else "rows"
            raise PaginationError(
                page.number,
                f"returned the same {len(keys)} {what} as page {self.pages_done[-1]}: "
                "the server appears to ignore the page number",
            )
        if total not in self.totals_seen:
            self.totals_seen.append(total)
        self._empty_run = self._empty_run + 1 if not page.rows else 0
        if self._empty_run >= self.MAX_EMPTY_RUN and not self.done:
            raise PaginationError(
                page.number,
                f"{self._empty_run} pages in a row came back empty with {self.collected} of the "
                f"{total} events reported collected: the total count looks wrong; stopping instead of "
                f"walking the remaining {max(0, self.planned_pages - page.number)} planned pages",
            )
        fresh: list[dict[str, Any]] = []
        for row, key in zip(page.rows, keys, strict=True):
            if key in self._seen:
                self.duplicates += 1
                continue
            self._seen.add(key)
            fresh.append(row)
        self._previous_keys = keys
        self._previous_total = total
        self.repaired += page.repaired
        self.pages_done.append(page.number)
        return fresh

    def remaining_pages(self) -> range:
        """Pages 2..planned still to fetch after page 1 (a ``range``: nothing is built per page)."""
        return range(2, self.planned_pages + 1)
