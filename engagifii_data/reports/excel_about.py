"""The ``About`` sheet of an Excel report: what the report holds, its columns and the frame's ``attrs``.

:func:`~engagifii_data.reports.read_report` finds the column table by ``COLUMNS_LABEL`` and restores
the frame's ``attrs`` from the JSON after ``ATTRS_LABEL``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

import pandas as pd

from .walk_report import WalkReport

#: Excel's limit of characters in a cell.
MAX_CELL_TEXT: Final = 32_767
#: ``About`` sheet labels the reader looks for.
COLUMNS_LABEL: Final = "column"
ATTRS_LABEL: Final = "attrs (JSON)"
#: A JSON chunk per About cell (below the cell limit).
_CHUNK: Final = 32_000


def _filters_text(filters: Mapping[str, Any]) -> str:
    if not filters:
        return "none"
    parts = []
    for key, value in filters.items():
        if value is None or value == [] or value == ():
            shown = "(none)"
        elif isinstance(value, bool):
            shown = "true" if value else "false"
        elif isinstance(value, list | tuple):
            shown = ", ".join(map(str, value))
        else:
            shown = str(value)
        parts.append(f"{key}={shown}")
    return "; ".join(parts)


def _counts_text(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{column} {n:,}" for column, n in counts.items()) if counts else ""


def about_rows(
    df: pd.DataFrame, report: WalkReport | None, zone_label: str, wall_cells: int, cuts: int
) -> list[tuple[str, Any, str]]:
    """(label, value, note) rows of the About sheet, before the column table."""
    rows: list[tuple[str, Any, str]] = []
    if report is None:
        rows.append(("walk report", "none", "this frame was not returned by EngagifiiClient.events()"))
    else:
        complete_note = ""
        if not report.complete:
            complete_note = "a partial walk, written with allow_incomplete=True"
            if report.missing_pages:
                complete_note += f"; pages not fetched: {report.missing_text()}"
        rows += [
            ("tenant", report.tenant, ""),
            ("complete", "yes" if report.complete else "NO", complete_note),
            ("fetched_at", report.fetched_at, "UTC, when the walk started"),
            ("server filters", _filters_text(report.server_filters), "applied by the API"),
            ("client filters", _filters_text(report.client_filters), "applied to the rows after the walk"),
            ("total_count", report.total_count, "events the listing reported"),
            ("rows fetched", report.rows_fetched, "unique events fetched"),
            ("pages", report.pages, f"of {report.planned_pages:,} planned, page size {report.page_size:,}"),
            ("requests", report.requests, "HTTP requests sent during the walk"),
            ("retries", report.retries, ""),
            ("duplicates", report.duplicates, "rows dropped: their id was already fetched"),
            (
                "naive datetimes",
                sum(report.naive_datetimes.values()),
                _counts_text(report.naive_datetimes) or "wall-clock times whose zone the API did not give",
            ),
            ("coerced", sum(report.coerced.values()), _counts_text(report.coerced) or "values that did not fit"),
            ("repaired texts", report.repaired_text, "texts that were not valid Unicode (now U+FFFD)"),
        ]
        for part in report.per_tenant:
            rows.append(
                (
                    f"tenant {part.tenant}",
                    part.rows,
                    f"rows; {part.rows_fetched:,} fetched of {part.total_count:,}; "
                    f"complete {'yes' if part.complete else 'NO'}",
                )
            )
    rows += [
        ("rows", len(df), "rows in the Events sheet"),
        ("written_at", datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"), "UTC"),
        ("time zone", zone_label, "datetimes are shown in this zone; the headers name it"),
        (
            "zone unknown",
            wall_cells,
            'cells formatted "(zone unknown)" are wall-clock times whose zone the API did not give: '
            "they are not in the zone above; their row's naiveDateTimes cell names their columns",
        ),
        ("cut texts", cuts, f"texts longer than Excel's {MAX_CELL_TEXT:,} characters, cut and ended with …"),
        ("text cells", "text", "always written as text, never as formulas"),
        ("lists", "joined with '; '", "or the JSON of the whole list when joining would be ambiguous"),
    ]
    return rows


def write_about(
    sheet: Any,
    bold: Any,
    about: list[tuple[str, Any, str]],
    names: list[str],
    headers: list[str],
    dtypes: list[str],
    attrs_json: str,
) -> None:
    sheet.set_column(0, 0, 24)
    sheet.set_column(1, 1, 40)
    sheet.set_column(2, 2, 60)
    sheet.write_string(0, 0, "Engagifii events report", bold)
    row = 2
    for label, value, note in about:
        sheet.write_string(row, 0, label)
        if isinstance(value, str):
            sheet.write_string(row, 1, value)
        else:
            sheet.write_number(row, 1, value)
        if note:
            sheet.write_string(row, 2, note)
        row += 1
    row += 1
    sheet.write_string(row, 0, COLUMNS_LABEL, bold)
    sheet.write_string(row, 1, "header", bold)
    sheet.write_string(row, 2, "dtype", bold)
    for name, header, dtype in zip(names, headers, dtypes, strict=True):
        row += 1
        sheet.write_string(row, 0, name[: MAX_CELL_TEXT - 1])
        sheet.write_string(row, 1, header)
        sheet.write_string(row, 2, dtype)
    row += 2
    sheet.write_string(row, 0, ATTRS_LABEL, bold)
    for i in range(0, max(len(attrs_json), 1), _CHUNK):
        sheet.write_string(row, 1 + i // _CHUNK, attrs_json[i : i + _CHUNK])
