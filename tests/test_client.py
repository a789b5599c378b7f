"""End-to-end tests of the client against the sandbox on 127.0.0.1, faults switched on."""

from __future__ import annotations

import threading
import time
from typing import Any

import pandas as pd
import pytest

from engagifii_data.client import EngagifiiClient, WalkProgress
from engagifii_data.exceptions import (
    AuthenticationError,
    IncompleteWalkError,
    PaginationError,
    RateLimitError,
    TenantNotFoundError,
)
from engagifii_data.frames import EVENT_COLUMNS
from tests.helpers import SleepRecorder

LARGE, SMALL, EMPTY = "ACME", "GLOBEX", "INITECH"


def client_for(server: Any, **overrides: Any) -> tuple[EngagifiiClient, SleepRecorder]:
    sleep = SleepRecorder(0.01)
    return EngagifiiClient(server.settings(**overrides), sleep=sleep), sleep


def api_log(server: Any) -> list[dict[str, Any]]:
    return [r for r in server.log if r["kind"] == "api"]


def ids(server: Any, tenant: str) -> list[str]:
    return [e["id"] for e in server.events(tenant)]


def test_every_tenant_row_count_equals_its_total_with_stable_dtypes(sb: Any) -> None:
    assert list(sb.tenants) == [LARGE, SMALL, EMPTY]
    client, _ = client_for(sb)
    frames = {code: client.events(code, progress=False) for code in sb.tenants}
    for code, expected in sb.tenants.items():
        df = frames[code]
        assert len(df) == expected
        assert df["id"].tolist() == ids(sb, code)
        meta = df.attrs["engagifii"]
        assert meta["tenant"] == code
        assert meta["total_count"] == expected
        assert meta["complete"] is True
        assert meta["duplicates"] == 0
    assert sb.tenants[EMPTY] == 0
    large, empty = frames[LARGE], frames[EMPTY]
    declared = list(EVENT_COLUMNS)
    assert list(empty.columns) == declared
    assert list(large.columns[: len(declared)]) == declared
    for column in declared:
        assert str(empty[column].dtype) == str(large[column].dtype), column
        assert str(large[column].dtype) == EVENT_COLUMNS[column], column
    assert large.attrs["engagifii"]["pages"] == 24
    assert client.stats.pages == 24 + 1 + 1


def test_one_token_request_across_three_calls_and_two_tenants(sb: Any) -> None:
    client, _ = client_for(sb)
    client.events(LARGE, progress=False)
    client.events(SMALL, progress=False)
    client.events(LARGE, only_upcoming=True, progress=False)
    assert sb.token_requests == 1
    assert client.stats.token_requests == 1


def test_every_request_carries_the_four_headers(sb: Any) -> None:
    client, _ = client_for(sb)
    client.events([LARGE, SMALL], progress=False)
    client.event(sb.events(SMALL)[0]["id"], tenant=SMALL)
    log = api_log(sb)
    assert len(log) == 24 + 1 + 1
    token = None
    for record in log:
        headers = record["headers"]
        assert headers["authorization"].startswith("Bearer ")
        token = token or headers["authorization"]
        assert headers["authorization"] == token
        assert headers["api-version"] == "1.0"
        assert headers["tenant-code"] in (LARGE, SMALL)
        assert headers["content-type"] == "application/json"


def test_page_size_above_the_cap_still_yields_every_row(sb: Any) -> None:
    client, _ = client_for(sb)
    df = client.events(LARGE, page_size=500, progress=False)
    assert len(df) == 2400
    assert df["id"].is_unique
    meta = df.attrs["engagifii"]
    assert meta["page_size"] == 100
    assert meta["pages"] == 24
    sizes = {r["body"]["pageSize"] for r in api_log(sb)}
    assert sizes == {500}


def test_a_429_waits_at_least_its_retry_after(sb: Any) -> None:
    sb.faults.rate_limit_every = 5
    sb.faults.retry_after = "2"
    client, sleep = client_for(sb)
    df = client.events(LARGE, progress=False)
    assert len(df) == 2400
    statuses = [r["status"] for r in api_log(sb)]
    assert statuses.count(429) == len(statuses) // 5
    assert client.stats.retries == statuses.count(429)
    assert len(sleep.waits) == statuses.count(429)
    assert all(w >= 2.0 for w in sleep.waits)


def test_a_retry_after_above_the_cap_raises_with_the_delay(sb: Any) -> None:
    sb.faults.rate_limit_every = 1
    sb.faults.retry_after = "3600"
    client, sleep = client_for(sb)
    with pytest.raises(RateLimitError) as info:
        client.list_page(1, tenant=LARGE)
    assert info.value.retry_after == 3600
    assert sleep.waits == []


@pytest.mark.parametrize("fault", ["html503", "drop", "truncate"])
def test_faulty_pages_are_recovered(sb: Any, fault: str) -> None:
    sb.faults.page_faults = {1: fault, 3: fault, 24: fault}
    client, sleep = client_for(sb)
    df = client.events(LARGE, progress=False)
    assert len(df) == 2400
    assert df["id"].tolist() == ids(sb, LARGE)
    assert client.stats.retries == 3
    assert len(sleep.waits) == 3
    assert df.attrs["engagifii"]["complete"] is True


def test_the_list_post_is_retried_sequentially_too(sb: Any) -> None:
    sb.faults.page_faults = {2: "drop"}
    client, _ = client_for(sb)
    df = client.events(SMALL, page_size=10, workers=1, progress=False)
    assert len(df) == 36
    pages = [r["page"] for r in api_log(sb)]
    assert pages == [1, 2, 2, 3, 4]


def test_an_ignored_page_number_raises_within_seconds(sb: Any) -> None:
    sb.faults.ignore_page_number = True
    client, _ = client_for(sb)
    started = time.monotonic()
    with pytest.raises(PaginationError) as info:
        client.events(LARGE, progress=False)
    assert time.monotonic() - started < 10
    assert "ignore the page number" in str(info.value)
    assert len(api_log(sb)) <= 1 + 8  # page 1 + at most one window of workers


def test_iter_pages_stops_on_an_ignored_page_number(sb: Any) -> None:
    sb.faults.ignore_page_number = True
    client, _ = client_for(sb)
    with pytest.raises(PaginationError):
        list(client.iter_pages(LARGE))
    assert len(api_log(sb)) == 2


def test_a_token_revoked_mid_walk_costs_exactly_one_renewal(sb: Any) -> None:
    client, _ = client_for(sb)

    def revoke_after_page_3(p: WalkProgress) -> None:
        if p.pages_done == 3:
            sb.revoke_tokens()

    df = client.events(LARGE, workers=1, progress=revoke_after_page_3)
    assert len(df) == 2400
    assert sb.token_requests == 2
    assert client.stats.token_requests == 2
    statuses = [r["status"] for r in api_log(sb)]
    assert statuses.count(401) == 1
    assert statuses[:5] == [200, 200, 200, 401, 200]
    assert api_log(sb)[4]["page"] == 4  # page 4 re-sent with the new token, not skipped


def test_a_short_lived_token_is_renewed_early_not_per_call(sb: Any) -> None:
    sb.faults.token_lifetime = 60  # margin 300 s > lifetime: clamped to 15 s
    client, _ = client_for(sb)
    for _ in range(5):
        client.list_page(1, tenant=SMALL)
    assert sb.token_requests == 1


def test_a_second_401_raises_authentication_error(sb: Any) -> None:
    sb.faults.reject_tokens = True
    client, _ = client_for(sb)
    with pytest.raises(AuthenticationError) as info:
        client.events(SMALL, progress=False)
    assert info.value.error == "invalid_token"
    assert sb.token_requests == 2


def test_eight_concurrent_requests_hitting_expiry_cause_one_token_request(sb: Any) -> None:
    sb.faults.latency = 0.05
    client, _ = client_for(sb)
    client.list_page(1, tenant=SMALL)
    assert sb.token_requests == 1
    sb.revoke_tokens()
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        barrier.wait()
        try:
            client.list_page(1 + n % 4, tenant=SMALL, page_size=10)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sb.token_requests == 2


def test_wrong_secret_raises_invalid_client_without_the_secret(sb: Any) -> None:
    wrong = "not-the-secret-CANARY-9f8e7d"
    client, _ = client_for(sb, **{"client_secret": wrong})
    with pytest.raises(AuthenticationError) as info:
        client.events(SMALL, progress=False)
    assert info.value.error == "invalid_client"
    assert wrong not in str(info.value) and wrong not in repr(info.value)
    assert wrong not in repr(client)


def test_unknown_tenant_raises_with_code_and_trace_id(sb: Any) -> None:
    client, _ = client_for(sb)
    with pytest.raises(TenantNotFoundError) as info:
        client.events("NOPE", progress=False)
    assert info.value.status == 404
    assert info.value.code == "TENANT_NOT_FOUND"
    assert info.value.trace_id
    assert "NOPE" in str(info.value)


def test_both_envelopes_give_the_same_frame(sb: Any) -> None:
    client, _ = client_for(sb)
    wire = client.events(SMALL, page_size=10, progress=False)
    sb.faults.envelope = "docs"
    docs = client.events(SMALL, page_size=10, progress=False)
    pd.testing.assert_frame_equal(wire, docs)


def test_concurrent_walks_equal_sequential_ones(sb: Any) -> None:
    client, _ = client_for(sb)
    sequential = client.events(LARGE, workers=1, progress=False)
    n_seq = len(api_log(sb))
    sb.reset_log()
    concurrent = client.events(LARGE, workers=8, progress=False)
    assert len(api_log(sb)) == n_seq == 24
    assert sorted(r["page"] for r in api_log(sb)) == list(range(1, 25))
    pd.testing.assert_frame_equal(sequential, concurrent)


def test_insertions_during_the_walk_are_reconciled(sb: Any) -> None:
    sb.faults.insert_after_first_page = 7
    client, _ = client_for(sb)
    df = client.events(LARGE, progress=False)
    assert len(df) == 2407
    assert df["id"].is_unique
    assert set(df["id"]) == set(ids(sb, LARGE))
    meta = df.attrs["engagifii"]
    assert meta["complete"] is True
    assert meta["total_count"] == 2407


def test_pages_failing_for_good_raise_incomplete_with_the_partial_frame(sb: Any) -> None:
    sb.faults.fail_from_page = 5
    client, _ = client_for(sb, max_attempts=2)
    with pytest.raises(IncompleteWalkError) as info:
        client.events(LARGE, workers=1, progress=False)
    err = info.value
    assert err.missing_pages == list(range(5, 25))
    assert len(err.partial) == 400
    assert err.partial.attrs["engagifii"]["complete"] is False
    assert err.partial.attrs["engagifii"]["missing_pages"] == list(range(5, 25))


def test_resume_from_a_checkpoint_fetches_only_missing_pages(sb: Any, tmp_path: Any) -> None:
    checkpoint = tmp_path / "acme.jsonl"
    sb.faults.fail_from_page = 10
    client, _ = client_for(sb, max_attempts=1)
    with pytest.raises(IncompleteWalkError) as info:
        client.events(LARGE, workers=1, progress=False, checkpoint=checkpoint)
    assert info.value.checkpoint == str(checkpoint)
    assert checkpoint.exists()
    sb.faults.fail_from_page = None
    sb.reset_log()
    df = client.events(LARGE, workers=4, progress=False, checkpoint=checkpoint)
    pages = sorted(r["page"] for r in api_log(sb))
    assert pages == [1, *range(10, 25)]
    assert df["id"].tolist() == ids(sb, LARGE)
    assert df.attrs["engagifii"]["complete"] is True
    assert not checkpoint.exists()
    reference = client.events(LARGE, progress=False)
    pd.testing.assert_frame_equal(df.drop(columns=[]), reference, check_like=False)


def test_a_checkpoint_for_another_tenant_is_refused(sb: Any, tmp_path: Any) -> None:
    from engagifii_data.exceptions import ConfigurationError

    checkpoint = tmp_path / "cp.jsonl"
    sb.faults.fail_from_page = 2
    client, _ = client_for(sb, max_attempts=1)
    with pytest.raises(IncompleteWalkError):
        client.events(SMALL, page_size=10, workers=1, progress=False, checkpoint=checkpoint)
    with pytest.raises(ConfigurationError, match="tenant 'GLOBEX'"):
        client.events(LARGE, progress=False, checkpoint=checkpoint)
    with pytest.raises(ConfigurationError, match="filters"):
        client.events(SMALL, page_size=10, search="x", progress=False, checkpoint=checkpoint)


def test_cancel_stops_after_the_current_page_with_a_partial_result(sb: Any) -> None:
    client, _ = client_for(sb)
    cancel = threading.Event()

    def stop_after_two(p: WalkProgress) -> None:
        if p.pages_done == 2:
            cancel.set()

    with pytest.raises(IncompleteWalkError) as info:
        client.events(LARGE, workers=1, progress=stop_after_two, cancel=cancel)
    assert len(info.value.partial) == 200
    assert info.value.reason == "cancelled"


def test_client_side_filters_and_multi_tenant_frame(sb: Any) -> None:
    client, _ = client_for(sb)
    df = client.events([SMALL, EMPTY], status=["published"], progress=False)
    assert df.columns[0] == "tenant"
    assert str(df["tenant"].dtype) == "string"
    expected = [e for e in sb.events(SMALL) if e.get("eventStatus") == "Published"]
    assert len(df) == len(expected)
    assert set(df["tenant"]) <= {SMALL}
    meta = df.attrs["engagifii"]
    assert meta["tenant"] == [SMALL, EMPTY]
    assert meta["total_count"] == 36
    full = client.events(LARGE, progress=False)
    windowed = client.events(LARGE, start="2026-01-01", end="2026-01-31", progress=False)
    lo = pd.Timestamp("2026-01-01", tz="UTC")
    hi = pd.Timestamp("2026-02-01", tz="UTC")
    expected_n = int(((full["startDateTime"] >= lo) & (full["startDateTime"] < hi)).sum())
    assert len(windowed) == expected_n > 0
    assert windowed.attrs["engagifii"]["rows_fetched"] == 2400


def test_event_detail(sb: Any) -> None:
    client, _ = client_for(sb)
    first = sb.events(SMALL)[0]
    event = client.event(first["id"], tenant=SMALL)
    assert event["id"] == first["id"]
    from engagifii_data.exceptions import NotFoundError

    with pytest.raises(NotFoundError):
        client.event("00000000-0000-0000-0000-000000000000", tenant=SMALL)


def test_a_429_lowers_the_walks_concurrency(sb: Any) -> None:
    sb.faults.rate_limit_every = 6
    sb.faults.retry_after = "1"
    client, _ = client_for(sb)
    df = client.events(LARGE, workers=8, progress=False)
    assert len(df) == 2400
    concurrency = df.attrs["engagifii"]["concurrency"]
    assert concurrency["start"] == 8
    assert concurrency["throttled"] >= 1
    assert concurrency["ceiling"] < 8
    assert concurrency["final"] <= concurrency["ceiling"]


def test_a_partial_result_cannot_be_exported_as_if_complete(sb: Any, tmp_path: Any) -> None:
    from engagifii_data.frames import export_csv, export_parquet

    sb.faults.fail_from_page = 3
    client, _ = client_for(sb, max_attempts=1)
    with pytest.raises(IncompleteWalkError) as info:
        client.events(LARGE, workers=1, progress=False)
    partial = info.value.partial
    with pytest.raises(ValueError, match=r"partial result \(200 rows of a total of 2,400; pages not fetched: 3-24\)"):
        export_csv(partial, tmp_path / "p.csv")
    with pytest.raises(ValueError, match="partial"):
        export_parquet(partial, tmp_path / "p.parquet")
    assert not (tmp_path / "p.csv").exists()
    assert export_csv(partial, tmp_path / "p.csv", allow_incomplete=True).exists()


def test_logs_never_carry_secrets_or_tokens(sb: Any, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    sb.faults.page_faults = {2: "html503"}
    client, _ = client_for(sb)
    client.events(SMALL, page_size=10, progress=False)
    sb.revoke_tokens()
    client.list_page(1, tenant=SMALL)
    text = caplog.text
    assert "GET" in text or "POST" in text  # the DEBUG request lines are there
    assert "access token acquired for client sandbox-client" in text
    assert sb.client_secret not in text
    token = client._tokens.current
    assert token is not None and token.value not in text
    assert "Bearer" not in text and "eyJ" not in text
    wrong, _ = client_for(sb, client_secret="wrong-CANARY-secret")
    with pytest.raises(AuthenticationError):
        wrong.list_page(1, tenant=SMALL)
    assert "wrong-CANARY-secret" not in caplog.text


def test_damaged_foreign_or_directory_checkpoints_are_handled(sb: Any, tmp_path: Any) -> None:
    import json

    from engagifii_data.exceptions import ConfigurationError

    client, _ = client_for(sb)
    with pytest.raises(ConfigurationError, match="not a file"):
        client.events(SMALL, checkpoint=tmp_path, progress=False)
    foreign = tmp_path / "v99.jsonl"
    header = {
        "format": "engagifii-checkpoint",
        "version": 99,
        "tenant": SMALL,
        "filters": {"only_upcoming": False, "search": None},
        "page_size": 10,
        "total": 36,
    }
    foreign.write_text(json.dumps(header) + "\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="format version 99"):
        client.events(SMALL, page_size=10, checkpoint=foreign, progress=False)
    damaged = tmp_path / "damaged.jsonl"
    header["version"] = 2
    damaged.write_text(
        json.dumps(header) + "\n" + json.dumps({"page": 2, "total": 36, "rows": {"id": "a"}}) + "\n",
        encoding="utf-8",
    )
    df = client.events(SMALL, page_size=10, checkpoint=damaged, progress=False)
    assert df["id"].tolist() == ids(sb, SMALL)


def test_a_checkpoint_whose_first_page_changed_starts_over(sb: Any, tmp_path: Any) -> None:
    checkpoint = tmp_path / "cp.jsonl"
    sb.faults.fail_from_page = 3
    client, _ = client_for(sb, max_attempts=1)
    with pytest.raises(IncompleteWalkError):
        client.events(SMALL, page_size=10, workers=1, checkpoint=checkpoint, progress=False)
    sb.faults.fail_from_page = None
    sb.insert_events(SMALL, 1)  # the listing changes; here the total changes too
    sb.reset_log()
    df = client.events(SMALL, page_size=10, workers=1, checkpoint=checkpoint, progress=False)
    assert df["id"].tolist() == ids(sb, SMALL)
    assert sorted(r["page"] for r in api_log(sb)) == [1, 2, 3, 4]


def test_an_api_field_named_tenant_survives_a_multi_tenant_frame(sb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import engagifii_data.endpoints as endpoints_module
    from engagifii_data import pagination

    original = pagination.parse_page

    def with_tenant_field(body: Any, number: int, **kwargs: Any) -> Any:
        page = original(body, number, **kwargs)
        for row in page.rows:
            row["tenant"] = "from-api"
        return page

    monkeypatch.setattr(endpoints_module, "parse_page", with_tenant_field)
    client, _ = client_for(sb)
    df = client.events([SMALL, EMPTY], progress=False)
    assert df.columns[0] == "tenant"
    assert set(df["tenant"]) == {SMALL}
    assert set(df["record.tenant"]) == {"from-api"}


def test_cancel_does_not_wait_out_the_retries_of_pages_in_flight(sb: Any) -> None:
    sb.faults.fail_from_page = 3
    client = EngagifiiClient(sb.settings(backoff=2.0, backoff_max=2.0, max_attempts=6))  # real sleeps
    cancel = threading.Event()

    def cancel_after_page_2(p: WalkProgress) -> None:
        if p.pages_done == 2:
            cancel.set()

    started = time.monotonic()
    with pytest.raises(IncompleteWalkError) as info:
        client.events(LARGE, workers=2, progress=cancel_after_page_2, cancel=cancel)
    assert info.value.reason == "cancelled"
    attempts = [r for r in api_log(sb) if r["page"] is not None and r["page"] >= 3]
    assert len(attempts) <= 4  # 2 workers: their first attempts (+ at most one retry each), not 6 each
    assert time.monotonic() - started < 30  # a hang guard, not a timing test: 6 attempts would take > 60 s
