"""Reading answers: bounded JSON bodies with Unicode repair, error bodies in every shape, ``Retry-After``.

No sending here: the transport hands over status, headers and body bytes (already read under the
size limit and the deadline); these functions say what they mean. Every rule about the *content* of
an answer lives here, once:

- **JSON** (:func:`decode_json`): orjson, or the standard library where the two could differ; nesting
  deeper than :data:`MAX_JSON_DEPTH` is refused (``ValueError``, never ``RecursionError``); text that
  is not valid Unicode (invalid UTF-8 bytes, lone surrogate escapes such as a name cut in the middle
  of an emoji) is repaired to U+FFFD and counted.
- **Error bodies** (:func:`parse_error_body`): the documented envelope, OAuth 2.0 errors, RFC 7807
  problem details, HTML pages and plain text; every text taken from a server is cut to
  :data:`MAX_SERVER_TEXT` characters with control characters escaped (:func:`server_text`), so an
  exception message can neither be 200 MB long nor move a terminal's cursor.
- **Retry-After** (:func:`parse_retry_after`): seconds or an HTTP date; zero, negative and garbage
  mean "not given".
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import numpy as np
import orjson
import urllib3
from requests.adapters import HTTPAdapter

from .exceptions import ApiError, RateLimitError, TenantNotFoundError, error_class_for, safe_text

#: Deepest JSON nesting accepted (an event is about 4 levels deep; orjson's own limit is 1024).
MAX_JSON_DEPTH = 64
#: Longest server text quoted in an exception or shown to a person, in characters.
MAX_SERVER_TEXT = 300


@dataclass(frozen=True)
class Decoded:
    """A decoded JSON body.

    Attributes
    ----------
    data : Any
        The JSON value.
    repaired : int
        Places where text was not valid Unicode and became U+FFFD (0 for a clean body).
    """

    data: Any
    repaired: int = 0


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header, or ``None`` when it says nothing usable.

    Parameters
    ----------
    value : str or None
        ``delta-seconds`` (``"120"``, ``"1.5"``) or an HTTP date (``"Wed, 21 Oct 2015 07:28:00 GMT"``).
    now : float, optional
        The current POSIX time for an HTTP date (default: the clock).

    Returns
    -------
    float or None
        A positive number of seconds. Zero, negative, non-finite, unparseable or past dates give
        ``None`` (the caller's backoff applies), never an error (RFC 9110 section 10.2.3).
    """
    if not value:
        return None
    text = value.strip()
    seconds: float | None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None or when.tzinfo is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds or seconds in (float("inf"), float("-inf")) or seconds <= 0:
        return None
    return seconds


# -- server text ---------------------------------------------------------------------------------


def server_text(value: Any, limit: int = MAX_SERVER_TEXT) -> str:
    """Text that came from a server, safe to show: :func:`~engagifii_data.exceptions.safe_text`."""
    return safe_text(value, limit)


def _clean(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        value = json.dumps(value, ensure_ascii=False, default=str) if isinstance(value, dict | list) else str(value)
    return server_text(value) or None


# -- JSON ----------------------------------------------------------------------------------------

#: ``bytes.translate`` table: digits -> ``0``, everything else -> space (finds long digit runs fast).
_DIGIT_MAP: bytes = bytes(0x30 if 0x30 <= i <= 0x39 else 0x20 for i in range(256))
#: 19 digits: the shortest integer literal that can fall outside orjson's 64-bit integers.
_LONG_DIGIT_RUN: bytes = b"0" * 19
#: A JSON string literal (escapes included), removed before counting brackets.
_STRING_LITERAL = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKETS = bytes(range(256)).translate(None, b"[]{}")  # every byte but the brackets, to delete
_DEPTH_STEP = np.zeros(256, dtype=np.int8)
_DEPTH_STEP[[ord("["), ord("{")]] = 1
_DEPTH_STEP[[ord("]"), ord("}")]] = -1
_SURROGATE = re.compile("[\ud800-\udfff]")

#: Charsets whose bodies :func:`json.loads` reads from bytes itself.
_UNICODE_CHARSETS: frozenset[str] = frozenset(
    {"utf-8", "utf8", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be", "ascii", "us-ascii"}
)


def json_depth(body: bytes) -> int:
    """The deepest bracket nesting of a JSON text (strings ignored), in a few C-level passes."""
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:
        return 0  # cannot be deeper than the limit: skip the scan (the usual case for small bodies)
    brackets = _STRING_LITERAL.sub(b"", body).translate(None, _BRACKETS)
    if not brackets:
        return 0
    steps = _DEPTH_STEP[np.frombuffer(brackets, dtype=np.uint8)]
    return int(np.cumsum(steps, dtype=np.int64).max())


def _repair(value: Any) -> tuple[Any, int]:
    """``value`` with every lone surrogate in its strings (keys included) replaced by U+FFFD."""
    if isinstance(value, str):
        fixed, n = _SURROGATE.subn("\ufffd", value)
        return fixed, n
    if isinstance(value, list):
        total = 0
        out_list = []
        for item in value:
            fixed, n = _repair(item)
            out_list.append(fixed)
            total += n
        return out_list, total
    if isinstance(value, dict):
        total = 0
        out_dict = {}
        for key, item in value.items():
            fixed_key, k = _repair(key)
            fixed, n = _repair(item)
            out_dict[fixed_key] = fixed
            total += k + n
        return out_dict, total
    return value, 0


def decode_json(body: bytes, encoding: str | None = None) -> Decoded:
    """Decode a JSON body: orjson, or the standard library where the two could differ.

    ``encoding`` is the ``charset`` the answer's ``Content-Type`` declares, if any
    (:func:`declared_charset`). JSON is UTF-8 (RFC 8259), and UTF-8/16/32 bodies are recognised by
    :func:`json.loads` itself; a server that declares another charset (``iso-8859-1``) gets its body
    decoded with it first. An unknown charset is ignored.

    orjson is about 3x faster on a 100-row page. It refuses ``NaN``/``Infinity``, ``1e400``, a UTF-8
    BOM, invalid UTF-8 and lone surrogate escapes, which the standard library reads, and it silently
    turns integers beyond 64 bits into floats (losing digits). So a body with a run of 19 or more
    digits, or one orjson refuses, is decoded by the standard library: the result never depends on
    the fast path. On that path invalid UTF-8 bytes and lone surrogates become U+FFFD, counted in
    :attr:`Decoded.repaired`.

    Raises
    ------
    ValueError
        The body is not JSON, or nests deeper than :data:`MAX_JSON_DEPTH`.
    """
    if json_depth(body) > MAX_JSON_DEPTH:
        raise ValueError(f"JSON nested more than {MAX_JSON_DEPTH} levels deep")
    if encoding is not None and encoding.lower().replace("_", "-") not in _UNICODE_CHARSETS:
        try:
            text = body.decode(encoding, errors="replace")
        except LookupError:
            pass  # an unknown charset: read the bytes as JSON
        else:
            return _standard(text, 0)
    if _LONG_DIGIT_RUN not in body.translate(_DIGIT_MAP):
        try:
            return Decoded(orjson.loads(body))
        except orjson.JSONDecodeError:
            pass
    try:
        return _standard(body, 0)
    except UnicodeDecodeError:
        # invalid UTF-8 (a multibyte character cut in two): repair the bytes, count the repairs
        text = body.decode("utf-8", errors="replace")
        broken = text.count("\ufffd") - body.count("\ufffd".encode())
        return _standard(text, broken)


def _standard(text: str | bytes, repaired: int) -> Decoded:
    try:
        data = json.loads(text)
    except RecursionError:
        raise ValueError(f"JSON nested more than {MAX_JSON_DEPTH} levels deep") from None
    data, surrogates = _repair(data)
    return Decoded(data, repaired + surrogates)


_CHARSET = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._:-]+)""", re.IGNORECASE)


def declared_charset(content_type: str | None) -> str | None:
    """The ``charset`` parameter of a ``Content-Type`` header, or None when it declares none."""
    match = _CHARSET.search(content_type or "")
    return match.group(1) if match else None


# -- error answers -------------------------------------------------------------------------------

_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def parse_error_body(body: bytes, headers: Mapping[str, str]) -> dict[str, str | Any]:
    """Extract ``code``, ``message``, ``trace_id`` and ``details`` from an error answer.

    Parameters
    ----------
    body : bytes
        The (size-limited) body of an answer with status >= 400.
    headers : mapping
        Its headers (case-insensitive mapping).

    Returns
    -------
    dict
        Keys ``code``, ``message``, ``trace_id`` (each a safe, short string or None: see
        :func:`server_text`) and ``details`` (the raw ``details``/``errors`` value, or None).

    Notes
    -----
    Shapes understood: the documented envelope ``{"error": {"code", "message", "details",
    "traceId"}}``; OAuth 2.0 ``{"error": "invalid_token", "error_description": ...}``; RFC 7807
    problem details (``title``, ``detail``, ``traceId``, ``errors``); HTML pages (the ``<title>``);
    anything else as a short excerpt.
    """
    out: dict[str, Any] = {"code": None, "message": None, "trace_id": None, "details": None}
    try:
        parsed: Any = decode_json(body, declared_charset(headers.get("Content-Type"))).data if body else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        err = parsed.get("error")
        if isinstance(err, dict):
            out.update(
                code=err.get("code"),
                message=err.get("message"),
                details=err.get("details"),
                trace_id=err.get("traceId") or err.get("traceID"),
            )
        elif isinstance(err, str):
            out.update(code=err, message=parsed.get("error_description") or parsed.get("message"))
        elif "title" in parsed or "type" in parsed or "errors" in parsed:
            out.update(
                code=parsed.get("code") or parsed.get("title"),
                message=parsed.get("detail") or parsed.get("title"),
                details=parsed.get("errors"),
            )
        else:
            out.update(code=parsed.get("code"), message=parsed.get("message"))
        out["trace_id"] = out["trace_id"] or parsed.get("traceId") or parsed.get("traceID")
    else:
        text = body[: MAX_SERVER_TEXT * 40].decode("utf-8", errors="replace")
        if text.lstrip().startswith("<"):
            match = _TITLE.search(text)
            out["message"] = " ".join(match.group(1).split()) if match else "an HTML error page"
        elif text.strip():
            out["message"] = " ".join(text.split())
    if out["trace_id"] is None:
        out["trace_id"] = headers.get("traceId") or headers.get("x-trace-id")
    for key in ("code", "message", "trace_id"):
        out[key] = _clean(out[key])
    return out


def error_from_answer(
    status: int,
    body: bytes,
    headers: Mapping[str, str],
    path: str,
    tenant: str | None = None,
    *,
    retry_after: float | None = None,
) -> ApiError:
    """The exception for an error answer, chosen from the status -> class table.

    A 403/404 whose code names the tenant is a :class:`TenantNotFoundError`; a 429 (or any retryable
    status whose ``Retry-After`` exceeded the cap) carries ``retry_after``.
    """
    info = parse_error_body(body, headers)
    cls = error_class_for(status)
    code = info["code"] or ""
    if status in (403, 404) and "TENANT" in code.upper():
        cls = TenantNotFoundError
    message = info["message"]
    if cls is TenantNotFoundError and tenant and message and tenant not in message:
        message = f"{message} (tenant-code {server_text(tenant, 60)!r})"
    kwargs: dict[str, Any] = {"details": info["details"]}
    if cls is RateLimitError or retry_after is not None:
        if cls is not RateLimitError:
            cls = RateLimitError
        kwargs["retry_after"] = (
            retry_after if retry_after is not None else parse_retry_after(headers.get("Retry-After"))
        )
    return cls(status, info["code"], message, info["trace_id"], path, **kwargs)


# -- deadlines -----------------------------------------------------------------------------------
#
# A read timeout bounds each socket read, not the answer: a server that sends one byte a second
# never trips it. So every attempt registers with one watchdog thread, and the sockets it uses are
# bound to it as they are used (by the connection classes below). When the attempt's deadline passes
# or its stop signal is set, the watchdog shuts those sockets down: the blocked read returns at once
# and the attempt fails with a reason (``deadline`` or ``stop``) the transport turns into a retry or
# a cancel. One mechanism for connect, headers and body, for the token endpoint and the API alike.

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
    declared = response.headers.get("Content-Length")
    if strict and declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"the answer declares {int(declared):,} bytes, over the limit of {limit:,}")
    body = response.raw.read(limit + 1, decode_content=True) or b""
    if len(body) > limit:
        if strict:
            raise BodyTooLarge(f"the answer is larger than the limit of {limit:,} bytes")
        body = body[:limit]
    return bytes(body)
