"""How fast: the session's client-side rate limit and a walk's adaptive concurrency (no HTTP here)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from .exceptions import StopRequested

logger = logging.getLogger(__name__)


class RateLimiter:
    """Client-side request spacing shared by every worker of a session.

    Parameters
    ----------
    per_minute : float
        Maximum requests per minute (the vendor guide suggests 100). Requests are spaced at least
        ``60 / per_minute`` seconds apart.
    """

    def __init__(
        self,
        per_minute: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 60.0 / per_minute
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next = 0.0

    def acquire(self, stop: Callable[[], bool] | None = None) -> None:
        """Block until the next request may be sent.

        Raises
        ------
        StopRequested
            ``stop()`` turned True while waiting (the reserved slot is given back).
        """
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            self._next = start + self.interval
        if start <= now:
            return
        if stop is None or self._sleep is not time.sleep:
            self._sleep(start - now)
            return
        while (remaining := start - self._clock()) > 0:
            if stop():
                with self._lock:
                    self._next = max(self._clock(), self._next - self.interval)
                raise StopRequested()
            time.sleep(min(0.05, remaining))


class AdaptiveConcurrency:
    """Concurrency limit for one walk that backs off after a 429 and recovers slowly (AIMD).

    After a 429 the limit halves (at least 1) and its ceiling becomes one below the concurrency
    that provoked it, so the request rate never grows past what the server last accepted (a 429
    with a single request in flight, e.g. on page 1, lowers the limit but not the ceiling). Every
    ``4 x limit`` consecutive successful answers raise the limit by one, up to that ceiling.

    Parameters
    ----------
    workers : int
        The starting (and highest) number of requests in flight.
    """

    def __init__(self, workers: int) -> None:
        self.start = max(1, workers)
        self.limit = self.start
        self.ceiling = self.start
        self.active = 0
        self.throttled = 0
        self._successes = 0
        self._cond = threading.Condition()

    def __repr__(self) -> str:
        return f"AdaptiveConcurrency(limit={self.limit}, ceiling={self.ceiling}, throttled={self.throttled})"

    def acquire(self, stop: Callable[[], bool] | None = None) -> None:
        """Block until fewer than ``limit`` requests are in flight.

        Raises
        ------
        StopRequested
            ``stop()`` turned True while waiting.
        """
        with self._cond:
            while self.active >= self.limit:
                if stop is not None and stop():
                    raise StopRequested()
                self._cond.wait(0.05 if stop is not None else None)
            self.active += 1

    def release(self, status: int | None) -> None:
        """Record the outcome of a request (``status`` None for a network failure)."""
        with self._cond:
            self.active -= 1
            if status == 429:
                self.throttled += 1
                in_flight = self.active + 1
                if in_flight > 1:  # refused at this concurrency: never go back to it
                    self.ceiling = max(1, min(self.ceiling, in_flight - 1))
                self.limit = max(1, min(self.limit // 2, self.ceiling))
                self._successes = 0
                logger.info("throttled (429): concurrency lowered to %d (ceiling %d)", self.limit, self.ceiling)
            elif status is not None and status < 400:
                self._successes += 1
                if self.limit < self.ceiling and self._successes >= 4 * self.limit:
                    self.limit += 1
                    self._successes = 0
            self._cond.notify_all()
