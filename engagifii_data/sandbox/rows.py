"""The sandbox's list rows: every field of a generated event, drawn from the tenant's one seeded stream."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from .constants import NULL_GUID, UNSET_DATE
from .details import _DetailMaker
from .shapes import Event, _format, _guid

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
KINDS = (
    "Summit",
    "Workshop",
    "Webinar",
    "Conference",
    "Meetup",
    "Forum",
    "Training",
    "Expo",
    "Luncheon",
    "Town Hall",
    "Symposium",
    "Retreat",
)
TAGS = (
    "CLE",
    "CPE",
    "Members",
    "Annual",
    "Board",
    "Legislative",
    "Virtual",
    "Networking",
    "Sponsorship",
    "Youth",
    "Advocacy",
    "Leadership",
)
PRICING = ("Standard", "Tiered", "MemberNonMember", "EarlyBird")
WORKFLOWS = ("Standard Registration", "Member Registration", "Exhibitor Registration", "Speaker Intake")
IMAGE_BASE = "https://engagifiiprodstorage.blob.core.windows.net/events"
TIME_STYLES = ("z", "z", "z3", "naive", "naive", "offset", "z7")


class _Maker:
    """Makes events for one tenant from one seeded RNG and one seeded Faker."""

    def __init__(self, seed: int | str, tenant: str, now: datetime) -> None:
        from faker import Faker

        self.seed = seed
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
            {
                "id": _guid(self.rng),
                "name": self.fake.name(),
                "email": self.fake.user_name() + "@example.com",
                "phone": self.fake.numerify("###-###-####"),
            }
            for _ in range(12)
        ]
        self.details = _DetailMaker(seed, tenant, self.creators, self.people, self.venues)

    def _legacy_contact_draws(self) -> None:
        """Draw what the list rows' generation drew for contacts before details had their own stream.

        Contacts once came from the main stream; those draws are kept (and thrown away) so that every
        later draw, and so every list row, stays byte-identical.
        """
        rng = self.rng
        for high in (2, 1, 1):
            for _ in range(rng.randint(0, high)):
                rng.choice(self.people)

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
            tz_name = rng.choice(
                (
                    "Eastern Standard Time",
                    "Eastern Standard Time",
                    "Central Standard Time",
                    "Pacific Standard Time",
                    "UTC",
                )
            )
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
        created = start - timedelta(
            days=rng.randint(30, 200), seconds=rng.randint(0, 86399), microseconds=rng.randrange(1_000_000)
        )
        venue = None if virtual else self.location()
        sessions = []
        for s in range(rng.choice((0, 1, 1, 1, 2, 3, 4))):
            day = start + timedelta(days=s)
            loc = venue if rng.random() < 0.8 else (None if virtual else self.location())
            sessions.append(
                {
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
                }
            )
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
        }
        self._legacy_contact_draws()
        event.update(
            {
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
                "createdBy": {
                    "name": rng.choice(self.creators),
                    "imageThumbUrl": f"{IMAGE_BASE}/users/{_guid(rng)}/thumb.png" if rng.random() < 0.5 else None,
                },
            }
        )
        if rng.random() < 0.03:
            event["externalRef"] = f"EXT-{rng.randint(10000, 99999)}"
        if rng.random() < 0.04:  # keys the live service sometimes leaves out
            for key in rng.sample(
                (
                    "imageUrl",
                    "iconUrl",
                    "tags",
                    "pricingFramework",
                    "timeZone",
                    "registrationWorkflows",
                    "createdBy",
                    "attendeesCount",
                ),
                2,
            ):
                event.pop(key, None)
        return event
