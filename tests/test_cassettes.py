"""Replay tests: the client against recorded sandbox cassettes, with no server running.

Each test replays ``cassettes/<test name>.yaml`` (record mode ``none``; see ``tests/conftest.py``)
by running the same scenario function the recorder ran (``tests/record_cassettes.py``), and
asserts what the live sandbox tests assert: rows, id order, dtypes, request and token counts,
headers sent. Replays use ``workers=4`` where the scenario allows it (recordings are sequential):
matching on the body makes the order of concurrent requests irrelevant. Re-record with
``make cassettes``.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from engagifii_data import contacts, sandbox, sessions
from engagifii_data.client import EngagifiiClient
from engagifii_data.exceptions import ApiError, TenantNotFoundError
from engagifii_data.frames import EVENT_COLUMNS
from engagifii_data.query import EventQuery
from engagifii_data.reports import WalkReport
from tests.helpers import (
    CASSETTES,
    REAL_CASSETTES,
    REDACTED_TOKEN,
    REPLAY_ORIGIN,
    VCR,
    CassetteMismatchError,
    CassetteMissingError,
    SentRequest,
    SleepRecorder,
    replay_cassette,
)
from tests.record_cassettes import (
    ACME_SEARCH,
    DETAIL_SEARCH,
    SCENARIOS,
    Context,
    replay_real_cassette,
    walk_two_tenants,
)

SMALL, LARGE, EMPTY = "GLOBEX", "ACME", "INITECH"
REPLAY_WORKERS = 4


def make_client(settings: Any) -> tuple[EngagifiiClient, SleepRecorder]:
    sleep = SleepRecorder()
    return EngagifiiClient(settings, sleep=sleep), sleep


def run(name: str, client: EngagifiiClient, workers: int = REPLAY_WORKERS) -> Any:
    return SCENARIOS[name].run(client, Context(sandbox=None, workers=workers))


@functools.cache
def load_yaml(path: Path) -> Any:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def recorded_ids(cassette: str, tenant: str) -> list[str]:
    """Event ids of ``tenant`` as the recording served them, in page order (what a walk must return)."""
    data = load_yaml(CASSETTES / f"{cassette}.yaml")
    pages: dict[int, list[str]] = {}
    for interaction in data["interactions"]:
        req, resp = interaction["request"], interaction["response"]
        if not req["uri"].endswith("/event/list") or req["headers"].get("tenant-code") != [tenant]:
            continue
        if resp["status"]["code"] != 200:
            continue
        number = json.loads(req["body"])["pageNumber"]
        rows = json.loads(resp["body"]["string"])["collection"]
        pages[number] = [row["id"] for row in rows]
    ids: list[str] = []
    for number in sorted(pages):
        ids.extend(i for i in pages[number] if i not in ids)
    return ids


def api_requests(sent: list[SentRequest]) -> list[SentRequest]:
    return [r for r in sent if "/api/" in r.url]


def token_requests(sent: list[SentRequest]) -> list[SentRequest]:
    return [r for r in sent if r.url.endswith("/connect/token")]


def assert_declared_dtypes(df: pd.DataFrame) -> None:
    declared = list(EVENT_COLUMNS)
    assert list(df.columns[: len(declared)]) == declared
    for column, dtype in EVENT_COLUMNS.items():
        assert str(df[column].dtype) == dtype, column


def assert_api_headers(sent: list[SentRequest], tenants: set[str]) -> None:
    for request in api_requests(sent):
        assert request.url.startswith(REPLAY_ORIGIN + "/api/1.0/")
        assert request.headers["Authorization"] == f"Bearer {REDACTED_TOKEN}"
        assert request.headers["api-version"] == "1.0"
        assert request.headers["tenant-code"] in tenants
        assert request.headers["Content-Type"] == "application/json"


# -- one test per cassette (names = cassette names) ---------------------------------------------


def test_walk_two_tenants_one_session(replay: Any, replay_settings: Any, sent_requests: list[SentRequest]) -> None:
    client, sleep = make_client(replay_settings)
    with replay(), client:
        small, searched = run("test_walk_two_tenants_one_session", client)
    assert len(small) == 36
    assert len(searched) == 20
    assert small["id"].tolist() == recorded_ids("test_walk_two_tenants_one_session", SMALL)
    assert searched["id"].tolist() == recorded_ids("test_walk_two_tenants_one_session", LARGE)
    assert searched["name"].str.contains(ACME_SEARCH, case=False).all()
    for df, tenant in ((small, SMALL), (searched, LARGE)):
        assert_declared_dtypes(df)
        meta = df.attrs["engagifii"]
        assert meta["tenant"] == tenant
        assert meta["total_count"] == len(df)
        assert meta["complete"] is True
        assert meta["pages"] == 4
        assert meta["duplicates"] == 0
    assert searched.attrs["engagifii"]["server_filters"]["search"] == ACME_SEARCH
    stats = client.stats
    assert (stats.token_requests, stats.http_requests, stats.pages, stats.retries) == (1, 8, 8, 0)
    assert sleep.waits == []
    assert len(token_requests(sent_requests)) == 1
    assert_api_headers(sent_requests, {SMALL, LARGE})
    pages = sorted((r.headers["tenant-code"], r.json()["pageNumber"]) for r in api_requests(sent_requests))
    assert pages == [(LARGE, n) for n in range(1, 5)] + [(SMALL, n) for n in range(1, 5)]


def test_empty_tenant(replay: Any, replay_settings: Any, sent_requests: list[SentRequest]) -> None:
    client, _ = make_client(replay_settings)
    with replay(), client:
        df = run("test_empty_tenant", client)
    assert len(df) == 0
    assert list(df.columns) == list(EVENT_COLUMNS)
    assert_declared_dtypes(df)
    meta = df.attrs["engagifii"]
    assert (meta["total_count"], meta["complete"], meta["pages"]) == (0, True, 1)
    assert (client.stats.token_requests, client.stats.http_requests) == (1, 1)
    assert_api_headers(sent_requests, {EMPTY})


def test_rate_limited_then_retried(replay: Any, replay_settings: Any, sent_requests: list[SentRequest]) -> None:
    client, sleep = make_client(replay_settings)
    with replay(), client:
        df = run("test_rate_limited_then_retried", client)
    assert len(df) == 36
    assert df["id"].tolist() == recorded_ids("test_rate_limited_then_retried", SMALL)
    assert df.attrs["engagifii"]["complete"] is True
    assert_declared_dtypes(df)
    assert client.stats.retries == 1
    assert sleep.waits == [1.0]  # Retry-After: 1 honoured
    assert (client.stats.token_requests, client.stats.http_requests) == (1, 5)
    assert [r.json()["pageNumber"] for r in api_requests(sent_requests)] == [1, 2, 3, 3, 4]


def test_unknown_tenant_error(replay: Any, replay_settings: Any) -> None:
    client, sleep = make_client(replay_settings)
    with replay(), client, pytest.raises(TenantNotFoundError) as info:
        run("test_unknown_tenant_error", client)
    err = info.value
    assert err.status == 404
    assert err.code == "TENANT_NOT_FOUND"
    assert err.trace_id == f"{2:032x}"  # renumbered by the recorder
    assert "NOPE" in str(err)
    assert (client.stats.token_requests, client.stats.http_requests, client.stats.retries) == (1, 1, 0)
    assert sleep.waits == []


def test_token_expires_mid_walk(replay: Any, replay_settings: Any, sent_requests: list[SentRequest]) -> None:
    client, _ = make_client(replay_settings)
    with replay(), client:
        df = run("test_token_expires_mid_walk", client)
    assert len(df) == 36
    assert df["id"].tolist() == recorded_ids("test_token_expires_mid_walk", SMALL)
    assert_declared_dtypes(df)
    assert client.stats.token_requests == 2
    assert client.stats.http_requests == 5
    assert len(token_requests(sent_requests)) == 2
    # page 3 re-sent with the renewed token, not skipped
    assert [r.json()["pageNumber"] for r in api_requests(sent_requests)] == [1, 2, 3, 3, 4]
    assert_api_headers(sent_requests, {SMALL})


def test_event_detail(replay: Any, replay_settings: Any, sent_requests: list[SentRequest]) -> None:
    client, _ = make_client(replay_settings)
    with replay(), client:
        page, event = run("test_event_detail", client)
    assert len(page.rows) == 1
    assert page.total == 36
    assert event["id"] == page.rows[0]["id"]
    assert "contacts" in event and "contacts" not in page.rows[0]
    assert (client.stats.token_requests, client.stats.http_requests) == (1, 2)
    detail = api_requests(sent_requests)[-1]
    assert detail.method == "GET"
    assert detail.url == f"{REPLAY_ORIGIN}/api/1.0/event/{event['id']}"
    assert_api_headers(sent_requests, {SMALL})


def recorded_details(cassette: str) -> dict[str, int]:
    """Event id -> the status its recorded detail request answered."""
    data = load_yaml(CASSETTES / f"{cassette}.yaml")
    return {
        i["request"]["uri"].rsplit("/", 1)[1]: i["response"]["status"]["code"]
        for i in data["interactions"]
        if i["request"]["method"] == "GET" and "/api/1.0/event/" in i["request"]["uri"]
    }


def test_details_walk(replay: Any, replay_settings: Any, sent_requests: list[SentRequest]) -> None:
    client, sleep = make_client(replay_settings)
    with replay(), client:
        df = run("test_details_walk", client)
    listed = recorded_ids("test_details_walk", SMALL)
    recorded = recorded_details("test_details_walk")
    gone = [i for i, status in recorded.items() if status == 404]
    assert len(listed) == 6 and sorted(recorded) == sorted(listed) and len(gone) == 1
    assert df["id"].tolist() == listed
    assert_declared_dtypes(df)
    assert df["name"].str.contains(DETAIL_SEARCH).all()
    report = WalkReport.of(df)
    assert report.complete and report.details
    assert (report.details_requested, report.details_fetched, report.enriched) == (6, 5, 5)
    assert list(report.missing_ids) == gone
    enriched = df[~df["id"].isin(gone)]
    assert enriched["contacts.regular"].notna().all()  # contacts come only with the detail
    assert df.loc[df["id"].isin(gone), "contacts.regular"].isna().all()
    gets = [r for r in api_requests(sent_requests) if r.method == "GET"]
    assert sorted(r.url.rsplit("/", 1)[1] for r in gets) == sorted(listed)  # each detail once
    assert (client.stats.token_requests, client.stats.http_requests, client.stats.retries) == (1, 7, 0)
    assert sleep.waits == []
    assert_api_headers(sent_requests, {SMALL})
    sessions_table = sessions(df)
    assert len(sessions_table) == sum(len(cell) for cell in df["eventDates"])
    assert len(contacts(df)) > 0


# -- the matcher bites, and failures explain themselves -----------------------------------------


@pytest.mark.parametrize(
    ("wrong_page", "explanation"),
    [
        (lambda n: 1, "already replayed"),  # the classic bug: a walker that always asks for page 1
        (lambda n: n + 100, "lacks this request"),
    ],
    ids=["always-page-1", "page-off-by-100"],
)
def test_a_wrong_page_number_cannot_pass(
    monkeypatch: pytest.MonkeyPatch, replay_settings: Any, wrong_page: Any, explanation: str
) -> None:
    original = EventQuery.list_body

    def wrong_body(self: EventQuery, page_number: int) -> dict[str, Any]:
        return original(self, wrong_page(page_number) if page_number > 1 else 1)

    monkeypatch.setattr(EventQuery, "list_body", wrong_body)
    client, _ = make_client(replay_settings)
    cassette = CASSETTES / "test_walk_two_tenants_one_session.yaml"
    with pytest.raises(CassetteMismatchError) as info, replay_cassette(cassette), client:
        walk_two_tenants(client, Context(workers=1))
    message = str(info.value)
    assert message.startswith(f"no matching recording in cassette {cassette}")
    assert explanation in message
    sent_page = wrong_page(2)
    assert f'"pageNumber":{sent_page},' in message  # the unmatched body, as sent
    assert "tenant-code: GLOBEX" in message
    if sent_page != 1:
        assert f"pageNumber: sent {sent_page}, recorded" in message  # the closest recordings' difference
    assert "make cassettes" in message


def test_without_the_body_matcher_a_page_1_walker_would_pass(
    monkeypatch: pytest.MonkeyPatch, replay_settings: Any
) -> None:
    """Why the body matcher exists: vcrpy's default matching replays this broken walk happily."""
    original = EventQuery.list_body
    monkeypatch.setattr(EventQuery, "list_body", lambda self, n: original(self, 1))
    client, _ = make_client(replay_settings)
    defaults = ["method", "scheme", "host", "port", "path", "query"]
    with VCR.use_cassette(str(CASSETTES / "test_token_expires_mid_walk.yaml"), match_on=defaults), client:
        df = client.events(SMALL, page_size=10, workers=1, progress=False)
    assert len(df) == 36  # "passes", although every request asked for page 1


def test_a_missing_cassette_says_so() -> None:
    with pytest.raises(CassetteMissingError) as info, replay_cassette("test_no_such_cassette"):
        pass
    message = str(info.value)
    assert message.startswith("cassette missing:")
    assert str(CASSETTES / "test_no_such_cassette.yaml") in message
    assert "make cassettes" in message


def test_unplayed_recordings_fail_the_replay(replay_settings: Any) -> None:
    """A client that stops early (sends fewer requests than recorded) does not pass either."""
    client, _ = make_client(replay_settings)
    with (
        pytest.raises(CassetteMismatchError, match="never replayed") as info,
        replay_cassette("test_walk_two_tenants_one_session"),
        client,
    ):
        client.events(SMALL, page_size=10, workers=1, progress=False)  # the ACME half is never asked for
    assert "tenant-code: ACME" in str(info.value)


def test_replays_do_not_need_the_port_the_sandbox_had(replay_settings: Any) -> None:
    """Any origin is normalised before matching, so the fixed replay origin is only a convention."""
    client, _ = make_client(
        replay_settings.replace(api_base_url="http://127.0.0.1:9", identity_url="http://127.0.0.1:9")
    )
    with replay_cassette("test_empty_tenant"), client:
        assert len(client.events(EMPTY, page_size=10, progress=False)) == 0


# -- the cassette folder -------------------------------------------------------------------------


def test_every_scenario_has_its_cassette_and_test_and_nothing_is_stale() -> None:
    on_disk = {p.stem for p in CASSETTES.glob("*.yaml")}
    assert on_disk == set(SCENARIOS), "run `make cassettes`"
    module_tests = {name for name in globals() if name.startswith("test_")}
    assert set(SCENARIOS) <= module_tests, "cassette names must follow the replay tests' names"


def test_the_cassettes_are_small() -> None:
    total = sum(p.stat().st_size for p in CASSETTES.rglob("*.yaml"))
    assert total < 1_000_000, f"cassettes/ holds {total:,} bytes; keep page sizes small"


def test_sandbox_cassettes_were_recorded_with_the_canary_client() -> None:
    for path in CASSETTES.glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        assert f"client_id={sandbox.CLIENT_ID}" in text, path
        assert "127.0.0.1" not in text, path  # origin normalised


# -- real-API recordings (only when someone recorded them: ENGAGIFII_RECORD_REAL=1 make cassettes) -


REAL_PATHS: list[Any] = sorted(REAL_CASSETTES.glob("*.yaml")) or [
    pytest.param(None, marks=pytest.mark.skip(reason="no real-API cassettes (ENGAGIFII_RECORD_REAL=1 make cassettes)"))
]


@pytest.mark.parametrize("path", REAL_PATHS, ids=lambda p: p.stem if isinstance(p, Path) else "none")
def test_real_cassettes_replay(path: Path) -> None:
    result = replay_real_cassette(path)
    if path.stem == "test_real_first_pages":
        assert result and all(p.total >= len(p.rows) for p in result)
    if path.stem == "test_real_unknown_tenant" and isinstance(result, ApiError):
        assert result.status >= 400
