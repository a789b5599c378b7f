"""Excel reports (XlsxWriter): text cells that are never formulas, datetimes in a zone the user names.

The workbook (``.xlsx``) has two sheets:

``Events``
    One header row (frozen, with an autofilter), then one row per event. Datetime headers name the
    zone the cells are shown in (``startDateTime (UTC)``).
``About``
    What the report holds: the tenant(s), the query (server and client filters), ``fetched_at``,
    whether the walk was complete, the counts of :class:`~engagifii_data.reports.WalkReport`, the time
    zone, what cells the writer changed, then a table of the columns (name, header, dtype) and the
    frame's ``attrs`` as JSON, from which :func:`~engagifii_data.reports.read_report` restores them.

Cells, whatever the data:

* text -> a text cell, always (``write_string``): a name such as ``=SUM(A1:A2) Workshop`` is text,
  never a formula, a number or a link; no ``'`` is added. An empty text is an empty cell. A text
  longer than Excel's 32,767 characters is cut to fit, ending with ``…``, and counted on ``About``.
  Characters XML cannot hold (control characters) are stored as ``_xHHHH_`` escapes, as Excel expects.
* numbers -> numbers (Excel keeps 15-16 significant digits); an integer beyond 2**53 or an infinite
  float -> its text, so that it is not silently changed. Booleans -> ``TRUE``/``FALSE``. NA -> empty.
* datetimes -> Excel datetimes (``yyyy-mm-dd hh:mm:ss``) in ``timezone``, rounded to the millisecond
  (Excel's precision). A value whose zone is unknown (named in its row's ``naiveDateTimes`` cell, or
  in a datetime column without a zone) is written as its wall-clock time, never shifted to
  ``timezone``, with the number format ``yyyy-mm-dd hh:mm:ss "(zone unknown)"``. A datetime before
  1900-03-01 (which Excel cannot hold) is written as text.
* lists -> text by the rule of :mod:`.lists` (``CLE; Members``, or JSON such as ``[]``); dicts ->
  compact JSON.

Limits: more than 1,048,575 rows or 16,384 columns cannot be one sheet: :class:`ReportError`.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
import zoneinfo
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Final

import numpy as np
import pandas as pd

from ..exceptions import ReportError
from ..frames.values import is_missing, json_text
from ..text import with_valid_text
from .columns import select_columns, wall_clock_rows
from .excel_about import MAX_CELL_TEXT, about_rows, write_about
from .files import atomic_write
from .lists import list_text
from .walk_report import WalkReport, refuse_incomplete

#: What to run when the engine is missing.
INSTALL_HINT: Final = "pip install 'engagifii-data[excel]'"
EVENTS_SHEET: Final = "Events"
ABOUT_SHEET: Final = "About"
#: Excel's sheet limits: rows (the header included), columns (characters in a cell: ``MAX_CELL_TEXT``).
MAX_ROWS: Final = 1_048_576
MAX_COLUMNS: Final = 16_384
#: Number formats of datetime cells: in the report's zone, and wall-clock times of no known zone.
DATETIME_NUMBER_FORMAT: Final = "yyyy-mm-dd hh:mm:ss"
WALL_CLOCK_NUMBER_FORMAT: Final = 'yyyy-mm-dd hh:mm:ss "(zone unknown)"'
#: Header suffix of a datetime column that has no zone at all.
NO_ZONE_LABEL: Final = "zone unknown"
#: Column widths (characters): the widest a column gets, and the text it needs per text length.
MAX_WIDTH: Final = 60
_WIDTH_SAMPLE: Final = 1000
#: Excel's first representable day that is also after its 1900 leap-year bug.
_EXCEL_FIRST: Final = datetime(1900, 3, 1)
_MAX_EXACT_INT: Final = 2**53
#: The label of a fixed-offset zone (``str(datetime.timezone(...))``).
_OFFSET_LABEL: Final = re.compile(r"^UTC(?P<sign>[+-])(?P<h>\d{2}):(?P<m>\d{2})$")


class _WallClock(datetime):
    """A datetime cell of no known zone (written with :data:`WALL_CLOCK_NUMBER_FORMAT`)."""


def engine() -> Any:
    """The ``xlsxwriter`` module.

    Raises
    ------
    ImportError
        XlsxWriter is not installed; the message names :data:`INSTALL_HINT`.
    """
    try:
        import xlsxwriter
    except ImportError as exc:
        raise ImportError(f"Excel reports need XlsxWriter, which is not installed: {INSTALL_HINT}") from exc
    return xlsxwriter


def zone_of(zone: str | tzinfo) -> tuple[str, Any]:
    """(label for headers, zone for pandas) of a ``timezone`` argument.

    Raises
    ------
    ValueError
        An unknown zone name.
    TypeError
        Neither a name nor a ``tzinfo``.
    """
    if isinstance(zone, str):
        name = zone.strip()
        if name.upper() in ("UTC", "Z"):
            return "UTC", "UTC"
        offset = _OFFSET_LABEL.match(name)
        if offset is not None:  # a fixed offset, as a header names it: UTC+02:00
            minutes = int(offset["h"]) * 60 + int(offset["m"])
            return zone_of(timezone(timedelta(minutes=-minutes if offset["sign"] == "-" else minutes)))
        try:
            zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError(
                f"unknown time zone {zone!r}: give an IANA name such as 'Europe/Berlin', or 'UTC'"
            ) from None
        return name, name
    if isinstance(zone, tzinfo):
        label = getattr(zone, "key", None) or str(zone)
        if label in ("UTC", "UTC+00:00") or zone is UTC:
            return "UTC", "UTC"
        if not (hasattr(zone, "key") or _OFFSET_LABEL.match(label)):
            raise ValueError(f"time zone {zone!r} has no IANA name: give one such as 'Europe/Berlin', or 'UTC'")
        return label, zone
    raise TypeError(f"timezone must be a zone name or a tzinfo, got {type(zone).__name__}")


class _Cuts:
    """Counts the texts cut to Excel's cell limit."""

    def __init__(self) -> None:
        self.count = 0

    def fit(self, text: str) -> str:
        if len(text) <= MAX_CELL_TEXT // 2:  # fits even if every character takes two UTF-16 units
            return text
        units = text.encode("utf-16-le")
        if len(units) <= 2 * MAX_CELL_TEXT:  # Excel counts UTF-16 units
            return text
        self.count += 1
        return units[: 2 * (MAX_CELL_TEXT - 1)].decode("utf-16-le", errors="ignore") + "…"


def _datetime_cells(series: pd.Series, zone: Any, wall_clock: np.ndarray | None) -> tuple[list[Any], bool]:
    """Cells of a datetime column (datetimes, :class:`_WallClock`, text before 1900, None); has a zone."""
    dtype = series.dtype
    aware = isinstance(dtype, pd.DatetimeTZDtype)
    utc = (series.dt.tz_convert("UTC") if aware else series).dt.round("ms")
    digits = utc.dt.tz_localize(None) if aware else utc
    local = utc.dt.tz_convert(zone).dt.tz_localize(None) if aware else digits
    naive = np.ones(len(series), dtype=bool) if not aware else wall_clock
    out: list[Any] = []
    for i, (stamp, wall) in enumerate(zip(local.tolist(), digits.tolist(), strict=True)):
        if stamp is pd.NaT or stamp is None:
            out.append(None)
        elif naive is not None and naive[i]:
            out.append(_excel_datetime(wall.to_pydatetime(), wall_clock=True))
        else:
            out.append(_excel_datetime(stamp.to_pydatetime(), wall_clock=False))
    return out, aware


def _excel_datetime(value: datetime, *, wall_clock: bool) -> Any:
    if value < _EXCEL_FIRST:
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    if wall_clock:
        return _WallClock(value.year, value.month, value.day, value.hour, value.minute, value.second, value.microsecond)
    return value


def _object_cell(value: Any, separator: str, zone: Any, cuts: _Cuts) -> Any:
    if isinstance(value, str):
        return cuts.fit(value) if value else None
    if isinstance(value, list | tuple | np.ndarray):
        return cuts.fit(list_text(value, separator))
    if isinstance(value, Mapping):
        return cuts.fit(json_text(value))
    if is_missing(value):
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | Decimal | np.floating):
        return float(value)
    if isinstance(value, datetime):
        stamp = pd.Timestamp(value).round("ms")
        if stamp.tzinfo is None:
            return _excel_datetime(stamp.to_pydatetime(), wall_clock=True)
        return _excel_datetime(stamp.tz_convert(zone).tz_localize(None).to_pydatetime(), wall_clock=False)
    return cuts.fit(str(value))


def _cells(series: pd.Series, separator: str, zone: Any, cuts: _Cuts) -> list[Any]:
    dtype = series.dtype
    values = series.tolist()
    if isinstance(dtype, pd.StringDtype):
        return [cuts.fit(v) if isinstance(v, str) and v else None for v in values]
    if pd.api.types.is_bool_dtype(dtype):
        return [None if is_missing(v) else bool(v) for v in values]
    if pd.api.types.is_integer_dtype(dtype):
        return [None if is_missing(v) else int(v) for v in values]
    if pd.api.types.is_float_dtype(dtype):
        return [None if is_missing(v) else float(v) for v in values]
    return [_object_cell(v, separator, zone, cuts) for v in values]


def _width(header: str, cells: list[Any]) -> float:
    longest = len(header) + 3  # the autofilter button
    seen = 0
    for cell in cells:
        if cell is None:
            continue
        if isinstance(cell, _WallClock):
            size = 34
        elif isinstance(cell, datetime):
            size = 19
        elif isinstance(cell, str):
            size = max(map(len, cell[:500].splitlines() or [""]))
        else:
            size = len(str(cell))
        longest = max(longest, size)
        seen += 1
        if seen >= _WIDTH_SAMPLE or longest >= MAX_WIDTH:
            break
    return float(min(longest + 1, MAX_WIDTH))


def _put(sheet: Any, row: int, col: int, value: Any, formats: dict[str, Any]) -> None:
    kind = type(value)
    if kind is str:
        sheet.write_string(row, col, value)
    elif kind is bool:
        sheet.write_boolean(row, col, value)
    elif kind is int:
        if -_MAX_EXACT_INT <= value <= _MAX_EXACT_INT:
            sheet.write_number(row, col, value)
        else:  # Excel would round it: keep every digit as text
            sheet.write_string(row, col, str(value))
    elif kind is float:
        if math.isfinite(value):
            sheet.write_number(row, col, value)
        else:
            sheet.write_string(row, col, str(value))
    elif kind is _WallClock:
        sheet.write_datetime(row, col, value, formats["wall_clock"])
    elif kind is datetime:
        sheet.write_datetime(row, col, value, formats["datetime"])
    else:  # pragma: no cover - every cell is made by _cells
        raise TypeError(f"no Excel cell for {kind.__name__}")


def export_excel(
    df: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    timezone: str | tzinfo = "UTC",
    allow_incomplete: bool = False,
    columns: str = "all",
    list_separator: str = "; ",
) -> Path:
    """Write ``df`` as an Excel workbook (``.xlsx``), atomically: see the module docstring for the cells.

    Parameters
    ----------
    df : pandas.DataFrame
        Any frame; usually from ``events()``. Not modified (``attrs`` included).
    path : str or os.PathLike
        Destination. Parent directories are created. An existing file is replaced only on success
        (a symbolic link keeps the link; a device or pipe is written into).
    timezone : str or tzinfo, default "UTC"
        The zone datetimes are shown in: an IANA name such as ``"Europe/Berlin"``, a ``ZoneInfo``,
        or a fixed offset (``datetime.timezone``, ``"UTC+02:00"``). The datetime headers and the About
        sheet name it; :func:`~engagifii_data.reports.read_report` reads the values back from it.
    allow_incomplete : bool, default False
        Write a frame marked ``attrs["engagifii"]["complete"] = False`` (a partial walk) anyway; the
        About sheet then says ``complete NO``.
    columns : {"all", "declared"}, default "all"
        ``"declared"``: only the leading ``tenant`` column and the declared columns.
    list_separator : str, default ``"; "``
        Joins the elements of list cells (see :mod:`.lists`).

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    ImportError
        XlsxWriter is not installed (``pip install 'engagifii-data[excel]'``).
    ReportError
        A partial walk (unless ``allow_incomplete``), or more rows or columns than a sheet holds.
    ValueError
        An unknown ``timezone`` or ``columns``.
    ReportNotWritable
        The file could not be written; the temp file is removed and any previous file is untouched.
    """
    refuse_incomplete(df, allow_incomplete)
    df = select_columns(df, columns)
    xlsxwriter = engine()
    zone_label, zone = zone_of(timezone)
    return with_valid_text(lambda frame: _write_excel(frame, path, xlsxwriter, (zone_label, zone), list_separator), df)


def _write_excel(
    df: pd.DataFrame, path: str | os.PathLike[str], xlsxwriter: Any, zone_of_cells: tuple[str, Any], list_separator: str
) -> Path:
    zone_label, zone = zone_of_cells
    rows, width = df.shape
    if rows + 1 > MAX_ROWS:
        raise ReportError(
            f"an Excel sheet holds at most {MAX_ROWS - 1:,} rows under its header and this frame has {rows:,}: "
            "write CSV or Parquet instead (-o events.parquet), or filter the rows"
        )
    if width > MAX_COLUMNS:
        raise ReportError(f"an Excel sheet holds at most {MAX_COLUMNS:,} columns and this frame has {width:,}")
    report = WalkReport.find(df)
    cuts = _Cuts()
    marks = wall_clock_rows(df)
    names = [str(c) for c in df.columns]
    headers: list[str] = []
    table: list[list[Any]] = []
    for i, name in enumerate(names):
        series = df.iloc[:, i]
        if pd.api.types.is_datetime64_any_dtype(series.dtype):
            cells, aware = _datetime_cells(series, zone, marks.get(name))
            headers.append(f"{name} ({zone_label if aware else NO_ZONE_LABEL})")
        else:
            cells = _cells(series, list_separator, zone, cuts)
            headers.append(name)
        table.append(cells)
    headers = [cuts.fit(h) for h in headers]
    wall_cells = sum(isinstance(c, _WallClock) for cells in table for c in cells)
    about = about_rows(df, report, zone_label, wall_cells, cuts.count)
    attrs_json = json.dumps(df.attrs, default=str, ensure_ascii=False)
    dtypes = [str(df.iloc[:, i].dtype) for i in range(width)]
    # text XlsxWriter would fail on half-way (a lone surrogate), found before a workbook is opened
    _check_encodable([*headers, *names, *dtypes, attrs_json, *(c for row in about for c in row)])
    for cells in table:
        _check_encodable(cells)

    def write(fh: IO[bytes]) -> None:
        # rows are streamed through temp files in a private folder, removed whatever happens
        with tempfile.TemporaryDirectory(prefix="engagifii-xlsx-", ignore_cleanup_errors=True) as scratch:
            _write_workbook(xlsxwriter, fh, scratch, headers, table, about, names, dtypes, attrs_json)

    return atomic_write(path, write)


def _check_encodable(cells: Iterable[Any]) -> None:
    """UnicodeEncodeError when a text cell cannot be UTF-8 (:func:`~engagifii_data.text.with_valid_text` repairs)."""
    for cell in cells:
        if type(cell) is str and not cell.isascii():
            cell.encode()


def _write_workbook(
    xlsxwriter: Any,
    fh: IO[bytes],
    scratch: str,
    headers: list[str],
    table: list[list[Any]],
    about: list[tuple[str, Any, str]],
    names: list[str],
    dtypes: list[str],
    attrs_json: str,
) -> None:
    rows = len(table[0]) if table else 0
    width = len(headers)
    options = {
        "constant_memory": True,  # rows streamed; a literal "_x0041_" text is escaped as Excel expects
        "tmpdir": scratch,
        "strings_to_formulas": False,
        "strings_to_numbers": False,
        "strings_to_urls": False,
        "use_zip64": rows * max(width, 1) > 5_000_000,
    }
    workbook = xlsxwriter.Workbook(fh, options)
    bold = workbook.add_format({"bold": True})
    formats = {
        "datetime": workbook.add_format({"num_format": DATETIME_NUMBER_FORMAT}),
        "wall_clock": workbook.add_format({"num_format": WALL_CLOCK_NUMBER_FORMAT}),
    }
    sheet = workbook.add_worksheet(EVENTS_SHEET)
    for col, (header, cells) in enumerate(zip(headers, table, strict=True)):
        sheet.set_column(col, col, _width(header, cells))
    sheet.freeze_panes(1, 0)
    if width:
        sheet.autofilter(0, 0, rows, width - 1)
    for col, header in enumerate(headers):
        sheet.write_string(0, col, header, bold)
    for r in range(rows):
        for col, cells in enumerate(table):
            value = cells[r]
            if value is not None:
                _put(sheet, r + 1, col, value, formats)
    write_about(workbook.add_worksheet(ABOUT_SHEET), bold, about, names, headers, dtypes, attrs_json)
    try:
        workbook.close()  # the workbook is assembled and zipped into fh only now
    except xlsxwriter.exceptions.FileCreateError as exc:  # an OSError (disk full ...): not writable
        cause = exc.args[0] if exc.args else None
        raise (cause if isinstance(cause, OSError) else OSError(str(exc))) from None
    except xlsxwriter.exceptions.FileSizeError as exc:
        raise ReportError(f"the workbook is too large for an .xlsx file: {exc}") from None
