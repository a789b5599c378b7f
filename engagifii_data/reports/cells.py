"""Typing a report's cells back: each column in its declared dtype, datetimes and their zones, the frame."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import caller_stacklevel
from ..frames.datetimes import read_datetimes
from ..frames.schema import EVENT_COLUMNS, NAIVE_COLUMN, OBJECT, STRING, STRING_DTYPE, TENANT_COLUMN
from ..frames.tables import CONTACT_COLUMNS, SESSION_COLUMNS
from ..frames.values import convert, object_array, to_text
from .lists import parse_list


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
