"""Error answers in every shape, ``Retry-After``, and server text made safe to show."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

from ..exceptions import ApiError, RateLimitError, TenantNotFoundError, error_class_for, safe_text
from .decoding import declared_charset, decode_json, decode_text
from .detail import is_api_envelope
from .numbers import NotPlainNumber, plain_number

#: Longest server text quoted in an exception or shown to a person, in characters.
MAX_SERVER_TEXT = 300


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header, or ``None`` when it says nothing usable.

    Parameters
    ----------
    value : str or None
        ``delta-seconds`` (``"120"``, ``"1.5"``) or an HTTP date (``"Wed, 21 Oct 2015 07:28:00 GMT"``).
    now : float, optional
        The current POSIX time for an HTTP date (default: the clock).

    Returns
    -------
    float or None
        A positive number of seconds. Zero, negative, non-finite, unparseable or past dates give
        ``None`` (the caller's backoff applies), never an error (RFC 9110 section 10.2.3).
    """
    if not value:
        return None
    text = value.strip()  # header whitespace around the value is the header's, not the number's
    seconds: float | None
    try:
        seconds = float(plain_number(text, "Retry-After", fraction_in_strings=True))
    except NotPlainNumber:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None or when.tzinfo is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds or seconds in (float("inf"), float("-inf")) or seconds <= 0:
        return None
    return seconds


# -- server text ---------------------------------------------------------------------------------


def server_text(value: Any, limit: int = MAX_SERVER_TEXT) -> str:
    """Text that came from a server, safe to show: :func:`~engagifii_data.exceptions.safe_text`."""
    return safe_text(value, limit)


def _clean(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        value = json.dumps(value, ensure_ascii=False, default=str) if isinstance(value, dict | list) else str(value)
    return server_text(value) or None


# -- error answers -------------------------------------------------------------------------------


def html_title(page: bytes, encoding: str | None = None) -> str | None:
    """The text of the first ``<title>`` element of an HTML page, or None (linear: plain searches).

    A regular expression such as ``<title[^>]*>(.*?)</title>`` rescans the rest of the page from
    every ``<title`` it finds (quadratic on ``<title`` repeated); these are three forward searches on
    the bytes (ASCII-only lower-casing keeps every offset), each starting where the last one ended.
    """
    lowered = page.lower()
    start = lowered.find(b"<title")
    if start < 0:
        return None
    opened = lowered.find(b">", start + 6)
    if opened < 0:
        return None
    end = lowered.find(b"</title", opened + 1)
    if end < 0:
        return None
    return " ".join(decode_text(page[opened + 1 : end], encoding)[0].split())


def parse_error_body(body: bytes, headers: Mapping[str, str]) -> dict[str, str | Any]:
    """Extract ``code``, ``message``, ``trace_id`` and ``details`` from an error answer.

    Parameters
    ----------
    body : bytes
        The (size-limited) body of an answer with status >= 400.
    headers : mapping
        Its headers (case-insensitive mapping).

    Returns
    -------
    dict
        Keys ``code``, ``message``, ``trace_id`` (each a safe, short string or None: see
        :func:`server_text`) and ``details`` (the raw ``details``/``errors`` value, or None).

    Notes
    -----
    Shapes understood: the documented envelope ``{"error": {"code", "message", "details",
    "traceId"}}``; OAuth 2.0 ``{"error": "invalid_token", "error_description": ...}``; RFC 7807
    problem details (``title``, ``detail``, ``traceId``, ``errors``); HTML pages (the ``<title>``);
    anything else as a short excerpt.
    """
    out: dict[str, Any] = {"code": None, "message": None, "trace_id": None, "details": None}
    charset = declared_charset(headers.get("Content-Type"))
    try:
        parsed: Any = decode_json(body, charset).data if body else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        err = parsed.get("error")
        if isinstance(err, dict):
            out.update(
                code=err.get("code"),
                message=err.get("message"),
                details=err.get("details"),
                trace_id=err.get("traceId") or err.get("traceID"),
            )
        elif isinstance(err, str):
            out.update(code=err, message=parsed.get("error_description") or parsed.get("message"))
        elif "title" in parsed or "type" in parsed or "errors" in parsed:
            out.update(
                code=parsed.get("code") or parsed.get("title"),
                message=parsed.get("detail") or parsed.get("title"),
                details=parsed.get("errors"),
            )
        else:
            out.update(code=parsed.get("code"), message=parsed.get("message"))
        out["trace_id"] = out["trace_id"] or parsed.get("traceId") or parsed.get("traceID")
    else:
        excerpt = body[: MAX_SERVER_TEXT * 40]
        text = decode_text(excerpt, charset, cut=len(body) > len(excerpt))[0]
        if text.lstrip().startswith("<"):
            title = html_title(excerpt, charset)
            out["message"] = title if title is not None else "an HTML error page"
        elif text.strip():
            out["message"] = " ".join(text.split())
    if out["trace_id"] is None:
        out["trace_id"] = headers.get("traceId") or headers.get("x-trace-id")
    for key in ("code", "message", "trace_id"):
        out[key] = _clean(out[key])
    return out


def _in_api_envelope(body: bytes, headers: Mapping[str, str]) -> bool:
    try:
        parsed: Any = decode_json(body, declared_charset(headers.get("Content-Type"))).data if body else None
    except ValueError:
        parsed = None
    return is_api_envelope(parsed, body)


def error_from_answer(
    status: int,
    body: bytes,
    headers: Mapping[str, str],
    path: str,
    tenant: str | None = None,
    *,
    retry_after: float | None = None,
) -> ApiError:
    """The exception for an error answer, chosen from the status -> class table.

    A 403/404 whose code names the tenant is a :class:`TenantNotFoundError`; a 404 is a
    :class:`NotFoundError` only in the API's error envelope (any other 404 is a plain
    :class:`ApiError` naming the base URL: :mod:`.detail`); a 429 (or any retryable status whose
    ``Retry-After`` exceeded the cap) carries ``retry_after``.
    """
    info = parse_error_body(body, headers)
    cls = error_class_for(status)
    code = info["code"] or ""
    if status in (403, 404) and "TENANT" in code.upper():
        cls = TenantNotFoundError
    message = info["message"]
    if cls is TenantNotFoundError and tenant and message and tenant not in message:
        message = f"{message} (tenant-code {server_text(tenant, 60)!r})"
    if status == 404 and cls is not TenantNotFoundError and not _in_api_envelope(body, headers):
        # only the API itself says "no such resource"; a proxy's page or a wrong base path is configuration
        cls = ApiError
        message = (
            f"{message or 'empty body'} (a 404 without the API's error envelope: this is not the Events API "
            "answering; check ENGAGIFII_API_BASE_URL)"
        )
    kwargs: dict[str, Any] = {"details": info["details"]}
    if cls is RateLimitError or retry_after is not None:
        if cls is not RateLimitError:
            cls = RateLimitError
        kwargs["retry_after"] = (
            retry_after if retry_after is not None else parse_retry_after(headers.get("Retry-After"))
        )
    return cls(status, info["code"], message, info["trace_id"], path, **kwargs)
