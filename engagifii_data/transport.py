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
  raises :class:`RateLimitError` carrying the delay instead of sleeping for an hour.
- A 401 drops the token and re-sends the same request once with a new one; a second 401 raises
  :class:`AuthenticationError`.
- Logs: DEBUG one line per request (method, path, status, milliseconds, page, traceId). Never headers,
  tokens, secrets or bodies.
- Cost per request (the client's CPU per page bounds how fast concurrent workers can go, since they
  share one GIL): bodies are read in one piece and decoded with orjson; proxy and CA-bundle
  environment variables are read once per host (:class:`EnvironmentCachingSession`).
"""

from __future__ import annotations

import http.client
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_random_exponential

from .auth import AccessToken, TokenManager, token_request
from .config import Settings
from .exceptions import (
    AuthenticationError,
    EngagifiiError,
    RateLimitError,
    StopRequested,
    TransportError,
)
from .pacing import AdaptiveConcurrency, RateLimiter
from .responses import (
    BodyTooLarge,
    Deadline,
    DeadlineAdapter,
    Decoded,
    declared_charset,
    decode_json,
    error_from_answer,
    parse_error_body,
    parse_retry_after,
    read_body,
    server_text,
)

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

#: HTTP statuses retried with backoff (the list POST included: it is read-only).
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Redirect statuses; only same-origin ones are followed, and never to the token endpoint.
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
#: Redirects followed per request at most.
MAX_REDIRECTS = 5
#: Bytes of an error answer read (only a short excerpt is ever shown).
ERROR_BODY_LIMIT = 256 * 1024
TOKEN_PATH = "/connect/token"


@dataclass
class Stats:
    """Counters for a session (cumulative, thread-safe).

    Attributes
    ----------
    token_requests : int
        Token requests sent to the identity server (every attempt counts).
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


@dataclass(frozen=True)
class RetryNotice:
    """A request about to be retried: what failed and how long the wait is.

    Attributes
    ----------
    path : str
        The request path (``/connect/token`` for the token endpoint).
    page : int or None
        The list page, if the request was one.
    reason : str
        Why it is retried (``HTTP 503``, ``connection failed: ...``), safe to show.
    wait : float
        Seconds until the next attempt.
    attempt : int
        The attempt that failed (1-based).
    """

    path: str
    page: int | None
    reason: str
    wait: float
    attempt: int

    def __str__(self) -> str:
        what = (
            f"page {self.page}"
            if self.page is not None
            else ("the token request" if self.path == TOKEN_PATH else self.path)
        )
        return f"retrying {what} in {self.wait:.0f} s: {self.reason}"


@dataclass(frozen=True)
class RequestHooks:
    """What a caller lends one request: a concurrency slot, a stop signal, a retry callback.

    Attributes
    ----------
    gate : AdaptiveConcurrency, optional
        The walk's concurrency limit; every attempt holds a slot while in flight.
    stop : callable, optional
        Polled while waiting (for a slot, the rate limit, the answer, a backoff); True raises
        :class:`StopRequested`.
    on_retry : callable, optional
        Called with a :class:`RetryNotice` before each backoff.
    """

    gate: AdaptiveConcurrency | None = None
    stop: Callable[[], bool] | None = None
    on_retry: Callable[[RetryNotice], None] | None = None


NO_HOOKS = RequestHooks()


class _Retry(Exception):
    """Internal: an attempt failed in a way worth retrying; ``error`` is raised if attempts run out."""

    def __init__(self, error: Exception, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


class _NoNetrc(requests.auth.AuthBase):
    """Session-level auth that changes nothing: its presence stops requests from applying ``.netrc``."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return request


class EnvironmentCachingSession(requests.Session):
    """A ``requests.Session`` that reads the proxy and CA-bundle environment once per host.

    ``requests`` calls :meth:`requests.Session.merge_environment_settings` on every request, and with
    ``trust_env`` (the default) that scans ``os.environ`` for ``*_proxy`` / ``no_proxy`` /
    ``REQUESTS_CA_BUNDLE`` each time: about a millisecond of CPU per request. The result only depends
    on the URL's scheme and host and on the per-request arguments, so it is computed once per such key
    for the session's lifetime (create a new client to pick up environment changes). ``.netrc`` is
    never consulted: the session's ``auth`` is a no-op, so credentials found there can neither replace
    the bearer token nor reach the token endpoint.
    """

    def __init__(self) -> None:
        super().__init__()
        self.auth = _NoNetrc()
        self._environment: dict[tuple[Any, ...], Any] = {}
        self._environment_lock = threading.Lock()

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> Any:
        """As :meth:`requests.Session.merge_environment_settings`, cached per (scheme, host, arguments)."""
        parts = urlsplit(url if isinstance(url, str) else str(url))
        try:
            key: tuple[Any, ...] = (
                parts.scheme,
                parts.netloc,
                tuple(sorted((proxies or {}).items())),
                stream,
                verify,
                cert,
                self.trust_env,
                tuple(sorted(self.proxies.items())),
                self.verify,
                self.cert,
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


@dataclass(frozen=True)
class _Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes


def _origin(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return f"{parts.scheme}://{parts.hostname}:{port}"


#: Exceptions that mean "no usable answer" while sending or reading.
_NETWORK_ERRORS = (requests.RequestException, urllib3.exceptions.HTTPError, http.client.HTTPException, OSError)


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
        self._sleep = sleep
        self.session: requests.Session = EnvironmentCachingSession()
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

    # -- the one retry policy --------------------------------------------------------------------

    def _with_retries(self, fn: Callable[[], _T], hooks: RequestHooks, path: str, page: int | None = None) -> _T:
        """Call ``fn`` under the retry policy: bounded attempts, Retry-After or backoff with jitter.

        ``fn`` raises ``_Retry`` for a failure worth retrying; when attempts run out, the error it
        carries is raised. Waits end early with :class:`StopRequested` once ``hooks.stop`` says so.
        """
        settings = self.settings

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, _Retry) and exc.retry_after is not None:
                return exc.retry_after
            backoff = wait_random_exponential(multiplier=settings.backoff, max=settings.backoff_max)
            return float(backoff(state))

        def before_sleep(state: RetryCallState) -> None:
            self.stats.add("retries")
            exc = state.outcome.exception() if state.outcome else None
            seconds = state.next_action.sleep if state.next_action else 0.0
            reason = str(exc.error) if isinstance(exc, _Retry) else str(exc)
            logger.info(
                "retrying %s after %s (attempt %d, waiting %.2f s)", path, reason, state.attempt_number, seconds
            )
            if hooks.on_retry is not None:
                hooks.on_retry(RetryNotice(path, page, reason, seconds, state.attempt_number))

        retrying = Retrying(
            stop=stop_after_attempt(settings.max_attempts),
            wait=wait,
            retry=retry_if_exception_type(_Retry),
            sleep=self._stoppable_sleep(hooks.stop),
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            return retrying(fn)
        except _Retry as exc:
            raise exc.error from None

    def _stoppable_sleep(self, stop: Callable[[], bool] | None) -> Callable[[float], None]:
        def sleep(seconds: float) -> None:
            if stop is not None and stop():
                raise StopRequested()
            if self._sleep is not time.sleep:  # an injected sleep (tests): call it as it is
                self._sleep(seconds)
                return
            deadline = time.monotonic() + seconds
            while (remaining := deadline - time.monotonic()) > 0:
                time.sleep(min(0.05, remaining))
                if stop is not None and stop():
                    raise StopRequested()

        return sleep

    def _retryable(self, answer: _Answer, error: EngagifiiError, path: str) -> Exception:
        """A retryable status as ``_Retry`` (waiting its Retry-After), or the final error beyond the cap."""
        retry_after = parse_retry_after(answer.headers.get("Retry-After"))
        if retry_after is not None and retry_after > self.settings.retry_after_cap:
            if isinstance(error, RateLimitError):
                error.retry_after = retry_after
                return error
            return error_from_answer(answer.status, answer.body, answer.headers, path, retry_after=retry_after)
        return _Retry(error, retry_after=retry_after)

    # -- one exchange ----------------------------------------------------------------------------

    def _exchange(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        data: bytes | str | None,
        hooks: RequestHooks,
        path: str,
        follow: bool,
    ) -> _Answer:
        """Send one attempt and read its answer within the deadline and the size limit.

        Redirects: never followed when ``follow`` is False; otherwise only to the same origin (a
        307/308, or any redirect of a GET), at most :data:`MAX_REDIRECTS` times.
        """
        origin = _origin(url)
        for _ in range(MAX_REDIRECTS + 1):
            answer = self._send_once(method, url, headers=headers, data=data, hooks=hooks, path=path)
            if answer.status not in REDIRECT_STATUSES:
                return answer
            location = answer.headers.get("Location") or ""
            target = urljoin(url, location)
            try:
                target_origin = _origin(target)
            except ValueError:
                target_origin = "an invalid address"
            same = target_origin == origin and (answer.status in (307, 308) or method == "GET")
            if not follow or not same:
                what = (
                    "the token endpoint never follows redirects"
                    if not follow
                    else (
                        "redirects to another origin are not followed"
                        if target_origin != origin
                        else f"a {method} is not re-sent after HTTP {answer.status}"
                    )
                )
                raise TransportError(
                    f"HTTP {answer.status} redirect to {server_text(target_origin, 120)} not followed ({what}); "
                    "check the configured URL",
                    path=path,
                )
            url = target
        raise TransportError(f"more than {MAX_REDIRECTS} redirects", path=path)

    def _send_once(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        data: bytes | str | None,
        hooks: RequestHooks,
        path: str,
    ) -> _Answer:
        settings = self.settings
        gate = hooks.gate
        if gate is not None:
            gate.acquire(hooks.stop)
        status: int | None = None
        try:
            with Deadline(settings.request_deadline, hooks.stop) as deadline:
                try:
                    response = self.session.request(
                        method,
                        url,
                        data=data.encode("utf-8") if isinstance(data, str) else data,
                        headers=dict(headers),
                        timeout=(settings.connect_timeout, min(settings.read_timeout, deadline.remaining())),
                        stream=True,
                        allow_redirects=False,
                    )
                    try:
                        status = response.status_code
                        ok = status < 300
                        limit = settings.max_body_bytes if ok else ERROR_BODY_LIMIT
                        body = read_body(response, limit, strict=ok)
                    finally:
                        response.close()
                except BodyTooLarge as exc:
                    status = None
                    raise TransportError(f"{exc} (max_body_bytes)", path=path) from None
                except _NETWORK_ERRORS as exc:
                    status = None
                    if deadline.fired == "stop":
                        raise StopRequested() from None
                    if deadline.fired == "deadline":
                        raise _Retry(
                            TransportError(
                                f"no complete answer within {settings.request_deadline:g} s (request_deadline)",
                                path=path,
                            )
                        ) from None
                    raise _Retry(TransportError(_network_reason(exc), path=path)) from None
        finally:
            if gate is not None:
                gate.release(status)
        return _Answer(response.status_code, response.headers, body)

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
            answer = self._exchange(
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
                raise self._retryable(answer, error, TOKEN_PATH)
            if status >= 400:
                info = parse_error_body(answer.body, answer.headers)
                code = info["code"] or "invalid_response"
                description = info["message"] or f"the identity server answered HTTP {status}"
                raise AuthenticationError(code, description, status=status)
            try:
                return decode_json(answer.body, declared_charset(answer.headers.get("Content-Type"))).data
            except ValueError:
                raise _Retry(
                    TransportError(
                        f"HTTP {status} from the identity server with a body that is not JSON "
                        f"({len(answer.body)} bytes)",
                        path=TOKEN_PATH,
                    )
                ) from None

        return self._with_retries(attempt, hooks, TOKEN_PATH)

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
                    raise self._retryable(answer, error, path)
                raise error
            try:
                return decode_json(answer.body, declared_charset(answer.headers.get("Content-Type")))
            except ValueError as exc:
                raise _Retry(
                    TransportError(
                        f"HTTP {status} with a body that is not usable JSON ({len(answer.body)} bytes: {exc})"[:300],
                        path=path,
                    )
                ) from None

        return self._with_retries(attempt, hooks, path, page)

    def _api_send(
        self,
        method: str,
        path: str,
        tenant: str,
        data: str | None,
        page: int | None,
        token: str,
        hooks: RequestHooks,
    ) -> _Answer:
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
        answer = self._exchange(
            method, self.settings.api_base_url + path, headers=headers, data=data, hooks=hooks, path=path, follow=True
        )
        self._log(method, path, answer, started, tenant, page)
        return answer

    @staticmethod
    def _log(method: str, path: str, answer: _Answer, started: float, tenant: str | None, page: int | None) -> None:
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


def _network_reason(exc: BaseException) -> str:
    """A one-line reason for a network error, without URLs' query strings or credentials."""
    if isinstance(exc, requests.Timeout):
        return f"timed out ({type(exc).__name__})"
    text = str(exc)
    for marker in (
        "Connection refused",
        "RemoteDisconnected",
        "Connection aborted",
        "Connection reset",
        "Name or service not known",
        "IncompleteRead",
        "timed out",
        "certificate verify failed",
    ):
        if marker in text:
            return f"connection failed: {marker}"
    return f"connection failed: {type(exc).__name__}"
