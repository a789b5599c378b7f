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

from ..frames.schema import LIST_COLUMNS, STRING_DTYPE, STRING_LIST_COLUMNS
from ..frames.values import is_missing, json_text, object_array, to_text
from .files import atomic_write
from .walk_report import refuse_incomplete

# --------------------------------------------------------------------------------------------------
# Parquet
# --------------------------------------------------------------------------------------------------


def _json_or_none(value: Any) -> Any:
    if isinstance(value, list | tuple | Mapping | np.ndarray):
        return json_text(value.tolist() if isinstance(value, np.ndarray) else value)
    return None if is_missing(value) else json_text(value)


def _string_list(value: Any) -> Any:
    if isinstance(value, list | tuple | np.ndarray):
        return [None if is_missing(v) else (v if isinstance(v, str) else json_text(v)) for v in value]
    return None if is_missing(value) else [to_text(value)]


def export_parquet(df: pd.DataFrame, path: str | os.PathLike[str], *, allow_incomplete: bool = False) -> Path:
    """Write ``df`` to a Parquet file (pyarrow), atomically.

    Storage, chosen so that :func:`pandas.read_parquet` reads it back without error and with the same
    dtypes for the scalar columns (``string``, ``boolean``, ``Int64``, ``Float64``,
    ``datetime64[ns, UTC]``, through the pandas metadata pyarrow stores):

    * ``tags``, ``eventClasses``, ``eventBundles`` -> ``list<string>`` (read back as an ``object`` column
      of numpy arrays; ``list(cell)`` gives the list back).
    * ``eventDates``, ``contacts.*``, ``registrationWorkflows`` (objects of no published shape) -> compact
      JSON text of the whole list (``string``; ``json.loads`` restores it). NA stays null.
    * Other ``object`` columns (unknown fields) -> whatever pyarrow infers; if it cannot (mixed types),
      compact JSON text per cell.
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

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    ValueError
        ``df`` is a partial walk result and ``allow_incomplete`` is False.
    OSError
        The file could not be written; the temp file is removed and any previous file is untouched.
    """
    refuse_incomplete(df, allow_incomplete)
    data: dict[str, Any] = {}
    string_lists: list[str] = []
    for i, column in enumerate(df.columns):
        series = df.iloc[:, i]
        name = str(column)
        if series.dtype != object:
            data[name] = series.reset_index(drop=True)
            continue
        values = series.tolist()
        if name in STRING_LIST_COLUMNS:
            data[name] = object_array([_string_list(v) for v in values])
            string_lists.append(name)
            continue
        as_json = name in LIST_COLUMNS
        if not as_json:
            try:
                inferred = pa.array(values, from_pandas=True)
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
                as_json = True
            else:
                if pa.types.is_null(inferred.type):
                    data[name] = pd.array([None] * len(values), dtype=STRING_DTYPE)
                    continue
        if as_json:
            data[name] = pd.array([_json_or_none(v) for v in values], dtype=STRING_DTYPE)
        else:
            data[name] = object_array(values)
    frame = pd.DataFrame(data, index=pd.RangeIndex(len(df)))
    schema = pa.Schema.from_pandas(frame, preserve_index=False)
    for name in string_lists:
        schema = schema.set(schema.get_field_index(name), pa.field(name, pa.list_(pa.string())))
    table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
    if df.attrs:
        metadata = dict(table.schema.metadata or {})
        metadata[b"PANDAS_ATTRS"] = json.dumps(df.attrs, default=str).encode()
        table = table.replace_schema_metadata(metadata)

    def write(fh: IO[bytes]) -> None:
        pq.write_table(table, fh)

    return atomic_write(path, write)
