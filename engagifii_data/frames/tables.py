"""Child tables of an events frame: one row per session (``eventDates``), one row per contact.

An events frame keeps each event's sessions as a list of raw dicts in one ``eventDates`` cell and its
contacts in ``contacts.regular`` / ``contacts.finance`` / ``contacts.exhibitor`` (the detail answer
carries contacts; the listing does not). :func:`sessions` and :func:`contacts` turn them into tidy
frames with declared columns and dtypes, the same whatever the data, empty results included.

Both take the frame :meth:`EngagifiiClient.events` returns (one tenant, or several with a leading
``tenant`` column, which is carried over) and never change it. Fields not declared below are passed
through after the declared columns, in order of first appearance, as ``object`` columns holding the
raw JSON values (``None`` where absent); one whose name is taken by a declared column gets a
``session.`` / ``contact.`` prefix. The frame's walk report (``attrs["engagifii"]``) is copied, so a
table of a partial walk is never written as complete; ``attrs`` also hold the table's own
``engagifii_coerced`` and ``engagifii_naive_datetimes`` counts.

Sessions (:data:`SESSION_COLUMNS`)
----------------------------------
================  ====================  ===========================================================
column            dtype                 source
================  ====================  ===========================================================
tenant            string                the events frame's ``tenant`` (only when it has one)
eventId           string                the event's ``id``
eventName         string                the event's ``name``
sessionIndex      Int64                 position in the event's ``eventDates`` list, from 0
sessionId         string                session ``id``
sessionName       string                session ``name``
start             datetime64[ns, UTC]   ``sessionStartTime``, the event's ``timeZone`` applied to a
                                        naive value as for the event's own dates
end               datetime64[ns, UTC]   ``sessionEndTime``, likewise
sessionDay        string                ``sessionDay``: the calendar day ``YYYY-MM-DD`` (a day has no
                                        time zone; a value that is not a date is kept as sent)
addressLine       string                the session's own place (it may differ from the event's
city, state       string                ``location``), flattened
zip               string                text: keeps leading zeros
country           string
latitude          Float64               decimal degrees
longitude         Float64               decimal degrees
naiveDateTimes    object (list[str])    made here, not sent: ``["start", "end"]`` (those of the two
                                        holding a wall-clock time of no known zone), else None
================  ====================  ===========================================================

A naive session time whose event has no recognised ``timeZone`` keeps its wall-clock digits as if UTC
and is named in the row's ``naiveDateTimes`` cell, as in the events frame (see "Unknown time zones" in
:mod:`.schema`): the report writers read that mark and write such times as wall-clock times, never as
UTC.

Contacts (:data:`CONTACT_COLUMNS`)
----------------------------------
================  ====================  ===========================================================
column            dtype                 source
================  ====================  ===========================================================
tenant            string                the events frame's ``tenant`` (only when it has one)
eventId           string                the event's ``id``
eventName         string                the event's ``name``
role              string                ``regular``, ``finance``, ``exhibitor`` (then any other
                                        ``contacts.<role>`` list the API adds)
contactIndex      Int64                 position in that role's list, from 0
contactId         string                contact ``id``
contactName       string                contact ``name``
email             string
phone             string
================  ====================  ===========================================================

Rows follow the events' order, then the list order (contacts: role by role). A list cell given as JSON
text (an events report read back from CSV or Parquet) is decoded first. An event whose
``eventDates`` or contacts are null, empty or missing has no rows; a list element that is not an
object (and, for contacts, not an id text) is skipped and counted in ``engagifii_coerced`` under the
list's column.
"""

from __future__ import annotations

import copy
import json
import re
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np
import pandas as pd

from ..exceptions import caller_stacklevel
from ..text import repair_text
from .datetimes import read_datetime_columns
from .schema import (
    COERCED_ATTR,
    DATETIME_UTC,
    FLOAT64,
    INT64,
    NAIVE_COLUMN,
    NAIVE_DATETIMES_ATTR,
    OBJECT,
    STRING,
    TENANT_COLUMN,
)
from .values import arrow_column, from_arrow, object_array, to_list

__all__ = ["CONTACT_COLUMNS", "CONTACT_ROLES", "SESSION_COLUMNS", "contacts", "sessions"]

#: Declared columns of :func:`sessions` -> dtype, in order (a leading ``tenant`` when the input has one).
SESSION_COLUMNS: dict[str, str] = {
    "eventId": STRING,
    "eventName": STRING,
    "sessionIndex": INT64,
    "sessionId": STRING,
    "sessionName": STRING,
    "start": DATETIME_UTC,
    "end": DATETIME_UTC,
    "sessionDay": STRING,
    "addressLine": STRING,
    "city": STRING,
    "state": STRING,
    "zip": STRING,
    "country": STRING,
    "latitude": FLOAT64,
    "longitude": FLOAT64,
    NAIVE_COLUMN: OBJECT,
}
#: Wire field of a session -> its column.
_SESSION_FIELDS: Final[dict[str, str]] = {
    "id": "sessionId",
    "name": "sessionName",
    "sessionStartTime": "start",
    "sessionEndTime": "end",
    "sessionDay": "sessionDay",
    **{key: key for key in ("addressLine", "city", "state", "zip", "country", "latitude", "longitude")},
}

#: Declared columns of :func:`contacts` -> dtype, in order (a leading ``tenant`` when the input has one).
CONTACT_COLUMNS: dict[str, str] = {
    "eventId": STRING,
    "eventName": STRING,
    "role": STRING,
    "contactIndex": INT64,
    "contactId": STRING,
    "contactName": STRING,
    "email": STRING,
    "phone": STRING,
}
_CONTACT_FIELDS: Final[dict[str, str]] = {"id": "contactId", "name": "contactName", "email": "email", "phone": "phone"}
#: The documented contact roles, in the order their rows come.
CONTACT_ROLES: tuple[str, ...] = ("regular", "finance", "exhibitor")

_DAY_RE: Final = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})(?:[T ]00:00(?::00(?:\.0+)?)?(?:Z|[+-]00:?00)?)?\s*$")


class _Rows:
    """Child rows collected column by column: the event's columns, the declared fields, the others."""

    def __init__(self, lead: Sequence[str], fields: Mapping[str, str], declared: Mapping[str, str], prefix: str):
        self.lead: dict[str, list[Any]] = {name: [] for name in lead}
        self.fields = fields
        self.declared = declared
        self.prefix = prefix
        self.values: dict[str, list[Any]] = {column: [] for column in fields.values()}
        self.extra: dict[str, list[Any]] = {}
        self.zones: list[Any] = []
        self.n = 0

    def add(self, lead: Sequence[Any], item: Mapping[str, Any], zone: Any = None) -> None:
        for values, value in zip(self.lead.values(), lead, strict=True):
            values.append(value)
        for key, column in self.fields.items():
            self.values[column].append(item.get(key))
        for key, value in item.items():
            if key in self.fields:
                continue
            name = f"{self.prefix}{key}" if key in self.declared or key == TENANT_COLUMN else str(key)
            passed = self.extra.get(name)
            if passed is None:
                passed = self.extra[name] = [None] * self.n
            passed.append(value if isinstance(value, str | int | float | bool) else copy.deepcopy(value))
        self.n += 1
        for passed in self.extra.values():
            if len(passed) < self.n:
                passed.append(None)
        self.zones.append(zone)

    def repair(self) -> int:
        """Replace every lone surrogate in the collected values by U+FFFD (:func:`~engagifii_data.text.repair_text`,
        the main frame's repair); returns how many there were."""
        total = 0
        for held in (self.lead, self.values, self.extra):
            for name, values in held.items():
                fixed, n = repair_text(values)
                if n:
                    held[name] = fixed
                    total += n
        return total


def _column(df: pd.DataFrame, name: str) -> list[Any]:
    """A column's values as Python objects, None for NA (all None when the frame lacks it)."""
    if name not in df.columns:
        return [None] * len(df)
    series = df[name]
    return [None if _missing(v) else v for v in series.astype(object).tolist()]


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and value != value


def _list_cell(cell: Any) -> Any:
    """A list cell as a list: JSON text (a CSV or Parquet report read back) is decoded; one object is a
    list of one (:func:`~.values.to_list`, the frames' rule); anything else is returned as it is."""
    if isinstance(cell, str) and cell.lstrip()[:1] in ("[", "{"):
        try:
            cell = json.loads(cell)
        except ValueError:
            return cell
    if isinstance(cell, list | tuple | Mapping | np.ndarray):
        return to_list(cell)[0]
    return cell


def _check(df: Any, what: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{what}() takes the DataFrame that events() returns, got {type(df).__name__}")
    if "id" not in df.columns:
        raise ValueError(f"{what}() takes an events frame (with an 'id' column): columns are {list(df.columns)[:8]}")


def _day(value: Any) -> Any:
    if value is None or not isinstance(value, str):
        return value
    match = _DAY_RE.match(value)
    return match.group(1) if match else value


def sessions(df: pd.DataFrame) -> pd.DataFrame:
    """One row per event session (``eventDates`` item), with declared columns and dtypes.

    Parameters
    ----------
    df : pandas.DataFrame
        An events frame (:meth:`EngagifiiClient.events`; one or several tenants). Not changed. The
        detail answer may carry more sessions than the listing (``events(details=True)``).

    Returns
    -------
    pandas.DataFrame
        Columns as :data:`SESSION_COLUMNS` (after a leading ``tenant`` when ``df`` has one), then
        any other session fields; see the module docstring. ``attrs`` carry ``df``'s walk report.

    Raises
    ------
    TypeError, ValueError
        ``df`` is not an events frame.
    """
    _check(df, "sessions")
    leading = [TENANT_COLUMN] if TENANT_COLUMN in df.columns else []
    rows = _Rows([*leading, "eventId", "eventName", "sessionIndex"], _SESSION_FIELDS, SESSION_COLUMNS, "session.")
    bad = 0
    events = zip(*(_column(df, c) for c in (*leading, "id", "name", "timeZone", "eventDates")), strict=True)
    for *lead, zone, cell in events:
        cell = _list_cell(cell)
        if not isinstance(cell, list | tuple):
            bad += cell is not None
            continue
        for index, item in enumerate(cell):
            if isinstance(item, Mapping):
                rows.add([*lead, index], item, zone)
            else:
                bad += 1
    rows.values["sessionDay"] = [_day(v) for v in rows.values["sessionDay"]]
    return _frame(df, rows, leading, SESSION_COLUMNS, {"eventDates": bad})


def contacts(df: pd.DataFrame) -> pd.DataFrame:
    """One row per event contact, role by role, with declared columns and dtypes.

    Contacts come only with the detail answer: ``df`` should come from ``events(details=True)`` or
    :meth:`EngagifiiClient.event_details` (a listing frame gives no rows).

    Parameters
    ----------
    df : pandas.DataFrame
        An events frame (one or several tenants). Not changed.

    Returns
    -------
    pandas.DataFrame
        Columns as :data:`CONTACT_COLUMNS` (after a leading ``tenant`` when ``df`` has one), then any
        other contact fields (``title`` ...); see the module docstring. ``attrs`` carry ``df``'s walk
        report.

    Raises
    ------
    TypeError, ValueError
        ``df`` is not an events frame.
    """
    _check(df, "contacts")
    leading = [TENANT_COLUMN] if TENANT_COLUMN in df.columns else []
    known = [f"contacts.{role}" for role in CONTACT_ROLES]
    others = [str(c) for c in df.columns if str(c).startswith("contacts.") and c not in known]
    lead_names = [*leading, "eventId", "eventName", "role", "contactIndex"]
    rows = _Rows(lead_names, _CONTACT_FIELDS, CONTACT_COLUMNS, "contact.")
    columns = [*known, *others]
    bad = dict.fromkeys(columns, 0)
    heads = list(zip(*(_column(df, c) for c in (*leading, "id", "name")), strict=True))
    lists = [_column(df, c) for c in columns]
    for i, lead in enumerate(heads):
        for column, cells in zip(columns, lists, strict=True):
            cell = _list_cell(cells[i])
            if not isinstance(cell, list | tuple):
                bad[column] += cell is not None
                continue
            role = column.removeprefix("contacts.")
            for index, item in enumerate(cell):
                if isinstance(item, str):  # a bare contact id
                    item = {"id": item}
                if isinstance(item, Mapping):
                    rows.add([*lead, role, index], item)
                else:
                    bad[column] += 1
    return _frame(df, rows, leading, CONTACT_COLUMNS, bad)


def _frame(
    df: pd.DataFrame, rows: _Rows, leading: list[str], declared: Mapping[str, str], bad: Mapping[str, int]
) -> pd.DataFrame:
    """The typed table of ``rows``; text that is not valid Unicode is repaired as the events frame's is.

    A lone surrogate (in a session's place or a contact's name of a frame built or edited by hand)
    cannot go into Arrow: on that failure every collected text is repaired to U+FFFD, with a
    warning that counts them, and the table is built again (valid text costs nothing).
    """
    try:
        return _typed_frame(df, rows, leading, declared, bad)
    except UnicodeEncodeError:
        repaired = rows.repair()
        if not repaired:
            raise
    warnings.warn(
        f"{repaired:,} text{'s were' if repaired != 1 else ' was'} not valid Unicode (a lone surrogate) "
        "and became U+FFFD",
        stacklevel=caller_stacklevel(),
    )
    return _typed_frame(df, rows, leading, declared, bad)


def _typed_frame(
    df: pd.DataFrame, rows: _Rows, leading: list[str], declared: Mapping[str, str], bad: Mapping[str, int]
) -> pd.DataFrame:
    """The typed table of ``rows``: leading columns, declared columns, passed-through fields."""
    raw = {**rows.lead, **rows.values}
    data: dict[str, Any] = {}
    coerced = {column: n for column, n in bad.items() if n}
    naive: dict[str, int] = {}
    for column in leading:
        data[column] = pd.array(raw[column], dtype="string")
    datetimes = [c for c, dtype in declared.items() if dtype == DATETIME_UTC]
    reads = dict(zip(datetimes, read_datetime_columns([raw[c] for c in datetimes], rows.zones), strict=True))
    marks: list[Any] = [None] * rows.n  # per row: its datetime columns of no known zone, or None
    for column, read in reads.items():
        for row in read.unknown.tolist():
            marks[row] = [column] if marks[row] is None else [*marks[row], column]
    for column, dtype in declared.items():
        n_bad = 0
        if column == NAIVE_COLUMN:
            data[column] = object_array(marks)
        elif dtype == DATETIME_UTC:
            read = reads[column]
            array: Any = pd.array(read.values)  # a DatetimeArray (M8[ns] input)
            data[column] = array.tz_localize("UTC")
            n_bad = read.coerced
            if len(read.unknown):
                naive[column] = len(read.unknown)
        else:
            arrow, n_bad = arrow_column(raw[column], dtype)
            data[column] = from_arrow(arrow, dtype)
        if n_bad:
            coerced[column] = coerced.get(column, 0) + n_bad
    order = [*leading, *declared]
    frame = pd.DataFrame({c: data[c] for c in order}, index=pd.RangeIndex(rows.n))
    for name, values in rows.extra.items():
        frame[name] = object_array(values)
    frame.attrs = {COERCED_ATTR: coerced, NAIVE_DATETIMES_ATTR: naive}
    report = df.attrs.get("engagifii")
    if report is not None:
        frame.attrs["engagifii"] = copy.deepcopy(report)
    return frame
