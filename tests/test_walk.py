"""The listing walk driven by fake page fetchers: order, failures, cancel, re-reads, resume (no server)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from engagifii_data.exceptions import (
    IncompleteWalkError,
    PaginationError,
    ServerError,
    StopRequested,
)
from engagifii_data.pagination import Page
from engagifii_data.query import EventQuery
from engagifii_data.reports import WalkReport
from engagifii_data.transport import RequestHooks, RetryNotice, Stats
from engagifii_data.walk import WalkProgress, walk_listing


class FakeListing:
    """A listing of ``total`` events served ``size`` per page, with scripted misbehaviour."""

    def __init__(self, total: int, size: int = 10) -> None:
        self.ids = [f"e{i:04d}" for i in range(total)]
        self.size = size
        self.calls: list[int] = []
        self.fail: set[int] = set()
        self.grow_after_page_1 = 0
        self.ignore_page_number = False
        self.block: threading.Event | None = None
        self.retry_on: set[int] = set()
        self._lock = threading.Lock()

    def __call__(self, number: int, hooks: RequestHooks) -> Page:
        with self._lock:
            self.calls.append(number)
        if hooks.stop is not None and hooks.stop():
            raise StopRequested()
        if self.block is not None and number > 1:
            while not self.block.wait(0.01):
                if hooks.stop is not None and hooks.stop():
                    raise StopRequested()
        if number in self.fail:
            raise ServerError(500, "INTERNAL_ERROR", "boom", "trace-1", "/api/1.0/event/list")
        if number in self.retry_on and hooks.on_retry is not None:
            hooks.on_retry(RetryNotice("/api/1.0/event/list", number, "HTTP 503", 2.0, 1))
        served = 1 if self.ignore_page_number else number
        rows = [{"id": i, "name": f"Event {i}"} for i in self.ids[(served - 1) * self.size : served * self.size]]
        page = Page(number, rows, len(self.ids))
        if number == 1 and self.grow_after_page_1:
            self.ids[1:1] = [f"new{i}" for i in range(self.grow_after_page_1)]
            self.grow_after_page_1 = 0
        return page


def walk(listing: Callable[[int, RequestHooks], Page], **kwargs: Any) -> Any:
    return walk_listing(listing, EventQuery(("T1",), page_size=10), progress=False, **kwargs)


@pytest.mark.parametrize("workers", [1, 2, 4, 8])
@pytest.mark.parametrize("total", [0, 1, 10, 11, 95])
def test_every_page_once_in_order(workers: int, total: int) -> None:
    listing = FakeListing(total)
    stats = Stats()
    df = walk(listing, workers=workers, stats=stats)
    assert df["id"].tolist() == listing.ids
    assert sorted(listing.calls) == list(range(1, max(1, -(-total // 10)) + 1))
    report = WalkReport.of(df)
    assert (report.complete, report.total_count, report.rows_fetched, report.missing_pages) == (True, total, total, ())
    assert report.pages == len(listing.calls)


def test_a_failing_page_keeps_the_rows_before_it_and_names_what_is_missing() -> None:
    listing = FakeListing(50)
    listing.fail = {3}
    with pytest.raises(IncompleteWalkError) as caught:
        walk(listing, workers=1)
    error = caught.value
    assert isinstance(error.cause, ServerError)
    assert error.missing_pages == [3, 4, 5]
    assert error.partial is not None and error.partial["id"].tolist() == listing.ids[:20]
    report = WalkReport.of(error.partial)
    assert report.complete is False and report.missing_pages == (3, 4, 5)


def test_allow_incomplete_returns_the_partial_frame() -> None:
    listing = FakeListing(50)
    listing.fail = {5}
    df = walk(listing, workers=2, allow_incomplete=True)
    assert len(df) == 40 and WalkReport.of(df).complete is False


def test_a_failed_walk_resumes_from_its_checkpoint_without_refetching(tmp_path: Path) -> None:
    listing = FakeListing(50)
    listing.fail = {4}
    checkpoint = tmp_path / "walk.jsonl"
    with pytest.raises(IncompleteWalkError) as caught:
        walk(listing, workers=1, checkpoint=checkpoint)
    assert caught.value.checkpoint == str(checkpoint)
    listing.fail.clear()
    listing.calls.clear()
    df = walk(listing, workers=1, checkpoint=checkpoint)
    assert sorted(listing.calls) == [1, 4, 5]  # page 1 re-checks the listing; 2 and 3 come from disk
    assert df["id"].tolist() == listing.ids
    assert WalkReport.of(df).resumed_pages == 2
    assert not checkpoint.exists()


def test_cancel_before_page_1_sends_nothing_more() -> None:
    listing = FakeListing(30)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(IncompleteWalkError, match="cancelled"):
        walk(listing, cancel=cancel)
    assert listing.calls == [1]  # the fetcher saw the stop signal at once


def test_cancel_mid_walk_returns_the_rows_so_far() -> None:
    listing = FakeListing(200)
    listing.block = threading.Event()
    cancel = threading.Event()
    threading.Timer(0.1, cancel.set).start()
    with pytest.raises(IncompleteWalkError, match="cancelled") as caught:
        walk(listing, workers=4, cancel=cancel)
    assert caught.value.partial is not None and caught.value.partial["id"].tolist() == listing.ids[:10]
    assert caught.value.missing_pages[0] == 2


def test_a_listing_that_grows_is_read_once_more() -> None:
    listing = FakeListing(30)
    listing.grow_after_page_1 = 3
    df = walk(listing, workers=1)
    assert sorted(df["id"]) == sorted(listing.ids) and len(df) == 33
    assert WalkReport.of(df).complete is True


def test_a_server_that_ignores_the_page_number_is_a_pagination_error() -> None:
    listing = FakeListing(30)
    listing.ignore_page_number = True
    with pytest.raises(IncompleteWalkError) as caught:
        walk(listing, workers=1)
    assert isinstance(caught.value.cause, PaginationError)
    assert "ignore the page number" in str(caught.value)


def test_progress_reports_pages_and_retries() -> None:
    listing = FakeListing(30)
    listing.retry_on = {2}
    seen: list[WalkProgress] = []
    walk_listing(listing, EventQuery(("T1",), page_size=10), progress=seen.append, workers=1)
    pages = [p for p in seen if p.retrying is None]
    retries = [p for p in seen if p.retrying is not None]
    assert [(p.pages_done, p.rows) for p in pages] == [(1, 10), (2, 20), (3, 30)]
    assert len(retries) == 1 and str(retries[0].retrying) == "retrying page 2 in 2 s: HTTP 503"


def test_client_filters_apply_after_the_walk_and_the_report_counts_both() -> None:
    listing = FakeListing(25)
    rows = [{"id": i, "eventStatus": "Draft" if n % 5 else "Published"} for n, i in enumerate(listing.ids)]

    def fetch(number: int, hooks: RequestHooks) -> Page:
        return Page(number, rows[(number - 1) * 10 : number * 10], len(rows))

    df = walk_listing(fetch, EventQuery(("T1",), status="published", page_size=10), progress=False)
    report = WalkReport.of(df)
    assert (len(df), report.rows, report.rows_fetched) == (5, 5, 25)
    assert report.client_filters["status"] == ["Published"]
