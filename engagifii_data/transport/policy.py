"""The one retry policy, for the token endpoint and the API alike, and what a request may borrow.

- HTTP 429, 500, 502, 503, 504, refused or dropped connections, timeouts, a missed deadline and 200
  answers whose body is not JSON are retried with exponential backoff and full jitter (tenacity), at
  most ``settings.max_attempts`` attempts.
- ``Retry-After`` (seconds or an HTTP date) is honoured on every retried status up to
  ``settings.retry_after_cap``; a longer demand raises :class:`RateLimitError` carrying the delay.
- A failure that retrying cannot heal is not retried: a TLS certificate that fails verification
  (self-signed, another host's, expired, an unknown CA) raises :class:`TransportError` after one
  attempt, naming the host and ``REQUESTS_CA_BUNDLE`` (:func:`network_failure`).
- Every wait polls the caller's stop signal (:class:`RequestHooks`) and ends with
  :class:`StopRequested` once it is set; the caller's ``on_retry`` hears of every retry.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_random_exponential

from ..config import Settings
from ..exceptions import EngagifiiError, RateLimitError, StopRequested, TransportError
from ..pacing import AdaptiveConcurrency
from ..responses import error_from_answer, parse_retry_after

logger = logging.getLogger("engagifii_data.transport")

_T = TypeVar("_T")

#: HTTP statuses retried with backoff (the list POST included: it is read-only).
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
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
        return f"retrying {what} {self.when}: {self.reason}"

    @property
    def when(self) -> str:
        """The wait as a person reads it: ``now`` (under 0.05 s), ``in 0.4 s``, ``in 2 s``, ``in 30 s``."""
        if self.wait < 0.05:
            return "now"
        return f"in {self.wait:.1f} s" if self.wait < 1 else f"in {self.wait:.0f} s"


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


class Retryable(Exception):
    """Internal: an attempt failed in a way worth retrying; ``error`` is raised if attempts run out."""

    def __init__(self, error: Exception, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


class RetryPolicy:
    """Runs attempts under the retry policy of the module docstring.

    Parameters
    ----------
    settings : Settings
        ``max_attempts``, ``backoff``, ``backoff_max``, ``retry_after_cap``.
    stats : Stats
        ``retries`` is counted here.
    sleep : callable
        Backoff waits (``time.sleep``; tests pass a recorder, called as it is).
    """

    def __init__(self, settings: Settings, stats: Stats, sleep: Callable[[float], None] = time.sleep) -> None:
        self.settings = settings
        self.stats = stats
        self._sleep = sleep

    def run(self, fn: Callable[[], _T], hooks: RequestHooks, path: str, page: int | None = None) -> _T:
        """Call ``fn`` under the retry policy: bounded attempts, Retry-After or backoff with jitter.

        ``fn`` raises ``Retryable`` for a failure worth retrying; when attempts run out, the error it
        carries is raised. Waits end early with :class:`StopRequested` once ``hooks.stop`` says so.
        """
        settings = self.settings

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, Retryable) and exc.retry_after is not None:
                return exc.retry_after
            backoff = wait_random_exponential(multiplier=settings.backoff, max=settings.backoff_max)
            return float(backoff(state))

        def before_sleep(state: RetryCallState) -> None:
            self.stats.add("retries")
            exc = state.outcome.exception() if state.outcome else None
            seconds = state.next_action.sleep if state.next_action else 0.0
            reason = str(exc.error) if isinstance(exc, Retryable) else str(exc)
            notice = RetryNotice(path, page, reason, seconds, state.attempt_number)
            # a warning, as urllib3 logs its retries: a slow or failing server is worth seeing while it lasts
            logger.warning("%s (attempt %d of %d)", notice, state.attempt_number, settings.max_attempts)
            if hooks.on_retry is not None:
                hooks.on_retry(notice)

        retrying = Retrying(
            stop=stop_after_attempt(settings.max_attempts),
            wait=wait,
            retry=retry_if_exception_type(Retryable),
            sleep=self._stoppable_sleep(hooks.stop),
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            return retrying(fn)
        except Retryable as exc:
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

    def retryable(
        self, status: int, body: bytes, headers: Mapping[str, str], error: EngagifiiError, path: str
    ) -> Exception:
        """A retryable status as ``Retryable`` (waiting its Retry-After), or the final error beyond the cap."""
        retry_after = parse_retry_after(headers.get("Retry-After"))
        if retry_after is not None and retry_after > self.settings.retry_after_cap:
            if isinstance(error, RateLimitError):
                error.retry_after = retry_after
                return error
            return error_from_answer(status, body, headers, path, retry_after=retry_after)
        return Retryable(error, retry_after=retry_after)


#: How :func:`network_failure` tells a certificate problem from a connection problem in text only
#: (some layers keep the message but not the ``ssl`` exception).
_CERTIFICATE_MARKER = "certificate verify failed"


def certificate_problem(exc: BaseException) -> str | None:
    """Why the server's TLS certificate was refused (``self-signed certificate`` ...), or None.

    ``requests`` wraps :class:`ssl.SSLCertVerificationError` in urllib3's errors (as an argument, a
    ``reason`` or a context), so the chain is searched a few levels deep.
    """
    seen: set[int] = set()
    todo: list[object] = [exc]
    text_says = False
    while todo and len(seen) < 32:
        current = todo.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            detail = current.verify_message or current.reason or "certificate verify failed"
            return str(detail)
        text_says = text_says or _CERTIFICATE_MARKER in str(current)
        todo += [current.__cause__, current.__context__, getattr(current, "reason", None), *current.args]
    return _CERTIFICATE_MARKER if text_says else None


def network_failure(exc: BaseException, reason: str, *, host: str, path: str) -> Exception:
    """A failed attempt (no answer) under the policy: ``Retryable``, or the error itself when a retry cannot help.

    Refused or dropped connections, timeouts and name lookups may heal and are retried. A certificate
    that fails verification is the same certificate on the next attempt: it is raised at once.
    """
    problem = certificate_problem(exc)
    if problem is not None:
        return TransportError(
            f"TLS certificate verification failed for {host} ({problem}); not retried",
            path=path,
            host=host,
            hint=(
                f"if {host} is right and its certificate comes from a private CA (a company proxy or "
                "gateway), set REQUESTS_CA_BUNDLE to a PEM file of that CA's certificates"
            ),
        )
    return Retryable(TransportError(reason, path=path, host=host))
