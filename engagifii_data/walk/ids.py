"""Which event ids can be fetched as details: one rule for the detail walk, ``event()`` and ``event_details``.

An id goes into the request path (``GET /api/1.0/event/{id}``), so only an id that cannot change the
path is sent: a non-empty string of at most :data:`MAX_ID_LENGTH` characters with no ``/``, ``\\``,
``?``, ``#``, ``%``, no ``..`` and not ``.``, no whitespace, no control or invisible format characters;
an ASCII id holds only letters, digits and ``-_.{}~:;,+=@!$&'()*`` (a GUID, with or without braces,
passes; a list or object the frame wrote as JSON text does not).
A listing row whose id fails the rule is skipped (counted as ``details_skipped`` in the walk report);
an id a caller names explicitly and that fails it is a ``ValueError``. Ids that pass are still
URL-quoted when the path is built (:func:`engagifii_data.endpoints.event_path`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Any, Final

__all__ = ["MAX_ID_LENGTH", "detail_id", "fetchable_ids"]

#: Longest id sent (GUIDs have 36 characters; braces 38).
MAX_ID_LENGTH: Final = 200
#: Characters that end, escape or change a URL path segment (``\\`` is a separator to IIS and Azure).
_PATH_CHARACTERS: Final = frozenset("/\\?#%")
#: Unicode categories refused: controls, invisible format characters, separators (spaces, line breaks),
#: surrogates, unassigned and private-use code points.
_REFUSED_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})


def detail_id(value: Any) -> str | None:
    """The id as it is sent in ``GET /event/{id}``, or None when it must not be requested.

    Parameters
    ----------
    value : Any
        A listing row's ``id`` (a frame cell: text, None, NA, or whatever the server sent).

    Returns
    -------
    str or None
        ``value`` unchanged when it is a sane id (see the module docstring), else None.
    """
    if not isinstance(value, str) or not value or len(value) > MAX_ID_LENGTH:
        return None
    if value == "." or ".." in value or not _PATH_CHARACTERS.isdisjoint(value):
        return None
    if value.isascii():
        if not all(c.isalnum() or c in "-_.{}~:;,+=@!$&'()*" for c in value):
            return None
    elif any(c.isspace() or unicodedata.category(c) in _REFUSED_CATEGORIES for c in value):
        return None
    return value


def fetchable_ids(values: Iterable[Any]) -> tuple[list[str], int]:
    """The ids to fetch, de-duplicated in order (first occurrence kept), and how many were skipped.

    Parameters
    ----------
    values : iterable
        Ids as listed (e.g. ``df["id"]``).

    Returns
    -------
    (list of str, int)
        The distinct ids that pass :func:`detail_id`, and the count of values that did not (each
        failing value counts, duplicates included: they are rows left without a detail).
    """
    out: dict[str, None] = {}
    skipped = 0
    for value in values:
        eid = detail_id(value)
        if eid is None:
            skipped += 1
        else:
            out.setdefault(eid, None)
    return list(out), skipped
