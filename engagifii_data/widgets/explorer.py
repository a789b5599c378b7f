"""EventExplorer: the controls, what each one does, and the result they show.

A result belongs to one selection (tenant, filters and Details): changing any of them dims it, labels
it "results for the previous selection" and disables Export until the next Fetch; invalid filters are
shown as soon as they change and Fetch waits until they are fixed. The Table switch only changes what
is previewed and exported (the events, their sessions or their contacts) of the same result.

Threading: a walk or an export runs in one worker thread (:class:`~.jobs.JobSlot`). It only assigns
widget traits and replaces ``Output.outputs`` whole, never ``with output:``/``print``, which land in
whichever cell runs last (ipywidgets #2358, #4020).
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ..client import EngagifiiClient
from ..exceptions import ConfigurationError, QueryError
from ..query import STATUSES, EventQuery
from ..reports import WalkReport
from ..walk import WalkProgress
from .exporting import _Exporting
from .fetching import _Fetching, _Result
from .frontend import import_ipywidgets
from .jobs import JobSlot
from .render import (
    PROMPT,
    TABLES,
    TIGHT,
    lines,
    plain,
    safe,
)
from .summary import (
    EXPLORER_WORDS,
    checkpoint_note,
    error_lines,
    progress_bar,
    progress_line,
    saved_walk,
)

__all__ = ["DEFAULT_CHECKPOINT", "DEFAULT_EXPORT_PATH", "EXPLORER_WORDS", "EventExplorer", "describe_filters"]

#: Default report path; ``{table}`` is replaced by the table shown (events, sessions, contacts),
#: ``{tenant}`` by the tenant code.
DEFAULT_EXPORT_PATH = "reports/{table}-{tenant}.csv"

#: Default checkpoint path; ``{tenant}`` and ``{filters}`` (a short key of the server-side filters and
#: page size) are replaced, so each selection resumes its own walk. Details are saved beside it
#: (``<name>.details.jsonl``).
DEFAULT_CHECKPOINT = ".engagifii-checkpoints/{tenant}-{filters}.jsonl"
#: Seconds between progress updates sent to the browser (about 10 a second; retries and ends at once).
PROGRESS_INTERVAL = 0.1


def describe_filters(**filters: Any) -> str:
    """Which filters the server applies and which the frame: ``EventQuery(**filters).describe()``."""
    return EventQuery(**filters).describe()


class EventExplorer(_Fetching, _Exporting):
    """Tenant and filter controls, a live walk progress bar, a preview of three tables, a chart, an export.

    Parameters
    ----------
    client : EngagifiiClient
        The session used for every walk (its token is reused across walks).
    tenants : list of str, optional
        Tenant codes offered (default: the client's configured tenants).
    export_path : str
        Report path; ``{table}`` and ``{tenant}`` are replaced; the extension picks the format
        (``write_report``).
    checkpoint : str
        Checkpoint template (``{tenant}``, ``{filters}`` replaced), the Checkpoint field's placeholder;
        ``checkpoint_label`` shows the resolved path. Empty: resuming off.
    page_size, workers, preview_rows : int
        Passed to :meth:`EngagifiiClient.events`; rows in the preview table.

    Attributes
    ----------
    tenant, only_upcoming, search, start, end, status, details, checkpoint, resumable, export_path : controls
        ``details`` (a Checkbox): Fetch also fetches each event's detail (``events(details=True)``).
    table : ipywidgets.ToggleButtons
        ``"events"``, ``"sessions"`` or ``"contacts"``: what the preview shows and Export writes.
    fetch_button, cancel_button, export_button, progress : widgets
        ``progress``: the listing's rows of its total, then the details answered of those asked for.
    message, filters_label, checkpoint_label : ipywidgets.HTML (``message_text``: the status line as text)
    output, root : the preview and chart; everything (what is displayed)
    data : pandas.DataFrame or None
        The latest walk's events frame (complete, or the partial rows of a cancelled or failed walk:
        ``WalkReport.of(data).complete``); None while a walk runs and after one failed outright.
        :attr:`table_data` is the table the switch selects.
    error, summary, walks_started, last_export
        The latest job's error; the latest walk's numbers (rows, rows_fetched, total, pages,
        planned_pages, requests, token_requests, retries, seconds, complete, filters, details; with
        details also details_requested, details_fetched, details_resumed, details_unfetched,
        missing_ids, enriched; sessions and contacts row counts; saved_pages or saved_details and
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
        w = import_ipywidgets()
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
        self._confirm_empty: tuple[Any, ...] | None = None  # (selection, table) of an empty export to confirm
        self._phase = "listing"  # of the running walk
        self._shown_at = 0.0  # when progress was last sent to the browser (time.monotonic, seconds)
        self._unshown: WalkProgress | None = None  # progress held back since then
        self._ui = threading.RLock()  # what is shown
        self._jobs = JobSlot(
            on_start=self._job_started, on_error=self._job_failed, on_stop=self._job_stopped, after=self._refresh
        )
        self._build(w, codes, export_path, checkpoint)
        self._refresh()

    def _build(self, w: Any, codes: list[str], export_path: str, checkpoint: str) -> None:
        wide, half, auto = {"description_width": "initial"}, w.Layout(width="50%"), w.Layout(width="auto")
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
        tip = "Also fetch each event's detail (one request per event): contacts, and every session"
        self.details = w.Checkbox(value=False, description="Details", indent=False, tooltip=tip, layout=auto)
        self.fetch_button = w.Button(description="Fetch", button_style="primary", icon="download")
        self.cancel_button = w.Button(description="Cancel", icon="stop", disabled=True)
        self.progress = w.IntProgress(value=0, min=0, max=1, description="", style=wide)
        self.filters_label = w.HTML()
        self.message = w.HTML(value=PROMPT)
        options = [(view.label, name) for name, view in TABLES.items()]
        tip = "What the preview shows and Export writes"
        self.table = w.ToggleButtons(options=options, value="events", style={"button_width": "6.5em"}, tooltip=tip)
        self.export_path = w.Text(value=export_path, description="Report", style=wide, layout=w.Layout(width="40%"))
        self.export_button = w.Button(description="Export", icon="save", disabled=True)
        self.output = w.Output(layout=w.Layout(max_width="100%", overflow="hidden"))
        self.fetch_button.on_click(lambda _b: self.fetch())
        self.cancel_button.on_click(lambda _b: self.cancel())
        self.export_button.on_click(lambda _b: self.export())
        self._controls = (self.tenant, self.only_upcoming, self.search, self.start, self.end, self.status, self.details)
        for control in (*self._controls, self.checkpoint, self.resumable, self.table):
            control.observe(self._refresh, names="value")
        self.root = w.VBox(
            [
                w.HBox([self.tenant, self.only_upcoming, self.search]),
                w.HBox([self.start, self.end, self.status]),
                w.HBox([self.checkpoint, self.resumable]),
                self.checkpoint_label,
                w.HBox([self.details, self.fetch_button, self.cancel_button, self.progress]),
                self.filters_label,
                self.message,
                # a ToggleButtons' own description sits above its buttons in JupyterLab: a Label beside them
                w.HBox([w.Label("Table"), self.table, self.export_path, self.export_button]),
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
        return plain(self.message.value)

    @property
    def running(self) -> bool:
        """True while a fetch or an export runs."""
        return self._jobs.running

    @property
    def table_data(self) -> pd.DataFrame | None:
        """The table the switch selects, of the latest result (:attr:`data`'s events, sessions or contacts).

        None when there is no result, and for the contacts of a result fetched without details.
        """
        with self._ui:
            result, df = self._result, self.data
        if result is None or df is None or result.tables["events"] is not df:
            return None
        return result.tables[str(self.table.value)]

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
        """The tenant, filters and Details the controls show now (a result is compared with it)."""
        tenant, upcoming, search, start, end, status, details = (c.value for c in self._controls)
        return (str(tenant), bool(upcoming), search.strip() or None, start, end, tuple(status), bool(details))

    def query(self) -> EventQuery:
        """The controls as an :class:`EventQuery` (raises :class:`QueryError` when they are invalid)."""
        tenant, upcoming, search, start, end, status, _details = self.selection()
        return EventQuery((tenant,), upcoming, search, start, end, status, self.page_size)

    def checkpoint_path(self) -> Path | None:
        """The resolved checkpoint file of the current selection (None: resuming off or invalid filters).

        The details of a walk with Details are saved beside it (``<name>.details.jsonl``).
        """
        template = self.checkpoint.value.strip() or self.checkpoint.placeholder
        if not self.resumable.value or not template:
            return None
        try:
            key = self.query().checkpoint_key()
        except QueryError:
            return None
        return Path(template.replace("{tenant}", safe(str(self.tenant.value))).replace("{filters}", key)).absolute()

    def _refresh(self, _change: Any = None) -> None:
        """Bring every label and button in line with the controls and the result shown."""
        with self._ui:
            try:
                query, problem = self.query(), ""
            except QueryError as exc:
                query, problem = None, exc.named(EXPLORER_WORDS)
            if query is None:
                self.filters_label.value = lines(f"⚠ {problem} — fix the filters to fetch", "error")
            else:
                warn = lines([f"⚠ {c}" for c in query.contradictions()], "warn")
                extra = " · details: one more request per event" if self.details.value else ""
                self.filters_label.value = f"<small>filters — {html.escape(query.describe())}{extra}</small>{warn}"
            running = self.running
            if not running and self._status is not None and self._status_for != self.selection():
                self._status = None  # an error or a refusal about another selection
                if self.progress.bar_style == "danger":
                    self.progress.bar_style, self.progress.value = "", 0
            path, details = self.checkpoint_path(), bool(self.details.value)
            note = checkpoint_note(path, resumable=bool(self.resumable.value), details=details)
            self.checkpoint_label.value = f'<div style="{TIGHT}"><small>{note}</small></div>'
            if not running:
                self.fetch_button.description = "Resume" if any(saved_walk(path, details)) else "Fetch"
                self.fetch_button.disabled = query is None
                report = WalkReport.find(self.data) if self.data is not None else None
                exportable = report is not None and report.complete and self.table_data is not None
                self.export_button.disabled = not exportable or self._stale()
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
                banner = lines(f"⟲ {what}: {result.label} — {hint}", "warn")
            dim = ' style="opacity:0.45"' if banner else ""
            if self._status is not None:
                message = (banner if stale else "") + self._status
            elif result is not None:
                message = f"{banner}<div{dim}>{result.summary}</div>{''.join(result.notes)}"
                self.progress.bar_style = "" if stale else result.bar_style
            else:
                message = PROMPT
            self.message.value = f'<div style="{TIGHT};margin-bottom:6px">{message}</div>'
            shown = result.parts[str(self.table.value)] if result is not None else []
            parts = [f"<div{dim}>{part}</div>" for part in shown]
            outputs = tuple(
                {"output_type": "display_data", "data": {"text/html": h, "text/plain": plain(h)}, "metadata": {}}
                for h in ([banner + parts[0], *parts[1:]] if parts else [])
            )
            if outputs != tuple(self.output.outputs):
                self.output.outputs = outputs

    # -- jobs -----------------------------------------------------------------------------------

    def _job_started(self, kind: str) -> None:
        self.fetch_button.disabled = self.export_button.disabled = True
        self.cancel_button.disabled = kind != "fetch"
        if kind == "fetch":
            self.walks_started += 1

    def _job_stopped(self) -> None:
        self.cancel_button.disabled = True

    def _job_failed(self, kind: str, exc: BaseException) -> None:
        self.error = exc
        text = lines(self._error_lines(exc), "error")
        if kind == "fetch":
            self.progress.bar_style = "danger"
            self.progress.max = max(int(self.progress.max), 1)
            self.progress.value = self.progress.max  # a full red bar: an empty one shows nothing
        if kind == "fetch" or self._result is None or self._status is not None:
            self._show(text)
        else:
            self._result.notes.append(text)

    def _error_lines(self, exc: BaseException) -> list[str]:
        return error_lines(exc, self.client.settings.api_base_url)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the running fetch or export ends; True when no job runs any more.

        Interrupting the wait (the kernel's stop button) also cancels a running walk.
        """
        try:
            return self._jobs.wait(timeout)
        except KeyboardInterrupt:  # an interrupted cell stops the walk too (after the requests in flight)
            self.cancel()
            raise

    # -- progress -------------------------------------------------------------------------------

    def _on_progress(self, p: WalkProgress) -> None:
        """Show walk progress at most every ``PROGRESS_INTERVAL`` seconds (retries and a phase's end at once).

        A detail walk reports thousands of answers a second; sent as they come, the widget updates
        exceed Jupyter's output rate limit (``iopub_msg_rate_limit``) and the browser silently drops
        some, leaving a bar that never shows the end. The last update held back is shown before the
        result (:meth:`_flush_progress`).
        """
        with self._ui:
            self._phase = p.phase
            now = time.monotonic()
            urgent = p.retrying is not None or p.pages_done >= p.pages_total
            if not urgent and now - self._shown_at < PROGRESS_INTERVAL:
                self._unshown = p
                return
            self._shown_at, self._unshown = now, None
            bar = progress_bar(p)
            if bar is not None:
                self.progress.max, self.progress.value, self.progress.description = bar.max, bar.value, bar.description
            self._show(lines(progress_line(p), "warn" if p.retrying is not None else "info"))

    def _flush_progress(self) -> None:
        """Show the progress update held back last, so the bar ends where the walk did."""
        with self._ui:
            held, self._unshown = self._unshown, None
            if held is not None:
                self._shown_at = 0.0
                self._on_progress(held)
