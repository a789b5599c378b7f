"""The explorer's Export: what is refused, the report path, writing the selected table in the worker thread."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..reports import WalkReport, report_format, write_report
from .fetching import _Result
from .jobs import JobSlot
from .render import CONTACTS_NEED_DETAILS, lines, safe
from .summary import held_text, written_line


class _Exporting:
    """What Export does (mixed into :class:`~.explorer.EventExplorer`, which holds the state)."""

    data: pd.DataFrame | None
    export_path: Any
    table: Any
    last_export: Path | None
    _result: _Result | None
    _status: str | None
    _confirm_empty: tuple[Any, ...] | None
    _ui: threading.RLock
    _jobs: JobSlot

    if TYPE_CHECKING:

        @property
        def table_data(self) -> pd.DataFrame | None: ...

        def selection(self) -> tuple[Any, ...]: ...

        def _stale(self) -> bool: ...

        def _show(self, status: str | None = None) -> None: ...

    def _note(self, text: str, kind: str) -> None:
        """Add a line under the summary (or replace the status line when there is no result)."""
        with self._ui:
            if self._result is None or self._status is not None:
                self._show(lines(text, kind))
            else:
                self._result.notes.append(lines(text, kind))
                self._show()

    def export(self) -> bool:
        """Write the table the switch selects to the report path (what the Export button does); True when started.

        ``{table}`` and ``{tenant}`` in the path are replaced. Refused: partial data (a report never
        looks complete when it is not), a result of a previous selection, and contacts without
        details. An empty table is written on a second Export of the same selection and table. Each
        export adds its line under the fetch summary.
        """
        df, text, name = self.data, self.export_path.value.strip(), str(self.table.value)
        report = WalkReport.find(df) if df is not None else None
        if df is None or report is None:
            self._note("nothing to export yet: press Fetch first", "warn")
            return False
        if self._stale():  # a line about this selection, not a note under the old result
            self._show(lines("export refused: the result is for the previous selection; press Fetch first", "error"))
            return False
        if not report.complete:
            self._note(f"export refused: the data are PARTIAL ({held_text(report, len(df))})", "error")
            return False
        frame = self.table_data
        if frame is None:
            self._note(f"export refused: {CONTACTS_NEED_DETAILS}", "error")
            return False
        if not text:
            self._note("export: set a report path first", "warn")
            return False
        path = Path(text.replace("{tenant}", safe(report.tenant)).replace("{table}", name)).expanduser()
        if not len(frame) and self._confirm_empty != (self.selection(), name):
            self._confirm_empty = (self.selection(), name)
            what = "no events match" if not len(df) else f"no {name} in these events"
            self._note(f"{what}: press Export again to write an empty report (header only) to {path}", "warn")
            return False
        return self._jobs.start("export", self._run_export, frame, path, name)

    def _run_export(self, _cancel: threading.Event, frame: pd.DataFrame, path: Path, name: str) -> None:
        fmt = report_format(path)[0]
        self.last_export = write_report(frame, path).resolve()
        self._confirm_empty = None
        self._note(written_line(self.last_export, fmt, name, len(frame)), "ok")
