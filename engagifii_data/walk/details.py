"""The concurrent detail walk: ``GET /api/1.0/event/{id}`` for every event, or a clear account of what is missing.

Like :mod:`engagifii_data.walk`, this module knows nothing of HTTP: it is given a *detail fetcher*
(``fetch(event_id, hooks) -> DetailAnswer``) and the ids, and returns a typed events frame with its
:class:`~engagifii_data.reports.WalkReport` in ``attrs``. The client passes a fetcher that sends the
GET through the session's transport (one token, one retry policy, the rate limit).

How a detail walk goes:

1. The ids are de-duplicated (first occurrence kept); with a checkpoint, the details saved by an
   earlier run are taken from it and only the others are requested.
2. ``workers`` threads fetch them (:class:`~engagifii_data.prefetch.Prefetcher`, the listing walk's,
   with a wider window: each answer is one event), under one :class:`AdaptiveConcurrency` that backs
   off after a 429; answers are accepted in id order and converted in batches while the walk waits.
3. An event that answers 404 was deleted since it was listed: it is recorded in the report
   (``missing_ids``), and the walk goes on. Any other failure (after the retries) stops the walk as a
   failed page does: requests not yet sent are dropped, and the details so far become the
   ``.partial`` frame of :class:`IncompleteWalkError` (resumable from the checkpoint).
4. ``cancel`` is polled before every request and during every wait.

:func:`merge_details` folds the details into the listing frame (``events(details=True)``).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from ..checkpoint import DetailCheckpoint
from ..exceptions import EngagifiiError, IncompleteWalkError, PaginationError, StopRequested, safe_text
from ..frames import COERCED_ATTR, NAIVE_DATETIMES_ATTR
from ..pacing import AdaptiveConcurrency
from ..reports.walk_report import WalkReport
from ..transport import RequestHooks, Stats
from .ids import detail_id, fetchable_ids
from .prefetch import BatchedFrames, Prefetcher
from .progress import ProgressArg, ProgressReporter

logger = logging.getLogger(__name__)

__all__ = ["DetailAnswer", "DetailFetcher", "merge_details", "walk_details"]


class DetailAnswer(NamedTuple):
    """One detail answer: the event object (None when the event is gone: HTTP 404) and repaired texts."""

    data: dict[str, Any] | None
    repaired: int = 0


#: Fetches one event's detail: ``fetch(event_id, hooks) -> DetailAnswer`` (raises EngagifiiError, StopRequested).
DetailFetcher = Callable[[str, RequestHooks], DetailAnswer]


@dataclass
class _Outcome:
    """What one detail walk got: rows in id order, the 404s, and why it stopped early (if it did)."""

    requested: int
    frame: pd.DataFrame | None = None
    ids: list[str] = field(default_factory=list)  # the id of every row of ``frame``, in order
    missing: list[str] = field(default_factory=list)
    resumed: int = 0
    skipped: int = 0  # listed ids that fail the detail id rule: never requested
    repaired: int = 0
    reason: str | None = None
    cause: BaseException | None = None
    gate: AdaptiveConcurrency | None = None

    @property
    def complete(self) -> bool:
        return self.reason is None


def unique_ids(ids: Sequence[Any]) -> list[str]:
    """Ids a caller named, de-duplicated in order; each must pass the detail id rule.

    Raises
    ------
    ValueError
        An id that fails :func:`~engagifii_data.walk.ids.detail_id` (empty, NA, not text, or one
        that would change the request path).
    """
    out: dict[str, None] = {}
    for value in ids:
        eid = detail_id(value)
        if eid is None:
            raise ValueError(f"invalid event id {safe_text(value, 60)!r}")
        out.setdefault(eid, None)
    return list(out)


def walk_details(
    fetch: DetailFetcher,
    tenant: str,
    ids: Sequence[Any],
    *,
    listing: pd.DataFrame | None = None,
    merge: bool = False,
    stats: Stats | None = None,
    workers: int = 4,
    progress: ProgressArg = None,
    cancel: threading.Event | None = None,
    checkpoint: str | Path | None = None,
    allow_incomplete: bool = False,
) -> pd.DataFrame:
    """Fetch every event's detail into a typed frame (or merge them into ``listing``).

    Parameters
    ----------
    fetch : callable
        ``fetch(event_id, hooks) -> DetailAnswer``; ``hooks`` carry the concurrency gate, the stop
        signal and the retry callback that every request must honour.
    tenant : str
        The tenant the ids belong to.
    ids : sequence
        Event ids, e.g. a listing's ``id`` column: de-duplicated here (first occurrence kept); an id
        that fails the detail id rule (:func:`~engagifii_data.walk.ids.detail_id`: missing, not
        text, or able to change the request path) is not requested and is counted as
        ``details_skipped``.
    listing : pandas.DataFrame, optional
        The listing frame the ids came from: its report is the base of this walk's report (pages,
        totals, filters), and with ``merge`` the details are folded into it (:func:`merge_details`).
    merge : bool
        Return ``listing`` enriched with the details instead of the detail rows.
    stats : Stats, optional
        The session's counters (the report's ``requests``/``retries`` grow by this walk's share).
    workers : int
        Concurrent detail requests (default 4).
    progress : bool, callable or None
        See :class:`~engagifii_data.progress.ProgressReporter` (phase ``"details"``).
    cancel : threading.Event, optional
        When set, the walk stops at once; requests in flight are cut off (their answers are not kept).
    checkpoint : path, optional
        The detail checkpoint file (:class:`~engagifii_data.checkpoint.DetailCheckpoint`).
    allow_incomplete : bool
        Return the partial frame (marked incomplete) instead of raising, unless an answer could not
        be read as an event (default False).

    Returns
    -------
    pandas.DataFrame
        One row per detail received, in id order (declared columns and dtypes of
        ``engagifii_data.frames.EVENT_COLUMNS``, new fields after them); with ``merge``, the listing's
        rows. ``attrs["engagifii"]`` holds the report with ``details`` True.

    Raises
    ------
    IncompleteWalkError
        A detail could not be fetched (other than a 404), or the walk was cancelled; ``.partial``
        holds what was fetched (merged into the listing with ``merge``).
    ConfigurationError
        The checkpoint cannot be used.
    """
    started, fetched_at = time.monotonic(), _now()
    before = stats.snapshot() if stats is not None else {}
    wanted, skipped = fetchable_ids(ids)
    store = DetailCheckpoint.open(checkpoint, tenant=tenant) if checkpoint is not None else None
    bar = ProgressReporter(progress, tenant, phase="details")
    try:
        outcome = _fetch_all(fetch, wanted, workers, bar, cancel, store)
        outcome.skipped = skipped
    finally:
        bar.close()
        if store is not None:
            store.release()
    assert outcome.frame is not None
    details = outcome.frame
    enriched = 0
    if listing is not None and merge:
        df, enriched = merge_details(listing, details, outcome.ids)
    else:
        df = details
    after = stats.snapshot() if stats is not None else {}
    report = _report(
        outcome,
        tenant,
        WalkReport.find(listing) if listing is not None else None,
        fetched_at=fetched_at,
        merged=merge and listing is not None,
        rows=len(df),
        enriched=enriched,
        requests=after.get("http_requests", 0) - before.get("http_requests", 0),
        retries=after.get("retries", 0) - before.get("retries", 0),
        seconds=time.monotonic() - started,
    )
    if merge and listing is not None:
        df.attrs = {k: v for k, v in listing.attrs.items() if k in (COERCED_ATTR, NAIVE_DATETIMES_ATTR)}
    report.attach(df)
    logger.info(
        "details tenant %s: %d of %d fetched (%d from the checkpoint), %d gone (404), %d skipped (no usable id), "
        "%d retries, %.2f s%s",
        tenant,
        report.details_fetched,
        report.details_requested,
        report.details_resumed,
        len(report.missing_ids),
        outcome.skipped,
        report.retries,
        report.seconds,
        "" if outcome.complete else " INCOMPLETE",
    )
    if not outcome.complete:
        if allow_incomplete and not isinstance(outcome.cause, PaginationError):
            return df
        raise IncompleteWalkError(
            None,
            outcome.reason or "incomplete",
            partial=df,
            cause=outcome.cause,
            checkpoint=str(store.path) if store is not None else None,
        ) from outcome.cause
    if store is not None:
        store.complete()
    return df


def _report(
    outcome: _Outcome,
    tenant: str,
    base: WalkReport | None,
    *,
    fetched_at: str,
    merged: bool,
    rows: int,
    enriched: int,
    requests: int,
    retries: int,
    seconds: float,
) -> WalkReport:
    """The walk's report: the listing's (when there was one) with the detail fields and this walk's share.

    The per-column counts (naive datetimes, coerced values) are those of the rows returned: the
    listing's when the details were merged into it, the details' otherwise.
    """
    assert outcome.frame is not None
    frame = outcome.frame
    fetched = len(outcome.ids)
    gate = outcome.gate
    counts: dict[str, Any] = {
        "naive_datetimes": dict(frame.attrs.get(NAIVE_DATETIMES_ATTR) or {}),
        "coerced": dict(frame.attrs.get(COERCED_ATTR) or {}),
    }
    fields: dict[str, Any] = {
        "details": True,
        "details_requested": outcome.requested,
        "details_fetched": fetched,
        "details_resumed": outcome.resumed,
        "details_skipped": outcome.skipped,
        "details_unfetched": outcome.requested - fetched - len(outcome.missing),
        "missing_ids": tuple(outcome.missing),
        "enriched": enriched,
        "rows": rows,
    }
    if base is None:
        return WalkReport(
            tenants=(tenant,),
            total_count=outcome.requested,
            complete=outcome.complete,
            fetched_at=fetched_at,
            requests=requests,
            retries=retries,
            rows_fetched=fetched,
            seconds=round(seconds, 3),
            repaired_text=outcome.repaired,
            concurrency=_concurrency(gate),
            **counts,
            **fields,
        )
    concurrency = _concurrency(gate)  # the details' limit: most of the requests; 429s of both counted
    concurrency["throttled"] = concurrency.get("throttled", 0) + base.concurrency.get("throttled", 0)
    return base.replace(
        complete=base.complete and outcome.complete,
        concurrency=concurrency,
        requests=base.requests + requests,
        retries=base.retries + retries,
        seconds=round(base.seconds + seconds, 3),
        repaired_text=base.repaired_text + outcome.repaired,
        **({} if merged else counts),
        **fields,
    )


def _now() -> str:
    import datetime as dt

    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _concurrency(gate: AdaptiveConcurrency | None) -> dict[str, int]:
    if gate is None:
        return {}
    return {"start": gate.start, "final": gate.limit, "ceiling": gate.ceiling, "throttled": gate.throttled}


def _fetch_all(
    fetch: DetailFetcher,
    wanted: list[str],
    workers: int,
    bar: ProgressReporter,
    cancel: threading.Event | None,
    store: DetailCheckpoint | None,
) -> _Outcome:
    """Every detail in ``wanted`` order; a failure ends the walk with the rows so far (never raises for one)."""
    gate = AdaptiveConcurrency(workers)
    abort = threading.Event()  # set when the walk ends: requests in flight skip their remaining retries

    def stop() -> bool:
        return abort.is_set() or (cancel is not None and cancel.is_set())

    hooks = RequestHooks(gate=gate, stop=stop, on_retry=bar.retrying)
    saved = store.saved() if store is not None else {}
    todo = [eid for eid in wanted if eid not in saved]
    outcome = _Outcome(requested=len(wanted), gate=gate)
    builder = BatchedFrames()

    def get(eid: str) -> DetailAnswer:
        answer = fetch(eid, hooks)
        if store is not None:
            store.save(eid, answer.data)
        return answer

    prefetch = Prefetcher(get, todo, workers=workers, ahead=max(64, workers * 16)) if workers > 1 and todo else None
    position = 0  # index into ``todo`` of the next detail to take from the network
    try:
        for done, eid in enumerate(wanted, start=1):
            if eid in saved:
                answer = DetailAnswer(saved[eid])
                outcome.resumed += 1
            else:
                if cancel is not None and cancel.is_set():
                    outcome.reason = "cancelled"
                    break
                if prefetch is not None and not prefetch.ready(position):
                    builder.flush(min_rows=500)  # convert held rows while this thread would only wait
                take = functools.partial(prefetch.result, position) if prefetch else functools.partial(get, eid)
                position += 1
                try:
                    answer = take()
                except StopRequested:
                    outcome.reason = "cancelled"
                    break
                except EngagifiiError as exc:
                    outcome.reason, outcome.cause = f"the detail of event {eid} could not be fetched: {exc}", exc
                    break
            _accept(outcome, builder, eid, answer)
            bar.report(done, len(wanted), len(outcome.ids), len(wanted))
    finally:
        abort.set()
        if prefetch is not None:
            prefetch.close()
    outcome.frame = builder.build()
    return outcome


def _accept(outcome: _Outcome, builder: BatchedFrames, eid: str, answer: DetailAnswer) -> None:
    outcome.repaired += answer.repaired
    if answer.data is None:
        outcome.missing.append(eid)
        return
    data = answer.data
    if data.get("id") is None:
        data = {**data, "id": eid}  # an answer without its id still belongs to the event asked for
    builder.add([data])
    outcome.ids.append(eid)


def merge_details(listing: pd.DataFrame, details: pd.DataFrame, ids: Sequence[str]) -> tuple[pd.DataFrame, int]:
    """The listing frame with each event's detail fields folded in (a new frame; neither input changes).

    For a row whose event has a detail, every column takes the detail's value where the detail has
    one (not NA): the detail wins for the fields it carries, and a field it leaves out keeps the
    listing's value. Rows without a detail (gone, or not fetched) keep the listing's values. Columns
    only the details have (new API fields) follow the listing's columns. Dtypes stay the declared
    ones (both frames have them).

    Parameters
    ----------
    listing : pandas.DataFrame
        An events frame (one tenant, no ``tenant`` column needed; it is kept if present).
    details : pandas.DataFrame
        The detail rows (an events frame).
    ids : sequence of str
        The event id of each row of ``details``, in order (the id asked for).

    Returns
    -------
    (pandas.DataFrame, int)
        The merged frame (``listing``'s index and ``attrs``) and the number of rows enriched.
    """
    n = len(listing)
    keys = listing["id"].astype(object).where(listing["id"].notna(), None).tolist() if "id" in listing else [None] * n
    positions = (
        pd.Index(list(ids), dtype=object).get_indexer(pd.Index(keys, dtype=object)) if len(ids) else np.full(n, -1)
    )
    has = positions >= 0
    enriched = int(has.sum())
    if not enriched:
        return listing.copy(), 0
    out = listing.copy(deep=False)
    take = np.where(has, positions, 0)
    for column in details.columns:
        incoming = details[column].take(take)
        incoming.index = listing.index
        if column in listing.columns:
            wins = has & incoming.notna().to_numpy(dtype=bool)
            if wins.any():
                out[column] = listing[column].where(~wins, incoming)
        else:
            out[column] = incoming.where(has, None) if incoming.dtype == object else incoming.where(has)
    out.attrs = dict(listing.attrs)
    return out, enriched
