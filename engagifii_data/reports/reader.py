"""read_report: a CSV, Parquet or Excel report of this package back into a typed events frame.

What each format gives back (``tests/test_reports.py`` checks every line on every seeded tenant):

* **Parquet**: the frame as written -- every value and dtype (datetimes to the nanosecond), lists and
  unknown fields included -- and its ``attrs``.
* **Excel**: declared columns in their dtypes; datetimes to the millisecond, converted back from the
  zone their header names (a repeated autumn hour of a zone with daylight saving reads back as its
  first instant); unknown fields as the cell values (text, number, boolean), in the dtype the About
  sheet records when it is one of the declared dtypes; ``attrs`` from the About sheet.
* **CSV**: declared columns in their dtypes; datetimes to the microsecond; unknown fields as text
  (``object`` column, None where empty); no ``attrs`` (a CSV has nowhere to keep them).
* CSV and Excel cannot tell an empty text from a missing one: an empty text reads back as NA.

Every format: the leading ``tenant`` column as ``string``; ``location.zip`` stays text; counts
``Int64``, money and coordinates ``Float64``, flags ``boolean``; lists as Python lists (see
:mod:`.lists`: ``None``, ``[]`` and ``[""]`` stay apart); a value whose zone is unknown keeps its
wall-clock digits and is named in its row's ``naiveDateTimes`` cell (a CSV cell without ``Z`` or an
offset, an Excel cell formatted ``(zone unknown)``); the column is added when the file lacks it but
holds such values. A CSV text cell loses exactly the ``'`` the writer's formula neutralisation added
(:func:`~engagifii_data.reports.csv_writer.restore_text`), unless ``restore_formulas=False`` (for a
file written with ``--no-formula-escape``).
"""

from __future__ import annotations

import codecs
import csv
import json
import os
import re
import warnings
import zipfile
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from ..exceptions import ReportError, caller_stacklevel
from ..frames.datetimes import read_datetimes
from ..frames.schema import (
    BOOLEAN,
    DATETIME_UTC,
    EVENT_COLUMNS,
    FLOAT64,
    INT64,
    NAIVE_COLUMN,
    OBJECT,
    STRING,
    STRING_DTYPE,
    TENANT_COLUMN,
)
from ..frames.tables import CONTACT_COLUMNS, SESSION_COLUMNS
from ..frames.values import convert, object_array, to_text
from . import excel_about, excel_writer
from .csv_writer import restore_text
from .files import FORMATS, FORMATS_BY_SUFFIX
from .lists import parse_list
from .parquet_writer import ATTRS_METADATA_KEY, COLUMNS_METADATA_KEY

#: ``_xHHHH_``: how .xlsx files store characters XML cannot hold (``_x005F_`` is a literal ``_``).
_XML_ESCAPE: Final = re.compile(r"_x([0-9A-Fa-f]{4})_")
#: Dtypes an unknown column is read back in when the About sheet records one; anything else (``object``
#: included: unknown fields are not lists) is kept as the cell values.
_TYPED: Final = frozenset({STRING, BOOLEAN, INT64, FLOAT64, DATETIME_UTC})
_HEADER_ZONE: Final = re.compile(r"^(?P<name>.*) \((?P<zone>[^()]+)\)$")
#: Column names one of this package's tables starts with or holds: a file naming none is not a report.
_REPORT_COLUMNS: Final = frozenset({TENANT_COLUMN, NAIVE_COLUMN, *EVENT_COLUMNS, *SESSION_COLUMNS, *CONTACT_COLUMNS})


def read_report(
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    list_separator: str = "; ",
    restore_formulas: bool = True,
) -> pd.DataFrame:
    """Read a report written by this package (CSV, Parquet or Excel) back into a typed frame.

    Parameters
    ----------
    path : str or os.PathLike
        The report. The format comes from ``format``, else the file's first bytes (Parquet, .xlsx:
        a Parquet report saved as ``.csv`` is still read as Parquet), else the extension (``.csv``,
        ``.parquet``/``.pq``, ``.xlsx``), else CSV.
    format : {"csv", "parquet", "xlsx"}, optional
        Overrides the extension.
    list_separator : str, default ``"; "``
        The separator the report's list cells were joined with.
    restore_formulas : bool, default True
        CSV only: remove the ``'`` the writer put before formula-like texts. ``False`` for a CSV
        written with ``neutralize_formulas=False`` (``--no-formula-escape``).

    Returns
    -------
    pandas.DataFrame
        The columns in file order with a ``RangeIndex``: ``tenant`` ``string``, declared columns in
        their declared dtypes (``EVENT_COLUMNS``, or ``SESSION_COLUMNS``/``CONTACT_COLUMNS`` of
        :mod:`engagifii_data.frames.tables` for a sessions or contacts report), other columns as described
        in the module docstring; ``attrs`` restored where the format keeps them (Parquet, Excel).

    Raises
    ------
    ValueError
        An unknown ``format``.
    ImportError
        An Excel report without ``openpyxl`` (``pip install 'engagifii-data[excel]'``).
    ReportError
        The file is not a report of this package: not UTF-8 text, not a readable Parquet or .xlsx
        file, or a CSV without the byte order mark the writer puts first whose header names none of
        the columns of the events, sessions or contacts tables (``/etc/passwd``). A ``ValueError``,
        so ``except ValueError`` keeps working.
    OSError
        The file cannot be read (missing, a folder, no permission).

    Warns
    -----
    UserWarning
        Cells that do not fit their declared column (a file edited by hand) are read as NA and
        counted in one warning.
    """
    fmt = _format_of(Path(path), format)
    try:
        if fmt == "parquet":
            frame = _read_parquet(Path(path))
        elif fmt == "xlsx":
            frame = _read_excel(Path(path), list_separator)
        else:
            frame = _read_csv(Path(path), list_separator, restore_formulas)
    except (OSError, ImportError, ReportError):
        raise
    except (ValueError, KeyError, IndexError, TypeError, csv.Error, zipfile.BadZipFile) as exc:
        # whatever the parsers raise for a file that is not what its name says (pyarrow's
        # ArrowInvalid and openpyxl's InvalidFileException are ValueError/Exception subclasses)
        raise _not_a_report(path, fmt, exc) from exc
    except Exception as exc:
        if type(exc).__module__.split(".")[0] in ("pyarrow", "openpyxl"):
            raise _not_a_report(path, fmt, exc) from exc
        raise
    return frame


def _check_header(path: str | os.PathLike[str], names: Sequence[str], marked: bool) -> None:
    """ReportError for a CSV without the writer's BOM whose header names no column of our tables."""
    if names and not marked and not _REPORT_COLUMNS.intersection(names):
        shown = ", ".join(repr(n[:40]) for n in names[:3]) + (", ..." if len(names) > 3 else "")
        raise ReportError(
            f"{path} is not a report of engagifii-data: it does not start with the UTF-8 byte order mark "
            f"the CSV writer puts first, and its header ({shown}) names none of the columns of the events, "
            "sessions or contacts tables"
        )


def _not_a_report(path: str | os.PathLike[str], fmt: str, exc: BaseException) -> ReportError:
    what = {"csv": "UTF-8 CSV text", "parquet": "a readable Parquet file", "xlsx": "a readable .xlsx workbook"}[fmt]
    reason = "; ".join(str(exc).splitlines())[:200] or type(exc).__name__
    return ReportError(f"{path} is not a report of engagifii-data: not {what} ({reason})")


def _format_of(path: Path, fmt: str | None) -> str:
    if fmt is not None:
        fmt = fmt.lower()
        if fmt not in FORMATS:
            raise ValueError(f"unknown report format {fmt!r}; expected one of {', '.join(FORMATS)}")
        return fmt
    # the file's first bytes win over its name: a Parquet report saved as .csv is still read
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
    except OSError:
        magic = b""
    by_content = {b"PAR1": "parquet", b"PK\x03\x04": "xlsx"}.get(magic)
    return by_content or FORMATS_BY_SUFFIX.get(path.suffix.lower()) or "csv"


def _declared_for(names: list[str]) -> Mapping[str, str]:
    """The declared columns of the table a header belongs to: events, sessions or contacts.

    The table whose declared columns the header names most (``sessionIndex``, ``start`` ... make a
    sessions report); events on a tie, so an events report with extra fields stays an events report.
    """
    present = set(names)
    tables: list[Mapping[str, str]] = [EVENT_COLUMNS, SESSION_COLUMNS, CONTACT_COLUMNS]
    return max(tables, key=lambda table: len(present.intersection(table)))


def _dtype_of(name: str, position: int, declared: Mapping[str, str]) -> str | None:
    if position == 0 and name == TENANT_COLUMN:
        return STRING
    return declared.get(name)


class _Coerced:
    """Cells that did not fit their column, per column (one warning at the end)."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def add(self, column: str, n: int) -> None:
        if n:
            self.counts[column] = self.counts.get(column, 0) + n

    def warn(self, path: Path) -> None:
        if self.counts:
            detail = ", ".join(f"{c} {n:,}" for c, n in self.counts.items())
            warnings.warn(
                f"{path}: cells that do not fit their column were read as NA: {detail}", stacklevel=caller_stacklevel()
            )


def _typed(name: str, values: list[Any], dtype: str, separator: str, coerced: _Coerced) -> Any:
    """Cell values (None for empty; text, or Excel's numbers, booleans) -> the column in ``dtype``."""
    if dtype == OBJECT:
        return object_array(
            [None if v is None else parse_list(v if isinstance(v, str) else to_text(v), separator) for v in values]
        )
    converted, bad = convert(values, dtype)
    coerced.add(name, bad)
    target: Any = STRING_DTYPE if dtype == STRING else pd.api.types.pandas_dtype(dtype)
    return pd.array(converted, dtype=target)


def _instants(name: str, values: list[Any], wall: np.ndarray, zone: Any, coerced: _Coerced) -> tuple[Any, np.ndarray]:
    """Datetime cells -> (``datetime64[ns, UTC]`` array, mask of wall-clock values of no known zone).

    ``values`` are texts (``Z``/offset: instants; none: wall-clock digits) or naive datetimes, in
    ``zone`` unless ``wall`` marks them as of no known zone.
    """
    texts = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    parsed = read_datetimes(texts)
    result, naive_rows, bad = parsed
    coerced.add(name, bad)
    wall_clock = np.zeros(len(values), dtype=bool)
    naive = np.zeros(len(values), dtype=bool)
    naive[naive_rows] = True
    if zone is None:  # a CSV: no offset means no known zone
        wall_clock = naive
    else:
        wall_clock = naive & wall
        local = naive & ~wall
        if local.any() and zone != "UTC":
            shifted = (
                pd.DatetimeIndex(result[local])
                .tz_localize(zone, ambiguous=np.ones(int(local.sum()), dtype=bool), nonexistent="shift_forward")
                .tz_convert("UTC")
                .tz_localize(None)
            )
            result[local] = shifted.as_unit("ns").to_numpy()
    array: Any = pd.array(result)
    return array.tz_localize("UTC"), wall_clock


def _finish(
    names: list[str], data: list[Any], wall_clock: dict[str, np.ndarray], rows: int, attrs: dict[str, Any]
) -> pd.DataFrame:
    """The frame; the ``naiveDateTimes`` column added if the file lacks it but has such values."""
    if NAIVE_COLUMN not in names and any(mask.any() for mask in wall_clock.values()):
        marks: list[Any] = [None] * rows
        for column, mask in wall_clock.items():
            for row in np.flatnonzero(mask).tolist():
                marks[row] = [*(marks[row] or []), column]
        declared = [i for i, n in enumerate(names) if n in EVENT_COLUMNS or (i == 0 and n == TENANT_COLUMN)]
        at = declared[-1] + 1 if declared else len(names)
        names = [*names[:at], NAIVE_COLUMN, *names[at:]]
        data = [*data[:at], object_array(marks), *data[at:]]
    frame = pd.DataFrame(dict(enumerate(data)), index=pd.RangeIndex(rows))
    frame.columns = pd.Index(names)
    frame.attrs.update(attrs)
    return frame


# --------------------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------------------


def _read_csv(path: Path, separator: str, restore: bool) -> pd.DataFrame:
    with open(path, "rb") as raw:
        marked = raw.read(3) == codecs.BOM_UTF8
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        text: Callable[[str], str] = restore_text if restore else str
        names = [text(h) for h in next(reader, [])]
        _check_header(path, names, marked)  # before reading the rest of a file that is not a report
        rows = list(reader)
    coerced = _Coerced()
    data: list[Any] = []
    wall_clock: dict[str, np.ndarray] = {}
    declared = _declared_for(names)
    for i, name in enumerate(names):
        cells = [row[i] if i < len(row) else "" for row in rows]
        dtype = _dtype_of(name, i, declared)
        if dtype == DATETIME_UTC:
            column, wall = _instants(name, [c or None for c in cells], np.zeros(0, dtype=bool), None, coerced)
            data.append(column)
            wall_clock[name] = wall
            continue
        values = [text(c) if c else None for c in cells]
        data.append(object_array(values) if dtype is None else _typed(name, values, dtype, separator, coerced))
    coerced.warn(path)
    return _finish(names, data, wall_clock, len(rows), {})


# --------------------------------------------------------------------------------------------------
# Parquet
# --------------------------------------------------------------------------------------------------


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    metadata = table.schema.metadata or {}
    attrs = json.loads(metadata[ATTRS_METADATA_KEY]) if ATTRS_METADATA_KEY in metadata else {}
    stored = json.loads(metadata[COLUMNS_METADATA_KEY]) if COLUMNS_METADATA_KEY in metadata else None
    if stored is not None and [s["name"] for s in stored] != table.column_names:
        stored = None  # not as this package wrote it: read by the declared table alone
    frame = table.to_pandas()
    names = [str(c) for c in table.column_names]
    data: list[Any] = []
    declared = _declared_for(names)
    for i, name in enumerate(names):
        dtype = _dtype_of(name, i, declared)
        if stored is not None:
            storage, written = stored[i]["storage"], stored[i]["dtype"]
        else:
            is_text = pa.types.is_string(table.schema.field(i).type) or pa.types.is_large_string(
                table.schema.field(i).type
            )
            storage = "json" if dtype == OBJECT and is_text else "value"
            written = dtype or "object"
        if written != "object" and dtype != OBJECT:
            data.append(frame.iloc[:, i].array)  # typed through the pandas metadata
            continue
        values = table.column(i).to_pylist()
        if storage == "json":
            values = [None if v is None else json.loads(v) for v in values]
        data.append(object_array(values))
    return _finish(names, data, {}, len(frame), attrs)


# --------------------------------------------------------------------------------------------------
# Excel
# --------------------------------------------------------------------------------------------------


def _unescape(value: Any) -> Any:
    if isinstance(value, str) and "_x" in value:
        return _XML_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), value)
    return value


def _read_about(book: Any) -> tuple[list[tuple[str, str, str]] | None, dict[str, Any]]:
    """The About sheet's column table (name, header, dtype) and the frame's attrs."""
    if excel_writer.ABOUT_SHEET not in book.sheetnames:
        return None, {}
    table: list[tuple[str, str, str]] | None = None
    attrs: dict[str, Any] = {}
    in_table = False
    for row in book[excel_writer.ABOUT_SHEET].iter_rows(values_only=True):
        cells = [_unescape(c) for c in row]
        first = cells[0] if cells else None
        if first == excel_about.COLUMNS_LABEL and len(cells) > 2 and cells[1] == "header":
            table, in_table = [], True
        elif in_table and table is not None and first is not None:
            table.append((str(first), str(cells[1] or ""), str(cells[2] or "")))
        elif first == excel_about.ATTRS_LABEL:
            in_table = False
            text = "".join(c for c in cells[1:] if isinstance(c, str))
            try:
                loaded = json.loads(text)
            except ValueError:
                loaded = {}
            attrs = loaded if isinstance(loaded, dict) else {}
        else:
            in_table = in_table and first is not None
    return table, attrs


def _excel_zone(path: Path, header: str, label: str | None) -> tuple[Any, bool]:
    """(zone for pandas, whether every value is of no known zone) of a datetime header's label."""
    if label == excel_writer.NO_ZONE_LABEL:
        return "UTC", True
    try:
        return excel_writer.zone_of(label or "UTC")[1], False
    except (ValueError, TypeError):
        warnings.warn(
            f"{path}: column {header!r} names no known time zone; its values are read as UTC",
            stacklevel=caller_stacklevel(),
        )
        return "UTC", False


def _read_excel(path: Path, separator: str) -> pd.DataFrame:
    try:
        import openpyxl
    except ImportError as exc:
        raise ImportError(
            f"reading Excel reports needs openpyxl, which is not installed: {excel_writer.INSTALL_HINT}"
        ) from exc
    with open(path, "rb") as fh:  # a file object: openpyxl refuses names that do not end in .xlsx
        header, values, formats, table, attrs = _excel_cells(openpyxl.load_workbook(fh, read_only=True, data_only=True))
    names, dtypes, labels = _excel_columns([str(h) if h is not None else "" for h in header], table)
    count = len(values[0]) if values else 0
    marked = _marks(names, values, separator)
    coerced = _Coerced()
    data: list[Any] = []
    wall_clock: dict[str, np.ndarray] = {}
    for i, name in enumerate(names):
        dtype = dtypes[i]
        cells = values[i]
        if dtype == DATETIME_UTC:
            zone, unknown = _excel_zone(path, name, labels[i])
            wall = np.array([unknown or "zone unknown" in f for f in formats[i]], dtype=bool) | marked.get(
                name, np.zeros(count, dtype=bool)
            )
            column, wall_clock[name] = _instants(name, cells, wall, zone, coerced)
            data.append(column)
        elif dtype is None:
            data.append(object_array(cells))
        else:
            data.append(_typed(name, cells, dtype, separator, coerced))
    coerced.warn(path)
    return _finish(names, data, wall_clock, count, attrs)


def _excel_cells(
    book: Any,
) -> tuple[list[Any], list[list[Any]], list[list[str]], list[tuple[str, str, str]] | None, dict[str, Any]]:
    """(header, cell values and number formats per column, About column table, attrs) of a workbook."""
    try:
        table, attrs = _read_about(book)
        sheet = book[excel_writer.EVENTS_SHEET] if excel_writer.EVENTS_SHEET in book.sheetnames else book.worksheets[0]
        rows = sheet.iter_rows()
        header = [_unescape(c.value) for c in next(rows, ())]
        while header and header[-1] is None:
            header.pop()
        width = len(header)
        values: list[list[Any]] = [[] for _ in range(width)]
        formats: list[list[str]] = [[] for _ in range(width)]
        for row in rows:
            for i in range(width):
                cell = row[i] if i < len(row) else None
                values[i].append(None if cell is None else _unescape(cell.value))
                formats[i].append(getattr(cell, "number_format", None) or "")
    finally:
        book.close()
    return header, values, formats, table, attrs


def _excel_columns(
    header: list[str], table: Sequence[tuple[str, str, str]] | None
) -> tuple[list[str], list[str | None], list[str | None]]:
    """Per column: its name, the dtype to read it in (None: the cell values) and its zone label."""
    names: list[str] = []
    dtypes: list[str | None] = []
    labels: list[str | None] = []
    known = table is not None and [h for _, h, _ in table] == header
    declared = _declared_for(
        [table[i][0] if known and table is not None else _bare(text) for i, text in enumerate(header)]
    )
    for i, text in enumerate(header):
        if known and table is not None:
            name, _, written = table[i]
            label = text[len(name) + 2 : -1] if text.startswith(f"{name} (") and text.endswith(")") else None
        else:
            match = _HEADER_ZONE.match(text)
            if match and declared.get(match["name"]) == DATETIME_UTC:
                name, label = match["name"], match["zone"]
            else:
                name, label = text, None
            written = ""
        dtype = _dtype_of(name, i, declared)
        if dtype is None and written:
            if written.startswith("datetime64") and "," in written:
                dtype = DATETIME_UTC
            elif written in _TYPED:
                dtype = written
        names.append(name)
        dtypes.append(dtype)
        labels.append(label)
    return names, dtypes, labels


def _bare(header: str) -> str:
    """A header without its zone label: ``start (UTC)`` -> ``start``."""
    match = _HEADER_ZONE.match(header)
    return match["name"] if match else header


def _marks(names: list[str], values: list[list[Any]], separator: str) -> dict[str, np.ndarray]:
    """Per datetime column: rows the ``naiveDateTimes`` column names it in."""
    if NAIVE_COLUMN not in names:
        return {}
    cells = values[names.index(NAIVE_COLUMN)]
    out: dict[str, np.ndarray] = {}
    for row, cell in enumerate(cells):
        listed = parse_list(cell, separator) if isinstance(cell, str) else None
        for column in listed or ():
            if isinstance(column, str):
                out.setdefault(column, np.zeros(len(cells), dtype=bool))[row] = True
    return out
