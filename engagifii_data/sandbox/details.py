"""The sandbox's detail-only data: contacts and detail sessions, with their hard cases, from streams of their own."""

from __future__ import annotations

import random
import unicodedata
from typing import Any

from .shapes import Event, _guid

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


class _DetailMaker:
    """Makes the detail-only parts of one tenant's events; never draws from the list rows' stream."""

    def __init__(
        self,
        seed: int | str,
        tenant: str,
        creators: list[str],
        people: list[dict[str, Any]],
        venues: list[dict[str, Any]],
    ) -> None:
        self.seed = seed
        self.tenant = tenant
        self.venues = venues
        # Everything below is for the detail answer: its own stream, the main one is not touched.
        prng = random.Random(f"{seed}:{tenant}:detail")
        self.contact_pool: list[dict[str, Any]] = [
            {"id": _guid(prng), "name": name, "email": _email(name, prng), "phone": _phone(prng)}
            for name in dict.fromkeys(creators + [p["name"] for p in people])
        ]
        self.hard_contacts: dict[str, list[dict[str, Any]]] = {}
        for case, name, email in HARD_CONTACTS:
            self.hard_contacts.setdefault(case, []).append(
                {"id": _guid(prng), "name": name, "email": email, "phone": _phone(prng)}
            )

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
