"""One call of the client: every tenant of a query, its listing walk, then (if asked) its detail walk.

:func:`walk_events` runs :func:`~engagifii_data.walk.walk_listing` for each tenant, then
:func:`~engagifii_data.details.walk_details` for the events listed, and concatenates several tenants
into one frame with a leading ``tenant`` column (:func:`concat_tenants`). It knows nothing of HTTP: the
client passes its page and detail fetchers. Checkpoints: ``walk.jsonl`` holds one tenant's pages,
``walk.ACME.jsonl`` one tenant's of several (:func:`tenant_checkpoint`), and the details are saved
beside them (``walk.details.jsonl``, ``walk.ACME.details.jsonl``).
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from ..exceptions import IncompleteWalkError
from ..frames import COERCED_ATTR, NAIVE_DATETIMES_ATTR, empty_events_frame
from ..pagination import Page
from ..query import EventQuery
from ..reports.walk_report import WalkReport
from ..transport import RequestHooks, Stats
from .details import DetailAnswer
from .listing import walk_listing
from .progress import ProgressArg

__all__ = ["WalkOptions", "concat_tenants", "tenant_checkpoint", "walk_events", "walk_tenant_details"]


@dataclass(frozen=True)
class WalkOptions:
    """How one call walks: concurrency, progress, cancel, checkpoint, and whether details are fetched.

    ``details``: None (the listing only), ``"merge"`` (each listed event's detail folded into its row,
    ``events(details=True)``) or ``"rows"`` (the detail rows, ``event_details()``).

    Raises
    ------
    ValueError
        ``workers`` is not an integer >= 1, or ``details`` is not one of the values above.
    """

    workers: int = 4
    progress: ProgressArg = None
    cancel: threading.Event | None = None
    checkpoint: Path | None = None
    allow_incomplete: bool = False
    details: str | None = None

    def __post_init__(self) -> None:
        workers = self.workers
        if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
            raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
        if self.details not in (None, "merge", "rows"):
            raise ValueError(f"details must be None, 'merge' or 'rows', got {self.details!r}")
        if self.checkpoint is not None:
            object.__setattr__(self, "checkpoint", Path(self.checkpoint))


#: ``fetch_page(query, page_number, hooks) -> Page`` and ``fetch_detail(tenant, event_id, hooks) -> DetailAnswer``.
QueryPageFetcher = Callable[[EventQuery, int, RequestHooks], Page]
TenantDetailFetcher = Callable[[str, str, RequestHooks], DetailAnswer]


def walk_events(
    query: EventQuery,
    options: WalkOptions,
    *,
    fetch_page: QueryPageFetcher,
    fetch_detail: TenantDetailFetcher,
    stats: Stats | None = None,
    several: bool = False,
) -> pd.DataFrame:
    """Walk every tenant of ``query`` (the listing, then the details if asked) into one frame.

    With ``several`` (or more than one tenant) the frames are concatenated with a leading ``tenant``
    column (:func:`concat_tenants`), each tenant with its own checkpoint file (:func:`tenant_checkpoint`),
    every checkpoint path checked before the first request.

    Raises
    ------
    IncompleteWalkError
        A tenant's walk could not be completed (its reason names the tenant and those completed).
    """
    from ..checkpoint import check_path

    codes = query.tenants
    if len(codes) == 1 and not several:
        return _walk_tenant(query, options, fetch_page, fetch_detail, stats)
    for code in codes:
        path = tenant_checkpoint(options.checkpoint, code)
        if path is not None:
            check_path(path)
    frames = []
    for code in codes:
        own = tenant_checkpoint(options.checkpoint, code) if len(codes) > 1 else options.checkpoint
        try:
            frames.append(
                _walk_tenant(query.for_tenant(code), replace(options, checkpoint=own), fetch_page, fetch_detail, stats)
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
                saved_pages=exc.saved_pages,
            ) from exc
    return concat_tenants(codes, frames)


def _walk_tenant(
    query: EventQuery,
    options: WalkOptions,
    fetch_page: QueryPageFetcher,
    fetch_detail: TenantDetailFetcher,
    stats: Stats | None,
) -> pd.DataFrame:
    listing = walk_listing(
        functools.partial(fetch_page, query),
        query,
        stats=stats,
        workers=options.workers,
        progress=options.progress,
        cancel=options.cancel,
        checkpoint=options.checkpoint,
        allow_incomplete=options.allow_incomplete,
    )
    if options.details is None:
        return listing
    ids = listing["id"].tolist() if "id" in listing else [None] * len(listing)  # the detail walk sorts them out
    return walk_tenant_details(query.tenant, ids, listing, options, fetch_detail, stats)


def walk_tenant_details(
    tenant: str,
    ids: Sequence[Any],
    listing: pd.DataFrame | None,
    options: WalkOptions,
    fetch_detail: TenantDetailFetcher,
    stats: Stats | None = None,
) -> pd.DataFrame:
    """The details of ``ids`` (:func:`engagifii_data.details.walk_details`), saved beside the checkpoint.

    The detail checkpoint of ``walk.jsonl`` is ``walk.details.jsonl``
    (:func:`~engagifii_data.checkpoint.detail_checkpoint_path`).
    """
    from ..checkpoint import detail_checkpoint_path
    from .details import walk_details

    checkpoint = options.checkpoint
    return walk_details(
        functools.partial(fetch_detail, tenant),
        tenant,
        ids,
        listing=listing,
        merge=options.details == "merge",
        stats=stats,
        workers=options.workers,
        progress=options.progress,
        cancel=options.cancel,
        checkpoint=detail_checkpoint_path(checkpoint) if checkpoint is not None else None,
        allow_incomplete=options.allow_incomplete,
    )


def tenant_checkpoint(path: str | os.PathLike[str] | None, tenant: str) -> Path | None:
    """The checkpoint file of one tenant in a multi-tenant walk: ``walk.jsonl`` -> ``walk.ACME.jsonl``."""
    if path is None:
        return None
    p = Path(path)
    return p.with_name(f"{p.stem}.{tenant}{p.suffix}")


def concat_tenants(codes: Sequence[str], frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """One frame for several tenants: a leading ``tenant`` column, the reports combined.

    A field the API itself calls ``tenant`` is kept, renamed ``record.tenant``. ``attrs`` hold the
    combined :class:`WalkReport` (each tenant's under ``tenants``) and the summed per-column counts.
    """
    parts = []
    for code, frame in zip(codes, frames, strict=True):
        part = frame.copy()
        if "tenant" in part.columns:
            part = part.rename(columns={"tenant": "record.tenant"})
        part.insert(0, "tenant", pd.Series([code] * len(part), dtype="string", index=part.index))
        parts.append(part)
    out = pd.concat(parts, ignore_index=True) if parts else empty_events_frame(tenant="")
    reports = [WalkReport.of(frame) for frame in frames]
    combined = WalkReport.combine(reports)
    out.attrs = {COERCED_ATTR: combined.coerced, NAIVE_DATETIMES_ATTR: combined.naive_datetimes}
    return combined.attach(out)
