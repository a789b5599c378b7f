"""Event records -> typed pandas DataFrames, and atomic CSV / Parquet reports.

This module does no HTTP. It turns the JSON event objects of the Events API (``EventViewModel``, see
``shared/engagifii-api.md``) into a DataFrame whose columns and dtypes do not depend on the data, and
writes such frames to disk.

Column table
------------
The declared columns come first, always in this order and always with this dtype (``EVENT_COLUMNS``);
a leading ``tenant`` column (``string``) is added only when a ``tenant`` is given. Source: [docs] = the
vendor's data-models page, [wire] = observed from the live service.

=============================  ======================  ==========================================
column                         dtype                   source / notes
=============================  ======================  ==========================================
tenant (only when given)       string                  the tenant code the rows were fetched for
id                             string                  [docs] GUID, lowercase
name                           string                  [docs] <= 500 chars
description                    string                  [docs] may contain line breaks / HTML
eventStatus                    string                  [docs] Draft | Published | Cancelled | ...
eventRegistrationState         string                  [docs][wire] RegistrationClosed, ...
eventType                      string                  [docs]
eventTypeId                    string                  [docs] GUID
startDateTime                  datetime64[ns, UTC]     [docs] see "Datetimes" below
endDateTime                    datetime64[ns, UTC]     [docs]
timeZone                       string                  [wire] Windows or IANA zone name
registrationStartFrom          datetime64[ns, UTC]     [docs]
registrationEndDate            datetime64[ns, UTC]     [docs]
isRegistrationAllowed          boolean                 [docs]
isFreeEvent                    boolean                 [docs]
defaultPrice                   Float64                 [docs] decimal(18,2), currency units
pricingFramework               string                  [docs]
registrantsCapacity            Int64                   [docs] count of people
availableRegistrantsCapacity   Int64                   [docs] count of people
attendeesCount                 Int64                   [wire] count of people
eventWithClass                 boolean                 [docs]
eventWithExhibitor             boolean                 [docs]
isFavourite                    boolean                 [docs]
location.name                  string                  [docs] ``location`` object, flattened
location.addressLine           string                  [docs]
location.city                  string                  [docs]
location.state                 string                  [docs]
location.zip                   string                  [docs] text: keeps leading zeros
location.country               string                  [docs]
location.latitude              Float64                 [docs] decimal degrees
location.longitude             Float64                 [docs] decimal degrees
tags                           object (list[str])      [wire]
eventDates                     object (list[dict])     [docs][wire] sessions, kept as raw dicts
eventClasses                   object (list[str])      [docs] GUIDs
eventBundles                   object (list[str])      [docs] GUIDs
contacts.regular               object (list)           [docs] ``contacts`` object, flattened
contacts.finance               object (list)           [docs]
contacts.exhibitor             object (list)           [docs]
registrationWorkflows          object (list)           [wire]
iconUrl                        string                  [docs]
imageUrl                       string                  [wire] sent instead of ``iconUrl``
createdOn                      datetime64[ns, UTC]     [wire]
createdBy.name                 string                  [wire] ``createdBy`` object, flattened
createdBy.imageThumbUrl        string                  [wire]
=============================  ======================  ==========================================

Rules
-----
* **Missing / null**: a missing key or JSON ``null`` gives NA (``<NA>`` / ``NaT``); a null object
  (``"location": null``) gives NA in every one of its flattened columns. An empty input gives zero rows
  with the same columns and dtypes.
* **Flattening**: nested objects are flattened with ``.`` like :func:`pandas.json_normalize`; lists are
  never exploded.
* **Lists** (``LIST_COLUMNS``) are kept as Python ``list`` objects (a copy of the wire list) in
  ``object`` columns. A missing or null list is NA (``None``), never ``[]``: "not sent" and "sent
  empty" stay distinguishable. A JSON tuple-like value is turned into a list; any other non-list value
  does not fit and is coerced (see below).
* **Unknown fields** (not declared) are passed through after the declared columns, in order of first
  appearance, as ``object`` columns holding the raw JSON values (``None`` where absent). Nested unknown
  objects are flattened like the declared ones. A record field literally named ``tenant`` while a
  ``tenant`` argument is given is kept as ``record.tenant``.
* **Coercion**: text columns accept any scalar (numbers and booleans become their JSON text, objects
  their compact JSON). A value that does not fit a typed column (``"abc"`` in a count, ``3.5`` in a
  count, ``"maybe"`` in a flag, a string in a list column, an unparseable date) becomes NA and is
  counted in ``df.attrs["engagifii_coerced"]`` (``{column: count}``, non-zero entries only). Flags
  accept JSON booleans, the strings ``"true"``/``"false"`` (any case; the live plugin sends strings) and
  ``0``/``1``; counts accept integers, integral floats and integer strings; money/coordinates accept
  numbers and numeric strings.

Datetimes
---------
Every datetime column is ``datetime64[ns, UTC]``. The wire sends ISO 8601 with ``Z`` [docs], with
offsets such as ``+05:30``, naive local wall-clock times (sometimes beside ``"timeZone": "Eastern
Standard Time"``), 7 fractional digits (``.8257013``, as .NET writes) and ``0001-01-01T00:00:00`` for
"not set" [wire]. Per value:

1. with ``Z`` or an offset: converted to UTC (the same instant);
2. naive, and the row's ``timeZone`` is a recognised Windows name (mapped with
   ``tzlocal.windows_tz.win_tz``) or an IANA name: localised in that zone, then converted to UTC (the
   same instant). An ambiguous wall-clock time (the repeated autumn hour) takes the first (daylight)
   instant, as ``zoneinfo`` does with ``fold=0``; a wall-clock time that does not exist (the skipped
   spring hour) is read with the offset in force before the gap (``02:30`` on a New York spring-forward
   day is ``02:30 EST`` = ``07:30Z``), never dropped;
3. naive with no recognised zone: taken as UTC **keeping its wall-clock digits** (never the machine's
   local zone) and counted per column in ``df.attrs["engagifii_naive_datetimes"]``
   (``{column: count}``, non-zero entries only) so callers can tell such values apart;
4. any year-1 value (.NET ``DateTime.MinValue``) is NaT, not counted;
5. unparseable (not ``YYYY-MM-DD[( |T)hh:mm[:ss[.fffffffff]]][Z|+hh[:mm]|-hh[:mm]]``, or an impossible
   date such as February 30) or a year outside 1678-2261 (the ``datetime64[ns]`` range) -> NaT,
   counted as coerced.

Fractions are kept to the nanosecond (the 7th digit survives in the frame; digits past the 9th are
dropped). A column of a batch whose values are all in the wire's canonical form
(``2023-04-26T17:00:00.8257013Z``, ``...+05:30`` or naive) is parsed by a few Arrow calls; any other
column value by value (its offset split off, the wall-clock texts parsed in one numpy call). Both give
the same instants (``tests/test_fast_paths.py``). Zones are applied with one ``tz_localize`` per
distinct zone per batch, over every datetime column at once. Naive and aware values never meet in one
parse, so mixed columns never raise "Mixed timezones detected" (as ``pandas.to_datetime`` does).

Speed (issue 7): string, count, money and flag columns whose values already have the wire type are
built by Arrow in one pass; other values take the converting path. A frame never depends on which
path ran (``tests/test_fast_paths.py`` compares both on every seeded sandbox tenant).

Attributes
----------
Frames made here carry exactly two ``attrs`` keys of their own: ``"engagifii_coerced"`` and
``"engagifii_naive_datetimes"`` (both always present, possibly empty dicts). The writers never modify or
drop a frame's ``attrs``; :func:`export_parquet` stores them in the file so :func:`pandas.read_parquet`
restores them.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import functools
import io
import json
import math
import os
import re
import stat
import tempfile
import unicodedata
import zoneinfo
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from itertools import repeat
from pathlib import Path
from typing import IO, Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from tzlocal.windows_tz import win_tz

__all__ = [
    "COERCED_ATTR",
    "DATETIME_COLUMNS",
    "DATETIME_FORMAT",
    "EVENT_COLUMNS",
    "LIST_COLUMNS",
    "NAIVE_DATETIMES_ATTR",
    "FrameBuilder",
    "empty_events_frame",
    "events_frame",
    "export_csv",
    "export_parquet",
]

# --------------------------------------------------------------------------------------------------
# The declared table
# --------------------------------------------------------------------------------------------------

_S: Final = "string"
_B: Final = "boolean"
_I: Final = "Int64"
_F: Final = "Float64"
_D: Final = "datetime64[ns, UTC]"
_O: Final = "object"

#: Declared column -> dtype string, in the fixed output order (see the module docstring's table).
EVENT_COLUMNS: dict[str, str] = {
    "id": _S,
    "name": _S,
    "description": _S,
    "eventStatus": _S,
    "eventRegistrationState": _S,
    "eventType": _S,
    "eventTypeId": _S,
    "startDateTime": _D,
    "endDateTime": _D,
    "timeZone": _S,
    "registrationStartFrom": _D,
    "registrationEndDate": _D,
    "isRegistrationAllowed": _B,
    "isFreeEvent": _B,
    "defaultPrice": _F,
    "pricingFramework": _S,
    "registrantsCapacity": _I,
    "availableRegistrantsCapacity": _I,
    "attendeesCount": _I,
    "eventWithClass": _B,
    "eventWithExhibitor": _B,
    "isFavourite": _B,
    "location.name": _S,
    "location.addressLine": _S,
    "location.city": _S,
    "location.state": _S,
    "location.zip": _S,
    "location.country": _S,
    "location.latitude": _F,
    "location.longitude": _F,
    "tags": _O,
    "eventDates": _O,
    "eventClasses": _O,
    "eventBundles": _O,
    "contacts.regular": _O,
    "contacts.finance": _O,
    "contacts.exhibitor": _O,
    "registrationWorkflows": _O,
    "iconUrl": _S,
    "imageUrl": _S,
    "createdOn": _D,
    "createdBy.name": _S,
    "createdBy.imageThumbUrl": _S,
}

#: Declared columns of dtype ``datetime64[ns, UTC]``, in table order.
DATETIME_COLUMNS: tuple[str, ...] = tuple(c for c, t in EVENT_COLUMNS.items() if t == _D)

#: Declared columns holding Python lists (``object`` dtype), in table order.
LIST_COLUMNS: tuple[str, ...] = tuple(c for c, t in EVENT_COLUMNS.items() if t == _O)

#: List columns whose elements are text (GUIDs, tag names): Parquet ``list<string>``. The other list
#: columns hold objects of no published shape and are stored in Parquet as compact JSON text.
_STRING_LIST_COLUMNS: Final[frozenset[str]] = frozenset({"tags", "eventClasses", "eventBundles"})

#: The one datetime format of CSV reports: UTC, microseconds, literal ``Z`` (e.g.
#: ``2023-04-26T17:00:00.825701Z``). ``%f`` has 6 digits: a 7th (100 ns) digit is truncated in CSV.
DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

#: ``df.attrs`` key: ``{column: number of non-null values that did not fit and became NA}``.
COERCED_ATTR: Final = "engagifii_coerced"
#: ``df.attrs`` key: ``{column: number of naive datetimes with no known zone, taken as UTC}``.
NAIVE_DATETIMES_ATTR: Final = "engagifii_naive_datetimes"

_TENANT: Final = "tenant"
_TZ_COLUMN: Final = "timeZone"
_STRING_DTYPE: Final = pd.StringDtype()

#: Top-level object fields whose null value means "all of my flattened columns are NA".
_OBJECT_PREFIXES: Final[frozenset[str]] = frozenset(c.split(".", 1)[0] for c in EVENT_COLUMNS if "." in c)

#: FrameBuilder merges every this many batch frames into one (bounded per-frame overhead).
_MERGE_EVERY: Final = 16

_BAD: Final = object()  # sentinel: "this value does not fit the column"

# --------------------------------------------------------------------------------------------------
# Flattening
# --------------------------------------------------------------------------------------------------


_PLAIN: Final = frozenset({str, int, float, bool, list, type(None)})  # JSON types that are not objects
_DICT_OR_NONE: Final = frozenset({dict, type(None)})
_LIST_OR_NONE: Final = frozenset({list, type(None)})


def _flatten_into(out: dict[str, Any], obj: Mapping[str, Any], prefix: str) -> None:
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if type(value) is dict or (type(value) not in _PLAIN and isinstance(value, Mapping)):
            _flatten_into(out, value, f"{name}.")
        elif value is None and not prefix and name in _OBJECT_PREFIXES:
            continue  # "location": null -> every location.* stays NA
        else:
            out[name] = value


def _flatten(record: Mapping[str, Any], index: int) -> dict[str, Any]:
    if not isinstance(record, Mapping):
        raise TypeError(f"event record #{index} is {type(record).__name__}, expected a JSON object (dict)")
    out: dict[str, Any] = {}
    _flatten_into(out, record, "")
    return out


#: Declared columns that are top-level fields, and declared object fields -> their sub-fields.
_TOP_LEAVES: Final[tuple[str, ...]] = tuple(c for c in EVENT_COLUMNS if "." not in c)
_NESTED: Final[dict[str, tuple[str, ...]]] = {
    prefix: tuple(c.split(".", 1)[1] for c in EVENT_COLUMNS if c.startswith(f"{prefix}."))
    for prefix in dict.fromkeys(c.split(".", 1)[0] for c in EVENT_COLUMNS if "." in c)
}
_NESTED_KEYS: Final[dict[str, frozenset[str]]] = {prefix: frozenset(subs) for prefix, subs in _NESTED.items()}
_TOP_KEYS: Final[frozenset[str]] = frozenset(_TOP_LEAVES) | _OBJECT_PREFIXES


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
            return None  # a top-level "location.city" key: let flattening decide
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
# Scalar converters (fast path when every value already has the wire type)
# --------------------------------------------------------------------------------------------------


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _to_text(value: Any) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal | np.number):
        return str(value)
    if isinstance(value, list | tuple | dict):
        return _json_text(value)
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
        return _BAD
    if isinstance(value, int | np.integer) and value in (0, 1):
        return bool(value)
    return _BAD


def _to_int(value: Any) -> Any:
    if isinstance(value, bool | np.bool_):
        return _BAD
    if isinstance(value, int | np.integer):
        number = int(value)
    elif isinstance(value, float | Decimal | np.floating):
        if not math.isfinite(value) or value != int(value):
            return _BAD
        number = int(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            number = int(text)
        except ValueError:
            try:
                as_float = float(text)
            except ValueError:
                return _BAD
            if not math.isfinite(as_float) or as_float != int(as_float):
                return _BAD
            number = int(as_float)
    else:
        return _BAD
    if not -(2**63) <= number < 2**63:
        return _BAD
    return number


def _to_float(value: Any) -> Any:
    if isinstance(value, bool | np.bool_):
        return _BAD
    if isinstance(value, int | float | Decimal | np.number):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return _BAD
    return _BAD


def _to_list(value: Any) -> Any:
    if type(value) is list or isinstance(value, list | tuple):
        return list(value)
    return _BAD


_CONVERTERS: Final[dict[str, tuple[Callable[[Any], Any], tuple[type, ...]]]] = {
    # dtype -> (converter, types that need no conversion)
    _S: (_to_text, (str,)),
    _B: (_to_bool, (bool,)),
    _I: (_to_int, (int,)),
    _F: (_to_float, (float, int)),
    _O: (_to_list, ()),
}


#: dtype -> the exact value types that need no conversion, and None.
_READY_OR_NONE: Final[dict[str, frozenset[type]]] = {
    dtype: frozenset({*ready, type(None)}) for dtype, (_, ready) in _CONVERTERS.items()
}


def _convert(values: list[Any], dtype: str, *, copy: bool = True) -> tuple[list[Any], int]:
    """Convert one column's raw values; returns (values with None for NA, number coerced).

    ``copy=False`` keeps wire lists as they are instead of copying them (the caller owns the records).
    """
    converter, ready = _CONVERTERS[dtype]
    if dtype == _O and _LIST_OR_NONE.issuperset(map(type, values)):
        return ([None if v is None else v.copy() for v in values] if copy else values), 0
    if ready and _READY_OR_NONE[dtype].issuperset(map(type, values)):
        if dtype == _I and not all(v is None or -(2**63) <= v < 2**63 for v in values):
            pass  # an int64 overflow: take the slow path below
        else:
            return values, 0
    out: list[Any] = []
    bad = 0
    for value in values:
        if _is_missing(value):
            out.append(None)
            continue
        converted = converter(value)
        if converted is _BAD:
            bad += 1
            out.append(None)
        else:
            out.append(converted)
    return out, bad


def _object_array(values: list[Any]) -> pd.Series:
    """An ``object`` Series holding ``values`` as they are (pandas 3 would infer ``str`` from an array)."""
    array = np.empty(len(values), dtype=object)
    array[:] = values  # element-wise: a list value stays one cell
    return pd.Series(array, dtype=object, index=pd.RangeIndex(len(values)), copy=False)


# --------------------------------------------------------------------------------------------------
# Datetimes
# --------------------------------------------------------------------------------------------------

#: ISO 8601 as the wire sends it: date, optional time with optional fraction, optional Z / offset.
_ISO_RE: Final = re.compile(
    r"^(?P<year>\d{4})-\d{2}-\d{2}"
    r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?P<tz>Z|(?P<sign>[+-])(?P<oh>\d{2})(?::?(?P<om>\d{2}))?)?)?$"
)
_LONG_FRACTION_RE: Final = re.compile(r"(\.\d{9})\d+")
#: The canonical subset of ``_ISO_RE`` (no whitespace, upper-case, ASCII digits, at most 9 fractional
#: digits), which ``_datetime_text`` leaves unchanged: (wall-clock text, ``Z`` / ``+hh:mm`` or None).
_CANONICAL_ISO_RE: Final = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?)(Z|[+-][0-9]{2}:[0-9]{2})?\Z"
)
#: Whole years representable as ``datetime64[ns]`` (its range is 1677-09-21 .. 2262-04-11).
_NS_YEARS: Final = range(1678, 2262)
_NAT: Final = np.datetime64("NaT", "ns")
_WINDOWS_ZONES: Final[dict[str, str]] = {k.lower(): v for k, v in win_tz.items()}


@functools.lru_cache(maxsize=512)
def _iana_zone(name: str) -> str | None:
    """IANA key for a Windows zone name (``tzlocal.windows_tz.win_tz``) or an IANA name; else None."""
    text = name.strip()
    if not text:
        return None
    mapped = _WINDOWS_ZONES.get(text.lower())
    if mapped is not None:
        return mapped
    try:
        zoneinfo.ZoneInfo(text)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return None
    return text


def _datetime_text(value: Any) -> Any:
    """Raw wire value -> normalised ISO text, None for missing, _BAD when it cannot be a datetime."""
    if _is_missing(value):
        return None
    if isinstance(value, str):
        text = value.strip().upper()
        if not text:
            return None
        return _LONG_FRACTION_RE.sub(r"\1", text.replace(",", "."))
    if isinstance(value, datetime | date):
        return value.isoformat().upper()
    return _BAD


def _parse_iso(texts: list[str]) -> tuple[np.ndarray, int]:
    """Naive ISO texts -> ``M8[ns]`` (one C-level numpy parse; per value only if one is invalid)."""
    try:
        return np.array(texts, dtype="M8[ns]"), 0
    except ValueError:  # e.g. "2023-02-30": find the bad ones, keep the others
        out = np.empty(len(texts), dtype="M8[ns]")
        bad = 0
        for i, text in enumerate(texts):
            try:
                out[i] = np.datetime64(text, "ns")
            except ValueError:
                out[i] = _NAT
                bad += 1
        return out, bad


#: A parsed datetime column before zones are applied: (``M8[ns]`` values -- UTC instants for values
#: with ``Z``/an offset, wall-clock times for naive ones --, row numbers of the naive values, count of
#: values coerced to NaT).
_Read = tuple[np.ndarray, np.ndarray, int]


def _read_datetimes(values: list[Any]) -> _Read:
    """Parse one datetime column of one batch value by value, any wire form ("Datetimes" above).

    Zones are applied afterwards, for every datetime column of the batch at once (:func:`_localize`).
    """
    result = np.full(len(values), _NAT)
    rows: list[int] = []  # rows with a parseable value
    parts: list[str] = []  # their wall-clock text, offset removed
    offsets: list[int] = []  # their UTC offset in minutes
    aware: list[bool] = []
    coerced = 0
    fast = _CANONICAL_ISO_RE.match
    for i, value in enumerate(values):
        if value is None:
            continue
        canonical = fast(value) if type(value) is str else None
        if canonical is not None:  # the wire's usual form: what the general path below gives, faster
            wall, tz = canonical.group(1, 2)
            year = int(wall[:4])
            if year == 1:
                continue
            if year not in _NS_YEARS:
                coerced += 1
                continue
            rows.append(i)
            parts.append(wall)
            if tz is None:
                offsets.append(0)
                aware.append(False)
            else:
                minutes = 0 if tz == "Z" else int(tz[1:3]) * 60 + int(tz[4:6])
                offsets.append(-minutes if tz[0] == "-" else minutes)
                aware.append(True)
            continue
        text = _datetime_text(value)
        if text is None:
            continue
        match = None if text is _BAD else _ISO_RE.match(text)
        if match is None:
            coerced += 1
            continue
        year = int(match["year"])
        if year == 1:
            continue  # .NET DateTime.MinValue: "not set"
        if year not in _NS_YEARS:
            coerced += 1
            continue
        rows.append(i)
        if match["tz"] is None:
            parts.append(text)
            offsets.append(0)
            aware.append(False)
        else:
            parts.append(text[: match.start("tz")])
            minutes = int(match["oh"] or 0) * 60 + int(match["om"] or 0)
            offsets.append(-minutes if match["sign"] == "-" else minutes)
            aware.append(True)
    if not rows:
        return result, np.empty(0, dtype=np.intp), coerced
    wall, bad = _parse_iso(parts)
    coerced += bad
    result[rows] = wall - np.array(offsets, dtype="m8[m]").astype("m8[ns]")
    naive = np.array(rows, dtype=np.intp)[~np.array(aware, dtype=bool) & ~np.isnat(wall)]
    return result, naive, coerced


def _localize(columns: Sequence[tuple[np.ndarray, np.ndarray]], zones: list[Any]) -> list[tuple[int, int]]:
    """Apply the rows' time zones to the naive values of one batch's datetime columns (in place).

    Parameters
    ----------
    columns : sequence of (numpy.ndarray, numpy.ndarray)
        Per column: its ``M8[ns]`` values and the row numbers holding naive wall-clock times (as
        :func:`_read_datetimes` gives them). Those values are replaced by their UTC instants.
    zones : list
        The batch's raw ``timeZone`` values, one per row.

    Returns
    -------
    list of (int, int)
        Per column: values coerced to NaT (none in practice: a skipped spring hour is shifted, never
        dropped), and naive values with no known zone (their digits are kept as UTC).

    Notes
    -----
    One ``tz_localize`` per distinct zone per batch, over the naive values of every column at once:
    the per-call cost dominated when it ran per column (issue 7).
    """
    out = [(0, 0)] * len(columns)
    if not any(len(naive) for _, naive in columns):
        return out
    names: dict[str, int] = {}  # IANA name -> code
    raw_codes: dict[str, int] = {}  # raw timeZone text -> code (-1: unknown)

    def code(zone: Any) -> int:
        if not isinstance(zone, str):
            return -1
        found = raw_codes.get(zone)
        if found is None:
            iana = _iana_zone(zone)
            found = raw_codes[zone] = -1 if iana is None else names.setdefault(iana, len(names))
        return found

    codes = np.fromiter(map(code, zones), dtype=np.intp, count=len(zones))
    column_codes = [codes[naive] for _, naive in columns]
    coerced = [0] * len(columns)
    for name, k in names.items():
        groups = [naive[c == k] for (_, naive), c in zip(columns, column_codes, strict=True)]
        sizes = [len(g) for g in groups]
        if not sum(sizes):
            continue
        wall = np.concatenate([values[g] for (values, _), g in zip(columns, groups, strict=True)])
        local = pd.DatetimeIndex(wall).tz_localize(
            name, ambiguous=np.ones(len(wall), dtype=bool), nonexistent=pd.Timedelta(hours=1)
        )
        instants = local.tz_convert("UTC").tz_localize(None).as_unit("ns").to_numpy()
        at = 0
        for i, ((values, _), g, size) in enumerate(zip(columns, groups, sizes, strict=True)):
            part = instants[at : at + size]
            values[g] = part
            coerced[i] += int(np.isnat(part).sum())
            at += size
    return [(coerced[i], int((c == -1).sum())) for i, c in enumerate(column_codes)]


#: ``_CANONICAL_ISO_RE`` for Arrow (RE2), and its zone suffix.
_ARROW_AWARE: Final = r"(Z|[+-][0-9]{2}:[0-9]{2})$"
_ARROW_CANONICAL: Final = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})?$"
)
_ARROW_NULL: Final = pa.scalar(None, pa.string())


def _arrow_read_datetimes(values: list[Any]) -> _Read | None:
    """:func:`_read_datetimes` in a few Arrow calls, for a column whose values are all canonical.

    Applies when every value is None or a canonical ISO text (``_CANONICAL_ISO_RE``: the wire's usual
    ``2023-04-26T17:00:00.8257013Z`` / ``+05:30`` / naive form) with a year of 1 or within 1678-2261,
    and Arrow parses each one (it refuses February 30, hour 24, an offset of ``+24:00``...). Otherwise
    returns None and the caller takes the general path, so results never depend on which path ran
    (``tests/test_frames.py`` checks both give the same instants). About 10x faster per value than the
    general path (issue 7).
    """
    try:
        texts = pa.array(values, type=pa.string())
    except (pa.ArrowException, TypeError, ValueError, UnicodeError):
        return None
    n = len(texts)
    if texts.null_count == n:
        return None
    if not pc.all(pc.match_substring_regex(texts, _ARROW_CANONICAL)).as_py():
        return None
    years = pc.cast(pc.utf8_slice_codeunits(texts, 0, 4), pa.int32())
    unset = pc.equal(years, 1)  # .NET DateTime.MinValue: "not set", NaT and not counted
    if not pc.all(pc.or_(unset, pc.and_(pc.greater_equal(years, _NS_YEARS.start),
                                        pc.less(years, _NS_YEARS.stop)))).as_py():
        return None  # a year outside datetime64[ns]: the general path counts it
    aware = pc.match_substring_regex(texts, _ARROW_AWARE)
    kept = pc.invert(unset)
    try:
        instants = pc.if_else(pc.and_(aware, kept), texts, _ARROW_NULL).cast(pa.timestamp("ns", "UTC"))
        walls = pc.if_else(pc.and_(pc.invert(aware), kept), texts, _ARROW_NULL).cast(pa.timestamp("ns"))
    except pa.ArrowException:
        return None  # e.g. February 30: the general path finds and counts it
    is_aware = aware.to_numpy(zero_copy_only=False).astype(bool)
    wall = walls.to_numpy(zero_copy_only=False).astype("M8[ns]")
    result = np.where(is_aware, instants.to_numpy(zero_copy_only=False).astype("M8[ns]"), wall)
    return result, np.flatnonzero(~np.isnat(wall)), 0


# --------------------------------------------------------------------------------------------------
# Building frames
# --------------------------------------------------------------------------------------------------


def _arrow_strings(values: list[Any]) -> Any:
    """A ``string`` array built by Arrow in one C-level pass, or None when a value is not ``str``/None.

    Equal to ``pd.array(values, dtype="string")`` for such values; anything else (numbers, booleans,
    NaN, lone surrogates) returns None so the caller takes the converting path.
    """
    if _STRING_DTYPE.storage != "pyarrow":
        return None
    try:
        return pd.arrays.ArrowStringArray(pa.array(values, type=pa.large_string()))
    except (pa.ArrowException, TypeError, ValueError, UnicodeError):
        return None


#: Arrow types of the masked numeric dtypes, for :func:`_typed_array`.
_ARROW_TYPES: Final[dict[str, pa.DataType]] = {_I: pa.int64(), _F: pa.float64(), _B: pa.bool_()}


def _typed_array(values: list[Any], dtype: str) -> Any:
    """The pandas array of converted ``values`` (None for NA) in the column's declared ``dtype``.

    Numeric and boolean columns go through Arrow (one C-level pass, NaN as NA like ``pd.array``)
    and the dtype's ``__from_arrow__``, about 3x faster than ``pd.array`` on a list.
    """
    if dtype == _S:
        return pd.array(values, dtype=_STRING_DTYPE)
    if dtype == _O:
        return _object_array(values)
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
    return [_TENANT] if tenant is not None else []


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
        data[_TENANT] = pd.array([], dtype=_STRING_DTYPE)
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
    (2, 45)
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
                    if key not in EVENT_COLUMNS:
                        extra.setdefault(key, None)
            columns = {key: [row.get(key) for row in flat] for key in (*EVENT_COLUMNS, *extra)}
        raw_column = columns.__getitem__
        data: dict[str, Any] = {}
        if self._tenant is not None:
            data[_TENANT] = pd.array([self._tenant] * n, dtype=_STRING_DTYPE)
        read: dict[str, _Read] = {}
        for column, dtype in EVENT_COLUMNS.items():
            raw = raw_column(column)
            bad = 0
            if dtype == _D:
                read[column] = _arrow_read_datetimes(raw) or _read_datetimes(raw)
                data[column] = None  # placeholder: keeps the column order; filled below
                self._coerced.setdefault(column, 0)
                continue
            if dtype == _S and (strings := _arrow_strings(raw)) is not None:
                data[column] = strings
            else:
                converted, bad = _convert(raw, dtype, copy=self._copy)
                data[column] = _typed_array(converted, dtype)
            self._coerced[column] = self._coerced.get(column, 0) + bad
        localized = _localize([r[:2] for r in read.values()], raw_column(_TZ_COLUMN))
        for (column, (values, _, bad)), (more, naive) in zip(read.items(), localized, strict=True):
            instants: Any = pd.array(values)  # a DatetimeArray (M8[ns] input)
            data[column] = instants.tz_localize("UTC")
            self._coerced[column] = self._coerced.get(column, 0) + bad + more
            self._naive[column] = self._naive.get(column, 0) + naive
        for key in extra:
            name = f"record.{key}" if key == _TENANT and self._tenant is not None else key
            data[name] = _object_array(raw_column(key))
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
                frame = frame.assign(**{c: _object_array([None] * len(frame)) for c in missing})
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
        Shape ``(n_records, 43 + n_unknown)`` (+1 with ``tenant``): declared columns in
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


# --------------------------------------------------------------------------------------------------
# Atomic writes
# --------------------------------------------------------------------------------------------------


def _umask() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def _atomic_write(path: str | os.PathLike[str], write: Callable[[IO[bytes]], None]) -> Path:
    """Write via ``write(binary_file)`` to a temp file beside ``path``, fsync, then ``os.replace``.

    On any error the temp file is removed and an existing file at ``path`` is left untouched.

    * A symbolic link is followed: the file it points to is replaced (atomically, as above) and the
      link stays a link, as editors do. A dangling link gets its target created.
    * An existing device, FIFO or socket (``/dev/stdout``, a named pipe) is not a file that can be
      replaced: the bytes are written straight into it, which cannot be atomic. Replacing it would turn
      ``/dev/null`` into a regular file (as root).

    Raises
    ------
    IsADirectoryError
        ``path`` is a directory.
    OSError
        Any other reason the file cannot be written (no space, no permission, a parent is a file).
    """
    target = Path(path)
    with contextlib.suppress(FileNotFoundError):
        kind = os.stat(target).st_mode  # through links: /dev/stdout -> /proc/self/fd/1 -> a pipe
        if stat.S_ISDIR(kind):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        if not stat.S_ISREG(kind):
            with open(target, "wb") as fh:
                write(fh)
            return target
    if target.is_symlink():  # to a regular file, or dangling
        target = Path(os.path.realpath(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = target.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    with contextlib.suppress(OSError):  # make the rename durable (POSIX); not possible everywhere
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return Path(path)


# --------------------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------------------

_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


def _neutralize(text: str) -> str:
    """Prefix ``'`` to a text cell a spreadsheet could read as a formula (OWASP CSV injection).

    Besides a first character in ``= + - @ TAB CR``, some importers skip leading spaces and line
    breaks, and Excel in East Asian locales reads full-width ``＝ ＋ － ＠``: the check is made on the
    NFKC form of the text with leading whitespace removed.
    """
    if text.startswith(_FORMULA_START):
        return "'" + text
    if text[:1].isspace() or (text and not text[0].isascii()):
        probe = unicodedata.normalize("NFKC", text[:8]).lstrip()
        if probe.startswith(_FORMULA_START):
            return "'" + text
    return text


def _list_text(items: Iterable[Any], separator: str, datetime_format: str) -> str:
    items = list(items)
    if any(isinstance(item, Mapping | list | tuple | np.ndarray) for item in items):
        return _json_text([item.tolist() if isinstance(item, np.ndarray) else item for item in items])
    return separator.join(_cell(item, separator, datetime_format)[0] for item in items)


def _cell(value: Any, separator: str, datetime_format: str) -> tuple[str, bool]:
    """One object-column value -> (CSV text, whether it is text subject to formula neutralisation)."""
    if isinstance(value, str):
        return value, True
    if isinstance(value, list | tuple | np.ndarray):
        return _list_text(value, separator, datetime_format), True
    if isinstance(value, Mapping):
        return _json_text(value), True
    if _is_missing(value):
        return "", False
    if isinstance(value, bool | np.bool_):
        return ("true" if value else "false"), False
    if isinstance(value, int | float | Decimal | np.number):
        return str(value), False
    if isinstance(value, datetime):
        stamp = pd.Timestamp(value)
        stamp = stamp.tz_convert("UTC") if stamp.tzinfo is not None else stamp
        return stamp.strftime(datetime_format), False
    return str(value), True


def _csv_column(series: pd.Series, neutralize: bool, separator: str, datetime_format: str) -> list[str]:
    dtype = series.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype):
        if isinstance(dtype, pd.DatetimeTZDtype):
            series = series.dt.tz_convert("UTC")
        return series.dt.strftime(datetime_format).astype(object).where(series.notna(), "").tolist()
    if pd.api.types.is_bool_dtype(dtype):
        return ["" if _is_missing(v) else ("true" if v else "false") for v in series.tolist()]
    if pd.api.types.is_numeric_dtype(dtype):
        return ["" if _is_missing(v) else str(v) for v in series.tolist()]
    if isinstance(dtype, pd.StringDtype):
        texts = ["" if _is_missing(v) else v for v in series.tolist()]
        return [_neutralize(t) for t in texts] if neutralize else texts
    out = []
    for value in series.tolist():
        text, is_text = _cell(value, separator, datetime_format)
        out.append(_neutralize(text) if neutralize and is_text else text)
    return out


def export_csv(
    df: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    neutralize_formulas: bool = True,
    list_separator: str = "; ",
    datetime_format: str = DATETIME_FORMAT,
    allow_incomplete: bool = False,
) -> Path:
    """Write ``df`` as an Excel-friendly CSV report, atomically.

    Format (fixed, whatever the data):

    * UTF-8 with BOM (``utf-8-sig``), ``,`` delimiter, ``"`` quote, ``\\r\\n`` line terminator (RFC 4180,
      Excel's own); ``csv.QUOTE_MINIMAL``, so every field with a line break, quote or comma is quoted
      and line breaks inside descriptions survive a round trip through :mod:`csv` and pandas.
    * One header row (the column names), no index column.
    * NA / NaT / ``None`` -> empty field.
    * Booleans -> ``true`` / ``false`` (lowercase, as in JSON).
    * Numbers -> Python's ``str`` (``12``, ``-5.0``); never neutralised.
    * Datetimes -> converted to UTC and formatted with ``datetime_format`` on every row (default
      :data:`DATETIME_FORMAT`, e.g. ``2023-04-26T17:00:00.000000Z``; sub-microsecond digits are
      truncated). A tz-naive datetime column is written as is (taken as UTC).
    * Lists of scalars (``tags``, ``eventClasses`` ...) -> elements joined with ``list_separator``;
      a list holding any object or list (``eventDates``, contacts objects) -> the compact JSON of the
      whole list (``[{"id":"...","city":"..."}]``), which ``json.loads`` restores. Dicts -> compact JSON.
    * Formula neutralisation (OWASP CSV injection): with ``neutralize_formulas`` (default) every *text*
      cell (string columns, text in object columns, joined lists, header names) starting with ``=``,
      ``+``, ``-``, ``@``, TAB or CR gets a leading ``'``. Numbers, booleans and datetimes are never
      changed (a price of ``-5.0`` stays ``-5.0``).

    Parameters
    ----------
    df : pandas.DataFrame
        Any frame; usually from :func:`events_frame`. Not modified (``attrs`` included).
    path : str or os.PathLike
        Destination. Parent directories are created. An existing file is replaced only on success
        (a symbolic link keeps the link; a device or pipe such as ``/dev/stdout`` is written into).
    neutralize_formulas : bool, default True
        ``False`` writes text cells raw.
    list_separator : str, default ``"; "``
        Joins the elements of list cells of scalars.
    datetime_format : str, default :data:`DATETIME_FORMAT`
        ``strftime`` format applied to UTC datetimes.
    allow_incomplete : bool, default False
        Write a frame marked ``attrs["engagifii"]["complete"] = False`` (a partial walk) anyway.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    ValueError
        ``df`` is the partial result of a walk that did not complete, and ``allow_incomplete`` is
        False: a report must never look complete when it is not.
    OSError
        The file could not be written; the temp file is removed and any previous file is untouched.
    """
    _refuse_incomplete(df, allow_incomplete)
    header = [str(c) for c in df.columns]
    if neutralize_formulas:
        header = [_neutralize(h) for h in header]
    columns = [
        _csv_column(df.iloc[:, i], neutralize_formulas, list_separator, datetime_format) for i in range(df.shape[1])
    ]

    def write(raw: IO[bytes]) -> None:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="", write_through=True)
        try:
            writer = csv.writer(text, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
            writer.writerow(header)
            writer.writerows(zip(*columns, strict=True))
            text.flush()
        finally:
            text.detach()  # leave the binary file open for fsync

    return _atomic_write(path, write)


# --------------------------------------------------------------------------------------------------
# Parquet
# --------------------------------------------------------------------------------------------------


def _json_or_none(value: Any) -> Any:
    if isinstance(value, list | tuple | Mapping | np.ndarray):
        return _json_text(value.tolist() if isinstance(value, np.ndarray) else value)
    return None if _is_missing(value) else _json_text(value)


def _string_list(value: Any) -> Any:
    if isinstance(value, list | tuple | np.ndarray):
        return [None if _is_missing(v) else (v if isinstance(v, str) else _json_text(v)) for v in value]
    return None if _is_missing(value) else [_to_text(value)]


def _refuse_incomplete(df: pd.DataFrame, allow_incomplete: bool) -> None:
    meta = df.attrs.get("engagifii")
    if allow_incomplete or not isinstance(meta, Mapping) or meta.get("complete") is not False:
        return
    missing = meta.get("missing_pages") or []
    detail = f"; pages not fetched: {_page_ranges(missing)}" if missing else ""
    raise ValueError(
        f"refusing to write a partial result ({len(df):,} rows of a total of {meta.get('total_count')}"
        f"{detail}) as if it were complete; finish or resume the walk, or pass allow_incomplete=True"
    )


def _page_ranges(pages: Sequence[int]) -> str:
    out: list[str] = []
    for page in sorted(pages):
        if out and "-" not in out[-1] and int(out[-1]) == page - 1:
            out[-1] = f"{out[-1]}-{page}"
        elif out and "-" in out[-1] and int(out[-1].split("-")[1]) == page - 1:
            out[-1] = f"{out[-1].split('-')[0]}-{page}"
        else:
            out.append(str(page))
    return ", ".join(out)


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
    _refuse_incomplete(df, allow_incomplete)
    data: dict[str, Any] = {}
    string_lists: list[str] = []
    for i, column in enumerate(df.columns):
        series = df.iloc[:, i]
        name = str(column)
        if series.dtype != object:
            data[name] = series.reset_index(drop=True)
            continue
        values = series.tolist()
        if name in _STRING_LIST_COLUMNS:
            data[name] = _object_array([_string_list(v) for v in values])
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
                    data[name] = pd.array([None] * len(values), dtype=_STRING_DTYPE)
                    continue
        if as_json:
            data[name] = pd.array([_json_or_none(v) for v in values], dtype=_STRING_DTYPE)
        else:
            data[name] = _object_array(values)
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

    return _atomic_write(path, write)
