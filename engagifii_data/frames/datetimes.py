"""Wire datetimes -> ``datetime64[ns, UTC]`` values (no pandas frames, no HTTP).

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
3. naive with no recognised zone: its wall-clock digits are kept as if UTC (never the machine's
   local zone), the row's ``naiveDateTimes`` cell names the column (see "Unknown time zones" in
   :mod:`.schema`; the report writers never present such a value as UTC), and it is counted per
   column in ``df.attrs["engagifii_naive_datetimes"]`` (``{column: count}``, non-zero entries only);
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

Speed: string, count, money and flag columns whose values already have the wire type are
built by Arrow in one pass; other values take the converting path. A frame never depends on which
path ran (``tests/test_fast_paths.py`` compares both on every seeded sandbox tenant).
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from tzlocal.windows_tz import win_tz

from .values import BAD, is_missing

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
    """Raw wire value -> normalised ISO text, None for missing, BAD when it cannot be a datetime."""
    if is_missing(value):
        return None
    if isinstance(value, str):
        text = value.strip().upper()
        if not text:
            return None
        return _LONG_FRACTION_RE.sub(r"\1", text.replace(",", "."))
    if isinstance(value, datetime | date):
        return value.isoformat().upper()
    return BAD


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
DatetimeRead = tuple[np.ndarray, np.ndarray, int]


def read_datetimes(values: list[Any]) -> DatetimeRead:
    """Parse one datetime column of one batch value by value, any wire form ("Datetimes" above).

    Zones are applied afterwards, for every datetime column of the batch at once (:func:`localize`).
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
        match = None if text is BAD else _ISO_RE.match(text)
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


def localize(columns: Sequence[tuple[np.ndarray, np.ndarray]], zones: list[Any]) -> list[tuple[int, int]]:
    """:func:`localize_rows`, with the naive values of no known zone counted instead of listed.

    Returns
    -------
    list of (int, int)
        Per column: values coerced to NaT, and naive values with no known zone.
    """
    return [(coerced, len(unknown)) for coerced, unknown in localize_rows(columns, zones)]


def localize_rows(columns: Sequence[tuple[np.ndarray, np.ndarray]], zones: list[Any]) -> list[tuple[int, np.ndarray]]:
    """Apply the rows' time zones to the naive values of one batch's datetime columns (in place).

    Parameters
    ----------
    columns : sequence of (numpy.ndarray, numpy.ndarray)
        Per column: its ``M8[ns]`` values and the row numbers holding naive wall-clock times (as
        :func:`read_datetimes` gives them). Those values are replaced by their UTC instants.
    zones : list
        The batch's raw ``timeZone`` values, one per row.

    Returns
    -------
    list of (int, numpy.ndarray)
        Per column: values coerced to NaT (none in practice: a skipped spring hour is shifted, never
        dropped), and the row numbers (ascending) of naive values with no known zone (their digits are
        kept as if UTC).

    Notes
    -----
    One ``tz_localize`` per distinct zone per batch, over the naive values of every column at once:
    the per-call cost dominated when it ran per column.
    """
    if not any(len(naive) for _, naive in columns):
        return [(0, naive) for _, naive in columns]
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
    return [(coerced[i], naive[c == -1]) for i, ((_, naive), c) in enumerate(zip(columns, column_codes, strict=True))]


#: ``_CANONICAL_ISO_RE`` for Arrow (RE2), and its zone suffix.
_ARROW_AWARE: Final = r"(Z|[+-][0-9]{2}:[0-9]{2})$"
_ARROW_CANONICAL: Final = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})?$"
)
_ARROW_NULL: Final = pa.scalar(None, pa.string())


def arrow_read_datetimes(values: list[Any]) -> DatetimeRead | None:
    """:func:`read_datetimes` in a few Arrow calls, for a column whose values are all canonical.

    Applies when every value is None or a canonical ISO text (``_CANONICAL_ISO_RE``: the wire's usual
    ``2023-04-26T17:00:00.8257013Z`` / ``+05:30`` / naive form) with a year of 1 or within 1678-2261,
    and Arrow parses each one (it refuses February 30, hour 24, an offset of ``+24:00``...). Otherwise
    returns None and the caller takes the general path, so results never depend on which path ran
    (``tests/test_frames.py`` checks both give the same instants). About 10x faster per value than the
    general path.
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
    if not pc.all(
        pc.or_(unset, pc.and_(pc.greater_equal(years, _NS_YEARS.start), pc.less(years, _NS_YEARS.stop)))
    ).as_py():
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
