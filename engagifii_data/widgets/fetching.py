"""The explorer's walk: Fetch and Cancel, the walk in the worker thread, a finished or partial result kept."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..checkpoint import detail_checkpoint_path
from ..client import EngagifiiClient
from ..describe import describe_error
from ..exceptions import IncompleteWalkError, QueryError
from ..query import EventQuery
from ..walk import WalkProgress
from .jobs import JobSlot
from .render import CONTACTS_NEED_DETAILS, STOPPED_BEFORE_DETAILS, lines, result_views
from .summary import (
    EXPLORER_WORDS,
    final_bar,
    partial_lines,
    saved_walk,
    summarise,
    summary_html,
)


@dataclass
class _Result:
    """A finished walk as shown: its selection, summary (HTML), each table and its preview, export lines."""

    selection: tuple[Any, ...]
    label: str
    summary: str
    parts: dict[str, list[str]]
    tables: dict[str, pd.DataFrame | None]
    bar_style: str
    notes: list[str] = field(default_factory=list)


class _Fetching:
    """What Fetch and Cancel do (mixed into :class:`~.explorer.EventExplorer`, which holds the state)."""

    client: EngagifiiClient
    workers: int
    preview_rows: int
    data: pd.DataFrame | None
    error: BaseException | None
    summary: dict[str, Any]
    progress: Any
    cancel_button: Any
    _result: _Result | None
    _status: str | None
    _confirm_empty: tuple[Any, ...] | None
    _phase: str
    _shown_at: float
    _unshown: WalkProgress | None
    _ui: threading.RLock
    _jobs: JobSlot

    if TYPE_CHECKING:

        def selection(self) -> tuple[Any, ...]: ...

        def query(self) -> EventQuery: ...

        def checkpoint_path(self) -> Path | None: ...

        def _show(self, status: str | None = None) -> None: ...

        def _error_lines(self, exc: BaseException) -> list[str]: ...

        def _on_progress(self, p: WalkProgress) -> None: ...

        def _flush_progress(self) -> None: ...

    def cancel(self) -> None:
        """Stop the running walk; the requests in flight are cut off (its rows become a partial result)."""
        if self._jobs.cancel("fetch"):
            self.cancel_button.disabled = True
            what = "after the current page" if self._phase == "listing" else "the detail walk"
            self._show(lines(f"cancelling {what}…", "warn"))

    # -- fetch ----------------------------------------------------------------------------------

    def fetch(self) -> bool:
        """Start a walk with the current controls (what the Fetch button does).

        Returns False, sending nothing, when a job is running or the filters are invalid.
        """
        try:
            query = self.query()
        except QueryError as exc:
            self._show(lines(f"error: {exc.named(EXPLORER_WORDS)}", "error"))
            return False
        return self._jobs.start("fetch", self._run_fetch, query, self.selection(), self.checkpoint_path())

    def _run_fetch(
        self, cancel: threading.Event, query: EventQuery, selection: tuple[Any, ...], ckpt: Path | None
    ) -> None:
        details = bool(selection[-1])
        resumed = saved_walk(ckpt, details)
        with self._ui:
            self.data, self.error, self.summary, self._confirm_empty = None, None, {}, None
        self._phase, self._unshown, self._shown_at = "listing", None, 0.0
        self.progress.bar_style, self.progress.value, self.progress.description = "", 0, ""
        source = ckpt if resumed[0] or ckpt is None else detail_checkpoint_path(ckpt)
        self._show(lines(f"resuming {query.tenant} from {source}…" if any(resumed) else f"fetching {query.tenant}…"))
        before = self.client.stats.snapshot()
        try:
            df = self.client.events(
                query,
                workers=self.workers,
                progress=self._on_progress,
                cancel=cancel,
                checkpoint=ckpt,
                details=details,
            )
        except IncompleteWalkError as exc:
            self._flush_progress()
            self._partial(exc, query, selection, before)
            return
        self._flush_progress()
        self.summary = summarise(df, query, before, self.client.stats.snapshot())
        self._keep(selection, query, df, summary_html(self.summary, resumed), partial="")

    def _partial(self, exc: IncompleteWalkError, query: EventQuery, selection: tuple[Any, ...], before: Any) -> None:
        self.error, df = exc, exc.partial
        if df is None:  # stopped before page 1 came back: nothing to show
            self.progress.bar_style = "warning"
            self._show(lines(describe_error(exc, EXPLORER_WORDS), "warn"))
            return
        s = self.summary = summarise(df, query, before, self.client.stats.snapshot())
        texts = partial_lines(exc, s, self._error_lines(exc.cause) if exc.cause is not None else [])
        self._keep(selection, query, df, lines(texts, "warn"), partial="detail" if s["details"] else "page")

    def _keep(
        self, selection: tuple[Any, ...], query: EventQuery, df: pd.DataFrame, summary: str, partial: str
    ) -> None:
        """Show ``df`` as the result of ``selection``: the tables, their previews, the chart, the bar."""
        s = self.summary
        need = STOPPED_BEFORE_DETAILS if selection[-1] and partial else CONTACTS_NEED_DETAILS
        tables, parts = result_views(df, query.tenant, rows=self.preview_rows, partial=partial, need_details=need)
        s.update({name: None if frame is None else len(frame) for name, frame in tables.items() if name != "events"})
        bar = final_bar(s, partial, str(self.progress.description))
        self.progress.max, self.progress.value, self.progress.description = bar.max, bar.value, bar.description
        label = f"{query.tenant} · {query.describe()}" + (" · with details" if selection[-1] else "")
        result = _Result(selection, label, summary, parts, tables, "warning" if partial else "success")
        with self._ui:
            self.data, self._result, self._status = df, result, None
            self._show()
