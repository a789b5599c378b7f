"""Settings: where the identity server and the Events API are, and the client credentials.

Settings are read only at the edges (:meth:`Settings.from_env`, the CLI); the core takes a
:class:`Settings` object. The client secret never appears in ``repr``/``str``.

Environment variables (also read from a ``.env`` file; variables already set in the environment win):

==================================  ============================================================
``ENGAGIFII_CLIENT_ID``             OAuth 2.0 client id (required)
``ENGAGIFII_CLIENT_SECRET``         OAuth 2.0 client secret (required)
``ENGAGIFII_TENANT_CODE``           one tenant code, or a comma-separated list; the first is
                                    the default (required)
``ENGAGIFII_IDENTITY_SERVER_URL``   IdentityServer4 base URL (default: production identity)
``ENGAGIFII_API_BASE_URL``          Events API base URL (default: production Events API)
``ENGAGIFII_API_VERSION``           value of the ``api-version`` header (default ``1.0``)
``ENGAGIFII_SCOPE``                 OAuth 2.0 scope (default ``EventsApi``)
``ENGAGIFII_ENV_FILE``              explicit path of the ``.env`` file
``ENGAGIFII_CONNECT_TIMEOUT``       seconds (default 10); ``_READ_TIMEOUT`` (60),
                                    ``_REQUEST_DEADLINE`` (120), ``_MAX_REQUESTS_PER_MINUTE``
                                    (none): finite numbers > 0, in ASCII digits
==================================  ============================================================

``.env`` search order: the explicit ``env_file`` argument, then ``ENGAGIFII_ENV_FILE``, then
``dotenv.find_dotenv(usecwd=True)`` (the current directory and its parents).
"""

from __future__ import annotations

from .envfile import ENV_PREFIX, MissingConfiguration, check_env_file, credentials_configured, read_env_text
from .settings import (
    NUMBER_RULES,
    NUMBER_VARIABLES,
    PRODUCTION_API_BASE_URL,
    PRODUCTION_IDENTITY_URL,
    Secret,
    Settings,
    check_header_value,
    is_loopback,
    setting_number,
)

__all__ = [
    "ENV_PREFIX",
    "NUMBER_RULES",
    "NUMBER_VARIABLES",
    "PRODUCTION_API_BASE_URL",
    "PRODUCTION_IDENTITY_URL",
    "MissingConfiguration",
    "Secret",
    "Settings",
    "check_env_file",
    "check_header_value",
    "credentials_configured",
    "is_loopback",
    "read_env_text",
    "setting_number",
]
