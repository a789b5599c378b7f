"""List cells as report text (CSV and Excel), and back: one rule, written and read in one place.

A list is written as its elements joined with the separator (``"; "`` by default: ``CLE; Members``)
when that text reads back unambiguously: every element is text, none contains the separator, the
joined text is not empty and does not start with ``[``. Any other list -- an empty list, a list of
objects, numbers or nulls, an element holding the separator -- is written as the compact JSON of the
whole list (``[]``, ``[{"id":"..."}]``, ``["a; b"]``). Reading back (:func:`parse_list`): an empty cell
is NA (None), a cell starting with ``[`` that is a JSON list is that list, anything else is split at
the separator. So ``None``, ``[]`` and ``[""]`` stay apart, and every list comes back equal.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..frames.values import json_text


def plain(value: Any) -> Any:
    """``value`` with every numpy array and tuple inside it turned into a list (JSON-able as a list)."""
    if isinstance(value, np.ndarray):
        return [plain(v) for v in value.tolist()]
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def list_text(items: Iterable[Any], separator: str = "; ") -> str:
    """The report text of one list cell (see the module docstring)."""
    if not separator:
        raise ValueError("the list separator must not be empty")
    values = plain(list(items))
    if values and all(type(v) is str and separator not in v for v in values):
        joined = separator.join(values)
        if joined and not joined.startswith("["):
            return joined
    return json_text(values)


def parse_list(text: str, separator: str = "; ") -> list[Any] | None:
    """The list a report cell written by :func:`list_text` holds (None for an empty cell)."""
    if not text:
        return None
    if text.startswith("["):
        try:
            value = json.loads(text)
        except ValueError:
            pass
        else:
            if isinstance(value, list):
                return value
    return text.split(separator)
