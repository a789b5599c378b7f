"""Event records -> typed pandas DataFrames (no HTTP, no files).

The JSON event objects of the Events API (``EventViewModel``) become a DataFrame whose columns and
dtypes do not depend on the data:

- :mod:`.schema`: the declared columns, their dtypes and the rules for missing, nested, list and
  unknown fields;
- :mod:`.datetimes`: every wire datetime form -> ``datetime64[ns, UTC]``;
- :mod:`.values`: scalar converters (a value that does not fit its column becomes NA, counted);
- :mod:`.columns`: a batch of records -> raw values column by column (flattening, unknown fields);
- :mod:`.build`: :class:`FrameBuilder` (batch by batch) and :func:`events_frame`.

Attributes
----------
Frames made here carry exactly two ``attrs`` keys of their own: ``"engagifii_coerced"`` and
``"engagifii_naive_datetimes"`` (both always present, possibly empty dicts). Which values have no
known time zone is in a column, ``naiveDateTimes`` (see "Unknown time zones" in :mod:`.schema`), not
in ``attrs``: a column follows the rows through filters, sorts and ``concat``. The report writers
(:mod:`engagifii_data.reports`) never modify or drop a frame's ``attrs``.
"""

from __future__ import annotations

from typing import Any

from .build import FrameBuilder, empty_events_frame, events_frame
from .schema import (
    COERCED_ATTR,
    DATETIME_COLUMNS,
    EVENT_COLUMNS,
    LIST_COLUMNS,
    NAIVE_COLUMN,
    NAIVE_DATETIMES_ATTR,
)

__all__ = [
    "COERCED_ATTR",
    "DATETIME_COLUMNS",
    "EVENT_COLUMNS",
    "LIST_COLUMNS",
    "NAIVE_COLUMN",
    "NAIVE_DATETIMES_ATTR",
    "FrameBuilder",
    "empty_events_frame",
    "events_frame",
]

#: Names that lived here before the report writers moved to :mod:`engagifii_data.reports`.
_MOVED_TO_REPORTS = frozenset({"DATETIME_FORMAT", "export_csv", "export_parquet"})


def __getattr__(name: str) -> Any:
    # reports import frames, so frames can only reach them lazily
    if name in _MOVED_TO_REPORTS:
        from .. import reports

        return getattr(reports, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
