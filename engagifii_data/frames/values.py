"""Scalar converters: one wire value -> the value of a declared dtype, or ``BAD`` (coerced to NA).

:func:`convert` converts a column value by value (not at all when every value already has the wire
type); :func:`arrow_column` makes the Arrow array of a text, flag, count or money column, letting Arrow
check the types where it is as strict as :func:`convert`; :func:`from_arrow` and :func:`object_array`
make the pandas arrays.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa

from .schema import BOOLEAN, FLOAT64, INT64, OBJECT, STRING, STRING_DTYPE

BAD: Final = object()  # sentinel: "this value does not fit the column"
# --------------------------------------------------------------------------------------------------
# Scalar converters (fast path when every value already has the wire type)
# --------------------------------------------------------------------------------------------------


_LIST_OR_NONE: Final = frozenset({list, type(None)})


def is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def to_text(value: Any) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal | np.number):
        return str(value)
    if isinstance(value, list | tuple | dict):
        return json_text(value)
    return str(value)


def _to_bool(value: Any) -> Any:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
        return BAD
    if isinstance(value, int | np.integer) and value in (0, 1):
        return bool(value)
    return BAD


def _to_int(value: Any) -> Any:
    if isinstance(value, bool | np.bool_):
        return BAD
    if isinstance(value, int | np.integer):
        number = int(value)
    elif isinstance(value, float | Decimal | np.floating):
        if not math.isfinite(value) or value != int(value):
            return BAD
        number = int(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            number = int(text)
        except ValueError:
            try:
                as_float = float(text)
            except ValueError:
                return BAD
            if not math.isfinite(as_float) or as_float != int(as_float):
                return BAD
            number = int(as_float)
    else:
        return BAD
    if not -(2**63) <= number < 2**63:
        return BAD
    return number


def _to_float(value: Any) -> Any:
    if isinstance(value, bool | np.bool_):
        return BAD
    if isinstance(value, int | float | Decimal | np.number):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return BAD
    return BAD


def to_list(value: Any) -> tuple[list[Any] | None, bool]:
    """A value where a list is declared -> (the list, whether it was coerced); the one rule for lists.

    A list or tuple is a list (a copy); one JSON object is a list of one (servers send a lone item
    unwrapped: not a coercion); a missing value is None; any other value (text, a number) is kept
    readable as a list of one and reported as coerced.
    """
    if is_missing(value):
        return None, False
    if isinstance(value, list | tuple):
        return list(value), False
    if isinstance(value, Mapping):
        return [dict(value)], False
    if isinstance(value, np.ndarray):  # Parquet's list<...> read back by pandas
        return value.tolist(), False
    return [value], True


def _to_list(value: Any) -> Any:
    return to_list(value)[0]


_CONVERTERS: Final[dict[str, tuple[Callable[[Any], Any], tuple[type, ...]]]] = {
    # dtype -> (converter, types that need no conversion)
    STRING: (to_text, (str,)),
    BOOLEAN: (_to_bool, (bool,)),
    INT64: (_to_int, (int,)),
    FLOAT64: (_to_float, (float, int)),
    OBJECT: (_to_list, ()),
}


#: dtype -> the exact value types that need no conversion, and None.
_READY_OR_NONE: Final[dict[str, frozenset[type]]] = {
    dtype: frozenset({*ready, type(None)}) for dtype, (_, ready) in _CONVERTERS.items()
}


def convert(values: list[Any], dtype: str, *, copy: bool = True) -> tuple[list[Any], int]:
    """Convert one column's raw values; returns (values with None for NA, number coerced).

    ``copy=False`` keeps wire lists as they are instead of copying them (the caller owns the records).
    """
    converter, ready = _CONVERTERS[dtype]
    if dtype == OBJECT and _LIST_OR_NONE.issuperset(map(type, values)):
        return ([None if v is None else v.copy() for v in values] if copy else values), 0
    if dtype == OBJECT:
        lists = [to_list(v) for v in values]
        return [v for v, _ in lists], sum(coerced for _, coerced in lists)
    if ready and _READY_OR_NONE[dtype].issuperset(map(type, values)):
        if dtype == INT64 and not all(v is None or -(2**63) <= v < 2**63 for v in values):
            pass  # an int64 overflow: take the slow path below
        else:
            return values, 0
    out: list[Any] = []
    bad = 0
    for value in values:
        if is_missing(value):
            out.append(None)
            continue
        converted = converter(value)
        if converted is BAD:
            bad += 1
            out.append(None)
        else:
            out.append(converted)
    return out, bad


#: Arrow types of the text, flag, count and money dtypes (what :func:`arrow_column` makes).
ARROW_TYPES: Final[dict[str, pa.DataType]] = {
    STRING: pa.large_string(),
    BOOLEAN: pa.bool_(),
    INT64: pa.int64(),
    FLOAT64: pa.float64(),
}
#: dtypes whose wire values Arrow checks as strictly as :func:`convert` (it truncates a float put in an
#: ``int64`` array and takes ``True`` as ``1.0`` in a ``double`` one).
_ARROW_STRICT: Final = frozenset({STRING, BOOLEAN})


def _arrow_first(values: list[Any], dtype: str) -> bool:
    """Whether Arrow may take ``values`` as they are: it refuses what :func:`convert` would change."""
    return dtype in _ARROW_STRICT or _READY_OR_NONE[dtype].issuperset(map(type, values))


def arrow_column(values: list[Any], dtype: str) -> tuple[pa.Array, int]:
    """One text, flag, count or money column's raw values -> (Arrow array of the dtype, number coerced).

    Arrow builds the array in one C-level pass (NaN as null, like ``pd.array``); the values
    :func:`convert` would change are converted first, so the result never depends on which ran.
    """
    arrow_type = ARROW_TYPES[dtype]
    if _arrow_first(values, dtype):
        try:
            return pa.array(values, type=arrow_type, from_pandas=True), 0
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            pass  # a value to convert (a number in a text column, "true" in a flag, 2**63 in a count)
    converted, bad = convert(values, dtype)
    try:
        return pa.array(converted, type=arrow_type, from_pandas=True), bad
    except pa.ArrowInvalid:
        if dtype != FLOAT64:
            raise
        # an integer beyond 2**53 in a money column: Arrow wants it exact, pd.array rounds it
        return pa.array([None if v is None else float(v) for v in converted], type=arrow_type), bad


def from_arrow(array: pa.Array | pa.ChunkedArray, dtype: str) -> Any:
    """An Arrow array made by :func:`arrow_column` (or chunks of them) -> the pandas array in ``dtype``."""
    target: Any = STRING_DTYPE if dtype == STRING else pd.api.types.pandas_dtype(dtype)
    return target.__from_arrow__(array)


def object_array(values: list[Any]) -> pd.Series:
    """An ``object`` Series holding ``values`` as they are (pandas 3 would infer ``str`` from an array)."""
    array = np.fromiter(values, dtype=object, count=len(values))  # a list value stays one cell
    return pd.Series(array, dtype=object, index=pd.RangeIndex(len(values)), copy=False)
