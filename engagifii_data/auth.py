"""The OAuth 2.0 client-credentials access token for one session.

One :class:`TokenManager` per client id serves every request of a session, across calls and tenants:

- fetched lazily on first use (a new client-credentials grant; there is no refresh token in this API);
- its lifetime is ``expires_in`` read strictly (:func:`token_lifetime`): absent, zero, negative,
  NaN, infinite or non-numeric values mean the documented default (3600 s), a huge one is capped at
  a day, so no answer can make every call request a token;
- reused until ``renew_margin`` seconds before it expires (the vendor guide advises 5 minutes). For
  short-lived tokens the margin is clamped to a quarter of the lifetime, so a margin larger than the
  lifetime never causes a token request per call (a bug seen in other clients);
- expiry measured on a monotonic clock, so wall-clock jumps do not matter;
- renewed under a lock, so concurrent requests that find it stale trigger exactly one token request;
- :meth:`TokenManager.invalidate` drops a token the API answered 401 to, unless another thread
  already replaced it.

This module sends nothing itself: it is given a *grant* function that performs the token request
(the transport's, which sends it under the same deadline, size limit, redirect rule and retry policy
as every API request). :func:`token_request` shapes that request with oauthlib (``client_secret_post``,
as in the vendor's curl example) and :func:`parse_token_answer` reads the answer; the secret is never
part of any message.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .config import Settings
from .exceptions import AuthenticationError, protect

logger = logging.getLogger(__name__)

#: Fraction of a token's lifetime the renewal margin may take at most.
MAX_MARGIN_FRACTION = 0.25
#: What a bearer token may hold (printable ASCII, no spaces: RFC 6750's b64token and then some).
_HEADER_SAFE_TOKEN = re.compile(r"[\x21-\x7e]+")
#: ``expires_in`` assumed when the answer has none, or none usable (the documented lifetime).
DEFAULT_LIFETIME = 3600.0
#: Longest lifetime believed (a day): a token is renewed at least this often whatever ``expires_in`` says.
MAX_LIFETIME = 86400.0


@dataclass(frozen=True)
class AccessToken:
    """An access token and when it should be renewed.

    Attributes
    ----------
    value : str
        The bearer token. Never logged, hidden from ``repr``.
    lifetime : float
        ``expires_in`` from the token response, in seconds.
    renew_at : float
        Monotonic time (seconds) after which the token is renewed before use.
    """

    value: str
    lifetime: float
    renew_at: float

    def __repr__(self) -> str:
        return f"AccessToken(lifetime={self.lifetime}, value=<hidden>)"


def effective_margin(lifetime: float, margin: float) -> float:
    """Renewal margin in seconds, clamped for short-lived tokens.

    Parameters
    ----------
    lifetime : float
        Token lifetime in seconds (``expires_in``).
    margin : float
        Requested margin in seconds (default 300 from the vendor guide).

    Returns
    -------
    float
        ``min(margin, lifetime * 0.25)``; never negative.
    """
    return max(0.0, min(margin, lifetime * MAX_MARGIN_FRACTION))


def token_request(settings: Settings) -> tuple[dict[str, str], str]:
    """The headers and form body of a client-credentials token request (oauthlib, client_secret_post).

    The credentials travel in the form, as in the vendor's curl example (RFC 6749 section 2.3.1).
    oauthlib is imported here, when a token is first needed, not when the package is imported.

    Returns
    -------
    (dict, str)
        Headers (``Content-Type``, ``Accept``) and the urlencoded body carrying ``grant_type``,
        ``scope``, ``client_id`` and ``client_secret``. The body holds the secret: it goes only to
        :attr:`Settings.token_url`, never into a log or a message.
    """
    from oauthlib.oauth2 import BackendApplicationClient

    client = BackendApplicationClient(client_id=settings.client_id)
    body = client.prepare_request_body(
        scope=settings.scope, include_client_id=True, client_secret=settings.client_secret.reveal()
    )
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    return headers, str(body)


def parse_token_answer(
    data: Any, clock: Callable[[], float] = time.monotonic, *, sent_at: float, margin: float
) -> AccessToken:
    """An :class:`AccessToken` from a 200 token answer (RFC 6749 section 5.1).

    Parameters
    ----------
    data : Any
        The decoded JSON answer.
    sent_at : float
        Monotonic time the request was sent (the lifetime counts from then).
    margin : float
        The configured renewal margin, in seconds.

    Raises
    ------
    AuthenticationError
        The answer has no ``access_token`` (``invalid_response``).
    """
    if not isinstance(data, Mapping) or not isinstance(data.get("access_token"), str) or not data["access_token"]:
        raise AuthenticationError("invalid_response", "the token answer has no access_token")
    if not _HEADER_SAFE_TOKEN.fullmatch(data["access_token"]):
        # it is sent in an Authorization header: a line break or a space there would break every request
        raise AuthenticationError("invalid_response", "the access token holds characters an HTTP header cannot carry")
    lifetime = token_lifetime(data.get("expires_in"))
    return AccessToken(
        value=data["access_token"], lifetime=lifetime, renew_at=sent_at + lifetime - effective_margin(lifetime, margin)
    )


def token_lifetime(raw: Any) -> float:
    """The token's lifetime in seconds from ``expires_in`` (read by :func:`plain_number`).

    A number, or a string of ASCII digits (some identity servers send ``"3600"``). A value Python
    would read as a positive number but the contract does not allow (``true``, ``"３６００"``,
    ``"3_600"``, ``" 3600 "``, ``"3.6e3"``) is refused. Anything that gives no usable lifetime means
    :data:`DEFAULT_LIFETIME`, as if absent: ``null``, ``"soon"``, NaN, infinity, zero or negative (a
    lifetime of 0 would make every API call request a token). A lifetime above
    :data:`MAX_LIFETIME` is cut to it.

    Raises
    ------
    AuthenticationError
        ``invalid_response``: a malformed number, named.
    """
    from .responses.numbers import NotPlainNumber, plain_number

    if raw is None:
        return DEFAULT_LIFETIME
    try:
        value = float(plain_number(raw, "expires_in"))
    except NotPlainNumber as exc:
        if exc.reading is not None and exc.reading > 0:
            raise AuthenticationError("invalid_response", f"the token answer's {exc}") from None
        return DEFAULT_LIFETIME
    if value <= 0:
        return DEFAULT_LIFETIME
    return min(value, MAX_LIFETIME)


#: Performs one token request (with retries) and returns the decoded 200 answer; its argument is the
#: requesting call's context (the transport's hooks: its stop signal applies to the token request too).
Grant = Callable[[Any], Any]


class TokenManager:
    """Client-credentials token cache for one client id (thread-safe).

    Parameters
    ----------
    settings : Settings
        Client id and renewal margin.
    grant : callable
        ``grant(context) -> decoded JSON`` sends one token request (under the transport's retry policy) and
        returns the 200 answer; it raises :class:`AuthenticationError` for a refusal.
    on_request : callable, optional
        Called once per token request sent (used for ``client.stats.token_requests``).
    clock : callable, optional
        Monotonic clock in seconds (default :func:`time.monotonic`; tests may pass a fake).
    """

    def __init__(
        self,
        settings: Settings,
        grant: Grant,
        *,
        on_request: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._grant = grant
        self._on_request = on_request
        self._clock = clock
        self._lock = threading.Lock()
        self._token: AccessToken | None = None

    def __repr__(self) -> str:
        return f"TokenManager(client_id={self._settings.client_id!r}, token={'set' if self._token else 'none'})"

    @property
    def current(self) -> AccessToken | None:
        """The cached token, if any (may be stale)."""
        return self._token

    def get(self, context: Any = None) -> str:
        """Return a valid access token, requesting a new one when missing or due for renewal.

        Parameters
        ----------
        context : Any, optional
            Passed to ``grant`` when a token request is needed (the caller's hooks).

        Raises
        ------
        AuthenticationError
            The identity server refused the credentials or scope.
        TransportError, ServerError, RateLimitError
            The identity server could not be reached or kept failing (after retries).
        """
        token = self._token
        if token is not None and self._clock() < token.renew_at:
            return token.value
        with self._lock:
            token = self._token
            if token is not None and self._clock() < token.renew_at:
                return token.value
            self._token = self._fetch(context)
            return self._token.value

    def invalidate(self, value: str) -> None:
        """Forget ``value`` after the API rejected it with 401, unless it was already replaced."""
        with self._lock:
            if self._token is not None and self._token.value == value:
                self._token = None

    def _fetch(self, context: Any) -> AccessToken:
        settings = self._settings
        sent_at = self._clock()
        if self._on_request is not None:
            self._on_request()
        try:
            data = self._grant(context)
        except AuthenticationError as exc:
            logger.info("token request for client %s failed: %s", settings.client_id, exc.error)
            raise
        token = parse_token_answer(data, self._clock, sent_at=sent_at, margin=settings.renew_margin)
        protect(token, token.value)  # redacted from every message while it is held
        logger.info(
            "access token acquired for client %s: lifetime %.0f s, renewed %.0f s early",
            settings.client_id,
            token.lifetime,
            effective_margin(token.lifetime, settings.renew_margin),
        )
        return token
