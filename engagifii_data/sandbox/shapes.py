"""How generated values are written: GUIDs, timestamps in the live services' shapes, the listing order."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from .constants import TIME_ZONES

Event = dict[str, Any]


def _guid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _fmt_utc(dt: datetime, frac: str = "") -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") + frac + "Z"


def _format(dt: datetime, style: str, tz_name: str | None, rng: random.Random) -> str:
    """Render the instant *dt* in one of the shapes the live services send."""
    if style == "z":
        return _fmt_utc(dt)
    if style == "z3":
        return _fmt_utc(dt, f".{dt.microsecond // 1000:03d}")
    if style == "z7":
        return _fmt_utc(dt, f".{dt.microsecond:06d}{rng.randrange(10)}")
    offset = timedelta(minutes=TIME_ZONES[tz_name or "UTC"])
    local = dt.astimezone(timezone(offset))
    if style == "naive":
        return local.strftime("%Y-%m-%dT%H:%M:%S")
    return local.isoformat(timespec="seconds")  # "offset": "...+05:30" / "...-05:00"


def parse_instant(value: str, tz_name: str | None = None) -> datetime:
    """Parse a sandbox timestamp to an aware UTC datetime (naive -> *tz_name*'s fixed offset)."""
    dt = datetime.fromisoformat(value)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone(timedelta(minutes=TIME_ZONES.get(tz_name or "UTC", 0))))
    return dt.astimezone(UTC)


def sort_key(event: Event) -> tuple[datetime, str]:
    """The listing order: start as an instant, then id."""
    return (parse_instant(event["startDateTime"], event.get("timeZone")), event["id"])


def end_instant(event: Event) -> datetime:
    """The instant ``onlyUpcoming`` compares with the clock: end, else start."""
    value = event.get("endDateTime") or event["startDateTime"]
    return parse_instant(value, event.get("timeZone"))
