"""Seeded, deterministic event data for the sandbox (Faker plus one ``random.Random``).

Same seed and clock -> identical JSON bytes (for a given Faker version). Events follow the
EventViewModel of ``engagifii-api.md`` (docs and wire fields) and include the hard cases real data
has: accented and emoji names, names starting with ``= + - @``, descriptions with ``\\n``,
``\\r\\n`` and TAB, naive timestamps beside a ``timeZone``, offset timestamps, 7 fractional digits,
``0001-01-01T00:00:00`` for unset registration dates, the null GUID, missing keys and nulls, and an
unknown extra field (``externalRef``) on a few events.

Naive timestamps are wall-clock times in the event's ``timeZone``; the sandbox maps those Windows
zone names to fixed standard offsets (:data:`~engagifii_data.sandbox.constants.TIME_ZONES`).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from .constants import DEFAULT_NOW, DEFAULT_SEED, NULL_GUID, TENANTS, TIME_ZONES, UNSET_DATE

Event = dict[str, Any]

#: Names every non-empty tenant carries (tests look them up by name).
HARD_NAMES = (
    "Café Conférence",
    "🎉 Gala",
    "=SUM(A1:A2) Workshop",
    "+1 Networking",
    "-Minus Meetup",
    "@Home Webinar",
    "Zürich Ärzte-Forum",
    "Séminaire d'été 🌞 Montréal",
)
STATUSES = ("Draft", "Published", "Cancelled", "Completed")
EVENT_TYPES = ("Conference", "Webinar", "Workshop", "Networking", "Training", "Gala")
KINDS = ("Summit", "Workshop", "Webinar", "Conference", "Meetup", "Forum", "Training", "Expo",
         "Luncheon", "Town Hall", "Symposium", "Retreat")
TAGS = ("CLE", "CPE", "Members", "Annual", "Board", "Legislative", "Virtual", "Networking",
        "Sponsorship", "Youth", "Advocacy", "Leadership")
PRICING = ("Standard", "Tiered", "MemberNonMember", "EarlyBird")
WORKFLOWS = ("Standard Registration", "Member Registration", "Exhibitor Registration", "Speaker Intake")
IMAGE_BASE = "https://engagifiiprodstorage.blob.core.windows.net/events"
TIME_STYLES = ("z", "z", "z3", "naive", "naive", "offset", "z7")


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


class _Maker:
    """Makes events for one tenant from one seeded RNG and one seeded Faker."""

    def __init__(self, seed: int | str, tenant: str, now: datetime) -> None:
        from faker import Faker

        self.rng = random.Random(f"{seed}:{tenant}")
        self.fake = f = Faker("en_US")
        f.seed_instance(f"{seed}:{tenant}")
        self.now = now
        self.tenant = tenant
        self.type_ids = {name: _guid(self.rng) for name in EVENT_TYPES}
        self.cities = [f.city() for _ in range(150)]
        self.venues = [self._location() for _ in range(120)]
        self.sentences = [f.sentence(nb_words=10) for _ in range(300)]
        self.creators = [f.name() for _ in range(25)]
        self.people = [
            {"id": _guid(self.rng), "name": self.fake.name(), "email": self.fake.user_name() + "@example.com",
             "phone": self.fake.numerify("###-###-####")}
            for _ in range(12)
        ]

    def person(self) -> dict[str, Any]:
        return dict(self.rng.choice(self.people))

    def location(self) -> dict[str, Any]:
        return dict(self.rng.choice(self.venues))

    def _location(self) -> dict[str, Any]:
        f = self.fake
        return {
            "name": f"{f.last_name()} {self.rng.choice(('Center', 'Hall', 'Hotel', 'Convention Center'))}",
            "addressLine": f.street_address(),
            "city": f.city(),
            "state": f.state_abbr(),
            "zip": f.zipcode(),
            "country": "USA",
            "latitude": round(float(f.latitude()), 6),
            "longitude": round(float(f.longitude()), 6),
        }

    def description(self) -> str | None:
        r = self.rng.random()
        if r < 0.05:
            return None
        if r < 0.08:
            return ""
        parts = [self.rng.choice(self.sentences) for _ in range(self.rng.randint(1, 3))]
        sep = self.rng.choice(("\n", "\r\n", " ", " ", "\n\n"))
        text = sep.join(parts)
        if self.rng.random() < 0.1:
            text += "\tAgenda:\tTBD"
        return text

    def make(self, index: int, start: datetime, name: str | None = None, *, inserted: bool = False) -> Event:
        rng = self.rng
        eid = _guid(rng)
        duration = timedelta(minutes=rng.choice((60, 90, 120, 240, 480, 1440, 2880, 4320)))
        end = start + duration
        style = rng.choice(TIME_STYLES)
        if style == "z7" or style == "z3":
            start = start + timedelta(microseconds=rng.randrange(1_000_000))
        tz_name: str | None = None
        if style == "naive":
            tz_name = rng.choice(("Eastern Standard Time", "Eastern Standard Time", "Central Standard Time",
                                  "Pacific Standard Time", "UTC"))
        elif style == "offset":
            tz_name = rng.choice(("India Standard Time", "Eastern Standard Time"))
        elif rng.random() < 0.5:
            tz_name = "UTC"

        past = end < self.now
        if index < len(STATUSES) and not inserted:
            status = STATUSES[index]
        elif past:
            status = rng.choices(("Completed", "Cancelled", "Published"), (85, 10, 5))[0]
        else:
            status = rng.choices(("Published", "Draft", "Cancelled"), (75, 15, 10))[0]
        if past or status in ("Cancelled", "Completed"):
            reg_state = "RegistrationClosed"
        elif status == "Draft":
            reg_state = "RegistrationNotStarted"
        else:
            reg_state = rng.choices(
                ("RegistrationScheduled", "RegistrationNotStarted", "RegistrationClosed", "RegistrationOpen"),
                (45, 35, 12, 8),
            )[0]

        etype = rng.choice(EVENT_TYPES)
        virtual = etype == "Webinar" or rng.random() < 0.08
        if name is None:
            name = f"{rng.choice(self.cities)} {rng.choice(KINDS)} {start.year}"
        free = rng.random() < 0.3
        price = 0 if free else round(rng.choice((25, 49.5, 75, 99.99, 150, 249.5, 395, 1200.75)), 2)
        capacity = None if rng.random() < 0.25 else rng.choice((25, 50, 100, 250, 500, 1000))
        attendees = rng.randint(0, capacity if capacity else 300)
        if status == "Draft":
            attendees = 0
        reg_set = rng.random() < 0.7
        reg_start = start - timedelta(days=rng.randint(20, 90))
        reg_end = start - timedelta(days=rng.randint(0, 5))
        created = start - timedelta(days=rng.randint(30, 200), seconds=rng.randint(0, 86399),
                                    microseconds=rng.randrange(1_000_000))
        venue = None if virtual else self.location()
        sessions = []
        for s in range(rng.choice((0, 1, 1, 1, 2, 3, 4))):
            day = start + timedelta(days=s)
            loc = venue if rng.random() < 0.8 else (None if virtual else self.location())
            sessions.append({
                "id": _guid(rng),
                "name": f"Session {s + 1}" if rng.random() < 0.8 else f"Day {s + 1}: {rng.choice(KINDS)}",
                "addressLine": loc["addressLine"] if loc else None,
                "city": loc["city"] if loc else None,
                "state": loc["state"] if loc else None,
                "zip": loc["zip"] if loc else None,
                "country": loc["country"] if loc else None,
                "latitude": loc["latitude"] if loc else None,
                "longitude": loc["longitude"] if loc else None,
                "sessionStartTime": _format(day, style, tz_name, rng),
                "sessionEndTime": _format(day + min(duration, timedelta(hours=8)), style, tz_name, rng),
                "sessionDay": (day.astimezone(UTC).strftime("%Y-%m-%dT00:00:00")),
            })
        type_is_null = rng.random() < 0.05
        event: Event = {
            "id": eid,
            "name": name,
            "description": self.description(),
            "imageUrl": f"{IMAGE_BASE}/{eid}/banner.png" if rng.random() < 0.8 else None,
            "iconUrl": f"{IMAGE_BASE}/{eid}/icon.png" if rng.random() < 0.6 else None,
            "startDateTime": _format(start, style, tz_name, rng),
            "endDateTime": _format(end, style, tz_name, rng) if rng.random() < 0.97 else None,
            "timeZone": tz_name,
            "eventStatus": status,
            "eventRegistrationState": reg_state,
            "isFavourite": rng.random() < 0.1,
            "eventTypeId": NULL_GUID if type_is_null else self.type_ids[etype],
            "eventType": None if type_is_null else etype,
            "eventWithClass": rng.random() < 0.3,
            "eventWithExhibitor": rng.random() < 0.2,
            "location": venue,
            "eventDates": sessions,
            "contacts": {
                "regular": [self.person() for _ in range(rng.randint(0, 2))],
                "finance": [self.person() for _ in range(rng.randint(0, 1))],
                "exhibitor": [self.person() for _ in range(rng.randint(0, 1))],
            },
            "eventClasses": [_guid(rng) for _ in range(rng.choice((0, 0, 1, 2)))],
            "eventBundles": [_guid(rng) for _ in range(rng.choice((0, 0, 0, 1, 3)))],
            "pricingFramework": None if free else rng.choice(PRICING),
            "isFreeEvent": free,
            "defaultPrice": price,
            "isRegistrationAllowed": reg_state in ("RegistrationOpen", "RegistrationScheduled"),
            "registrationStartFrom": _format(reg_start, style, tz_name, rng) if reg_set else UNSET_DATE,
            "registrationEndDate": _format(reg_end, style, tz_name, rng) if reg_set else UNSET_DATE,
            "registrantsCapacity": capacity,
            "availableRegistrantsCapacity": None if capacity is None else max(capacity - attendees, 0),
            "attendeesCount": attendees,
            "tags": sorted(rng.sample(TAGS, rng.choice((0, 1, 1, 2, 3)))),
            "registrationWorkflows": [
                {"id": _guid(rng), "name": w, "isDefault": i == 0}
                for i, w in enumerate(rng.sample(WORKFLOWS, rng.choice((0, 1, 1, 2))))
            ],
            "createdOn": _format(created, "z7", None, rng)[:-1],  # .NET: 7 digits, no zone
            "createdBy": {"name": rng.choice(self.creators),
                          "imageThumbUrl": f"{IMAGE_BASE}/users/{_guid(rng)}/thumb.png"
                          if rng.random() < 0.5 else None},
        }
        if rng.random() < 0.03:
            event["externalRef"] = f"EXT-{rng.randint(10000, 99999)}"
        if rng.random() < 0.04:  # keys the live service sometimes leaves out
            for key in rng.sample(("imageUrl", "iconUrl", "tags", "pricingFramework", "timeZone",
                                   "registrationWorkflows", "createdBy", "attendeesCount"), 2):
                event.pop(key, None)
        return event


def _generate_tenant(seed: int | str, tenant: str, count: int, now: datetime) -> list[Event]:
    maker = _Maker(seed, tenant, now)
    rng = maker.rng
    lo = now - timedelta(days=730)
    span_minutes = (730 + 365) * 24 * 4  # quarter hours
    hard_at = {}
    if count:
        step = max(count // len(HARD_NAMES), 1)
        hard_at = {(i * step + step // 2) % count: n for i, n in enumerate(HARD_NAMES)}
    events = []
    for i in range(count):
        start = lo + timedelta(minutes=15 * rng.randrange(span_minutes))
        events.append(maker.make(i, start, hard_at.get(i)))
    events.sort(key=sort_key)
    return events


@lru_cache(maxsize=4)
def shared(
    seed: int | str, tenants: tuple[tuple[str, int], ...] = tuple(TENANTS.items())
) -> dict[str, tuple[Event, ...]]:
    """Cached generation for servers: the event dicts are shared and must not be mutated."""
    return {code: tuple(_generate_tenant(seed, code, n, DEFAULT_NOW)) for code, n in tenants}


def generate(
    seed: int | str = DEFAULT_SEED, tenants: Mapping[str, int] | None = None
) -> dict[str, list[Event]]:
    """Generate every tenant's events, each list in listing order (a fresh generation).

    Events span the two years before :data:`DEFAULT_NOW` and the year after; the data never
    depend on the wall clock or on a sandbox's ``now`` (which only moves ``onlyUpcoming``).

    Parameters
    ----------
    seed : int or str
        Seed of the RNG and of Faker (default :data:`DEFAULT_SEED`).
    tenants : mapping, optional
        Tenant code -> number of events (default :data:`TENANTS`).

    Returns
    -------
    dict
        Tenant code -> list of event dicts (detail shape), in the order of ``tenants``.
    """
    table = TENANTS if tenants is None else tenants
    return {code: _generate_tenant(seed, code, n, DEFAULT_NOW) for code, n in table.items()}


def make_inserted(seed: int | str, tenant: str, serial: int, anchors: list[Event], n: int) -> list[Event]:
    """Make *n* new events deterministically, each starting right after one of *anchors*.

    ``serial`` numbers the insertion batch of that tenant so repeated batches differ.
    """
    now = DEFAULT_NOW
    maker = _Maker(f"{seed}:insert:{serial}", tenant, now)
    out = []
    for i in range(n):
        if anchors:
            anchor_start = sort_key(anchors[i % len(anchors)])[0]
            start = anchor_start.replace(microsecond=0) + timedelta(seconds=1)
        else:
            start = now + timedelta(days=7 * (i + 1))
        out.append(maker.make(i, start, f"Inserted {tenant} event {serial}.{i + 1}", inserted=True))
    return out
