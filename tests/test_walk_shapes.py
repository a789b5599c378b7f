"""Data shapes a walk must survive, against a misbehaving server (tests/hostile_server.py).

Each section is one rule, one mechanism in one place, driven with several shapes of input:

1. the repeat guard compares rows without a usable id by content (``pagination.row_key``)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd
import pytest

from engagifii_data import EngagifiiClient, Settings
from engagifii_data.exceptions import IncompleteWalkError, PaginationError
from engagifii_data.pagination import Page, WalkState, row_key

from .helpers import SleepRecorder
from .hostile_server import Answer, HostileServer, Recorded, event_rows, listing_answer, token_answer

TOKEN_PATH = "/connect/token"
LIST_PATH = "/api/1.0/event/list"


@pytest.fixture
def hs() -> Iterator[HostileServer]:
    with HostileServer() as server:
        yield server


def client_for(hs: HostileServer, **overrides: Any) -> EngagifiiClient:
    values: dict[str, Any] = {
        "client_id": "c",
        "client_secret": "s3cret",
        "tenant_codes": ("T1",),
        "identity_url": hs.url,
        "api_base_url": hs.url,
        "connect_timeout": 1.0,
        "read_timeout": 3.0,
        "max_attempts": 2,
        "backoff": 0.0,
        "backoff_max": 0.0,
    }
    values.update(overrides)
    return EngagifiiClient(Settings(**values), sleep=SleepRecorder())


def walk(client: EngagifiiClient, **kwargs: Any) -> pd.DataFrame:
    kwargs.setdefault("progress", False)
    kwargs.setdefault("workers", 1)
    return client.events("T1", **kwargs)


# --------------------------------------------------------------------------------------------------
# 1. Repeat guard for rows without a usable id
# --------------------------------------------------------------------------------------------------

#: Ways a row can come without a usable id.
ID_LESS: dict[str, Callable[[int], dict[str, Any]]] = {
    "id-missing": lambda n: {"name": f"Event {n}"},
    "id-null": lambda n: {"id": None, "name": f"Event {n}"},
    "id-empty": lambda n: {"id": "", "name": f"Event {n}"},
    "id-blank": lambda n: {"id": "  ", "name": f"Event {n}"},
    "id-object": lambda n: {"id": {}, "name": f"Event {n}"},
    "id-list": lambda n: {"id": [], "name": f"Event {n}"},
}


@pytest.mark.parametrize("shape", sorted(ID_LESS))
@pytest.mark.parametrize("workers", [1, 4])
def test_the_same_id_less_page_for_every_page_number_is_a_pagination_error(
    shape: str, workers: int, hs: HostileServer
) -> None:
    rows = [ID_LESS[shape](n) for n in range(10)]
    hs.route("POST", TOKEN_PATH, token_answer())
    hs.route("POST", LIST_PATH, Answer(body={"collection": rows, "pagingModel": {"totalRecords": 30}}))
    with client_for(hs) as client, pytest.raises(IncompleteWalkError) as caught:
        walk(client, page_size=10, workers=workers)
    assert isinstance(caught.value.cause, PaginationError)
    assert "ignore the page number" in str(caught.value)
    partial = caught.value.partial
    assert partial is None or len(partial) <= 10  # never 30 rows made of three copies


@pytest.mark.parametrize("shape", sorted(ID_LESS))
def test_id_less_rows_repeated_on_a_later_page_are_duplicates_not_copies(shape: str, hs: HostileServer) -> None:
    pages = {1: [ID_LESS[shape](n) for n in range(10)], 2: [ID_LESS[shape](n) for n in range(10, 20)]}
    pages[3] = pages[1]  # page 3 repeats page 1 (not the previous page)

    def body(request: Recorded) -> dict[str, Any]:
        return {"collection": pages.get(request.page or 1, []), "pagingModel": {"totalRecords": 30}}

    hs.route("POST", TOKEN_PATH, token_answer())
    hs.route("POST", LIST_PATH, Answer(body=body))
    with client_for(hs) as client, pytest.raises(IncompleteWalkError) as caught:
        walk(client, page_size=10)
    partial = caught.value.partial
    assert partial is not None and len(partial) == 20
    assert partial.attrs["engagifii"]["duplicates"] >= 10


@pytest.mark.parametrize("shape", sorted(ID_LESS))
@pytest.mark.parametrize("workers", [1, 4])
def test_distinct_id_less_rows_are_all_kept(shape: str, workers: int, hs: HostileServer) -> None:
    rows = [ID_LESS[shape](n) for n in range(25)]
    hs.route("POST", TOKEN_PATH, token_answer())
    hs.route("POST", LIST_PATH, listing_answer(rows))
    with client_for(hs) as client:
        df = walk(client, page_size=10, workers=workers)
    assert df["name"].tolist() == [f"Event {n}" for n in range(25)]
    assert df.attrs["engagifii"]["complete"] is True and df.attrs["engagifii"]["duplicates"] == 0


def test_rows_with_ids_keep_the_id_rule(hs: HostileServer) -> None:
    rows = event_rows(20)
    # same id, different content: still one event (the id decides, not the content)
    pages = {1: rows[:10], 2: [{**rows[9], "name": "renamed"}, *rows[10:19]], 3: rows[19:]}

    def body(request: Recorded) -> dict[str, Any]:
        return {"collection": pages.get(request.page or 1, []), "pagingModel": {"totalRecords": 20}}

    hs.route("POST", TOKEN_PATH, token_answer())
    hs.route("POST", LIST_PATH, Answer(body=body))
    with client_for(hs) as client:
        df = walk(client, page_size=10)
    assert df["id"].tolist() == [r["id"] for r in rows]
    assert df.attrs["engagifii"]["duplicates"] == 1


def test_row_key_is_the_id_or_a_stable_content_hash() -> None:
    assert row_key({"id": "abc", "name": "x"}) == "abc"
    assert row_key({"id": 7}) == "7"
    a = row_key({"name": "x", "city": "Austin", "nested": {"b": 1, "a": [1, 2]}})
    b = row_key({"nested": {"a": [1, 2], "b": 1}, "city": "Austin", "name": "x"})
    assert a == b  # key order does not matter
    assert a != row_key({"name": "x", "city": "Boston", "nested": {"b": 1, "a": [1, 2]}})
    assert row_key({"id": None, "name": "x"}) != row_key({"id": "", "name": "x"}) != row_key({"name": "x"})
    assert row_key({"name": "\ud800 lone surrogate"})  # hashable whatever the text


def test_walk_state_compares_id_less_pages_by_content() -> None:
    rows = [{"name": f"E{n}"} for n in range(5)]
    state = WalkState(Page(1, rows, 15), 5)
    assert len(state.accept(state.first)) == 5
    with pytest.raises(PaginationError, match="same 5 rows as page 1"):
        state.accept(Page(2, [dict(r) for r in rows], 15))
