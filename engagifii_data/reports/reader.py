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

The format is decided here (the caller's word, the file's first bytes, its extension) and CSV and
Parquet are read here; :mod:`.excel_reader` reads Excel, :mod:`.cells` types the cells of every format.
"""

from __future__ import annotations

import codecs
import csv
import json
import os
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from ..exceptions import ReportError
from ..frames.schema import DATETIME_UTC, EVENT_COLUMNS, NAIVE_COLUMN, OBJECT, TENANT_COLUMN
from ..frames.tables import CONTACT_COLUMNS, SESSION_COLUMNS
from ..frames.values import object_array
from .cells import _Coerced, _declared_for, _dtype_of, _finish, _instants, _typed
from .csv_writer import restore_text
from .excel_reader import _read_excel
from .files import FORMATS, FORMATS_BY_SUFFIX
from .parquet_writer import ATTRS_METADATA_KEY, COLUMNS_METADATA_KEY

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
