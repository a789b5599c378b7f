"""What an event team asks of an events frame: events per month, upcoming capacity, free vs paid, charts.

Every function takes a frame returned by :meth:`EngagifiiClient.events
<engagifii_data.client.EngagifiiClient.events>` (the declared columns and dtypes) and returns a new
frame, series or chart; nothing here sends a request or writes a file. The notebooks and the
explorer use them, so a number means the same everywhere. Only pandas is needed; the ``plot_*``
functions import matplotlib when called and draw on a :class:`matplotlib.figure.Figure` (not pyplot),
so they are safe in a worker thread and do not pop up in a notebook by themselves.

Months and "now" are UTC; ``startDateTime`` places an event in a month.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from .query import STATUSES

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "PREVIEW_COLUMNS",
    "READABLE_HEADERS",
    "STATUS_COLOURS",
    "capacity_summary",
    "events_by_month",
    "free_vs_paid",
    "fullest_upcoming",
    "html_table",
    "plot_capacity_and_prices",
    "plot_events_by_month",
    "readable_table",
    "tenant_summary",
    "upcoming_capacity",
]

#: Colours of the four statuses in every chart.
STATUS_COLOURS = {"Draft": "#9e9e9e", "Published": "#1f77b4", "Cancelled": "#d62728", "Completed": "#2ca02c"}

#: Columns of a short preview table (those present in the frame, in this order).
PREVIEW_COLUMNS: tuple[str, ...] = (
    "tenant",
    "name",
    "eventStatus",
    "startDateTime",
    "location.city",
    "registrantsCapacity",
    "availableRegistrantsCapacity",
    "isFreeEvent",
    "defaultPrice",
)

#: Headers a person reads instead of the API's field names.
READABLE_HEADERS: dict[str, str] = {
    "tenant": "Tenant",
    "name": "Name",
    "eventStatus": "Status",
    "startDateTime": "Start (UTC)",
    "endDateTime": "End (UTC)",
    "location.city": "City",
    "registrantsCapacity": "Capacity",
    "availableRegistrantsCapacity": "Available",
    "registered": "Registered",
    "fill_rate": "Filled",
    "isFreeEvent": "Free",
    "defaultPrice": "Price",
}

_RIGHT = {"Capacity", "Available", "Price", "Registered", "Filled"}
_CELL = "padding:2px 10px 2px 0;white-space:nowrap;text-align:{};border-bottom:1px solid #e0e0e0"

#: Fewest month slots a monthly chart is drawn with, so one or two months do not fill the width.
MIN_MONTH_SLOTS = 8


def _utc_naive(values: pd.Series) -> pd.Series:
    tz = getattr(values.dt, "tz", None)
    return values.dt.tz_convert("UTC").dt.tz_localize(None) if tz is not None else values


def events_by_month(df: pd.DataFrame, *, column: str = "startDateTime") -> pd.DataFrame:
    """Count events per calendar month (UTC) and status.

    Parameters
    ----------
    df : pandas.DataFrame
        An events frame (``eventStatus`` and ``column`` used).
    column : str
        The datetime column that places an event in a month (default ``startDateTime``).

    Returns
    -------
    pandas.DataFrame
        Index: every month ``"YYYY-MM"`` from the first to the last (months without events included);
        columns: the four statuses in their usual order (those present), then any other status
        (``"(none)"`` for a missing one); values: event counts (int). Rows without a date are left out.
    """
    starts: Any = df[column] if column in df.columns else pd.Series([], dtype="datetime64[ns, UTC]")
    valid = starts.notna()
    if not bool(valid.any()):
        return pd.DataFrame(index=pd.Index([], name="month", dtype=object))
    months = _utc_naive(starts[valid]).dt.to_period("M")
    raw = df.loc[valid, "eventStatus"] if "eventStatus" in df.columns else pd.Series(pd.NA, index=months.index)
    status = raw.astype("object").where(raw.notna(), "(none)")
    table = pd.crosstab(months.to_numpy(), status.to_numpy())
    span = pd.period_range(months.min(), months.max(), freq="M")
    table = table.reindex(span, fill_value=0)
    ordered = [s for s in STATUSES if s in table.columns] + sorted(c for c in table.columns if c not in STATUSES)
    table = table[ordered].astype(int)
    table.index = pd.Index([str(p) for p in span], name="month")
    table.columns.name = "eventStatus"
    return table


def plot_events_by_month(df: pd.DataFrame, ax: Axes | None = None, *, title: str | None = None) -> Axes:
    """Stacked bars of events per month (UTC, by ``startDateTime``) coloured by status.

    The y axis counts whole events; the legend sits to the right of the bars, never over them; a
    few months are drawn as narrow bars in the middle (at least :data:`MIN_MONTH_SLOTS` slots wide)
    instead of bars filling the width.

    Parameters
    ----------
    df : pandas.DataFrame
        An events frame.
    ax : matplotlib.axes.Axes, optional
        Where to draw; default a new :class:`~matplotlib.figure.Figure` sized for the number of months.
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    from matplotlib.ticker import MaxNLocator

    table = events_by_month(df)
    if ax is None:
        from matplotlib.figure import Figure

        width = min(10.0, 4.5 + 0.18 * max(len(table), MIN_MONTH_SLOTS))
        ax = Figure(figsize=(width, 3.2), layout="constrained").subplots()
    x = list(range(len(table)))
    bottom = [0] * len(table)
    for status in table.columns:
        values = table[status].tolist()
        colour = STATUS_COLOURS.get(str(status))
        ax.bar(x, values, bottom=bottom, label=str(status), color=colour, width=0.8)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    pad = max(0, MIN_MONTH_SLOTS - len(table)) / 2
    ax.set_xlim(-0.6 - pad, len(table) - 0.4 + pad)
    step = max(1, -(-len(table) // 18))
    ax.set_xticks(x[::step], list(table.index)[::step], rotation=45, ha="right", fontsize=8)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
    ax.set_ylim(0, max([*bottom, 1]) * 1.05)
    ax.set_ylabel("events")
    ax.set_xlabel("month of start (UTC)")
    ax.set_title(title or "Events per month by status", fontsize=10)
    if len(table.columns):
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, title="status")
    return ax


def upcoming_capacity(df: pd.DataFrame, now: dt.datetime | pd.Timestamp | None = None) -> pd.DataFrame:
    """The events not ended yet and not cancelled, with ``registered`` and ``fill_rate`` added.

    An event counts as upcoming when its end (else its start) is at or after ``now``.
    ``registered = registrantsCapacity - availableRegistrantsCapacity``; ``fill_rate`` is registered /
    capacity (NA without a positive capacity).

    Parameters
    ----------
    df : pandas.DataFrame
        An events frame.
    now : datetime, optional
        The moment that separates past from upcoming (default: now, UTC; a naive value is UTC).

    Returns
    -------
    pandas.DataFrame
        The upcoming rows (``attrs`` dropped), two columns added: ``registered`` (Int64), ``fill_rate`` (Float64).
    """
    when = pd.Timestamp(now) if now is not None else pd.Timestamp.now(tz="UTC")
    when = when.tz_localize("UTC") if when.tzinfo is None else when.tz_convert("UTC")
    ends = df["endDateTime"].fillna(df["startDateTime"])
    keep = (ends >= when).fillna(False).astype(bool) & (df["eventStatus"] != "Cancelled").fillna(True).astype(bool)
    upcoming = df.loc[keep].copy()
    upcoming.attrs = {}
    capacity = upcoming["registrantsCapacity"]
    upcoming["registered"] = (capacity - upcoming["availableRegistrantsCapacity"]).astype("Int64")
    upcoming["fill_rate"] = (upcoming["registered"] / capacity.where(capacity > 0)).astype("Float64")
    return upcoming


def _known_capacity(upcoming: pd.DataFrame) -> pd.DataFrame:
    return upcoming[upcoming["registrantsCapacity"].notna() & upcoming["availableRegistrantsCapacity"].notna()]


def capacity_summary(upcoming: pd.DataFrame, now: dt.datetime | pd.Timestamp | None = None) -> pd.Series:
    """Seats over the upcoming events of :func:`upcoming_capacity`: one labelled number per line.

    Returns
    -------
    pandas.Series
        ``upcoming events``, ``with a capacity``, ``seats``, ``seats available``, ``sold out`` (ints),
        ``overall fill rate`` (registered / seats, 3 decimals), and ``as of`` when ``now`` is given.
    """
    known = _known_capacity(upcoming)
    seats = int(known["registrantsCapacity"].sum())
    values: dict[str, Any] = {} if now is None else {"as of": pd.Timestamp(now).isoformat()}
    values.update(
        {
            "upcoming events": len(upcoming),
            "with a capacity": len(known),
            "seats": seats,
            "seats available": int(known["availableRegistrantsCapacity"].sum()),
            "sold out": int((known["availableRegistrantsCapacity"] <= 0).sum()),
            "overall fill rate": round(float(known["registered"].sum()) / max(seats, 1), 3),
        }
    )
    return pd.Series(values, name="upcoming", dtype=object)


def fullest_upcoming(upcoming: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    """The ``n`` upcoming events closest to full (highest fill rate, then earliest start), with a capacity.

    Returns
    -------
    pandas.DataFrame
        ``name``, ``eventStatus``, ``startDateTime``, ``location.city``, the two capacities,
        ``registered`` and ``fill_rate``.
    """
    columns = [
        "name",
        "eventStatus",
        "startDateTime",
        "location.city",
        "registrantsCapacity",
        "availableRegistrantsCapacity",
        "registered",
        "fill_rate",
    ]
    known = _known_capacity(upcoming)
    ordered = known.sort_values(["fill_rate", "startDateTime"], ascending=[False, True], na_position="last")
    return ordered[columns].head(n).reset_index(drop=True)


def free_vs_paid(df: pd.DataFrame) -> dict[str, Any]:
    """Free and paid events, by status, with the paid prices and the free events that carry a price.

    Returns
    -------
    dict
        ``"by_status"``: a crosstab of status (rows, ``(none)`` for a missing one) by kind (``free``,
        ``paid``, ``unknown``) with ``All`` margins; ``"paid_prices"``: ``describe()`` of the paid
        events' ``defaultPrice`` (2 decimals); ``"free_with_price"``: the free events whose price is
        above 0 (a data-quality check).
    """
    kind = df["isFreeEvent"].map({True: "free", False: "paid"}).astype("object").fillna("unknown")
    status = df["eventStatus"].astype("object").fillna("(none)")
    by_status = pd.crosstab(status, kind, margins=True)
    prices = df.loc[kind == "paid", "defaultPrice"].astype("float")
    free_with_price = df[(kind == "free") & (df["defaultPrice"].fillna(0) > 0).astype(bool)]
    return {
        "by_status": by_status,
        "paid_prices": prices.describe().round(2).to_frame("paid: defaultPrice"),
        "free_with_price": free_with_price,
    }


def plot_capacity_and_prices(upcoming: pd.DataFrame, df: pd.DataFrame) -> Figure:
    """Two histograms side by side: the fill rate of upcoming events, the price of paid events.

    Parameters
    ----------
    upcoming : pandas.DataFrame
        From :func:`upcoming_capacity`.
    df : pandas.DataFrame
        The events frame (its paid events' ``defaultPrice``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(10, 3.2), layout="constrained")
    left, right = fig.subplots(1, 2)
    rates = upcoming["fill_rate"].astype("float").dropna()
    left.hist(rates, bins=20, range=(0, 1), color="#1f77b4")
    left.set_title("Upcoming events: fill rate", fontsize=10)
    left.set_xlabel("registered / capacity")
    prices = df.loc[(df["isFreeEvent"] == False).fillna(False).astype(bool), "defaultPrice"]  # noqa: E712
    right.hist(prices.astype("float").dropna(), bins=20, color="#2ca02c")
    right.set_title("Paid events: default price", fontsize=10)
    right.set_xlabel("defaultPrice")
    for ax in (left, right):
        ax.set_ylabel("events")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
    return fig


def tenant_summary(report: pd.DataFrame) -> pd.DataFrame:
    """One row per tenant of a multi-tenant frame: the walk's numbers and the events per status.

    Parameters
    ----------
    report : pandas.DataFrame
        A frame of :meth:`EngagifiiClient.events` called with a list of tenants (leading ``tenant``
        column, a combined walk report).

    Returns
    -------
    pandas.DataFrame
        Index ``tenant`` (every tenant walked, those without events included); columns
        ``total_count``, ``rows``, ``pages``, ``complete``, ``fetched_at``, then one count per status.
    """
    from .reports import WalkReport

    walk = WalkReport.of(report)
    codes = report["tenant"].astype("object") if "tenant" in report.columns else pd.Series(walk.tenant, report.index)
    summary = pd.DataFrame(
        [
            {
                "tenant": part.tenant,
                "total_count": part.total_count,
                "rows": int((codes == part.tenant).sum()),
                "pages": part.pages,
                "complete": part.complete,
                "fetched_at": part.fetched_at,
            }
            for part in walk.per_tenant or (walk,)
        ]
    ).set_index("tenant")
    by_status = pd.crosstab(codes, report["eventStatus"].astype("object").fillna("(none)"))
    summary = summary.join(by_status)
    summary[list(by_status.columns)] = summary[list(by_status.columns)].fillna(0).astype(int)
    return summary


def _cell(value: Any, column: str) -> str:
    if value is None or value is pd.NaT or (not isinstance(value, list | dict) and bool(pd.isna(value))):
        return ""
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, bool):
        return "yes" if value else "no"
    if column in {"defaultPrice"} and isinstance(value, float):
        return f"{value:,.2f}"
    if column == "fill_rate" and isinstance(value, float):
        return f"{value:.0%}"
    if isinstance(value, float) and value.is_integer():
        return f"{int(value):,}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def readable_table(df: pd.DataFrame, columns: Sequence[str] = PREVIEW_COLUMNS) -> pd.DataFrame:
    """The frame as text a person reads: readable headers, blanks for missing values, short dates.

    Datetimes become ``YYYY-MM-DD HH:MM`` (their column header says the zone, e.g. ``Start (UTC)``),
    flags ``yes``/``no``, prices two decimals, counts with thousands separators; NA, NaT and None
    become empty strings (never ``<NA>``).

    Parameters
    ----------
    df : pandas.DataFrame
    columns : sequence of str
        The columns to keep, those present in ``df``, in this order (default :data:`PREVIEW_COLUMNS`).

    Returns
    -------
    pandas.DataFrame
        Strings only, headers from :data:`READABLE_HEADERS` (other columns keep their name).
    """
    keep = [c for c in columns if c in df.columns]
    out = pd.DataFrame(index=range(len(df)))
    for column in keep:
        values = df[column]
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            values = values.dt.tz_convert("UTC")
        out[READABLE_HEADERS.get(column, column)] = [_cell(v, column) for v in values.astype("object")]
    return out


def _html_cell(header: str, value: str, tag: str = "td") -> str:
    text = html.escape(value)
    if header == "Name" and tag == "td":  # one line, cut with an ellipsis; the full name on hover
        text = f'<div title="{text}" style="max-width:22em;overflow:hidden;text-overflow:ellipsis">{text}</div>'
    return f'<{tag} style="{_CELL.format("right" if header in _RIGHT else "left")}">{text}</{tag}>'


def html_table(df: pd.DataFrame, rows: int = 10, columns: Sequence[str] = PREVIEW_COLUMNS, caption: str = "") -> str:
    """The first ``rows`` rows of :func:`readable_table` as HTML that fits any output width.

    The table scrolls sideways inside its own box (never wider than its container), cells do not
    wrap, and long names are cut with an ellipsis (the full name shows on hover).

    Parameters
    ----------
    df : pandas.DataFrame
    rows : int
        Rows shown (default 10).
    columns : sequence of str
        As for :func:`readable_table`.
    caption : str
        Text above the table (escaped).

    Returns
    -------
    str
    """
    table = readable_table(df.head(rows), columns)
    head = "".join(_html_cell(h, h, "th") for h in table.columns)
    body = "".join(
        "<tr>" + "".join(_html_cell(h, v) for h, v in zip(table.columns, values, strict=True)) + "</tr>"
        for values in table.itertuples(index=False)
    )
    return (
        f"<div><b>{html.escape(caption)}</b>"
        '<div style="max-width:100%;overflow-x:auto"><table style="border-collapse:collapse;font-size:12px">'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div></div>"
    )
