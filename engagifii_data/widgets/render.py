"""What the explorer shows, as HTML: status lines, the preview of each table, the events chart.

Pure functions of frames and texts (no widgets, no requests), so the worker thread can build a
result's HTML before it is shown. The events preview is :func:`engagifii_data.analysis.html_table`;
the sessions and contacts previews have the same look (readable headers, blanks for missing values,
names on one line, the table scrolling sideways inside its own box).
"""

from __future__ import annotations

import base64
import html
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..analysis import PREVIEW_COLUMNS, html_table, plot_events_by_month, readable_table
from ..frames.tables import contacts, sessions
from ..reports import WalkReport

__all__ = [
    "CONTACTS_NEED_DETAILS",
    "PROMPT",
    "STOPPED_BEFORE_DETAILS",
    "TABLES",
    "TIGHT",
    "TableView",
    "chart_html",
    "count",
    "lines",
    "plain",
    "preview_html",
    "result_views",
    "safe",
]

_COLOURS = {"info": "inherit", "ok": "#1b5e20", "warn": "#8a5300", "error": "#b00020"}

#: Line height of the status lines and notes: the widget's own (one control's height) leaves wide gaps
#: between the lines of a wrapped sentence.
TIGHT = "line-height:1.5"

#: The status line before the first walk.
PROMPT = "Pick a tenant and filters, then press <b>Fetch</b>."


def plain(text: str) -> str:
    """HTML as the plain text a person reads (one line per ``<div>`` or ``<br>``)."""
    text = re.sub(r"<br\s*/?>|</div>", "\n", text, flags=re.IGNORECASE)
    text = html.unescape(re.sub(r"<[^>]+>", " ", text)).replace("  ", " ")
    return re.sub(r" *\n+ *", "\n", text).strip()


def count(n: int, one: str, many: str | None = None) -> str:
    """``"1 page"``, ``"2,400 pages"``."""
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def safe(code: str) -> str:
    """A tenant code as a file-name part."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in code) or "_"


def lines(texts: str | Sequence[str], kind: str = "info") -> str:
    """Status lines (escaped), coloured by ``kind``: ``info``, ``ok``, ``warn``, ``error``."""
    items = [texts] if isinstance(texts, str) else texts
    return "".join(f'<div style="color:{_COLOURS[kind]}">{html.escape(text)}</div>' for text in items)


def chart_html(df: pd.DataFrame, title: str) -> str:
    """The events-per-month chart as an ``<img>`` never wider than the output."""
    buffer = io.BytesIO()
    figure: Any = plot_events_by_month(df, title=title).figure
    figure.savefig(buffer, format="png", dpi=96)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="{html.escape(title)}" src="data:image/png;base64,{data}" style="max-width:100%;height:auto">'


@dataclass(frozen=True)
class TableView:
    """One table of the switch: its label, the noun of its rows, and the preview's columns.

    ``columns`` maps a column to the header a person reads; ``clipped`` are the headers whose long
    values are cut with an ellipsis (the full text on hover).
    """

    label: str
    noun: str
    columns: Mapping[str, str]
    clipped: frozenset[str] = frozenset()


#: The tables the explorer switches between, by name (the ``{table}`` of the report path).
TABLES: dict[str, TableView] = {
    "events": TableView("Events", "event", {c: c for c in PREVIEW_COLUMNS}),
    "sessions": TableView(
        "Sessions",
        "session",
        {
            "tenant": "Tenant",
            "eventName": "Event",
            "sessionName": "Session",
            "start": "Start (UTC)",
            "end": "End (UTC)",
            "city": "City",
            "state": "State",
            "country": "Country",
        },
        frozenset({"Event", "Session"}),
    ),
    "contacts": TableView(
        "Contacts",
        "contact",
        {
            "tenant": "Tenant",
            "eventName": "Event",
            "role": "Role",
            "contactName": "Name",
            "email": "Email",
            "phone": "Phone",
        },
        frozenset({"Event", "Name", "Email"}),
    ),
}

_CELL = "padding:2px 10px 2px 0;white-space:nowrap;text-align:left;border-bottom:1px solid #e0e0e0"


def _cell(header: str, value: str, clipped: frozenset[str], tag: str = "td") -> str:
    text = html.escape(value)
    if tag == "td" and header in clipped:
        text = f'<div title="{text}" style="max-width:18em;overflow:hidden;text-overflow:ellipsis">{text}</div>'
    return f'<{tag} style="{_CELL}">{text}</{tag}>'


def _child_table(frame: pd.DataFrame, view: TableView, rows: int, caption: str) -> str:
    keep = [c for c in view.columns if c in frame.columns]
    table = readable_table(frame.head(rows), keep)
    headers = [view.columns[c] for c in keep]
    head = "".join(_cell(h, h, view.clipped, "th") for h in headers)
    body = "".join(
        "<tr>" + "".join(_cell(h, v, view.clipped) for h, v in zip(headers, values, strict=True)) + "</tr>"
        for values in table.itertuples(index=False)
    )
    return (
        f"<div><b>{html.escape(caption)}</b>"
        '<div style="max-width:100%;overflow-x:auto"><table style="border-collapse:collapse;font-size:12px">'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div></div>"
    )


def _notice(text: str, more: str = "") -> str:
    small = f"<div><small>{html.escape(more)}</small></div>" if more else ""
    return f"<div><b>{html.escape(text)}</b>{small}</div>"


#: What the contacts preview says when the result has no details.
CONTACTS_NEED_DETAILS = "Contacts need details: tick Details and Fetch"
#: ... and when Details was ticked but the walk stopped before the details.
STOPPED_BEFORE_DETAILS = "Contacts need details: this walk stopped before fetching them; press Resume or Fetch"


def preview_html(
    name: str,
    frame: pd.DataFrame | None,
    events: pd.DataFrame,
    *,
    rows: int,
    partial: str = "",
    source: str = "",
    need_details: str = CONTACTS_NEED_DETAILS,
) -> str:
    """The preview of table ``name`` of a result (HTML).

    Parameters
    ----------
    name : {"events", "sessions", "contacts"}
    frame : pandas.DataFrame or None
        The table (None: contacts of a result without details, which says ``need_details``).
    events : pandas.DataFrame
        The result's events frame (the child tables say how many events they come from).
    rows : int
        Rows shown.
    partial : str
        Why the data are partial (``"page"``, ``"detail"``) or empty when they are complete.
    source : str
        Where the sessions come from (``"the listing"``, ``"the details"``), said in their caption.
    """
    view = TABLES[name]
    if frame is None:
        return _notice(
            need_details + ".", "The listing carries no contacts; Details fetches each event's detail, which does."
        )
    if not len(events):
        return _notice("No events match this selection.")
    if not len(frame):
        where = "this event" if len(events) == 1 else f"these {count(len(events), 'event')}"
        return _notice(f"No {view.noun}s in {where}.")
    caption = f"PARTIAL data — not every {partial} was fetched. " if partial else ""
    caption += f"First {min(len(frame), rows):,} of {count(len(frame), view.noun)}"
    if name == "events":
        return html_table(frame, rows, caption=caption)
    caption += f" of {count(len(events), 'event')}" + (f" (from {source})" if source and name == "sessions" else "")
    return _child_table(frame, view, rows, caption)


def result_views(
    df: pd.DataFrame, tenant: str, *, rows: int, partial: str = "", need_details: str = CONTACTS_NEED_DETAILS
) -> tuple[dict[str, pd.DataFrame | None], dict[str, list[str]]]:
    """Every table of a result and its preview (HTML parts; the events get their chart too).

    Returns
    -------
    (dict, dict)
        By table name: the frame (``sessions(df)``, ``contacts(df)``; contacts None when ``df`` has
        no details), and the HTML parts shown for it.
    """
    has_details = WalkReport.of(df).details
    tables = {"events": df, "sessions": sessions(df), "contacts": contacts(df) if has_details else None}
    source = "the details" if has_details else "the listing"
    parts = {
        name: [preview_html(name, frame, df, rows=rows, partial=partial, source=source, need_details=need_details)]
        for name, frame in tables.items()
    }
    if len(df) and bool(df["startDateTime"].notna().any()):
        listing_partial = partial == "page"  # a stopped detail walk still has every listed event
        parts["events"].append(
            chart_html(df, f"{tenant}: events per month" + (" (PARTIAL)" if listing_partial else ""))
        )
    return tables, parts
