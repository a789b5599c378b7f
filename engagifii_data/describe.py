"""How an error reads to a person: one or two plain lines, shared by the CLI and the explorer.

One reason to change: the wording and advice of error messages (what failed, what to do).
"""

from __future__ import annotations

from collections.abc import Mapping

from .exceptions import (
    ApiError,
    AuthenticationError,
    ConfigurationError,
    EngagifiiError,
    IncompleteWalkError,
    PaginationError,
    QueryError,
    RateLimitError,
    ReportNotWritable,
    TenantNotFoundError,
    TransportError,
)
from .redaction import safe_text

__all__ = ["CLI_WORDS", "describe_error"]


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
