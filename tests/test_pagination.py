"""Unit tests of the pure page-walk rules (no HTTP)."""

from __future__ import annotations

from typing import Any

import pytest

from engagifii_data.exceptions import PaginationError
from engagifii_data.pagination import Page, WalkState, effective_page_size, parse_page, plan_pages


def rows(start: int, n: int) -> list[dict[str, str]]:
    return [{"id": f"id-{i:05d}"} for i in range(start, start + n)]


@pytest.mark.parametrize(
    ("body", "n", "total"),
    [
        ({"totalCount": 7, "data": rows(0, 3)}, 3, 7),
        ({"collection": rows(0, 2), "pagingModel": {"totalRecords": 9, "pageNumber": 1}}, 2, 9),
        ({"itemCount": 1, "totalCount": 4, "result": rows(0, 1)}, 1, 4),
        ({"items": rows(0, 2), "totalRecords": 2}, 2, 2),
        ({"items": [], "total": 0}, 0, 0),
        ({"TotalCount": 5, "Data": rows(0, 5)}, 5, 5),
    ],
)
def test_parse_page_finds_every_documented_envelope(body: dict[str, Any], n: int, total: int) -> None:
    page = parse_page(body, 1)
    assert len(page.rows) == n
    assert page.total == total


def test_parse_page_names_the_keys_when_the_envelope_is_unknown() -> None:
    with pytest.raises(PaginationError) as info:
        parse_page({"events": [], "count": 3}, 2)
    assert info.value.page == 2
    assert "unrecognised response envelope" in str(info.value)
    assert "['count', 'events']" in str(info.value)


def test_parse_page_rejects_a_non_object_and_a_non_numeric_total() -> None:
    with pytest.raises(PaginationError):
        parse_page([{"id": "a"}], 1)
    with pytest.raises(PaginationError, match="not a number"):
        parse_page({"data": [], "totalCount": "many"}, 1)


def test_plan_and_effective_page_size_detect_a_silent_cap() -> None:
    first = Page(1, rows(0, 100), 2400)
    assert effective_page_size(first, 500) == 100
    assert plan_pages(2400, 100) == 24
    assert effective_page_size(Page(1, rows(0, 36), 36), 100) == 100
    assert plan_pages(0, 100) == 1
    assert plan_pages(101, 100) == 2


def test_walk_state_stops_on_the_total_not_on_a_short_page() -> None:
    state = WalkState(Page(1, rows(0, 10), 25), 10)
    state.accept(Page(1, rows(0, 10), 25))
    assert state.planned_pages == 3
    state.accept(Page(2, rows(10, 7), 25))  # short page in the middle: not the end
    assert not state.done
    state.accept(Page(3, rows(17, 8), 25))
    assert state.done
    assert state.settled
    assert state.collected == 25


def test_walk_state_raises_when_a_page_repeats_the_previous_one() -> None:
    first = Page(1, rows(0, 10), 30)
    state = WalkState(first, 10)
    state.accept(first)
    with pytest.raises(PaginationError) as info:
        state.accept(Page(2, rows(0, 10), 30))
    assert info.value.page == 2
    assert "ignore the page number" in info.value.reason


def test_walk_state_refuses_to_walk_past_the_plan() -> None:
    first = Page(1, rows(0, 10), 20)
    state = WalkState(first, 10)
    state.accept(first)
    state.accept(Page(2, rows(10, 10), 20))
    state.accept(Page(3, [], 20))
    with pytest.raises(PaginationError, match="past the planned 2 pages"):
        state.accept(Page(4, rows(99, 1), 20))


def test_walk_state_deduplicates_and_notices_a_changed_total() -> None:
    first = Page(1, rows(0, 10), 20)
    state = WalkState(first, 10)
    assert len(state.accept(first)) == 10
    fresh = state.accept(Page(2, rows(8, 10), 22))  # two rows shifted in from page 1
    assert len(fresh) == 8
    assert state.duplicates == 2
    assert state.totals_seen == [20, 22]
    assert not state.settled


def test_walk_state_rejects_an_empty_first_page_with_a_positive_total() -> None:
    with pytest.raises(PaginationError, match="page 1 is empty"):
        WalkState(Page(1, [], 5), 10)


def test_a_server_page_size_larger_than_requested_is_followed() -> None:
    first = Page(1, rows(0, 200), 450)
    state = WalkState(first, 100)
    assert state.page_size == 200
    assert state.planned_pages == 3


def test_empty_pages_before_the_total_stop_a_runaway_walk() -> None:
    first = Page(1, rows(0, 10), 1_000_000)
    state = WalkState(first, 10)
    state.accept(first)
    state.accept(Page(2, [], 1_000_000))
    with pytest.raises(PaginationError, match="2 pages in a row came back empty"):
        state.accept(Page(3, [], 1_000_000))


def test_a_page_repeated_under_a_changed_total_is_a_shift_not_a_broken_server() -> None:
    first = Page(1, rows(0, 1), 5)
    state = WalkState(first, 1)
    state.accept(first)
    assert state.accept(Page(2, rows(0, 1), 6)) == []  # one event inserted in front: page 2 = old page 1
    assert state.duplicates == 1
    assert not state.settled  # the client re-reads the listing
