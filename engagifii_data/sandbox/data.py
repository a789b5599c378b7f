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

This module generates whole tenants and inserted events; a row's fields are drawn in ``rows``, the
detail-only parts in ``details``, timestamps and GUIDs are written by ``shapes``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from typing import NamedTuple

from .constants import DEFAULT_NOW, DEFAULT_SEED, TENANTS
from .details import CONTACT_CASES, SESSION_CASES
from .rows import HARD_NAMES, _Maker
from .shapes import Event, end_instant, parse_instant, sort_key

__all__ = [
    "CONTACT_CASES",
    "HARD_NAMES",
    "SESSION_CASES",
    "Event",
    "Record",
    "end_instant",
    "generate",
    "make_inserted",
    "parse_instant",
    "shared",
    "sort_key",
]


class Record(NamedTuple):
    """One event in both shapes: what the listing sends and what ``GET /event/{id}`` sends."""

    row: Event
    detail: Event


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
    records = [
        Record(row, maker.details.detail(row, contact_at.get(i), session_at.get(i))) for i, row in enumerate(rows)
    ]
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
        out.append(Record(row, maker.details.detail(row)))
    return out
