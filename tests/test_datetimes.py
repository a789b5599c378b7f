"""The datetime reader against a per-value reference built on ``datetime`` and ``zoneinfo``.

The reader (:mod:`engagifii_data.frames.datetimes`) parses whole columns with Arrow and rewrites only
the values that are not in the wire's canonical form. The reference below reads one value at a time,
with none of the reader's code: a regex for the accepted forms, ``datetime(...)`` to refuse impossible
dates and times, the offset applied as written, ``zoneinfo`` with ``fold=0`` for naive values in a
known zone. They must agree on every value: generated shapes (hypothesis), the hard cases listed here
and every seeded sandbox tenant.
"""

from __future__ import annotations

import math
import re
import zoneinfo
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tzlocal.windows_tz import win_tz

from engagifii_data import sandbox
from engagifii_data.frames import DATETIME_COLUMNS, datetimes, events_frame

# -- the reference ----------------------------------------------------------------------------------

_ACCEPTED = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}(?::?\d{2})?)?)?", re.ASCII
)
_EPOCH = datetime(1970, 1, 1)
_WINDOWS = {name.lower(): iana for name, iana in win_tz.items()}


def _zone(raw: Any) -> zoneinfo.ZoneInfo | None:
    if not isinstance(raw, str) or not raw.strip():
        return None
    name = _WINDOWS.get(raw.strip().lower(), raw.strip())
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return None


def reference(value: Any, zone: Any) -> tuple[int | None, bool, bool]:
    """One value -> (UTC nanoseconds since the epoch or None, coerced, naive of no known zone)."""
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None, False, False
    if isinstance(value, datetime | date):
        text = value.isoformat()
    elif isinstance(value, str):
        text = value.strip().upper().replace(",", ".")
    else:
        return None, True, False
    match = _ACCEPTED.fullmatch(text)
    if not text or match is None:
        return None, bool(text), False
    year, month, day, hour, minute, second, fraction, tz = match.groups()
    if int(year) == 1:
        return None, False, False  # "not set"
    if not 1678 <= int(year) <= 2261:
        return None, True, False
    try:
        wall = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0))
    except ValueError:
        return None, True, False
    nanos = (wall - _EPOCH) // timedelta(microseconds=1) * 1000 + int((fraction or "")[:9].ljust(9, "0"))
    if tz == "Z":
        return nanos, False, False
    if tz:
        digits = tz[1:].replace(":", "")
        minutes = int(digits[:2]) * 60 + int(digits[2:] or 0)
        return nanos - (-minutes if tz[0] == "-" else minutes) * 60_000_000_000, False, False
    known = _zone(zone)
    if known is None:
        return nanos, False, True
    offset = wall.replace(tzinfo=known).utcoffset()  # fold=0: the first instant, the offset before a gap
    assert offset is not None
    return nanos - offset // timedelta(microseconds=1) * 1000, False, False


def assert_reads_like_the_reference(columns: list[list[Any]], zones: list[Any]) -> None:
    reads = datetimes.read_datetime_columns(columns, zones)
    for values, read in zip(columns, reads, strict=True):
        expected = [reference(v, z) for v, z in zip(values, zones, strict=True)]
        got = [None if np.isnat(v) else int(v.astype("int64")) for v in read.values]
        assert got == [e[0] for e in expected], list(zip(values, zones, strict=True))
        assert read.coerced == sum(e[1] for e in expected)
        assert read.unknown.tolist() == [i for i, e in enumerate(expected) if e[2]]


# -- generated values -------------------------------------------------------------------------------

_DIGITS = st.text("0123456789", min_size=2, max_size=2)
_YEARS = st.sampled_from(["0001", "1600", "1677", "1678", "1970", "2024", "2261", "2262", "9999"])
_FRACTION = st.one_of(st.just(""), st.text("0123456789", min_size=1, max_size=12).map(lambda d: "." + d))
_OFFSET = st.one_of(
    st.just(""), st.just("Z"), st.tuples(st.sampled_from("+-"), _DIGITS, _DIGITS).map(lambda t: f"{t[0]}{t[1]}:{t[2]}")
)
#: ``YYYY-MM-DDThh:mm:ss[.f][Z|±hh:mm]`` with any two digits in every field: valid, impossible (month
#: 13, February 30, hour 24, second 60, offset +24:00) and out-of-range (years 1600, 2262) values alike.
CANONICAL_ISH = st.builds(
    lambda y, mo, d, h, mi, s, f, o: f"{y}-{mo}-{d}T{h}:{mi}:{s}{f}{o}",
    _YEARS,
    _DIGITS,
    _DIGITS,
    _DIGITS,
    _DIGITS,
    _DIGITS,
    _FRACTION,
    _OFFSET,
)
_REAL_DATE = st.dates(min_value=date(1600, 1, 1), max_value=date(2300, 12, 31))
_SMALL_OFFSET = st.tuples(st.sampled_from("+-"), st.integers(0, 23), st.integers(0, 59))
#: The other accepted forms of real dates: blanks, a space or ``t``, no seconds, a decimal comma,
#: ``z``, offsets without a colon or without minutes, date only.
ODD = st.builds(
    lambda day, hms, sep, seconds, fraction, comma, zone, pad: (
        f"{pad}{day.isoformat()}"
        + ("" if hms is None else f"{sep}{hms[0]:02d}:{hms[1]:02d}" + (f":{hms[2]:02d}" if seconds else ""))
        + (f"{',' if comma else '.'}{fraction}" if hms is not None and seconds and fraction else "")
        + ("" if hms is None else zone)
        + pad
    ),
    _REAL_DATE,
    st.one_of(st.none(), st.tuples(st.integers(0, 24), st.integers(0, 59), st.integers(0, 60))),
    st.sampled_from(["T", " ", "t"]),
    st.booleans(),
    st.text("0123456789", min_size=0, max_size=12),
    st.booleans(),
    st.one_of(
        st.sampled_from(["", "Z", "z", "+00:00"]),
        _SMALL_OFFSET.map(lambda o: f"{o[0]}{o[1]:02d}{o[2]:02d}"),
        _SMALL_OFFSET.map(lambda o: f"{o[0]}{o[1]:02d}"),
    ),
    st.sampled_from(["", " ", "\t", "\u3000"]),
)
OBJECTS = st.one_of(
    st.datetimes(min_value=datetime(1600, 1, 1), max_value=datetime(2300, 1, 1)),
    st.datetimes(min_value=datetime(1700, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)),
    st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)),
)
JUNK = st.one_of(st.text(max_size=8), st.integers(), st.just(float("nan")), st.just([1]), st.just(True))
VALUE = st.one_of(st.none(), CANONICAL_ISH, CANONICAL_ISH, ODD, OBJECTS, JUNK)
ZONES = st.sampled_from(
    [None, "Eastern Standard Time", " eastern standard time ", "Asia/Kolkata", "Europe/Oslo", "Not/AZone", "", 5]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), width=st.integers(1, 3), rows=st.integers(1, 12))
def test_the_reader_equals_the_reference(data: st.DataObject, width: int, rows: int) -> None:
    canonical = data.draw(st.booleans())  # columns of canonical texts only: the reader's usual case
    value = st.one_of(st.none(), CANONICAL_ISH) if canonical else VALUE
    columns = [data.draw(st.lists(value, min_size=rows, max_size=rows)) for _ in range(width)]
    zones = data.draw(st.lists(ZONES, min_size=rows, max_size=rows))
    assert_reads_like_the_reference(columns, zones)


# -- hard cases -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "2023-04-26T17:00:00.8257013Z",
        "2024-01-01T00:00:00+05:30",
        "2024-07-01T12:00:00",
        "0001-01-01T00:00:00",
        "0001-12-31T23:59:59.9999999",
        "2023-02-29T00:00:00",  # no such day
        "2024-01-01T24:00:00Z",  # hour 24
        "2024-01-01T10:00:60",  # second 60
        "1600-01-01T00:00:00Z",  # outside datetime64[ns]
        "1677-12-31T23:59:59",  # in datetime64[ns], but not a whole year of it
        "1678-01-01T00:00:00+14:00",
        "2261-12-31T23:59:59.999999999-14:00",
        "2262-01-01T00:00:00",
        "2024-01-01T10:00:00+24:00",  # an offset Arrow does not take: applied as written
        "2024-01-01T10:00:00-05:75",
        "2024-02-30T10:00:00+24:00",  # ...but not on a day that does not exist
        "2024-01-01 10:00",
        "2024-01-01t10:00:00z",
        " 2024-01-01T10:00:00Z ",
        "2024-01-01T10:00:00,5",
        "2024-01-01T10:00:00+0530",
        "2024-01-01T10:00:00-05",
        "2024-01-01T10:00:00.1234567891234",
        "2024-01-01",
        "2024-01-01Z",
        "2024-01-01T10:00:00.",
        "2024-01-01T10",
        "\u0662\u0660\u0662\u0664-01-01T00:00:00",  # not ASCII digits
        "x\ud800y",  # a lone surrogate
        "",
        "   ",
        "garbage",
        None,
        float("nan"),
        12345,
        True,
        [2024],
        datetime(2024, 1, 2, 3, 4, 5),
        datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=-3))),
        datetime(2024, 1, 2, tzinfo=timezone(timedelta(seconds=30))),  # an offset in seconds: refused
        date(2024, 1, 2),
        pd.Timestamp("2024-01-02T03:04:05.123456789Z"),
        pd.NaT,
    ],
)
@pytest.mark.parametrize("zone", [None, "America/New_York", "Nowhere"])
def test_hard_cases(value: Any, zone: Any) -> None:
    assert_reads_like_the_reference([[value]], [zone])  # alone
    canonical = ["2024-05-01T09:00:00Z", None, "2024-05-01T09:00:00"]
    assert_reads_like_the_reference([[*canonical, value], [value, *canonical]], [zone] * 4)  # with others


def test_zone_edges() -> None:
    values = ["2023-11-05T01:30:00", "2023-03-12T02:30:00", "2024-07-01T12:00:00", "2024-07-01T12:00:00"]
    zones = ["America/New_York", "America/New_York", "Eastern Standard Time", "Asia/Kolkata"]
    (read,) = datetimes.read_datetime_columns([values], zones)
    assert [pd.Timestamp(v).isoformat() for v in read.values] == [
        "2023-11-05T05:30:00",  # ambiguous: the first (daylight) instant
        "2023-03-12T07:30:00",  # the skipped spring hour: the offset before the gap (EST)
        "2024-07-01T16:00:00",
        "2024-07-01T06:30:00",
    ]
    assert_reads_like_the_reference([values], zones)


def test_the_single_column_reader_leaves_zones_to_its_caller() -> None:
    values, naive, coerced = datetimes.read_datetimes(["2024-01-01T10:00:00", "2024-01-01T10:00:00Z", "x", None])
    assert naive.tolist() == [0] and coerced == 1
    assert values[0] == values[1] == np.datetime64("2024-01-01T10:00:00", "ns")


def test_a_refused_value_is_found_without_losing_its_neighbours() -> None:
    values = [f"2024-01-{day:02d}T00:00:00" for day in range(1, 29)] * 40
    values[333] = "2024-02-30T00:00:00"
    values[1000] = "2024-01-01T25:00:00Z"
    (read,) = datetimes.read_datetime_columns([values], [None] * len(values))
    assert read.coerced == 2
    assert np.isnat(read.values).nonzero()[0].tolist() == [333, 1000]
    assert_reads_like_the_reference([values], [None] * len(values))


# -- every seeded tenant ----------------------------------------------------------------------------


@pytest.mark.parametrize("detail", [False, True], ids=["list rows", "details"])
def test_every_seeded_tenant_reads_like_the_reference(detail: bool) -> None:
    data = sandbox.generate(detail=detail)
    for code in sorted(data):
        records = data[code]
        zones = [r.get("timeZone") for r in records]
        columns = [[r.get(c) for r in records] for c in DATETIME_COLUMNS]
        assert_reads_like_the_reference(columns, zones)
        df = events_frame(records)
        for column, values in zip(DATETIME_COLUMNS, columns, strict=True):
            expected = [reference(v, z) for v, z in zip(values, zones, strict=True)]
            got = [None if pd.isna(v) else v.value for v in df[column]]
            assert got == [e[0] for e in expected], (code, column)
            marked = [column in (cell or ()) for cell in df["naiveDateTimes"]]
            assert marked == [e[2] for e in expected], (code, column)
            assert df.attrs["engagifii_naive_datetimes"].get(column, 0) == sum(marked)
            assert df.attrs["engagifii_coerced"].get(column, 0) == sum(e[1] for e in expected)
