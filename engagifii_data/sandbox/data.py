"""Seeded, deterministic event data for the sandbox (Faker plus one ``random.Random``).

Same seed and clock -> identical JSON bytes (for a given Faker version). Events follow the
EventViewModel of the vendor's data-models page and the fields seen on the wire and include the hard cases real data
has: accented and emoji names, names starting with ``= + - @``, descriptions with ``\\n``,
``\\r\\n`` and TAB, naive timestamps beside a ``timeZone``, offset timestamps, 7 fractional digits,
``0001-01-01T00:00:00`` for unset registration dates, the null GUID, missing keys and nulls, and an
unknown extra field (``externalRef``) on a few events.

Each event has two shapes, a :class:`Record`: the list row and the detail answer. The detail adds
``contacts`` and may carry more in ``eventDates`` (an unknown session field, an unscheduled session
with null times). Everything only the detail carries comes from random streams of its own, seeded
by the event id (``"{seed}:{tenant}:detail:{id}"``, ``"...:sessions:{id}"``), so the main stream,
and with it every list row, is the same as before details existed. Contact hard cases (no contacts,
``contacts: null``, a role missing, several in a role, ``email`` absent or null, accents, CJK,
emoji, Arabic and Hebrew names, a name starting with ``=``, an extra ``title``) and session hard
cases are each placed on at least one event of every tenant of 12 or more events (:data:`CONTACT_CASES`,
:data:`SESSION_CASES`), and also occur at random.

Naive timestamps are wall-clock times in the event's ``timeZone``; the sandbox maps those Windows
zone names to fixed standard offsets (:data:`~engagifii_data.sandbox.constants.TIME_ZONES`).
"""

from __future__ import annotations

import random
import unicodedata
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, NamedTuple

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
ROLES = ("regular", "finance", "exhibitor")
#: Contact hard cases of the detail answer; each is forced on at least one event of a non-empty tenant.
CONTACT_CASES = (
    "empty",
    "null",
    "role_missing",
    "many",
    "no_email",
    "null_email",
    "extra_field",
    "accents",
    "cjk",
    "emoji",
    "rtl",
    "formula",
)
#: Session hard cases only the detail answer carries (list rows keep their sessions as they are).
SESSION_CASES = ("session_tbd", "session_extra_field")
#: Contacts with hard names: (case, name, email).
HARD_CONTACTS = (
    ("accents", "José Ñúñez-García", "jose.nunez@example.com"),
    ("accents", "Zoë Ångström", "zoe.angstrom@example.se"),
    ("cjk", "山田 太郎", "yamada.taro@example.jp"),
    ("cjk", "王小明", "wang.xiaoming@example.cn"),
    ("emoji", "Sam 🎤 Rivera", "sam.rivera@example.com"),
    ("rtl", "محمد العلي", "m.alali@example.ae"),
    ("rtl", "דנה כהן", "dana.cohen@example.co.il"),
    ("formula", '=HYPERLINK("https://example.com","Pat Kim")', "pat.kim@example.com"),
)
CONTACT_TITLES = ("Event Coordinator", "Finance Director", "Exhibitor Liaison", "Registrar", "Board Chair")
ROOMS = ("Ballroom A", "Ballroom B", "Room 101", "Salon Ñ", "Auditorium", "Terrace")
SESSION_KEYS = (
    "id",
    "name",
    "addressLine",
    "city",
    "state",
    "zip",
    "country",
    "latitude",
    "longitude",
    "sessionStartTime",
    "sessionEndTime",
    "sessionDay",
)


class Record(NamedTuple):
    """One event in both shapes: what the listing sends and what ``GET /event/{id}`` sends."""

    row: Event
    detail: Event


def _guid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _email(name: str, rng: random.Random) -> str:
    """A plausible address for *name* (ASCII local part; a few name styles)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    parts = ["".join(c for c in w if c.isalnum()).lower() for w in ascii_name.split()]
    parts = [w for w in parts if w] or ["contact"]
    style = rng.randrange(3)
    local = ".".join(parts) if style == 0 else parts[0][0] + parts[-1] if style == 1 else parts[0]
    if style == 2:
        local += str(rng.randint(1, 99))
    return f"{local}@{rng.choice(('example.com', 'example.org', 'example.net'))}"


def _phone(rng: random.Random) -> str:
    digits = f"{rng.randint(200, 989)}-{rng.randint(200, 999)}-{rng.randrange(10000):04d}"
    return "+1 " + digits if rng.random() < 0.2 else digits


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
        # Everything below is for the detail answer: its own stream, the main one is not touched.
        prng = random.Random(f"{seed}:{tenant}:detail")
        self.contact_pool: list[dict[str, Any]] = [
            {"id": _guid(prng), "name": name, "email": _email(name, prng), "phone": _phone(prng)}
            for name in dict.fromkeys(self.creators + [p["name"] for p in self.people])
        ]
        self.hard_contacts: dict[str, list[dict[str, Any]]] = {}
        for case, name, email in HARD_CONTACTS:
            self.hard_contacts.setdefault(case, []).append(
                {"id": _guid(prng), "name": name, "email": email, "phone": _phone(prng)}
            )

    def _legacy_contact_draws(self) -> None:
        """Draw what the list rows' generation drew for contacts before details had their own stream.

        Contacts once came from the main stream; those draws are kept (and thrown away) so that every
        later draw, and so every list row, stays byte-identical.
        """
        rng = self.rng
        for high in (2, 1, 1):
            for _ in range(rng.randint(0, high)):
                rng.choice(self.people)

    def contacts(self, eid: str, case: str | None = None) -> dict[str, Any] | None:
        """The detail's ``contacts`` for event *eid*, from the event's own stream (*case* forces one)."""
        drng = random.Random(f"{self.seed}:{self.tenant}:detail:{eid}")
        if case is None:
            r = drng.random()
            case = "null" if r < 0.03 else "empty" if r < 0.09 else "role_missing" if r < 0.14 else None
        if case == "null":
            return None
        if case == "empty":
            return {role: [] for role in ROLES}
        counts = {
            "regular": drng.choices((0, 1, 2, 3, 4), (15, 40, 25, 13, 7))[0],
            "finance": drng.choices((0, 1, 2), (45, 50, 5))[0],
            "exhibitor": drng.choices((0, 1, 2, 3), (60, 25, 10, 5))[0],
        }
        if case == "many":
            counts["regular"] = max(counts["regular"], 3)
        elif case is not None and counts["regular"] == 0:
            counts["regular"] = 1  # the forced contact case goes on the first regular contact
        out: dict[str, Any] = {}
        for role in ROLES:
            people = []
            for person in drng.sample(self.contact_pool, counts[role]):
                contact = dict(person)
                if drng.random() < 0.02:
                    contact = dict(drng.choice(drng.choice(list(self.hard_contacts.values()))))
                r = drng.random()
                if r < 0.03:
                    del contact["email"]
                elif r < 0.06:
                    contact["email"] = None
                if drng.random() < 0.02:
                    contact["phone"] = None
                if drng.random() < 0.05:
                    contact["title"] = drng.choice(CONTACT_TITLES)
                people.append(contact)
            out[role] = people
        first = out["regular"][0] if out["regular"] else None
        if case == "role_missing":
            del out[drng.choice(ROLES)]
        elif case == "no_email" and first is not None:
            first.pop("email", None)
        elif case == "null_email" and first is not None:
            first["email"] = None
        elif case == "extra_field" and first is not None:
            first["title"] = drng.choice(CONTACT_TITLES)
        elif case in self.hard_contacts:
            out["regular"][0] = dict(drng.choice(self.hard_contacts[case]))
        return out

    def sessions(self, event: Event, case: str | None = None) -> list[dict[str, Any]]:
        """The detail's ``eventDates``: the row's sessions, sometimes with an unknown field (``roomName``),
        sometimes followed by an unscheduled session (all times null), from the event's own stream."""
        srng = random.Random(f"{self.seed}:{self.tenant}:sessions:{event['id']}")
        out = [dict(s) for s in event["eventDates"]]
        extra = [s for s in out if srng.random() < 0.04]
        if case == "session_extra_field" and out and not extra:
            extra = [out[0]]
        for session in extra:
            session["roomName"] = srng.choice(ROOMS)
        if srng.random() < 0.03 or case == "session_tbd":
            venue = event.get("location")
            r = srng.random()
            loc = None if r < 0.5 or venue is None else venue if r < 0.75 else srng.choice(self.venues)
            tbd: dict[str, Any] = {"id": _guid(srng), "name": f"Session {len(out) + 1} (time to be announced)"}
            tbd.update((k, loc[k] if loc else None) for k in SESSION_KEYS[2:9])
            tbd.update(sessionStartTime=None, sessionEndTime=None, sessionDay=None)
            out.append(tbd)
        return out

    def detail(self, row: Event, contact_case: str | None = None, session_case: str | None = None) -> Event:
        """The detail answer of list row *row*: ``contacts`` after ``eventDates`` (detail sessions)."""
        detail: Event = {}
        for key, value in row.items():
            if key == "eventDates":
                detail[key] = self.sessions(row, session_case)
                detail["contacts"] = self.contacts(row["id"], contact_case)
            else:
                detail[key] = value
        if "contacts" not in detail:
            detail["contacts"] = self.contacts(row["id"], contact_case)
        return detail

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


def _spread(count: int, cases: Sequence[str], offset: int) -> dict[int, str]:
    """Generation index -> case, the cases spread evenly over *count* events."""
    if not count:
        return {}
    step = max(count // len(cases), 1)
    return {(i * step + offset * step // 4) % count: case for i, case in enumerate(cases)}


def _generate_tenant(seed: int | str, tenant: str, count: int, now: datetime) -> list[Record]:
    maker = _Maker(seed, tenant, now)
    rng = maker.rng
    lo = now - timedelta(days=730)
    span_minutes = (730 + 365) * 24 * 4  # quarter hours
    hard_at = {}
    if count:
        step = max(count // len(HARD_NAMES), 1)
        hard_at = {(i * step + step // 2) % count: n for i, n in enumerate(HARD_NAMES)}
    rows = []
    for i in range(count):
        start = lo + timedelta(minutes=15 * rng.randrange(span_minutes))
        rows.append(maker.make(i, start, hard_at.get(i)))
    # detail-only data: own streams, so the rows above are what they were before details existed
    contact_at = _spread(count, CONTACT_CASES, 0)
    session_at: dict[int, str] = {}
    for i, case in _spread(count, SESSION_CASES, 1).items():
        if case == "session_extra_field":  # needs a session: the next event (generation order) with one
            i = next((j % count for j in range(i, i + count) if rows[j % count]["eventDates"]), i)
        session_at[i] = case
    records = [Record(row, maker.detail(row, contact_at.get(i), session_at.get(i))) for i, row in enumerate(rows)]
    records.sort(key=lambda r: sort_key(r.row))
    return records


@lru_cache(maxsize=4)
def shared(
    seed: int | str, tenants: tuple[tuple[str, int], ...] = tuple(TENANTS.items())
) -> dict[str, tuple[Record, ...]]:
    """Cached generation for servers: the records are shared and must not be mutated."""
    return {code: tuple(_generate_tenant(seed, code, n, DEFAULT_NOW)) for code, n in tenants}


def generate(
    seed: int | str = DEFAULT_SEED, tenants: Mapping[str, int] | None = None, *, detail: bool = True
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
    detail : bool
        True (default): the detail answers (with ``contacts`` and the detail's ``eventDates``);
        False: the list rows, exactly as the listing sends them.

    Returns
    -------
    dict
        Tenant code -> list of event dicts, in the order of ``tenants``.
    """
    table = TENANTS if tenants is None else tenants
    return {
        code: [r.detail if detail else r.row for r in _generate_tenant(seed, code, n, DEFAULT_NOW)]
        for code, n in table.items()
    }


def make_inserted(seed: int | str, tenant: str, serial: int, anchors: list[Event], n: int) -> list[Record]:
    """Make *n* new events deterministically, each starting right after one of *anchors* (list rows).

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
        row = maker.make(i, start, f"Inserted {tenant} event {serial}.{i + 1}", inserted=True)
        out.append(Record(row, maker.detail(row)))
    return out
