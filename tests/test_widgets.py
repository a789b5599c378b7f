"""EventExplorer driven programmatically against the sandbox: controls, click, wait(), assert.

Walks are counted in the sandbox's request log (``sb.log`` records of kind ``api``): one walk of
ACME is exactly its 24 list pages, each page number once.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

pytest.importorskip("ipywidgets")

from engagifii_data.client import EngagifiiClient
from engagifii_data.exceptions import IncompleteWalkError, TenantNotFoundError
from engagifii_data.widgets import (
    EventExplorer,
    WidgetFrontendWarning,
    describe_filters,
    events_by_month,
)

LARGE, SMALL, EMPTY = "ACME", "GLOBEX", "INITECH"


@pytest.fixture
def client(sb: Any) -> Iterator[EngagifiiClient]:
    sb.faults.latency = 0.0
    sb.reset_log()
    with EngagifiiClient(sb.settings()) as c:
        yield c
    sb.faults.latency = 0.0


def explorer_for(client: EngagifiiClient, tmp_path: Path, **kwargs: Any) -> EventExplorer:
    kwargs.setdefault("checkpoint", str(tmp_path / "ckpt" / "{tenant}-{filters}.jsonl"))
    kwargs.setdefault("export_path", str(tmp_path / "reports" / "events-{tenant}.csv"))
    return EventExplorer(client, **kwargs)


def api_pages(sb: Any) -> list[int]:
    return [r["page"] for r in sb.log if r["kind"] == "api"]


def run(explorer: EventExplorer) -> None:
    explorer.fetch_button.click()
    assert explorer.wait(60)


def test_controls_have_the_documented_names_and_types(client: EngagifiiClient, tmp_path: Path) -> None:
    import ipywidgets as w

    e = explorer_for(client, tmp_path)
    assert isinstance(e.tenant, w.Dropdown) and list(e.tenant.options) == [LARGE, SMALL, EMPTY]
    assert e.tenant.value == LARGE
    assert isinstance(e.only_upcoming, w.Checkbox)
    assert isinstance(e.search, w.Text)
    assert isinstance(e.start, w.DatePicker) and isinstance(e.end, w.DatePicker)
    assert isinstance(e.status, w.SelectMultiple)
    assert list(e.status.options) == ["Draft", "Published", "Cancelled", "Completed"]
    for button in (e.fetch_button, e.cancel_button, e.export_button):
        assert isinstance(button, w.Button)
    assert isinstance(e.export_path, w.Text) and isinstance(e.checkpoint, w.Text)
    assert isinstance(e.progress, w.IntProgress)
    assert isinstance(e.output, w.Output)
    assert isinstance(e.message, w.HTML)
    assert isinstance(e.root, w.VBox)
    bundle = e._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == e.root.model_id
    assert e.data is None and not e.running and e.wait() is True
    assert e.cancel_button.disabled and e.export_button.disabled
    e.close()


@pytest.mark.parametrize("tenant", [LARGE, SMALL, EMPTY])
def test_fetch_gives_every_row_progress_and_summary(
    sb: Any, client: EngagifiiClient, tmp_path: Path, tenant: str
) -> None:
    e = explorer_for(client, tmp_path)
    e.tenant.value = tenant
    run(e)
    expected = [ev["id"] for ev in sb.events(tenant)]
    assert e.error is None, e.message_text
    df = e.data
    assert df is not None
    assert df["id"].tolist() == expected
    meta = df.attrs["engagifii"]
    assert meta["complete"] is True and meta["tenant"] == tenant and meta["total_count"] == len(expected)
    pages = -(-len(expected) // 100) or 1
    assert e.progress.max == len(expected)
    assert e.progress.value == len(expected)
    assert e.progress.description == f"{pages}/{pages} pages"
    assert e.progress.bar_style == "success"
    text = e.message_text
    assert f"{len(expected):,} row" in text
    assert f"{pages} page" in text
    assert "1 token request" in text  # first walk of this client: one token
    assert "API request" in text and " s" in text
    assert "server: none · client: none" in text
    assert e.summary["pages"] == pages and e.summary["requests"] == pages and e.summary["token_requests"] == 1
    assert len(api_pages(sb)) == pages
    assert not e.fetch_button.disabled and e.cancel_button.disabled
    assert e.export_button.disabled is False
    # preview table, and a chart when there are rows
    kinds = [set(o["data"]) for o in e.output.outputs]
    assert "text/html" in kinds[0]
    assert ("image/png" in kinds[-1]) == bool(expected)
    if expected:
        assert "<table" in e.output.outputs[0]["data"]["text/html"]


def test_second_walk_reuses_the_token(client: EngagifiiClient, tmp_path: Path) -> None:
    e = explorer_for(client, tmp_path)
    e.tenant.value = SMALL
    run(e)
    run(e)
    assert e.summary["token_requests"] == 0
    assert "0 token requests (1 this session)" in e.message_text


def test_status_and_dates_are_applied_to_the_frame_and_said_so(
    sb: Any, client: EngagifiiClient, tmp_path: Path
) -> None:
    e = explorer_for(client, tmp_path)
    e.status.value = ("Published",)
    run(e)
    assert e.data is not None
    published = [ev["id"] for ev in sb.events(LARGE) if ev.get("eventStatus") == "Published"]
    assert 0 < len(published) < 2400
    assert e.data["id"].tolist() == published
    assert "client: status Published" in e.message_text
    assert e.summary["rows_fetched"] == 2400 and e.summary["rows"] == len(published)
    assert f"{len(published):,} after client filters" in e.message_text

    # a date range (inclusive end day) and two statuses, on the small tenant
    everything = client.events(SMALL, progress=False)
    e.tenant.value = SMALL
    e.status.value = ("Published", "Completed")
    e.start.value, e.end.value = dt.date(2025, 1, 1), dt.date(2025, 12, 31)
    run(e)
    lo = pd.Timestamp("2025-01-01", tz="UTC")
    hi = pd.Timestamp("2026-01-01", tz="UTC")
    want = everything[
        everything["eventStatus"].isin(["Published", "Completed"])
        & (everything["startDateTime"] >= lo)
        & (everything["startDateTime"] < hi)
    ]
    assert e.data is not None
    assert len(want) > 0
    assert e.data["id"].tolist() == want["id"].tolist()
    assert "client: status Published, Completed, startDateTime 2025-01-01..2025-12-31" in e.message_text


def test_search_and_upcoming_go_to_the_server(sb: Any, client: EngagifiiClient, tmp_path: Path) -> None:
    e = explorer_for(client, tmp_path)
    e.search.value = "gala"
    e.only_upcoming.value = True
    e.status.value = ("Published",)
    e.start.value, e.end.value = dt.date(2026, 1, 1), dt.date(2026, 3, 31)
    assert "server: onlyUpcoming, search 'gala' · client: status Published, startDateTime 2026-01-01..2026-03-31" in (
        e.filters_label.value.replace("&#x27;", "'")
    )
    e.status.value = ()
    e.start.value = e.end.value = None
    e.only_upcoming.value = False
    sb.reset_log()
    run(e)
    bodies = [r["body"] for r in sb.log if r["kind"] == "api"]
    assert bodies and all(b["text"] == "gala" for b in bodies)
    expected = [ev["id"] for ev in sb.events(LARGE) if "gala" in (ev.get("name") or "").lower()]
    assert e.data is not None and e.data["id"].tolist() == expected
    assert "server: search 'gala' · client: none" in e.message_text


def test_double_click_starts_one_walk(sb: Any, client: EngagifiiClient, tmp_path: Path) -> None:
    sb.faults.latency = 0.02
    e = explorer_for(client, tmp_path)
    e.fetch_button.click()
    assert e.fetch_button.disabled and e.running
    e.fetch_button.click()  # Button.click() ignores `disabled`: the lock must hold
    e.fetch()
    assert e.wait(60)
    assert e.walks_started == 1
    assert sorted(api_pages(sb)) == list(range(1, 25))  # exactly the pages of one walk
    assert e.data is not None and len(e.data) == 2400
    # once it has finished, the button starts a new walk again
    sb.faults.latency = 0.0
    e.tenant.value = SMALL
    run(e)
    assert e.walks_started == 2
    assert len(api_pages(sb)) == 25


def test_clicks_from_many_threads_start_one_walk(sb: Any, client: EngagifiiClient, tmp_path: Path) -> None:
    sb.faults.latency = 0.02
    e = explorer_for(client, tmp_path)
    e.tenant.value = SMALL
    barrier = threading.Barrier(8)

    def click() -> None:
        barrier.wait()
        e.fetch_button.click()

    threads = [threading.Thread(target=click) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert e.wait(60)
    assert e.walks_started == 1
    assert api_pages(sb) == [1]


def test_cancel_keeps_the_partial_rows_refuses_export_and_resumes(
    sb: Any, client: EngagifiiClient, tmp_path: Path
) -> None:
    sb.faults.latency = 0.05
    e = explorer_for(client, tmp_path, workers=2)
    cancelled = threading.Event()

    def cancel_after_page(change: dict[str, Any]) -> None:
        # runs in the walk's thread, right after a page was accepted
        if change["new"] >= 300 and not cancelled.is_set():
            cancelled.set()
            e.cancel_button.click()

    e.progress.observe(cancel_after_page, names="value")
    run(e)
    assert cancelled.is_set()
    assert isinstance(e.error, IncompleteWalkError)
    df = e.data
    assert df is not None
    meta = df.attrs["engagifii"]
    assert meta["complete"] is False
    assert 300 <= len(df) < 2400
    assert df["id"].tolist() == [ev["id"] for ev in sb.events(LARGE)][: len(df)]
    assert e.progress.bar_style == "warning"
    text = e.message_text
    assert "PARTIAL" in text and "cancelled" in text and "export is refused" in text
    assert "press Resume" in text
    assert "PARTIAL" in e.output.outputs[0]["data"]["text/html"]
    assert e.export_button.disabled
    assert e.fetch_button.description == "Resume"

    # export of partial data is refused, even when forced past the disabled button
    report = tmp_path / "partial.csv"
    e.export_path.value = str(report)
    e.export_button.click()
    assert e.wait(10)
    assert not report.exists()
    assert "export refused" in e.message_text

    # resume: page 1 again (to re-check the total), then only the pages not saved
    e.progress.unobserve(cancel_after_page, names="value")
    checkpoint = Path(e.error.checkpoint or "")
    assert checkpoint.exists()
    lines = checkpoint.read_text(encoding="utf-8").splitlines()[1:]
    saved = {json.loads(line)["page"] for line in lines}
    assert 1 in saved and len(saved) >= 3
    sb.faults.latency = 0.0
    sb.reset_log()
    run(e)
    assert e.error is None, e.message_text
    assert e.data is not None and e.data["id"].tolist() == [ev["id"] for ev in sb.events(LARGE)]
    assert sorted(api_pages(sb)) == [1, *sorted(set(range(2, 25)) - saved)]
    assert "resumed from checkpoint" in e.message_text
    assert not checkpoint.exists()  # the client deletes it once the walk completes
    assert e.fetch_button.description == "Fetch"


def test_a_failed_walk_shows_the_cause_and_resumes_from_its_checkpoint(sb: Any, tmp_path: Path) -> None:
    sb.reset_log()
    sb.faults.fail_from_page = 5
    try:
        with EngagifiiClient(sb.settings(), sleep=lambda _s: None) as c:
            e = explorer_for(c, tmp_path)
            run(e)
            assert isinstance(e.error, IncompleteWalkError)
            assert e.data is not None and e.data.attrs["engagifii"]["complete"] is False
            assert len(e.data) == 400
            failed = [r for r in sb.log if r["kind"] == "api" and r["status"] == 500]
            text = e.message_text
            assert "PARTIAL" in text and "INTERNAL_ERROR" in text and "HTTP 500" in text
            assert failed[-1]["trace_id"] in {t for t in (r["trace_id"] for r in failed)}
            assert any(r["trace_id"] in text for r in failed)
            assert e.fetch_button.description == "Resume" and e.export_button.disabled

            sb.faults.fail_from_page = None
            sb.reset_log()
            run(e)
            assert e.error is None, e.message_text
            assert e.data is not None and e.data["id"].tolist() == [ev["id"] for ev in sb.events(LARGE)]
            assert sorted(api_pages(sb)) == [1, *range(5, 25)]  # pages 2-4 came from the checkpoint
    finally:
        sb.faults.fail_from_page = None


def test_api_error_is_shown_in_the_widget(sb: Any, client: EngagifiiClient, tmp_path: Path) -> None:
    e = explorer_for(client, tmp_path, tenants=["NOPE"])
    run(e)
    assert isinstance(e.error, TenantNotFoundError)
    trace_ids = [r["trace_id"] for r in sb.log if r["kind"] == "api" and r["status"] >= 400]
    assert trace_ids and trace_ids[-1]
    text = e.message_text
    assert "TENANT_NOT_FOUND" in text
    assert trace_ids[-1] in text
    assert "HTTP 404" in text
    assert e.error.message and e.error.message in text
    assert e.progress.bar_style == "danger"
    assert e.data is None
    assert not e.fetch_button.disabled and e.export_button.disabled
    assert e.export() is False


def test_export_writes_the_csv_report_and_shows_the_path(sb: Any, client: EngagifiiClient, tmp_path: Path) -> None:
    e = explorer_for(client, tmp_path)
    e.tenant.value = SMALL
    assert e.export() is False  # nothing fetched yet
    run(e)
    e.export_button.click()
    assert e.wait(30)
    path = tmp_path / "reports" / f"events-{SMALL}.csv"
    assert e.last_export == path.resolve()
    assert str(path.resolve()) in e.message_text
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert back["id"].tolist() == [ev["id"] for ev in sb.events(SMALL)]
    assert "'=SUM(A1:A2) Workshop" in back["name"].tolist() or not any(
        ev["name"] == "=SUM(A1:A2) Workshop" for ev in sb.events(SMALL)
    )

    e.export_path.value = str(tmp_path / "globex.parquet")
    e.export_button.click()
    assert e.wait(30)
    table = pd.read_parquet(tmp_path / "globex.parquet")
    assert len(table) == 36
    assert "Parquet" in e.message_text

    # a write error is shown in the widget too
    (tmp_path / "a-file").write_text("x")
    e.export_path.value = str(tmp_path / "a-file" / "report.csv")
    e.export_button.click()
    assert e.wait(30)
    assert "could not write the file" in e.message_text
    assert isinstance(e.error, OSError)
    assert not e.export_button.disabled  # the data are still complete: try another path


def test_the_empty_date_range_is_refused_before_any_request(sb: Any, client: EngagifiiClient, tmp_path: Path) -> None:
    e = explorer_for(client, tmp_path)
    e.start.value, e.end.value = dt.date(2026, 2, 1), dt.date(2026, 1, 1)
    assert e.fetch() is False
    assert "date range is empty" in e.message_text
    assert api_pages(sb) == [] and e.walks_started == 0


def test_missing_ipywidgets_says_how_to_install(monkeypatch: pytest.MonkeyPatch, client: EngagifiiClient) -> None:
    monkeypatch.setitem(sys.modules, "ipywidgets", None)
    with pytest.raises(ImportError, match=r"engagifii-data\[lab\]"):
        EventExplorer(client)


def test_missing_frontend_warns_how_to_install(monkeypatch: pytest.MonkeyPatch, client: EngagifiiClient) -> None:
    monkeypatch.setitem(sys.modules, "jupyterlab_widgets", None)
    with pytest.warns(WidgetFrontendWarning, match=r"engagifii-data\[lab\]"):
        EventExplorer(client, checkpoint="")


def test_importing_the_module_does_not_import_ipywidgets() -> None:
    code = "import sys, engagifii_data.widgets; print('ipywidgets' in sys.modules, 'matplotlib' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]


def test_describe_filters_and_monthly_counts() -> None:
    assert describe_filters() == "server: none · client: none"
    assert (
        describe_filters(
            only_upcoming=True,
            search="gala",
            status=["Published"],
            start=dt.date(2026, 1, 1),
            end=dt.date(2026, 3, 31),
        )
        == "server: onlyUpcoming, search 'gala' · client: status Published, startDateTime 2026-01-01..2026-03-31"
    )
    df = pd.DataFrame(
        {
            "startDateTime": pd.to_datetime(
                pd.Series(["2026-01-05T10:00:00Z", "2026-01-31T23:30:00Z", "2026-03-01T00:00:00Z", None]), utc=True
            ),
            "eventStatus": pd.array(["Published", "Draft", "Published", "Published"], dtype="string"),
        }
    )
    table = events_by_month(df)
    assert list(table.index) == ["2026-01", "2026-02", "2026-03"]
    assert list(table.columns) == ["Draft", "Published"]
    assert table.to_numpy().tolist()[:2] == [[1, 1], [0, 0]]
    assert int(table.to_numpy().sum()) == 3
