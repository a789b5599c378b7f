"""One job at a time (a walk or an export) in a worker thread, so the kernel stays free.

A job is started under a lock: a second start while one runs is refused, even when it bypasses a
disabled button (``Button.click()`` ignores ``disabled``; several threads may click at once). Every
exception a job raises is handed to the owner's ``on_error`` (a thread's exception would only reach
the log console). Jobs get a :class:`threading.Event` that :meth:`JobSlot.cancel` sets.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

__all__ = ["JobSlot"]


class JobSlot:
    """Run one job at a time in a daemon thread.

    Parameters
    ----------
    on_start : callable
        ``on_start(kind)``, called under the slot's lock just before the thread starts (e.g. to
        disable buttons: no other job can start in between).
    on_error : callable
        ``on_error(kind, exc)``, called in the job's thread with anything the job raised.
    on_stop : callable
        ``on_stop()``, called under the lock once the job has ended and the slot is free.
    after : callable
        ``after()``, called in the job's thread after ``on_stop``, outside the lock.
    """

    def __init__(
        self,
        *,
        on_start: Callable[[str], None],
        on_error: Callable[[str, BaseException], None],
        on_stop: Callable[[], None],
        after: Callable[[], None],
    ) -> None:
        self._on_start, self._on_error, self._on_stop, self._after = on_start, on_error, on_stop, after
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._kind: str | None = None
        self._cancel: threading.Event | None = None

    @property
    def running(self) -> bool:
        """True while a job runs."""
        with self._lock:
            return self._thread is not None and self._thread.is_alive()

    @property
    def kind(self) -> str | None:
        """The running job's kind (``"fetch"``, ``"export"``), or None."""
        with self._lock:
            return self._kind

    def start(self, kind: str, job: Callable[..., None], *args: Any) -> bool:
        """Run ``job(cancel_event, *args)`` in a new thread; False (nothing started) when a job runs."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                logger.debug("explorer: %s ignored, a %s is running", kind, self._kind)
                return False
            self._cancel = cancel = threading.Event()
            self._kind = kind
            self._on_start(kind)
            self._thread = threading.Thread(
                target=self._run, args=(kind, job, cancel, *args), name=f"engagifii-{kind}", daemon=True
            )
            self._thread.start()
            return True

    def _run(self, kind: str, job: Callable[..., None], cancel: threading.Event, *args: Any) -> None:
        try:
            job(cancel, *args)
        except BaseException as exc:  # everything: a thread's exception would only reach the log console
            logger.debug("explorer %s failed", kind, exc_info=True)
            self._on_error(kind, exc)
        finally:
            with self._lock:
                self._thread = self._kind = None
                self._on_stop()
            self._after()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the running job ends; True when no job runs any more."""
        with self._lock:
            thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def cancel(self, kind: str | None = None) -> bool:
        """Set the running job's cancel event (only a job of ``kind``, if given); True if it was set now."""
        with self._lock:
            event = self._cancel
            running = self._thread is not None and self._thread.is_alive() and kind in (None, self._kind)
        if event is None or not running or event.is_set():
            return False
        event.set()
        return True
