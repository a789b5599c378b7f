"""engagifii_data.analysis: the numbers an event team asks for, on hand-made frames and the sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest

from engagifii_data import sandbox
from engagifii_data.analysis import (
    capacity_summary,
    events_by_month,
    free_vs_paid,
    fullest_upcoming,
    html_table,
    plot_capacity_and_prices,
    plot_events_by_month,
    readable_table,
    tenant_summary,
    upcoming_capacity,
)
from engagifii_data.client import EngagifiiClient
from engagifii_data.frames import empty_events_frame

pytest.importorskip("matplotlib")

NOW = pd.Timestamp("2026-06-01T00:00:00Z")


def frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """An events frame with the declared dtypes holding ``rows`` (other columns NA)."""
    base = empty_events_frame()
    data: dict[str, Any] = {
        c: pd.Series([r.get(c) for r in rows], dtype=base[c].dtype) for c in base.columns if c != "tags"
    }
    return pd.DataFrame(data)


def test_events_by_month_counts_every_month_from_first_to_last() -> None:
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
    assert events_by_month(df.iloc[[3]]).empty


def test_the_old_widgets_names_still_import() -> None:
    from engagifii_data import analysis, widgets

    assert widgets.events_by_month is analysis.events_by_month
    assert widgets.plot_events_by_month is analysis.plot_events_by_month
    assert widgets.describe_filters(only_upcoming=True) == "server: onlyUpcoming · client: none"


def two_months() -> pd.DataFrame:
    return frame(
        [
            {"startDateTime": pd.Timestamp("2026-01-05T10:00Z"), "eventStatus": "Published"},
            {"startDateTime": pd.Timestamp("2026-01-06T10:00Z"), "eventStatus": "Published"},
            {"startDateTime": pd.Timestamp("2026-02-06T10:00Z"), "eventStatus": "Draft"},
        ]
    )


def test_the_monthly_chart_has_whole_counts_a_legend_beside_the_bars_and_narrow_bars_for_few_months() -> None:
    ax = plot_events_by_month(two_months())
    figure: Any = ax.figure
    figure.draw_without_rendering()
    ticks = ax.get_yticks()
    assert len(ticks) >= 2 and all(float(t).is_integer() for t in ticks)
    legend = ax.get_legend()
    assert legend is not None and [t.get_text() for t in legend.get_texts()] == ["Draft", "Published"]
    assert legend.get_window_extent().x0 >= ax.get_window_extent().x1  # beside the bars, not over them
    bars = [patch for container in ax.containers for patch in container]
    axis_width = ax.get_xlim()[1] - ax.get_xlim()[0]
    assert all(bar.get_width() / axis_width <= 0.125 for bar in bars)  # two months do not fill the width
    assert figure.get_figwidth() <= 7


def test_many_months_keep_a_readable_figure() -> None:
    starts = pd.date_range("2023-01-01", periods=40, freq="MS", tz="UTC")
    df = frame([{"startDateTime": s, "eventStatus": "Completed"} for s in starts])
    ax = plot_events_by_month(df, title="forty months")
    figure: Any = ax.figure
    assert figure.get_figwidth() <= 10
    assert len(ax.get_xticks()) <= 20
    assert ax.get_title() == "forty months"


def capacity_frame() -> pd.DataFrame:
    return frame(
        [
            {  # past: left out
                "name": "past",
                "startDateTime": pd.Timestamp("2026-01-01T10:00Z"),
                "eventStatus": "Completed",
                "registrantsCapacity": 10,
                "availableRegistrantsCapacity": 0,
            },
            {  # started before now, still running: upcoming
                "name": "running",
                "startDateTime": pd.Timestamp("2026-05-30T10:00Z"),
                "endDateTime": pd.Timestamp("2026-06-02T10:00Z"),
                "eventStatus": "Published",
                "registrantsCapacity": 100,
                "availableRegistrantsCapacity": 25,
                "isFreeEvent": False,
                "defaultPrice": 40.0,
            },
            {
                "name": "sold out",
                "startDateTime": pd.Timestamp("2026-07-01T10:00Z"),
                "eventStatus": "Published",
                "registrantsCapacity": 50,
                "availableRegistrantsCapacity": 0,
                "isFreeEvent": True,
                "defaultPrice": 5.0,
            },
            {
                "name": "no capacity",
                "startDateTime": pd.Timestamp("2026-08-01T10:00Z"),
                "eventStatus": "Draft",
                "isFreeEvent": True,
            },
            {
                "name": "cancelled",
                "startDateTime": pd.Timestamp("2026-09-01T10:00Z"),
                "eventStatus": "Cancelled",
                "registrantsCapacity": 10,
                "availableRegistrantsCapacity": 10,
            },
        ]
    )


def test_upcoming_capacity_summary_and_the_fullest_events() -> None:
    upcoming = upcoming_capacity(capacity_frame(), NOW)
    assert upcoming["name"].tolist() == ["running", "sold out", "no capacity"]
    assert upcoming["registered"].tolist()[:2] == [75, 50]
    assert upcoming["fill_rate"].tolist()[:2] == [0.75, 1.0]
    assert upcoming["fill_rate"].isna().tolist()[2]
    summary = capacity_summary(upcoming, NOW)
    assert summary.to_dict() == {
        "as of": NOW.isoformat(),
        "upcoming events": 3,
        "with a capacity": 2,
        "seats": 150,
        "seats available": 25,
        "sold out": 1,
        "overall fill rate": round(125 / 150, 3),
    }
    fullest = fullest_upcoming(upcoming, 5)
    assert fullest["name"].tolist() == ["sold out", "running"]
    assert "fill_rate" in fullest.columns and "registered" in fullest.columns
    # a naive `now` is UTC
    assert len(upcoming_capacity(capacity_frame(), NOW.tz_localize(None))) == 3


def test_free_vs_paid_and_the_histograms() -> None:
    df = capacity_frame()
    result = free_vs_paid(df)
    by_status = result["by_status"]
    assert by_status.loc["All", "All"] == 5
    assert by_status.loc["Published", "free"] == 1 and by_status.loc["Published", "paid"] == 1
    assert by_status.loc["Completed", "unknown"] == 1
    assert result["paid_prices"].loc["mean", "paid: defaultPrice"] == 40.0
    assert result["free_with_price"]["name"].tolist() == ["sold out"]
    figure = plot_capacity_and_prices(upcoming_capacity(df, NOW), df)
    assert [ax.get_title() for ax in figure.axes] == ["Upcoming events: fill rate", "Paid events: default price"]


def test_readable_table_has_readable_headers_and_blanks_for_missing_values() -> None:
    df = capacity_frame()
    table = readable_table(df)
    assert list(table.columns) == ["Name", "Status", "Start (UTC)", "City", "Capacity", "Available", "Free", "Price"]
    assert table.iloc[3].tolist() == ["no capacity", "Draft", "2026-08-01 10:00", "", "", "", "yes", ""]
    assert table.iloc[1].tolist()[-2:] == ["no", "40.00"]
    text = table.to_string()
    assert "<NA>" not in text and "NaT" not in text and "nan" not in text


def test_html_table_scrolls_inside_its_box_and_keeps_names_on_one_line() -> None:
    df = capacity_frame()
    df.loc[0, "name"] = "A very long event name <b>with markup</b> " * 4
    page = html_table(df, 3, caption="First 3 of 5 events")
    assert "overflow-x:auto" in page and "max-width:100%" in page
    assert "white-space:nowrap" in page and "text-overflow:ellipsis" in page
    assert "<b>with markup</b>" not in page and "&lt;b&gt;with markup" in page
    assert page.count("<tr>") == 4  # header + 3 rows
    assert "<th" in page and ">Start (UTC)</th>" in page
    assert "<NA>" not in page and "&lt;NA&gt;" not in page and "NaT" not in page


@pytest.fixture(scope="module")
def sb() -> Iterator[Any]:
    with sandbox.run() as server:
        yield server


def test_tenant_summary_of_a_multi_tenant_frame(sb: Any) -> None:
    with EngagifiiClient(sb.settings()) as client:
        report = client.events(["GLOBEX", "INITECH"], progress=False)
        single = client.events("GLOBEX", progress=False)
    summary = tenant_summary(report)
    assert list(summary.index) == ["GLOBEX", "INITECH"]
    assert summary["total_count"].tolist() == [36, 0] and summary["rows"].tolist() == [36, 0]
    assert summary["complete"].tolist() == [True, True]
    statuses = [c for c in summary.columns if c not in {"total_count", "rows", "pages", "complete", "fetched_at"}]
    assert summary.loc["GLOBEX", statuses].sum() == 36 and summary.loc["INITECH", statuses].sum() == 0
    one = tenant_summary(single)
    assert list(one.index) == ["GLOBEX"] and one.loc["GLOBEX", "rows"] == 36
