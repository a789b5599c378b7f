"""Reports: the walk's record, and CSV / Parquet / Excel writers that never write a partial walk as complete.

- :mod:`.walk_report`: :class:`WalkReport`, the typed view of ``df.attrs["engagifii"]``;
- :mod:`.files`: where a report may be written (one rule) and safe, atomic writes;
- :mod:`.columns`: the fixed header (``columns="declared"``) and the cells whose zone is unknown;
- :mod:`.lists`: list cells as text and back;
- :mod:`.csv_writer`, :mod:`.parquet_writer`, :mod:`.excel_writer`: the report formats;
- :mod:`.reader`: :func:`read_report`, any of them back into a typed frame (the format, CSV, Parquet);
  :mod:`.excel_reader` reads Excel, :mod:`.cells` types the cells back;
- :func:`write_report`: the format chosen by name or extension (the CLI and the explorer use it).

The Excel engine (``xlsxwriter``, ``openpyxl``: the ``excel`` extra) is imported only when an Excel
file is written or read.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from .columns import declared_columns
from .csv_writer import DATETIME_FORMAT, NAIVE_DATETIME_FORMAT, export_csv
from .excel_writer import export_excel
from .files import FORMATS, check_writable, report_format
from .parquet_writer import export_parquet
from .reader import read_report
from .walk_report import WalkReport

__all__ = [
    "DATETIME_FORMAT",
    "FORMATS",
    "NAIVE_DATETIME_FORMAT",
    "WalkReport",
    "check_writable",
    "declared_columns",
    "export_csv",
    "export_excel",
    "export_parquet",
    "read_report",
    "report_format",
    "write_report",
]


def write_report(
    df: pd.DataFrame,
    path: str | os.PathLike[str],
    fmt: str | None = None,
    *,
    columns: str = "all",
    allow_incomplete: bool = False,
    **options: Any,
) -> Path:
    """Write ``df`` in the format its path names (or ``fmt``): the one dispatcher of report formats.

    Parameters
    ----------
    df : pandas.DataFrame
        Usually from ``events()``.
    path : path
        Destination (``.csv``, ``.parquet``/``.pq``, ``.xlsx``; anything else CSV).
    fmt : {"csv", "parquet", "xlsx"}, optional
        Overrides the extension.
    columns : {"all", "declared"}
        ``"declared"`` writes a fixed header (:func:`declared_columns`).
    allow_incomplete : bool
        Write a partial walk anyway (default False: refused).
    **options
        Passed to the writer (e.g. ``neutralize_formulas`` for CSV, ``timezone`` for Excel).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ReportError
        A partial walk (unless ``allow_incomplete``).
    ReportNotWritable
        The file cannot be written.
    ImportError
        Excel without its engine (the message names the ``pip install`` to run).
    """
    fmt, _ = report_format(path, fmt)
    if fmt == "parquet":
        return export_parquet(df, path, allow_incomplete=allow_incomplete, columns=columns)
    if fmt == "xlsx":
        excel_options = {k: v for k, v in options.items() if k != "neutralize_formulas"}  # cells are never formulas
        return export_excel(df, path, allow_incomplete=allow_incomplete, columns=columns, **excel_options)
    return export_csv(df, path, allow_incomplete=allow_incomplete, columns=columns, **options)
