"""EventExplorer driven programmatically against the sandbox: controls, click, wait(), assert.

Walks are counted in the sandbox's request log (``sb.log`` records of kind ``api``): one walk of
ACME is exactly its 24 list pages, each page number once.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

pytest.importorskip("ipywidgets")

from engagifii_data import sandbox
from engagifii_data.client import EngagifiiClient
from engagifii_data.exceptions import IncompleteWalkError, TenantNotFoundError
from engagifii_data.frames.tables import sessions as sessions_of
from engagifii_data.widgets import EventExplorer, WidgetFrontendWarning

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


def _n(count: int, one: str) -> str:
    return f"{count:,} {one if count == 1 else one + 's'}"


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
    assert e.progress.max == max(len(expected), 1)  # an empty listing shows a full bar too
    assert e.progress.value == e.progress.max
    assert e.progress.description == (f"{pages}/{pages} pages" if expected else "no events")
    assert e.progress.bar_style == "success"
    text = e.message_text
    assert f"{pages} page" in text
    assert "1 sign-in ·" in text and "this session" not in text  # first walk of this client: one token
    assert f"{_n(pages, 'request')} to Engagifii" in text and " s" in text
    assert "token" not in text and "API request" not in text  # words for an analyst
    assert "server: none · client: none" in text
    if expected:
        assert f"{len(expected):,} of {len(expected):,} events fetched" in text
    else:
        assert "no events match" in text and "pages" not in e.progress.description
    assert e.summary["pages"] == pages and e.summary["requests"] == pages and e.summary["token_requests"] == 1
    assert len(api_pages(sb)) == pages
    assert not e.fetch_button.disabled and e.cancel_button.disabled
    assert e.export_button.disabled is False
    # preview table, and a chart when there are rows
    pieces = [o["data"]["text/html"] for o in e.output.outputs]
    assert ("<table" in pieces[0]) == bool(expected)
    assert (len(pieces) == 2 and "data:image/png;base64," in pieces[1]) == bool(expected)
    if not expected:
        assert "No events match" in pieces[0] and len(pieces) == 1


def test_second_walk_reuses_the_token(client: EngagifiiClient, tmp_path: Path) -> None:
    e = explorer_for(client, tmp_path)
    e.tenant.value = SMALL
    run(e)
    run(e)
    assert e.summary["token_requests"] == 0
    assert "access token reused (1 sign-in this session)" in e.message_text


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
    assert f"2,400 of 2,400 events fetched, {len(published):,} after filters" in e.message_text

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
    assert "Press Resume" in text
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

    # the numbers add up: the pages held are the pages in the checkpoint, the rest are missing
    e.progress.unobserve(cancel_after_page, names="value")
    checkpoint = Path(e.error.checkpoint or "")
    assert checkpoint.exists()
    lines = checkpoint.read_text(encoding="utf-8").splitlines()[1:]
    saved = {json.loads(line)["page"] for line in lines}
    assert 1 in saved and len(saved) >= 3
    assert e.summary["saved_pages"] == len(saved) and e.summary["missing"] == 24 - len(saved)
    assert f"{len(saved)} of 24 pages saved in {checkpoint}; {24 - len(saved)} missing" in text
    assert f"{len(df):,} of 2,400 rows shown" in text
    sb.faults.latency = 0.0
    sb.reset_log()
    run(e)
    assert e.error is None, e.message_text
    assert e.data is not None and e.data["id"].tolist() == [ev["id"] for ev in sb.events(LARGE)]
    assert sorted(api_pages(sb)) == [1, *sorted(set(range(2, 25)) - saved)]
    assert f"resumed from checkpoint ({_n(len(saved) - 1, 'page')} reused)" in e.message_text
    assert e.summary["requests"] == 1 + 24 - len(saved)
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
            assert "400 of 2,400 rows shown; 4 of 24 pages saved in" in text and "; 20 missing" in text
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
    assert e.progress.value == e.progress.max > 0  # the red bar shows
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
    assert "cannot write the report" in e.message_text
    assert isinstance(e.error, OSError)
    assert not e.export_button.disabled  # the data are still complete: try another path


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


def _plain_text(value: str) -> str:
    return re.sub(r"<[^>]+>", "", value)


def html_of(e: EventExplorer) -> str:
    return "".join(o["data"]["text/html"] for o in e.output.outputs)


def test_changing_the_selection_marks_the_result_as_the_previous_one(
    sb: Any, client: EngagifiiClient, tmp_path: Path
) -> None:
    e = explorer_for(client, tmp_path)
    e.tenant.value = SMALL
    run(e)
    assert not e.export_button.disabled and "opacity" not in html_of(e)
    changes: list[Callable[[], None]] = [
        lambda: setattr(e.tenant, "value", LARGE),
        lambda: setattr(e.search, "value", "gala"),
        lambda: setattr(e.only_upcoming, "value", True),
        lambda: setattr(e.status, "value", ("Draft",)),
        lambda: setattr(e.start, "value", dt.date(2025, 1, 1)),
        lambda: setattr(e.end, "value", dt.date(2025, 1, 31)),
    ]
    for change in changes:
        e.tenant.value, e.search.value, e.only_upcoming.value = SMALL, "", False
        e.status.value, e.start.value, e.end.value = (), None, None
        assert not e.export_button.disabled and "previous selection" not in e.message_text
        change()
        text = e.message_text
        assert text.startswith(f"⟲ results for the previous selection: {SMALL} · server: none · client: none")
        assert "36 of 36 events fetched" in text  # the summary stays, dimmed
        assert "opacity:0.45" in e.message.value and "opacity:0.45" in html_of(e)
        assert "results for the previous selection" in e.output.outputs[0]["data"]["text/html"]
        assert e.export_button.disabled and e.progress.bar_style == ""
    # forced past the disabled button, Export still refuses to write the old selection's rows
    report = tmp_path / "stale.csv"
    e.export_path.value = str(report)
    assert e.export() is False and not report.exists()
    assert "export refused: the result is for the previous selection" in e.message_text
    # back to the selection of the result: current again
    e.tenant.value, e.end.value = SMALL, None
    assert "previous selection" not in e.message_text and not e.export_button.disabled
    assert e.progress.bar_style == "success" and "opacity" not in html_of(e)
    # a new Fetch replaces the result
    e.tenant.value = EMPTY
    run(e)
    assert "previous selection" not in e.message_text and "no events match" in e.message_text


def test_date_problems_show_as_soon_as_the_dates_change_and_clear_when_fixed(
    sb: Any, client: EngagifiiClient, tmp_path: Path
) -> None:
    e = explorer_for(client, tmp_path)
    e.start.value = dt.date(2026, 2, 1)
    e.end.value = dt.date(2026, 1, 1)
    label = e.filters_label.value
    assert "To (2026-01-01) is before From (2026-02-01): nothing can match" in label
    assert e.fetch_button.disabled
    assert e.fetch() is False and "To (2026-01-01) is before From" in e.message_text
    e.fetch_button.click()
    assert api_pages(sb) == [] and e.walks_started == 0  # nothing was sent
    e.end.value = dt.date(2026, 2, 28)
    assert "before" not in e.filters_label.value and "startDateTime 2026-02-01..2026-02-28" in e.filters_label.value
    assert not e.fetch_button.disabled and "before From" not in e.message_text
    # a combination that cannot match is a warning, not a block
    e.only_upcoming.value = True
    e.start.value, e.end.value = dt.date(2020, 1, 1), dt.date(2020, 1, 31)
    assert "only events still running match" in e.filters_label.value and not e.fetch_button.disabled


def test_retries_are_shown_in_the_status_line(tmp_path: Path) -> None:
    seen: list[str] = []
    with sandbox.run(page_faults={3: "html503"}) as server, EngagifiiClient(server.settings()) as c:
        e = explorer_for(c, tmp_path, workers=1)
        e.message.observe(lambda change: seen.append(change["new"]), names="value")
        run(e)
    retries = [_plain_text(line) for line in seen if "retrying" in line]
    assert retries, seen[-3:]
    assert re.match(
        r"fetching ACME: 200 of 2,400 rows · page 2 of 24 · retrying page 3 (in [\d.]+ s|now): HTTP 503", retries[0]
    )
    assert "#8a5300" in next(line for line in seen if "retrying" in line)  # in the warning colour
    assert e.error is None and "1 retry" in e.message_text


def test_a_stopped_sandbox_says_why_and_what_to_do(tmp_path: Path) -> None:
    with sandbox.run() as server:
        client = EngagifiiClient(server.settings(), sleep=lambda _s: None)
        e = explorer_for(client, tmp_path)
        e.tenant.value = SMALL
        run(e)
    run(e)  # the sandbox has stopped: connection refused
    client.close()
    text = e.message_text
    assert "Connection refused" in text or "connection refused" in text.lower()
    assert f"nothing accepts connections at {client.settings.api_base_url}" in text
    assert "run the notebook's setup cells again" in text and "then press Fetch" in text
    assert e.progress.bar_style == "danger" and e.progress.value == e.progress.max > 0
    # the earlier result stays on screen, labelled; nothing stale can be exported
    assert "the previous result: GLOBEX" in html_of(e) and e.data is None and e.export_button.disabled
    # choosing another tenant clears the error line
    e.tenant.value = EMPTY
    assert "Connection refused" not in e.message_text and e.progress.bar_style != "danger"


def test_an_empty_result_says_no_events_match_and_export_asks_first(
    sb: Any, client: EngagifiiClient, tmp_path: Path
) -> None:
    e = explorer_for(client, tmp_path)
    e.tenant.value = EMPTY
    run(e)
    assert f"✔ {EMPTY}: no events match (the listing is empty)" in e.message_text
    assert "<table" not in html_of(e) and "No events match this selection" in html_of(e)
    assert "1/1" not in e.progress.description
    report = tmp_path / "reports" / f"events-{EMPTY}.csv"
    e.export_button.click()
    assert e.wait(10) and not report.exists()
    assert "no events match: press Export again to write an empty report (header only)" in e.message_text
    e.export_button.click()
    assert e.wait(10) and report.exists()
    assert f"✔ wrote an empty report (header only) to {report.resolve()}" in e.message_text
    assert report.read_text(encoding="utf-8-sig").count("\n") == 1
    # filters that leave nothing say so too, with what was fetched
    e.tenant.value, e.search.value = SMALL, "no such event anywhere"
    run(e)
    assert "no events match (the listing is empty)" in e.message_text
    e.search.value = ""
    e.start.value, e.end.value = dt.date(1990, 1, 1), dt.date(1990, 1, 2)
    run(e)
    assert f"✔ {SMALL}: no events match (36 fetched, 0 after filters)" in e.message_text
    # the confirmation belongs to one selection: a changed selection asks again
    e.export_path.value = str(tmp_path / "second.csv")
    assert e.export() is False and "press Export again" in e.message_text
    e.end.value = dt.date(1990, 1, 3)
    run(e)
    assert e.export() is False and not (tmp_path / "second.csv").exists()


def test_export_lines_are_added_under_the_summary(sb: Any, client: EngagifiiClient, tmp_path: Path) -> None:
    e = explorer_for(client, tmp_path)
    e.tenant.value = SMALL
    run(e)
    first, second = tmp_path / "a.csv", tmp_path / "b.parquet"
    for path in (first, second):
        e.export_path.value = str(path)
        e.export_button.click()
        assert e.wait(30)
    lines = e.message_text.splitlines()
    assert lines[0].startswith(f"✔ {SMALL}: 36 of 36 events fetched")
    assert lines[-2] == f"✔ wrote 36 rows to {first.resolve()} (CSV, UTF-8 with BOM)"
    assert lines[-1] == f"✔ wrote 36 rows to {second.resolve()} (Parquet)"
    # a new walk starts a new summary
    run(e)
    assert "wrote" not in e.message_text


def test_the_preview_fits_the_output_and_reads_well(sb: Any, client: EngagifiiClient, tmp_path: Path) -> None:
    e = explorer_for(client, tmp_path)
    e.tenant.value = SMALL
    run(e)
    preview = e.output.outputs[0]["data"]["text/html"]
    assert "overflow-x:auto" in preview and "max-width:100%" in preview
    for header in ("Name", "Status", "Start (UTC)", "City", "Capacity", "Available", "Free", "Price"):
        assert f">{header}</th>" in preview
    assert "eventStatus" not in preview and "registrantsCapacity" not in preview
    assert "&lt;NA&gt;" not in preview and "<NA>" not in preview and "NaT" not in preview
    assert "text-overflow:ellipsis" in preview and "white-space:nowrap" in preview
    assert "First 10 of 36 events" in preview
    chart = e.output.outputs[1]["data"]["text/html"]
    assert chart.startswith("<div><img") and "max-width:100%" in chart


def test_the_checkpoint_field_shows_the_resolved_path(sb: Any, client: EngagifiiClient, tmp_path: Path) -> None:
    e = explorer_for(client, tmp_path)
    assert e.checkpoint.value == "" and e.checkpoint.placeholder.endswith("{tenant}-{filters}.jsonl")
    resolved = e.checkpoint_path()
    assert resolved is not None and resolved.is_absolute() and "{" not in str(resolved)
    assert resolved.name == f"{LARGE}-{e.query().checkpoint_key()}.jsonl"
    assert str(resolved) in e.checkpoint_label.value
    e.search.value = "gala"
    assert e.checkpoint_path() != resolved and str(e.checkpoint_path()) in e.checkpoint_label.value
    e.checkpoint.value = str(tmp_path / "mine-{tenant}.jsonl")
    assert e.checkpoint_path() == tmp_path / f"mine-{LARGE}.jsonl"
    e.resumable.value = False
    assert e.checkpoint_path() is None and "resuming off" in e.checkpoint_label.value
    # without a checkpoint a cancelled walk says how to make the next one resumable
    sb.faults.latency = 0.02
    e.search.value = ""
    e.progress.observe(lambda change: e.cancel() if change["new"] >= 200 else None, names="value")
    run(e)
    assert "Tick Keep pages to resume" in e.message_text and "of 24 pages fetched" in e.message_text
    assert not list(tmp_path.rglob("*.jsonl"))


# -- details and the table switch ----------------------------------------------------------------

DETAIL_PREFIX = "/api/1.0/event/"
ROLES = ("regular", "finance", "exhibitor")


def detail_gets(sb: Any) -> list[str]:
    """Event ids of the detail requests the sandbox received, in order (every attempt)."""
    return [
        r["path"].removeprefix(DETAIL_PREFIX)
        for r in list(sb.log)
        if r["kind"] == "api" and r["method"] == "GET" and r["path"].startswith(DETAIL_PREFIX)
    ]


def session_count(events: list[dict[str, Any]]) -> int:
    return sum(len(ev.get("eventDates") or []) for ev in events)


def contact_count(events: list[dict[str, Any]]) -> int:
    return sum(len((ev.get("contacts") or {}).get(role) or []) for ev in events for role in ROLES)


def show(e: EventExplorer, table: str) -> str:
    """Switch the table; the preview as plain text."""
    e.table.value = table
    return " ".join(_plain_text(html_of(e)).split())


def test_details_fetch_each_event_once_and_the_summary_counts_them(
    sb: Any, client: EngagifiiClient, tmp_path: Path
) -> None:
    e = explorer_for(client, tmp_path)
    e.tenant.value, e.details.value = SMALL, True
    assert "details: one more request per event" in e.filters_label.value
    assert "details beside them" in e.checkpoint_label.value
    seen: list[str] = []
    e.message.observe(lambda change: seen.append(_plain_text(change["new"])), names="value")
    run(e)
    assert e.error is None, e.message_text
    ids = [ev["id"] for ev in sb.events(SMALL)]
    assert sorted(detail_gets(sb)) == sorted(ids)  # one detail request per event, no more
    assert api_pages(sb).count(1) == 1  # and the listing's one page
    assert any(re.fullmatch(r"fetching GLOBEX: details \d+ of 36", line) for line in seen), seen[-3:]
    text = e.message_text
    assert "✔ GLOBEX: 36 of 36 events fetched" in text
    assert "details: 36 of 36 fetched · none missing" in text
    assert "37 requests to Engagifii" in text
    assert e.progress.description == "36/36 details" and e.progress.value == e.progress.max == 36
    assert e.progress.bar_style == "success"
    s = e.summary
    assert (s["details_requested"], s["details_fetched"], s["missing_ids"], s["enriched"]) == (36, 36, [], 36)
    assert s["sessions"] == session_count(sb.events(SMALL, detail=True))
    assert s["contacts"] == contact_count(sb.events(SMALL, detail=True))
    df = e.data
    assert df is not None and df["id"].tolist() == ids and df.attrs["engagifii"]["details"] is True
    assert not e.export_button.disabled
    assert not list(tmp_path.rglob("*.jsonl"))  # both checkpoints are gone once the walk completed


def test_details_deleted_since_listed_are_counted_as_missing(sb: Any, client: EngagifiiClient, tmp_path: Path) -> None:
    sb.faults.delete_after_listing = 2
    e = explorer_for(client, tmp_path)
    e.tenant.value, e.details.value = SMALL, True
    run(e)
    assert e.error is None, e.message_text
    assert "details: 34 of 36 fetched · 2 missing (HTTP 404: deleted since they were listed)" in e.message_text
    assert len(e.summary["missing_ids"]) == 2 and e.summary["details_fetched"] == 34
    assert e.data is not None and len(e.data) == 36  # the listing rows stay
    assert not e.export_button.disabled  # a 404 is an answer: the result is complete


def test_the_table_switch_changes_the_preview_and_the_export(sb: Any, client: EngagifiiClient, tmp_path: Path) -> None:
    e = explorer_for(client, tmp_path, export_path=str(tmp_path / "reports" / "{table}-{tenant}.csv"))
    assert [label for label, _ in e.table.options] == ["Events", "Sessions", "Contacts"]
    e.tenant.value, e.details.value = SMALL, True
    run(e)
    detail = sb.events(SMALL, detail=True)
    sessions, contacts = session_count(detail), contact_count(detail)
    assert sessions and contacts
    expected = {"events": 36, "sessions": sessions, "contacts": contacts}
    previews = {
        "events": ("First 10 of 36 events", ("Name", "Status", "Start (UTC)", "City", "Capacity")),
        "sessions": (
            f"First 10 of {sessions} sessions of 36 events (from the details)",
            ("Event", "Session", "Start (UTC)", "End (UTC)", "City", "Country"),
        ),
        "contacts": (f"First 10 of {contacts} contacts of 36 events", ("Event", "Role", "Name", "Email", "Phone")),
    }
    for table, (caption, headers) in previews.items():
        text = show(e, table)
        preview = html_of(e)
        assert caption in text
        for header in headers:
            assert f">{header}</th>" in preview
        assert "&lt;NA&gt;" not in preview and "NaT" not in preview and "None" not in preview
        assert "overflow-x:auto" in preview and "white-space:nowrap" in preview
        assert ("data:image/png;base64," in preview) == (table == "events")  # the chart is the events'
        assert "eventName" not in preview and "contactName" not in preview
        assert e.table_data is not None and len(e.table_data) == expected[table]
        assert not e.export_button.disabled
        e.export_button.click()
        assert e.wait(30)
        path = tmp_path / "reports" / f"{table}-{SMALL}.csv"
        back = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
        assert len(back) == expected[table]
        assert e.last_export == path.resolve()
    lines = e.message_text.splitlines()
    assert (
        lines[-3]
        == f"✔ wrote 36 rows to {(tmp_path / 'reports' / 'events-GLOBEX.csv').resolve()} (CSV, UTF-8 with BOM)"
    )
    assert lines[-2].startswith(f"✔ wrote {sessions} rows of sessions to ") and "sessions-GLOBEX.csv" in lines[-2]
    assert lines[-1].startswith(f"✔ wrote {contacts} rows of contacts to ") and "contacts-GLOBEX.csv" in lines[-1]
    back = pd.read_csv(tmp_path / "reports" / "contacts-GLOBEX.csv", encoding="utf-8-sig", dtype=str)
    assert set(back["role"]) <= set(ROLES) and list(back.columns[:3]) == ["eventId", "eventName", "role"]
    # the default path names the table too
    assert EventExplorer(client, checkpoint="").export_path.value == "reports/{table}-{tenant}.csv"


def test_contacts_without_details_say_how_to_get_them(sb: Any, client: EngagifiiClient, tmp_path: Path) -> None:
    e = explorer_for(client, tmp_path, export_path=str(tmp_path / "{table}-{tenant}.csv"))
    e.tenant.value = SMALL
    run(e)
    assert detail_gets(sb) == []
    assert "details:" not in e.message_text
    # sessions work from the listing
    assert f"of {session_count(sb.events(SMALL))} sessions of 36 events (from the listing)" in show(e, "sessions")
    text = show(e, "contacts")
    assert "Contacts need details: tick Details and Fetch." in text and "<table" not in html_of(e)
    assert e.table_data is None and e.export_button.disabled
    assert e.export() is False  # forced past the disabled button
    assert "export refused: Contacts need details: tick Details and Fetch" in e.message_text
    assert not (tmp_path / f"contacts-{SMALL}.csv").exists()
    # ticking Details marks the result as the previous selection's, on every table
    e.details.value = True
    assert e.message_text.startswith("⟲ results for the previous selection: GLOBEX · server: none · client: none —")
    for table in ("events", "sessions", "contacts"):
        show(e, table)
        assert "opacity:0.45" in html_of(e) and "results for the previous selection" in html_of(e)
        assert e.export_button.disabled and e.export() is False
    run(e)
    assert f"of {contact_count(sb.events(SMALL, detail=True))} contacts" in show(e, "contacts")
    assert "opacity" not in html_of(e) and not e.export_button.disabled


def test_an_empty_result_says_so_on_every_table(sb: Any, client: EngagifiiClient, tmp_path: Path) -> None:
    e = explorer_for(client, tmp_path, export_path=str(tmp_path / "{table}-{tenant}.csv"))
    e.tenant.value, e.details.value = EMPTY, True
    run(e)
    assert "no events match (the listing is empty)" in e.message_text and "details: none to fetch" in e.message_text
    for table in ("events", "sessions", "contacts"):
        assert "No events match this selection." in show(e, table)
    report = tmp_path / f"sessions-{EMPTY}.csv"
    show(e, "sessions")
    assert e.export() is False and not report.exists()
    assert f"no events match: press Export again to write an empty report (header only) to {report}" in e.message_text
    e.export_button.click()
    assert e.wait(10) and report.exists()
    assert f"✔ wrote an empty sessions report (header only) to {report.resolve()}" in e.message_text
    assert report.read_text(encoding="utf-8-sig").startswith("eventId,eventName,sessionIndex,")


def test_cancel_during_the_details_gives_a_partial_result_and_resume_fetches_each_detail_once(
    sb: Any, client: EngagifiiClient, tmp_path: Path
) -> None:
    sb.faults.latency = 0.03
    e = explorer_for(client, tmp_path, workers=2, export_path=str(tmp_path / "{table}-{tenant}.csv"))
    e.tenant.value, e.details.value = SMALL, True

    def cancel_after_ten_details(change: dict[str, Any]) -> None:
        # runs in the walk's thread, after a detail was answered
        done = re.fullmatch(r"(\d+)/\d+ details", change["new"])
        if done and int(done.group(1)) >= 10:
            e.cancel()

    e.progress.observe(cancel_after_ten_details, names="description")
    run(e)
    e.progress.unobserve(cancel_after_ten_details, names="description")
    assert isinstance(e.error, IncompleteWalkError) and e.error.reason == "cancelled"
    time.sleep(0.2)  # the sandbox logs a request cut off by Cancel once its (slowed) answer is sent
    first = detail_gets(sb)
    df = e.data
    assert df is not None and len(df) == 36  # every listing row, some enriched
    meta = df.attrs["engagifii"]
    assert meta["complete"] is False and meta["details"] is True and meta["details_unfetched"] > 0
    checkpoint = Path(e.error.checkpoint or "")
    assert checkpoint.name.endswith(".details.jsonl") and checkpoint.exists()
    saved = [json.loads(line)["id"] for line in checkpoint.read_text(encoding="utf-8").splitlines()[1:]]
    fetched, unfetched = meta["details_fetched"], meta["details_unfetched"]
    assert 10 <= fetched < 36 and fetched + unfetched == 36 and len(saved) >= fetched
    text = e.message_text
    assert (
        f"⚠ PARTIAL result (cancelled while fetching details): 36 events listed; details {fetched} of 36 "
        f"fetched (saved in {checkpoint}); {unfetched} still to fetch. This is not a complete report: export "
        "is refused."
    ) in text
    assert "Press Resume to fetch only the missing details." in text
    assert e.progress.bar_style == "warning" and e.progress.max == 36 and e.progress.value == fetched
    assert e.fetch_button.description == "Resume" and e.export_button.disabled
    assert "an earlier walk's details are there: Resume fetches the rest" in e.checkpoint_label.value
    for table in ("events", "sessions", "contacts"):  # partial on every table, and never exported
        assert "PARTIAL data — not every detail was fetched." in show(e, table)
        assert e.export() is False
        assert f"export refused: the data are PARTIAL (details {fetched} of 36)" in e.message_text
    assert not list(tmp_path.glob("*.csv"))

    sb.faults.latency = 0.0
    sb.reset_log()
    run(e)
    assert e.error is None, e.message_text
    second = detail_gets(sb)
    ids = [ev["id"] for ev in sb.events(SMALL)]
    # each detail was received once: Resume asked for exactly those not saved; the only ids asked for
    # twice are the requests that were in flight when Cancel cut them off (their answers never arrived)
    assert sorted(second) == sorted(set(ids) - set(saved)) and len(set(saved)) == len(saved)
    cut_off = set(first) - set(saved)
    assert len(first) == len(set(first)) and len(cut_off) <= 2  # at most one per worker
    assert sorted(set(first + second)) == sorted(ids) and set(first) & set(second) == cut_off
    assert set(second).isdisjoint(saved)
    text = e.message_text
    assert "details: 36 of 36 fetched · none missing" in text
    assert f"resumed from checkpoint ({len(saved)} details reused)" in text
    assert e.summary["details_resumed"] == len(saved)
    assert not checkpoint.exists() and e.fetch_button.description == "Fetch"
    assert f"of {contact_count(sb.events(SMALL, detail=True))} contacts" in show(e, "contacts")
    assert not e.export_button.disabled


def test_a_detail_retry_is_shown_in_the_status_line(sb: Any, tmp_path: Path) -> None:
    ids = [ev["id"] for ev in sb.events(SMALL)]
    sb.faults.detail_faults = {ids[3].lower(): "html503"}
    seen: list[str] = []
    with EngagifiiClient(sb.settings(), sleep=lambda _s: None) as c:
        e = explorer_for(c, tmp_path, workers=1)
        e.tenant.value, e.details.value = SMALL, True
        e.message.observe(lambda change: seen.append(_plain_text(change["new"])), names="value")
        run(e)
    retries = [html.unescape(line) for line in seen if "retrying" in line]
    assert retries and re.match(
        r"fetching GLOBEX: details 3 of 36 · retrying an event's detail (in [\d.]+ s|now): HTTP 503", retries[0]
    ), retries
    assert e.error is None and "1 retry" in e.message_text and "details: 36 of 36 fetched" in e.message_text


def test_events_without_sessions_say_so_and_their_export_asks_first(
    sb: Any, client: EngagifiiClient, tmp_path: Path
) -> None:
    from engagifii_data.widgets.render import preview_html

    df = client.events(SMALL, progress=False)
    bare = df.assign(eventDates=None)
    text = _plain_text(preview_html("sessions", sessions_of(bare), bare, rows=10))
    assert text == "No sessions in these 36 events."
    # in the explorer: an event without sessions, whose empty sessions table is exported on a second Export
    e = explorer_for(client, tmp_path, export_path=str(tmp_path / "{table}-{tenant}.csv"))
    e.tenant.value, e.search.value = SMALL, "Port Bryan Luncheon"
    run(e)
    assert "1 of 1 events fetched" in e.message_text  # the search's one event
    assert "No sessions in this event." in show(e, "sessions") and "<table" not in html_of(e)
    report = tmp_path / f"sessions-{SMALL}.csv"
    assert e.export() is False and not report.exists()
    assert f"no sessions in these events: press Export again to write an empty report (header only) to {report}" in (
        e.message_text
    )
    e.export_button.click()
    assert e.wait(10) and report.exists()
    assert f"✔ wrote an empty sessions report (header only) to {report.resolve()}" in e.message_text


def test_progress_reaches_the_browser_about_ten_times_a_second_and_always_ends_right(
    sb: Any, client: EngagifiiClient, tmp_path: Path
) -> None:
    from engagifii_data.widgets import explorer as explorer_module

    e = explorer_for(client, tmp_path)
    e.tenant.value, e.details.value = "ACME", True
    changes: list[str] = []
    e.progress.observe(lambda change: changes.append(str(change["new"])), names="description")
    calls: list[int] = []
    original = explorer_module.EventExplorer._on_progress

    def counting(self: EventExplorer, p: Any) -> None:
        calls.append(p.pages_done)
        original(self, p)

    explorer_module.EventExplorer._on_progress = counting  # type: ignore[method-assign]
    try:
        run(e)
    finally:
        explorer_module.EventExplorer._on_progress = original  # type: ignore[method-assign]
    assert e.error is None, e.message_text
    assert len(calls) >= 2_400  # one callback per detail (and per page) ...
    assert len(changes) < len(calls) / 10  # ... but far fewer updates sent to the browser
    assert e.progress.description == "2,400/2,400 details"  # the last one always arrives
    assert e.progress.value == e.progress.max == 2_400
