"""Reading an Excel report back: the Events sheet's cells and formats, the About sheet, header zones."""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from ..exceptions import caller_stacklevel
from ..frames.schema import BOOLEAN, DATETIME_UTC, FLOAT64, INT64, NAIVE_COLUMN, STRING
from ..frames.values import object_array
from . import excel_about, excel_writer
from .cells import _Coerced, _declared_for, _dtype_of, _finish, _instants, _typed
from .lists import parse_list

#: ``_xHHHH_``: how .xlsx files store characters XML cannot hold (``_x005F_`` is a literal ``_``).
_XML_ESCAPE: Final = re.compile(r"_x([0-9A-Fa-f]{4})_")
#: Dtypes an unknown column is read back in when the About sheet records one; anything else (``object``
#: included: unknown fields are not lists) is kept as the cell values.
_TYPED: Final = frozenset({STRING, BOOLEAN, INT64, FLOAT64, DATETIME_UTC})
_HEADER_ZONE: Final = re.compile(r"^(?P<name>.*) \((?P<zone>[^()]+)\)$")


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
