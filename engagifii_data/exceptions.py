"""Exceptions raised by engagifii-data.

This module imports only the leaf :mod:`engagifii_data.redaction` (whose ``safe_text``, ``redact`` and
``protect`` it re-exports), so every other module can use it. How an error reads to a person is
:mod:`engagifii_data.describe`.

The tree::

    EngagifiiError                      base of everything the toolkit raises on purpose
    ├── ConfigurationError (ValueError)   missing/invalid settings, plain http:// to a remote host,
    │                                     a URL with no token endpoint or no Events API behind it
    │   └── QueryError                    an invalid query argument (date, status, page size, tenant)
    ├── ReportError (ValueError)          a frame that must not be written as a report (a partial walk)
    ├── ReportNotWritable (OSError)       a report or checkpoint path that cannot be written
    ├── AuthenticationError               token endpoint refused us, or a renewed token got a 401
    ├── ApiError                          an HTTP error answer from the Events API (after retries)
    │   ├── BadRequestError               400 (VALIDATION_ERROR, MISSING_TENANT, ...)
    │   ├── ForbiddenError                403
    │   ├── TenantNotFoundError           403/404 naming an unknown tenant code (also LookupError)
    │   ├── NotFoundError (LookupError)   404
    │   ├── ConflictError                 409
    │   ├── UnprocessableError            422
    │   ├── RateLimitError                429 whose Retry-After exceeds the cap, or retries exhausted
    │   └── ServerError                   5xx after retries
    ├── TransportError (ConnectionError)  no usable answer: refused/dropped connection, timeout,
    │                                     unparseable body, after retries; an untrusted TLS
    │                                     certificate at once (``host`` and ``hint`` say more)
    ├── PaginationError                   the page walk cannot go on safely (repeated page, runaway
    │   └── IncompleteWalkError           walk, envelope not recognised); the walk ended without
    │                                     every page: carries the partial DataFrame
    └── StopRequested                     the stop signal (cancel, Ctrl-C); never leaves the package

The status -> class mapping lives in :data:`STATUS_ERRORS` (a table, not an if-ladder).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

# re-exported: these names lived here first, and every exception's text passes through them
from .redaction import REDACTED as REDACTED
from .redaction import protect as protect
from .redaction import redact as redact
from .redaction import safe_text as safe_text


class EngagifiiError(Exception):
    """Base class of every error raised on purpose by engagifii-data.

    Every text argument is passed through :func:`redact`: no message can carry the client secret or
    an access token, whatever a server echoed into it.
    """

    def __init__(self, *args: Any) -> None:
        super().__init__(*(redact(a) if isinstance(a, str) else a for a in args))


class ConfigurationError(EngagifiiError, ValueError):
    """A setting is missing or invalid (exit code 2 in the CLI)."""


class QueryError(ConfigurationError):
    """A query argument is invalid: a bad date, status, page size or an empty tenant (exit code 2).

    Parameters
    ----------
    field : str
        The argument at fault (``start``, ``end``, ``status``, ``page_size``, ``tenant``).
    problem : str
        What is wrong, with argument names written as ``{start}``, ``{end}`` ... so that
        :meth:`named` can say ``--from``/``--to`` in the CLI and ``start``/``end`` in Python.
    """

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(self.named({}))

    def named(self, names: Mapping[str, str]) -> str:
        """The message with argument names taken from ``names`` (missing ones: the Python name)."""

        class _Names(dict[str, str]):
            def __missing__(self, key: str) -> str:
                return key

        return self.problem.format_map(_Names(names))


class ReportError(EngagifiiError, ValueError):
    """A frame or file cannot be used as a report: a partial walk, no walk report, an unknown format."""


class ReportNotWritable(EngagifiiError, OSError):
    """A report or checkpoint cannot be written at its path (exit code 1 for a report).

    Parameters
    ----------
    path : str
        The path that could not be written.
    reason : str
        Why, in words (``No space left on device``, ``a symbolic link owned by another user`` ...).
    errno : int, optional
        The ``errno`` of the underlying :class:`OSError`, when there was one.
    hint : str, optional
        What to do.
    """

    def __init__(self, path: str, reason: str, *, errno: int | None = None, hint: str | None = None) -> None:
        super().__init__(errno, f"cannot write the report to {path}: {reason}")
        self.path = path
        self.reason = reason
        self.hint = hint or "choose another path"

    def __str__(self) -> str:
        return str(self.strerror)


class AuthenticationError(EngagifiiError):
    """The identity server refused the client credentials, or a fresh token was rejected.

    Parameters
    ----------
    error : str
        The OAuth 2.0 ``error`` code (``invalid_client``, ``invalid_scope``, ``invalid_token`` ...).
    description : str, optional
        The server's ``error_description``. Never contains the client secret.
    status : int, optional
        The HTTP status of the answer, when there was one.
    """

    def __init__(self, error: str, description: str | None = None, *, status: int | None = None) -> None:
        self.error = error
        self.description = description
        self.error_description = description
        self.status = status
        text = error if not description else f"{error}: {description}"
        if status is not None:
            text = f"{text} (HTTP {status})"
        super().__init__(text)


class ApiError(EngagifiiError):
    """An error answer from the Events API, parsed from whatever shape it came in.

    Parameters
    ----------
    status : int
        HTTP status code.
    code : str, optional
        The API's error code (``MISSING_TENANT``, ``VALIDATION_ERROR`` ...), or the problem-details
        ``title``, or ``None`` for an HTML page.
    message : str, optional
        Human-readable message from the body.
    trace_id : str, optional
        The ``traceId`` the API returned; quote it to the vendor's support.
    path : str, optional
        The request path (no query string, no credentials).
    """

    def __init__(
        self,
        status: int,
        code: str | None = None,
        message: str | None = None,
        trace_id: str | None = None,
        path: str | None = None,
        *,
        details: Any = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.trace_id = trace_id
        self.path = path
        self.details = details
        parts = [f"HTTP {status}"]
        if code:
            parts.append(code)
        text = " ".join(parts)
        if message:
            text += f": {message}"
        if path:
            text += f" [{path}]"
        if trace_id:
            text += f" (traceId {trace_id})"
        super().__init__(text)


class BadRequestError(ApiError, ValueError):
    """HTTP 400: the request was rejected as malformed (``VALIDATION_ERROR``, ``MISSING_TENANT``)."""


class ForbiddenError(ApiError, PermissionError):
    """HTTP 403: the client may not access this resource or tenant."""


class TenantNotFoundError(ApiError, LookupError):
    """The tenant code is not known to the API (seen as 403 or 404)."""


class NotFoundError(ApiError, LookupError):
    """HTTP 404: the resource does not exist."""


class ConflictError(ApiError):
    """HTTP 409."""


class UnprocessableError(ApiError, ValueError):
    """HTTP 422."""


class RateLimitError(ApiError):
    """HTTP 429 that could not be waited out.

    Raised when the server asks for a longer wait than the configured cap, or when retries are
    exhausted.

    Parameters
    ----------
    retry_after : float, optional
        The delay the server asked for, in seconds (from ``Retry-After``), if any.
    """

    def __init__(self, *args: Any, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(*args, **kwargs)

    def __str__(self) -> str:
        text = super().__str__()
        if self.retry_after is not None:
            text += f"; the server asked to wait {self.retry_after:g} s"
        return text


class ServerError(ApiError):
    """HTTP 5xx that persisted through every retry."""


class TransportError(EngagifiiError, ConnectionError):
    """No usable answer: connection refused or dropped, timeout, or an unparseable body.

    Parameters
    ----------
    message : str
        What happened, without credentials.
    path : str, optional
        The request path.
    host : str, optional
        The server that could not be reached or trusted (``host`` or ``host:port``), when known.
    hint : str, optional
        What to do, when the failure says more than "check the network" (a certificate problem).
    """

    def __init__(
        self, message: str, *, path: str | None = None, host: str | None = None, hint: str | None = None
    ) -> None:
        self.path = path
        self.host = host
        self.hint = hint
        super().__init__(message if not path else f"{message} [{path}]")


class PaginationError(EngagifiiError):
    """The page walk cannot continue safely.

    Parameters
    ----------
    page : int or None
        The 1-based page number at which the walk stopped.
    reason : str
        Why: a repeated page, a walk past the planned page count, an unrecognised envelope ...
    """

    def __init__(self, page: int | None, reason: str) -> None:
        self.page = page
        self.reason = redact(reason)
        super().__init__(f"page {page}: {reason}" if page is not None else reason)


class IncompleteWalkError(PaginationError):
    """A walk ended before every page was fetched or before its rows could be verified.

    Parameters
    ----------
    page : int or None
        The first page that could not be fetched, if any.
    reason : str
        What went wrong.
    partial : pandas.DataFrame, optional
        The rows that *were* fetched, with ``attrs["engagifii"]["complete"] = False`` and the
        missing pages listed.
    cause : BaseException, optional
        The underlying error.
    missing_pages : list of int, optional
        Page numbers not fetched.
    checkpoint : str, optional
        The checkpoint file holding the pages fetched, when the walk used one: rerun to resume.
    saved_pages : int, optional
        Pages held in that checkpoint when the walk stopped (page 1 and pages fetched ahead of the
        rows kept included): a rerun fetches the planned pages minus these.
    """

    def __init__(
        self,
        page: int | None,
        reason: str,
        *,
        partial: Any = None,
        cause: BaseException | None = None,
        missing_pages: list[int] | None = None,
        checkpoint: str | None = None,
        saved_pages: int | None = None,
    ) -> None:
        self.partial = partial
        self.checkpoint = checkpoint
        self.saved_pages = saved_pages
        self.cause = cause
        self.missing_pages = list(missing_pages or [])
        super().__init__(page, reason)

    def __str__(self) -> str:
        return self.reason


class StopRequested(EngagifiiError):
    """The stop signal: raised instead of sending, waiting or retrying once the caller asked to stop.

    It never leaves the package: the walk turns it into a cancelled :class:`IncompleteWalkError`
    (or lets a ``KeyboardInterrupt`` finish fast).
    """


#: HTTP status -> exception class used by the transport for error answers.
STATUS_ERRORS: dict[int, type[ApiError]] = {
    400: BadRequestError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableError,
    429: RateLimitError,
}


def error_class_for(status: int) -> type[ApiError]:
    """Return the :class:`ApiError` subclass for an HTTP status.

    Parameters
    ----------
    status : int
        HTTP status code (>= 400).

    Returns
    -------
    type
        The class from :data:`STATUS_ERRORS`, :class:`ServerError` for 5xx, else :class:`ApiError`.
    """
    if status in STATUS_ERRORS:
        return STATUS_ERRORS[status]
    if status >= 500:
        return ServerError
    return ApiError


def caller_stacklevel() -> int:
    """The ``stacklevel`` that makes a warning point at the first caller outside this package.

    The package's functions call each other (``write_report`` -> ``export_csv`` -> ...,
    ``events()`` -> the walk -> the frame builder), so a fixed level would point into the package
    for some callers.
    """
    here = os.path.dirname(__file__)
    frame = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_code.co_filename.startswith(here):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


def __getattr__(name: str) -> Any:
    """``describe_error`` and ``CLI_WORDS`` moved to :mod:`engagifii_data.describe` (still importable here)."""
    if name in ("describe_error", "CLI_WORDS"):
        from . import describe

        return getattr(describe, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
