"""Event records -> typed batches -> one frame (:class:`FrameBuilder`, :func:`events_frame`).

A batch is typed column by column as soon as it is added (:func:`_typed_batch`): text, flag, count and
money columns become Arrow arrays, datetime columns ``M8[ns]`` UTC instants, list columns lists. pandas
sees them only when batches are merged (every :data:`_MERGE_ROWS` rows or :data:`_MERGE_BATCHES` batches,
and in :meth:`FrameBuilder.build`): one DataFrame per merge instead of one per batch.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from itertools import chain, repeat
from typing import Any, Final, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa

from ..exceptions import caller_stacklevel
from ..text import repair_text
from .columns import RawColumns, raw_columns
from .datetimes import read_datetime_columns
from .schema import (
    COERCED_ATTR,
    DATETIME_COLUMNS,
    DATETIME_UTC,
    EVENT_COLUMNS,
    NAIVE_COLUMN,
    NAIVE_DATETIMES_ATTR,
    OBJECT,
    STRING_DTYPE,
    TENANT_COLUMN,
    TZ_COLUMN,
    WIRE_COLUMNS,
)
from .values import ARROW_TYPES, arrow_column, convert, from_arrow, object_array

#: FrameBuilder merges its typed batches into one frame once they hold this many rows, or are this many
#: (a frame per merge costs a few milliseconds; a batch kept costs its per-column objects).
_MERGE_ROWS: Final = 16_384
_MERGE_BATCHES: Final = 256

# --------------------------------------------------------------------------------------------------
# Typed batches
# --------------------------------------------------------------------------------------------------


class _Batch(NamedTuple):
    rows: int
    #: declared column -> Arrow array (text, flags, counts, money), ``M8[ns]`` UTC instants
    #: (datetimes) or list (list columns, ``naiveDateTimes``)
    columns: dict[str, Any]
    extra: dict[str, list[Any]]  # unknown column (renamed when needed) -> raw values
    coerced: dict[str, int]
    naive: dict[str, int]


def _datetime_columns(raw: RawColumns, rows: int, columns: dict[str, Any], coerced: dict[str, int]) -> dict[str, int]:
    """Read the batch's datetime columns into ``columns`` (and its ``naiveDateTimes`` marks); naive counts."""
    reads = read_datetime_columns([raw[c] for c in DATETIME_COLUMNS], raw[TZ_COLUMN])
    marks: list[Any] = [None] * rows  # per row: its datetime columns of no known zone, or None
    naive: dict[str, int] = {}
    for column, read in zip(DATETIME_COLUMNS, reads, strict=True):
        columns[column] = read.values
        coerced[column] = read.coerced
        naive[column] = len(read.unknown)
        for row in read.unknown.tolist():
            if marks[row] is None:
                marks[row] = [column]
            else:
                marks[row].append(column)
    columns[NAIVE_COLUMN] = marks
    return naive


def _typed_batch(raw: RawColumns, extra: Iterable[str], rows: int, *, copy: bool, renamed: set[str]) -> _Batch:
    """One batch's raw columns (:func:`.columns.raw_columns`) -> its typed columns and counts."""
    columns: dict[str, Any] = {}
    coerced: dict[str, int] = {}
    for column, dtype in EVENT_COLUMNS.items():
        if dtype == DATETIME_UTC or column == NAIVE_COLUMN:
            continue
        values = raw[column]
        if isinstance(values, pa.Array):  # text Arrow read from the records
            columns[column], coerced[column] = values, 0
        elif dtype == OBJECT:
            columns[column], coerced[column] = convert(values, OBJECT, copy=copy)
        else:
            columns[column], coerced[column] = arrow_column(values, dtype)
    naive = _datetime_columns(raw, rows, columns, coerced)
    passed = {f"record.{key}" if key in renamed else key: raw[key] for key in extra}
    return _Batch(rows, columns, passed, coerced, naive)


def _pandas_column(pieces: list[Any], dtype: str) -> Any:
    """The batches' pieces of one declared column -> its pandas array in ``dtype``."""
    if dtype == DATETIME_UTC:
        instants: Any = pd.array(np.concatenate(pieces) if len(pieces) > 1 else pieces[0])
        return instants.tz_localize("UTC")
    if dtype == OBJECT:
        return object_array(list(chain.from_iterable(pieces)))
    return from_arrow(pa.chunked_array(pieces, type=ARROW_TYPES[dtype]), dtype)


def _merge(batches: Sequence[_Batch], tenant: str | None, extra: Iterable[str]) -> pd.DataFrame:
    """Typed batches -> one frame: declared columns, then the unknown ones known so far (None where absent)."""
    rows = sum(b.rows for b in batches)
    data: dict[str, Any] = {}
    if tenant is not None:
        data[TENANT_COLUMN] = pd.array([tenant] * rows, dtype=STRING_DTYPE)
    for column, dtype in EVENT_COLUMNS.items():
        data[column] = _pandas_column([b.columns[column] for b in batches], dtype)
    for name in extra:
        data[name] = object_array(list(chain.from_iterable(b.extra.get(name, repeat(None, b.rows)) for b in batches)))
    return pd.DataFrame(data, index=pd.RangeIndex(rows), copy=False)


# --------------------------------------------------------------------------------------------------
# Frames
# --------------------------------------------------------------------------------------------------


def _reset_attrs(df: pd.DataFrame, coerced: Mapping[str, int], naive: Mapping[str, int]) -> None:
    df.attrs.clear()
    df.attrs[COERCED_ATTR] = {k: v for k, v in coerced.items() if v}
    df.attrs[NAIVE_DATETIMES_ATTR] = {k: v for k, v in naive.items() if v}


def _leading(tenant: str | None) -> list[str]:
    return [TENANT_COLUMN] if tenant is not None else []


def empty_events_frame(*, tenant: str | None = None) -> pd.DataFrame:
    """The zero-row events frame: every declared column with its declared dtype.

    Parameters
    ----------
    tenant : str, optional
        When given, a leading ``tenant`` column (``string``) is added. Default ``None``: no such column.

    Returns
    -------
    pandas.DataFrame
        Shape ``(0, len(EVENT_COLUMNS))`` (+1 with ``tenant``), columns in ``EVENT_COLUMNS`` order with
        their dtypes, a ``RangeIndex``, and ``attrs`` ``{"engagifii_coerced": {},
        "engagifii_naive_datetimes": {}}``.
    """
    empty = _typed_batch({c: [] for c in WIRE_COLUMNS}, (), 0, copy=False, renamed=set())
    df = _merge([empty], tenant, ())
    _reset_attrs(df, {}, {})
    return df


class FrameBuilder:
    """Incremental events frame: convert page by page, concatenate once at the end.

    Each :meth:`add` types its batch immediately and keeps only the typed columns (the raw records can
    be dropped by the caller), so memory stays bounded by the typed data. :meth:`build` gives exactly
    what :func:`events_frame` gives for all records in the same order.

    Parameters
    ----------
    tenant : str, optional
        When given, every row gets a leading ``tenant`` column (``string``) with this value.
    copy_lists : bool
        Default True: list cells are copies of the wire lists, so later changes to the records do not
        reach the frame. False keeps the records' own lists (no copy; for a caller that owns the
        decoded JSON and drops it, as the page walk does).

    Examples
    --------
    >>> builder = FrameBuilder(tenant="T1")
    >>> builder.add([{"id": "a"}]), builder.add([{"id": "b", "newField": 1}])
    (1, 1)
    >>> builder.build().shape
    (2, 46)
    """

    def __init__(self, *, tenant: str | None = None, copy_lists: bool = True) -> None:
        self._tenant = tenant
        self._copy = copy_lists
        self._frames: list[pd.DataFrame] = []
        self._batches: list[_Batch] = []  # typed batches not merged into ``_frames`` yet
        self._pending = 0  # their rows
        self._extra: dict[str, None] = {}  # unknown columns, in order of first appearance
        self._coerced: dict[str, int] = dict.fromkeys(WIRE_COLUMNS, 0)
        self._naive: dict[str, int] = dict.fromkeys(DATETIME_COLUMNS, 0)
        # wire fields that would take a column's name: kept as "record.<name>"
        self._renamed = {NAIVE_COLUMN, *_leading(tenant)}
        self._rows = 0

    @property
    def rows(self) -> int:
        """Number of rows added so far (int, >= 0)."""
        return self._rows

    def add(self, records: Sequence[Mapping[str, Any]]) -> int:
        """Convert one batch (e.g. one API page) to typed columns and keep them.

        Parameters
        ----------
        records : sequence of mapping
            Event objects as decoded from JSON (``dict``). Any field may be missing or null.

        Returns
        -------
        int
            The number of rows added (``len(records)``).

        Raises
        ------
        TypeError
            A record is not a mapping (the envelope was misread upstream).
        """
        if not isinstance(records, list | tuple):
            records = list(records)
        n = len(records)
        if n == 0:
            return 0
        try:
            batch = self._typed(records)
        except UnicodeEncodeError:  # a lone surrogate Arrow cannot hold: repaired as the client repairs answers
            records, repaired = repair_text(list(records))
            if not repaired:
                raise
            warnings.warn(
                f"{repaired:,} text{'s were' if repaired != 1 else ' was'} not valid Unicode "
                "(a lone surrogate) and became U+FFFD",
                stacklevel=caller_stacklevel(),
            )
            batch = self._typed(records)
        for counts, total in ((batch.coerced, self._coerced), (batch.naive, self._naive)):
            for column, count in counts.items():
                total[column] += count
        self._extra.update(dict.fromkeys(batch.extra))
        self._batches.append(batch)
        self._rows += n
        self._pending += n
        if self._pending >= _MERGE_ROWS or len(self._batches) >= _MERGE_BATCHES:
            self._merge_batches()
        return n

    def _typed(self, records: Sequence[Any]) -> _Batch:
        raw, extra = raw_columns(records, self._rows)
        for name in extra:  # an unknown field's name becomes a column label, which must be valid text too
            if isinstance(name, str) and not name.isascii():
                name.encode()  # UnicodeEncodeError for a lone surrogate
        return _typed_batch(raw, extra, len(records), copy=self._copy, renamed=self._renamed)

    def _merge_batches(self) -> None:
        # many small batches cost more in per-batch structures than in data: merge them into one frame
        if self._batches:
            self._frames.append(_merge(self._batches, self._tenant, self._extra))
            self._batches = []
            self._pending = 0

    def _concat(self, batches: list[pd.DataFrame]) -> pd.DataFrame:
        columns = [*_leading(self._tenant), *EVENT_COLUMNS, *self._extra]
        frames = []
        for frame in batches:
            missing = [c for c in self._extra if c not in frame.columns]
            if missing:
                frame = frame.assign(**{c: object_array([None] * len(frame)) for c in missing})
            if frame.columns.tolist() != columns:  # reordering costs a copy: only when needed
                frame = frame[columns]
            frames.append(frame)
        return frames[0].copy() if len(frames) == 1 else pd.concat(frames, ignore_index=True)

    def build(self) -> pd.DataFrame:
        """Concatenate the batches in order.

        Returns
        -------
        pandas.DataFrame
            Declared columns (dtypes as ``EVENT_COLUMNS``), then unknown columns (``object``, ``None``
            where a batch lacked them) in order of first appearance; a ``RangeIndex``; ``attrs`` with
            ``engagifii_coerced`` and ``engagifii_naive_datetimes`` summed over all batches. No batches
            -> :func:`empty_events_frame`.
        """
        self._merge_batches()
        if not self._frames:
            return empty_events_frame(tenant=self._tenant)
        df = self._concat(self._frames)
        _reset_attrs(df, self._coerced, self._naive)
        return df


def events_frame(records: Iterable[Mapping[str, Any]], *, tenant: str | None = None) -> pd.DataFrame:
    """Event records -> the typed events DataFrame.

    Parameters
    ----------
    records : iterable of mapping
        Event objects (``EventViewModel``) as decoded from JSON. Consumed once.
    tenant : str, optional
        When given, a leading ``tenant`` column (``string``) holding this value.

    Returns
    -------
    pandas.DataFrame
        Shape ``(n_records, 44 + n_unknown)`` (+1 with ``tenant``): declared columns in
        ``EVENT_COLUMNS`` order and dtypes, then unknown fields as ``object``; a ``RangeIndex``. ``attrs``
        holds ``engagifii_coerced`` and ``engagifii_naive_datetimes`` (see the module docstring).

    Raises
    ------
    TypeError
        A record is not a mapping.
    """
    builder = FrameBuilder(tenant=tenant)
    builder.add(list(records))
    return builder.build()
