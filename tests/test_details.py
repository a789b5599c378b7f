"""Event details (``GET /api/1.0/event/{id}``) with the listing walk's guarantees, against the sandbox.

``event_details()`` and ``events(details=True)``: every detail requested once (counted in the
sandbox's log), 404s reported as missing, a failed walk resumed from its checkpoint without fetching
a saved detail again, cancel, 429/5xx/drops retried, the rate limit respected, and the CLI's
``--details --table``.
"""

from __future__ import annotations

import csv
import io
import os
import stat
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from engagifii_data import sandbox
from engagifii_data.cli import main
from engagifii_data.client import EngagifiiClient, WalkProgress
from engagifii_data.exceptions import (
    ConfigurationError,
    IncompleteWalkError,
    ReportError,
    ServerError,
    TenantNotFoundError,
)
from engagifii_data.frames import EVENT_COLUMNS
from engagifii_data.frames.tables import sessions
from engagifii_data.reports import WalkReport, export_csv
from tests.helpers import SleepRecorder

LARGE, SMALL, EMPTY = "ACME", "GLOBEX", "INITECH"
DETAIL_PREFIX = "/api/1.0/event/"


def client_for(server: Any, **overrides: Any) -> EngagifiiClient:
    return EngagifiiClient(server.settings(**overrides), sleep=SleepRecorder(0.01))


def detail_gets(server: Any, status: int | None = None) -> list[str]:
    """Event ids of the detail requests the sandbox received, in order (every attempt)."""
    return [
        r["path"].removeprefix(DETAIL_PREFIX)
        for r in list(server.log)
        if r["kind"] == "api"
        and r["method"] == "GET"
        and r["path"].startswith(DETAIL_PREFIX)
        and (status is None or r["status"] == status)
    ]


def assert_declared(df: pd.DataFrame) -> None:
    assert list(df.columns[: len(EVENT_COLUMNS)]) == list(EVENT_COLUMNS)
    for column, dtype in EVENT_COLUMNS.items():
        assert str(df[column].dtype) == dtype, column


def contact_ids(cell: Any) -> list[str] | None:
    return None if not isinstance(cell, list) else [c.get("id") for c in cell]


# -- every detail, once -------------------------------------------------------------------------


def test_every_detail_is_fetched_once_and_merged_with_declared_dtypes(sb: Any) -> None:
    client = client_for(sb)
    listing = client.events(LARGE, progress=False)
    sb.reset_log()
    df = client.events(LARGE, workers=8, progress=False, details=True)
    gets = detail_gets(sb)
    assert len(gets) == 2400 and Counter(gets).most_common(1)[0][1] == 1
    assert set(gets) == set(df["id"])
    assert_declared(df)
    assert df["id"].tolist() == listing["id"].tolist()
    report = WalkReport.of(df)
    assert report.complete and report.details
    assert (report.details_requested, report.details_fetched, report.enriched) == (2400, 2400, 2400)
    assert (report.details_unfetched, report.missing_ids, report.details_resumed) == (0, (), 0)
    assert report.requests == 2424  # 24 pages + 2,400 details
    expected = {e["id"]: e for e in sb.events(LARGE, detail=True)}
    # contacts come only from the detail; the detail's sessions win over the listing's
    assert listing["contacts.regular"].isna().all()
    for _, row in df.iterrows():
        detail = expected[row["id"]]
        roles = detail["contacts"] or {}
        for role in ("regular", "finance", "exhibitor"):
            assert contact_ids(row[f"contacts.{role}"]) == contact_ids(roles.get(role)), (row["id"], role)
        assert row["eventDates"] == detail["eventDates"]
    # the fields both carry are unchanged, with the listing's dtypes
    same = [c for c in EVENT_COLUMNS if not c.startswith("contacts.") and c != "eventDates"]
    pd.testing.assert_frame_equal(df[same], listing[same])


def test_event_details_returns_one_row_per_detail_in_listing_order(sb: Any) -> None:
    client = client_for(sb)
    df = client.event_details(SMALL, progress=False)
    details = sb.events(SMALL, detail=True)
    assert df["id"].tolist() == [e["id"] for e in details]
    assert_declared(df)
    assert sorted(Counter(detail_gets(sb)).values()) == [1] * 36
    assert df["eventDates"].tolist() == [e["eventDates"] for e in details]
    report = WalkReport.of(df)
    assert (report.total_count, report.pages, report.details_fetched, report.enriched) == (36, 1, 36, 0)


def test_event_details_of_given_ids_keeps_their_order_and_fetches_duplicates_once(sb: Any) -> None:
    client = client_for(sb)
    ids = [e["id"] for e in sb.events(SMALL)]
    wanted = [ids[5], ids[1], ids[5], ids[30], "00000000-0000-4000-8000-000000000000"]
    df = client.event_details(SMALL, ids=wanted, workers=3, progress=False)
    assert df["id"].tolist() == [ids[5], ids[1], ids[30]]
    assert Counter(detail_gets(sb)) == Counter({ids[5]: 1, ids[1]: 1, ids[30]: 1, wanted[4]: 1})
    report = WalkReport.of(df)
    assert report.complete
    assert report.missing_ids == (wanted[4],)
    assert (report.details_requested, report.details_fetched, report.total_count) == (4, 3, 4)
    with pytest.raises(ValueError, match="invalid event id"):
        client.event_details(SMALL, ids=["a/b"])
    with pytest.raises(ValueError, match="one tenant"):
        client.event_details([SMALL, LARGE], ids=ids[:1])


def test_empty_tenant_details_are_an_empty_typed_frame(sb: Any) -> None:
    client = client_for(sb)
    for df in (client.events(EMPTY, details=True, progress=False), client.event_details(EMPTY, progress=False)):
        assert len(df) == 0
        assert list(df.columns) == list(EVENT_COLUMNS)
        assert_declared(df)
        report = WalkReport.of(df)
        assert report.complete and report.details and report.details_requested == 0
    assert detail_gets(sb) == []


def test_multi_tenant_details(sb: Any) -> None:
    client = client_for(sb)
    df = client.events([SMALL, EMPTY], details=True, progress=False)
    assert df.columns[0] == "tenant"
    assert df["tenant"].tolist() == [SMALL] * 36
    assert list(df.columns[1 : 1 + len(EVENT_COLUMNS)]) == list(EVENT_COLUMNS)
    report = WalkReport.of(df)
    assert report.details and (report.details_requested, report.enriched) == (36, 36)
    assert [r.details_requested for r in report.per_tenant] == [36, 0]
    assert df["contacts.regular"].notna().sum() > 0
    assert len(detail_gets(sb)) == 36
    both = client.event_details([SMALL, EMPTY], progress=False)
    assert both["tenant"].tolist() == [SMALL] * 36


def test_client_side_filters_limit_the_details_fetched(sb: Any) -> None:
    client = client_for(sb)
    df = client.events(SMALL, status="Published", details=True, progress=False)
    assert 0 < len(df) < 36
    assert sorted(detail_gets(sb)) == sorted(df["id"])
    assert WalkReport.of(df).enriched == len(df)


# -- events gone between the listing and their detail --------------------------------------------


def test_404s_are_reported_as_missing_not_fatal(sb: Any) -> None:
    sb.faults.delete_after_listing = 3
    client = client_for(sb)
    listed = [e["id"] for e in sb.events(SMALL)]
    df = client.events(SMALL, details=True, progress=False)
    gone = set(listed) - {e["id"] for e in sb.events(SMALL)}
    assert len(gone) == 3
    report = WalkReport.of(df)
    assert report.complete
    assert set(report.missing_ids) == gone
    assert (report.details_fetched, report.enriched, len(df)) == (33, 33, 36)
    assert df["id"].tolist() == listed  # gone events keep their listing row
    missing_rows = df[df["id"].isin(gone)]
    assert missing_rows["contacts.regular"].isna().all()
    assert Counter(detail_gets(sb)) == Counter(listed)  # a 404 is not retried
    assert df.attrs["engagifii"]["missing_ids"] == list(report.missing_ids)
    sb.reset_log()
    rows = client.event_details(SMALL, ids=listed, progress=False)
    assert len(rows) == 33 and set(WalkReport.of(rows).missing_ids) == gone


def test_an_unknown_tenant_is_not_a_missing_event(sb: Any) -> None:
    client = client_for(sb)
    with pytest.raises(IncompleteWalkError) as info:
        client.event_details("NOPE", ids=["0f8fad5b-d9cb-469f-a165-70867728950e"], progress=False)
    assert isinstance(info.value.cause, TenantNotFoundError)


# -- failures, resume, cancel --------------------------------------------------------------------


def test_a_failed_detail_walk_resumes_from_its_checkpoint_without_refetching(sb: Any, tmp_path: Path) -> None:
    ids = [e["id"] for e in sb.events(SMALL)]
    sb.faults.detail_faults = {ids[19]: "html503"}
    checkpoint = tmp_path / "walk.jsonl"
    details_file = tmp_path / "walk.details.jsonl"
    client = client_for(sb, max_attempts=1)
    with pytest.raises(IncompleteWalkError) as info:
        client.events(SMALL, details=True, workers=1, progress=False, checkpoint=checkpoint)
    err = info.value
    assert isinstance(err.cause, ServerError)
    assert ids[19] in err.reason
    assert err.checkpoint == str(details_file)
    assert stat.S_IMODE(os.stat(details_file).st_mode) == 0o600
    partial = err.partial
    report = WalkReport.of(partial)
    assert not report.complete
    assert (report.details_fetched, report.enriched, report.details_unfetched) == (19, 19, 17)
    assert len(partial) == 36 and partial["contacts.regular"].notna().sum() <= 19
    with pytest.raises(ReportError, match="event details not fetched: 17"):
        export_csv(partial, tmp_path / "partial.csv")
    first = set(detail_gets(sb, 200))
    assert first == set(ids[:19])

    sb.reset_log()
    df = client_for(sb).events(SMALL, details=True, workers=4, progress=False, checkpoint=checkpoint)
    again = detail_gets(sb)
    assert Counter(again) == Counter(ids[19:])  # only what was not saved, each once
    report = WalkReport.of(df)
    assert report.complete and (report.details_fetched, report.details_resumed) == (36, 19)
    assert not details_file.exists() and not checkpoint.exists()
    reference = client_for(sb).events(SMALL, details=True, progress=False)
    pd.testing.assert_frame_equal(df, reference)


def test_a_detail_checkpoint_of_another_tenant_is_refused(sb: Any, tmp_path: Path) -> None:
    ids = [e["id"] for e in sb.events(SMALL)]
    sb.faults.detail_faults = {ids[2]: "drop"}
    client = client_for(sb, max_attempts=1)
    with pytest.raises(IncompleteWalkError):
        client.event_details(SMALL, ids=ids, workers=1, progress=False, checkpoint=tmp_path / "d.jsonl")
    with pytest.raises(ConfigurationError, match="tenant 'GLOBEX'"):
        client.event_details(LARGE, ids=ids[:1], progress=False, checkpoint=tmp_path / "d.jsonl")


def test_cancel_stops_the_detail_walk_with_a_partial_result(sb: Any) -> None:
    client = client_for(sb)
    cancel = threading.Event()
    seen: list[WalkProgress] = []

    def stop_after_ten(p: WalkProgress) -> None:
        seen.append(p)
        if p.phase == "details" and p.pages_done == 10:
            cancel.set()

    with pytest.raises(IncompleteWalkError) as info:
        client.events(LARGE, details=True, workers=4, progress=stop_after_ten, cancel=cancel)
    err = info.value
    assert err.reason == "cancelled"
    report = WalkReport.of(err.partial)
    assert not report.complete and report.details_fetched == 10
    assert len(err.partial) == 2400
    assert len(detail_gets(sb)) < 200  # the window in flight, not the whole tenant
    assert {p.phase for p in seen} == {"listing", "details"}
    last = [p for p in seen if p.phase == "details"][-1]
    assert (last.pages_total, last.total) == (2400, 2400)
    ids = [e["id"] for e in sb.events(SMALL)]
    allowed = client.event_details(SMALL, ids=ids, progress=False, cancel=cancel, allow_incomplete=True)
    assert len(allowed) == 0
    assert not WalkReport.of(allowed).complete and WalkReport.of(allowed).details_unfetched == 36


@pytest.mark.parametrize("fault", ["html503", "drop", "truncate"])
def test_faulty_details_are_retried(sb: Any, fault: str) -> None:
    sb.faults.detail_faults = {"*": fault}  # every detail's first attempt
    client = client_for(sb)
    df = client.event_details(SMALL, workers=4, progress=False)
    assert len(df) == 36 and WalkReport.of(df).complete
    assert sorted(Counter(detail_gets(sb)).values()) == [2] * 36
    answered = Counter(detail_gets(sb, 200))  # a truncated answer is a 200 with half a body
    assert sorted(answered.values()) == [2 if fault == "truncate" else 1] * 36
    assert WalkReport.of(df).retries == 36
    reference = client_for(sb).event_details(SMALL, progress=False)
    pd.testing.assert_frame_equal(df.drop(columns=[]), reference)


def test_429s_on_details_wait_and_lower_the_concurrency(sb: Any) -> None:
    sb.faults.rate_limit_every = 5
    sb.faults.retry_after = "1"
    sleep = SleepRecorder()
    client = EngagifiiClient(sb.settings(), sleep=sleep)
    df = client.event_details(SMALL, workers=8, progress=False)
    assert len(df) == 36
    report = WalkReport.of(df)
    assert report.retries > 0 and report.concurrency["throttled"] > 0
    assert report.concurrency["ceiling"] < 8
    assert 1.0 in sleep.waits  # Retry-After honoured
    assert sorted(Counter(detail_gets(sb, 200)).values()) == [1] * 36


def test_the_rate_limit_spaces_detail_requests(sb: Any) -> None:
    client = EngagifiiClient(sb.settings(max_requests_per_minute=1200))  # one request per 50 ms
    ids = [e["id"] for e in sb.events(SMALL)][:12]
    client.authenticate()
    sb.reset_log()
    client.event_details(SMALL, ids=ids, workers=8, progress=False)
    times = sorted(r["time"] for r in sb.log if r["kind"] == "api")
    assert len(times) == 12
    # 12 requests spaced 50 ms apart by the client span 0.55 s (arrival times jitter a little)
    assert times[-1] - times[0] > 0.5


# -- the command line ----------------------------------------------------------------------------


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_cli_details_table_sessions_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    report = tmp_path / "sessions.csv"
    code, out, err = run_cli(
        "events", "--sandbox", "--tenant", SMALL, "--details", "--table", "sessions", "-o", str(report), "--no-progress"
    )
    assert code == 0, err
    expected = sum(len(e["eventDates"] or []) for e in sandbox.generate()[SMALL])
    with report.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == expected
    assert list(rows[0])[:8] == [
        "eventId",
        "eventName",
        "sessionIndex",
        "sessionId",
        "sessionName",
        "start",
        "end",
        "sessionDay",
    ]
    assert f"wrote {expected:,} session rows for tenant {SMALL}" in out
    assert "details 36 fetched of 36" in out
    assert "note:" not in err
    # without --details: the listing's sessions, and a note saying so
    code, out, err = run_cli("events", "--sandbox", "--tenant", SMALL, "--table", "sessions", "-o", str(report))
    assert code == 0, err
    assert "note: sessions as the listing carries them; add --details" in err
    assert "details 36 fetched" not in out
    # contacts imply the details; --columns declared gives a fixed header; the default path names the table
    code, _out, err = run_cli(
        "events", "--sandbox", "--tenant", SMALL, "--table", "contacts", "--columns", "declared", "--no-progress"
    )
    assert code == 0, err
    assert "fetches every event's detail" in err
    (written,) = (tmp_path / "reports").glob("contacts-GLOBEX-*.csv")
    header = written.read_text(encoding="utf-8-sig").splitlines()[0]
    assert header == "eventId,eventName,role,contactIndex,contactId,contactName,email,phone"


def test_cli_a_detail_that_keeps_failing_exits_5_without_a_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    original = EngagifiiClient._fetch_detail
    calls: list[str] = []

    def failing(self: EngagifiiClient, code: str, event_id: str, hooks: Any) -> Any:
        calls.append(event_id)
        if len(calls) == 5:
            raise ServerError(503, "UNAVAILABLE", "down for maintenance", path=f"{DETAIL_PREFIX}{event_id}")
        return original(self, code, event_id, hooks)

    monkeypatch.setattr(EngagifiiClient, "_fetch_detail", failing)
    report = tmp_path / "events.csv"
    checkpoint = tmp_path / "walk.jsonl"
    code, _out, err = run_cli(
        "events", "--sandbox", "--tenant", SMALL, "--details", "--workers", "1", "-o", str(report),
        "--checkpoint", str(checkpoint), "--no-progress",
    )  # fmt: skip
    assert code == 5, err
    assert not report.exists()
    assert "could not be fetched" in err and "rerun" in err
    assert (tmp_path / "walk.details.jsonl").exists()


def test_tables_of_a_detail_walk(sb: Any) -> None:
    client = client_for(sb)
    df = client.events(SMALL, details=True, progress=False)
    table = sessions(df)
    assert len(table) == sum(len(e["eventDates"]) for e in sb.events(SMALL, detail=True))
    assert table.attrs["engagifii"] == df.attrs["engagifii"]


# -- the pieces, offline -------------------------------------------------------------------------


def test_detail_checkpoint_keeps_intact_lines_only(tmp_path: Path) -> None:
    from engagifii_data.checkpoint import Checkpoint, DetailCheckpoint

    path = tmp_path / "d.jsonl"
    store = DetailCheckpoint.open(path, tenant="T")
    store.save("a", {"id": "a", "name": "Ünïcode 🎉"})
    store.save("b", None)  # gone: 404
    store.save("c", {"id": "c"})
    with pytest.raises(ConfigurationError, match="in use"):
        DetailCheckpoint.open(path, tenant="T")
    store.release()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].replace('"c"}', '"x"}', 1)  # edited on disk: checksum no longer matches
    path.write_text("\n".join([*lines, '{"id": "torn']) + "\n", encoding="utf-8")  # and a torn last line
    again = DetailCheckpoint.open(path, tenant="T")
    assert again.saved() == {"a": {"id": "a", "name": "Ünïcode 🎉"}, "b": None}
    again.complete()
    assert not path.exists() and not (tmp_path / "d.jsonl.lock").exists()
    listing = Checkpoint.open(tmp_path / "l.jsonl", tenant="T", filters={}, page_size=10)
    listing.release()
    (tmp_path / "l.jsonl").write_text('{"format": "engagifii-checkpoint", "version": 2}\n', encoding="utf-8")
    with pytest.raises(ConfigurationError, match="not an engagifii-data detail checkpoint"):
        DetailCheckpoint.open(tmp_path / "l.jsonl", tenant="T")


def test_merge_details_lets_the_detail_win_where_it_has_a_value() -> None:
    from engagifii_data import events_frame
    from engagifii_data.walk import merge_details

    listing = events_frame(
        [
            {"id": "a", "name": "Listed A", "attendeesCount": 5, "eventDates": [{"id": "s1"}]},
            {"id": "b", "name": "Listed B", "attendeesCount": 7},
            {"name": "no id"},
        ]
    )
    details = events_frame(
        [
            {"id": "a", "name": "Detail A", "attendeesCount": None, "contacts": {"regular": [{"id": "c"}]},
             "eventDates": [{"id": "s1"}, {"id": "s2"}], "newField": 1},
        ]
    )  # fmt: skip
    before = listing.copy(deep=True)
    merged, enriched = merge_details(listing, details, ["a"])
    assert enriched == 1
    pd.testing.assert_frame_equal(listing, before)  # not changed
    assert merged["name"].tolist() == ["Detail A", "Listed B", "no id"]
    assert merged["attendeesCount"].tolist() == [5, 7, pd.NA]  # a null in the detail keeps the listing's
    assert merged.loc[0, "eventDates"] == [{"id": "s1"}, {"id": "s2"}]
    assert merged["contacts.regular"].tolist() == [[{"id": "c"}], None, None]
    assert merged.columns[-1] == "newField" and merged["newField"].tolist() == [1, None, None]
    assert_declared(merged)
    same, none = merge_details(listing, details.iloc[0:0], [])
    assert none == 0 and same.equals(listing)


def test_the_report_round_trips_its_detail_fields() -> None:
    report = WalkReport(
        tenants=("T",), details=True, details_requested=3, details_fetched=2, missing_ids=("x",), enriched=2
    )
    attrs = report.to_attrs()
    assert attrs["details"] is True and attrs["missing_ids"] == ["x"] and attrs["details_unfetched"] == 0
    assert WalkReport.from_attrs(attrs) == report
    plain = WalkReport(tenants=("T",)).to_attrs()
    assert "details" not in plain and "missing_ids" not in plain
    both = WalkReport.combine([report, report.replace(tenants=("U",), missing_ids=("y",))])
    assert (both.details, both.details_requested, both.missing_ids) == (True, 6, ("x", "y"))
