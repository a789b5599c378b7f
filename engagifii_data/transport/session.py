"""One exchange with a server: a ``requests`` session without ``.netrc``, redirects checked, answers bounded.

- No redirect is followed to the token endpoint (a 3xx is a :class:`TransportError` naming the status
  and the redirect's origin). An API request follows a redirect only within the same origin (scheme,
  host and port), for 307/308 or a GET, at most :data:`MAX_REDIRECTS` times.
- Every attempt has a total deadline (``settings.request_deadline``) and a body size limit
  (``settings.max_body_bytes``), enforced by :mod:`engagifii_data.responses`; it holds a slot of the
  caller's concurrency gate while in flight.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3

from ..config import Settings, is_loopback
from ..exceptions import StopRequested, TransportError
from ..responses import BodyTooLarge, Deadline, read_body, server_text
from .policy import RequestHooks, Retryable, network_failure

#: Redirect statuses; only same-origin ones are followed, and never to the token endpoint.
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
#: Redirects followed per request at most.
MAX_REDIRECTS = 5
#: Bytes of an error answer read (only a short excerpt is ever shown).
ERROR_BODY_LIMIT = 256 * 1024


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
    for the session's lifetime (create a new client to pick up environment changes). A loopback
    host (``127.0.0.0/8``, ``::1``, ``localhost``) never goes through a proxy from the environment;
    remote hosts honour ``HTTP(S)_PROXY``/``ALL_PROXY``/``NO_PROXY`` as ``requests`` does. ``.netrc`` is
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
            loopback = self.trust_env and is_loopback(parts.hostname or "")
            if loopback:
                # this machine (the sandbox, a test server) is never reached through HTTP(S)_PROXY or
                # ALL_PROXY: as if no_proxy named it. REQUESTS_CA_BUNDLE still applies (trust_env stays)
                proxies = {**(proxies or {}), "no_proxy": "*"}
            cached = super().merge_environment_settings(url, proxies, stream, verify, cert)
            if loopback:
                cached["proxies"].pop("no_proxy", None)
            with self._environment_lock:
                self._environment[key] = cached
        return {**cached, "proxies": dict(cached["proxies"])}


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return f"{parts.scheme}://{parts.hostname}:{port}"


def host_of(url: str) -> str:
    """``host`` or ``host:port`` (a port other than the scheme's default) of a URL, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    return host if port is None or port == {"http": 80, "https": 443}.get(parts.scheme) else f"{host}:{port}"


#: Exceptions that mean "no usable answer" while sending or reading.
NETWORK_ERRORS = (requests.RequestException, urllib3.exceptions.HTTPError, http.client.HTTPException, OSError)


class Exchange:
    """Sends attempts on one session and reads their answers within bounds (no retries here).

    Parameters
    ----------
    settings : Settings
        Timeouts, the deadline and the body limit.
    session : requests.Session
        The session whose pools are used (see :class:`EnvironmentCachingSession`).
    """

    def __init__(self, settings: Settings, session: requests.Session) -> None:
        self.settings = settings
        self.session = session

    def __call__(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        data: bytes | str | None,
        hooks: RequestHooks,
        path: str,
        follow: bool,
    ) -> Answer:
        """Send one attempt and read its answer within the deadline and the size limit.

        Redirects: never followed when ``follow`` is False; otherwise only to the same origin (a
        307/308, or any redirect of a GET), at most :data:`MAX_REDIRECTS` times.
        """
        origin = origin_of(url)
        for _ in range(MAX_REDIRECTS + 1):
            answer = self._send_once(method, url, headers=headers, data=data, hooks=hooks, path=path)
            if answer.status not in REDIRECT_STATUSES:
                return answer
            location = answer.headers.get("Location") or ""
            target = urljoin(url, location)
            try:
                target_origin = origin_of(target)
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
    ) -> Answer:
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
                        timeout=connect_and_read_timeouts(settings, deadline.remaining()),
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
                except NETWORK_ERRORS as exc:
                    status = None
                    if deadline.fired == "stop":
                        raise StopRequested() from None
                    if deadline.fired == "deadline":
                        raise Retryable(
                            TransportError(
                                f"no complete answer within {settings.request_deadline:g} s (request_deadline)",
                                path=path,
                            )
                        ) from None
                    raise network_failure(exc, network_reason(exc), host=host_of(url), path=path) from None
        finally:
            if gate is not None:
                gate.release(status)
        return Answer(response.status_code, response.headers, body)


def connect_and_read_timeouts(settings: Settings, remaining: float) -> tuple[float, float]:
    """The ``(connect, read)`` timeouts of one attempt: neither longer than its deadline's time left.

    The watchdog of :class:`~engagifii_data.responses.Deadline` can only cut off a socket once it
    is connected, so the time spent connecting is bounded by the connect timeout alone: it must
    never outlast the deadline, and it is also how soon a cancel takes effect during a connect.
    """
    return (min(settings.connect_timeout, remaining), min(settings.read_timeout, remaining))


def network_reason(exc: BaseException) -> str:
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
        "Temporary failure in name resolution",
        "No address associated with hostname",
        "nodename nor servname provided",
        "getaddrinfo failed",
        "Network is unreachable",
        "No route to host",
        "IncompleteRead",
        "timed out",
        "certificate verify failed",
    ):
        if marker in text:
            return f"connection failed: {marker}"
    return f"connection failed: {type(exc).__name__}"
