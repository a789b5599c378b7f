"""Exceptions raised by engagifii-data.

This module is a leaf: it imports nothing from the package, so every other module can use it.

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

import functools
import os
import re
import sys
import threading
import weakref
from collections.abc import Mapping
from typing import Any


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


# -- how an error reads to a person ----------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    char = match.group(0)
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char)
    if named is not None:
        return named
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def safe_text(value: object, limit: int = 300) -> str:
    """Text made safe to show a person: secrets redacted, control characters escaped, at most ``limit`` characters.

    The client secret and access tokens become ``***`` (:func:`redact`, before anything is cut, so
    no prefix of one survives); terminal escapes (``ESC``, ``BEL``, ``CR``), line breaks and
    bidirectional overrides become visible escapes (``\\x1b``); longer text is cut with ``…``. Every
    server text quoted in an exception passes through here, and so does every error line the CLI
    and the explorer show.
    """
    text = value if isinstance(value, str) else str(value)
    if len(text) > limit * 40:
        text = text[: limit * 40]
    text = redact(text)
    if len(text) > limit * 4:
        text = text[: limit * 4]
    text = _CONTROL.sub(_escape, text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- secrets never shown ----------------------------------------------------------------------------

#: What a secret becomes in any text shown.
REDACTED = "***"
#: Shorter values are not redacted: they cannot be told from ordinary words.
MIN_SECRET_LENGTH = 4
#: id(owner) -> (a weak reference to the owner, the value). Keyed by identity, not equality: a
#: WeakKeyDictionary keeps the first of two equal keys, and dropped the second owner's value when
#: the first (an equal Secret of other, discarded settings) was collected.
_PROTECTED: dict[int, tuple[weakref.ref[Any], str]] = {}
_PROTECTED_LOCK = threading.RLock()  # re-entrant: a collected owner's callback may run inside redact()
_JSON_SHORT = {'"': '\\"', "\\": "\\\\", "/": "\\/", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_HTML_NAMED = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;"}


def protect(owner: object, value: str) -> None:
    """Redact ``value`` from every text shown for as long as ``owner`` lives.

    ``Settings`` protect their client secret, the token manager each access token it holds.
    """
    if len(value) < MIN_SECRET_LENGTH:
        return
    key = id(owner)

    def forget(ref: weakref.ref[Any]) -> None:
        with _PROTECTED_LOCK:
            if _PROTECTED.get(key, (None,))[0] is ref:
                del _PROTECTED[key]

    with _PROTECTED_LOCK:
        _PROTECTED[key] = (weakref.ref(owner, forget), value)
    _value_patterns(value)  # compiled now, not inside the first error of a busy walk


def redact(text: str) -> str:
    """``text`` with every protected value (:func:`protect`) replaced by ``***``.

    A value is found as it is and in the forms a server may echo it in: URL-encoded (``%2F``, ``+``
    for a space, either case), JSON-escaped (``\\"``, ``\\/``, ``\\u00fc``, as .NET escapes ``+`` and
    ``&``), HTML-escaped, and in any mix of these, case-insensitively (a host name is lower-cased).
    Linear in the length of ``text``.
    """
    with _PROTECTED_LOCK:
        live = {value for ref, value in _PROTECTED.values() if ref() is not None}
    if not live or not text:
        return text
    for value in sorted(live, key=lambda v: (-len(v), v)):  # longest first: a value inside another
        for pattern in _value_patterns(value):
            text = pattern.sub(REDACTED, text)
    return text


@functools.lru_cache(maxsize=32)
def _value_patterns(value: str) -> tuple[re.Pattern[str], ...]:
    # each character is one atomic group of its spellings, so a match never backtracks (linear);
    # two orders of the spellings, so a plain character and an escape starting with it both match
    plain_first = "".join(_char_group(c, plain_first=True) for c in value)
    escapes_first = "".join(_char_group(c, plain_first=False) for c in value)
    return re.compile(plain_first, re.IGNORECASE), re.compile(escapes_first, re.IGNORECASE)


def _char_group(char: str, *, plain_first: bool) -> str:
    if char.isascii() and char.isalnum():
        return char  # no encoding escapes letters or digits: a plain character (a JWT compiles fast)
    code = ord(char)
    escapes = [
        "".join(f"\\u{unit:04x}" for unit in _utf16_units(code)),
        "".join(f"%{byte:02x}" for byte in char.encode("utf-8", "surrogatepass")),
        f"&#{code};",
        f"&#x{code:x};",
    ]
    escapes += [e for e in (_JSON_SHORT.get(char), _HTML_NAMED.get(char), "+" if char == " " else None) if e]
    spellings = [char, *escapes] if plain_first else [*escapes, char]
    return "(?>" + "|".join(re.escape(s) for s in dict.fromkeys(spellings)) + ")"


def _utf16_units(code: int) -> tuple[int, ...]:
    if code < 0x10000:
        return (code,)
    code -= 0x10000
    return (0xD800 + (code >> 10), 0xDC00 + (code & 0x3FF))


#: How the advice names things on the command line (the explorer passes its own words).
CLI_WORDS: Mapping[str, str] = {
    "rerun": "rerun the same command",
    "checkpoint": "--checkpoint FILE",
    "workers": "--workers",
    "tenant": "--tenant",
    "start": "--from",
    "end": "--to",
    "status": "--status",
    "page_size": "--page-size",
    "search": "--search",
}


def describe_error(exc: BaseException, words: Mapping[str, str] = CLI_WORDS) -> list[str]:
    """One or two plain lines for an error: what failed (the API's code and traceId) and what to do.

    The CLI prints them on stderr; the explorer shows them in its status line. Every line is passed
    through :func:`safe_text`.

    Parameters
    ----------
    exc : BaseException
        Any exception (unexpected ones get a generic line).
    words : mapping
        How the advice names options and actions (:data:`CLI_WORDS` for the command line).
    """
    return [safe_text(line, 600) for line in _describe(exc, words)]


def _api_bits(exc: ApiError) -> str:
    bits = [f"HTTP {exc.status}"]
    if exc.code:
        bits.append(exc.code)
    if exc.path:
        bits.append(exc.path)
    if exc.trace_id:
        bits.append(f"traceId {exc.trace_id}")
    return " ".join(bits)


def _describe(exc: BaseException, w: Mapping[str, str]) -> list[str]:
    if isinstance(exc, IncompleteWalkError):
        cause = exc.cause
        got = f"{len(exc.partial):,} rows fetched" if exc.partial is not None else "no rows kept"
        if isinstance(cause, PaginationError):
            advice = "the server's answers cannot be followed safely, so a rerun will not help; report it to Engagifii"
        elif cause is None and exc.reason != "cancelled":
            advice = "its rows did not match its total count even when read twice; try again later"
        else:
            advice = (
                f"{w['rerun']} to resume from the saved pages"
                if exc.checkpoint
                else (f"use {w['checkpoint']} to keep fetched pages and resume from them")
            )
            if isinstance(cause, RateLimitError) and cause.retry_after is not None:
                advice = f"the server asked to wait {cause.retry_after:g} s; {advice} after that"
            elif isinstance(cause, AuthenticationError):
                advice = f"authentication failed mid-walk: check the client credentials, then {advice}"
            elif isinstance(cause, ConfigurationError):
                advice = f"a setting is wrong (named above): fix it, then {advice}"
        return [f"error: the walk was not completed: {exc.reason}", f"no report was written ({got}); {advice}"]
    if isinstance(exc, AuthenticationError):
        hint = {
            "invalid_client": "check ENGAGIFII_CLIENT_ID and ENGAGIFII_CLIENT_SECRET (in the environment or .env)",
            "invalid_scope": "check ENGAGIFII_SCOPE (the API needs EventsApi)",
            "unauthorized_client": "ask Engagifii to allow the client_credentials grant for this client",
        }.get(exc.error, "check the client credentials and the identity server URL")
        what = {
            "invalid_client": "the identity server refused the client id or secret",
            "invalid_scope": "the identity server refused the scope",
        }.get(exc.error)
        return [f"error: authentication failed: {what + ': ' if what else ''}{exc}", hint]
    if isinstance(exc, TenantNotFoundError):
        return [
            f"error: unknown tenant: {_api_bits(exc)}: {exc.message or ''}".rstrip(": "),
            f"check the tenant code (ENGAGIFII_TENANT_CODE or {w['tenant']})",
        ]
    if isinstance(exc, RateLimitError):
        wait = f"; the server asked to wait {exc.retry_after:.0f} s" if exc.retry_after is not None else ""
        return [f"error: rate limited: {_api_bits(exc)}{wait}", f"try again later, or lower {w['workers']}"]
    if isinstance(exc, ApiError):
        support = (
            "quote the traceId to Engagifii support" if exc.trace_id else "tell Engagifii support when it happened"
        )
        return [
            f"error: the API refused the request: {_api_bits(exc)}: {exc.message or ''}".rstrip(": "),
            f"if it persists, {support}",
        ]
    if isinstance(exc, TransportError):
        identity = exc.path == "/connect/token"
        variable = "ENGAGIFII_IDENTITY_SERVER_URL" if identity else "ENGAGIFII_API_BASE_URL"
        if exc.hint:
            return [f"error: network: {exc}", exc.hint]
        if exc.host:  # no connection at all: say where to, and what decides the route there
            server = "the identity server" if identity else "the API"
            return [
                f"error: network: could not reach {server} at {exc.host}: {exc}",
                f"check the network connection, the proxy settings (HTTPS_PROXY, NO_PROXY) and {variable}",
            ]
        return [f"error: network: {exc}", f"check the network and {variable}"]
    if isinstance(exc, PaginationError):
        return [f"error: the walk stopped: {exc}", "no report was written; the listing could not be read safely"]
    if isinstance(exc, QueryError):
        return [f"error: {exc.named(w)}"]
    if isinstance(exc, ReportNotWritable):
        return [f"error: {exc}", f"no report was written; {exc.hint}"]
    if isinstance(exc, EngagifiiError | ValueError):
        return [f"error: {exc}"]
    if isinstance(exc, ImportError):  # an extra that is not installed: the message names the pip install
        return [f"error: {exc}"]
    if isinstance(exc, MemoryError | RecursionError):
        return [
            f"error: the answer was too large or too deeply nested to process ({type(exc).__name__})",
            "no report was written; rerun with --debug and report it",
        ]
    return [f"error: unexpected {type(exc).__name__}: {exc}", "no report was written; rerun with --debug for details"]


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
