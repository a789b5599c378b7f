"""Settings (frozen; the secret kept as a :class:`Secret`), URL and header checks."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from ..exceptions import ConfigurationError, protect
from .envfile import ENV_PREFIX, MissingConfiguration, override_for, read_env_file

#: Production Events API base URL (vendor docs).
PRODUCTION_API_BASE_URL = "https://engagifii-prod-event.azurewebsites.net"
#: Production identity server (IdentityServer4) base URL (vendor docs).
PRODUCTION_IDENTITY_URL = "https://engagifii-identity-live.azurewebsites.net"


def is_loopback(host: str) -> bool:
    """True for ``localhost`` itself and loopback IP literals (127.0.0.0/8, ``::1``).

    ``*.localhost`` names are not trusted: whether they resolve to this machine depends on the
    resolver, and plain ``http://`` must never leave it.
    """
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


_HEADER_SAFE = re.compile(r"^[\x21-\x7e]+$")


def check_header_value(name: str, value: str) -> str:
    """Return ``value`` if it can travel in an HTTP header as sent by the vendor's samples.

    Tenant codes and the API version go into the ``tenant-code`` / ``api-version`` headers: they
    must be printable ASCII without spaces (no line breaks: no header injection; no non-Latin-1
    text, which http.client cannot encode).

    Raises
    ------
    ConfigurationError
        The value is empty or contains anything else.
    """
    if not _HEADER_SAFE.match(value or ""):
        raise ConfigurationError(
            f"{name} {value!r} is not valid: use printable ASCII without spaces (it is sent as an HTTP header)"
        )
    return value


def _check_url(name: str, url: str, *, drop_suffix: str = "") -> str:
    url = url.strip().rstrip("/")
    try:
        parts = urlsplit(url)
        has_credentials = bool(parts.username or parts.password) or "@" in parts.netloc
        port = parts.port
    except ValueError:
        raise ConfigurationError(f"{name} is not a valid URL (check the host and port)") from None
    if has_credentials:
        # never echo the URL: the part before "@" is a user name and a password
        raise ConfigurationError(f"{name} must not carry a user name or password; remove the part before '@'")
    if port == 0:
        raise ConfigurationError(f"{name} has port 0")
    if drop_suffix and url.lower().endswith(drop_suffix):
        # a common slip: the token endpoint or the versioned API path pasted instead of the base
        url = url[: -len(drop_suffix)].rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"{name} must be an http(s) URL with a host, got {url!r}")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigurationError(
            f"{name} uses plain http:// for the non-loopback host {parts.hostname!r}; "
            "the Engagifii API requires HTTPS (plain http is allowed only for 127.0.0.1/localhost)"
        )
    return url


#: How each numeric setting is checked: (smallest allowed, whether it is excluded, a whole number).
NUMBER_RULES: dict[str, tuple[float, bool, bool]] = {
    "connect_timeout": (0, True, False),
    "read_timeout": (0, True, False),
    "request_deadline": (0, True, False),
    "backoff": (0, False, False),
    "backoff_max": (0, False, False),
    "retry_after_cap": (0, False, False),
    "renew_margin": (0, False, False),
    "max_requests_per_minute": (0, True, False),
    "max_attempts": (1, False, True),
    "max_body_bytes": (1, False, True),
}
#: Numeric settings that may also be set by an environment variable (or the .env file).
NUMBER_VARIABLES: dict[str, str] = {
    "connect_timeout": ENV_PREFIX + "CONNECT_TIMEOUT",
    "read_timeout": ENV_PREFIX + "READ_TIMEOUT",
    "request_deadline": ENV_PREFIX + "REQUEST_DEADLINE",
    "max_requests_per_minute": ENV_PREFIX + "MAX_REQUESTS_PER_MINUTE",
}
_DECIMAL_TEXT = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,15})?")
_WHOLE_TEXT = re.compile(r"[0-9]{1,15}")


def setting_number(value: Any, rule: str, spelled: str) -> int | float:
    """A numeric setting checked by the rule of field ``rule``; errors name it as ``spelled``.

    One check for ``Settings(...)`` arguments, ``ENGAGIFII_*`` variables and CLI flags: text must be
    plain ASCII digits (with a decimal fraction where allowed); ``inf``, ``nan``, negatives (and
    zero for timeouts, deadlines and rates), ``true``, exponents and other scripts' digits are
    refused.

    Parameters
    ----------
    value : Any
        A number, or the text given (an environment variable, a command-line argument).
    rule : str
        The :class:`Settings` field whose rule applies (:data:`NUMBER_RULES`).
    spelled : str
        The setting as the user wrote it (``request_deadline``, ``ENGAGIFII_REQUEST_DEADLINE``,
        ``--timeout``).

    Raises
    ------
    ConfigurationError
        Naming ``spelled``, what is allowed and what was given.
    """
    minimum, exclusive, whole = NUMBER_RULES[rule]
    unit = "an integer" if whole else ("a number of seconds" if "timeout" in rule or "deadline" in rule else "a number")
    allowed = f"{unit} {'>' if exclusive else '>='} {minimum:g}"
    number: Any = value
    if isinstance(value, str):
        text = value.strip()
        pattern = _WHOLE_TEXT if whole else _DECIMAL_TEXT
        number = (int(text) if whole else float(text)) if pattern.fullmatch(text) else None
    elif isinstance(value, bool) or not isinstance(value, int | float) or (whole and not isinstance(value, int)):
        number = None
    if number is None or not math.isfinite(number) or number < minimum or (exclusive and number == minimum):
        infinite = (number is not None and not math.isfinite(number)) or (
            isinstance(value, str) and value.strip().lower().lstrip("+-") in {"inf", "infinity", "nan"}
        )
        what = " (not a finite number)" if infinite else ""
        raise ConfigurationError(f"{spelled} must be {allowed}, got {value!r}{what}")
    result: int | float = int(number) if whole else float(number)
    return result


class Secret:
    """A secret string that does not show itself: not in ``repr``/``str``, not pickled, not copied out.

    ``dataclasses.asdict``, ``vars`` and ``copy`` give this object, never the text; pickling raises.
    Compare it with ``==`` (constant time) or call :meth:`reveal` where the value must be sent.
    """

    __slots__ = ("__weakref__", "_value")

    def __init__(self, value: str) -> None:
        object.__setattr__(self, "_value", str(value))

    def reveal(self) -> str:
        """The secret text (send it only to the configured token endpoint)."""
        return str(object.__getattribute__(self, "_value"))

    def __bool__(self) -> bool:
        return bool(self.reveal())

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secret):
            other = other.reveal()
        if not isinstance(other, str):
            return NotImplemented
        return hmac.compare_digest(self.reveal().encode("utf-8"), other.encode("utf-8"))

    def __hash__(self) -> int:
        return hash(("Secret", hashlib.sha256(self.reveal().encode("utf-8")).digest()))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Secret is immutable")

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self

    def __reduce__(self) -> Any:
        raise TypeError("a Secret is never pickled (it would be written out in clear text)")


@dataclass(frozen=True, init=False)
class Settings:
    """Connection settings for one Engagifii client (immutable).

    Parameters
    ----------
    client_id : str
        OAuth 2.0 client id.
    client_secret : str or Secret
        OAuth 2.0 client secret, kept as a :class:`Secret`: hidden from ``repr``/``str``,
        ``dataclasses.asdict``/``vars`` (they show the :class:`Secret` object) and pickling (which raises).
    tenant_codes : tuple of str
        Tenant codes this client may use; the first is the default tenant.
    identity_url : str
        IdentityServer4 base URL; the token endpoint is ``{identity_url}/connect/token`` (a pasted
        ``.../connect/token`` is reduced to the base).
    api_base_url : str
        Events API base URL (default: production; a pasted ``.../api/1.0`` is reduced to the base).
    api_version : str
        ``api-version`` header value (default ``"1.0"``).
    scope : str
        Requested scope (default ``"EventsApi"``).
    connect_timeout, read_timeout : float
        Seconds; every request carries this ``(connect, read)`` timeout (defaults 10 and 60).
    request_deadline : float
        Seconds one attempt may take in all, connect, headers and the whole body included (default
        120): a body that trickles in is cut off, and the attempt is retried like a timeout.
    max_body_bytes : int
        Largest answer body read, in bytes (default 64 MiB); a larger one is a ``TransportError``.
    max_attempts : int
        Attempts per request including the first (default 6) for 429, 5xx, dropped connections,
        read timeouts and unparseable bodies.
    backoff : float
        Base of the exponential backoff in seconds (default 0.5; doubled per attempt, with jitter,
        at most ``backoff_max`` = 30 s).
    retry_after_cap : float
        Longest ``Retry-After`` honoured, in seconds (default 60); a longer demand raises
        :class:`~engagifii_data.exceptions.RateLimitError`.
    renew_margin : float
        Renew the access token this many seconds before it expires (default 300, the vendor's
        advice); clamped to a fraction of the lifetime for short-lived tokens.
    max_requests_per_minute : float or None
        Optional client-side rate limit shared by all workers (the vendor guide suggests 100).

    Raises
    ------
    ConfigurationError
        On a missing value, a non-HTTPS URL for a non-loopback host, or an invalid number.
    """

    client_id: str
    client_secret: Secret = field(repr=False)
    tenant_codes: tuple[str, ...]
    identity_url: str = PRODUCTION_IDENTITY_URL
    api_base_url: str = PRODUCTION_API_BASE_URL
    api_version: str = "1.0"
    scope: str = "EventsApi"
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    request_deadline: float = 120.0
    max_body_bytes: int = 64 * 2**20
    max_attempts: int = 6
    backoff: float = 0.5
    backoff_max: float = 30.0
    retry_after_cap: float = 60.0
    renew_margin: float = 300.0
    max_requests_per_minute: float | None = None

    def __init__(
        self,
        client_id: str,
        client_secret: str | Secret,
        tenant_codes: str | Sequence[str],
        identity_url: str = PRODUCTION_IDENTITY_URL,
        api_base_url: str = PRODUCTION_API_BASE_URL,
        api_version: str = "1.0",
        scope: str = "EventsApi",
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        request_deadline: float = 120.0,
        max_body_bytes: int = 64 * 2**20,
        max_attempts: int = 6,
        backoff: float = 0.5,
        backoff_max: float = 30.0,
        retry_after_cap: float = 60.0,
        renew_margin: float = 300.0,
        max_requests_per_minute: float | None = None,
    ) -> None:
        # written out (not generated) so that the secret may be given as text and is kept as a Secret
        values = dict(locals())
        del values["self"]
        for name, value in values.items():
            object.__setattr__(self, name, value)
        self.__post_init__()

    def __post_init__(self) -> None:
        if not self.client_id or not str(self.client_id).strip():
            raise ConfigurationError("client_id is empty: set ENGAGIFII_CLIENT_ID")
        given: Any = self.client_secret
        secret = given if isinstance(given, Secret) else Secret(given or "")
        if not secret:
            raise ConfigurationError("client_secret is empty: set ENGAGIFII_CLIENT_SECRET")
        object.__setattr__(self, "client_secret", secret)
        protect(secret, secret.reveal())  # redacted from every message while these settings live
        codes = self.tenant_codes
        if isinstance(codes, str):
            codes = tuple(c for c in (p.strip() for p in codes.split(",")) if c)
        codes = tuple(str(c).strip() for c in codes if str(c).strip())
        if not codes:
            raise ConfigurationError("no tenant code: set ENGAGIFII_TENANT_CODE (one code or a comma list)")
        for code in codes:
            check_header_value("tenant code", code)
        check_header_value("ENGAGIFII_API_VERSION (api_version)", self.api_version)
        object.__setattr__(self, "tenant_codes", codes)
        object.__setattr__(self, "client_id", str(self.client_id).strip())
        object.__setattr__(
            self,
            "identity_url",
            _check_url("ENGAGIFII_IDENTITY_SERVER_URL (identity_url)", self.identity_url, drop_suffix="/connect/token"),
        )
        object.__setattr__(
            self,
            "api_base_url",
            _check_url("ENGAGIFII_API_BASE_URL (api_base_url)", self.api_base_url, drop_suffix="/api/1.0"),
        )
        for name in NUMBER_RULES:
            value = getattr(self, name)
            if value is None and name == "max_requests_per_minute":
                continue
            if isinstance(value, str):  # text belongs to the edges (from_env, the CLI), checked there
                raise ConfigurationError(f"{name} must be a number, got {value!r} (text)")
            setting_number(value, name, name)

    def __str__(self) -> str:
        return repr(self)

    @property
    def tenant_code(self) -> str:
        """The default tenant code (the first configured)."""
        return self.tenant_codes[0]

    @property
    def token_url(self) -> str:
        """The OAuth 2.0 token endpoint, ``{identity_url}/connect/token``."""
        return f"{self.identity_url}/connect/token"

    @property
    def timeout(self) -> tuple[float, float]:
        """``(connect, read)`` timeout in seconds, as passed to requests."""
        return (self.connect_timeout, self.read_timeout)

    def replace(self, **changes: Any) -> Settings:
        """Return a copy with some fields changed.

        Parameters
        ----------
        **changes
            Field values, e.g. ``read_timeout=120``.

        Raises
        ------
        ConfigurationError
            A changed value is invalid (the copy is validated like a new object).
        """
        return replace(self, **changes)

    @classmethod
    def from_env(
        cls,
        env_file: str | os.PathLike[str] | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> Settings:
        """Build settings from ``ENGAGIFII_*`` environment variables and a ``.env`` file.

        Parameters
        ----------
        env_file : path, optional
            Explicit ``.env`` file. Must exist when given.
        environ : mapping, optional
            Environment to read instead of ``os.environ`` (for tests).
        **overrides
            Field values that win over both (e.g. ``tenant_codes=("T1",)``).

        Returns
        -------
        Settings

        Raises
        ------
        ConfigurationError
            A required variable is missing, a named ``.env`` file does not exist, or a value is
            invalid.
        """
        env = dict(os.environ if environ is None else environ)
        path, file_values = read_env_file(env_file, env)

        def get(name: str) -> str | None:
            key = ENV_PREFIX + name
            value = env.get(key)
            if value is None or value == "":
                value = file_values.get(key)
            return value if value not in (None, "") else None

        missing = [ENV_PREFIX + n for n in ("CLIENT_ID", "CLIENT_SECRET", "TENANT_CODE") if get(n) is None]
        missing = [m for m in missing if override_for(m, overrides) is None]
        if missing:
            raise MissingConfiguration(missing, path)
        values: dict[str, Any] = {
            "client_id": get("CLIENT_ID"),
            "client_secret": get("CLIENT_SECRET"),
            "tenant_codes": get("TENANT_CODE"),
        }
        optional = {
            "identity_url": "IDENTITY_SERVER_URL",
            "api_base_url": "API_BASE_URL",
            "api_version": "API_VERSION",
            "scope": "SCOPE",
        }
        for fieldname, name in optional.items():
            value = get(name)
            if value is not None:
                values[fieldname] = value
        for fieldname, variable in NUMBER_VARIABLES.items():
            value = get(variable.removeprefix(ENV_PREFIX))
            if value is not None:
                values[fieldname] = setting_number(value, fieldname, variable)
        values.update(overrides)
        return cls(**values)
