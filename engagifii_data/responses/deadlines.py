"""Deadlines and size limits on reading an answer: one watchdog cuts off late or cancelled attempts.

A read timeout bounds each socket read, not the answer: a server that sends one byte a second never
trips it. So every attempt registers with one watchdog thread, and the sockets it uses are bound to it
as they are used (by the pooled connections of :class:`DeadlineAdapter`). When the attempt's deadline
passes or its stop signal is set, the watchdog shuts those sockets down: the blocked read returns at
once and the attempt fails with a reason (``deadline`` or ``stop``) the transport turns into a retry or
a cancel. One mechanism for connect, headers and body, for the token endpoint and the API alike.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import urllib3
from requests.adapters import HTTPAdapter

from .numbers import NotPlainNumber, plain_number

_CURRENT = threading.local()
#: How often the watchdog looks at the attempts in flight, in seconds.
WATCH_INTERVAL = 0.05


class Deadline:
    """One attempt's time limit and stop signal, enforced by shutting its sockets down.

    Use as a context manager around sending the request and reading the whole body, on one thread.

    Parameters
    ----------
    seconds : float
        Total time allowed from entering the block.
    stop : callable, optional
        Polled by the watchdog; once it returns True the attempt is cut off (``fired == "stop"``).
    clock : callable
        Monotonic clock.
    """

    def __init__(
        self, seconds: float, stop: Callable[[], bool] | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.seconds = seconds
        self.stop = stop
        self._clock = clock
        self.expires = clock() + seconds
        self.fired: str | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def __enter__(self) -> Deadline:
        self.expires = self._clock() + self.seconds
        _CURRENT.deadline = self
        _WATCHDOG.watch(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _CURRENT.deadline = None
        _WATCHDOG.unwatch(self)

    def remaining(self) -> float:
        """Seconds left (at least a millisecond, so a timeout argument stays valid)."""
        return max(0.001, self.expires - self._clock())

    def bind(self, sock: Any) -> None:
        """Put ``sock`` under this deadline (shut down at once if the attempt was already cut off)."""
        if sock is None:
            return
        with self._lock:
            if sock not in self._sockets:
                self._sockets.append(sock)
            fired = self.fired
        if fired is not None:
            _shutdown(sock)

    def check(self) -> None:
        """Cut the attempt off if its deadline passed or its stop signal is set (the watchdog's poll)."""
        if self.fired is not None:
            return
        reason = None
        if self.stop is not None and self.stop():
            reason = "stop"
        elif self._clock() >= self.expires:
            reason = "deadline"
        if reason is None:
            return
        with self._lock:
            self.fired = reason
            sockets = list(self._sockets)
        for sock in sockets:
            _shutdown(sock)


def _shutdown(sock: Any) -> None:
    with contextlib.suppress(OSError, AttributeError, ValueError):
        sock.shutdown(socket.SHUT_RDWR)


class _Watchdog:
    """The one thread that polls every attempt in flight (started on first use, a daemon)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._active: set[Deadline] = set()
        self._thread: threading.Thread | None = None

    def watch(self, deadline: Deadline) -> None:
        with self._cond:
            self._active.add(deadline)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="engagifii-deadlines", daemon=True)
                self._thread.start()
            self._cond.notify()

    def unwatch(self, deadline: Deadline) -> None:
        with self._cond:
            self._active.discard(deadline)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._active:
                    self._cond.wait()
                active = list(self._active)
            for deadline in active:
                deadline.check()
            time.sleep(WATCH_INTERVAL)


_WATCHDOG = _Watchdog()


def _bind_current(sock: Any) -> None:
    deadline = getattr(_CURRENT, "deadline", None)
    if deadline is not None:
        deadline.bind(sock)


def _guard(conn: Any) -> Any:
    """Make a pooled connection put its socket under the current :class:`Deadline` when it is used.

    Bound methods are wrapped on the instance (not by subclassing the connection class), so whatever
    class the pool uses keeps working. Only urllib3's own connections are guarded: a replay stub
    (``vcrpy``'s, which answers from a cassette) has no socket to guard and proxies attributes.
    """
    if not type(conn).__module__.startswith("urllib3."):
        return conn
    connect, getresponse = conn.connect, conn.getresponse

    def guarded_connect(*args: Any, **kwargs: Any) -> Any:
        result = connect(*args, **kwargs)
        _bind_current(getattr(conn, "sock", None))
        return result

    def guarded_getresponse(*args: Any, **kwargs: Any) -> Any:
        _bind_current(getattr(conn, "sock", None))  # a kept-alive connection: bound when its answer is awaited
        return getresponse(*args, **kwargs)

    conn.connect = guarded_connect
    conn.getresponse = guarded_getresponse
    return conn


class _GuardedHTTPPool(urllib3.HTTPConnectionPool):
    def _new_conn(self) -> Any:
        return _guard(super()._new_conn())


class _GuardedHTTPSPool(urllib3.HTTPSConnectionPool):
    def _new_conn(self) -> Any:
        return _guard(super()._new_conn())


_GUARDED_POOLS = {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}


class DeadlineAdapter(HTTPAdapter):
    """A requests adapter whose connections put their sockets under the current :class:`Deadline`."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_GUARDED_POOLS)

    def proxy_manager_for(self, proxy: Any, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = dict(_GUARDED_POOLS)
        return manager


class BodyTooLarge(ValueError):
    """The answer's body is larger than the limit."""


def read_body(response: Any, limit: int, *, strict: bool) -> bytes:
    """The body of a streamed ``requests`` answer, at most ``limit`` bytes (decoded).

    Parameters
    ----------
    response : requests.Response
        Sent with ``stream=True``.
    limit : int
        Bytes kept.
    strict : bool
        True: a larger body (declared or read) raises :class:`BodyTooLarge` before or as soon as
        ``limit`` is passed. False: the body is cut at ``limit`` (error answers: only a short excerpt
        is ever shown).
    """
    declared = _declared_length(response.headers.get("Content-Length"))
    if strict and declared is not None and declared > limit:
        raise BodyTooLarge(f"the answer declares {declared:,} bytes, over the limit of {limit:,}")
    body = response.raw.read(limit + 1, decode_content=True) or b""
    if len(body) > limit:
        if strict:
            raise BodyTooLarge(f"the answer is larger than the limit of {limit:,} bytes")
        body = body[:limit]
    return bytes(body)


def _declared_length(value: str | None) -> int | None:
    """``Content-Length`` as plain ASCII digits (:func:`~.numbers.plain_number`), else None."""
    if value is None:
        return None
    try:
        return int(plain_number(value.strip(), "Content-Length", whole=True))
    except NotPlainNumber:
        return None
