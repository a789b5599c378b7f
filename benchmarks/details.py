"""Detail-walk benchmark: ``GET /api/1.0/event/{id}`` for 2,400 events, ours vs the floor, and a rate limit.

Run with ``make bench`` (after the page-walk table) or ``.venv/bin/python benchmarks/details.py``; needs
only the base install. About two minutes on 2 cores.

Setup
-----
* The sandbox serves a 2,400-event tenant in a **separate process** (as a real API is remote), with
  ``latency`` seconds slept per request (default 0.05). A warm-up with no latency lists the ids and
  fetches every detail once (imports, connections, the sandbox's caches).
* (e) the floor: the least a Python client can do -- ``workers`` threads of plain ``requests`` ``get``
  calls on one session, each body decoded with orjson; no checks, no retries, no DataFrame.
* (f) ``client.event_details(tenant, ids=ids, workers=W, progress=False)``: the typed frame included,
  on a fresh client (its token request timed apart).
* (g) ``client.events(tenant, details=True, workers=W)``: the listing walk, then the details (for
  information: its ideal adds the listing's pages).
* (h) (f) on a client with ``max_requests_per_minute`` set below what W workers reach: the rate is
  measured from the sandbox's own request times (the mean over the run, and the most requests in any
  ten-second window, as a rate per minute).
* ideal = ``latency x ceil(N / workers)``, the latency-bound time of N detail requests ``workers`` at a
  time; ``wall s`` runs from the access token in hand to the last row.
* Requests are counted by the sandbox (each detail once: as many distinct paths as requests).
"""

from __future__ import annotations

import argparse
import functools
import gc
import math
import multiprocessing as mp
import sys
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from walk import machine, table  # the page-walk benchmark's report helpers

TENANT = "BENCH"
DETAIL_PATH = "/api/1.0/event/"


def _serve(conn: Connection, events: int) -> None:
    """Child process: run the sandbox and answer commands from the benchmark over ``conn``."""
    from engagifii_data import sandbox

    with sandbox.run(tenants={TENANT: events}) as sb:
        conn.send({"api_url": sb.api_url, "identity_url": sb.identity_url, "secret": sb.client_secret})
        while True:
            command, argument = conn.recv()
            if command == "stop":
                break
            if command == "latency":
                sb.faults.latency = float(argument)
                conn.send(None)
            elif command == "reset":
                sb.reset_log()
                conn.send(None)
            elif command == "log":
                conn.send(
                    [(r["method"], r["path"], r["status"], r["time"]) for r in list(sb.log) if r["kind"] == "api"]
                    + [("TOKEN", "", 0, 0.0)] * sb.token_requests
                )


class Server:
    """The sandbox process and its command pipe."""

    def __init__(self, events: int) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(child, events), daemon=True)
        self.process.start()
        self.info: dict[str, str] = self.conn.recv()

    def call(self, command: str, argument: Any = None) -> Any:
        self.conn.send((command, argument))
        return self.conn.recv()

    def settings(self, **overrides: Any) -> Any:
        from engagifii_data import Settings, sandbox

        return Settings(
            client_id=sandbox.CLIENT_ID,
            client_secret=self.info["secret"],
            tenant_codes=(TENANT,),
            identity_url=self.info["identity_url"],
            api_base_url=self.info["api_url"],
            **overrides,
        )

    def close(self) -> None:
        self.conn.send(("stop", None))
        self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.terminate()


@dataclass
class Run:
    label: str
    seconds: float
    cpu: float
    token_seconds: float
    rows: int
    details: int
    distinct: int
    lists: int
    tokens: int
    ideal: float
    per_minute: tuple[float, float] = (0.0, 0.0)  # mean, most in any 10 s window (x 6)
    checks: list[tuple[str, bool]] = field(default_factory=list)


def measure(server: Server, label: str, ideal: float, prepare: Any, action: Any) -> Run:
    """Time ``action(prepare())``; ``prepare`` (the token request) is timed apart, as the ideal leaves it out."""
    server.call("reset")
    gc.collect()
    started = time.perf_counter()
    context = prepare()
    token_seconds = time.perf_counter() - started
    started, cpu = time.perf_counter(), time.process_time()
    rows = action(context)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    log = server.call("log")
    gets = [(path, t) for method, path, _status, t in log if method == "GET" and path.startswith(DETAIL_PATH)]
    lists = sum(1 for method, *_ in log if method == "POST")
    tokens = sum(1 for method, *_ in log if method == "TOKEN")
    run = Run(label, seconds, cpu, token_seconds, rows, len(gets), len({p for p, _ in gets}), lists, tokens, ideal)
    times = sorted(t for _, t in gets)
    if len(times) > 1:
        mean = (len(times) - 1) / (times[-1] - times[0]) * 60
        window, most, lo = 10.0, 0, 0
        for hi, t in enumerate(times):
            while t - times[lo] >= window:
                lo += 1
            most = max(most, hi - lo + 1)
        # a run shorter than the window has no full window: its mean is its only rate
        run.per_minute = (mean, most * 60 / window if times[-1] - times[0] >= window else mean)
    return run


def vendor_token(server: Server) -> str:
    import requests

    from engagifii_data import sandbox

    answer = requests.post(
        f"{server.info['identity_url']}/connect/token",
        data={
            "grant_type": "client_credentials",
            "client_id": sandbox.CLIENT_ID,
            "client_secret": server.info["secret"],
            "scope": "EventsApi",
        },
        timeout=30,
    )
    token: str = answer.json()["access_token"]
    return token


def floor_details(server: Server, token: str, ids: list[str], workers: int) -> int:
    """The least a Python client can do: ``workers`` threads of ``session.get``, bodies decoded, nothing else."""
    from concurrent.futures import ThreadPoolExecutor

    import orjson
    import requests
    from requests.adapters import HTTPAdapter

    session = requests.Session()
    session.trust_env = False
    session.mount("http://", HTTPAdapter(pool_maxsize=workers))
    headers = {"Authorization": f"Bearer {token}", "tenant-code": TENANT, "api-version": "1.0"}
    base = server.info["api_url"] + DETAIL_PATH

    def get(event_id: str) -> Any:
        return orjson.loads(session.get(base + event_id, headers=headers, timeout=30).content)

    with ThreadPoolExecutor(workers) as pool:
        rows = sum(1 for _ in pool.map(get, ids))
    session.close()
    return rows


def authenticated_client(server: Server, **overrides: Any) -> Any:
    from engagifii_data import EngagifiiClient

    client = EngagifiiClient(server.settings(**overrides))
    client.authenticate()
    return client


def ours(ids: list[str] | None, workers: int) -> Any:
    def action(client: Any) -> int:
        with client:
            if ids is None:
                df = client.events(TENANT, details=True, workers=workers, progress=False)
            else:
                df = client.event_details(TENANT, ids=ids, workers=workers, progress=False)
            assert df.attrs["engagifii"]["complete"]
            return len(df)

    return action


def listing_ids(server: Server) -> list[str]:
    with authenticated_client(server) as client:
        return [str(i) for i in client.events(TENANT, progress=False)["id"]]


def scenarios(server: Server, ids: list[str], args: argparse.Namespace) -> list[tuple[str, float, Any, Any]]:
    """(label, ideal seconds, prepare, action) of (e)..(h)."""
    n, latency, workers = len(ids), args.latency, args.workers
    ideal = latency * math.ceil(n / workers)
    listing_ideal = latency * (1 + math.ceil((math.ceil(n / 100) - 1) / workers))
    token = functools.partial(vendor_token, server)
    fresh = functools.partial(authenticated_client, server)
    limited = functools.partial(authenticated_client, server, max_requests_per_minute=args.per_minute)
    return [
        (f"(e) floor: requests.get + orjson, {workers} threads", ideal, token,
         functools.partial(floor_details, server, ids=ids, workers=workers)),
        (f"(f) ours: event_details(ids), workers={workers}", ideal, fresh, ours(ids, workers)),
        (f"(g) ours: events(details=True), workers={workers}", ideal + listing_ideal, fresh, ours(None, workers)),
        (f"(h) (f) with max_requests_per_minute={args.per_minute:,}", max(ideal, n * 60 / args.per_minute),
         limited, ours(ids, workers)),
    ]  # fmt: skip


def report(runs: list[Run], args: argparse.Namespace) -> bool:
    """Print the table; True when every check passes."""
    floor = runs[0]
    out, all_pass = [], True
    for run in runs:
        checks = [("rows", run.rows == args.events), ("each detail once", run.details == run.distinct == args.events)]
        checks.append(("1 token", run.tokens == 1))
        if run.label.startswith("(f)"):
            checks.append((f"<={args.target}x floor", run.seconds <= args.target * floor.seconds))
        if run.label.startswith("(h)"):
            checks.append(("under the limit", run.per_minute[1] <= args.per_minute * 1.01))
        failed = [name for name, ok in checks if not ok]
        all_pass &= not failed
        out.append(
            [
                run.label,
                f"{run.details:,}",
                f"{run.lists}",
                f"{run.token_seconds:.2f}",
                f"{run.seconds:.2f}",
                f"{run.ideal:.2f}",
                f"{run.seconds / run.ideal:.2f}x",
                f"{run.seconds / floor.seconds:.2f}x",
                f"{run.cpu:.2f}",
                f"{run.per_minute[0]:,.0f} / {run.per_minute[1]:,.0f}",
                f"{run.rows:,}",
                "PASS" if not failed else "FAIL: " + ", ".join(failed),
            ]
        )
    header = ["scenario", "detail requests", "list requests", "token s", "wall s", "ideal s", "/ideal", "/floor"]
    header += ["client CPU s", "req/min mean / max 10 s", "rows", "checks"]
    print(table(out, header))
    print()
    print(f"machine: {machine()}")
    print(
        "ideal = latency x ceil(N / workers) ((g) adds the listing: latency x (1 + ceil((P-1)/workers)); (h): at"
        " least N / the limit). wall s: from the access token in hand to the last row. Sandbox in a separate"
        " process; request counts and times from its log. (h)'s limit check allows 1% for arrival jitter."
    )
    print(f"targets: {'all PASS' if all_pass else 'some FAIL'}")
    return all_pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=2400, help="events in the tenant (default 2,400)")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request (default 0.05)")
    parser.add_argument("--workers", type=int, default=8, help="concurrent detail requests (default 8)")
    parser.add_argument("--per-minute", type=int, default=4800, help="max_requests_per_minute for (h)")
    parser.add_argument("--target", type=float, default=1.15, help="(f) / (e) at most this (default 1.15)")
    parser.add_argument("--only", choices=("e", "f", "g", "h"), action="append", help="run only these (with e)")
    args = parser.parse_args(argv)
    print(f"# detail-walk benchmark: {args.events:,} events, {args.latency * 1000:g} ms per request", file=sys.stderr)
    server = Server(args.events)
    runs: list[Run] = []
    try:
        ids = listing_ids(server)
        ours(ids, args.workers)(authenticated_client(server))  # warm-up
        floor_details(server, vendor_token(server), ids, args.workers)
        server.call("latency", args.latency)
        for label, best, prepare, action in scenarios(server, ids, args):
            if args.only and label[1] != "e" and label[1] not in args.only:
                continue
            print(f"# {label} ...", file=sys.stderr)
            runs.append(measure(server, label, best, prepare, action))
    finally:
        server.close()
    report(runs, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
