"""Event records -> typed DataFrame batches -> one frame (:class:`FrameBuilder`, :func:`events_frame`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import repeat
from typing import Any, Final

import pandas as pd
import pyarrow as pa

from .datetimes import read_datetime_columns
from .schema import (
    BOOLEAN,
    COERCED_ATTR,
    DATETIME_COLUMNS,
    DATETIME_UTC,
    EVENT_COLUMNS,
    FLOAT64,
    INT64,
    NAIVE_COLUMN,
    NAIVE_DATETIMES_ATTR,
    OBJECT,
    OBJECT_PREFIXES,
    STRING,
    STRING_DTYPE,
    TENANT_COLUMN,
    TZ_COLUMN,
    WIRE_COLUMNS,
)
from .values import convert, object_array

#: FrameBuilder merges every this many batch frames into one (bounded per-frame overhead).
_MERGE_EVERY: Final = 16
# --------------------------------------------------------------------------------------------------
# Flattening
# --------------------------------------------------------------------------------------------------


_PLAIN: Final = frozenset({str, int, float, bool, list, type(None)})  # JSON types that are not objects
_DICT_OR_NONE: Final = frozenset({dict, type(None)})


def _flatten_into(out: dict[str, Any], obj: Mapping[str, Any], prefix: str) -> None:
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if type(value) is dict or (type(value) not in _PLAIN and isinstance(value, Mapping)):
            _flatten_into(out, value, f"{name}.")
        elif value is None and not prefix and name in OBJECT_PREFIXES:
            continue  # "location": null -> every location.* stays NA
        else:
            out[name] = value


def _flatten(record: Mapping[str, Any], index: int) -> dict[str, Any]:
    if not isinstance(record, Mapping):
        raise TypeError(f"event record #{index} is {type(record).__name__}, expected a JSON object (dict)")
    out: dict[str, Any] = {}
    _flatten_into(out, record, "")
    return out


#: Declared wire columns that are top-level fields, and declared object fields -> their sub-fields.
_TOP_LEAVES: Final[tuple[str, ...]] = tuple(c for c in WIRE_COLUMNS if "." not in c)
_NESTED: Final[dict[str, tuple[str, ...]]] = {
    prefix: tuple(c.split(".", 1)[1] for c in EVENT_COLUMNS if c.startswith(f"{prefix}."))
    for prefix in dict.fromkeys(c.split(".", 1)[0] for c in EVENT_COLUMNS if "." in c)
}
_NESTED_KEYS: Final[dict[str, frozenset[str]]] = {prefix: frozenset(subs) for prefix, subs in _NESTED.items()}
_TOP_KEYS: Final[frozenset[str]] = frozenset(_TOP_LEAVES) | OBJECT_PREFIXES


def _columns(records: Sequence[Any]) -> tuple[dict[str, list[Any]], dict[str, None]] | None:
    """Column-wise raw values of a batch and its unknown columns, or None for per-record flattening.

    The fast path of :meth:`FrameBuilder.add`: it applies when every record is a plain ``dict``, every
    declared object field is a ``dict`` with only declared sub-fields (or null/missing), and every value
    is a plain JSON scalar or list (unknown top-level fields included) -- batches that :func:`_flatten`
    would not reshape. The result is then what flattening gives: ``{column: values}`` for the declared
    columns and the unknown ones, and the unknown column names in order of first appearance.
    """
    for record in records:
        if type(record) is not dict:
            return None
    plain = _PLAIN.issuperset
    get: Callable[[dict[str, Any], str], Any] = dict.get
    columns: dict[str, list[Any]] = {}
    extra: dict[str, None] = {}
    if not _TOP_KEYS.issuperset(set().union(*records)):
        for record in records:
            for key in record:
                if key not in _TOP_KEYS:
                    extra.setdefault(key, None)
        if not extra.keys().isdisjoint(EVENT_COLUMNS):
            return None  # a top-level "location.city" or "naiveDateTimes" key: let flattening decide
        for key in extra:
            values = [r.get(key) for r in records]
            if not plain(map(type, values)):
                return None
            columns[key] = values
    for column in _TOP_LEAVES:
        values = list(map(get, records, repeat(column)))
        if not plain(map(type, values)):
            return None
        columns[column] = values
    empty: dict[str, Any] = {}
    for prefix, subs in _NESTED.items():
        objects = list(map(get, records, repeat(prefix)))
        if not _DICT_OR_NONE.issuperset(map(type, objects)):
            return None
        objects = [empty if o is None else o for o in objects]  # a null object: every sub-field NA
        if not _NESTED_KEYS[prefix].issuperset(set().union(*objects)):
            return None
        for sub in subs:
            values = list(map(get, objects, repeat(sub)))
            if not plain(map(type, values)):
                return None
            columns[f"{prefix}.{sub}"] = values
    return columns, extra


# --------------------------------------------------------------------------------------------------
# Building frames
# --------------------------------------------------------------------------------------------------


def _arrow_strings(values: list[Any]) -> Any:
    """A ``string`` array built by Arrow in one C-level pass, or None when a value is not ``str``/None.

    Equal to ``pd.array(values, dtype="string")`` for such values; anything else (numbers, booleans,
    NaN, lone surrogates) returns None so the caller takes the converting path.
    """
    if STRING_DTYPE.storage != "pyarrow":
        return None
    try:
        return pd.arrays.ArrowStringArray(pa.array(values, type=pa.large_string()))
    except (pa.ArrowException, TypeError, ValueError, UnicodeError):
        return None


#: Arrow types of the masked numeric dtypes, for :func:`_typed_array`.
_ARROW_TYPES: Final[dict[str, pa.DataType]] = {INT64: pa.int64(), FLOAT64: pa.float64(), BOOLEAN: pa.bool_()}


def _typed_array(values: list[Any], dtype: str) -> Any:
    """The pandas array of converted ``values`` (None for NA) in the column's declared ``dtype``.

    Numeric and boolean columns go through Arrow (one C-level pass, NaN as NA like ``pd.array``)
    and the dtype's ``__from_arrow__``, about 3x faster than ``pd.array`` on a list.
    """
    if dtype == STRING:
        return pd.array(values, dtype=STRING_DTYPE)
    if dtype == OBJECT:
        return object_array(values)
    extension_dtype: Any = pd.api.types.pandas_dtype(dtype)
    arrow_type = _ARROW_TYPES.get(dtype)
    if arrow_type is not None:
        try:
            return extension_dtype.__from_arrow__(pa.array(values, type=arrow_type, from_pandas=True))
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            pass
    return pd.array(values, dtype=extension_dtype)


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
    data: dict[str, Any] = {}
    if tenant is not None:
        data[TENANT_COLUMN] = pd.array([], dtype=STRING_DTYPE)
    for column, dtype in EVENT_COLUMNS.items():
        data[column] = _typed_array([], dtype)
    df = pd.DataFrame(data, index=pd.RangeIndex(0))
    _reset_attrs(df, {}, {})
    return df


class FrameBuilder:
    """Incremental events frame: convert page by page, concatenate once at the end.

    Each :meth:`add` converts its batch to a typed frame immediately and keeps only that frame (the raw
    records can be dropped by the caller), so memory stays bounded by the typed data. :meth:`build`
    gives exactly what :func:`events_frame` gives for all records in the same order.

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
        self._extra: dict[str, None] = {}  # unknown columns, in order of first appearance
        self._coerced: dict[str, int] = {}
        self._naive: dict[str, int] = {}
        self._rows = 0
        self._unmerged = 0  # frames at the end of ``_frames`` not merged yet

    @property
    def rows(self) -> int:
        """Number of rows added so far (int, >= 0)."""
        return self._rows

    def add(self, records: Sequence[Mapping[str, Any]]) -> int:
        """Convert one batch (e.g. one API page) to a typed frame and keep it.

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
        fast = _columns(records)
        if fast is not None:
            columns, extra = fast
        else:  # nested unknown objects or unusual values: flatten record by record
            extra = {}
            flat = [_flatten(r, self._rows + i) for i, r in enumerate(records)]
            for row in flat:
                for key in row:
                    if key not in WIRE_COLUMNS:
                        extra.setdefault(key, None)
            columns = {key: [row.get(key) for row in flat] for key in (*WIRE_COLUMNS, *extra)}
        raw_column = columns.__getitem__
        data: dict[str, Any] = {}
        if self._tenant is not None:
            data[TENANT_COLUMN] = pd.array([self._tenant] * n, dtype=STRING_DTYPE)
        for column, dtype in EVENT_COLUMNS.items():
            if column == NAIVE_COLUMN:
                data[column] = None  # placeholder: made from the datetime columns below
                continue
            bad = 0
            if dtype == DATETIME_UTC:
                data[column] = None  # placeholder: keeps the column order; filled below
                self._coerced.setdefault(column, 0)
                continue
            raw = raw_column(column)
            if dtype == STRING and (strings := _arrow_strings(raw)) is not None:
                data[column] = strings
            else:
                converted, bad = convert(raw, dtype, copy=self._copy)
                data[column] = _typed_array(converted, dtype)
            self._coerced[column] = self._coerced.get(column, 0) + bad
        reads = read_datetime_columns([raw_column(c) for c in DATETIME_COLUMNS], raw_column(TZ_COLUMN))
        marks: list[Any] = [None] * n  # per row: its datetime columns of no known zone, or None
        for column, (values, unknown, bad) in zip(DATETIME_COLUMNS, reads, strict=True):
            instants: Any = pd.array(values)  # a DatetimeArray (M8[ns] input)
            data[column] = instants.tz_localize("UTC")
            self._coerced[column] = self._coerced.get(column, 0) + bad
            self._naive[column] = self._naive.get(column, 0) + len(unknown)
            for row in unknown.tolist():
                if marks[row] is None:
                    marks[row] = [column]
                else:
                    marks[row].append(column)
        data[NAIVE_COLUMN] = object_array(marks)
        for key in extra:
            renamed = key == NAIVE_COLUMN or (key == TENANT_COLUMN and self._tenant is not None)
            name = f"record.{key}" if renamed else key
            data[name] = object_array(raw_column(key))
            self._extra.setdefault(name, None)
        self._frames.append(pd.DataFrame(data, index=pd.RangeIndex(n)))
        self._rows += n
        self._unmerged += 1
        if self._unmerged >= _MERGE_EVERY:
            # many small frames cost more memory in pandas' per-frame structures than in data
            self._frames[-self._unmerged :] = [self._concat(self._frames[-self._unmerged :])]
            self._unmerged = 0
        return n

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
