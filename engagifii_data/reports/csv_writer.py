"""CSV reports: UTF-8 with BOM, RFC 4180 quoting, formula neutralisation (and its exact inverse)."""

from __future__ import annotations

import codecs
import csv
import io
import os
import unicodedata
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Final

import numpy as np
import pandas as pd

from ..frames.values import is_missing, json_text
from ..text import REPLACEMENT
from .columns import select_columns, wall_clock_rows
from .files import atomic_write, continues_a_file
from .lists import list_text
from .walk_report import refuse_incomplete

#: The one datetime format of CSV reports: UTC, microseconds, literal ``Z`` (e.g.
#: ``2023-04-26T17:00:00.825701Z``). ``%f`` has 6 digits: a 7th (100 ns) digit is truncated in CSV.
DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
#: Values whose zone is unknown (see "Unknown time zones" in :mod:`engagifii_data.frames.schema`):
#: their wall-clock digits, without ``Z`` or an offset (e.g. ``2023-04-26T13:00:00.000000``).
NAIVE_DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"
# --------------------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------------------

_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")

#: Codec error handler: text that cannot be encoded (a lone surrogate in a frame built by hand; the
#: client repairs answers as they are decoded) is written as U+FFFD instead of failing the report.
REPLACE_BROKEN_TEXT: Final = "engagifii-replace"


def _replace_broken_text(exc: UnicodeError) -> tuple[bytes, int]:
    # the UTF-8 encoder takes only ASCII text or bytes from a handler: U+FFFD as its UTF-8 bytes
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    return REPLACEMENT.encode() * (exc.end - exc.start), exc.end


codecs.register_error(REPLACE_BROKEN_TEXT, _replace_broken_text)


def _invisible(char: str) -> bool:
    """Whitespace, or a character a spreadsheet may skip unseen (format, control, separator)."""
    return char.isspace() or unicodedata.category(char) in ("Cf", "Cc", "Zs", "Zl", "Zp", "Mn")


def _first_visible(text: str) -> int:
    """Index of the first character of ``text`` that is not invisible, or a TAB or CR (themselves
    formula starts: they stop the skip); ``len(text)`` if none."""
    start = 0
    while start < len(text) and text[start] not in "\t\r" and _invisible(text[start]):
        start += 1
    return start


def formula_probe(text: str) -> str:
    """What a spreadsheet may see first in ``text``: invisible characters skipped, NFKC applied.

    Every leading invisible character is skipped, however many (no fixed prefix length: 10,000
    zero-width spaces before ``=`` are still a formula), in one pass: linear in the text's length.
    NFKC may itself give an invisible character (a compatibility space): those are skipped too.
    """
    start = _first_visible(text)
    head = unicodedata.normalize("NFKC", text[start : start + 8])
    return head[_first_visible(head) :]


def neutralize_formula(text: str) -> str:
    """Prefix ``'`` to a text cell a spreadsheet could read as a formula (OWASP CSV injection).

    Besides a first character in ``= + - @ TAB CR``, importers skip leading whitespace and invisible
    characters (zero-width space, BOM, word joiner, soft hyphen, direction marks, other format
    characters), and Excel in East Asian locales reads full-width ``＝ ＋ － ＠``: the check is made on
    the NFKC form of the text after those leading characters (:func:`formula_probe`).
    """
    if text.startswith(_FORMULA_START):
        return "'" + text
    if text and (not text[0].isascii() or text[0].isspace()) and formula_probe(text).startswith(_FORMULA_START):
        return "'" + text
    return text


def escape_text(text: str) -> str:
    """:func:`neutralize_formula`, made exactly reversible by :func:`restore_text`.

    A text that already starts with ``'`` followed by a formula-like text (``'=1``) gets one more
    ``'``, so that reading back can tell the quote the writer added from one that was in the data.
    """
    if text[:1] == "'":
        bare = text.lstrip("'")
        return "'" + text if neutralize_formula(bare) != bare else text
    return neutralize_formula(text)


def restore_text(text: str) -> str:
    """The text :func:`escape_text` was given: the one ``'`` it added is removed, nothing else."""
    if text[:1] == "'":
        bare = text.lstrip("'")
        if neutralize_formula(bare) != bare:
            return text[1:]
    return text


def naive_format(datetime_format: str) -> str:
    """``datetime_format`` without its zone: a trailing literal ``Z``, ``%z`` or ``%Z`` is removed."""
    for suffix in ("Z", "%z", "%Z"):
        if datetime_format.endswith(suffix) and not datetime_format.endswith("%" + suffix):
            return datetime_format.removesuffix(suffix)
    return datetime_format


def cell_text(value: Any, separator: str, datetime_format: str) -> tuple[str, bool]:
    """One object-column value -> (CSV text, whether it is text subject to formula neutralisation).

    A datetime without a zone is written with :func:`naive_format` (never as UTC).
    """
    if isinstance(value, str):
        return value, True
    if isinstance(value, list | tuple | np.ndarray):
        return list_text(value, separator), True
    if isinstance(value, Mapping):
        return json_text(value), True
    if is_missing(value):
        return "", False
    if isinstance(value, bool | np.bool_):
        return ("true" if value else "false"), False
    if isinstance(value, int | float | Decimal | np.number):
        return str(value), False
    if isinstance(value, datetime):
        stamp = pd.Timestamp(value)
        if stamp.tzinfo is None:
            return stamp.strftime(naive_format(datetime_format)), False
        return stamp.tz_convert("UTC").strftime(datetime_format), False
    return str(value), True


def _csv_column(
    series: pd.Series, neutralize: bool, separator: str, datetime_format: str, wall_clock: np.ndarray | None
) -> list[str]:
    dtype = series.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype):
        if isinstance(dtype, pd.DatetimeTZDtype):
            series = series.dt.tz_convert("UTC")
            texts = series.dt.strftime(datetime_format).to_numpy(dtype=object)
            if wall_clock is not None and wall_clock.any():  # no known zone: digits only, never as UTC
                texts[wall_clock] = series[wall_clock].dt.strftime(naive_format(datetime_format)).to_numpy(dtype=object)
        else:  # a column without any zone: wall-clock digits, no Z
            texts = series.dt.strftime(naive_format(datetime_format)).to_numpy(dtype=object)
        texts[series.isna().to_numpy()] = ""
        out: list[str] = texts.tolist()
        return out
    if pd.api.types.is_bool_dtype(dtype):
        return ["" if is_missing(v) else ("true" if v else "false") for v in series.tolist()]
    if pd.api.types.is_numeric_dtype(dtype):
        return ["" if is_missing(v) else str(v) for v in series.tolist()]
    if isinstance(dtype, pd.StringDtype):
        texts = ["" if is_missing(v) else v for v in series.tolist()]
        return [escape_text(t) for t in texts] if neutralize else texts
    out = []
    for value in series.tolist():
        text, is_text = cell_text(value, separator, datetime_format)
        out.append(escape_text(text) if neutralize and is_text else text)
    return out


def export_csv(
    df: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    neutralize_formulas: bool = True,
    list_separator: str = "; ",
    datetime_format: str = DATETIME_FORMAT,
    allow_incomplete: bool = False,
    columns: str = "all",
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
      truncated). A value whose zone is unknown -- named in its row's ``naiveDateTimes`` cell, or in
      a datetime column without a zone -- is never written as UTC: its wall-clock digits are written
      with ``datetime_format`` minus its trailing ``Z`` (:data:`NAIVE_DATETIME_FORMAT`,
      ``2023-04-26T13:00:00.000000``).
    * Lists (``tags``, ``eventDates`` ...) -> the elements joined with ``list_separator`` when they
      are texts that read back unambiguously, else the compact JSON of the whole list (``[]``,
      ``[{"id":"...","city":"..."}]``); the rule is in :mod:`engagifii_data.reports.lists`. Dicts ->
      compact JSON.
    * Formula neutralisation (OWASP CSV injection): with ``neutralize_formulas`` (default) every *text*
      cell (string columns, text in object columns, joined lists, header names) starting with ``=``,
      ``+``, ``-``, ``@``, TAB or CR (also behind blanks or invisible characters) gets a leading
      ``'``; so does a text starting with ``'`` followed by such a text, which makes the rule exactly
      reversible (:func:`restore_text`, used by :func:`~engagifii_data.reports.read_report`). Numbers,
      booleans and datetimes are never changed (a price of ``-5.0`` stays ``-5.0``).

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
    columns : {"all", "declared"}, default "all"
        ``"declared"``: only the leading ``tenant`` column and the declared columns, a header that
        never changes whatever fields the API adds.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    ValueError
        ``df`` is the partial result of a walk that did not complete, and ``allow_incomplete`` is
        False: a report must never look complete when it is not; or ``columns`` is unknown.
    OSError
        The file could not be written; the temp file is removed and any previous file is untouched.
    """
    refuse_incomplete(df, allow_incomplete)
    df = select_columns(df, columns)
    names = [str(c) for c in df.columns]
    header = [escape_text(h) for h in names] if neutralize_formulas else names
    wall_clock = wall_clock_rows(df)
    cells = [
        _csv_column(df.iloc[:, i], neutralize_formulas, list_separator, datetime_format, wall_clock.get(name))
        for i, name in enumerate(names)
    ]

    encoding = "utf-8" if continues_a_file(path) else "utf-8-sig"  # no BOM after what `>>` appends to

    def write(raw: IO[bytes]) -> None:
        text = io.TextIOWrapper(raw, encoding=encoding, errors=REPLACE_BROKEN_TEXT, newline="", write_through=True)
        try:
            writer = csv.writer(text, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
            writer.writerow(header)
            writer.writerows(zip(*cells, strict=True))
            text.flush()
        finally:
            text.detach()  # leave the binary file open for fsync

    return atomic_write(path, write)
