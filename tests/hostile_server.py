"""A small misbehaving HTTP/1.1 server for robustness tests (standard library only).

Usage::

    with HostileServer() as hs, HostileServer() as attacker:
        hs.route("POST", "/connect/token", [redirect_to(attacker.url + "/steal", 307)])
        hs.route("POST", "/api/1.0/event/list", [Answer(status=503, headers={"Retry-After": "2"}),
                                                 page_answer(event_rows(3), 3)])
        ...
        assert attacker.connections == 0

- ``hs.url`` is ``http://127.0.0.1:PORT`` (``https://`` with ``HostileServer(tls=True)``: a self-signed
  certificate for 127.0.0.1 is made on the fly; ``hs.ca_file`` is its path, for ``REQUESTS_CA_BUNDLE``).
- ``hs.requests`` records every request (method, path, lower-case headers, body bytes) before it is
  answered; ``hs.connections`` counts accepted TCP connections (also those that never sent a request,
  e.g. a TLS handshake to a plain server).
- ``hs.route(method, path, answers, page=None)`` scripts a queue of :class:`Answer` per route; the last
  one repeats. ``page`` restricts a route to list requests whose JSON body has that ``pageNumber``. A
  path ending in ``*`` matches by prefix. Unrouted requests get a 404 in the API's error envelope.
- An :class:`Answer` sets status, headers and body (bytes, str, a JSON-able object, or a callable
  ``f(request) -> any of those``) and behaviours: ``delay`` before the status line, ``trickle=(n, s)``
  (n bytes every s seconds, with a correct Content-Length), ``drop`` (close without answering),
  ``body_size`` (a huge body generated lazily: prefix + filler * size + suffix, streamed in chunks),
  ``chunked`` (Transfer-Encoding: chunked instead of Content-Length).
- Closing the server (leaving the ``with`` block, or :meth:`HostileServer.close`) stops delays and
  trickles at once, shuts every open connection and joins every thread; clients that hang up
  mid-body are ignored (BrokenPipe/ConnectionReset).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import itertools
import json
import shutil
import socket
import socketserver
import ssl
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

#: Exceptions that only mean "the client went away" (or the server is closing): never reported.
QUIET_ERRORS: tuple[type[BaseException], ...] = (
    BrokenPipeError,
    ConnectionResetError,
    ConnectionAbortedError,
    TimeoutError,
    ssl.SSLError,
    OSError,
)

CHUNK = 64 * 1024
DEFAULT_CONTENT_TYPE = "application/json; charset=utf-8"

Body = bytes | str | Any
BodyFactory = Callable[["Recorded"], Body]


@dataclass(frozen=True)
class Recorded:
    """One request as the server received it."""

    method: str
    path: str  # as sent, query string included
    headers: dict[str, str]  # lower-case names
    body: bytes
    connection: int  # serial number of the TCP connection it came on

    @property
    def route_path(self) -> str:
        """The path without its query string."""
        return urlsplit(self.path).path

    def json(self) -> Any:
        """The body decoded as JSON (None when it is not JSON)."""
        try:
            return json.loads(self.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return None

    @property
    def page(self) -> int | None:
        """``pageNumber`` of a list request body (case-insensitive), if any."""
        return _body_int(self.json(), "pagenumber")

    @property
    def page_size(self) -> int | None:
        """``pageSize`` of a list request body (case-insensitive), if any."""
        return _body_int(self.json(), "pagesize")


def _body_int(body: Any, key: str) -> int | None:
    if not isinstance(body, dict):
        return None
    for k, v in body.items():
        if isinstance(k, str) and k.lower() == key:
            try:
                return int(v)
            except (TypeError, ValueError):
                return None
    return None


@dataclass
class Answer:
    """One scripted answer.

    Parameters
    ----------
    status : int
        HTTP status (default 200).
    body : bytes, str, JSON-able object or callable
        bytes are sent as they are, str as UTF-8, anything else as JSON; a callable receives the
        :class:`Recorded` request and returns one of those.
    headers : mapping
        Extra headers (a ``Content-Type`` here wins over ``content_type``).
    content_type : str, optional
        Default: JSON for JSON-able bodies and bytes, ``text/plain; charset=utf-8`` for str.
    delay : float
        Seconds to wait before the status line (interrupted when the server closes).
    trickle : (int, float), optional
        Send the body ``n`` bytes at a time, sleeping ``s`` seconds between pieces.
    drop : bool
        Read the request, then close the connection without answering.
    body_size : int, optional
        Generate ``body_prefix + body_filler * body_size + body_suffix`` lazily instead of ``body``.
    chunked : bool
        Use ``Transfer-Encoding: chunked`` instead of ``Content-Length``.
    close : bool
        Send ``Connection: close`` and close after the answer.
    """

    status: int = 200
    body: Body | BodyFactory = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str | None = None
    delay: float = 0.0
    trickle: tuple[int, float] | None = None
    drop: bool = False
    body_size: int | None = None
    body_prefix: bytes = b""
    body_filler: bytes = b"x"
    body_suffix: bytes = b""
    chunked: bool = False
    close: bool = False

    def render(self, request: Recorded) -> tuple[bytes, str]:
        """The body bytes (for a non-generated body) and its default content type."""
        body = self.body(request) if callable(self.body) else self.body
        if isinstance(body, bytes | bytearray):
            return bytes(body), DEFAULT_CONTENT_TYPE
        if isinstance(body, str):
            return body.encode("utf-8"), "text/plain; charset=utf-8"
        return json.dumps(body).encode("utf-8"), DEFAULT_CONTENT_TYPE

    def generated_length(self) -> int:
        assert self.body_size is not None
        return len(self.body_prefix) + len(self.body_filler) * self.body_size + len(self.body_suffix)

    def generated_pieces(self) -> Iterator[bytes]:
        """The generated body in pieces of about :data:`CHUNK` bytes (never all in memory)."""
        assert self.body_size is not None
        yield self.body_prefix
        per_piece = max(1, CHUNK // max(1, len(self.body_filler)))
        piece = self.body_filler * per_piece
        left = self.body_size
        while left > 0:
            n = min(per_piece, left)
            yield piece if n == per_piece else self.body_filler * n
            left -= n
        yield self.body_suffix


# --------------------------------------------------------------------------------------------------
# Answer helpers
# --------------------------------------------------------------------------------------------------


def token_answer(*, expires_in: Any = 3600, prefix: str = "tok-") -> Answer:
    """A valid client-credentials answer; each use issues ``tok-1``, ``tok-2``, ..."""
    counter = itertools.count(1)
    lock = threading.Lock()

    def body(_: Recorded) -> dict[str, Any]:
        with lock:
            n = next(counter)
        return {"access_token": f"{prefix}{n}", "expires_in": expires_in, "token_type": "Bearer", "scope": "EventsApi"}

    return Answer(body=body)


def event_id(n: int, salt: int = 0) -> str:
    """A deterministic lowercase UUID v4 for row ``n``."""
    return str(uuid.UUID(int=(salt << 64) | n, version=4))


def event_rows(n: int, *, start: int = 0, prefix: str = "Event", salt: int = 0) -> list[dict[str, Any]]:
    """``n`` simple rows ``{"id": "<uuid>", "name": "<prefix> <i>"}`` numbered from ``start``."""
    return [{"id": event_id(i, salt), "name": f"{prefix} {i}"} for i in range(start, start + n)]


def wire_page(rows: Sequence[Any] | None, total: Any) -> dict[str, Any]:
    """The live services' envelope: ``{"collection": [...], "pagingModel": {"totalRecords": N}}``."""
    return {"collection": None if rows is None else list(rows), "pagingModel": {"totalRecords": total}}


def docs_page(rows: Sequence[Any] | None, total: Any) -> dict[str, Any]:
    """The documented envelope: ``{"totalCount": N, "data": [...]}``."""
    return {"totalCount": total, "data": None if rows is None else list(rows)}


def page_answer(rows: Sequence[Any] | None, total: Any, *, envelope: str = "wire", **answer: Any) -> Answer:
    """A fixed listing page in the ``wire`` or ``docs`` envelope."""
    body = wire_page(rows, total) if envelope == "wire" else docs_page(rows, total)
    return Answer(body=body, **answer)


def listing_answer(
    rows: Sequence[dict[str, Any]],
    *,
    envelope: str = "wire",
    total: Any = None,
    total_on: Callable[[int], bool] | None = None,
) -> Answer:
    """A listing that serves the page the request asks for (``pageNumber``/``pageSize`` from its body).

    ``total`` defaults to ``len(rows)``; ``total_on(page)`` False leaves the total out of that page.
    """
    all_rows = list(rows)
    count = len(all_rows) if total is None else total

    def body(request: Recorded) -> dict[str, Any]:
        number = request.page or 1
        size = request.page_size or 100
        chunk = all_rows[(number - 1) * size : number * size]
        if total_on is not None and not total_on(number):
            return {"collection": chunk} if envelope == "wire" else {"data": chunk}
        return wire_page(chunk, count) if envelope == "wire" else docs_page(chunk, count)

    return Answer(body=body)


def error_answer(
    status: int, code: str | None, message: Any, *, trace_id: str | None = "trace-1", **answer: Any
) -> Answer:
    """The API's documented error envelope ``{"error": {"code", "message", "traceId", ...}}``."""
    return Answer(
        status=status,
        body={"error": {"code": code, "message": message, "details": None, "traceId": trace_id}},
        **answer,
    )


def oauth_error(status: int, error: str, description: Any, **answer: Any) -> Answer:
    """An OAuth 2.0 error answer ``{"error", "error_description"}``."""
    return Answer(status=status, body={"error": error, "error_description": description}, **answer)


def redirect_to(location: str, status: int = 302, **answer: Any) -> Answer:
    """A redirect (301, 302, 303, 307 or 308) to ``location``."""
    headers = {"Location": location, **dict(answer.pop("headers", {}))}
    return Answer(status=status, body=b"", headers=headers, content_type="text/plain", **answer)


def huge_answer(size: int, *, status: int = 200, kind: str = "row", chunked: bool = False, **answer: Any) -> Answer:
    """A body of about ``size`` bytes generated lazily.

    ``kind``: ``"row"`` a wire listing page whose single row's name is ``size`` x's; ``"string"`` a
    JSON string; ``"text"`` plain text; ``"error"`` the API's error envelope with a huge message;
    ``"oauth"`` an OAuth error with a huge ``error_description``.
    """
    shapes: dict[str, tuple[bytes, bytes, str]] = {
        "row": (
            b'{"collection":[{"id":"' + event_id(1).encode() + b'","name":"',
            b'"}],"pagingModel":{"totalRecords":1}}',
            DEFAULT_CONTENT_TYPE,
        ),
        "string": (b'"', b'"', DEFAULT_CONTENT_TYPE),
        "text": (b"", b"", "text/plain; charset=utf-8"),
        "error": (
            b'{"error":{"code":"VALIDATION_ERROR","traceId":"trace-huge","message":"',
            b'"}}',
            DEFAULT_CONTENT_TYPE,
        ),
        "oauth": (b'{"error":"invalid_client","error_description":"', b'"}', DEFAULT_CONTENT_TYPE),
    }
    prefix, suffix, content_type = shapes[kind]
    return Answer(
        status=status,
        body_size=size,
        body_prefix=prefix,
        body_suffix=suffix,
        content_type=answer.pop("content_type", content_type),
        chunked=chunked,
        **answer,
    )


# --------------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    timeout = 30  # an idle keep-alive connection is closed after this (and on server close)

    def setup(self) -> None:
        self.serial = self.server.serial_of(self.request)
        self.wrapped: ssl.SSLSocket | None = None
        context = self.server.ssl_context
        if context is not None:
            raw = self.request
            self.request = self.wrapped = context.wrap_socket(raw, server_side=True)
            self.server.track(raw, self.wrapped)
        super().setup()

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            if self.wrapped is not None:  # socketserver only closes the raw socket (detached by the wrap)
                self.server.shutdown_request(self.wrapped)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            parts: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _serve(self) -> None:
        hostile = self.server.hostile
        body = self._read_body()
        request = Recorded(
            method=self.command,
            path=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            connection=self.serial,
        )
        answer = hostile._record_and_pick(request)
        if answer.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if answer.delay and hostile._stopping.wait(answer.delay):
            self._abort()
            return
        self._answer(answer, request)

    def _abort(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _answer(self, answer: Answer, request: Recorded) -> None:
        hostile = self.server.hostile
        if answer.body_size is not None:
            length = answer.generated_length()
            pieces: Iterator[bytes] = answer.generated_pieces()
            default_type = answer.content_type or DEFAULT_CONTENT_TYPE
        else:
            data, default_type = answer.render(request)
            length = len(data)
            step = answer.trickle[0] if answer.trickle else CHUNK
            pieces = (data[i : i + step] for i in range(0, len(data), max(1, step)))
        self.send_response(answer.status)
        headers = {"Content-Type": answer.content_type or default_type, **dict(answer.headers)}
        for name, value in headers.items():
            self.send_header(name, value)
        if answer.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(length))
        if answer.close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.flush()
        if self.command == "HEAD":
            return
        if answer.trickle and answer.body_size is not None:
            pieces = _rechunk(pieces, answer.trickle[0])
        for index, piece in enumerate(pieces):
            if not piece:
                continue
            if answer.trickle and index and hostile._stopping.wait(answer.trickle[1]):
                self._abort()
                return
            if hostile._stopping.is_set():
                self._abort()
                return
            if answer.chunked:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            else:
                self.wfile.write(piece)
            self.wfile.flush()
        if answer.chunked:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()


def _rechunk(pieces: Iterator[bytes], size: int) -> Iterator[bytes]:
    for piece in pieces:
        for i in range(0, len(piece), max(1, size)):
            yield piece[i : i + size]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # threads are joined by HostileServer.close, with a bound
    allow_reuse_address = True

    def __init__(self, hostile: HostileServer, ssl_context: ssl.SSLContext | None) -> None:
        self.hostile = hostile
        self.ssl_context = ssl_context
        self._lock = threading.Lock()
        self._open: dict[int, socket.socket] = {}
        self._handler_threads: list[threading.Thread] = []
        self._serial = itertools.count(1)
        self._serials: dict[int, int] = {}
        super().__init__(("127.0.0.1", 0), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind would look the host name up (socket.getfqdn): slow without DNS
        socketserver.TCPServer.server_bind(self)
        self.server_name = "127.0.0.1"
        self.server_port = self.server_address[1]

    def serial_of(self, request: Any) -> int:
        with self._lock:
            return self._serials.get(id(request), 0)

    def process_request(self, request: Any, client_address: Any) -> None:
        serial = next(self._serial)
        with self._lock:
            self._open[id(request)] = request
            self._serials[id(request)] = serial
            self.hostile.connections += 1
            thread = threading.Thread(
                target=self.process_request_thread,
                args=(request, client_address),
                name=f"hostile-{self.server_address[1]}-{serial}",
                daemon=True,
            )
            self._handler_threads = [t for t in self._handler_threads if t.is_alive()]
            self._handler_threads.append(thread)
        thread.start()

    def track(self, raw: socket.socket, wrapped: socket.socket) -> None:
        with self._lock:
            self._open.pop(id(raw), None)
            self._open[id(wrapped)] = wrapped

    def shutdown_request(self, request: Any) -> None:
        with self._lock:
            self._open.pop(id(request), None)
            self._serials.pop(id(request), None)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, QUIET_ERRORS) or self.hostile._stopping.is_set():
            return
        self.hostile.errors.append(exc if isinstance(exc, BaseException) else RuntimeError(repr(exc)))
        super().handle_error(request, client_address)

    def close_connections(self) -> None:
        with self._lock:
            sockets = list(self._open.values())
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def join(self, timeout: float) -> list[threading.Thread]:
        """Join every handler thread within ``timeout`` seconds in all; return those still alive."""
        with self._lock:
            threads = list(self._handler_threads)
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return [t for t in threads if t.is_alive()]


class HostileServer:
    """A scripted, misbehaving HTTP/1.1 server on 127.0.0.1 (a free port), as a context manager.

    Parameters
    ----------
    tls : bool
        Serve HTTPS with a fresh self-signed certificate for 127.0.0.1 (``ca_file`` is its path).
    """

    def __init__(self, *, tls: bool = False) -> None:
        self.requests: list[Recorded] = []
        self.errors: list[BaseException] = []
        self.connections = 0
        self._routes: dict[tuple[str, str, int | None], list[Answer]] = {}
        self._routes_lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._tmpdir: str | None = None
        self.ca_file: str | None = None
        context = self._make_tls_context() if tls else None
        self._server = _Server(self, context)
        self.port: int = self._server.server_address[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.origin = self.url
        self._closed = False

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> HostileServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> HostileServer:
        """Start serving in a background thread."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"hostile-{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop at once: no new connections, delays and trickles end, open connections are shut."""
        if self._closed:
            return
        self._closed = True
        self._stopping.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(5)
        self._server.close_connections()
        hanging = self._server.join(5)
        self._server.server_close()
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
        if hanging:
            raise RuntimeError(f"hostile server threads did not finish: {[t.name for t in hanging]}")

    @property
    def closed(self) -> bool:
        return self._closed

    # -- scripting ---------------------------------------------------------------------------

    def route(self, method: str, path: str, answers: Answer | Sequence[Answer], *, page: int | None = None) -> None:
        """Answer ``method path`` (``*`` suffix: prefix match; ``page``: only that ``pageNumber``)
        with ``answers`` in turn, the last one repeated."""
        queue = [answers] if isinstance(answers, Answer) else list(answers)
        if not queue:
            raise ValueError("a route needs at least one answer")
        with self._routes_lock:
            self._routes[(method.upper(), path, page)] = queue

    def _record_and_pick(self, request: Recorded) -> Answer:
        with self._routes_lock:
            self.requests.append(request)
            path = request.route_path
            page = request.page
            candidates: list[tuple[str, str, int | None]] = []
            for method in (request.method.upper(), "*"):
                if page is not None:
                    candidates.append((method, path, page))
                candidates.append((method, path, None))
            prefixes = sorted(
                (k for k in self._routes if k[1].endswith("*") and path.startswith(k[1][:-1])),
                key=lambda k: (-len(k[1]), k[2] is None),
            )
            candidates += [k for k in prefixes if k[2] in (None, page) and k[0] in (request.method.upper(), "*")]
            for key in candidates:
                queue = self._routes.get(key)
                if queue:
                    return queue.pop(0) if len(queue) > 1 else queue[0]
        return error_answer(404, "NOT_FOUND", f"no route for {request.method} {path}")

    # -- inspection --------------------------------------------------------------------------

    def requests_to(self, path: str, method: str | None = None, *, page: int | None = None) -> list[Recorded]:
        """Recorded requests for ``path`` (and ``method``, ``page`` when given)."""
        return [
            r
            for r in list(self.requests)
            if r.route_path == path
            and (method is None or r.method == method.upper())
            and (page is None or r.page == page)
        ]

    # -- TLS ---------------------------------------------------------------------------------

    def _make_tls_context(self) -> ssl.SSLContext:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
            )
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        self._tmpdir = tempfile.mkdtemp(prefix="hostile-tls-")
        cert_file = Path(self._tmpdir) / "cert.pem"
        key_file = Path(self._tmpdir) / "key.pem"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        self.ca_file = str(cert_file)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        return context
