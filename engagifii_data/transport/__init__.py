"""HTTP transport: one ``requests.Session``, one retry policy, answers read within bounds.

Rules, the same for the token endpoint and the API:

- Every API request carries ``Authorization: Bearer``, ``api-version``, ``tenant-code`` and
  ``Content-Type: application/json`` (vendor docs). ``.netrc`` never replaces the bearer token or
  adds credentials to the token request.
- No redirect is followed to the token endpoint (a 3xx is a :class:`TransportError` naming the status
  and the redirect's origin; the secret goes nowhere else). An API request follows a redirect only
  within the same origin (scheme, host and port), for 307/308 or a GET, at most 5 times.
- Every attempt has a total deadline (``settings.request_deadline``: connect, headers and the whole
  body) and a body size limit (``settings.max_body_bytes``); both are enforced in
  :mod:`engagifii_data.responses`. The stop signal of :class:`RequestHooks` is honoured in every wait:
  while queued for a concurrency slot or the rate limit, while the answer arrives, during a backoff.
- One retry policy (tenacity): HTTP 429, 500, 502, 503, 504, refused or dropped connections,
  timeouts, a missed deadline and 200 answers whose body is not JSON are retried with exponential
  backoff and full jitter, at most ``settings.max_attempts`` attempts. ``Retry-After`` (seconds or an
  HTTP date) is honoured on every retried status up to ``settings.retry_after_cap``; a longer demand
  raises :class:`RateLimitError` carrying the delay instead of sleeping for an hour. What retrying
  cannot heal is not retried: a TLS certificate that fails verification (a :class:`TransportError`
  naming the host), and a token endpoint answering 404/405 (a :class:`ConfigurationError`: the
  identity URL is wrong).
- A 401 drops the token and re-sends the same request once with a new one; a second 401 raises
  :class:`AuthenticationError`.
- Logs: DEBUG one line per request (method, path, status, milliseconds, page, traceId). Never headers,
  tokens, secrets or bodies.
- Cost per request (the client's CPU per page bounds how fast concurrent workers can go, since they
  share one GIL): bodies are read in one piece and decoded with orjson; proxy and CA-bundle
  environment variables are read once per host (:class:`EnvironmentCachingSession`).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests

from ..auth import AccessToken, TokenManager, token_request
from ..config import Settings
from ..exceptions import AuthenticationError, ConfigurationError, PaginationError, StopRequested, TransportError
from ..pacing import RateLimiter
from ..responses import (
    DeadlineAdapter,
    Decoded,
    declared_charset,
    decode_json,
    error_from_answer,
    parse_error_body,
    server_text,
)
from .policy import NO_HOOKS, RETRY_STATUSES, TOKEN_PATH, RequestHooks, Retryable, RetryNotice, RetryPolicy, Stats
from .session import Answer, EnvironmentCachingSession, Exchange

__all__ = [
    "NO_HOOKS",
    "RETRY_STATUSES",
    "TOKEN_PATH",
    "Answer",
    "EnvironmentCachingSession",
    "RequestHooks",
    "RetryNotice",
    "Stats",
    "Transport",
]

logger = logging.getLogger(__name__)

#: Token endpoint statuses that mean "no token endpoint at this URL" (a configuration error, exit 2):
#: IdentityServer4 answers bad credentials with 400/401, never with these.
WRONG_TOKEN_URL_STATUSES = frozenset({404, 405})


class Transport:
    """Authenticated JSON requests to the Events API and the token endpoint, with one retry policy.

    Parameters
    ----------
    settings : Settings
        URLs, headers, timeouts, limits and retry policy.
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
        stats: Stats,
        *,
        sleep: Callable[[float], None] = time.sleep,
        pool_size: int = 16,
    ) -> None:
        self.settings = settings
        self.stats = stats
        self.session: requests.Session = EnvironmentCachingSession()
        self.policy = RetryPolicy(settings, stats, sleep)
        self.exchange = Exchange(settings, self.session)
        self.session.headers.update({"User-Agent": "engagifii-data", "Accept": "application/json"})
        self.pool_size = 0
        self._pool_lock = threading.Lock()
        self.ensure_pool(pool_size)
        self.limiter = RateLimiter(settings.max_requests_per_minute) if settings.max_requests_per_minute else None
        self.tokens = TokenManager(settings, self._grant)

    def ensure_pool(self, size: int) -> None:
        """Keep at least ``size`` pooled connections per host (one per worker), so none is discarded."""
        with self._pool_lock:
            if size <= self.pool_size:
                return
            adapter = DeadlineAdapter(pool_connections=4, pool_maxsize=size, max_retries=0)
            self.session.mount("https://", adapter)
            self.session.mount("http://", adapter)
            self.pool_size = size

    def close(self) -> None:
        """Close pooled connections."""
        self.session.close()

    # -- the token endpoint ----------------------------------------------------------------------

    def _grant(self, hooks: RequestHooks | None = None) -> Any:
        """Send the client-credentials grant under the retry policy; the decoded 200 answer."""
        hooks = hooks or NO_HOOKS
        settings = self.settings
        headers, body = token_request(settings)

        def attempt() -> Any:
            if hooks.stop is not None and hooks.stop():
                raise StopRequested()
            self.stats.add("token_requests")
            started = time.perf_counter()
            answer = self.exchange(
                "POST",
                settings.token_url,
                headers=headers,
                data=body,
                hooks=RequestHooks(stop=hooks.stop),
                path=TOKEN_PATH,
                follow=False,
            )
            self._log("POST", TOKEN_PATH, answer, started, None, None)
            status = answer.status
            if status in RETRY_STATUSES:
                error = error_from_answer(status, answer.body, answer.headers, TOKEN_PATH)
                error.message = error.message or "the identity server is unavailable"
                raise self.policy.retryable(answer.status, answer.body, answer.headers, error, TOKEN_PATH)
            if status in WRONG_TOKEN_URL_STATUSES:
                # no token endpoint there (a wrong host or path): fixing the setting is the only cure
                raise ConfigurationError(
                    f"the identity URL {settings.identity_url} has no token endpoint (HTTP {status} at "
                    f"{TOKEN_PATH}): check ENGAGIFII_IDENTITY_SERVER_URL"
                )
            if status >= 400:
                info = parse_error_body(answer.body, answer.headers)
                code = info["code"] or "invalid_response"
                description = info["message"] or f"the identity server answered HTTP {status}"
                raise AuthenticationError(code, description, status=status)
            try:
                return decode_json(answer.body, declared_charset(answer.headers.get("Content-Type"))).data
            except ValueError:
                raise Retryable(
                    TransportError(
                        f"HTTP {status} from the identity server with a body that is not JSON "
                        f"({len(answer.body)} bytes)",
                        path=TOKEN_PATH,
                    )
                ) from None

        return self.policy.run(attempt, hooks, TOKEN_PATH)

    def authenticate(self, hooks: RequestHooks | None = None) -> AccessToken:
        """A valid access token now (fetched with the retry policy if there is none)."""
        self.tokens.get(hooks or NO_HOOKS)
        token = self.tokens.current
        assert token is not None
        return token

    # -- the API ---------------------------------------------------------------------------------

    def request_json(
        self,
        method: str,
        path: str,
        *,
        tenant: str,
        json_body: Mapping[str, Any] | None = None,
        page: int | None = None,
        hooks: RequestHooks = NO_HOOKS,
        check: Callable[[Any], Any] | None = None,
    ) -> Decoded:
        """Send one API request (with retries) and return its decoded JSON body.

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
            Page number, for logs and retry notices.
        hooks : RequestHooks
            Concurrency slot, stop signal, retry callback.
        check : callable, optional
            ``check(data) -> data``: what a 200 answer must be (e.g. the event asked for); a
            :class:`PaginationError` it raises is retried like an unparseable body, and raised when
            the attempts run out. The returned value replaces ``data``.

        Returns
        -------
        Decoded
            The JSON value and the count of repaired (invalid Unicode) texts.

        Raises
        ------
        AuthenticationError
            Token refused, or a 401 with a freshly renewed token.
        RateLimitError
            ``Retry-After`` above the cap, or 429 through every attempt.
        ApiError
            Other error answers (subclass by status), after retries for 5xx.
        TransportError
            Connection failures, timeouts, a body over the limit, redirects elsewhere or unparseable
            bodies through every attempt.
        StopRequested
            ``hooks.stop`` said so.
        """
        data = json.dumps(json_body, separators=(",", ":")) if json_body is not None else None
        if data is None and method.upper() == "POST":
            data = "{}"

        def attempt() -> Decoded:
            if hooks.stop is not None and hooks.stop():
                raise StopRequested()
            token = self.tokens.get(hooks)
            answer = self._api_send(method, path, tenant, data, page, token, hooks)
            if answer.status == 401:
                self.tokens.invalidate(token)
                token = self.tokens.get(hooks)
                answer = self._api_send(method, path, tenant, data, page, token, hooks)
                if answer.status == 401:
                    info = parse_error_body(answer.body, answer.headers)
                    raise AuthenticationError(
                        info["code"] or "invalid_token",
                        (info["message"] or "the API rejected a freshly issued access token") + " (after one renewal)",
                        status=401,
                    )
            status = answer.status
            if status >= 400:
                error = error_from_answer(status, answer.body, answer.headers, path, tenant)
                if status in RETRY_STATUSES:
                    raise self.policy.retryable(answer.status, answer.body, answer.headers, error, path)
                raise error
            try:
                decoded = decode_json(answer.body, declared_charset(answer.headers.get("Content-Type")))
            except ValueError as exc:
                raise Retryable(
                    TransportError(
                        f"HTTP {status} with a body that is not usable JSON ({len(answer.body)} bytes: {exc})"[:300],
                        path=path,
                    )
                ) from None
            if check is None:
                return decoded
            try:
                return Decoded(check(decoded.data), decoded.repaired)
            except PaginationError as exc:  # an answer for something else: another attempt may be right
                raise Retryable(exc) from None

        return self.policy.run(attempt, hooks, path, page)

    def _api_send(
        self,
        method: str,
        path: str,
        tenant: str,
        data: str | None,
        page: int | None,
        token: str,
        hooks: RequestHooks,
    ) -> Answer:
        headers = {
            "Authorization": f"Bearer {token}",
            "api-version": self.settings.api_version,
            "tenant-code": tenant,
            "Content-Type": "application/json",
        }
        if self.limiter is not None:
            self.limiter.acquire(hooks.stop)
        self.stats.add("http_requests")
        started = time.perf_counter()
        answer = self.exchange(
            method, self.settings.api_base_url + path, headers=headers, data=data, hooks=hooks, path=path, follow=True
        )
        self._log(method, path, answer, started, tenant, page)
        return answer

    @staticmethod
    def _log(method: str, path: str, answer: Answer, started: float, tenant: str | None, page: int | None) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            trace = answer.headers.get("traceId") or answer.headers.get("x-request-id") or "-"
            logger.debug(
                "%s %s -> %d in %.0f ms (tenant %s, page %s, traceId %s)",
                method,
                path,
                answer.status,
                (time.perf_counter() - started) * 1000,
                tenant or "-",
                page if page is not None else "-",
                server_text(trace, 80),
            )
