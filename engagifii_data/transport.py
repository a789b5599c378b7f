"""HTTP transport: one ``requests.Session``, timeouts, retries, and error answers -> exceptions.

Rules (DESIGN.md, "Behaviours every part keeps"):

- Every request carries ``Authorization: Bearer``, ``api-version``, ``tenant-code`` and
  ``Content-Type: application/json`` (vendor docs) and a ``(connect, read)`` timeout.
- Retried with exponential backoff and full jitter (tenacity), for every method including the
  read-only ``POST /event/list``: HTTP 429, 500, 502, 503, 504, refused or dropped connections, read
  timeouts, and 200 answers whose body is not JSON (a truncated page). At most
  ``settings.max_attempts`` attempts.
- ``Retry-After`` (seconds or an HTTP date, parsed by urllib3) is honoured up to
  ``settings.retry_after_cap`` seconds; a longer demand raises :class:`RateLimitError` carrying the
  delay asked for instead of sleeping for an hour.
- A 401 drops the token and re-sends the same request once with a new one; a second 401 raises
  :class:`AuthenticationError`.
- Error bodies are parsed in every shape seen or documented — the documented envelope
  ``{"error": {"code", "message", "traceId", ...}}``, OAuth ``{"error", "error_description"}``, RFC 7807
  problem details ``{"title", "status", "traceId", "errors"}``, Azure HTML pages, plain text — into the
  exception table :data:`engagifii_data.exceptions.STATUS_ERRORS`, keeping the API's ``code`` and
  ``traceId``.
- Logs: DEBUG one line per request (method, path, status, milliseconds, page, traceId). Never headers,
  tokens or secrets.
- Cost per request (issue 7: the client's CPU per page bounds how fast concurrent workers can go,
  since they share one GIL): successful bodies are read in one piece (not requests' 10 KiB chunks) and
  decoded with orjson, falling back to the standard library wherever the two could differ (see
  :func:`decode_json`); proxy and CA-bundle environment variables are read once per host
  (:class:`EnvironmentCachingSession`) instead of on every request.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_random_exponential

from .auth import AccessToken, TokenManager
from .config import Settings
from .exceptions import (
    AuthenticationError,
    RateLimitError,
    ServerError,
    StopRequested,
    TransportError,
)
from .pacing import AdaptiveConcurrency, RateLimiter
from .responses import declared_charset, decode_json, error_from_response, parse_error_body

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

#: HTTP statuses retried with backoff (the list POST included: it is read-only).
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass
class Stats:
    """Counters for a session (cumulative, thread-safe).

    Attributes
    ----------
    token_requests : int
        Token requests sent to the identity server.
    http_requests : int
        Requests sent to the Events API (every attempt counts).
    retries : int
        Attempts that were retried (API and token endpoint).
    pages : int
        List pages received and accepted.
    """

    token_requests: int = 0
    http_requests: int = 0
    retries: int = 0
    pages: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, name: str, n: int = 1) -> None:
        """Increase counter ``name`` by ``n``."""
        with self._lock:
            setattr(self, name, getattr(self, name) + n)

    def snapshot(self) -> dict[str, int]:
        """The counters as a plain dict."""
        with self._lock:
            return {
                "token_requests": self.token_requests,
                "http_requests": self.http_requests,
                "retries": self.retries,
                "pages": self.pages,
            }


class _Retry(Exception):
    """Internal: an attempt failed in a way worth retrying; ``error`` is raised if attempts run out."""

    def __init__(self, error: Exception, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


class EnvironmentCachingSession(requests.Session):
    """A ``requests.Session`` that reads the proxy and CA-bundle environment once per host.

    ``requests`` calls :meth:`requests.Session.merge_environment_settings` on every request, and with
    ``trust_env`` (the default) that scans ``os.environ`` for ``*_proxy`` / ``no_proxy`` /
    ``REQUESTS_CA_BUNDLE`` each time: about a millisecond of CPU per request, measured as 10 % of the
    client's CPU per page in ``benchmarks/walk.py``. The result only depends on the URL's scheme and
    host and on the per-request arguments, so it is computed once per such key for the session's
    lifetime. Environment changes after the first request to a host are therefore not seen by that
    session (create a new client to pick them up).
    """

    def __init__(self) -> None:
        super().__init__()
        self._environment: dict[tuple[Any, ...], Any] = {}
        self._environment_lock = threading.Lock()

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> Any:
        """As :meth:`requests.Session.merge_environment_settings`, cached per (scheme, host, arguments)."""
        parts = urlsplit(url if isinstance(url, str) else str(url))
        try:
            key: tuple[Any, ...] = (
                parts.scheme, parts.netloc, tuple(sorted((proxies or {}).items())), stream, verify, cert,
                self.trust_env, tuple(sorted(self.proxies.items())), self.verify, self.cert,
            )
            hash(key)
        except TypeError:  # unhashable arguments: no caching
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        cached = self._environment.get(key)
        if cached is None:
            cached = super().merge_environment_settings(url, proxies, stream, verify, cert)
            with self._environment_lock:
                self._environment[key] = cached
        return {**cached, "proxies": dict(cached["proxies"])}


class Transport:
    """Authenticated JSON requests to the Events API with retries.

    Parameters
    ----------
    settings : Settings
        URLs, headers, timeouts and retry policy.
    tokens : TokenManager
        Source of access tokens (shared by every worker).
    stats : Stats
        Counters to update.
    sleep : callable, optional
        Used for backoff waits (default :func:`time.sleep`; tests may pass a recorder).
    pool_size : int
        Connection pool size per host (default 16; at least the number of workers).
    """

    def __init__(
        self,
        settings: Settings,
        tokens: TokenManager,
        stats: Stats,
        *,
        sleep: Callable[[float], None] = time.sleep,
        pool_size: int = 16,
    ) -> None:
        self.settings = settings
        self.tokens = tokens
        self.stats = stats
        self._sleep = sleep
        self.session: requests.Session = EnvironmentCachingSession()
        self.pool_size = 0
        self._pool_lock = threading.Lock()
        self.ensure_pool(pool_size)
        self.session.headers.update({"User-Agent": "engagifii-data", "Accept": "application/json"})
        self.limiter = (
            RateLimiter(settings.max_requests_per_minute) if settings.max_requests_per_minute else None
        )

    def ensure_pool(self, size: int) -> None:
        """Keep at least ``size`` pooled connections per host (one per worker), so none is discarded."""
        with self._pool_lock:
            if size <= self.pool_size:
                return
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=size, max_retries=0)
            self.session.mount("https://", adapter)
            self.session.mount("http://", adapter)
            self.pool_size = size

    def close(self) -> None:
        """Close pooled connections."""
        self.session.close()
        self.tokens.close()

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        backoff = wait_random_exponential(multiplier=self.settings.backoff, max=self.settings.backoff_max)
        if isinstance(exc, _Retry) and exc.retry_after is not None:
            return exc.retry_after
        return float(backoff(state))

    def _before_sleep(self, state: RetryCallState) -> None:
        self.stats.add("retries")
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        logger.info("retrying after %s (attempt %d, waiting %.2f s)", exc, state.attempt_number, wait)

    def _with_retries(self, fn: Callable[..., _T], *args: Any, stop: Callable[[], bool] | None = None) -> _T:
        """Call ``fn`` under the retry policy: bounded attempts, Retry-After or backoff with jitter.

        ``fn`` raises ``_Retry`` for a failure worth retrying; when attempts run out, the error it
        carries is raised. ``stop`` (optional) is polled during waits: once it returns True the wait
        ends and :class:`StopRequested` is raised, so a cancel or Ctrl-C never waits out a backoff.
        """
        retrying = Retrying(
            stop=stop_after_attempt(self.settings.max_attempts),
            wait=self._wait,
            retry=retry_if_exception_type(_Retry),
            sleep=self._stoppable_sleep(stop),
            before_sleep=self._before_sleep,
            reraise=True,
        )
        try:
            return retrying(fn, *args)
        except _Retry as exc:
            raise exc.error from None

    def _stoppable_sleep(self, stop: Callable[[], bool] | None) -> Callable[[float], None]:
        if stop is None:
            return self._sleep

        def sleep(seconds: float) -> None:
            if stop():
                raise StopRequested()
            if self._sleep is not time.sleep:  # an injected sleep (tests): call it as it is
                self._sleep(seconds)
                return
            deadline = time.monotonic() + seconds
            while (remaining := deadline - time.monotonic()) > 0:
                time.sleep(min(0.1, remaining))
                if stop():
                    raise StopRequested()

        return sleep

    def authenticate(self) -> AccessToken:
        """Get a valid access token, retrying identity-server failures like API requests."""

        def attempt() -> AccessToken:
            self._token()
            token = self.tokens.current
            assert token is not None
            return token

        return self._with_retries(attempt)

    def request_json(
        self,
        method: str,
        path: str,
        *,
        tenant: str,
        json_body: Mapping[str, Any] | None = None,
        page: int | None = None,
        gate: AdaptiveConcurrency | None = None,
        stop: Callable[[], bool] | None = None,
    ) -> Any:
        """Send one API request (with retries) and return its parsed JSON body.

        Parameters
        ----------
        method : str
            ``"POST"`` or ``"GET"``.
        path : str
            Path under the API base, e.g. ``"/api/1.0/event/list"``.
        tenant : str
            Value of the ``tenant-code`` header.
        json_body : mapping, optional
            JSON body (the list filter).
        page : int, optional
            Page number, for logs only.
        gate : AdaptiveConcurrency, optional
            The walk's concurrency limit; every attempt holds a slot while in flight.
        stop : callable, optional
            Polled before every attempt and during waits; True raises :class:`StopRequested`.

        Returns
        -------
        Any
            The decoded JSON.

        Raises
        ------
        AuthenticationError
            Token refused, or a 401 with a freshly renewed token.
        RateLimitError
            ``Retry-After`` above the cap, or 429 through every attempt.
        ApiError
            Other error answers (subclass by status), after retries for 5xx.
        TransportError
            Connection failures, timeouts or unparseable bodies through every attempt.
        """
        return self._with_retries(self._attempt, method, path, tenant, json_body, page, gate, stop, stop=stop)

    def _token(self) -> str:
        """The access token for the next attempt; identity-server throttling and failures are retried."""
        try:
            return self.tokens.get()
        except (RateLimitError, ServerError, TransportError) as exc:
            raise self._retryable(exc) from None

    def _retryable(self, error: Exception) -> Exception:
        """``error`` wrapped for another attempt, or as it is when waiting is not an option.

        A 429 whose ``Retry-After`` exceeds ``retry_after_cap`` is not retried: the
        :class:`RateLimitError` itself is raised, carrying the delay the server asked for.
        """
        if isinstance(error, RateLimitError) and error.retry_after is not None:
            if error.retry_after > self.settings.retry_after_cap:
                return error
            return _Retry(error, retry_after=error.retry_after)
        return _Retry(error)

    def _attempt(
        self,
        method: str,
        path: str,
        tenant: str,
        json_body: Mapping[str, Any] | None,
        page: int | None,
        gate: AdaptiveConcurrency | None,
        stop: Callable[[], bool] | None,
    ) -> Any:
        if stop is not None and stop():
            raise StopRequested()
        token = self._token()
        response, body = self._send(method, path, tenant, json_body, page, token, gate)
        if response.status_code == 401:
            self.tokens.invalidate(token)
            token = self._token()
            response, body = self._send(method, path, tenant, json_body, page, token, gate)
            if response.status_code == 401:
                info = parse_error_body(response)
                raise AuthenticationError(
                    info["code"] or "invalid_token",
                    (info["message"] or "the API rejected a freshly issued access token")
                    + " (after one renewal)",
                    status=401,
                )
        status = response.status_code
        if status >= 400:
            error = error_from_response(response, path, tenant)
            raise self._retryable(error) if status in RETRY_STATUSES else error
        try:
            return decode_json(body, declared_charset(response.headers.get("Content-Type")))
        except ValueError:
            raise _Retry(
                TransportError(f"HTTP {status} with a body that is not valid JSON ({len(body)} bytes)", path=path)
            ) from None

    def _send(
        self,
        method: str,
        path: str,
        tenant: str,
        json_body: Mapping[str, Any] | None,
        page: int | None,
        token: str,
        gate: AdaptiveConcurrency | None = None,
    ) -> tuple[requests.Response, bytes]:
        """Send one attempt; returns the response and its whole body.

        The body is read before the concurrency slot is released, in one piece for a success (an
        error answer is read by ``requests`` as usual, so ``response.text``/``.json()`` work on it).
        """
        headers = {
            "Authorization": f"Bearer {token}",
            "api-version": self.settings.api_version,
            "tenant-code": tenant,
            "Content-Type": "application/json",
        }
        data = json.dumps(json_body, separators=(",", ":")) if json_body is not None else None
        if data is None and method.upper() == "POST":
            data = "{}"
        if self.limiter is not None:
            self.limiter.acquire()
        self.stats.add("http_requests")
        started = time.perf_counter()
        status: int | None = None
        if gate is not None:
            gate.acquire()
        try:
            response = self.session.request(
                method,
                self.settings.api_base_url + path,
                data=data.encode("utf-8") if data is not None else None,
                headers=headers,
                timeout=self.settings.timeout,
                stream=True,
            )
            try:
                if response.status_code < 400:
                    # one read of the whole body (chunk_size None), not 10 KiB at a time
                    body = b"".join(response.iter_content(chunk_size=None))
                else:
                    body = response.content
            finally:
                response.close()
            status = response.status_code
        except requests.Timeout as exc:
            raise _Retry(TransportError(f"timed out ({type(exc).__name__})", path=path)) from None
        except requests.ConnectionError as exc:
            reason = _short_reason(exc)
            raise _Retry(TransportError(f"connection failed: {reason}", path=path)) from None
        except requests.RequestException as exc:
            raise _Retry(TransportError(f"request failed: {type(exc).__name__}", path=path)) from None
        finally:
            if gate is not None:
                gate.release(status)
        if logger.isEnabledFor(logging.DEBUG):
            trace = response.headers.get("traceId") or response.headers.get("x-request-id") or "-"
            logger.debug(
                "%s %s -> %d in %.0f ms (tenant %s, page %s, traceId %s)",
                method,
                path,
                response.status_code,
                (time.perf_counter() - started) * 1000,
                tenant,
                page if page is not None else "-",
                trace,
            )
        return response, body


def _short_reason(exc: BaseException) -> str:
    """A one-line reason for a connection error, without URLs' query strings or credentials."""
    text = str(exc)
    for marker in ("Connection refused", "RemoteDisconnected", "Connection aborted", "Connection reset",
                   "Name or service not known", "IncompleteRead", "timed out"):
        if marker in text:
            return marker
    return type(exc).__name__
