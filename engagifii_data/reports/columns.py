"""Which columns a report holds, and which of its datetime cells are wall-clock times of no known zone."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import caller_stacklevel
from ..frames.schema import EVENT_COLUMNS, NAIVE_COLUMN, NAIVE_DATETIMES_ATTR, TENANT_COLUMN

#: The ``columns=`` choices of every writer.
COLUMN_CHOICES: tuple[str, ...] = ("all", "declared")


def declared_columns(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with only its leading ``tenant`` column (if any) and the declared columns, in order.

    The header of such a report never changes from run to run, whatever fields the API adds
    (``--columns declared`` in the CLI). ``attrs`` are kept.
    """
    keep = [c for c in (TENANT_COLUMN, *EVENT_COLUMNS) if c in df.columns]
    out = df.loc[:, keep]
    out.attrs = dict(df.attrs)
    return out


def select_columns(df: pd.DataFrame, columns: str) -> pd.DataFrame:
    """``df`` as a report with ``columns`` (``"all"``: unchanged; ``"declared"``: :func:`declared_columns`).

    Raises
    ------
    ValueError
        Another ``columns`` value.
    """
    if columns not in COLUMN_CHOICES:
        raise ValueError(f"columns must be 'all' or 'declared', got {columns!r}")
    return declared_columns(df) if columns == "declared" else df


def wall_clock_rows(df: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per datetime column named in ``df``'s ``naiveDateTimes`` cells: a boolean mask of those rows.

    Those values are wall-clock times in an unknown zone (see "Unknown time zones" in
    :mod:`engagifii_data.frames.schema`): a writer must not present them as UTC. A frame without the
    column (or a cell that is not a list) marks nothing; if its ``attrs`` say such values exist, a
    ``UserWarning`` says they are written as UTC.
    """
    if NAIVE_COLUMN not in df.columns:
        counts = df.attrs.get(NAIVE_DATETIMES_ATTR)
        if isinstance(counts, dict) and any(counts.values()):
            detail = ", ".join(f"{c} {n:,}" for c, n in sorted(counts.items()) if n)
            warnings.warn(
                f"this frame has no naiveDateTimes column, but its walk found datetimes of no known time zone "
                f"({detail}): they are written as UTC; keep the column to write them as wall-clock times",
                stacklevel=caller_stacklevel(),
            )
        return {}
    marks = df[NAIVE_COLUMN]
    if isinstance(marks, pd.DataFrame):  # duplicated column name: the first one is the mark
        marks = marks.iloc[:, 0]
    out: dict[str, np.ndarray] = {}
    for row, cell in enumerate(marks.tolist()):
        for column in _names(cell):
            mask = out.get(column)
            if mask is None:
                mask = out[column] = np.zeros(len(df), dtype=bool)
            mask[row] = True
    return out


def _names(cell: Any) -> Sequence[str]:
    if isinstance(cell, list | tuple | np.ndarray):
        return [str(c) for c in cell if isinstance(c, str)]
    return ()
