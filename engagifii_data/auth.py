"""The OAuth 2.0 client-credentials access token for one session.

One :class:`TokenManager` per client id serves every request of a session, across calls and tenants:

- fetched lazily on first use (a new client-credentials grant; there is no refresh token in this API);
- reused until ``renew_margin`` seconds before it expires (the vendor guide advises 5 minutes). For
  short-lived tokens the margin is clamped to a quarter of the lifetime, so a margin larger than the
  lifetime never causes a token request per call (a bug seen in other clients);
- expiry measured on :func:`time.monotonic`, so wall-clock jumps do not matter;
- renewed under a lock, so concurrent requests that find it stale trigger exactly one token request;
- :meth:`TokenManager.invalidate` drops a token the API answered 401 to, unless another thread
  already replaced it.

The grant itself is made with Authlib's OAuth 2.0 client (client_secret_post, as in the vendor's
curl example). Errors from the token endpoint become :class:`AuthenticationError` with the OAuth
``error`` and ``error_description``; the secret is never part of any message.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session

from .config import Settings
from .exceptions import AuthenticationError, RateLimitError, ServerError, TransportError
from .responses import parse_retry_after

logger = logging.getLogger(__name__)

#: Fraction of a token's lifetime the renewal margin may take at most.
MAX_MARGIN_FRACTION = 0.25


@dataclass(frozen=True)
class AccessToken:
    """An access token and when it should be renewed.

    Attributes
    ----------
    value : str
        The bearer token. Never logged.
    lifetime : float
        ``expires_in`` from the token response, in seconds.
    obtained_at : float
        :func:`time.monotonic` when the token request was sent.
    renew_at : float
        Monotonic time after which the token is renewed before use.
    """

    value: str
    lifetime: float
    obtained_at: float
    renew_at: float

    def __repr__(self) -> str:
        return f"AccessToken(lifetime={self.lifetime}, value=<hidden>)"


def _check_token_response(response: requests.Response) -> requests.Response:
    """Turn a throttled or failing identity server into retryable errors before Authlib parses it.

    A 429 or 5xx from the token endpoint says nothing about the credentials: it must be retried
    (honouring ``Retry-After``), not reported as an authentication failure.
    """
    status = response.status_code
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        raise RateLimitError(
            429, None, "the identity server is rate limiting token requests", None, "/connect/token",
            retry_after=retry_after,
        )
    if status >= 500:
        raise ServerError(status, None, "the identity server failed", None, "/connect/token")
    return response


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


class TokenManager:
    """Client-credentials token cache for one client id (thread-safe).

    Parameters
    ----------
    settings : Settings
        Identity URL, client id/secret, scope, timeouts, renewal margin.
    session : requests.Session, optional
        Used for the token request (its adapters, e.g. connection pools, are reused). Default: a new
        Authlib ``OAuth2Session``.
    on_request : callable, optional
        Called once per token request sent (used for ``client.stats.token_requests``).
    clock : callable, optional
        Monotonic clock in seconds (default :func:`time.monotonic`; tests may pass a fake).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        on_request: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._on_request = on_request
        self._clock = clock
        self._lock = threading.Lock()
        self._token: AccessToken | None = None
        self._oauth = OAuth2Session(
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            scope=settings.scope,
            token_endpoint_auth_method="client_secret_post",
        )
        self._oauth.headers["User-Agent"] = "engagifii-data"
        self._oauth.register_compliance_hook("access_token_response", _check_token_response)

    def __repr__(self) -> str:
        return f"TokenManager(client_id={self._settings.client_id!r}, token={'set' if self._token else 'none'})"

    def close(self) -> None:
        """Close the token session's connections."""
        self._oauth.close()

    @property
    def current(self) -> AccessToken | None:
        """The cached token, if any (may be stale)."""
        return self._token

    def get(self) -> str:
        """Return a valid access token, requesting a new one when missing or due for renewal.

        Returns
        -------
        str
            The bearer token value.

        Raises
        ------
        AuthenticationError
            The identity server refused the credentials or scope.
        TransportError, ServerError
            The identity server could not be reached or kept failing.
        """
        token = self._token
        if token is not None and self._clock() < token.renew_at:
            return token.value
        with self._lock:
            token = self._token
            if token is not None and self._clock() < token.renew_at:
                return token.value
            self._token = self._fetch()
            return self._token.value

    def invalidate(self, value: str) -> None:
        """Forget ``value`` after the API rejected it with 401, unless it was already replaced."""
        with self._lock:
            if self._token is not None and self._token.value == value:
                self._token = None

    def _fetch(self) -> AccessToken:
        settings = self._settings
        started = self._clock()
        if self._on_request is not None:
            self._on_request()
        try:
            data = self._oauth.fetch_token(
                settings.token_url,
                grant_type="client_credentials",
                timeout=settings.timeout,
            )
        except OAuthError as exc:
            logger.info(
                "token request for client %s failed: %s", settings.client_id, exc.error
            )
            raise AuthenticationError(str(exc.error), exc.description) from None
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else 0
            logger.info("token request for client %s failed: HTTP %s", settings.client_id, status)
            if status >= 500:
                raise ServerError(
                    status, None, "the identity server failed", None, "/connect/token"
                ) from None
            raise AuthenticationError(
                "invalid_response", f"the identity server answered HTTP {status}", status=status
            ) from None
        except ValueError as exc:
            raise AuthenticationError("invalid_response", str(exc)) from None
        except requests.RequestException as exc:
            logger.info("token request for client %s failed: %s", settings.client_id, type(exc).__name__)
            raise TransportError(
                f"cannot reach the identity server at {settings.identity_url}: {type(exc).__name__}",
                path="/connect/token",
            ) from None
        value = data.get("access_token")
        if not value:
            raise AuthenticationError("invalid_response", "the token response has no access_token")
        raw = data.get("expires_in")
        try:
            lifetime = max(0.0, float(raw)) if raw is not None else 3600.0  # absent: the documented default
        except (TypeError, ValueError):
            lifetime = 3600.0
        margin = effective_margin(lifetime, settings.renew_margin)
        logger.info(
            "access token acquired for client %s: lifetime %.0f s, renewed %.0f s early",
            settings.client_id,
            lifetime,
            margin,
        )
        return AccessToken(
            value=str(value), lifetime=lifetime, obtained_at=started, renew_at=started + lifetime - margin
        )
