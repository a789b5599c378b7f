"""Concurrent page walks return exactly what sequential ones return (no timing assertions).

Against a sandbox tenant of 1,234 events (not a multiple of any page size used) with a small
latency so that worker threads really overlap: same frame, same row order as the sandbox's listing,
exactly one list request per page and one token request per walk, also when pages fail once; and the
frame builder keeps typed frames, not the raw records.
"""

from __future__ import annotations

import gc
import json
import math
import weakref
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from engagifii_data import EngagifiiClient, sandbox
from engagifii_data.frames import FrameBuilder

TENANT = "ODD"
EVENTS = 1234
PAGE_SIZE = 25  # 50 pages, the last one with 9 rows
PAGES = math.ceil(EVENTS / PAGE_SIZE)
LATENCY = 0.005


def _no_sleep(seconds: float) -> None:
    """Retry backoff without waiting (the faults below are recovered at once)."""


@pytest.fixture(scope="module")
def slow_sb() -> Iterator[Any]:
    """A sandbox of its own: one large tenant and latency, so that pages overlap in flight."""
    with sandbox.run(tenants={TENANT: EVENTS}, latency=LATENCY) as server:
        yield server


def _walk(server: Any, workers: int) -> tuple[pd.DataFrame, dict[str, int]]:
    server.reset_log()
    with EngagifiiClient(server.settings(), sleep=_no_sleep) as client:
        df = client.events(TENANT, page_size=PAGE_SIZE, workers=workers, progress=False)
        return df, client.stats.snapshot()


def _list_pages(server: Any, status: int | None = None) -> list[int]:
    return [r["page"] for r in list(server.log) if r["kind"] == "api" and (status is None or r["status"] == status)]


@pytest.fixture(scope="module")
def sequential(slow_sb: Any) -> pd.DataFrame:
    df, stats = _walk(slow_sb, 1)
    assert len(df) == EVENTS
    assert stats["token_requests"] == 1
    assert sorted(_list_pages(slow_sb)) == list(range(1, PAGES + 1))
    return df


@pytest.mark.parametrize("workers", [2, 4, 8])
def test_a_concurrent_walk_returns_the_sequential_frame(slow_sb: Any, sequential: pd.DataFrame, workers: int) -> None:
    df, _ = _walk(slow_sb, workers)
    pd.testing.assert_frame_equal(df, sequential)
    meta = df.attrs["engagifii"]
    assert meta["complete"] is True
    assert meta["total_count"] == EVENTS
    assert meta["pages"] == PAGES
    assert meta["duplicates"] == 0


@pytest.mark.parametrize("workers", [1, 2, 4, 8])
def test_one_list_request_per_page_and_one_token_request_per_walk(slow_sb: Any, workers: int) -> None:
    df, stats = _walk(slow_sb, workers)
    pages = _list_pages(slow_sb)
    assert len(pages) == PAGES
    assert Counter(pages) == Counter(range(1, PAGES + 1))  # every page exactly once
    assert slow_sb.token_requests == 1
    assert sum(1 for r in list(slow_sb.log) if r["kind"] == "token") == 1
    assert stats == {"token_requests": 1, "http_requests": PAGES, "retries": 0, "pages": PAGES}
    assert len(df) == EVENTS


@pytest.mark.parametrize("workers", [1, 4, 8])
def test_rows_keep_the_listing_order(slow_sb: Any, workers: int) -> None:
    df, _ = _walk(slow_sb, workers)
    assert df["id"].tolist() == [e["id"] for e in slow_sb.events(TENANT)]
    assert isinstance(df.index, pd.RangeIndex)
    assert df.index.equals(pd.RangeIndex(EVENTS))


@pytest.mark.parametrize("workers", [2, 4, 8])
def test_failing_pages_are_retried_and_the_frame_is_identical(sequential: pd.DataFrame, workers: int) -> None:
    # a fresh sandbox per walk: each page fault fires on the first attempt of that page only
    with sandbox.run(tenants={TENANT: EVENTS}, latency=LATENCY, page_faults={3: "drop", 7: "html503"}) as server:
        df, stats = _walk(server, workers)
        pd.testing.assert_frame_equal(df, sequential)
        served = _list_pages(server, status=200)
        assert Counter(served) == Counter(range(1, PAGES + 1))  # every page served exactly once
        failed = sorted(r["page"] for r in list(server.log) if r["kind"] == "api" and r["status"] != 200)
        assert failed == [3, 7]
        assert len(_list_pages(server)) == PAGES + 2
        assert server.token_requests == 1
        assert stats["token_requests"] == 1
        assert stats["retries"] == 2


# --------------------------------------------------------------------------------------------------
# The frame is built incrementally: typed frames are kept, raw records are not
# --------------------------------------------------------------------------------------------------


class _Record(dict):  # type: ignore[type-arg]
    """A dict that can be weakly referenced (plain dicts cannot)."""


def _records(n: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(json.dumps(sandbox.generate(tenants={TENANT: n})[TENANT]))
    for row in rows:
        row.pop("contacts", None)
    return rows


def test_the_builder_keeps_typed_frames_and_no_raw_record() -> None:
    records = [_Record(r, location=_Record(r["location"]) if r.get("location") else None) for r in _records(60)]
    refs = [weakref.ref(r) for r in records]
    refs += [weakref.ref(r["location"]) for r in records if r["location"] is not None]
    builder = FrameBuilder()
    for start in range(0, len(records), 25):
        builder.add(records[start : start + 25])
    del records
    gc.collect()
    assert all(ref() is None for ref in refs), "the builder retained raw records"
    storage = builder._batches  # typed columns, merged into frames every few batches and by build()
    assert [batch.rows for batch in storage] == [25, 25, 10]
    assert storage[0].columns["startDateTime"].dtype == "M8[ns]"
    assert storage[0].columns["registrantsCapacity"].type == pa.int64()
    assert builder.build().shape[0] == 60


def test_plain_records_take_the_fast_path_and_lists_are_copied() -> None:
    records = _records(40)
    builder = FrameBuilder()
    builder.add(records)
    reference = FrameBuilder()
    reference.add([_Record(r) for r in records])  # a dict subclass: the per-record path
    df = builder.build()
    pd.testing.assert_frame_equal(df, reference.build())
    raw_lists = {id(r[c]) for r in records for c in ("tags", "eventDates", "eventClasses") if c in r}
    cells = {id(v) for c in ("tags", "eventDates", "eventClasses") for v in df[c] if v is not None}
    assert raw_lists and cells
    assert raw_lists.isdisjoint(cells), "list cells must be copies, not the wire lists"
