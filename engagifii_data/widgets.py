"""EventExplorer: pick a tenant and filters, press one button, watch the walk, preview, chart, export.

JupyterLab 4 with ipywidgets 8::

    from engagifii_data import EngagifiiClient
    from engagifii_data.widgets import EventExplorer

    explorer = EventExplorer(EngagifiiClient.from_env())
    explorer                       # the controls, progress, preview and chart

    # or driven from code (scripts, tests, a notebook run headless):
    explorer.tenant.value = "ACME"
    explorer.fetch_button.click()
    explorer.wait()
    df = explorer.data             # the DataFrame, df.attrs["engagifii"] included

ipywidgets is imported when an explorer is built, never by ``import engagifii_data`` nor by
importing this module; without it :class:`EventExplorer` raises :class:`ImportError` naming the
install command. :func:`events_by_month` and :func:`plot_events_by_month` need only pandas and
matplotlib and are shared with the notebooks.

Threading
---------
The walk (and an export) runs in one worker thread per job, started under a lock: a second click
while a job runs is ignored even when it bypasses the disabled button (``Button.click()`` does).
Cancel sets a :class:`threading.Event` that the client checks between pages; the client then raises
:class:`~engagifii_data.exceptions.IncompleteWalkError` and its ``.partial`` frame becomes
:attr:`EventExplorer.data`, labelled partial. Everything raised in the thread is caught and shown in
the widget (code, message and traceId of API errors), never left to the log console. The thread only
assigns widget traits (value, max, description, ...) and replaces ``Output.outputs`` as a whole; it
never uses ``with output:``/``print``, which route by the kernel's *current* parent message and land
in whichever cell runs last (ipywidgets #2358, #4020; ipykernel 7 changed thread output routing).
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import logging
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from .client import EngagifiiClient
from .exceptions import (
    ApiError,
    AuthenticationError,
    ConfigurationError,
    EngagifiiError,
    IncompleteWalkError,
    TransportError,
)
from .query import STATUSES
from .reports import export_csv, export_parquet
from .walk import WalkProgress

if TYPE_CHECKING:
    from matplotlib.axes import Axes

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_CHECKPOINT",
    "DEFAULT_EXPORT_PATH",
    "INSTALL_HINT",
    "PREVIEW_COLUMNS",
    "EventExplorer",
    "WidgetFrontendWarning",
    "describe_filters",
    "events_by_month",
    "plot_events_by_month",
]

#: How to get the widget stack (ipywidgets, JupyterLab and its widget frontend) into this environment.
INSTALL_HINT = "pip install 'engagifii-data[widgets]' (JupyterLab with the widget frontend: 'engagifii-data[lab]')"

#: Default report path; ``{tenant}`` is replaced by the tenant code.
DEFAULT_EXPORT_PATH = "reports/events-{tenant}.csv"

#: Default checkpoint path; ``{tenant}`` and ``{filters}`` (a short key of the server-side filters and
#: page size) are replaced, so each selection resumes its own walk. An empty path turns resuming off.
DEFAULT_CHECKPOINT = ".engagifii-checkpoints/{tenant}-{filters}.jsonl"

#: Columns shown in the preview table (those present in the frame, in this order).
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

_STATUS_COLOURS = {
    "Draft": "#9e9e9e",
    "Published": "#1f77b4",
    "Cancelled": "#d62728",
    "Completed": "#2ca02c",
}


class WidgetFrontendWarning(UserWarning):
    """The JupyterLab widget frontend (jupyterlab_widgets) is not installed beside ipywidgets."""


def _import_ipywidgets() -> Any:
    """Import ipywidgets >= 8, or raise ImportError saying how to install it; warn if no frontend."""
    try:
        import ipywidgets
    except ImportError as exc:
        raise ImportError(f"EventExplorer needs ipywidgets >= 8, which is not installed: {INSTALL_HINT}") from exc
    version = str(getattr(ipywidgets, "__version__", "0"))
    try:
        major = int(version.split(".")[0])
    except ValueError:
        major = 0
    if major < 8:
        raise ImportError(f"EventExplorer needs ipywidgets >= 8, found {version}: {INSTALL_HINT}")
    try:
        import jupyterlab_widgets  # noqa: F401
    except ImportError:
        warnings.warn(
            "the JupyterLab widget frontend (jupyterlab_widgets) is not installed in this environment: "
            "the explorer may show as plain text instead of controls. Install it where JupyterLab runs: "
            + INSTALL_HINT,
            WidgetFrontendWarning,
            stacklevel=3,
        )
    return ipywidgets


# -- pure helpers (pandas / matplotlib only) ---------------------------------------------------------


def describe_filters(
    *,
    only_upcoming: bool = False,
    search: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    status: Sequence[str] | None = None,
) -> str:
    """Say which filters the server applies and which are applied to the frame.

    The words of :meth:`EventQuery.describe <engagifii_data.query.EventQuery.describe>`, e.g.
    ``"server: onlyUpcoming, search 'gala' · client: status Published, startDateTime 2026-01-01..2026-03-31"``.
    """
    from .query import EventQuery

    return EventQuery(only_upcoming=only_upcoming, search=search, start=start, end=end, status=status).describe()


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
        columns: the four statuses in their usual order (those present), then any other status;
        values: event counts (int). Rows without a date are left out.
    """
    starts: Any = df[column] if column in df.columns else pd.Series([], dtype="datetime64[ns, UTC]")
    valid = starts.notna()
    if not bool(valid.any()):
        return pd.DataFrame(index=pd.Index([], name="month", dtype=object))
    when: Any = starts[valid]
    if getattr(when.dt, "tz", None) is not None:
        when = when.dt.tz_convert("UTC").dt.tz_localize(None)
    months = when.dt.to_period("M")
    status = df.loc[valid, "eventStatus"].astype("object").where(df.loc[valid, "eventStatus"].notna(), "(none)")
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

    Parameters
    ----------
    df : pandas.DataFrame
        An events frame.
    ax : matplotlib.axes.Axes, optional
        Where to draw; default a new :class:`matplotlib.figure.Figure` (not pyplot, so it is safe in
        a worker thread and does not pop up in the notebook by itself).
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    if ax is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(9, 3.2), layout="constrained")
        ax = fig.subplots()
    table = events_by_month(df)
    x = list(range(len(table)))
    bottom = [0] * len(table)
    for status in table.columns:
        values = table[status].tolist()
        ax.bar(x, values, bottom=bottom, label=str(status), color=_STATUS_COLOURS.get(str(status)), width=0.85)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    step = max(1, len(table) // 12)
    ax.set_xticks(x[::step])
    ax.set_xticklabels(list(table.index)[::step], rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("events")
    ax.set_xlabel("month of start (UTC)")
    ax.set_title(title or "Events per month by status")
    if len(table.columns):
        ax.legend(fontsize=8, ncols=min(4, len(table.columns)), loc="upper left")
    return ax


def _preview_html(df: pd.DataFrame, rows: int, *, partial: bool) -> str:
    columns = [c for c in PREVIEW_COLUMNS if c in df.columns]
    head = df.head(rows)[columns].copy()
    for column in head.columns:
        if isinstance(head[column].dtype, pd.DatetimeTZDtype):
            head[column] = head[column].dt.strftime("%Y-%m-%d %H:%M UTC")
    label = "PARTIAL data — not every page was fetched. " if partial else ""
    caption = f"<b>{label}First {len(head):,} of {len(df):,} rows</b>"
    table = head.to_html(index=False, escape=True, na_rep="", border=0, classes="engagifii-preview")
    return f"<div>{caption}{table}</div>"


def _figure_png(df: pd.DataFrame, title: str) -> bytes:
    ax = plot_events_by_month(df, title=title)
    buffer = io.BytesIO()
    figure: Any = ax.figure
    figure.savefig(buffer, format="png", dpi=96)
    return buffer.getvalue()


def _plain(text: str) -> str:
    import re

    text = re.sub(r"<br\s*/?>", "\n", text, flags=re.IGNORECASE)
    text = html.unescape(re.sub(r"<[^>]+>", " ", text)).replace("  ", " ")
    return re.sub(r" *\n *", "\n", text).strip()


def _error_lines(exc: BaseException) -> list[str]:
    """Human lines for an error: the API's code, message and traceId when there is one."""
    lines: list[str] = []
    if isinstance(exc, ApiError):
        lines.append(f"API error {exc.code or type(exc).__name__} (HTTP {exc.status})")
        if exc.message:
            lines.append(f"message: {exc.message}")
        lines.append(f"traceId: {exc.trace_id or 'none sent'}")
        if exc.path:
            lines.append(f"path: {exc.path}")
    elif isinstance(exc, AuthenticationError):
        lines.append(f"authentication failed: {exc.error}")
        if exc.description:
            lines.append(f"message: {exc.description}")
        lines.append("check ENGAGIFII_CLIENT_ID / ENGAGIFII_CLIENT_SECRET and the scope")
    elif isinstance(exc, ConfigurationError):
        lines.append(f"configuration: {exc}")
    elif isinstance(exc, TransportError):
        lines.append(f"network: {exc}")
    elif isinstance(exc, OSError):
        lines.append(f"could not write the file: {exc}")
    elif isinstance(exc, EngagifiiError):
        lines.append(f"{type(exc).__name__}: {exc}")
    else:
        lines.append(f"unexpected {type(exc).__name__}: {exc}")
    return lines


def _n(count: int, one: str, many: str | None = None) -> str:
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


def _filters_key(only_upcoming: bool, search: str | None, page_size: int) -> str:
    from .query import EventQuery

    return EventQuery(only_upcoming=only_upcoming, search=search, page_size=page_size).checkpoint_key()


def _safe(code: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in code) or "_"


class EventExplorer:
    """Tenant and filter controls, a live page-walk progress bar, a preview, a chart and an export.

    Parameters
    ----------
    client : EngagifiiClient
        The session used for every walk (its token is reused across walks).
    tenants : list of str, optional
        Tenant codes offered in the dropdown (default: the client's configured tenants).
    export_path : str
        Initial report path; ``{tenant}`` is replaced. ``.parquet``/``.pq`` write Parquet, anything
        else CSV (UTF-8 with BOM, formula-safe: :func:`engagifii_data.frames.export_csv`).
    checkpoint : str
        Initial checkpoint path (``{tenant}``, ``{filters}`` replaced; empty: no resume). A cancelled or
        failed walk keeps its pages there; pressing Fetch again with the same selection resumes it.
    page_size, workers : int
        Passed to :meth:`EngagifiiClient.events`.
    preview_rows : int
        Rows in the preview table.

    Attributes
    ----------
    tenant, only_upcoming, search, start, end, status, checkpoint : ipywidgets controls
    fetch_button, cancel_button, export_path, export_button : ipywidgets controls
    progress : ipywidgets.IntProgress
        ``max`` is the walk's total (rows), ``value`` the unique rows collected.
    message : ipywidgets.HTML
        The status line: progress, the summary of a finished walk, errors, exports.
    filters_label : ipywidgets.HTML
        Which filters the server applies and which the frame.
    output : ipywidgets.Output
        The preview table and the chart.
    root : ipywidgets.VBox
        Everything above; what is displayed.
    data : pandas.DataFrame or None
        The latest frame (complete, or the partial rows of a cancelled/failed walk; check
        ``data.attrs["engagifii"]["complete"]``).
    error : BaseException or None
        The error of the latest job, if it failed.
    summary : dict
        Numbers of the latest walk: rows, total, pages, requests, token_requests, retries, seconds,
        complete, filters.
    walks_started : int
        Walks started by this explorer.
    last_export : pathlib.Path or None
        The last report written.
    """

    def __init__(
        self,
        client: EngagifiiClient,
        tenants: Sequence[str] | None = None,
        *,
        export_path: str = DEFAULT_EXPORT_PATH,
        checkpoint: str = DEFAULT_CHECKPOINT,
        page_size: int = 100,
        workers: int = 4,
        preview_rows: int = 10,
    ) -> None:
        w = _import_ipywidgets()
        self.client = client
        codes = [str(t) for t in (tenants if tenants is not None else client.tenants)]
        if not codes:
            raise ConfigurationError("no tenant to explore: configure ENGAGIFII_TENANT_CODE or pass tenants=[...]")
        self.page_size = page_size
        self.workers = workers
        self.preview_rows = preview_rows
        self.data: pd.DataFrame | None = None
        self.error: BaseException | None = None
        self.summary: dict[str, Any] = {}
        self.walks_started = 0
        self.last_export: Path | None = None
        self.figure: Any = None

        self._lock = threading.Lock()
        self._output_lock = threading.Lock()
        self._job: threading.Thread | None = None
        self._job_kind: str | None = None
        self._cancel_event: threading.Event | None = None

        wide = {"description_width": "initial"}
        self.tenant = w.Dropdown(options=codes, value=codes[0], description="Tenant", style=wide)
        self.only_upcoming = w.Checkbox(value=False, description="Only upcoming (server)", indent=False)
        self.search = w.Text(value="", description="Search (server)", placeholder="name contains", style=wide)
        self.start = w.DatePicker(value=None, description="From", style=wide)
        self.end = w.DatePicker(value=None, description="To (incl.)", style=wide)
        self.status = w.SelectMultiple(options=list(STATUSES), value=(), rows=4, description="Status", style=wide)
        self.checkpoint = w.Text(
            value=checkpoint,
            description="Checkpoint",
            placeholder="empty: no resume",
            style=wide,
            layout=w.Layout(width="60%"),
        )
        self.fetch_button = w.Button(description="Fetch", button_style="primary", icon="download")
        self.cancel_button = w.Button(description="Cancel", icon="stop", disabled=True)
        self.progress = w.IntProgress(value=0, min=0, max=1, description="", style=wide)
        self.filters_label = w.HTML()
        self.message = w.HTML(value="Pick a tenant and filters, then press <b>Fetch</b>.")
        self.export_path = w.Text(value=export_path, description="Report", style=wide, layout=w.Layout(width="60%"))
        self.export_button = w.Button(description="Export", icon="save", disabled=True)
        self.output = w.Output()

        self.fetch_button.on_click(lambda _b: self.fetch())
        self.cancel_button.on_click(lambda _b: self.cancel())
        self.export_button.on_click(lambda _b: self.export())
        controls = (self.tenant, self.only_upcoming, self.search, self.start, self.end, self.status, self.checkpoint)
        for control in controls:
            control.observe(self._on_controls, names="value")

        self.root = w.VBox(
            [
                w.HBox([self.tenant, self.only_upcoming, self.search]),
                w.HBox([self.start, self.end, self.status]),
                self.checkpoint,
                w.HBox([self.fetch_button, self.cancel_button, self.progress]),
                self.filters_label,
                self.message,
                w.HBox([self.export_path, self.export_button]),
                self.output,
            ]
        )
        self._on_controls()

    # -- display --------------------------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.root._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        return f"EventExplorer(tenant={self.tenant.value!r}, rows={None if self.data is None else len(self.data)})"

    @property
    def message_text(self) -> str:
        """The status line as plain text."""
        return _plain(self.message.value)

    @property
    def running(self) -> bool:
        """True while a fetch or an export runs."""
        with self._lock:
            return self._job is not None and self._job.is_alive()

    def close(self) -> None:
        """Cancel a running walk, wait for it, and close every widget."""
        self.cancel()
        self.wait(10)
        for widget in self._widgets():
            widget.close()

    def _widgets(self) -> list[Any]:
        found: list[Any] = []
        stack = [self.root]
        while stack:
            widget = stack.pop()
            found.append(widget)
            stack.extend(getattr(widget, "children", ()))
        return found

    # -- controls -------------------------------------------------------------------------------

    def _params(self) -> dict[str, Any]:
        search = self.search.value.strip() or None
        status = list(self.status.value) or None
        tenant = str(self.tenant.value)
        template = self.checkpoint.value.strip()
        checkpoint = None
        if template:
            checkpoint = template.replace("{tenant}", _safe(tenant)).replace(
                "{filters}", _filters_key(bool(self.only_upcoming.value), search, self.page_size)
            )
        return {
            "tenant": tenant,
            "only_upcoming": bool(self.only_upcoming.value),
            "search": search,
            "start": self.start.value,
            "end": self.end.value,
            "status": status,
            "checkpoint": checkpoint,
        }

    def _filters_text(self, params: dict[str, Any]) -> str:
        from .exceptions import QueryError

        try:
            return self._describe(params)
        except QueryError as exc:
            return exc.named({"start": "From", "end": "To"})

    def _describe(self, params: dict[str, Any]) -> str:
        return describe_filters(
            only_upcoming=params["only_upcoming"],
            search=params["search"],
            start=params["start"],
            end=params["end"],
            status=params["status"],
        )

    def _on_controls(self, _change: Any = None) -> None:
        params = self._params()
        self.filters_label.value = f"<small>filters — {html.escape(self._filters_text(params))}</small>"
        if not self.running:
            saved = params["checkpoint"] is not None and Path(params["checkpoint"]).exists()
            self.fetch_button.description = "Resume" if saved else "Fetch"
            self.fetch_button.tooltip = (
                f"resume from {params['checkpoint']} (only missing pages are fetched)" if saved else "fetch every page"
            )

    def _set_message(self, text: str, *, kind: str = "info", raw_html: bool = False) -> None:
        colour = {"info": "inherit", "ok": "#1b5e20", "warn": "#8a5300", "error": "#b00020"}[kind]
        body = text if raw_html else html.escape(text)
        self.message.value = f'<div style="color:{colour}">{body}</div>'

    # -- jobs -----------------------------------------------------------------------------------

    def _start(self, kind: str, target: Callable[..., None], *args: Any) -> bool:
        with self._lock:
            if self._job is not None and self._job.is_alive():
                logger.debug("explorer: %s ignored, a %s is running", kind, self._job_kind)
                return False
            self._cancel_event = threading.Event()
            self._job_kind = kind
            self.fetch_button.disabled = True
            self.export_button.disabled = True
            self.cancel_button.disabled = kind != "fetch"
            thread = threading.Thread(
                target=self._guard,
                args=(target, self._cancel_event, *args),
                name=f"engagifii-explorer-{kind}",
                daemon=True,
            )
            self._job = thread
            if kind == "fetch":
                self.walks_started += 1
            thread.start()
            return True

    def _guard(self, target: Callable[..., None], cancel: threading.Event, *args: Any) -> None:
        try:
            target(cancel, *args)
        except BaseException as exc:  # everything: a thread's exception would only reach the log console
            logger.debug("explorer job failed", exc_info=True)
            self.error = exc
            if self._job_kind == "fetch":
                self.progress.bar_style = "danger"
            lines = _error_lines(exc)
            self._set_message("<br>".join(html.escape(line) for line in lines), kind="error", raw_html=True)
        finally:
            with self._lock:
                self._job = None
                self._job_kind = None
                self.cancel_button.disabled = True
                self.fetch_button.disabled = False
                complete = self.data is not None and bool(self.data.attrs.get("engagifii", {}).get("complete"))
                self.export_button.disabled = not complete
            self._on_controls()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the running fetch or export ends.

        Parameters
        ----------
        timeout : float, optional
            Seconds to wait at most (default: no limit).

        Returns
        -------
        bool
            True when no job is running any more.

        Raises
        ------
        KeyboardInterrupt
            Interrupting the wait (the kernel's stop button) also cancels a running walk.
        """
        with self._lock:
            job = self._job
        if job is None:
            return True
        try:
            job.join(timeout)
        except KeyboardInterrupt:  # an interrupted cell stops the walk too (after the current page)
            self.cancel()
            raise
        return not job.is_alive()

    def cancel(self) -> None:
        """Stop the running walk after the current page (its rows become a partial result)."""
        with self._lock:
            event = self._cancel_event
            running = self._job is not None and self._job.is_alive() and self._job_kind == "fetch"
        if event is not None and running and not event.is_set():
            event.set()
            self.cancel_button.disabled = True
            self._set_message("cancelling after the current page…", kind="warn")

    # -- fetch ----------------------------------------------------------------------------------

    def fetch(self) -> bool:
        """Start a walk with the current controls (what the Fetch button does).

        Returns
        -------
        bool
            False when a job was already running (nothing started) or the controls are invalid.
        """
        params = self._params()
        if params["start"] is not None and params["end"] is not None and params["end"] < params["start"]:
            self._set_message("the date range is empty: 'To' is before 'From'", kind="error")
            return False
        return self._start("fetch", self._run_fetch, params)

    def _on_progress(self, p: WalkProgress) -> None:
        self.progress.max = max(int(p.total), 0)
        self.progress.value = min(int(p.rows), self.progress.max)
        self.progress.description = f"{p.pages_done}/{p.pages_total} pages"
        self._set_message(
            f"fetching {p.tenant}: {p.rows:,} of {p.total:,} rows · page {p.pages_done} of {p.pages_total}"
        )

    def _run_fetch(self, cancel: threading.Event, params: dict[str, Any]) -> None:
        tenant = params["tenant"]
        filters = self._filters_text(params)
        checkpoint = params["checkpoint"]
        resuming = checkpoint is not None and Path(checkpoint).exists()
        self.data = None
        self.error = None
        self.summary = {}
        self.progress.bar_style = ""
        self.progress.value = 0
        self.progress.description = ""
        with self._output_lock:
            self.output.outputs = ()
        self._set_message(f"resuming {tenant} from {checkpoint}…" if resuming else f"fetching {tenant}…")
        before = self.client.stats.snapshot()
        started = time.monotonic()
        try:
            df = self.client.events(
                tenant,
                only_upcoming=params["only_upcoming"],
                search=params["search"],
                start=params["start"],
                end=params["end"],
                status=params["status"],
                page_size=self.page_size,
                workers=self.workers,
                progress=self._on_progress,
                cancel=cancel,
                checkpoint=checkpoint,
            )
        except IncompleteWalkError as exc:
            self._partial(exc, tenant, filters, before, started, cancelled=cancel.is_set())
            return
        seconds = time.monotonic() - started
        meta = df.attrs.get("engagifii", {})
        delta = self._delta(before)
        self.data = df
        self.summary = {
            "tenant": tenant,
            "rows": len(df),
            "rows_fetched": int(meta.get("rows_fetched", len(df))),
            "total": int(meta.get("total_count", len(df))),
            "pages": int(meta.get("pages", 0)),
            "seconds": round(seconds, 2),
            "complete": bool(meta.get("complete", True)),
            "filters": filters,
            "resumed": resuming,
            **delta,
        }
        self.progress.max = self.summary["total"]
        self.progress.value = min(self.summary["rows_fetched"], self.summary["total"])
        self.progress.bar_style = "success"
        s = self.summary
        kept = f" · {s['rows']:,} after client filters" if s["rows"] != s["rows_fetched"] else ""
        done = (
            f"✔ {tenant}: {_n(s['rows_fetched'], 'row')} (total {s['total']:,}){kept} · {_n(s['pages'], 'page')} · "
            f"{_n(s['requests'], 'API request')} · {_n(s['token_requests'], 'token request')} "
            f"({s['session_token_requests']} this session) · {_n(s['retries'], 'retry', 'retries')} · "
            f"{s['seconds']:.2f} s" + (" · resumed from checkpoint" if resuming else "")
        )
        self._set_message(
            f"{html.escape(done)}<br><small>applied — {html.escape(filters)}</small>", kind="ok", raw_html=True
        )
        self._render(df, tenant, partial=False)

    def _delta(self, before: dict[str, int]) -> dict[str, int]:
        after = self.client.stats.snapshot()
        return {
            "requests": after["http_requests"] - before["http_requests"],
            "token_requests": after["token_requests"] - before["token_requests"],
            "retries": after["retries"] - before["retries"],
            "session_token_requests": after["token_requests"],
        }

    def _partial(
        self,
        exc: IncompleteWalkError,
        tenant: str,
        filters: str,
        before: dict[str, int],
        started: float,
        *,
        cancelled: bool,
    ) -> None:
        self.error = exc
        partial = exc.partial
        meta = partial.attrs.get("engagifii", {}) if partial is not None else {}
        rows = len(partial) if partial is not None else 0
        total = int(meta.get("total_count", 0) or 0)
        self.data = partial
        self.summary = {
            "tenant": tenant,
            "rows": rows,
            "rows_fetched": int(meta.get("rows_fetched", rows)),
            "total": total,
            "pages": int(meta.get("pages", 0)),
            "seconds": round(time.monotonic() - started, 2),
            "complete": False,
            "filters": filters,
            "missing_pages": list(exc.missing_pages),
            **self._delta(before),
        }
        self.progress.bar_style = "warning"
        why = "cancelled" if cancelled else "the walk could not finish"
        lines = [
            f"⚠ PARTIAL result ({why}): {self.summary['rows_fetched']:,} of {total:,} rows, "
            f"{_n(self.summary['pages'], 'page')}; {_n(len(exc.missing_pages), 'page')} missing. "
            "This is not a complete report: export is refused."
        ]
        cause = exc.cause
        if cause is not None:
            lines.extend(_error_lines(cause))
        elif not cancelled:
            lines.append(str(exc))
        if exc.checkpoint:
            lines.append(
                f"The pages fetched are saved in {exc.checkpoint}: press Resume to fetch only the missing ones."
            )
        else:
            lines.append("Set a checkpoint path to make the next walk resumable.")
        self._set_message("<br>".join(html.escape(line) for line in lines), kind="warn", raw_html=True)
        if partial is not None:
            self._render(partial, tenant, partial=True)

    def _render(self, df: pd.DataFrame, tenant: str, *, partial: bool) -> None:
        """Replace the output with the preview table and the chart (thread-safe: no ``with output``)."""
        outputs: list[dict[str, Any]] = [
            {
                "output_type": "display_data",
                "data": {
                    "text/html": _preview_html(df, self.preview_rows, partial=partial),
                    "text/plain": f"{'PARTIAL ' if partial else ''}{len(df)} rows",
                },
                "metadata": {},
            }
        ]
        if len(df) and "startDateTime" in df.columns and bool(df["startDateTime"].notna().any()):
            title = f"{tenant}: events per month by status" + (" (PARTIAL)" if partial else "")
            png = _figure_png(df, title)
            outputs.append(
                {
                    "output_type": "display_data",
                    "data": {"image/png": base64.b64encode(png).decode("ascii"), "text/plain": title},
                    "metadata": {},
                }
            )
        with self._output_lock:
            self.output.outputs = tuple(outputs)

    # -- export ---------------------------------------------------------------------------------

    def export(self) -> bool:
        """Write :attr:`data` to the report path (what the Export button does).

        Partial data are refused: a report must never look complete when it is not.

        Returns
        -------
        bool
            True when an export was started.
        """
        df = self.data
        if df is None:
            self._set_message("nothing to export yet: press Fetch first", kind="warn")
            return False
        meta = df.attrs.get("engagifii", {})
        if not meta.get("complete", False):
            self._set_message(
                f"export refused: the data are PARTIAL ({len(df):,} of {meta.get('total_count', '?')} rows). "
                "Resume or fetch again, then export.",
                kind="error",
            )
            return False
        text = self.export_path.value.strip()
        if not text:
            self._set_message("export: set a report path first", kind="warn")
            return False
        tenant = meta.get("tenant", self.tenant.value)
        tenant_name = tenant if isinstance(tenant, str) else "-".join(map(str, tenant))
        path = Path(text.replace("{tenant}", _safe(tenant_name))).expanduser()
        return self._start("export", self._run_export, df, path)

    def _run_export(self, _cancel: threading.Event, df: pd.DataFrame, path: Path) -> None:
        self._set_message(f"writing {len(df):,} rows to {path}…")
        parquet = path.suffix.lower() in {".parquet", ".pq"}
        written = export_parquet(df, path) if parquet else export_csv(df, path)
        self.last_export = written.resolve()
        fmt = "Parquet" if parquet else "CSV, UTF-8 with BOM"
        filters = self.summary.get("filters", "")
        self._set_message(
            f"✔ wrote {len(df):,} rows to {self.last_export} ({fmt})" + (f" · {filters}" if filters else ""),
            kind="ok",
        )
