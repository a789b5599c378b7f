"""Delete and re-record every cassette: ``python -m tests.record_cassettes`` (``make cassettes``).

Sandbox mode (the default; no credentials, nothing leaves the machine)
    Every scenario in :data:`SCENARIOS` runs through the real :class:`EngagifiiClient` against a
    fresh in-process sandbox (``sandbox.run()``, canary credentials ``sandbox-client`` /
    ``sandbox-secret-CANARY-1234``), recorded with ``make_vcr("all")`` from ``tests/conftest.py``
    into ``cassettes/<scenario name>.yaml``. Scenario names are the names of the replay tests in
    ``tests/test_cassettes.py``, which run the same scenario functions without a server. Recording is
    sequential (``workers=1``) so interactions are written in a deterministic order; with the
    conftest hooks (fixed origin, renumbered trace ids, no Date/Server headers, token placeholder)
    two runs in a row give byte-identical files.

Real-API mode (explicit opt-in): ``ENGAGIFII_RECORD_REAL=1 make cassettes``
    Reads credentials and tenant codes from the environment / ``.env`` (``Settings.from_env()``)
    and records :data:`REAL_SCENARIOS` into ``cassettes/real/``: the first pages of the first
    configured tenant (page size 10, at most 3 pages), one event's detail, and the error answer for
    an unknown tenant code. Same scrubbing as the sandbox cassettes; refuses a loopback (sandbox)
    API URL, and refuses ``--real`` without the opt-in variable. Real cassettes hold the tenant's
    real event data (names, contacts): review them before committing.

After recording, every new cassette is checked here for the secret and for the access tokens
actually issued during the run (known only now); ``make cassettes`` then runs
``tests/test_cassette_secrets.py`` over all cassettes.

Usage::

    python -m tests.record_cassettes [--only NAME]... [--out DIR] [--real]
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from engagifii_data import sandbox
from engagifii_data.client import EngagifiiClient, WalkProgress
from engagifii_data.config import Settings, is_loopback
from engagifii_data.exceptions import ApiError, ConfigurationError, TenantNotFoundError
from tests.helpers import (
    CASSETTES,
    REAL_CASSETTES,
    SleepRecorder,
    capture_requests,
    make_vcr,
    replay_cassette,
    replay_settings_for,
    vcr_thread_safe,
)

#: The opt-in variable for recording against the real API.
REAL_OPT_IN = "ENGAGIFII_RECORD_REAL"
SMALL, LARGE, EMPTY, UNKNOWN = "GLOBEX", "ACME", "INITECH", "NOPE"
#: Server-side search used on the large tenant (a handful of pages at page size 5).
ACME_SEARCH = "Kayla"
#: Page sizes kept small so the cassettes stay small yet the walks have several pages.
SMALL_PAGE_SIZE = 10
SEARCH_PAGE_SIZE = 5
#: Server-side search on the small tenant for the detail walk (6 events: a few details, one 404).
DETAIL_SEARCH = "Symposium"


@dataclass
class Context:
    """What a scenario may use besides the client.

    ``sandbox`` is the running sandbox while recording and ``None`` when a test replays the
    cassette (server-side set-up and fault switches are guarded by it). ``workers`` is 1 when
    recording (deterministic order); replays may use more.
    """

    sandbox: Any | None = None
    workers: int = 1
    tenant: str = SMALL


@dataclass(frozen=True)
class Scenario:
    """One cassette: ``run(client, ctx)`` sends its requests; ``expect`` is an expected exception."""

    name: str
    run: Callable[[EngagifiiClient, Context], Any]
    expect: type[BaseException] | None = None
    doc: str = ""
    tags: tuple[str, ...] = field(default=())


def walk_two_tenants(client: EngagifiiClient, ctx: Context) -> tuple[Any, Any]:
    """GLOBEX (36 events, 4 pages of 10) then an ACME search (pages of 5) in one session."""
    small = client.events(SMALL, page_size=SMALL_PAGE_SIZE, workers=ctx.workers, progress=False)
    searched = client.events(LARGE, search=ACME_SEARCH, page_size=SEARCH_PAGE_SIZE, workers=ctx.workers, progress=False)
    return small, searched


def empty_tenant(client: EngagifiiClient, ctx: Context) -> Any:
    """INITECH has no events: one page, zero rows, the declared columns."""
    return client.events(EMPTY, page_size=SMALL_PAGE_SIZE, workers=ctx.workers, progress=False)


def rate_limited_then_retried(client: EngagifiiClient, ctx: Context) -> Any:
    """Every 3rd API request answers 429 (Retry-After: 1): page 3's first attempt, then its retry."""
    if ctx.sandbox is not None:
        ctx.sandbox.faults.rate_limit_every = 3
        ctx.sandbox.faults.retry_after = "1"
    return client.events(SMALL, page_size=SMALL_PAGE_SIZE, workers=1, progress=False)


def unknown_tenant(client: EngagifiiClient, ctx: Context) -> Any:
    """A tenant code the API does not know: 404 TENANT_NOT_FOUND, not retried."""
    return client.events(UNKNOWN, page_size=SMALL_PAGE_SIZE, workers=ctx.workers, progress=False)


def token_expires_mid_walk(client: EngagifiiClient, ctx: Context) -> Any:
    """The token is revoked after page 2: page 3 gets 401, one renewal, page 3 is re-sent."""

    def revoke_after_page_2(progress: WalkProgress) -> None:
        if progress.pages_done == 2 and ctx.sandbox is not None:
            ctx.sandbox.revoke_tokens()

    return client.events(SMALL, page_size=SMALL_PAGE_SIZE, workers=1, progress=revoke_after_page_2)


def event_detail(client: EngagifiiClient, ctx: Context) -> tuple[Any, dict[str, Any]]:
    """A one-row page of GLOBEX, then ``GET /api/1.0/event/{id}`` for that row."""
    page = client.list_page(1, tenant=SMALL, page_size=1)
    return page, client.event(page.rows[0]["id"], tenant=SMALL)


def details_walk(client: EngagifiiClient, ctx: Context) -> Any:
    """GLOBEX events named ``Symposium`` (6) with their details; one is deleted once listed, so its detail is a 404."""
    if ctx.sandbox is not None:
        ctx.sandbox.faults.delete_after_listing = 1
    return client.events(
        SMALL, search=DETAIL_SEARCH, page_size=SMALL_PAGE_SIZE, workers=ctx.workers, progress=False, details=True
    )


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("test_walk_two_tenants_one_session", walk_two_tenants, doc=walk_two_tenants.__doc__ or ""),
        Scenario("test_empty_tenant", empty_tenant, doc=empty_tenant.__doc__ or ""),
        Scenario("test_rate_limited_then_retried", rate_limited_then_retried),
        Scenario("test_unknown_tenant_error", unknown_tenant, expect=TenantNotFoundError),
        Scenario("test_token_expires_mid_walk", token_expires_mid_walk),
        Scenario("test_event_detail", event_detail),
        Scenario("test_details_walk", details_walk, doc=details_walk.__doc__ or ""),
    )
}


# -- real API (opt-in) --------------------------------------------------------------------------

REAL_PAGE_SIZE = 10
REAL_MAX_PAGES = 3
REAL_UNKNOWN_TENANT = "ENGAGIFII-DATA-NO-SUCH-TENANT"


def real_first_pages(client: EngagifiiClient, ctx: Context) -> list[Any]:
    """The first pages (at most 3, page size 10) of the tenant, lazily via iter_pages."""
    pages = []
    for page in client.iter_pages(ctx.tenant, page_size=REAL_PAGE_SIZE):
        pages.append(page)
        if len(pages) >= REAL_MAX_PAGES:
            break
    return pages


def real_event_detail(client: EngagifiiClient, ctx: Context) -> Any:
    """One row of the tenant's listing, then that event's detail (skipped for an empty tenant)."""
    page = client.list_page(1, tenant=ctx.tenant, page_size=1)
    if not page.rows:
        return page, None
    return page, client.event(page.rows[0]["id"], tenant=ctx.tenant)


def real_unknown_tenant(client: EngagifiiClient, ctx: Context) -> Any:
    """The real API's answer (error envelope, code, traceId — or whatever it is) for an unknown tenant.

    Returns the :class:`ApiError` raised, or the page if the API answered 200.
    """
    try:
        return client.list_page(1, tenant=REAL_UNKNOWN_TENANT, page_size=1)
    except ApiError as exc:
        return exc


REAL_SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("test_real_first_pages", real_first_pages),
        Scenario("test_real_event_detail", real_event_detail),
        Scenario("test_real_unknown_tenant", real_unknown_tenant),
    )
}


# -- recording ----------------------------------------------------------------------------------


class RecordingError(RuntimeError):
    """A scenario did not behave as expected, or a cassette leaked a secret."""


def _no_sleep(seconds: float) -> None:
    """Retry waits are not slept through while recording (the sandbox does not enforce them)."""


def _bearer_tokens(sent: Sequence[Any]) -> set[str]:
    tokens = set()
    for request in sent:
        scheme, _, value = str(request.headers.get("Authorization", "")).partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            tokens.add(value.strip())
    return tokens


def record_one(scenario: Scenario, settings: Settings, out_dir: Path, ctx: Context) -> Path:
    """Record ``scenario`` into ``out_dir/<name>.yaml`` (deleted first); return the path.

    Raises
    ------
    RecordingError
        The scenario raised something other than its expected exception (or did not raise it), or
        the cassette contains the client secret or an access token sent during the recording.
    """
    path = out_dir / f"{scenario.name}.yaml"
    path.unlink(missing_ok=True)
    recorder = make_vcr("all", library=out_dir)
    with (
        capture_requests() as sent,
        vcr_thread_safe(),
        recorder.use_cassette(path.name),
        EngagifiiClient(settings, sleep=_no_sleep) as client,
    ):
        try:
            scenario.run(client, ctx)
        except BaseException as exc:
            if scenario.expect is None or not isinstance(exc, scenario.expect):
                raise RecordingError(f"{scenario.name}: unexpected {type(exc).__name__}: {exc}") from exc
        else:
            if scenario.expect is not None:
                raise RecordingError(f"{scenario.name}: expected {scenario.expect.__name__}, nothing was raised")
    if not path.is_file():
        raise RecordingError(f"{scenario.name}: nothing was recorded")
    text = path.read_text(encoding="utf-8")
    secrets = {settings.client_secret.reveal(), *_bearer_tokens(sent)}
    for secret in secrets:
        if secret and secret in text:
            raise RecordingError(f"{path}: a secret or access token sent during recording is in the cassette")
    return path


def record_sandbox(out_dir: Path = CASSETTES, names: Sequence[str] | None = None) -> list[Path]:
    """Delete every ``*.yaml`` in ``out_dir`` (all of them unless ``names``) and re-record them.

    Each scenario gets a fresh sandbox (default seed and clock), so cassettes do not depend on
    each other or on their order.
    """
    selected = [SCENARIOS[n] for n in names] if names else list(SCENARIOS.values())
    out_dir.mkdir(parents=True, exist_ok=True)
    if not names:
        for stale in out_dir.glob("*.yaml"):
            stale.unlink()
    paths = []
    for scenario in selected:
        with sandbox.run() as sb:
            paths.append(record_one(scenario, sb.settings(), out_dir, Context(sandbox=sb, workers=1)))
    return paths


def real_opt_in(environ: dict[str, str] | None = None) -> bool:
    """True when ``ENGAGIFII_RECORD_REAL=1``; any other non-empty value is an error."""
    value = (os.environ if environ is None else environ).get(REAL_OPT_IN, "").strip()
    if value and value != "1":
        raise ConfigurationError(f"{REAL_OPT_IN} must be 1 to record against the real API (got {value!r})")
    return value == "1"


def record_real(out_dir: Path = REAL_CASSETTES, environ: dict[str, str] | None = None) -> list[Path]:
    """Record :data:`REAL_SCENARIOS` against the API configured in the environment / ``.env``.

    Raises
    ------
    ConfigurationError
        Without ``ENGAGIFII_RECORD_REAL=1``, with missing credentials, or with a loopback API URL.
    """
    if not real_opt_in(environ):
        raise ConfigurationError(f"refusing to record against the real API without the explicit opt-in {REAL_OPT_IN}=1")
    settings = Settings.from_env(environ=environ)
    from urllib.parse import urlsplit

    if is_loopback(urlsplit(settings.api_base_url).hostname or ""):
        raise ConfigurationError(
            f"ENGAGIFII_API_BASE_URL is {settings.api_base_url} (loopback): that is a sandbox, not the real API; "
            f"unset {REAL_OPT_IN} to record the sandbox cassettes"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob("*.yaml"):
        stale.unlink()
    ctx = Context(sandbox=None, workers=1, tenant=settings.tenant_code)
    return [record_one(s, settings, out_dir, ctx) for s in REAL_SCENARIOS.values()]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.record_cassettes", description=__doc__.split("\n")[0])
    parser.add_argument("--only", action="append", choices=sorted(SCENARIOS), help="re-record only this cassette")
    parser.add_argument("--out", type=Path, default=None, help="cassette directory (default cassettes/)")
    parser.add_argument("--real", action="store_true", help=f"record the real API (needs {REAL_OPT_IN}=1)")
    args = parser.parse_args(argv)
    try:
        real = real_opt_in()
        if args.real and not real:
            raise ConfigurationError(f"--real needs the explicit opt-in {REAL_OPT_IN}=1 (and credentials in .env)")
        if real:
            paths = record_real(args.out or REAL_CASSETTES)
        else:
            paths = record_sandbox(args.out or CASSETTES, args.only)
    except (ConfigurationError, RecordingError) as exc:
        print(f"record_cassettes: {exc}", file=sys.stderr)
        return 2
    total = 0
    for path in paths:
        size = path.stat().st_size
        total += size
        print(f"recorded {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path} ({size:,} bytes)")
    print(f"{len(paths)} cassettes, {total:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())


# -- replaying real recordings -----------------------------------------------------------------------


def _real_identity(path: Path) -> tuple[str, str]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    client_id, tenant = "", ""
    for interaction in data["interactions"]:
        req = interaction["request"]
        if req["uri"].endswith("/connect/token") and not client_id:
            client_id = dict(p.split("=", 1) for p in req["body"].split("&")).get("client_id", "")
        codes = req["headers"].get("tenant-code")
        if codes and not tenant:
            tenant = codes[0]
    return client_id, tenant


def replay_real_cassette(path: Path) -> Any:
    """Replay one ``cassettes/real`` recording through its scenario; returns the scenario's result."""
    scenario = REAL_SCENARIOS[path.stem]
    client_id, tenant = _real_identity(path)
    settings = replay_settings_for(client_id=client_id, tenant_codes=(tenant or "T",))
    client = EngagifiiClient(settings, sleep=SleepRecorder())
    with replay_cassette(path), client:
        result = scenario.run(client, Context(sandbox=None, workers=1, tenant=tenant))
    assert client.stats.token_requests == 1
    return result
