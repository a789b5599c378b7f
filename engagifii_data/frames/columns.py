"""Event records -> the raw values of a batch, column by column (flattened like ``json_normalize``).

:func:`raw_columns` gives, for one batch, every declared wire column and every unknown field as the
values the records hold, before any conversion. Most batches are plain JSON whose objects hold only
declared fields: then Arrow reads every text and datetime column (the declared ``string`` and
``datetime64`` columns, those of ``location`` and ``createdBy`` included) straight from the dicts in
one C-level pass (``pa.array(records, type=<struct>)``), and the other columns are taken in Python.
When Arrow refuses a value there (a number where text is declared...), those columns are taken in
Python too; a batch that flattening would reshape (nested unknown objects, a non-object where an
object is declared) is flattened record by record. All three give the same values
(``tests/test_fast_paths.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from itertools import filterfalse, repeat
from typing import Any, Final

import pyarrow as pa

from .schema import DATETIME_UTC, EVENT_COLUMNS, LIST_COLUMNS, OBJECT_PREFIXES, STRING, TZ_COLUMN, WIRE_COLUMNS

_PLAIN: Final = frozenset({str, int, float, bool, list, type(None)})  # JSON types that are not objects
_DICT_OR_NONE: Final = frozenset({dict, type(None)})
#: Declared list columns: an object there is an item, never flattened.
_LIST_NAMES: Final = frozenset(LIST_COLUMNS)

#: Declared wire columns that are top-level fields, and declared object fields -> their sub-fields.
_TOP_LEAVES: Final[tuple[str, ...]] = tuple(c for c in WIRE_COLUMNS if "." not in c)
_NESTED: Final[dict[str, tuple[str, ...]]] = {
    prefix: tuple(c.split(".", 1)[1] for c in EVENT_COLUMNS if c.startswith(f"{prefix}."))
    for prefix in dict.fromkeys(c.split(".", 1)[0] for c in EVENT_COLUMNS if "." in c)
}
_NESTED_KEYS: Final[dict[str, frozenset[str]]] = {prefix: frozenset(subs) for prefix, subs in _NESTED.items()}
_TOP_KEYS: Final[frozenset[str]] = frozenset(_TOP_LEAVES) | OBJECT_PREFIXES

#: Declared columns read as text by Arrow when a batch allows it (the zones are needed as sent).
_TEXT_COLUMNS: Final[frozenset[str]] = frozenset(
    c for c, t in EVENT_COLUMNS.items() if t in (STRING, DATETIME_UTC) and c != TZ_COLUMN
)


def _text_struct() -> tuple[pa.StructType, list[str]]:
    """The Arrow struct of the text columns (objects as nested structs), and its columns in leaf order."""
    top = [pa.field(c, pa.large_string()) for c in _TOP_LEAVES if c in _TEXT_COLUMNS]
    leaves = [f.name for f in top]
    for prefix, subs in _NESTED.items():
        texts = [s for s in subs if f"{prefix}.{s}" in _TEXT_COLUMNS]
        if texts:
            top.append(pa.field(prefix, pa.struct([pa.field(s, pa.large_string()) for s in texts])))
            leaves.extend(f"{prefix}.{s}" for s in texts)
    return pa.struct(top), leaves


_TEXT_STRUCT, _TEXT_LEAVES = _text_struct()

#: Raw values per column: a list, or (text columns read by Arrow) a ``large_string`` array.
RawColumns = dict[str, Any]


def _flatten_into(out: dict[str, Any], obj: Mapping[str, Any], prefix: str) -> None:
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if name in _LIST_NAMES:
            out[name] = value  # one object where a list is declared is a list of one (values.to_list)
        elif type(value) is dict or (type(value) not in _PLAIN and isinstance(value, Mapping)):
            _flatten_into(out, value, f"{name}.")
        elif value is None and not prefix and name in OBJECT_PREFIXES:
            continue  # "location": null -> every location.* stays NA
        else:
            out[name] = value


def _flatten(record: Mapping[str, Any], index: int) -> dict[str, Any]:
    if not isinstance(record, Mapping):
        raise TypeError(f"event record #{index} is {type(record).__name__}, expected a JSON object (dict)")
    out: dict[str, Any] = {}
    _flatten_into(out, record, "")
    return out


def _flattened(records: Sequence[Any], start: int) -> tuple[RawColumns, dict[str, None]]:
    """Record-by-record flattening: the general path for batches :func:`_plain_columns` declines."""
    extra: dict[str, None] = {}
    flat = [_flatten(r, start + i) for i, r in enumerate(records)]
    for row in flat:
        for key in row:
            if key not in WIRE_COLUMNS:
                extra.setdefault(key, None)
    return {key: [row.get(key) for row in flat] for key in (*WIRE_COLUMNS, *extra)}, extra


def _unknown_fields(records: Sequence[dict[str, Any]]) -> dict[str, None] | None:
    """Unknown top-level fields in order of first appearance; None when one has a declared column's name."""
    extra: dict[str, None] = {}
    known = _TOP_KEYS.issuperset
    for record in filterfalse(known, records):  # the few records with unknown fields
        for key in record:
            if key not in _TOP_KEYS:
                extra.setdefault(key, None)
    if not extra.keys().isdisjoint(EVENT_COLUMNS):
        return None  # a top-level "location.city" or "naiveDateTimes" key: let flattening decide
    return extra


def _objects(records: Sequence[dict[str, Any]]) -> dict[str, list[Any] | None] | None:
    """Per declared object field, each record's object ({} when null/missing), None when no record has
    one (the listing's ``contacts``); None if an object is not a plain dict of declared fields."""
    get: Callable[[dict[str, Any], str], Any] = dict.get
    empty: dict[str, Any] = {}
    objects: dict[str, list[Any] | None] = {}
    for prefix in _NESTED:
        values = list(map(get, records, repeat(prefix)))
        if values.count(None) == len(values):
            objects[prefix] = None
            continue
        if not _DICT_OR_NONE.issuperset(map(type, values)):
            return None
        values = [empty if o is None else o for o in values]  # a null object: every sub-field NA
        if not _NESTED_KEYS[prefix].issuperset(set().union(*values)):
            return None
        objects[prefix] = values
    return objects


def _arrow_texts(records: Sequence[dict[str, Any]]) -> RawColumns:
    """The text columns read by Arrow in one pass, or {} when it refuses a value (not text, not null)."""
    try:
        struct = pa.array(records, type=_TEXT_STRUCT)
    except (pa.ArrowException, TypeError, ValueError, UnicodeError):
        return {}
    leaves: list[pa.Array] = []
    for child in struct.flatten():
        leaves.extend(child.flatten() if isinstance(child, pa.StructArray) else [child])
    return dict(zip(_TEXT_LEAVES, leaves, strict=True))


def _plain_columns(records: Sequence[Any]) -> tuple[RawColumns, dict[str, None]] | None:
    """Column-wise raw values of a batch and its unknown columns, or None for per-record flattening.

    Applies when every record is a plain ``dict``, every declared object field is a ``dict`` with only
    declared sub-fields (or null/missing), and every value is a plain JSON scalar or list (unknown
    top-level fields included) -- batches that :func:`_flatten` would not reshape. The result is then
    what flattening gives.
    """
    if any(type(record) is not dict for record in records):
        return None
    extra = _unknown_fields(records)
    objects = _objects(records) if extra is not None else None
    if extra is None or objects is None:
        return None
    plain = _PLAIN.issuperset
    get: Callable[[dict[str, Any], str], Any] = dict.get
    columns = _arrow_texts(records)
    for column in (*extra, *_TOP_LEAVES):
        if column not in columns:
            values = list(map(get, records, repeat(column)))
            if not plain(map(type, values)):
                return None
            columns[column] = values
    for prefix, subs in _NESTED.items():
        held = objects[prefix]
        for sub in subs:
            name = f"{prefix}.{sub}"
            if held is None:
                columns[name] = [None] * len(records)
            elif name not in columns:
                values = list(map(get, held, repeat(sub)))
                if not plain(map(type, values)):
                    return None
                columns[name] = values
    return columns, extra


def raw_columns(records: Sequence[Any], start: int = 0) -> tuple[RawColumns, dict[str, None]]:
    """The raw values of one batch, per column, and its unknown columns in order of first appearance.

    Parameters
    ----------
    records : sequence
        The batch's event records.
    start : int
        The number of the batch's first record (for the error message).

    Returns
    -------
    (dict, dict)
        ``{column: values}`` for every declared wire column and every unknown one (a list, or a
        ``large_string`` Arrow array for a text column Arrow read), and the unknown column names.

    Raises
    ------
    TypeError
        A record is not a mapping.
    """
    return _plain_columns(records) or _flattened(records, start)
