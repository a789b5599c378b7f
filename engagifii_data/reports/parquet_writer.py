"""Parquet reports (pyarrow)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..exceptions import ReportError
from ..frames.schema import LIST_COLUMNS, STRING_DTYPE, STRING_LIST_COLUMNS
from ..frames.values import is_missing, json_text, object_array
from ..text import with_valid_text
from .columns import select_columns, wall_clock_rows
from .files import atomic_write
from .lists import plain
from .walk_report import refuse_incomplete

# --------------------------------------------------------------------------------------------------
# Parquet
# --------------------------------------------------------------------------------------------------


#: Schema metadata key: how each column was stored, so :func:`~engagifii_data.reports.read_report`
#: restores it exactly. A JSON list, in column order, of ``{"name", "dtype", "storage"}``: ``dtype`` the
#: frame's dtype, ``storage`` ``"value"`` (as is), ``"list"`` (``list<string>``) or ``"json"`` (compact
#: JSON text per cell).
COLUMNS_METADATA_KEY = b"engagifii_columns"
#: Schema metadata key pandas itself uses for ``df.attrs`` (read back by :func:`pandas.read_parquet`).
ATTRS_METADATA_KEY = b"PANDAS_ATTRS"

_INT64_RANGE = range(-(2**63), 2**63)


def _json_or_none(value: Any) -> Any:
    if isinstance(value, list | tuple | Mapping | np.ndarray):
        return json_text(plain(value))
    return None if is_missing(value) else json_text(value)


def _is_text_list(value: Any) -> bool:
    if isinstance(value, list | tuple | np.ndarray):
        return all(v is None or type(v) is str for v in (value.tolist() if isinstance(value, np.ndarray) else value))
    return is_missing(value)


def _scalar_array(values: list[Any]) -> Any:
    """The values as one typed array when they are all texts, booleans, integers or floats (or NA)."""
    present = [v for v in values if not is_missing(v)]
    kinds = {type(v) for v in present}
    if not present:
        return pd.array([None] * len(values), dtype=STRING_DTYPE)
    if kinds == {str}:
        return pd.array([None if is_missing(v) else v for v in values], dtype=STRING_DTYPE)
    if kinds == {bool}:
        return pd.array([None if is_missing(v) else v for v in values], dtype="boolean")
    if kinds == {int} and all(v in _INT64_RANGE for v in present):
        return pd.array([None if is_missing(v) else v for v in values], dtype="Int64")
    if kinds == {float}:
        return pd.array([None if is_missing(v) else v for v in values], dtype="Float64")
    return None


def export_parquet(
    df: pd.DataFrame, path: str | os.PathLike[str], *, allow_incomplete: bool = False, columns: str = "all"
) -> Path:
    """Write ``df`` to a Parquet file (pyarrow), atomically.

    Storage, chosen so that :func:`pandas.read_parquet` reads it back without error and with the same
    dtypes for the scalar columns (``string``, ``boolean``, ``Int64``, ``Float64``,
    ``datetime64[ns, UTC]``, through the pandas metadata pyarrow stores), and so that
    :func:`~engagifii_data.reports.read_report` restores every column exactly:

    * ``tags``, ``eventClasses``, ``eventBundles``, ``naiveDateTimes`` -> ``list<string>`` (read back by
      pandas as an ``object`` column of numpy arrays; ``list(cell)`` gives the list back), or compact
      JSON text of the whole list when a cell holds anything but texts.
    * ``eventDates``, ``contacts.*``, ``registrationWorkflows`` (objects of no published shape) -> compact
      JSON text of the whole list (``string``; ``json.loads`` restores it). NA stays null.
    * Other ``object`` columns (unknown fields): a column whose values are all texts, all booleans,
      all integers or all floats (or NA) -> that type (``string``, ``boolean``, ``Int64``,
      ``Float64``); anything else (mixed types, lists, objects) -> compact JSON text per cell.
    * How each column was stored is kept in the schema metadata (:data:`COLUMNS_METADATA_KEY`).
    * ``df.attrs`` are stored (as pandas does, JSON under ``PANDAS_ATTRS``; non-JSON values as text) and
      restored by :func:`pandas.read_parquet`. The index is not written.

    Parameters
    ----------
    df : pandas.DataFrame
        Any frame; usually from :func:`events_frame`. Not modified.
    path : str or os.PathLike
        Destination. Parent directories are created. An existing file is replaced only on success
        (a symbolic link keeps the link; a device or pipe such as ``/dev/stdout`` is written into).
    allow_incomplete : bool, default False
        Write a frame marked ``attrs["engagifii"]["complete"] = False`` (a partial walk) anyway.
    columns : {"all", "declared"}, default "all"
        ``"declared"``: only the leading ``tenant`` column and the declared columns.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    ValueError
        ``df`` is a partial walk result and ``allow_incomplete`` is False, or it repeats a column name
        (:class:`~engagifii_data.exceptions.ReportError`); or ``columns`` is unknown.
    OSError
        The file could not be written; the temp file is removed and any previous file is untouched.
    """
    refuse_incomplete(df, allow_incomplete)
    df = select_columns(df, columns)
    wall_clock_rows(df)  # Parquet keeps the mark as a column; this only warns when it was dropped
    return with_valid_text(lambda frame: _write_parquet(frame, path), df)


def _write_parquet(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    names = [str(c) for c in df.columns]
    if len(set(names)) < len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise ReportError(f"Parquet needs unique column names; this frame repeats {', '.join(twice)}")
    data: dict[str, Any] = {}
    string_lists: list[str] = []
    stored: list[dict[str, str]] = []
    for i, column in enumerate(df.columns):
        series = df.iloc[:, i]
        name = str(column)
        storage = "value"
        if series.dtype != object:
            data[name] = series.reset_index(drop=True)
        else:
            values = series.tolist()
            typed = None if name in LIST_COLUMNS else _scalar_array(values)
            if typed is not None:
                data[name] = typed
            elif name in STRING_LIST_COLUMNS and all(map(_is_text_list, values)):
                data[name] = object_array([None if is_missing(v) else list(v) for v in values])
                string_lists.append(name)
                storage = "list"
            else:
                data[name] = pd.array([_json_or_none(v) for v in values], dtype=STRING_DTYPE)
                storage = "json"
        stored.append({"name": name, "dtype": str(series.dtype), "storage": storage})
    frame = pd.DataFrame(data, index=pd.RangeIndex(len(df)))
    schema = pa.Schema.from_pandas(frame, preserve_index=False)
    for name in string_lists:
        schema = schema.set(schema.get_field_index(name), pa.field(name, pa.list_(pa.string())))
    table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
    metadata = dict(table.schema.metadata or {})
    metadata[COLUMNS_METADATA_KEY] = json.dumps(stored).encode()
    if df.attrs:
        metadata[ATTRS_METADATA_KEY] = json.dumps(df.attrs, default=str).encode()
    table = table.replace_schema_metadata(metadata)

    def write(fh: IO[bytes]) -> None:
        pq.write_table(table, fh)

    return atomic_write(path, write)
