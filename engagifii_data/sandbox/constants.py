"""Constants of the sandbox (no third-party imports: ``import engagifii_data`` stays light)."""

from __future__ import annotations

from datetime import UTC, datetime

#: The sandbox's one known OAuth 2.0 client.
CLIENT_ID = "sandbox-client"
#: Its secret. The ``CANARY`` marker lets tests grep logs, cassettes and notebooks for leaks.
CLIENT_SECRET = "sandbox-secret-CANARY-1234"
#: The one scope the identity server knows (granted when the request names none).
SCOPE = "EventsApi"
#: The sandbox clock: data are generated relative to it, ``onlyUpcoming`` compares against it.
DEFAULT_NOW = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)
#: Seed of the generated data when none is given.
DEFAULT_SEED = 20261101
#: Tenant code -> number of generated events, largest first.
TENANTS: dict[str, int] = {"ACME": 2400, "GLOBEX": 36, "INITECH": 0}
#: The null GUID (.NET ``Guid.Empty``), used for some ``eventTypeId``.
NULL_GUID = "00000000-0000-0000-0000-000000000000"
#: .NET's ``DateTime.MinValue``, used by the API for "not set" dates.
UNSET_DATE = "0001-01-01T00:00:00"
#: Windows time-zone names used beside naive timestamps, with the fixed offset (minutes) the
#: sandbox applies to them (standard time; the sandbox ignores daylight saving).
TIME_ZONES: dict[str, int] = {
    "Eastern Standard Time": -300,
    "Central Standard Time": -360,
    "Pacific Standard Time": -480,
    "India Standard Time": 330,
    "UTC": 0,
}
