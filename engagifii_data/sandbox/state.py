"""What a running sandbox remembers: its events (inserted, deleted), counters, tokens and the request log."""

from __future__ import annotations

import bisect
import json
import threading
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from . import data
from .constants import TENANTS
from .faults import Faults
from .wire import Event, _json_bytes


def _spread(rows: list[Event], n: int) -> list[Event]:
    """*n* of *rows* spread evenly through them (all of them if *n* >= their number), in order."""
    if n >= len(rows):
        return list(rows)
    return [rows[(i + 1) * len(rows) // (n + 1) - 1] for i in range(n)]


class _State:
    """Everything mutable a running sandbox shares between its request threads (one lock)."""

    def __init__(
        self, seed: int | str, now: datetime, faults: Faults, tenants: Mapping[str, int] | None = None
    ) -> None:
        self.lock = getattr(self, "lock", None) or threading.RLock()
        #: counts resets: requests still in flight from before the last reset are not logged
        self.generation: int = getattr(self, "generation", 0) + 1
        self.custom_tenants = dict(tenants) if tenants is not None else None
        self.tenant_codes: tuple[str, ...] = tuple(TENANTS if tenants is None else tenants)
        self.seed, self.now, self.faults = seed, now, faults
        self.issuer = ""
        #: tenant -> list rows in listing order; ``keys`` their sort keys; ``by_id`` id -> detail answer
        self.events: dict[str, list[Event]] = {}
        self.keys: dict[str, list[tuple[datetime, str]]] = {}
        self.by_id: dict[str, dict[str, Event]] = {}
        self.ends: dict[str, datetime] = {}
        table = tuple((TENANTS if tenants is None else tenants).items())
        for code, records in data.shared(seed, table).items():
            self.events[code] = [r.row for r in records]
            self.keys[code] = [data.sort_key(r.row) for r in records]
            self.by_id[code] = {r.row["id"]: r.detail for r in records}
            self.ends.update((r.row["id"], data.end_instant(r.row)) for r in records)
        self.row_json: dict[str, dict[str, bytes]] = {code: {} for code in self.events}
        self.log: list[dict[str, Any]] = []
        self.token_requests = 0
        self.api_requests = 0
        self.rate_count = 0
        self.rate_every_seen = 0
        self.attempted_pages: set[tuple[str, int]] = set()
        self.attempted_details: set[tuple[str, str]] = set()
        self.inserted_after_first: set[str] = set()
        self.served_pages: dict[tuple[Any, ...], set[int]] = {}
        self.deleted_after_listing: set[str] = set()
        self.insert_serial: dict[str, int] = {}
        self.issued_jtis: set[str] = set()
        self.revoked_jtis: set[str] = set()

    def insert(self, tenant: str, n: int) -> list[Event]:
        """Insert *n* new events into *tenant*, after existing events spread through the listing."""
        with self.lock:
            events = self.events[tenant]
            serial = self.insert_serial.get(tenant, 0) + 1
            self.insert_serial[tenant] = serial
            anchors = [events[(i + 1) * len(events) // (n + 1) - 1] for i in range(n)] if events else []
            new = data.make_inserted(self.seed, tenant, serial, anchors, n)
            for record in new:
                event = record.row
                key = data.sort_key(event)
                pos = bisect.bisect(self.keys[tenant], key)
                self.keys[tenant].insert(pos, key)
                events.insert(pos, event)
                self.by_id[tenant][event["id"]] = record.detail
                self.ends[event["id"]] = data.end_instant(event)
            inserted: list[Event] = json.loads(_json_bytes([r.detail for r in new]))
            return inserted

    def delete(self, tenant: str, ids: list[str]) -> list[Event]:
        """Remove the events *ids* from *tenant* (listing and detail); return their detail answers."""
        with self.lock:
            by_id = self.by_id[tenant]
            unknown = [i for i in ids if i not in by_id]
            if unknown:
                raise KeyError(f"no such event in {tenant}: {', '.join(unknown)}")
            gone = set(ids)
            keep = [i for i, e in enumerate(self.events[tenant]) if e["id"] not in gone]
            self.events[tenant] = [self.events[tenant][i] for i in keep]
            self.keys[tenant] = [self.keys[tenant][i] for i in keep]
            removed = [by_id.pop(i) for i in dict.fromkeys(ids)]
            for i in gone:
                self.row_json[tenant].pop(i, None)
                self.ends.pop(i, None)
            deleted: list[Event] = json.loads(_json_bytes(removed))
            return deleted

    def listing_served(self, tenant: str, view: tuple[Any, ...], page: int, pages: int, rows: list[Event]) -> None:
        """Record that *page* of one view of *tenant*'s listing was served (``delete_after_listing``).

        Once every page 1..*pages* of that view has been served, ``delete_after_listing`` events of
        *rows* (the view's rows, spread through it) are deleted, once per tenant.
        """
        n = self.faults.delete_after_listing
        if n <= 0:
            return
        with self.lock:
            if tenant in self.deleted_after_listing:
                return
            served = self.served_pages.setdefault((tenant, *view), set())
            served.add(page)
            if not served.issuperset(range(1, pages + 1)):
                return
            self.deleted_after_listing.add(tenant)
            self.delete(tenant, [e["id"] for e in _spread(rows, n) if e["id"] in self.by_id[tenant]])

    def row_bytes(self, tenant: str, event: Event) -> bytes:
        """The list-row JSON of *event*, encoded once (events are never changed in place)."""
        cache = self.row_json[tenant]
        raw = cache.get(event["id"])
        if raw is None:
            raw = cache[event["id"]] = _json_bytes(event)
        return raw

    def rate_limited(self) -> bool:
        with self.lock:
            every = self.faults.rate_limit_every
            if every != self.rate_every_seen:
                self.rate_every_seen, self.rate_count = every, 0
            if every <= 0:
                return False
            self.rate_count += 1
            return self.rate_count % every == 0
