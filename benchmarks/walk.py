"""Page-walk benchmark: the vendor sample's loop vs our concurrent walk, and frame-building memory.

Run with ``make bench`` (or ``.venv/bin/python benchmarks/walk.py``); needs only the base install.
Prints one table from one run. Total runtime: about 2-3 minutes on 2 cores, most of it scenario (a),
which is a thousand sequential round trips by design.

Setup
-----
* The sandbox serves a 10,000-event tenant with ``latency`` seconds slept per request (default 0.05).
  It runs in a **separate process** (as a real API would be remote), so its request handling does not
  compete with the client for the GIL; a warm-up walk with no latency fills its caches first.
* (a) the vendor sample's approach: a plain loop of ``requests.post`` calls with the vendor's body
  ``{"PageNumber": n, "PageSize": 10, "OnlyUpcoming": false}`` and one token, stopping when the rows
  collected reach ``totalCount``; no DataFrame is built.
* (b) the same plain loop at PageSize 100.
* (c) ``EngagifiiClient.events(tenant, page_size=100, workers=W, progress=False)`` for W = 1, 2, 4, 8,
  each on a fresh client (so each run needs its own token), typed DataFrame included.
* (d) the floor: the least a Python client can do against this sandbox -- page 1, then pages 2..P on 4
  threads of one ``requests`` session, bodies decoded with orjson, no checks, no retries, no
  DataFrame. It shows what the sandbox and HTTP alone cost on the machine.
* ideal = ``latency x (1 + ceil((P - 1) / workers))``: the latency-bound time of page 1, then the
  other pages ``workers`` at a time. It has no token request, so ``wall s`` runs from the access token
  in hand (``client.authenticate()`` / the vendor's token POST, timed apart as ``token s``) to the last
  row; every run still makes exactly one token request, counted by the sandbox.
* Requests are counted by the sandbox (list requests, token requests), cross-checked with
  ``client.stats``.
* Frame building: 100,000 events (the sandbox's 10,000 list rows, replicated with fresh ids), decoded
  from JSON page by page (100 rows) as the transport does and fed to ``FrameBuilder``. Reported: rows per
  second of ``FrameBuilder.add``/``build`` alone (page by page, and in the 1,000-row batches the client
  uses; JSON decoding is timed apart), and peak traced memory
  (``tracemalloc``) above the baseline against the final frame's ``memory_usage(deep=True)``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import gc
import json
import math
import multiprocessing as mp
import os
import platform
import resource
import sys
import time
import tracemalloc
import uuid
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

TENANT = "BENCH"
LIST_PATH = "/api/1.0/event/list"


# --------------------------------------------------------------------------------------------------
# The sandbox, in its own process
# --------------------------------------------------------------------------------------------------


def _serve(conn: Connection, events: int) -> None:
    """Child process: run the sandbox and answer commands from the benchmark over ``conn``."""
    from engagifii_data import sandbox

    with sandbox.run(tenants={TENANT: events}) as sb:
        conn.send(
            {
                "api_url": sb.api_url,
                "identity_url": sb.identity_url,
                "client_id": sb.client_id,
                "client_secret": sb.client_secret,
            }
        )
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
            elif command == "counts":
                pages = [r["page"] for r in list(sb.log) if r["kind"] == "api"]
                conn.send({"token": sb.token_requests, "api": sb.api_requests, "distinct_pages": len(set(pages))})


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

    def settings(self) -> Any:
        from engagifii_data import Settings

        return Settings(
            client_id=self.info["client_id"],
            client_secret=self.info["client_secret"],
            tenant_codes=(TENANT,),
            identity_url=self.info["identity_url"],
            api_base_url=self.info["api_url"],
        )

    def close(self) -> None:
        self.conn.send(("stop", None))
        self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.terminate()


# --------------------------------------------------------------------------------------------------
# Scenarios
# --------------------------------------------------------------------------------------------------


@dataclass
class Run:
    label: str
    workers: int
    pages: int
    seconds: float
    requests: int
    token_requests: int
    rows: int
    cpu: float
    token_seconds: float
    checks: list[tuple[str, bool]] = field(default_factory=list)


def vendor_token(server: Server) -> str:
    """The vendor sample's token request (client credentials)."""
    import requests

    info = server.info
    token: str = requests.post(
        f"{info['identity_url']}/connect/token",
        data={
            "grant_type": "client_credentials",
            "client_id": info["client_id"],
            "client_secret": info["client_secret"],
            "scope": "EventsApi",
        },
        timeout=30,
    ).json()["access_token"]
    return token


def vendor_loop(server: Server, token: str, page_size: int) -> tuple[int, int, None]:
    """The vendor sample: POST page after page until collected == totalCount."""
    import requests

    info = server.info
    headers = {"Authorization": f"Bearer {token}", "tenant-code": TENANT, "api-version": "1.0"}
    collected: list[dict[str, Any]] = []
    number, total = 0, None
    while total is None or len(collected) < total:
        number += 1
        body = {"PageNumber": number, "PageSize": page_size, "OnlyUpcoming": False}
        response = requests.post(f"{info['api_url']}{LIST_PATH}", json=body, headers=headers, timeout=30)
        response.raise_for_status()
        data = response.json()
        rows = data.get("data", data.get("collection")) or []
        paging = data.get("pagingModel") or {}
        total = data.get("totalCount", paging.get("totalRecords"))
        collected.extend(rows)
        if not rows:
            break
    return number, len(collected), None


def floor_walk(server: Server, token: str, workers: int, page_size: int = 100) -> tuple[int, int, None]:
    """The least a Python client can do: page 1, then pages 2..P on ``workers`` threads of one requests
    session, each body decoded with orjson; no checks, no retries, no DataFrame."""
    from concurrent.futures import ThreadPoolExecutor

    import orjson
    import requests
    from requests.adapters import HTTPAdapter

    info = server.info
    session = requests.Session()
    session.trust_env = False
    session.mount("http://", HTTPAdapter(pool_maxsize=workers))
    headers = {
        "Authorization": f"Bearer {token}",
        "tenant-code": TENANT,
        "api-version": "1.0",
        "Content-Type": "application/json",
    }

    def page(number: int) -> Any:
        body = json.dumps({"PageNumber": number, "PageSize": page_size}).encode()
        response = session.post(f"{info['api_url']}{LIST_PATH}", data=body, headers=headers, timeout=30)
        response.raise_for_status()
        return orjson.loads(response.content)

    first = page(1)
    total = first.get("totalCount", (first.get("pagingModel") or {}).get("totalRecords", 0))
    pages = max(1, math.ceil(total / page_size))
    rows = len(first.get("data", first.get("collection")) or [])
    with ThreadPoolExecutor(workers) as pool:
        for data in pool.map(page, range(2, pages + 1)):
            rows += len(data.get("data", data.get("collection")) or [])
    session.close()
    return pages, rows, None


def measure(server: Server, label: str, workers: int, prepare: Any, action: Any) -> Run:
    """Time ``action(prepare())``: the token request (``prepare``) is timed apart, as the ideal leaves it out."""
    server.call("reset")
    gc.collect()
    started = time.perf_counter()
    context = prepare()
    token_seconds = time.perf_counter() - started
    started, cpu = time.perf_counter(), time.process_time()
    pages, rows, client_stats = action(context)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    counts = server.call("counts")
    run = Run(label, workers, pages, seconds, counts["api"], counts["token"], rows, cpu, token_seconds)
    if client_stats is not None:
        run.checks.append(
            (
                "client stats agree",
                client_stats["http_requests"] == counts["api"] and client_stats["token_requests"] == counts["token"],
            )
        )
    run.checks.append(("each page once", counts["distinct_pages"] == counts["api"] == pages))
    return run


def authenticated_client(server: Server) -> Any:
    """A fresh client with its access token (one token request)."""
    from engagifii_data import EngagifiiClient

    client = EngagifiiClient(server.settings())
    client.authenticate()
    return client


def ours(workers: int, page_size: int = 100) -> Any:
    def action(client: Any) -> tuple[int, int, dict[str, int]]:
        with client:
            df = client.events(TENANT, page_size=page_size, workers=workers, progress=False)
            return int(df.attrs["engagifii"]["pages"]), len(df), client.stats.snapshot()

    return action


def ideal(latency: float, pages: int, workers: int) -> float:
    return latency * (1 + math.ceil((pages - 1) / workers))


# --------------------------------------------------------------------------------------------------
# Frame building: speed and memory for 100,000 events
# --------------------------------------------------------------------------------------------------


def template_pages(events: int, page_size: int) -> list[bytes]:
    """The sandbox's list rows, encoded as JSON pages (what the transport receives)."""
    from engagifii_data import sandbox

    rows = sandbox.generate(tenants={TENANT: events})[TENANT]
    rows = [{k: v for k, v in row.items() if k != "contacts"} for row in rows]  # list-row shape
    return [json.dumps(rows[i : i + page_size], ensure_ascii=False).encode() for i in range(0, len(rows), page_size)]


def page_stream(templates: list[bytes], total: int) -> Any:
    """Decoded pages of fresh records (fresh ids) until ``total`` rows, one page at a time."""
    made = 0
    copy = 0
    while made < total:
        for raw in templates:
            rows = json.loads(raw)
            for i, row in enumerate(rows):
                row["id"] = str(uuid.UUID(int=copy << 64 | (made + i)))
            made += len(rows)
            yield rows
            if made >= total:
                return
        copy += 1


def build_frame(templates: list[bytes], total: int, batch_rows: int) -> tuple[Any, float]:
    """The frame of ``total`` fresh rows, and the seconds spent in FrameBuilder (not in JSON decoding)."""
    from engagifii_data.frames import FrameBuilder

    clock = time.perf_counter
    builder = FrameBuilder(copy_lists=False)  # as the walk: it owns the decoded pages
    pending: list[dict[str, Any]] = []
    spent = 0.0
    for rows in page_stream(templates, total):
        pending.extend(rows)
        if len(pending) >= batch_rows:
            started = clock()
            builder.add(pending)
            spent += clock() - started
            pending = []
    started = clock()
    if pending:
        builder.add(pending)
    df = builder.build()
    return df, spent + clock() - started


@dataclass
class FrameResult:
    rows: int
    seconds_by_batch: dict[int, float]
    peak_bytes: int
    frame_bytes: int
    decode_seconds: float
    footprint_bytes: int


def frame_benchmark(events: int, total: int) -> FrameResult:
    templates = template_pages(events, 100)
    timings: dict[int, float] = {}
    decode = 0.0
    for batch in (100, 1000):
        gc.collect()
        started = time.perf_counter()
        df, timings[batch] = build_frame(templates, total, batch)
        decode = time.perf_counter() - started - timings[batch]  # JSON decoding + fresh ids
        del df
    gc.collect()
    tracemalloc.start()
    baseline, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    df, _ = build_frame(templates, total, 100)
    held, peak = tracemalloc.get_traced_memory()  # the builder is gone: what the frame holds
    tracemalloc.stop()
    frame_bytes = int(df.memory_usage(deep=True).sum())
    arrays = [df.iloc[:, i].array for i in range(df.shape[1])]
    arrow_bytes = sum(int(a._pa_array.nbytes) for a in arrays if hasattr(a, "_pa_array"))
    return FrameResult(len(df), timings, peak - baseline, frame_bytes, decode, held - baseline + arrow_bytes)


# --------------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------------


def machine() -> str:
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}, {dt.date.today().isoformat()}"
    )


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=10_000, help="events in the tenant (default 10,000)")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request (default 0.05)")
    parser.add_argument("--frame-events", type=int, default=100_000, help="rows for the frame benchmark")
    parser.add_argument("--skip-vendor", action="store_true", help="skip scenario (a) (quick runs only)")
    args = parser.parse_args(argv)
    latency = args.latency

    print(f"# page-walk benchmark: {args.events:,} events, {latency * 1000:g} ms per request", file=sys.stderr)
    server = Server(args.events)
    runs: list[Run] = []
    try:
        # warm-up: imports, the sandbox's per-row JSON cache, connection setup
        ours(8)(authenticated_client(server))
        floor_walk(server, vendor_token(server), 4)
        server.call("latency", latency)
        token = functools.partial(vendor_token, server)
        if not args.skip_vendor:
            print("# (a) vendor loop, PageSize 10 ...", file=sys.stderr)
            runs.append(
                measure(
                    server,
                    "(a) vendor loop, PageSize 10",
                    1,
                    token,
                    functools.partial(vendor_loop, server, page_size=10),
                )
            )
        print("# (b) vendor loop, PageSize 100 ...", file=sys.stderr)
        runs.append(
            measure(
                server, "(b) vendor loop, PageSize 100", 1, token, functools.partial(vendor_loop, server, page_size=100)
            )
        )
        for workers in (1, 2, 4, 8):
            print(f"# (c) ours, {workers} worker(s) ...", file=sys.stderr)
            runs.append(
                measure(
                    server,
                    f"(c) ours, workers={workers}",
                    workers,
                    functools.partial(authenticated_client, server),
                    ours(workers),
                )
            )
        print("# (d) floor, 4 threads ...", file=sys.stderr)
        runs.append(
            measure(
                server,
                "(d) floor: requests + orjson, 4 threads",
                4,
                token,
                functools.partial(floor_walk, server, workers=4),
            )
        )
    finally:
        server.close()
    print("# frame building ...", file=sys.stderr)
    frames = frame_benchmark(args.events, args.frame_events)

    vendor = runs[0] if not args.skip_vendor else None
    out: list[list[str]] = []
    all_pass = True
    for run in runs:
        best = ideal(latency, run.pages, run.workers)
        checks = list(run.checks)
        checks.append(("rows", run.rows == args.events))
        checks.append(("1 token", run.token_requests == 1))
        if run.label.startswith("(c)") and run.workers == 4:
            checks.append(("<=1.3x ideal", run.seconds <= 1.3 * best))
            if vendor is not None:
                checks.append((">=20x (a)", vendor.seconds / run.seconds >= 20))
        failed = [name for name, ok in checks if not ok]
        all_pass &= not failed
        out.append(
            [
                run.label,
                f"{run.pages:,}",
                f"{run.token_seconds:.2f}",
                f"{run.seconds:.2f}",
                f"{best:.2f}",
                f"{run.seconds / best:.2f}x",
                f"{vendor.seconds / run.seconds:.1f}x" if vendor is not None else "-",
                f"{run.cpu:.2f}",
                f"{run.requests:,}",
                str(run.token_requests),
                f"{run.rows:,}",
                "PASS" if not failed else "FAIL: " + ", ".join(failed),
            ]
        )
    print(
        table(
            out,
            [
                "scenario",
                "pages",
                "token s",
                "wall s",
                "ideal s",
                "/ideal",
                "vs (a)",
                "client CPU s",
                "list requests",
                "token requests",
                "rows",
                "checks",
            ],
        )
    )
    print()
    ratio = frames.peak_bytes / frames.frame_bytes
    memory_ok = ratio <= 3
    all_pass &= memory_ok
    per_page = {b: s / (frames.rows / 100) * 1000 for b, s in frames.seconds_by_batch.items()}
    frame_rows = [
        [
            "rows per second, page by page (100 rows)",
            f"{frames.rows / frames.seconds_by_batch[100]:,.0f}",
            f"{per_page[100]:.1f} ms per page",
        ],
        [
            "rows per second, batches of 1,000 rows (as the walk does)",
            f"{frames.rows / frames.seconds_by_batch[1000]:,.0f}",
            f"{per_page[1000]:.1f} ms per 100 rows",
        ],
        [
            "JSON decoding + fresh ids (the transport's share, not above), rows per second",
            f"{frames.rows / frames.decode_seconds:,.0f}",
            "",
        ],
        ["final DataFrame memory_usage(deep=True)", f"{frames.frame_bytes / 2**20:,.1f} MiB", ""],
        [
            "peak traced memory above baseline while building",
            f"{frames.peak_bytes / 2**20:,.1f} MiB",
            f"{ratio:.2f}x the frame: {'PASS' if memory_ok else 'FAIL'} (target <= 3x)",
        ],
        [
            "the frame's real footprint: traced objects it holds + Arrow string buffers",
            f"{frames.footprint_bytes / 2**20:,.1f} MiB",
            f"traced peak = {frames.peak_bytes / frames.footprint_bytes:.2f}x it"
            " (memory_usage counts list cells shallowly)",
        ],
        [
            "process max RSS (whole benchmark)",
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB",
            "",
        ],
    ]
    print(table(frame_rows, [f"frame building, {frames.rows:,} events", "value", "note"]))
    print()
    print(f"machine: {machine()}")
    print(
        "(a), (b): plain requests.post loop with the vendor's body, no DataFrame; (c): EngagifiiClient.events,"
        " typed DataFrame included; (d): the least a Python client can do (4 threads, requests + orjson, no"
        " checks, no DataFrame). Sandbox in a separate process. ideal = latency x (1 + ceil((P-1)/workers))."
    )
    print(
        "wall s: from access token in hand to the last row (the ideal has no token request); token s: the token"
        " request before it, one per run."
    )
    print(
        "client CPU s: CPU time of the benchmark process (all threads) during the run; the GIL serialises it,"
        " so a run cannot be faster than it."
    )
    print(f"targets: {'all PASS' if all_pass else 'some FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
