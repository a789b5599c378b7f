"""What a detail answer (``GET /api/1.0/event/{id}``) means: the event asked for, or an error.

- A 200 answer must be the event asked for: an object (bare, or wrapped in ``{"data": {...}}``) whose
  ``id`` is the requested one (GUIDs compared case-insensitively, braces ignored). An answer for
  another event, or with no id at all, cannot be credited to the row asked for: :func:`detail_event`
  raises :class:`PaginationError`, which the transport retries like an unparseable body and, when
  the attempts run out, ends the walk like a page that failed (never merged into the wrong row).
- A 404 means "this event no longer exists" only in the API's documented error envelope
  ``{"error": {"code", "message", ...}}``; a 404 in any other shape (a proxy's HTML page, an empty
  body, a wrong base path) is a configuration problem: :func:`~.errors.error_from_answer` makes it a
  plain :class:`ApiError`, not a :class:`NotFoundError` (:func:`is_api_envelope` decides).
"""

from __future__ import annotations

import re
from typing import Any

from ..exceptions import PaginationError, safe_text

__all__ = ["detail_event", "is_api_envelope", "same_id"]

#: The start of the documented error envelope, for a body cut at the error-body read limit.
_ENVELOPE_START = re.compile(rb'\A\s*\{\s*"error"\s*:\s*\{')


def is_api_envelope(parsed: Any, body: bytes = b"") -> bool:
    """True when an error answer is in the API's documented envelope ``{"error": {...}}``.

    Parameters
    ----------
    parsed : Any
        The decoded body, or None when it did not decode (e.g. cut at the read limit).
    body : bytes
        The raw body: when ``parsed`` is None, its start decides.
    """
    if isinstance(parsed, dict):
        return isinstance(parsed.get("error"), dict)
    return parsed is None and bool(_ENVELOPE_START.match(body[:256]))


def same_id(a: str, b: str) -> bool:
    """GUIDs compare case-insensitively and without braces (the API writes them lowercase)."""
    return a.strip().strip("{}").lower() == b.strip().strip("{}").lower()


def detail_event(data: Any, requested: str) -> dict[str, Any]:
    """The event of a 200 detail answer, checked to be the one asked for.

    Parameters
    ----------
    data : Any
        The decoded answer: the event, or ``{"data": {...event}}``.
    requested : str
        The id in the request path.

    Returns
    -------
    dict
        The event object.

    Raises
    ------
    PaginationError
        Not an object, no ``id``, or another event's id: merging it would credit its fields (its
        contacts) to the wrong event in a report that looks complete.
    """
    if isinstance(data, dict) and isinstance(data.get("data"), dict) and "id" not in data:
        data = data["data"]
    if not isinstance(data, dict):
        raise PaginationError(None, f"the detail of event {requested} is not an event object but {type(data).__name__}")
    got = data.get("id")
    if got is None or (isinstance(got, str) and not got.strip()):
        raise PaginationError(
            None, f"the detail asked for event {requested} answered an event without an id: it cannot be matched"
        )
    if isinstance(got, dict | list) or not same_id(str(got), requested):
        raise PaginationError(
            None,
            f"the detail asked for event {requested} answered event {safe_text(got, 60)}: "
            "its answers cannot be trusted",
        )
    return data
