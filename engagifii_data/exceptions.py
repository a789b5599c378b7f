"""Exceptions raised by engagifii-data.

This module is a leaf: it imports nothing from the package, so every other module can use it.

The tree::

    EngagifiiError                      base of everything the toolkit raises on purpose
    ├── ConfigurationError (ValueError)   missing/invalid settings, plain http:// to a remote host
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
    │                                     unparseable body, after retries
    ├── PaginationError                   the page walk cannot go on safely (repeated page, runaway
    │   └── IncompleteWalkError           walk, envelope not recognised); the walk ended without
    │                                     every page: carries the partial DataFrame
    └── StopRequested                     the stop signal (cancel, Ctrl-C); never leaves the package

The status -> class mapping lives in :data:`STATUS_ERRORS` (a table, not an if-ladder).
"""

from __future__ import annotations

from typing import Any


class EngagifiiError(Exception):
    """Base class of every error raised on purpose by engagifii-data."""


class ConfigurationError(EngagifiiError, ValueError):
    """A setting is missing or invalid (exit code 2 in the CLI)."""


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
    """

    def __init__(self, message: str, *, path: str | None = None) -> None:
        self.path = path
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
        self.reason = reason
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
    ) -> None:
        self.partial = partial
        self.checkpoint = checkpoint
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
