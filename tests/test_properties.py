"""Property-based tests: page walks over random sandbox fault schedules (hypothesis).

The invariant: whatever the schedule of faults — tenant size, page size, silent server cap,
429s with a short ``Retry-After``, 503 pages, dropped connections, truncated bodies, token expiries,
events inserted during the walk, 1..8 workers, 1..6 attempts — ``client.events()`` either

* returns exactly the tenant's ids (the listing as it stood at a moment of the walk, in listing
  order), each once, with ``attrs["engagifii"]["complete"] is True`` and ``total_count == len(df)``;
* or raises a documented error (``IncompleteWalkError``, ``PaginationError``, ``ApiError`` and its
  ``RateLimitError``, ``TransportError``, ``AuthenticationError``), and an ``IncompleteWalkError``
  carries exactly the pages it got: its ``.partial`` holds unique ids of the tenant, marked
  ``complete=False``, with ``missing_pages`` = the planned pages not in it.

It never returns duplicates or a partial result marked complete, and a schedule whose faults are all
recoverable (no permanent failures, retries enough, at most one change of the listing) always
completes.

Profiles (selected by ``HYPOTHESIS_PROFILE``, applied to the tests of this file only):

* ``ci`` (default): derandomized (fixed seed), 30 examples for the walk property; ~30-60 s.
* ``long``: 400 examples, randomized (every run explores new schedules; a failure prints the
  ``@reproduce_failure`` blob)::

      HYPOTHESIS_PROFILE=long .venv/bin/python -m pytest tests/test_properties.py

One sandbox serves every example of a test function. The sandbox remembers, per tenant, which pages
were already asked for (page faults hit only a page's first attempt), how many requests it counted
(``rate_limit_every``) and the events inserted, so an example that uses one of those faults, or that
follows an example which inserted events, gets a freshly started sandbox (about 0.05 s: the seeded
data are cached); other examples reuse it with faults and log reset.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, event, example, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from engagifii_data import sandbox
from engagifii_data.client import LIST_PATH, EngagifiiClient, WalkProgress
from engagifii_data.exceptions import (
    ApiError,
    AuthenticationError,
    EngagifiiError,
    IncompleteWalkError,
    PaginationError,
    RateLimitError,
    TransportError,
)
from engagifii_data.sandbox import Faults
from tests.helpers import SleepRecorder

# -- hypothesis profiles ----------------------------------------------------------------------

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=30,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "long",
    derandomize=False,
    max_examples=400,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _profile() -> settings:
    name = os.environ.get("HYPOTHESIS_PROFILE", "ci")
    try:
        return settings.get_profile(name)
    except InvalidArgument:  # a profile registered elsewhere (e.g. "dev"): fall back to ours
        return settings.get_profile("ci")


PROFILE = _profile()
#: Examples of the (slower: three walks each) checkpoint property, relative to the walk property.
RESUME_PROFILE = settings(PROFILE, max_examples=max(8, PROFILE.max_examples // 3))

# -- the sandbox ------------------------------------------------------------------------------

#: Tenants sized for the edges: empty, one row, a page and one more, a 600-row tenant.
TENANTS: dict[str, int] = {"EMPTY": 0, "ONE": 1, "T37": 37, "T100": 100, "T101": 101, "T250": 250, "T599": 599}
#: Page sizes are drawn so that a walk plans at most this many pages (keeps each example fast).
MAX_PAGES = 10
#: Documented errors a walk may raise (RateLimitError is an ApiError, IncompleteWalkError a PaginationError).
DOCUMENTED = (IncompleteWalkError, PaginationError, ApiError, RateLimitError, TransportError, AuthenticationError)
DEFAULT_FAULTS = Faults()


class Harness:
    """One sandbox per test function; restarted only when an example needs a pristine one."""

    def __init__(self) -> None:
        self._cm: Any = None
        self.sb: Any = None
        self.dirty = True

    def fresh(self, *, pristine: bool) -> Any:
        """The sandbox, faults at their defaults and the log empty (restarted if *pristine* or dirty)."""
        if self.sb is None or pristine or self.dirty:
            self.close()
            self._cm = sandbox.run(tenants=TENANTS)
            self.sb = self._cm.__enter__()
            self.dirty = False
        for f in dataclasses.fields(Faults):
            setattr(self.sb.faults, f.name, getattr(DEFAULT_FAULTS, f.name))
        self.sb.faults.page_faults = {}
        self.sb.reset_log()
        return self.sb

    def close(self) -> None:
        if self._cm is not None:
            self._cm.__exit__(None, None, None)
        self._cm = self.sb = None


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    h = Harness()
    try:
        yield h
    finally:
        h.close()


def tenant_ids(sb: Any, code: str) -> list[str]:
    return [str(e["id"]) for e in sb.events(code)]


def list_records(sb: Any) -> list[dict[str, Any]]:
    return [r for r in list(sb.log) if r["kind"] == "api" and r["path"] == LIST_PATH]


# -- schedules --------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Schedule:
    """One fault schedule for one walk (hypothesis prints it when an example fails)."""

    tenant: str
    page_size: int
    workers: int = 4
    max_page_size: int = 100
    envelope: str = "wire"
    max_attempts: int = 6
    rate_limit_every: int = 0
    retry_after: str = "0"
    page_faults: tuple[tuple[int, str], ...] = ()
    fail_from_page: int | None = None
    ignore_page_number: bool = False
    revoke_at_page: int | None = None  # revoke every token after this many pages (progress callback)
    token_lifetime: int = 3600
    insert_after_first_page: int = 0  # the sandbox inserts N events right after serving page 1
    insert_at_page: int | None = None  # the test inserts insert_n events after this many pages ...
    insert_n: int = 0
    insert_times: int = 1  # ... in the first walk only (1) or in the re-read too (2)
    cancel_at_page: int | None = None  # set the walk's cancel event after this many pages
    allow_incomplete: bool = False

    @property
    def size(self) -> int:
        return TENANTS[self.tenant]

    @property
    def effective_page_size(self) -> int:
        return min(self.page_size, self.max_page_size)

    @property
    def planned_pages(self) -> int:
        return max(1, math.ceil(self.size / self.effective_page_size))

    @property
    def inserts(self) -> bool:
        return self.insert_after_first_page > 0 or (self.insert_at_page is not None and self.insert_n > 0)

    @property
    def needs_pristine_sandbox(self) -> bool:
        return bool(self.page_faults) or self.rate_limit_every > 0 or self.inserts

    @property
    def recoverable(self) -> bool:
        """Every fault is transient and the retries suffice: the walk must complete."""
        return (
            self.fail_from_page is None
            and self.rate_limit_every == 0
            and not self.ignore_page_number
            and (not self.page_faults or self.max_attempts >= 2)
            and (self.insert_at_page is None or self.insert_times == 1)
            and self.cancel_at_page is None
        )


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    tenant = draw(st.sampled_from(sorted(TENANTS, key=TENANTS.__getitem__)))
    size = TENANTS[tenant]
    smallest = max(1, math.ceil(size / MAX_PAGES))
    page_size = draw(st.integers(smallest, 150))
    cap = draw(st.one_of(st.just(100), st.integers(smallest, 150)))
    planned = max(1, math.ceil(size / min(page_size, cap)))
    pages = st.integers(1, planned + 1)
    page_faults = draw(
        st.dictionaries(pages, st.sampled_from(sandbox.PAGE_FAULTS), max_size=3).map(lambda d: tuple(sorted(d.items())))
    )
    rate_limit_every = draw(st.sampled_from([0, 0, 0, 3, 5, 2, 7, 1]))
    insertion = draw(st.sampled_from(["none", "none", "after_first_page", "callback"]))
    insert_after_first_page = draw(st.integers(1, 20)) if insertion == "after_first_page" else 0
    insert_at_page = draw(st.integers(1, planned)) if insertion == "callback" else None
    insert_n = draw(st.integers(1, 20)) if insertion == "callback" else 0
    token = draw(st.sampled_from(["long", "long", "revoke", "short"]))
    return Schedule(
        tenant=tenant,
        page_size=page_size,
        workers=draw(st.integers(1, 8)),
        max_page_size=cap,
        envelope=draw(st.sampled_from(["wire", "docs"])),
        max_attempts=draw(st.sampled_from([6, 4, 3, 2, 1])),
        rate_limit_every=rate_limit_every,
        retry_after=draw(st.sampled_from(["0", "1"])),
        page_faults=page_faults,
        fail_from_page=draw(st.one_of(st.none(), st.none(), pages)),
        ignore_page_number=draw(st.integers(0, 9)) == 9,
        revoke_at_page=draw(st.integers(1, planned)) if token == "revoke" else None,
        token_lifetime=2 if token == "short" else 3600,
        insert_after_first_page=insert_after_first_page,
        insert_at_page=insert_at_page,
        insert_n=insert_n,
        insert_times=draw(st.integers(1, 2)) if insertion == "callback" else 1,
        cancel_at_page=draw(st.integers(1, planned)) if draw(st.integers(0, 9)) == 9 else None,
        allow_incomplete=draw(st.booleans()),
    )


# -- one walk and its oracle --------------------------------------------------------------------


@dataclasses.dataclass
class Outcome:
    frame: pd.DataFrame | None
    error: BaseException | None
    before: list[str]
    after: list[str]
    snapshots: list[tuple[float, list[str]]]  # (monotonic time the insertion ended, ids after it)
    records: list[dict[str, Any]]


def apply_faults(sb: Any, s: Schedule) -> None:
    """Switch the sandbox's faults to those of schedule *s*."""
    faults = sb.faults
    faults.max_page_size = s.max_page_size
    faults.envelope = s.envelope
    faults.rate_limit_every = s.rate_limit_every
    faults.retry_after = s.retry_after
    faults.page_faults = dict(s.page_faults)
    faults.fail_from_page = s.fail_from_page
    faults.ignore_page_number = s.ignore_page_number
    faults.token_lifetime = s.token_lifetime
    faults.insert_after_first_page = s.insert_after_first_page


def walk(sb: Any, s: Schedule, *, checkpoint: Path | None = None) -> Outcome:
    """Apply *s* to the sandbox, walk its tenant once, and record what happened."""
    apply_faults(sb, s)
    before = tenant_ids(sb, s.tenant)
    snapshots: list[tuple[float, list[str]]] = [(-math.inf, before)]
    revoked = False
    cancel = threading.Event()

    def progress(p: WalkProgress) -> None:
        nonlocal revoked
        if s.cancel_at_page is not None and p.pages_done == s.cancel_at_page:
            cancel.set()
        if s.revoke_at_page is not None and p.pages_done == s.revoke_at_page and not revoked:
            sb.revoke_tokens()
            revoked = True
        if s.insert_at_page is not None and p.pages_done == s.insert_at_page and len(snapshots) <= s.insert_times:
            sb.insert_events(s.tenant, s.insert_n)
            snapshots.append((time.monotonic(), tenant_ids(sb, s.tenant)))

    client = EngagifiiClient(sb.settings(max_attempts=s.max_attempts), sleep=SleepRecorder(0.005))
    frame: pd.DataFrame | None = None
    error: BaseException | None = None
    try:
        frame = client.events(
            s.tenant,
            page_size=s.page_size,
            workers=s.workers,
            progress=progress,
            cancel=cancel,
            checkpoint=checkpoint,
            allow_incomplete=s.allow_incomplete,
        )
    except Exception as exc:  # judged below
        error = exc
    finally:
        client.close()
    after = tenant_ids(sb, s.tenant)
    return Outcome(frame, error, before, after, snapshots, list_records(sb))


def acceptable_listings(s: Schedule, out: Outcome) -> list[list[str]]:
    """The listings a complete walk may return: the tenant as it stood at some moment of the walk,
    no older than the newest listing the walk had demonstrably looked at."""
    ok = [r for r in out.records if r["status"] == 200]
    if s.insert_after_first_page:
        # the sandbox inserts while serving the first successful page 1, after building its body;
        # every later successful answer was requested after that page came back
        return [out.after] if len(ok) >= 2 else [out.before]
    if len(out.snapshots) > 1:
        last_look = max((r["time"] for r in ok), default=-math.inf)
        newest = max(j for j, (t, _) in enumerate(out.snapshots) if t < last_look or j == 0)
        return [ids for _, ids in out.snapshots[newest:]]
    return [out.before]


def check_partial(s: Schedule, out: Outcome, frame: pd.DataFrame, error: IncompleteWalkError | None) -> None:
    """An incomplete result carries exactly the pages it got."""
    meta = frame.attrs["engagifii"]
    ids = frame["id"].tolist()
    assert meta["complete"] is False
    assert len(ids) == len(set(ids)), "duplicate ids in a partial result"
    assert set(ids) <= set(out.after), "a partial result holds ids the tenant never had"
    assert meta["rows_fetched"] == len(frame)
    missing = list(meta["missing_pages"])
    if error is not None:
        assert missing == error.missing_pages
        assert error.partial is frame
    pages, planned = meta["pages"], meta["planned_pages"]
    if missing:
        within = list(range(pages + 1, planned + 1))
        assert missing == within or (pages == planned and missing == [planned + 1]), (missing, pages, planned)
        if error is not None:
            assert isinstance(error.cause, EngagifiiError) or (error.cause is None and error.reason == "cancelled")
            assert error.page == missing[0]
        if out.after == out.before:  # no insertion: the pages accepted are the listing's first pages
            assert ids == out.before[: pages * meta["page_size"]]
    else:
        # nothing missing: the listing did not settle (changed during the walk and the re-read)
        assert len(out.snapshots) > 2, "unsettled although the listing changed at most once"
        assert len(meta["totals_seen"]) >= 2
        if error is not None:
            assert error.cause is None
            assert "did not settle" in str(error)


def check(s: Schedule, out: Outcome) -> None:
    """The invariant of the module docstring."""
    event(
        "outcome: "
        + (
            "complete"
            if out.frame is not None and out.frame.attrs["engagifii"]["complete"]
            else "incomplete frame"
            if out.frame is not None
            else type(out.error).__name__
        )
    )
    assert out.after == out.snapshots[-1][1] or s.insert_after_first_page
    if out.frame is not None:
        df = out.frame
        meta = df.attrs["engagifii"]
        ids = df["id"].tolist()
        assert len(ids) == len(set(ids)), "duplicate ids returned"
        if meta["complete"] is not True:
            assert s.allow_incomplete, "an incomplete frame returned without allow_incomplete"
            check_partial(s, out, df, None)
            assert not s.recoverable, "a recoverable schedule did not complete"
            return
        assert meta["total_count"] == len(df)
        assert meta["missing_pages"] == []
        if out.after == out.before:
            assert meta["duplicates"] == 0
        # adaptive concurrency: lowered after a 429, never above the start or the ceiling
        c = meta["concurrency"]
        assert c["start"] == s.workers and 1 <= c["final"] <= c["ceiling"] <= c["start"]
        throttled = sum(1 for r in out.records if r["status"] == 429)
        assert c["throttled"] <= throttled
        if c["throttled"] and s.workers > 1:
            assert c["ceiling"] < s.workers
        assert ids in acceptable_listings(s, out), (len(ids), [len(x) for x in acceptable_listings(s, out)])
        return
    error = out.error
    assert error is not None
    if not isinstance(error, DOCUMENTED):
        raise AssertionError(f"undocumented error {type(error).__name__}") from error
    assert not s.recoverable, f"a recoverable schedule raised {type(error).__name__}: {error}"
    if isinstance(error, IncompleteWalkError):
        assert isinstance(error.partial, pd.DataFrame)
        check_partial(s, out, error.partial, error)
        if s.allow_incomplete:  # only a broken walk (a PaginationError cause) or an unsettled listing may raise
            assert error.cause is None or isinstance(error.cause, PaginationError)


# -- the properties -----------------------------------------------------------------------------


@PROFILE
@given(s=schedules())
# a page fault on page 1 while the sandbox inserts into an empty tenant (the total grows from 0)
@example(s=Schedule("EMPTY", 10, page_faults=((1, "truncate"),), insert_after_first_page=5))
# an empty tenant growing after its only page: not observable, the walk returns the empty listing
@example(s=Schedule("EMPTY", 10, insert_at_page=1, insert_n=3))
# a silent cap and an insertion together
@example(s=Schedule("T250", 150, workers=4, max_page_size=40, insert_after_first_page=7))
# every page within the plan, but with another total
@example(s=Schedule("T100", 10, workers=1, insert_after_first_page=1))
# retries exhausted mid-walk with 8 workers
@example(s=Schedule("T599", 60, workers=8, max_attempts=2, fail_from_page=4))
@example(s=Schedule("T599", 60, workers=8, max_attempts=1, page_faults=((3, "drop"), (5, "html503"))))
# the listing changes during the walk and during the re-read: incomplete, naming both totals
@example(s=Schedule("T101", 20, workers=2, insert_at_page=2, insert_n=4, insert_times=2))
@example(s=Schedule("T101", 20, workers=2, insert_at_page=2, insert_n=4, insert_times=2, allow_incomplete=True))
# a server ignoring the page number; a 429 on every request
@example(s=Schedule("T250", 50, ignore_page_number=True, allow_incomplete=True))
@example(s=Schedule("T37", 10, rate_limit_every=1, retry_after="0", max_attempts=3))
# a token revoked mid-walk with concurrent workers, and an extra page past the plan failing
@example(s=Schedule("T250", 30, workers=8, revoke_at_page=2, page_faults=((2, "truncate"),), max_attempts=2))
@example(s=Schedule("T100", 10, workers=3, fail_from_page=11, max_attempts=1, insert_after_first_page=2))
# cancelled mid-walk, raising or (allow_incomplete) returning the pages so far
@example(s=Schedule("T250", 25, workers=5, cancel_at_page=3))
@example(s=Schedule("T250", 25, workers=1, cancel_at_page=3, allow_incomplete=True))
def test_a_walk_returns_every_id_once_or_raises_a_documented_error(harness: Harness, s: Schedule) -> None:
    sb = harness.fresh(pristine=s.needs_pristine_sandbox)
    harness.dirty = s.inserts
    out = walk(sb, s)
    check(s, out)


def lazy_walk(sb: Any, s: Schedule) -> tuple[list[str], BaseException | None, Outcome]:
    """Consume ``iter_pages`` under schedule *s* (sequential: workers, cancel and allow_incomplete unused)."""
    apply_faults(sb, s)
    before = tenant_ids(sb, s.tenant)
    snapshots: list[tuple[float, list[str]]] = [(-math.inf, before)]
    client = EngagifiiClient(sb.settings(max_attempts=s.max_attempts), sleep=SleepRecorder(0.005))
    ids: list[str] = []
    error: BaseException | None = None
    try:
        for done, page in enumerate(client.iter_pages(s.tenant, page_size=s.page_size), start=1):
            ids.extend(str(r["id"]) for r in page.rows)
            if s.revoke_at_page == done:
                sb.revoke_tokens()
            if s.insert_at_page == done and s.insert_n:
                sb.insert_events(s.tenant, s.insert_n)
                snapshots.append((time.monotonic(), tenant_ids(sb, s.tenant)))
    except Exception as exc:  # judged by the caller
        error = exc
    finally:
        client.close()
    after = tenant_ids(sb, s.tenant)
    return ids, error, Outcome(None, error, before, after, snapshots, list_records(sb))


@PROFILE
@given(s=schedules())
@example(s=Schedule("T100", 10, insert_after_first_page=5))
@example(s=Schedule("T37", 5, insert_at_page=3, insert_n=2))
@example(s=Schedule("EMPTY", 10, page_faults=((1, "truncate"),), insert_after_first_page=5))
def test_the_lazy_walk_yields_every_id_once_or_raises_a_documented_error(harness: Harness, s: Schedule) -> None:
    s = dataclasses.replace(s, workers=1, cancel_at_page=None, allow_incomplete=False, insert_times=1)
    sb = harness.fresh(pristine=s.needs_pristine_sandbox)
    harness.dirty = s.inserts
    ids, error, out = lazy_walk(sb, s)
    event("lazy outcome: " + ("complete" if error is None else type(error).__name__))
    assert len(ids) == len(set(ids)), "iter_pages yielded an id twice"
    assert set(ids) <= set(out.after)
    if error is None:
        assert ids in acceptable_listings(s, out), (len(ids), [len(x) for x in acceptable_listings(s, out)])
        return
    if not isinstance(error, DOCUMENTED):
        raise AssertionError(f"undocumented error {type(error).__name__}") from error
    changed = out.after != out.before
    assert not (s.recoverable and not changed), f"a recoverable schedule raised {type(error).__name__}: {error}"
    if isinstance(error, IncompleteWalkError):
        assert changed and error.partial is None and "total counts" in str(error)


def test_the_lazy_walk_raises_after_its_last_page_when_the_listing_changed(harness: Harness) -> None:
    """Found by the property above: ``iter_pages`` used to end normally (only a log warning) with
    100 of the 105 events of a listing that grew during the walk; 5 original events were never read."""
    sb = harness.fresh(pristine=True)
    harness.dirty = True
    sb.faults.insert_after_first_page = 5
    client = EngagifiiClient(sb.settings(), sleep=SleepRecorder(0.005))
    pages = []
    with pytest.raises(IncompleteWalkError, match=r"total counts \[100, 105\]") as info:
        for page in client.iter_pages("T100", page_size=10):
            pages.append(page)
    assert [p.number for p in pages] == list(range(1, 11))
    assert info.value.partial is None
    assert len({r["id"] for p in pages for r in p.rows}) == 100 < len(sb.events("T100"))
    client.close()


@dataclasses.dataclass(frozen=True)
class Resume:
    """A walk that fails for good from some page on, then a rerun with the same checkpoint."""

    tenant: str
    page_size: int
    fail_from_page: int | None
    page_faults: tuple[tuple[int, str], ...]
    workers_first: int
    workers_rerun: int
    insert_between: int
    cap_rerun: int = 100  # the server's page-size cap when the walk is resumed


@st.composite
def resumes(draw: st.DrawFn) -> Resume:
    tenant = draw(st.sampled_from([t for t, n in TENANTS.items() if n >= 2]))
    size = TENANTS[tenant]
    page_size = draw(st.integers(max(1, math.ceil(size / MAX_PAGES)), max(1, min(100, size - 1))))
    planned = math.ceil(size / page_size)
    pages = st.integers(2, planned)
    fail_from = draw(st.one_of(st.none(), pages))
    page_faults: tuple[tuple[int, str], ...] = ()
    if fail_from is None:
        faulty = draw(st.dictionaries(pages, st.sampled_from(sandbox.PAGE_FAULTS), min_size=1, max_size=3))
        page_faults = tuple(sorted(faulty.items()))
    return Resume(
        tenant=tenant,
        page_size=page_size,
        fail_from_page=fail_from,
        page_faults=page_faults,
        workers_first=draw(st.integers(1, 8)),
        workers_rerun=draw(st.integers(1, 8)),
        insert_between=draw(st.sampled_from([0, 0, 0, 3])),
        cap_rerun=draw(st.one_of(st.just(100), st.integers(max(1, math.ceil(size / MAX_PAGES)), 100))),
    )


def saved_pages(path: Path) -> set[int]:
    lines = path.read_text(encoding="utf-8").splitlines()[1:]
    return {int(json.loads(line)["page"]) for line in lines if line.strip()}


@RESUME_PROFILE
@given(r=resumes())
@example(r=Resume("T599", 60, fail_from_page=5, page_faults=(), workers_first=8, workers_rerun=2, insert_between=0))
@example(
    r=Resume(
        "T37",
        4,
        fail_from_page=None,
        page_faults=((2, "drop"), (7, "truncate")),
        workers_first=4,
        workers_rerun=1,
        insert_between=0,
    )
)
@example(r=Resume("T101", 20, fail_from_page=3, page_faults=(), workers_first=1, workers_rerun=4, insert_between=3))
# the server's cap changed between the failed walk and the rerun (saved pages no longer line up)
@example(
    r=Resume(
        "T599", 90, fail_from_page=4, page_faults=(), workers_first=2, workers_rerun=3, insert_between=0, cap_rerun=70
    )
)
def test_a_resumed_walk_fetches_only_missing_pages_and_equals_an_uninterrupted_one(
    harness: Harness, tmp_path_factory: pytest.TempPathFactory, r: Resume
) -> None:
    sb = harness.fresh(pristine=True)
    checkpoint = tmp_path_factory.mktemp("cp") / "walk.jsonl"
    first = Schedule(
        r.tenant,
        r.page_size,
        workers=r.workers_first,
        max_attempts=1,
        fail_from_page=r.fail_from_page,
        page_faults=r.page_faults,
    )
    out = walk(sb, first, checkpoint=checkpoint)
    assert isinstance(out.error, IncompleteWalkError), out.error
    check(first, out)
    err = out.error
    assert err.checkpoint == str(checkpoint) and checkpoint.exists()
    kept = saved_pages(checkpoint)
    got = err.partial.attrs["engagifii"]["pages"]
    assert set(range(1, got + 1)) <= kept, "a page the walk got is not in the checkpoint"
    if r.insert_between:
        sb.insert_events(r.tenant, r.insert_between)
        harness.dirty = True
    sb.faults.fail_from_page = None
    sb.faults.page_faults = {}
    sb.reset_log()
    rerun = Schedule(r.tenant, r.page_size, workers=r.workers_rerun, max_page_size=r.cap_rerun)
    again = walk(sb, rerun, checkpoint=checkpoint)
    assert again.error is None, again.error
    assert again.frame is not None
    check(rerun, again)
    requested = sorted(rec["page"] for rec in again.records)
    planned = math.ceil(len(again.after) / r.page_size)
    if r.cap_rerun < r.page_size:
        # the server now pages differently: saved pages may not fit, the reconciliation re-reads
        pass
    elif r.insert_between:  # another total: the saved pages are discarded, the walk starts over
        assert requested == list(range(1, planned + 1))
    else:  # page 1 again (to re-check the total), then only the pages not saved
        assert requested == [1, *sorted(set(range(2, planned + 1)) - kept)]
        assert not set(range(2, got + 1)) & set(requested), "a page fetched before the failure was fetched again"
    assert not checkpoint.exists()
    sb.reset_log()
    reference = walk(sb, rerun)
    assert reference.frame is not None
    pd.testing.assert_frame_equal(again.frame, reference.frame)


def test_profiles_are_registered() -> None:
    assert settings.get_profile("ci").derandomize is True
    assert settings.get_profile("ci").max_examples <= 40
    assert settings.get_profile("long").max_examples >= 10 * settings.get_profile("ci").max_examples
    assert Phase.shrink in settings.get_profile("ci").phases
