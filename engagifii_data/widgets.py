"""EventExplorer: pick a tenant and filters, press one button, watch the walk, preview, chart, export.

``explorer = EventExplorer(client)`` displays the controls; from code: set ``explorer.tenant.value``,
``explorer.fetch_button.click()``, ``explorer.wait()``, then read ``explorer.data``. ipywidgets is
imported when an explorer is built, never by importing this module. Counts, tables and charts come
from :mod:`engagifii_data.analysis` (``events_by_month``, ``plot_events_by_month`` stay importable here).

A result belongs to one selection (tenant and filters): changing any of them dims it, labels it
"results for the previous selection" and disables Export until the next Fetch; invalid filters are
shown as soon as they change and Fetch waits until they are fixed.

Threading: a walk or an export runs in one worker thread, started under a lock (a second click is
ignored even when it bypasses the disabled button). Everything it raises is shown in the widget. It
only assigns widget traits and replaces ``Output.outputs`` whole, never ``with output:``/``print``,
which land in whichever cell runs last (ipywidgets #2358, #4020).
"""

from __future__ import annotations

import base64
import html
import io
import logging
import re
import threading
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .analysis import PREVIEW_COLUMNS, events_by_month, html_table, plot_events_by_month
from .client import EngagifiiClient
from .exceptions import ConfigurationError, IncompleteWalkError, QueryError, TransportError, describe_error
from .query import STATUSES, EventQuery
from .reports import WalkReport, report_format, write_report
from .walk import WalkProgress

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_CHECKPOINT",
    "DEFAULT_EXPORT_PATH",
    "EXPLORER_WORDS",
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
#: page size) are replaced, so each selection resumes its own walk.
DEFAULT_CHECKPOINT = ".engagifii-checkpoints/{tenant}-{filters}.jsonl"

#: How error advice names the explorer's controls (:func:`~engagifii_data.exceptions.describe_error`).
EXPLORER_WORDS = {
    "rerun": "press Resume",
    "checkpoint": "a checkpoint (tick Keep pages to resume)",
    "workers": "workers (EventExplorer(client, workers=2))",
    "tenant": "Tenant",
    "start": "From",
    "end": "To",
    "status": "Status",
    "search": "Search",
    "page_size": "page_size",
}

_COLOURS = {"info": "inherit", "ok": "#1b5e20", "warn": "#8a5300", "error": "#b00020"}
_PROMPT = "Pick a tenant and filters, then press <b>Fetch</b>."


class WidgetFrontendWarning(UserWarning):
    """The JupyterLab widget frontend (jupyterlab_widgets) is not installed beside ipywidgets."""


def _import_ipywidgets() -> Any:
    """Import ipywidgets >= 8, or raise ImportError saying how to install it; warn if no frontend."""
    try:
        import ipywidgets
    except ImportError as exc:
        raise ImportError(f"EventExplorer needs ipywidgets >= 8, which is not installed: {INSTALL_HINT}") from exc
    version = str(getattr(ipywidgets, "__version__", "0"))
    if not version.split(".")[0].isdigit() or int(version.split(".")[0]) < 8:
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


def describe_filters(**filters: Any) -> str:
    """Which filters the server applies and which the frame: ``EventQuery(**filters).describe()``."""
    return EventQuery(**filters).describe()


def _chart_html(df: pd.DataFrame, title: str) -> str:
    """The events-per-month chart as an ``<img>`` never wider than the output."""
    buffer = io.BytesIO()
    figure: Any = plot_events_by_month(df, title=title).figure
    figure.savefig(buffer, format="png", dpi=96)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="{html.escape(title)}" src="data:image/png;base64,{data}" style="max-width:100%;height:auto">'


def _plain(text: str) -> str:
    text = re.sub(r"<br\s*/?>|</div>", "\n", text, flags=re.IGNORECASE)
    text = html.unescape(re.sub(r"<[^>]+>", " ", text)).replace("  ", " ")
    return re.sub(r" *\n+ *", "\n", text).strip()


def _n(count: int, one: str, many: str | None = None) -> str:
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


def _safe(code: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in code) or "_"


def _lines(lines: str | Sequence[str], kind: str = "info") -> str:
    texts = [lines] if isinstance(lines, str) else lines
    return "".join(f'<div style="color:{_COLOURS[kind]}">{html.escape(text)}</div>' for text in texts)


@dataclass
class _Result:
    """A finished walk as shown: its selection, summary (HTML), preview and chart (HTML), export lines."""

    selection: tuple[Any, ...]
    label: str
    summary: str
    parts: list[str]
    bar_style: str
    notes: list[str] = field(default_factory=list)


class EventExplorer:
    """Tenant and filter controls, a live page-walk progress bar, a preview, a chart and an export.

    Parameters
    ----------
    client : EngagifiiClient
        The session used for every walk (its token is reused across walks).
    tenants : list of str, optional
        Tenant codes offered (default: the client's configured tenants).
    export_path : str
        Report path; ``{tenant}`` is replaced; the extension picks the format (``write_report``).
    checkpoint : str
        Checkpoint template (``{tenant}``, ``{filters}`` replaced), the Checkpoint field's placeholder;
        ``checkpoint_label`` shows the resolved path. Empty: resuming off.
    page_size, workers, preview_rows : int
        Passed to :meth:`EngagifiiClient.events`; rows in the preview table.

    Attributes
    ----------
    tenant, only_upcoming, search, start, end, status, checkpoint, resumable, export_path : controls
    fetch_button, cancel_button, export_button, progress (max: the total, value: rows collected) : widgets
    message, filters_label, checkpoint_label : ipywidgets.HTML (``message_text``: the status line as text)
    output, root : the preview and chart; everything (what is displayed)
    data : pandas.DataFrame or None
        The latest walk's frame (complete, or the partial rows of a cancelled or failed walk:
        ``WalkReport.of(data).complete``); None while a walk runs and after one failed outright.
    error, summary, walks_started, last_export
        The latest job's error; the latest walk's numbers (rows, rows_fetched, total, pages,
        planned_pages, requests, token_requests, retries, seconds, complete, filters; saved_pages and
        missing when partial); walks started; the last report written.
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
        codes = [str(t) for t in (tenants if tenants is not None else client.tenants)]
        if not codes:
            raise ConfigurationError("no tenant to explore: configure ENGAGIFII_TENANT_CODE or pass tenants=[...]")
        self.client, self.page_size, self.workers, self.preview_rows = client, page_size, workers, preview_rows
        self.data: pd.DataFrame | None = None
        self.error: BaseException | None = None
        self.summary: dict[str, Any] = {}
        self.walks_started = 0
        self.last_export: Path | None = None
        self._result: _Result | None = None
        self._status: str | None = None  # a running job's line, an error or a refusal (HTML) ...
        self._status_for: tuple[Any, ...] | None = None  # ... and the selection it is about
        self._confirm_empty: tuple[Any, ...] | None = None
        self._lock = threading.Lock()  # the job slot
        self._ui = threading.RLock()  # what is shown
        self._job: threading.Thread | None = None
        self._job_kind: str | None = None
        self._cancel_event: threading.Event | None = None
        self._build(w, codes, export_path, checkpoint)
        self._refresh()

    def _build(self, w: Any, codes: list[str], export_path: str, checkpoint: str) -> None:
        wide, half = {"description_width": "initial"}, w.Layout(width="50%")
        self.tenant = w.Dropdown(options=codes, value=codes[0], description="Tenant", style=wide)
        self.only_upcoming = w.Checkbox(value=False, description="Only upcoming (server)", indent=False)
        self.search = w.Text(value="", description="Search (server)", placeholder="name contains", style=wide)
        self.start = w.DatePicker(value=None, description="From", style=wide)
        self.end = w.DatePicker(value=None, description="To (incl.)", style=wide)
        self.status = w.SelectMultiple(options=list(STATUSES), value=(), rows=4, description="Status", style=wide)
        template = checkpoint or DEFAULT_CHECKPOINT
        self.checkpoint = w.Text(value="", placeholder=template, description="Checkpoint", style=wide, layout=half)
        self.resumable = w.Checkbox(value=bool(checkpoint), description="Keep pages to resume", indent=False)
        self.checkpoint_label = w.HTML()
        self.fetch_button = w.Button(description="Fetch", button_style="primary", icon="download")
        self.cancel_button = w.Button(description="Cancel", icon="stop", disabled=True)
        self.progress = w.IntProgress(value=0, min=0, max=1, description="", style=wide)
        self.filters_label = w.HTML()
        self.message = w.HTML(value=_PROMPT)
        self.export_path = w.Text(value=export_path, description="Report", style=wide, layout=half)
        self.export_button = w.Button(description="Export", icon="save", disabled=True)
        self.output = w.Output(layout=w.Layout(max_width="100%", overflow="hidden"))
        self.fetch_button.on_click(lambda _b: self.fetch())
        self.cancel_button.on_click(lambda _b: self.cancel())
        self.export_button.on_click(lambda _b: self.export())
        self._controls = (self.tenant, self.only_upcoming, self.search, self.start, self.end, self.status)
        for control in (*self._controls, self.checkpoint, self.resumable):
            control.observe(self._refresh, names="value")
        self.root = w.VBox(
            [
                w.HBox([self.tenant, self.only_upcoming, self.search]),
                w.HBox([self.start, self.end, self.status]),
                w.HBox([self.checkpoint, self.resumable]),
                self.checkpoint_label,
                w.HBox([self.fetch_button, self.cancel_button, self.progress]),
                self.filters_label,
                self.message,
                w.HBox([self.export_path, self.export_button]),
                self.output,
            ]
        )

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
        stack = [self.root]
        while stack:
            widget = stack.pop()
            stack.extend(getattr(widget, "children", ()))
            widget.close()

    # -- the selection and what is shown ---------------------------------------------------------

    def selection(self) -> tuple[Any, ...]:
        """The tenant and filters the controls show now (a result is compared with it)."""
        tenant, upcoming, search, start, end, status = (c.value for c in self._controls)
        return (str(tenant), bool(upcoming), search.strip() or None, start, end, tuple(status))

    def query(self) -> EventQuery:
        """The controls as an :class:`EventQuery` (raises :class:`QueryError` when they are invalid)."""
        tenant, upcoming, search, start, end, status = self.selection()
        return EventQuery((tenant,), upcoming, search, start, end, status, self.page_size)

    def checkpoint_path(self) -> Path | None:
        """The resolved checkpoint file of the current selection (None: resuming off or invalid filters)."""
        template = self.checkpoint.value.strip() or self.checkpoint.placeholder
        if not self.resumable.value or not template:
            return None
        try:
            key = self.query().checkpoint_key()
        except QueryError:
            return None
        return Path(template.replace("{tenant}", _safe(str(self.tenant.value))).replace("{filters}", key)).absolute()

    def _refresh(self, _change: Any = None) -> None:
        """Bring every label and button in line with the controls and the result shown."""
        with self._ui:
            try:
                query, problem = self.query(), ""
            except QueryError as exc:
                query, problem = None, exc.named(EXPLORER_WORDS)
            if query is None:
                self.filters_label.value = _lines(f"⚠ {problem} — fix the filters to fetch", "error")
            else:
                warn = _lines([f"⚠ {c}: no event can match" for c in query.contradictions()], "warn")
                self.filters_label.value = f"<small>filters — {html.escape(query.describe())}</small>{warn}"
            running = self.running
            if not running and self._status is not None and self._status_for != self.selection():
                self._status = None  # an error or a refusal about another selection
                if self.progress.bar_style == "danger":
                    self.progress.bar_style, self.progress.value = "", 0
            path = self.checkpoint_path()
            saved = path is not None and path.exists()
            where = (
                f"pages are saved to <code>{html.escape(str(path))}</code>"
                if path
                else ("resuming off" if not self.resumable.value else "no checkpoint until the filters are valid")
            )
            more = " — an earlier walk's pages are there: Resume fetches only the missing ones" if saved else ""
            self.checkpoint_label.value = f"<small>{where}{more}</small>"
            if not running:
                self.fetch_button.description = "Resume" if saved else "Fetch"
                self.fetch_button.disabled = query is None
                report = WalkReport.find(self.data) if self.data is not None else None
                self.export_button.disabled = report is None or not report.complete or self._stale()
            self._show()

    def _stale(self) -> bool:
        return self._result is not None and self._result.selection != self.selection()

    def _show(self, status: str | None = None) -> None:
        """Redraw the status line and the output; ``status`` replaces the line until the next result."""
        with self._ui:
            if status is not None:
                self._status, self._status_for = status, self.selection()
            result, stale = self._result, self._stale()
            banner = ""
            if result is not None and (stale or self._status is not None):
                what = "results for the previous selection" if stale else "the previous result"
                hint = "fetching…" if self.running else "press Fetch" if stale else "the last fetch did not replace it"
                banner = _lines(f"⟲ {what}: {result.label} — {hint}", "warn")
            dim = ' style="opacity:0.45"' if banner else ""
            if self._status is not None:
                self.message.value = (banner if stale else "") + self._status
            elif result is not None:
                self.message.value = f"{banner}<div{dim}>{result.summary}</div>{''.join(result.notes)}"
                self.progress.bar_style = "" if stale else result.bar_style
            else:
                self.message.value = _PROMPT
            parts = [f"<div{dim}>{part}</div>" for part in (result.parts if result is not None else [])]
            outputs = tuple(
                {"output_type": "display_data", "data": {"text/html": h, "text/plain": _plain(h)}, "metadata": {}}
                for h in ([banner + parts[0], *parts[1:]] if parts else [])
            )
            if outputs != tuple(self.output.outputs):
                self.output.outputs = outputs

    # -- jobs -----------------------------------------------------------------------------------

    def _start(self, kind: str, target: Callable[..., None], *args: Any) -> bool:
        with self._lock:
            if self._job is not None and self._job.is_alive():
                logger.debug("explorer: %s ignored, a %s is running", kind, self._job_kind)
                return False
            self._cancel_event = cancel = threading.Event()
            self._job_kind = kind
            self.fetch_button.disabled = self.export_button.disabled = True
            self.cancel_button.disabled = kind != "fetch"
            self._job = threading.Thread(
                target=self._guard, args=(kind, target, cancel, *args), name=f"engagifii-{kind}", daemon=True
            )
            if kind == "fetch":
                self.walks_started += 1
            self._job.start()
            return True

    def _guard(self, kind: str, target: Callable[..., None], cancel: threading.Event, *args: Any) -> None:
        try:
            target(cancel, *args)
        except BaseException as exc:  # everything: a thread's exception would only reach the log console
            logger.debug("explorer %s failed", kind, exc_info=True)
            self.error = exc
            lines = _lines(self._error_lines(exc), "error")
            if kind == "fetch":
                self.progress.bar_style = "danger"
                self.progress.max = max(int(self.progress.max), 1)
                self.progress.value = self.progress.max  # a full red bar: an empty one shows nothing
            if kind == "fetch" or self._result is None or self._status is not None:
                self._show(lines)
            else:
                self._result.notes.append(lines)
        finally:
            with self._lock:
                self._job = self._job_kind = None
                self.cancel_button.disabled = True
            self._refresh()

    def _error_lines(self, exc: BaseException) -> list[str]:
        if isinstance(exc, ImportError):  # e.g. Excel without its engine: the message names the install
            return [f"error: {exc}"]
        lines = describe_error(exc, EXPLORER_WORDS)
        if isinstance(exc, TransportError) and "refused" in str(exc).lower():
            lines.append(
                f"nothing accepts connections at {self.client.settings.api_base_url}: if that was the "
                "notebook's sandbox, it has stopped (a cell closed it, or the kernel restarted); run the "
                "notebook's setup cells again (or Run All), then press Fetch"
            )
        return lines

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the running fetch or export ends; True when no job runs any more.

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
            self._show(_lines("cancelling after the current page…", "warn"))

    # -- fetch ----------------------------------------------------------------------------------

    def fetch(self) -> bool:
        """Start a walk with the current controls (what the Fetch button does).

        Returns False, sending nothing, when a job is running or the filters are invalid.
        """
        try:
            query = self.query()
        except QueryError as exc:
            self._show(_lines(f"error: {exc.named(EXPLORER_WORDS)}", "error"))
            return False
        return self._start("fetch", self._run_fetch, query, self.selection(), self.checkpoint_path())

    def _on_progress(self, p: WalkProgress) -> None:
        text = f"fetching {p.tenant}…"
        if p.pages_total:
            self.progress.max = max(int(p.total), 1)
            self.progress.value = min(int(p.rows), self.progress.max)
            self.progress.description = f"{p.pages_done}/{p.pages_total} pages" if p.total else "no events"
            text = f"fetching {p.tenant}: {p.rows:,} of {p.total:,} rows · page {p.pages_done} of {p.pages_total}"
        if p.retrying is not None:
            self._show(_lines(f"{text} · {p.retrying}", "warn"))
        else:
            self._show(_lines(text))

    def _run_fetch(self, cancel: threading.Event, query: EventQuery, selection: tuple[Any, ...], ckpt: Any) -> None:
        resumed = ckpt is not None and ckpt.exists()
        self.data, self.error, self.summary, self._confirm_empty = None, None, {}, None
        self.progress.bar_style, self.progress.value, self.progress.description = "", 0, ""
        self._show(_lines(f"resuming {query.tenant} from {ckpt}…" if resumed else f"fetching {query.tenant}…"))
        before = self.client.stats.snapshot()
        try:
            df = self.client.events(
                query, workers=self.workers, progress=self._on_progress, cancel=cancel, checkpoint=ckpt
            )
        except IncompleteWalkError as exc:
            self._partial(exc, query, selection, before)
            return
        self.data = df
        s = self._summarise(df, query, before)
        if s["rows"]:
            kept = f", {s['rows']:,} after filters" if s["rows"] != s["rows_fetched"] else ""
            head = f"✔ {query.tenant}: {s['rows_fetched']:,} of {s['total']:,} events fetched{kept}"
        else:
            where = f"{s['total']:,} fetched, 0 after filters" if s["total"] else "the listing is empty"
            head = f"✔ {query.tenant}: no events match ({where})"
        numbers = (
            f"{_n(s['pages'], 'page')} · {_n(s['requests'], 'request')} to Engagifii · "
            f"{_n(s['token_requests'], 'sign-in')} ({s['session_token_requests']} this session) · "
            f"{_n(s['retries'], 'retry', 'retries')} · {s['seconds']:.2f} s"
            + (f" · resumed from checkpoint ({_n(s['resumed_pages'], 'page')} reused)" if resumed else "")
        )
        summary = _lines([head, numbers], "ok") + f"<small>applied — {html.escape(s['filters'])}</small>"
        self._keep(selection, query, summary, df, partial=False)

    def _summarise(self, df: pd.DataFrame, query: EventQuery, before: dict[str, int]) -> dict[str, Any]:
        r, after = WalkReport.of(df), self.client.stats.snapshot()
        s = {"tenant": query.tenant, "rows": len(df), "rows_fetched": r.rows_fetched, "total": r.total_count}
        s.update(pages=r.pages, planned_pages=r.planned_pages or r.pages + len(r.missing_pages), complete=r.complete)
        s.update(resumed_pages=r.resumed_pages, seconds=round(r.seconds, 2), filters=query.describe())
        counters = {"requests": "http_requests", "token_requests": "token_requests", "retries": "retries"}
        s.update({key: after[name] - before[name] for key, name in counters.items()})
        self.summary = {**s, "session_token_requests": after["token_requests"]}
        return self.summary

    def _keep(
        self, selection: tuple[Any, ...], query: EventQuery, summary: str, df: pd.DataFrame, *, partial: bool
    ) -> None:
        if len(df):
            caption = "PARTIAL data — not every page was fetched. " if partial else ""
            caption += f"First {min(len(df), self.preview_rows):,} of {len(df):,} events"
            parts = [html_table(df, self.preview_rows, caption=caption)]
        else:
            parts = ["<div><b>No events match this selection.</b></div>"]
        if len(df) and bool(df["startDateTime"].notna().any()):
            parts.append(_chart_html(df, f"{query.tenant}: events per month" + (" (PARTIAL)" if partial else "")))
        total = self.summary["total"]
        self.progress.max = max(total, 1)
        self.progress.value = min(self.summary["rows_fetched"], total) if partial else self.progress.max
        self.progress.description = self.progress.description if total else "no events"
        result = _Result(
            selection, f"{query.tenant} · {query.describe()}", summary, parts, "warning" if partial else "success"
        )
        with self._ui:
            self._result, self._status = result, None
            self._show()

    def _partial(self, exc: IncompleteWalkError, query: EventQuery, selection: tuple[Any, ...], before: Any) -> None:
        self.error, df, cancelled = exc, exc.partial, exc.reason == "cancelled"
        if df is None:  # stopped before page 1 came back: nothing to show
            self.progress.bar_style = "warning"
            self._show(_lines(describe_error(exc, EXPLORER_WORDS), "warn"))
            return
        self.data, s = df, self._summarise(df, query, before)
        held = exc.saved_pages if exc.saved_pages is not None else s["pages"]
        missing = max(s["planned_pages"] - held, 0)
        self.summary.update(saved_pages=held, missing=missing, missing_pages=list(exc.missing_pages))
        where = f"saved in {exc.checkpoint}" if exc.checkpoint else "fetched"
        lines = [
            f"⚠ PARTIAL result ({'cancelled' if cancelled else 'the walk could not finish'}): "
            f"{s['rows_fetched']:,} of {s['total']:,} rows shown; {held:,} of {s['planned_pages']:,} pages {where}; "
            f"{missing:,} missing. This is not a complete report: export is refused."
        ]
        if exc.cause is not None:
            lines.extend(self._error_lines(exc.cause))
        elif not cancelled:
            lines.append(str(exc))
        lines.append(
            "Press Resume to fetch only the missing pages."
            if exc.checkpoint
            else "Tick Keep pages to resume to make the next walk resumable."
        )
        self._keep(selection, query, _lines(lines, "warn"), df, partial=True)

    # -- export ---------------------------------------------------------------------------------

    def _note(self, text: str, kind: str) -> None:
        """Add a line under the summary (or replace the status line when there is no result)."""
        with self._ui:
            if self._result is None or self._status is not None:
                self._show(_lines(text, kind))
            else:
                self._result.notes.append(_lines(text, kind))
                self._show()

    def export(self) -> bool:
        """Write :attr:`data` to the report path (what the Export button does); True when started.

        Refused: partial data (a report never looks complete when it is not) and a result of a
        previous selection. An empty result is written on a second Export of the same selection.
        Each export adds its line under the fetch summary.
        """
        df, text = self.data, self.export_path.value.strip()
        report = WalkReport.find(df) if df is not None else None
        if df is None or report is None:
            self._note("nothing to export yet: press Fetch first", "warn")
            return False
        if self._stale():  # a line about this selection, not a note under the old result
            self._show(_lines("export refused: the result is for the previous selection; press Fetch first", "error"))
            return False
        if not report.complete:
            self._note(f"export refused: the data are PARTIAL ({len(df):,} of {report.total_count:,} rows)", "error")
            return False
        if not text:
            self._note("export: set a report path first", "warn")
            return False
        path = Path(text.replace("{tenant}", _safe(report.tenant))).expanduser()
        if not len(df) and self._confirm_empty != self.selection():
            self._confirm_empty = self.selection()
            self._note(f"no events match: press Export again to write an empty report (header only) to {path}", "warn")
            return False
        return self._start("export", self._run_export, df, path)

    def _run_export(self, _cancel: threading.Event, df: pd.DataFrame, path: Path) -> None:
        fmt = report_format(path)[0]
        self.last_export = write_report(df, path).resolve()
        kind = {"csv": "CSV, UTF-8 with BOM", "parquet": "Parquet", "xlsx": "Excel"}.get(fmt, fmt)
        what = "an empty report (header only)" if not len(df) else _n(len(df), "row")
        self._confirm_empty = None
        self._note(f"✔ wrote {what} to {self.last_export} ({kind})", "ok")
