"""Data shapes a walk must survive, against a misbehaving server (tests/hostile_server.py).

Each section is one rule, one mechanism in one place, driven with several shapes of input:

1. the repeat guard compares rows without a usable id by content (``pagination.row_key``)
2. one rule decides which listed ids are fetched as details (``walk.ids.detail_id``); the others are
   skipped and counted (``details_skipped``), and ids are URL-quoted in the path
3. a 200 detail answer must carry the id asked for (retried, then a failed walk); only a 404 in the
   API's error envelope means "event gone" (``responses.detail``)
4. one object where a list is declared is a list of one; a scalar there is kept as a list of one and
   counted as coerced (``frames.values.to_list``), in the frame and the child tables
5. the child tables repair text that is not valid Unicode as the events frame does (``text.repair_text``)
6. CSV formula neutralising looks past any number of leading invisible characters, in linear time
"""

from __future__ import annotations

import io
import json
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd
import pytest

from engagifii_data import (
    EngagifiiClient,
    contacts,
    export_csv,
    export_excel,
    export_parquet,
    read_report,
    sessions,
)
from engagifii_data.cli import main as cli_main
from engagifii_data.exceptions import ApiError, IncompleteWalkError, NotFoundError, PaginationError
from engagifii_data.pagination import Page, WalkState, row_key
from engagifii_data.reports import WalkReport
from engagifii_data.reports.csv_writer import escape_text, neutralize_formula, restore_text
from engagifii_data.walk.ids import detail_id, fetchable_ids

from .helpers import SleepRecorder, hostile_settings
from .hostile_server import (
    Answer,
    HostileServer,
    Recorded,
    error_answer,
    event_rows,
    huge_answer,
    listing_answer,
    token_answer,
)

TOKEN_PATH = "/connect/token"
LIST_PATH = "/api/1.0/event/list"
EVENT_PREFIX = "/api/1.0/event/"


@pytest.fixture
def hs() -> Iterator[HostileServer]:
    with HostileServer() as server:
        yield server


def client_for(hs: HostileServer, **overrides: Any) -> EngagifiiClient:
    return EngagifiiClient(hostile_settings(hs, secret="s3cret", **overrides), sleep=SleepRecorder())


def cli_events(hs: HostileServer, tmp_path: Path, *argv: str) -> tuple[int, str, str]:
    env = tmp_path / "walk.env"
    env.write_text(
        f"ENGAGIFII_CLIENT_ID=c\nENGAGIFII_CLIENT_SECRET=s3cret\nENGAGIFII_TENANT_CODE=T1\n"
        f"ENGAGIFII_IDENTITY_SERVER_URL={hs.url}\nENGAGIFII_API_BASE_URL={hs.url}\n",
        encoding="utf-8",
    )
    env.chmod(0o600)
    out, err = io.StringIO(), io.StringIO()
    code = cli_main(["events", "--env-file", str(env), "--no-progress", *argv], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


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


# --------------------------------------------------------------------------------------------------
# 2. The detail id rule
# --------------------------------------------------------------------------------------------------

#: Listed ids that must never be requested as ``GET /event/{id}`` (JSON values as the server sends them).
BAD_IDS: dict[str, Any] = {
    "missing": ...,
    "null": None,
    "empty": "",
    "blank": "   ",
    "slash": "a/b",
    "dot-dot": "..",
    "dot-dot-inside": "x/../admin",
    "dots-only": "a..b",
    "single-dot": ".",
    "query": "abc?x=1",
    "fragment": "abc#top",
    "percent": "abc%2F..",
    "backslash": "a\\b",
    "space": "a b",
    "tab": "a\tb",
    "newline": "abc\n",
    "nul": "a\x00b",
    "escape": "a\x1b[31mb",
    "zero-width": "a\u200bb",
    "nbsp": "a\u00a0b",
    "line-separator": "a\u2028b",
    "rtl-override": "a\u202eb",
    "object": {"value": "abc"},
    "list": ["abc"],
    "list-of-number": [1],
    "too-long": "a" * 500,
}


def _row(n: int, rid: Any) -> dict[str, Any]:
    """A row with a bad id; ids that are text differ per row (a repeated id is one event to the listing)."""
    row: dict[str, Any] = {"name": f"Bad {n}"}
    if isinstance(rid, str) and rid:
        rid = ("." if n % 2 else "..") if rid == "." else f"{rid}-{n}"
    if rid is not ...:
        row["id"] = rid
    return row


def serve_with_details(hs: HostileServer, rows: list[dict[str, Any]], good: list[dict[str, Any]]) -> None:
    hs.route("POST", TOKEN_PATH, token_answer())
    hs.route("POST", LIST_PATH, listing_answer(rows))
    for row in good:
        hs.route("GET", EVENT_PREFIX + quote(row["id"], safe=""), Answer(body={**row, "description": "detail"}))


def detail_paths(hs: HostileServer) -> list[str]:
    return [r.path for r in hs.requests if r.method == "GET" and r.path.startswith(EVENT_PREFIX)]


@pytest.mark.parametrize("shape", sorted(BAD_IDS))
def test_a_listed_id_that_fails_the_rule_is_skipped_and_counted(shape: str, hs: HostileServer) -> None:
    good = event_rows(3)
    rows = [good[0], _row(1, BAD_IDS[shape]), good[1], _row(2, BAD_IDS[shape]), good[2]]
    serve_with_details(hs, rows, good)
    with client_for(hs) as client:
        df = walk(client, details=True)
    assert sorted(detail_paths(hs)) == sorted(EVENT_PREFIX + r["id"] for r in good)  # nothing else asked
    report = WalkReport.of(df)
    assert report.complete and report.details_skipped == 2
    assert (report.details_requested, report.details_fetched, report.enriched) == (3, 3, 3)
    assert df.attrs["engagifii"]["details_skipped"] == 2
    assert df["description"].isna().tolist() == [False, True, False, True, False]


@pytest.mark.parametrize("workers", [1, 4])
def test_every_bad_id_shape_at_once_with_workers(workers: int, hs: HostileServer) -> None:
    good = event_rows(5)
    rows = [*good, *(_row(n, rid) for n, rid in enumerate(BAD_IDS.values()))]
    serve_with_details(hs, rows, good)
    with client_for(hs) as client:
        df = walk(client, details=True, workers=workers)
    assert len(detail_paths(hs)) == 5
    assert WalkReport.of(df).details_skipped == len(BAD_IDS)


def test_the_cli_summary_names_skipped_details(hs: HostileServer, tmp_path: Path) -> None:
    good = event_rows(2)
    serve_with_details(hs, [*good, _row(1, None), _row(2, "a/b")], good)
    code, out, err = cli_events(hs, tmp_path, "--details", "-o", str(tmp_path / "e.csv"))
    assert code == 0, err
    assert "2 rows skipped (no usable event id)" in out + err


def test_no_skipped_rows_say_nothing(hs: HostileServer, tmp_path: Path) -> None:
    good = event_rows(2)
    serve_with_details(hs, good, good)
    code, out, err = cli_events(hs, tmp_path, "--details", "-o", str(tmp_path / "e.csv"))
    assert code == 0, err
    assert "skipped (no usable event id)" not in out + err


#: Ids that pass the rule but hold characters a path must carry escaped.
QUOTED_IDS = ["ev:1;x=2", "caf\u00e9-1", "{" + "a" * 8 + "}", "a+b@c", "n'o(1)"]


@pytest.mark.parametrize("rid", QUOTED_IDS)
def test_ids_are_url_quoted_in_the_path(rid: str, hs: HostileServer) -> None:
    assert detail_id(rid) == rid
    row = {"id": rid, "name": "quoted"}
    serve_with_details(hs, [row], [row])
    with client_for(hs) as client:
        df = walk(client, details=True)
        assert client.event(rid, tenant="T1")["description"] == "detail"
    assert detail_paths(hs) == [EVENT_PREFIX + quote(rid, safe="")] * 2
    assert df["description"].tolist() == ["detail"]


@pytest.mark.parametrize("shape", sorted(BAD_IDS))
def test_explicit_ids_that_fail_the_rule_are_value_errors(shape: str, hs: HostileServer) -> None:
    hs.route("POST", TOKEN_PATH, token_answer())
    value: Any = None if BAD_IDS[shape] is ... else BAD_IDS[shape]  # what a caller may pass by mistake
    with client_for(hs) as client:
        with pytest.raises(ValueError, match="invalid event id"):
            client.event(value, tenant="T1")
        with pytest.raises(ValueError, match="invalid event id"):
            client.event_details("T1", ids=[event_rows(1)[0]["id"], value], progress=False)
    assert detail_paths(hs) == []


def test_fetchable_ids_deduplicates_and_counts() -> None:
    good = [r["id"] for r in event_rows(3)]
    values = [good[0], None, good[1], good[0], "a/b", pd.NA, good[2], "a/b"]
    assert fetchable_ids(values) == (good, 4)
    assert fetchable_ids([]) == ([], 0)


# --------------------------------------------------------------------------------------------------
# 3. Detail answers: the event asked for, and which 404 means "gone"
# --------------------------------------------------------------------------------------------------

#: 200 answers that are not the event asked for (``own`` is the row asked for, ``other`` another one).
WRONG_DETAILS: dict[str, Callable[[dict[str, Any], dict[str, Any]], Any]] = {
    "another-event": lambda own, other: {**other, "description": "wrong"},
    "another-event-wrapped": lambda own, other: {"data": {**other, "description": "wrong"}},
    "no-id": lambda own, other: {"name": own["name"], "description": "wrong"},
    "null-id": lambda own, other: {**own, "id": None, "description": "wrong"},
    "empty-id": lambda own, other: {**own, "id": "", "description": "wrong"},
    "object-id": lambda own, other: {**own, "id": {"value": own["id"]}, "description": "wrong"},
    "wrapped-without-id": lambda own, other: {"data": {"name": own["name"], "description": "wrong"}},
    "a-list": lambda own, other: [{**own, "description": "wrong"}],
    "a-string": lambda own, other: json.dumps(own["id"]),  # a str body is sent as it is: this one is JSON
}


@pytest.mark.parametrize("shape", sorted(WRONG_DETAILS))
def test_a_detail_that_is_not_the_event_asked_for_is_retried_then_fails_the_walk(shape: str, hs: HostileServer) -> None:
    rows = event_rows(3)
    serve_with_details(hs, rows, rows)
    wrong = WRONG_DETAILS[shape](rows[1], rows[2])
    hs.route("GET", EVENT_PREFIX + rows[1]["id"], Answer(body=wrong))
    with client_for(hs) as client:
        with pytest.raises(IncompleteWalkError) as caught:
            walk(client, details=True)
        with pytest.raises(PaginationError):
            client.event(rows[1]["id"], tenant="T1")
    assert isinstance(caught.value.cause, PaginationError)
    assert detail_paths(hs).count(EVENT_PREFIX + rows[1]["id"]) == 2 * 2  # every attempt, walk and event()
    partial = caught.value.partial
    assert partial is not None
    assert "wrong" not in partial["description"].dropna().tolist()  # never merged into any row
    assert WalkReport.of(partial).missing_ids == ()  # and not taken for a deleted event


@pytest.mark.parametrize("shape", ["another-event", "no-id", "a-list"])
def test_a_wrong_detail_followed_by_the_right_one_is_accepted(shape: str, hs: HostileServer) -> None:
    rows = event_rows(3)
    serve_with_details(hs, rows, rows)
    wrong = WRONG_DETAILS[shape](rows[1], rows[2])
    hs.route("GET", EVENT_PREFIX + rows[1]["id"], [Answer(body=wrong), Answer(body={**rows[1], "description": "ok"})])
    with client_for(hs) as client:
        df = walk(client, details=True)
    assert df["description"].tolist() == ["detail", "ok", "detail"]
    report = WalkReport.of(df)
    assert report.complete and report.retries >= 1


#: 404 answers that are not the API saying "no such event".
FOREIGN_404S: dict[str, Answer] = {
    "html": Answer(status=404, body="<html><title>404 Not Found</title></html>", content_type="text/html"),
    "empty": Answer(status=404, body=b"", content_type="text/plain"),
    "plain-text": Answer(status=404, body="Not Found", content_type="text/plain"),
    "json-message": Answer(status=404, body={"message": "Resource not found"}),
    "problem-details": Answer(
        status=404, body={"type": "about:blank", "title": "Not Found", "status": 404}, content_type="application/json"
    ),
    "oauth-shape": Answer(status=404, body={"error": "not_found", "error_description": "nothing here"}),
    "json-null": Answer(status=404, body=b"null"),
}


@pytest.mark.parametrize("shape", sorted(FOREIGN_404S))
def test_a_404_without_the_api_envelope_is_an_api_error_not_a_deleted_event(shape: str, hs: HostileServer) -> None:
    rows = event_rows(3)
    serve_with_details(hs, rows, rows)
    hs.route("GET", EVENT_PREFIX + rows[1]["id"], FOREIGN_404S[shape])
    with client_for(hs) as client:
        with pytest.raises(IncompleteWalkError) as caught:
            walk(client, details=True)
        with pytest.raises(ApiError) as direct:
            client.event(rows[1]["id"], tenant="T1")
    assert not isinstance(direct.value, NotFoundError) and direct.value.status == 404
    assert "ENGAGIFII_API_BASE_URL" in str(direct.value)
    cause = caught.value.cause
    assert isinstance(cause, ApiError) and not isinstance(cause, NotFoundError)
    assert caught.value.partial is not None and WalkReport.of(caught.value.partial).missing_ids == ()


def test_a_foreign_404_in_the_cli_is_an_error_not_a_report(hs: HostileServer, tmp_path: Path) -> None:
    rows = event_rows(2)
    serve_with_details(hs, rows, rows)
    hs.route("GET", EVENT_PREFIX + rows[0]["id"], FOREIGN_404S["html"])
    code, out, err = cli_events(hs, tmp_path, "--details", "-o", str(tmp_path / "e.csv"))
    assert code != 0 and not (tmp_path / "e.csv").exists()
    assert "missing" not in out
    assert "404" in err, err


ENVELOPE_404S: dict[str, Answer] = {
    "documented": error_answer(404, "NOT_FOUND", "Event was not found"),
    "no-code": error_answer(404, None, None, trace_id=None),
    "cut-at-the-read-limit": huge_answer(1024 * 1024, status=404, kind="error"),
}


@pytest.mark.parametrize("shape", sorted(ENVELOPE_404S))
def test_a_404_in_the_api_envelope_is_a_deleted_event(shape: str, hs: HostileServer) -> None:
    rows = event_rows(3)
    serve_with_details(hs, rows, rows)
    hs.route("GET", EVENT_PREFIX + rows[1]["id"], ENVELOPE_404S[shape])
    with client_for(hs) as client:
        df = walk(client, details=True)
        with pytest.raises(NotFoundError):
            client.event(rows[1]["id"], tenant="T1")
    report = WalkReport.of(df)
    assert report.complete and report.missing_ids == (rows[1]["id"],)


# --------------------------------------------------------------------------------------------------
# 4. One object (or a scalar) where a list is declared
# --------------------------------------------------------------------------------------------------

SESSION = {"id": "s1", "name": "Keynote", "city": "Austin", "sessionStartTime": "2026-05-01T09:00:00Z"}
CONTACT = {"id": "c1", "name": "Ada", "email": "ada@example.org"}

#: field -> (value sent, the list kept, coerced?)
LIST_SHAPES: dict[str, tuple[str, Any, list[Any], bool]] = {
    "eventDates-object": ("eventDates", SESSION, [SESSION], False),
    "eventDates-text": ("eventDates", "TBD", ["TBD"], True),
    "eventDates-number": ("eventDates", 3, [3], True),
    "tags-text": ("tags", "music", ["music"], True),
    "tags-object": ("tags", {"name": "music"}, [{"name": "music"}], False),
    "eventClasses-text": ("eventClasses", "c-1", ["c-1"], True),
    "eventBundles-bool": ("eventBundles", True, [True], True),
    "registrationWorkflows-object": ("registrationWorkflows", {"step": 1}, [{"step": 1}], False),
}


@pytest.mark.parametrize("shape", sorted(LIST_SHAPES))
def test_a_lone_value_where_a_list_is_declared(shape: str, hs: HostileServer, tmp_path: Path) -> None:
    field, sent, kept, coerced = LIST_SHAPES[shape]
    rows = event_rows(3)
    rows[1] = {**rows[1], field: sent}
    hs.route("POST", TOKEN_PATH, token_answer())
    hs.route("POST", LIST_PATH, listing_answer(rows))
    with client_for(hs) as client:
        df = walk(client)
    assert df.loc[1, field] == kept
    assert not any(c.startswith(f"{field}.") for c in df.columns)  # never flattened into columns
    counted = df.attrs["engagifii"]["coerced"].get(field, 0)
    assert counted == (1 if coerced else 0)
    for path in (tmp_path / "e.csv", tmp_path / "e.parquet"):
        (export_csv if path.suffix == ".csv" else export_parquet)(df, path)
        assert len(read_report(path)) == 3
    export_csv(sessions(df), tmp_path / "s.csv")


def test_one_session_object_gives_one_session_row(hs: HostileServer) -> None:
    rows = event_rows(2)
    rows[0] = {**rows[0], "eventDates": SESSION}
    rows[1] = {**rows[1], "eventDates": [SESSION, {**SESSION, "id": "s2"}]}
    hs.route("POST", TOKEN_PATH, token_answer())
    hs.route("POST", LIST_PATH, listing_answer(rows))
    with client_for(hs) as client:
        table = sessions(walk(client))
    assert table["eventId"].tolist() == [rows[0]["id"], rows[1]["id"], rows[1]["id"]]
    assert table["sessionId"].tolist() == ["s1", "s1", "s2"]
    assert table["city"].tolist() == ["Austin"] * 3


@pytest.mark.parametrize("role", ["regular", "finance", "exhibitor"])
def test_one_contact_object_in_a_detail_gives_one_contact_row(role: str, hs: HostileServer) -> None:
    rows = event_rows(2)
    details = [{**rows[0], "contacts": {role: CONTACT}}, {**rows[1], "contacts": {role: "c-9"}}]
    hs.route("POST", TOKEN_PATH, token_answer())
    hs.route("POST", LIST_PATH, listing_answer(rows))
    for detail in details:
        hs.route("GET", EVENT_PREFIX + detail["id"], Answer(body=detail))
    with client_for(hs) as client:
        df = walk(client, details=True)
    assert df.loc[0, f"contacts.{role}"] == [CONTACT]
    assert df.loc[1, f"contacts.{role}"] == ["c-9"]  # a bare id, kept readable
    table = contacts(df)
    assert table["contactId"].tolist() == ["c1", "c-9"]
    assert table["contactName"].tolist()[0] == "Ada"


def test_child_tables_take_an_object_cell_as_a_list_of_one() -> None:
    df = walk_free_frame([{"id": "e1", "eventDates": [SESSION]}])
    df["eventDates"] = pd.Series([SESSION], dtype=object)  # a frame edited by hand
    assert sessions(df)["sessionId"].tolist() == ["s1"]
    df["eventDates"] = pd.Series([json.dumps(SESSION)], dtype=object)  # read back: the object as JSON text
    assert sessions(df)["sessionId"].tolist() == ["s1"]


def walk_free_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    from engagifii_data.frames import events_frame

    return events_frame(records)


# --------------------------------------------------------------------------------------------------
# 5. Invalid Unicode in the child tables
# --------------------------------------------------------------------------------------------------

LONE = "\ud83d"  # half of an emoji, as a server that cut a name leaves it

#: where the bad text sits: (table, the event record, the column that holds it in the table)
BAD_TEXT: dict[str, tuple[str, dict[str, Any], str]] = {
    "session-city": ("sessions", {"eventDates": [{**SESSION, "city": f"Aus{LONE}tin"}]}, "city"),
    "session-name": ("sessions", {"eventDates": [{**SESSION, "name": f"Key{LONE}"}]}, "sessionName"),
    "session-address": ("sessions", {"eventDates": [{**SESSION, "addressLine": LONE}]}, "addressLine"),
    "session-extra-field": ("sessions", {"eventDates": [{**SESSION, "room": f"R{LONE}"}]}, "room"),
    "session-lone-object": ("sessions", {"eventDates": {**SESSION, "state": f"T{LONE}X"}}, "state"),
    "contact-name": ("contacts", {"contacts": {"regular": [{**CONTACT, "name": f"Ad{LONE}a"}]}}, "contactName"),
    "contact-email": ("contacts", {"contacts": {"finance": [{**CONTACT, "email": f"{LONE}@x.org"}]}}, "email"),
    "contact-bare-id": ("contacts", {"contacts": {"exhibitor": [f"c{LONE}"]}}, "contactId"),
    "contact-extra-field": ("contacts", {"contacts": {"regular": [{**CONTACT, "title": f"Dr{LONE}"}]}}, "title"),
}


@pytest.mark.parametrize("shape", sorted(BAD_TEXT))
def test_child_tables_repair_lone_surrogates_and_every_format_writes_them(shape: str, tmp_path: Path) -> None:
    table_name, fields, column = BAD_TEXT[shape]
    df = walk_free_frame([{"id": "e1", "name": "Event", **fields}])
    make = sessions if table_name == "sessions" else contacts
    if shape.endswith("extra-field"):  # passed through as sent, like the events frame's own unknown fields
        table = make(df)
    else:
        with pytest.warns(UserWarning, match="not valid Unicode"):
            table = make(df)
        assert str(table.loc[0, column]).count("\ufffd") == 1
    assert len(table) == 1
    for suffix, write in ((".csv", export_csv), (".parquet", export_parquet), (".xlsx", export_excel)):
        path = tmp_path / f"{table_name}{suffix}"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the writers' own repair warning, for the passed-through fields
            write(table, path)
        assert "\ufffd" in str(read_report(path).loc[0, column])


def test_child_tables_of_an_event_name_edited_by_hand(tmp_path: Path) -> None:
    df = walk_free_frame([{"id": "e1", "name": "Event", "eventDates": [SESSION]}])
    df["name"] = pd.Series([f"Ev{LONE}ent"], dtype=object)
    with pytest.warns(UserWarning, match="1 text was not valid Unicode"):
        table = sessions(df)
    assert table.loc[0, "eventName"] == "Ev\ufffdent"
    export_parquet(table, tmp_path / "s.parquet")


def test_valid_text_in_child_tables_gives_no_warning() -> None:
    df = walk_free_frame([{"id": "e1", "name": "Ünïcødé 🎉", "eventDates": [{**SESSION, "city": "Zürich 🏔"}]}])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert sessions(df).loc[0, "city"] == "Zürich 🏔"


# --------------------------------------------------------------------------------------------------
# 6. Formula neutralising behind any number of invisible characters
# --------------------------------------------------------------------------------------------------

#: Leading characters a spreadsheet may skip unseen.
INVISIBLES: dict[str, str] = {
    "zero-width-space": "\u200b",
    "bom": "\ufeff",
    "word-joiner": "\u2060",
    "soft-hyphen": "\u00ad",
    "ltr-mark": "\u200e",
    "rtl-override": "\u202e",
    "nbsp": "\u00a0",
    "ideographic-space": "\u3000",
    "space": " ",
    "newline": "\n",
    "combining-mark": "\u0301",
    "mixed": "\u200b \ufeff\u2060\u00ad\u200e\u00a0\u3000",
}
DANGEROUS = ["=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20"]  # ASCII and full-width


@pytest.mark.parametrize("invisible", sorted(INVISIBLES))
@pytest.mark.parametrize("count", [1, 63, 64, 65, 200, 10_000])
def test_formula_behind_any_number_of_invisible_characters_is_neutralised(invisible: str, count: int) -> None:
    prefix = (INVISIBLES[invisible] * count)[: max(count, 1) * len(INVISIBLES[invisible])]
    for start in DANGEROUS:
        text = prefix + start + "HYPERLINK(1)"
        escaped = escape_text(text)
        assert escaped == "'" + text, (invisible, count, start)
        assert restore_text(escaped) == text
    harmless = prefix + "HYPERLINK"
    assert escape_text(harmless) == harmless and restore_text(harmless) == harmless


@pytest.mark.parametrize("size", [10_000, 100_000, 1_000_000])
def test_the_check_is_linear_in_the_prefix(size: int) -> None:
    text = "\u200b" * size + "=1"
    started = time.perf_counter()
    assert neutralize_formula(text) == "'" + text
    assert neutralize_formula("\u200b" * size + "1") == "\u200b" * size + "1"
    # about 1 µs a character on a slow machine: a quadratic check would take minutes at 10**6
    assert time.perf_counter() - started < 5 + size / 100_000


def test_ten_thousand_zero_width_spaces_before_a_formula_in_a_csv_report(tmp_path: Path) -> None:
    cell = "\u200b" * 10_000 + "=cmd|' /C calc'!A0"
    df = walk_free_frame([{"id": "e1", "name": cell, "description": "\ufeff" * 10_000 + "@SUM(1)"}])
    path = tmp_path / "e.csv"
    export_csv(df, path)
    text = path.read_text(encoding="utf-8-sig")
    assert "'" + cell in text and "'" + "\ufeff" * 10_000 + "@SUM(1)" in text
    back = read_report(path)
    assert back.loc[0, "name"] == cell


# -- one id, several spellings; two envelopes in one answer ------------------------------------------

SPELLINGS: dict[str, Callable[[str], Any]] = {
    "braces": lambda guid: "{" + guid + "}",
    "padded": lambda guid: f"  {guid} ",
    "upper": lambda guid: guid.upper(),
    "braces-upper-padded": lambda guid: " {" + guid.upper() + "} ",
}


def test_row_key_is_one_key_for_every_spelling_of_an_id() -> None:
    guid = event_rows(1)[0]["id"]
    assert {row_key({"id": spell(guid)}) for spell in SPELLINGS.values()} == {guid.lower()}
    assert row_key({"id": 1}) == row_key({"id": 1.0}) == "1"
    assert row_key({"id": "Ab-1"}) != row_key({"id": "ab-1"})  # only GUIDs ignore case
    assert row_key({"id": True, "name": "x"}) != row_key({"id": 1, "name": "x"})  # true is not an id


@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
def test_an_id_spelled_differently_on_a_later_page_is_a_duplicate_not_a_new_event(
    spelling: str, hs: HostileServer
) -> None:
    a, b, c = event_rows(3)
    pages = {1: [a, b], 2: [{**a, "id": SPELLINGS[spelling](a["id"])}]}  # event c never comes

    def body(request: Recorded) -> dict[str, Any]:
        return {"collection": pages.get(request.page or 1, []), "pagingModel": {"totalRecords": 3}}

    hs.route("POST", TOKEN_PATH, token_answer())
    hs.route("POST", LIST_PATH, Answer(body=body))
    with client_for(hs) as client, pytest.raises(IncompleteWalkError) as caught:
        walk(client, page_size=2)
    partial = caught.value.partial
    assert partial is None or c["id"] not in set(partial["id"])  # never a report of a, b, a as "3 of 3"


@pytest.mark.parametrize(
    "body",
    [
        {"collection": event_rows(3), "pagingModel": {"totalRecords": 3}, "data": event_rows(1), "totalCount": 1},
        {"collection": event_rows(3), "pagingModel": {"totalRecords": 3}, "data": event_rows(3), "totalCount": 4},
        {"data": event_rows(2), "items": event_rows(3), "totalCount": 3},
    ],
    ids=["rows-and-totals-disagree", "totals-disagree", "two-row-lists"],
)
def test_two_envelopes_that_disagree_are_refused(body: dict[str, Any], hs: HostileServer) -> None:
    hs.route("POST", TOKEN_PATH, token_answer())
    hs.route("POST", LIST_PATH, Answer(body=body))
    with client_for(hs) as client, pytest.raises((PaginationError, IncompleteWalkError)) as caught:
        walk(client, page_size=10)
    assert "two envelopes" in str(caught.value)


def test_two_envelopes_that_agree_are_read(hs: HostileServer) -> None:
    rows = event_rows(3)
    hs.route("POST", TOKEN_PATH, token_answer())
    hs.route(
        "POST",
        LIST_PATH,
        Answer(body={"collection": rows, "pagingModel": {"totalRecords": 3}, "data": rows, "totalCount": 3}),
    )
    with client_for(hs) as client:
        df = walk(client, page_size=10)
    assert df["id"].tolist() == [r["id"] for r in rows]
