"""Text that is not valid Unicode: one repair, used wherever such text could enter or leave.

A lone surrogate (``"\\ud800"``: half of a UTF-16 pair, which JSON's ``\\uXXXX`` escapes and Python
strings can hold) cannot be encoded as UTF-8, so Arrow, Parquet, Excel and CSV refuse it. The client
repairs answers as they are decoded (:mod:`engagifii_data.responses.decoding`); the frame builder and
every report writer repair what reaches them some other way (``events_frame`` of records a user
built, a frame edited by hand) only when encoding fails, so valid text costs nothing. The repair
is always the same: each lone surrogate becomes U+FFFD (the replacement character), and is counted.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from typing import Any, Final, TypeVar

import pandas as pd

from .exceptions import caller_stacklevel

__all__ = ["REPLACEMENT", "repair_frame", "repair_text", "with_valid_text"]

_T = TypeVar("_T")

#: What a lone surrogate becomes.
REPLACEMENT: Final = "\ufffd"
_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def repair_text(value: Any) -> tuple[Any, int]:
    """``value`` with every lone surrogate in its strings replaced by U+FFFD, and how many there were.

    Parameters
    ----------
    value : Any
        A string, or a list/tuple/dict holding strings at any depth (dict keys included); anything
        else is returned as it is.

    Returns
    -------
    (Any, int)
        The repaired value (the same object when nothing was repaired) and the number of replacements.
    """
    if isinstance(value, str):
        if value.isascii():
            return value, 0
        fixed, n = _SURROGATE.subn(REPLACEMENT, value)
        return (fixed, n) if n else (value, 0)
    if isinstance(value, list | tuple):
        total = 0
        items = []
        for item in value:
            fixed, n = repair_text(item)
            items.append(fixed)
            total += n
        return (type(value)(items) if total else value), total
    if isinstance(value, dict):
        total = 0
        out = {}
        for key, item in value.items():
            fixed_key, k = repair_text(key)
            fixed, n = repair_text(item)
            out[fixed_key] = fixed
            total += k + n
        return (out if total else value), total
    return value, 0


def repair_frame(df: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """``df`` with every lone surrogate in its text replaced by U+FFFD, and how many there were.

    Looks at the column names, the cells of ``object`` and ``string`` columns (lists and dicts in
    cells included) and ``attrs``. Returns ``df`` itself when nothing needed repair, else a copy
    (dtypes, index and repaired ``attrs`` kept).
    """
    total = 0
    columns: dict[int, Any] = {}
    for i in range(df.shape[1]):
        series = df.iloc[:, i]
        if series.dtype == object or isinstance(series.dtype, pd.StringDtype):
            values, n = repair_text(series.tolist())
            if n:
                columns[i] = pd.array(values, dtype=series.dtype) if series.dtype != object else _objects(values)
                total += n
    names, n_names = repair_text([str(c) if isinstance(c, str) else c for c in df.columns])
    attrs, n_attrs = repair_text(dict(df.attrs))
    total += n_names + n_attrs
    if not total:
        return df, 0
    out = df.copy()
    for i, values in columns.items():
        out.isetitem(i, values)
    out.columns = pd.Index(names)
    out.attrs = attrs
    return out, total


def with_valid_text(write: Callable[[pd.DataFrame], _T], df: pd.DataFrame) -> _T:
    """``write(df)``; if it fails on text that is not valid Unicode, ``write`` of the repaired frame.

    The writers of Parquet and Excel reports call this: a frame holds a lone surrogate only when it
    was built or edited by hand, so the repair (:func:`repair_frame`) runs only after a failure, and
    ``write`` must leave nothing behind when it fails (``atomic_write`` does not).

    Warns
    -----
    UserWarning
        How many texts were repaired.
    """
    try:
        return write(df)
    except UnicodeEncodeError:
        repaired, n = repair_frame(df)
        if not n:
            raise
    warnings.warn(
        f"{n:,} text{'s were' if n != 1 else ' was'} not valid Unicode (a lone surrogate) and "
        f"{'are' if n != 1 else 'is'} written as U+FFFD",
        stacklevel=caller_stacklevel(),
    )
    return write(repaired)


def _objects(values: list[Any]) -> Any:
    import numpy as np

    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array
