"""Small helpers shared by the test modules."""

from __future__ import annotations

import threading
import time


class SleepRecorder:
    """A ``sleep`` for ``EngagifiiClient(..., sleep=...)``: records the waits asked for, in seconds.

    Retry-After and backoff waits are asserted, not timed: it really sleeps at most ``cap`` seconds
    per call (0 = never), so retries cost nothing but still let other threads run.
    """

    def __init__(self, cap: float = 0.0) -> None:
        self.cap = cap
        self.waits: list[float] = []
        self._lock = threading.Lock()

    def __call__(self, seconds: float) -> None:
        with self._lock:
            self.waits.append(seconds)
        if self.cap > 0:
            time.sleep(min(seconds, self.cap))
