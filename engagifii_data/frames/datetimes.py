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
5. unparseable (not ``YYYY-MM-DD[( |T)hh:mm[:ss[.fffffffff]]][Z|+hh[:mm]|-hh[:mm]]`` in ASCII digits,
   surrounding blanks, lower-case ``t``/``z`` and a decimal comma allowed, or an impossible date or time
   such as February 30 or hour 24) or a year outside 1678-2261 (the ``datetime64[ns]`` range) -> NaT,
   counted as coerced. ``datetime`` and ``date`` objects are read as their ISO text.

Fractions are kept to the nanosecond (the 7th digit survives in the frame; digits past the 9th are
dropped). An offset is applied as written (``+hh:mm`` is ``hh * 60 + mm`` minutes, whatever the
digits). Naive and aware values never meet in one parse, so mixed columns never raise "Mixed timezones
detected" (as ``pandas.to_datetime`` does).

How
---
One reader, :func:`read_datetime_columns`: the datetime columns of a batch are read together, as one
Arrow text array. A vectorised regex match finds the values not in the wire's canonical form
(``2023-04-26T17:00:00.8257013Z``, ``...+05:30`` or naive, at most 9 fractional digits); only those
are rewritten in that form in Python (a ``datetime`` object included). Arrow then parses the whole
array in two casts, one for the values with ``Z`` or an offset (-> UTC instants), one for the naive
ones (-> wall-clock times); only a cast that fails is split to find the values it refuses (February 30,
hour 24), and an offset Arrow does not take (``+24:00``) is applied by hand. Zones are then applied
with one ``tz_localize`` per distinct zone per batch, over every datetime column at once.
``tests/test_fast_paths.py`` checks the reader against a per-value reference built on
:mod:`datetime` and :mod:`zoneinfo`, on generated values and on every seeded sandbox tenant.
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Final, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from tzlocal.windows_tz import win_tz

from .values import BAD, is_missing

#: Whole years representable as ``datetime64[ns]`` (its range is 1677-09-21 .. 2262-04-11).
_NS_YEARS: Final = range(1678, 2262)
_WINDOWS_ZONES: Final[dict[str, str]] = {k.lower(): v for k, v in win_tz.items()}
_TEXT: Final = pa.large_string()
_STAMPS: Final = pa.timestamp("ns")
_STAMPS_UTC: Final = pa.timestamp("ns", "UTC")
_NULL_TEXT: Final = pa.scalar(None, _TEXT)
_NAT: Final = np.datetime64("NaT", "ns")
_STR_OR_NONE: Final = frozenset({str, type(None)})
#: Canonical texts from these (inclusive, exclusive) have a year in ``_NS_YEARS``.
_FIRST_YEAR: Final = f"{_NS_YEARS.start:04d}"
_PAST_YEAR: Final = f"{_NS_YEARS.stop:04d}"

# --------------------------------------------------------------------------------------------------
# Canonical text
# --------------------------------------------------------------------------------------------------

#: The wire's canonical form (RE2, for Arrow): what :func:`_canonical_text` gives.
_CANONICAL: Final = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})?$"
#: Every accepted form, once blanks are stripped, letters upper-cased and a decimal comma made a dot.
_WIRE_RE: Final = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})"
    r"(?:[T ](?P<hm>[0-9]{2}:[0-9]{2})(?::(?P<s>[0-9]{2})(?:\.(?P<f>[0-9]+))?)?"
    r"(?P<tz>Z|(?P<sign>[+-])(?P<oh>[0-9]{2})(?::?(?P<om>[0-9]{2}))?)?)?"
)


def _canonical_text(value: Any) -> Any:
    """One wire value in the canonical form; None when missing or blank, BAD when not a datetime.

    ``2024-01-01 10:00`` -> ``2024-01-01T10:00:00``, ``2024-01-01`` -> ``2024-01-01T00:00:00``,
    ``+0530`` / ``+05`` -> ``+05:30`` / ``+05:00``, ``z`` -> ``Z``, ``,5`` -> ``.5``, fractions cut
    to 9 digits; ``datetime`` and ``date`` objects through their ISO text. The date and time are not
    checked here (Arrow refuses February 30 when it parses the text).
    """
    if is_missing(value):
        return None
    if isinstance(value, str):
        text = value.strip().upper().replace(",", ".")
        if not text:
            return None
    elif isinstance(value, datetime | date):
        text = value.isoformat().upper()
    else:
        return BAD
    match = _WIRE_RE.fullmatch(text)
    if match is None:
        return BAD
    date_part, hm, seconds, fraction, tz = match.group("date", "hm", "s", "f", "tz")
    time = f"T{hm or '00:00'}:{seconds or '00'}" + (f".{fraction[:9]}" if fraction else "")
    if tz is not None and tz != "Z":
        tz = f"{match['sign']}{match['oh']}:{match['om'] or '00'}"
    return f"{date_part}{time}{tz or ''}"


def _text_array(values: Sequence[Any] | pa.Array) -> tuple[pa.Array, list[int]]:
    """``values`` as Arrow text, and the row numbers of the values that are not (UTF-8) text, null there."""
    if isinstance(values, pa.Array):
        return values.cast(_TEXT), []
    try:
        return pa.array(values, type=_TEXT, from_pandas=True), []
    except (pa.ArrowException, TypeError, ValueError, UnicodeError):
        texts = [v if _utf8(v) else None for v in values]
        others = [i for i, (v, t) in enumerate(zip(values, texts, strict=True)) if t is None and v is not None]
        return pa.array(texts, type=_TEXT), others


def _utf8(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        value.encode()
    except UnicodeEncodeError:  # a lone surrogate
        return False
    return True


def _canonical_texts(values: Sequence[Any] | pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Canonical texts (null: missing or not a datetime), and the mask of values that are not one."""
    texts, others = _text_array(values)
    canonical = pc.match_substring_regex(texts, _CANONICAL)
    bad = np.zeros(len(texts), dtype=bool)
    if not others and pc.all(canonical).as_py() is not False:
        return texts, bad  # the wire's usual case: nothing to rewrite
    mask = pc.invert(canonical).fill_null(False).to_numpy(zero_copy_only=False)
    mask[others] = True
    rows = np.flatnonzero(mask).tolist()
    fixed = [_canonical_text(values[i] if isinstance(values, Sequence) else texts[i].as_py()) for i in rows]
    bad[rows] = [f is BAD for f in fixed]
    replacements = pa.array([None if f is BAD else f for f in fixed], type=_TEXT)
    return pc.replace_with_mask(texts, pa.array(mask), replacements), bad


# --------------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------------


class _Read(NamedTuple):
    values: np.ndarray  # M8[ns]: UTC instants, and wall-clock times for naive values
    naive: np.ndarray  # bool: a naive value (its wall-clock time is in ``values``)
    coerced: np.ndarray  # bool: a value coerced to NaT


def _by_hand(text: str) -> Any:
    """An instant from a text with an offset Arrow does not take (``+24:00``, ``+05:75``), or None."""
    if text[-6] not in "+-":
        return None
    try:
        wall = pa.array([text[:-6]]).cast(_STAMPS).to_numpy(zero_copy_only=False)[0]
    except pa.ArrowInvalid:
        return None
    minutes = int(text[-5:-3]) * 60 + int(text[-2:])
    return wall - np.timedelta64(-minutes if text[-6] == "-" else minutes, "m")


def _cast(texts: pa.Array, aware: bool, bad: np.ndarray, start: int = 0) -> np.ndarray:
    """Parse texts (null or canonical) to ``M8[ns]``; a text Arrow refuses -> NaT, marked in ``bad``.

    ``aware``: the texts end in ``Z`` or an offset (-> UTC instants), else they are naive (-> wall-clock
    times). One cast for the whole array; only a failing cast is split in halves to find the refused
    values (February 30, hour 24).
    """
    try:
        return np.asarray(texts.cast(_STAMPS_UTC if aware else _STAMPS).to_numpy(zero_copy_only=False), "M8[ns]")
    except pa.ArrowInvalid:
        if len(texts) == 1:
            instant = _by_hand(texts[0].as_py()) if aware else None
            bad[start] = instant is None
            return np.array([_NAT if instant is None else instant], dtype="M8[ns]")
    half = len(texts) // 2
    left = _cast(texts.slice(0, half), aware, bad, start)
    return np.concatenate([left, _cast(texts.slice(half), aware, bad, start + half)])


def _read(values: Sequence[Any] | pa.Array) -> _Read:
    """Parse raw wire values (any form, "Datetimes" above) before zones are applied.

    A canonical text is told by its first and last characters: its year by string comparison, a
    ``Z`` at the end, an offset by the sign 6 characters from the end. Naive texts and the others
    are parsed apart.
    """
    texts, coerced = _canonical_texts(values)
    usable = pc.and_(pc.greater_equal(texts, _FIRST_YEAR), pc.less(texts, _PAST_YEAR)).fill_null(False)
    unset = pc.starts_with(texts, "0001").fill_null(False)  # .NET DateTime.MinValue: "not set"
    outside = pc.and_not(texts.is_valid(), pc.or_(usable, unset))
    coerced |= outside.to_numpy(zero_copy_only=False)
    sign = pc.utf8_slice_codeunits(texts, -6, -5)
    aware = pc.or_(pc.ends_with(texts, "Z"), pc.less(sign, ".")).fill_null(False)  # "+" and "-" sort before "."
    instants = _cast(pc.if_else(pc.and_(usable, aware), texts, _NULL_TEXT), True, coerced)
    walls = _cast(pc.if_else(pc.and_not(usable, aware), texts, _NULL_TEXT), False, coerced)
    is_aware = aware.to_numpy(zero_copy_only=False)
    return _Read(np.where(is_aware, instants, walls), ~is_aware & ~np.isnat(walls), coerced)


#: One datetime column of one batch as :func:`read_datetimes` gives it: (``M8[ns]`` values -- UTC
#: instants for values with ``Z``/an offset, wall-clock times for naive ones --, row numbers of the
#: naive values, count of values coerced to NaT).
DatetimeRead = tuple[np.ndarray, np.ndarray, int]


def read_datetimes(values: Sequence[Any]) -> DatetimeRead:
    """Parse one datetime column, any wire form ("Datetimes" above); no zones applied.

    For a caller that applies zones its own way (a report read back); frames use
    :func:`read_datetime_columns`.
    """
    read = _read(values)
    return read.values, np.flatnonzero(read.naive), int(read.coerced.sum())


class ColumnRead(NamedTuple):
    """One datetime column of a batch, zones applied."""

    values: np.ndarray  #: ``M8[ns]`` UTC instants (NaT for missing, "not set" and coerced values)
    unknown: np.ndarray  #: row numbers (ascending) of naive values of no known zone (digits kept)
    coerced: int  #: values coerced to NaT


def read_datetime_columns(columns: Sequence[Sequence[Any] | pa.Array], zones: Any) -> list[ColumnRead]:
    """Read the datetime columns of one batch together and apply the rows' zones ("Datetimes" above).

    Parameters
    ----------
    columns : sequence of (list or pyarrow.Array)
        Raw wire values per column, all of the batch's length ``n``.
    zones : list or pyarrow.Array
        The rows' raw ``timeZone`` values (Arrow: their text), length ``n``.

    Returns
    -------
    list of ColumnRead
        One per column, in order.
    """
    n = len(zones)
    if not columns:
        return []
    if n == 0:
        return [ColumnRead(np.empty(0, dtype="M8[ns]"), np.empty(0, dtype=np.intp), 0) for _ in columns]
    if len(columns) == 1:
        joined: Sequence[Any] | pa.Array = columns[0]
    elif all(isinstance(c, pa.Array) for c in columns):
        joined = pa.concat_arrays([c.cast(_TEXT) for c in columns])  # type: ignore[union-attr]
    else:
        joined = [v for c in columns for v in (c.to_pylist() if isinstance(c, pa.Array) else c)]
    read = _read(joined)
    codes, names = _zone_codes(zones)
    all_codes = np.tile(codes, len(columns))
    naive = np.flatnonzero(read.naive)
    read.coerced[naive] |= _localize(read.values, naive, all_codes[naive], names)
    unknown = naive[all_codes[naive] == -1]
    at = np.searchsorted(unknown, np.arange(len(columns) + 1) * n)
    coerced = read.coerced.reshape(len(columns), n).sum(axis=1)
    return [
        ColumnRead(read.values[k * n : (k + 1) * n], unknown[at[k] : at[k + 1]] - k * n, int(coerced[k]))
        for k in range(len(columns))
    ]


# --------------------------------------------------------------------------------------------------
# Zones
# --------------------------------------------------------------------------------------------------


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


def _zone_codes(zones: Any) -> tuple[np.ndarray, list[str]]:
    """Per row, the index of its IANA zone in the returned list, or -1 when it has no known zone.

    ``zones`` are raw ``timeZone`` values (only text can name a zone) or an Arrow text array. One
    lookup per distinct text.
    """
    if not isinstance(zones, pa.Array):
        texts = (
            zones if _STR_OR_NONE.issuperset(map(type, zones)) else [z if isinstance(z, str) else None for z in zones]
        )
        zones = pa.array(texts, type=_TEXT)
    encoded = pc.dictionary_encode(zones)
    names: dict[str, int] = {}
    lookup = []
    for text in encoded.dictionary.to_pylist():
        iana = _iana_zone(text)
        lookup.append(-1 if iana is None else names.setdefault(iana, len(names)))
    lookup.append(-1)  # a null zone
    indices = encoded.indices.fill_null(len(lookup) - 1).to_numpy(zero_copy_only=False)
    return np.asarray(lookup, dtype=np.intp)[indices], list(names)


def _localize(values: np.ndarray, rows: np.ndarray, codes: np.ndarray, names: list[str]) -> np.ndarray:
    """Replace the wall-clock times at ``rows`` by their instants in zone ``names[code]`` (in place).

    Rows of code -1 are left alone. Returns the mask (over ``rows``) of values that became NaT (none in
    practice: a skipped spring hour is shifted, never dropped). One ``tz_localize`` per zone: the
    per-call cost dominated when it ran per column.
    """
    lost = np.zeros(len(rows), dtype=bool)
    for k, name in enumerate(names):
        chosen = np.flatnonzero(codes == k)
        if not len(chosen):
            continue
        wall = values[rows[chosen]]
        local = pd.DatetimeIndex(wall).tz_localize(
            name, ambiguous=np.ones(len(wall), dtype=bool), nonexistent=pd.Timedelta(hours=1)
        )
        instants = local.asi8.view("M8[ns]")  # a zone-aware index holds UTC instants
        values[rows[chosen]] = instants
        lost[chosen] = np.isnat(instants)
    return lost
