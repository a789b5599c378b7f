"""The ``engagifii-data`` command: ``events``, ``check`` and ``sandbox``.

Exit codes (DESIGN.md): 0 done; 2 usage or configuration error; 3 authentication failed; 4 API or
network error after retries; 5 the walk could not be completed or verified (no report is written).
Errors are one or two plain lines on stderr — what failed, the API's code and traceId, what to do —
and a traceback only with ``--debug``.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import io
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from .config import Settings
from .exceptions import (
    ApiError,
    AuthenticationError,
    ConfigurationError,
    EngagifiiError,
    IncompleteWalkError,
    PaginationError,
    RateLimitError,
    TenantNotFoundError,
    TransportError,
)

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_API = 4
EXIT_WALK = 5

#: exception class -> exit code, most specific first.
EXIT_CODES: tuple[tuple[type[BaseException], int], ...] = (
    (ConfigurationError, EXIT_USAGE),
    (AuthenticationError, EXIT_AUTH),
    (PaginationError, EXIT_WALK),
    (ApiError, EXIT_API),
    (TransportError, EXIT_API),
    (ValueError, EXIT_USAGE),
)


def exit_code_for(exc: BaseException) -> int:
    """The documented exit code for an exception (4 for anything unexpected from the network)."""
    for cls, code in EXIT_CODES:
        if isinstance(exc, cls):
            return code
    return 1


def describe_error(exc: BaseException) -> list[str]:
    """One or two plain lines: what failed (with the API's code and traceId) and what to do."""
    if isinstance(exc, IncompleteWalkError):
        first = f"error: the walk was not completed: {exc.reason}"
        cause = exc.cause
        partial = exc.partial
        got = f"{len(partial):,} rows fetched" if partial is not None else "some rows fetched"
        if isinstance(cause, PaginationError):
            advice = "the server's paging cannot be followed safely, so a rerun will not help; report it to Engagifii"
        elif cause is None and exc.reason != "cancelled":
            advice = "the listing kept changing while it was read; rerun later"
        else:
            advice = "rerun the same command to resume from the saved pages"
            if not exc.checkpoint:
                advice = "rerun with --checkpoint FILE to keep fetched pages and resume from them"
            if isinstance(cause, RateLimitError) and cause.retry_after is not None:
                advice = f"the server asked to wait {cause.retry_after:g} s; {advice} after that"
        return [first, f"no report was written ({got}); {advice}"]
    if isinstance(exc, AuthenticationError):
        hint = {
            "invalid_client": "check ENGAGIFII_CLIENT_ID and ENGAGIFII_CLIENT_SECRET (in the environment or .env)",
            "invalid_scope": "check ENGAGIFII_SCOPE (the API needs EventsApi)",
            "unauthorized_client": "ask Engagifii to allow the client_credentials grant for this client",
        }.get(exc.error, "check the client credentials and the identity server URL")
        return [f"error: authentication failed: {exc}", hint]
    if isinstance(exc, TenantNotFoundError):
        return [f"error: unknown tenant: {_api_bits(exc)}: {exc.message or ''}".rstrip(": "),
                "check the tenant code (ENGAGIFII_TENANT_CODE or --tenant)"]
    if isinstance(exc, RateLimitError):
        wait = f"; the server asked to wait {exc.retry_after:.0f} s" if exc.retry_after is not None else ""
        return [f"error: rate limited: {_api_bits(exc)}{wait}", "try again later, or lower --workers"]
    if isinstance(exc, ApiError):
        return [f"error: the API refused the request: {_api_bits(exc)}: {exc.message or ''}".rstrip(": "),
                "if it persists, quote the traceId to Engagifii support"]
    if isinstance(exc, TransportError):
        variable = "ENGAGIFII_IDENTITY_SERVER_URL" if exc.path == "/connect/token" else "ENGAGIFII_API_BASE_URL"
        return [f"error: network: {exc}", f"check the network and {variable}; retries were exhausted"]
    if isinstance(exc, PaginationError):
        return [f"error: the walk stopped: {exc}", "no report was written; the listing could not be read safely"]
    if isinstance(exc, ConfigurationError):
        return [f"error: {exc}"]
    return [f"error: {exc}"]


def _api_bits(exc: ApiError) -> str:
    bits = [f"HTTP {exc.status}"]
    if exc.code:
        bits.append(exc.code)
    if exc.path:
        bits.append(exc.path)
    if exc.trace_id:
        bits.append(f"traceId {exc.trace_id}")
    return " ".join(bits)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0..65535, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (documented in the README)."""
    parser = argparse.ArgumentParser(
        prog="engagifii-data",
        description="Export Engagifii events to CSV/Parquet, check access, or serve the local sandbox.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks and DEBUG request logs")
    parser.add_argument("-v", "--verbose", action="store_true", help="INFO logs (token and walk audit lines)")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--sandbox", action="store_true", help="run against the built-in local sandbox")
        p.add_argument("--env-file", metavar="PATH", help="read settings from this .env file")
        p.add_argument("--tenant", action="append", metavar="CODE", help="tenant code (repeatable)")
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    ev = sub.add_parser("events", help="walk every page of the event listing and write a report")
    common(ev)
    ev.add_argument("--upcoming", action="store_true", help="only events that have not ended (server-side)")
    ev.add_argument("--search", metavar="TEXT", help="name contains TEXT (server-side)")
    ev.add_argument("--from", dest="start", metavar="DATE", help="startDateTime >= DATE (YYYY-MM-DD, UTC)")
    ev.add_argument("--to", dest="end", metavar="DATE", help="startDateTime on or before DATE (YYYY-MM-DD, UTC)")
    ev.add_argument("--status", action="append", metavar="NAME",
                    help="Draft, Published, Cancelled or Completed (repeatable)")
    ev.add_argument("--page-size", type=int, default=100, metavar="N", help="rows per page (default 100)")
    ev.add_argument("--workers", type=int, default=4, metavar="N", help="concurrent page requests (default 4)")
    ev.add_argument("-o", "--output", metavar="PATH", help="report path (default reports/events-<tenant>-<time>.<fmt>)")
    ev.add_argument("--format", choices=("csv", "parquet"), help="report format (default from the extension, else csv)")
    ev.add_argument("--checkpoint", metavar="PATH", help="save pages as they arrive; rerun to resume")
    ev.add_argument("--no-formula-escape", action="store_true",
                    help="write text cells starting with = + - @, TAB or CR as they are (unsafe in Excel)")
    ev.add_argument("--no-progress", action="store_true", help="no progress bar")

    ck = sub.add_parser("check", help="health check: a token, then a one-row list per tenant")
    common(ck)

    sb = sub.add_parser("sandbox", help="serve the local sandbox until Ctrl-C")
    sb.add_argument("--port", type=_port, default=8765, help="port on 127.0.0.1 (default 8765; 0 = any free port)")
    sb.add_argument("--latency", type=float, default=0.0, metavar="SECONDS", help="delay per request")
    sb.add_argument("--envelope", choices=("wire", "docs"), default="wire", help="list response shape")
    sb.add_argument("--token-lifetime", type=int, default=3600, metavar="SECONDS",
                    help="expires_in of the access tokens it issues (default 3600)")
    sb.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser


def _configure_logging(args: argparse.Namespace) -> None:
    level = logging.DEBUG if getattr(args, "debug", False) else (
        logging.INFO if getattr(args, "verbose", False) else logging.WARNING
    )
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    # our own DEBUG lines are the per-request audit trail; the libraries' are noise
    for name in ("urllib3", "werkzeug", "faker", "authlib", "matplotlib"):
        logging.getLogger(name).setLevel(max(level, logging.WARNING))


@contextlib.contextmanager
def _settings_for(
    args: argparse.Namespace, *, all_tenants: bool = False
) -> Iterator[tuple[Settings, list[str]]]:
    """Settings and tenant list for a run: from the sandbox, or from the environment/.env.

    Without ``--tenant`` the default is the first configured tenant, or every configured tenant
    when ``all_tenants`` (the health check).
    """
    tenants: list[str] = [t.strip() for t in (args.tenant or [])]
    if any(not t for t in tenants):
        raise ConfigurationError("--tenant needs a tenant code (got an empty one)")
    tenants = list(dict.fromkeys(tenants))

    def default(settings: Settings) -> list[str]:
        return tenants or (list(settings.tenant_codes) if all_tenants else [settings.tenant_code])

    if args.sandbox:
        from . import sandbox

        with sandbox.run() as sb:
            settings = sb.settings()
            yield settings, default(settings)
        return
    settings = Settings.from_env(args.env_file)
    yield settings, default(settings)


def _cmd_events(args: argparse.Namespace, out: TextIO) -> int:
    from .client import EngagifiiClient, default_report_path
    from .reports import export_csv, export_parquet

    if args.page_size < 1:
        raise ConfigurationError("--page-size must be >= 1")
    if args.workers < 1:
        raise ConfigurationError("--workers must be >= 1")
    if args.workers > 16:
        print(f"warning: --workers {args.workers} is rarely faster than 8 and invites rate limiting (429)",
              file=sys.stderr)
    fmt = args.format
    parquet_name = bool(args.output) and args.output.lower().endswith((".parquet", ".pq"))
    if fmt is None:
        fmt = "parquet" if parquet_name else "csv"
    elif args.output and (fmt == "parquet") != parquet_name:
        print(f"warning: writing {fmt} to {args.output} (the file name suggests another format)", file=sys.stderr)
    with _settings_for(args) as (settings, tenants):
        target: str | list[str] = tenants if len(tenants) > 1 else tenants[0]
        path = _output_path(args.output) if args.output else default_report_path(target, fmt)
        _check_writable(path)  # before the walk: a long walk must not end in "cannot write"
        if _is_stdout(path, out):
            out = sys.stderr  # the report goes to standard output: the summary must not mix with it
        started = time.monotonic()
        with EngagifiiClient(settings) as client:
            df = client.events(
                target,
                only_upcoming=args.upcoming,
                search=args.search,
                start=args.start,
                end=args.end,
                status=args.status,
                page_size=args.page_size,
                workers=args.workers,
                progress=False if args.no_progress else None,
                checkpoint=args.checkpoint,
            )
            try:
                if fmt == "parquet":
                    written = export_parquet(df, path)
                else:
                    written = export_csv(df, path, neutralize_formulas=not args.no_formula_escape)
            except OSError as exc:
                raise ReportNotWritable.wrap(path, exc) from None
            stats = client.stats.snapshot()
        meta = df.attrs.get("engagifii", {})
        seconds = time.monotonic() - started
        label = ("tenant " if len(tenants) == 1 else "tenants ") + ", ".join(tenants)
        total = meta.get("total_count")
        print(f"wrote {len(df):,} row{'' if len(df) == 1 else 's'} for {label} to {written}", file=out)
        notes = ""
        metas = list(meta.get("tenants", {}).values()) if len(tenants) > 1 else [meta]
        fetched = sum(int(m.get("rows_fetched", 0)) for m in metas)
        if len(df) != fetched:
            # "end" is the exclusive bound (--to 2025-01-31 keeps rows before 2025-02-01T00:00Z)
            words = {"start": "startDateTime from", "end": "startDateTime before", "status": "status"}
            applied = ", ".join(
                f"{words.get(k, k)} {', '.join(v) if isinstance(v, list) else v}"
                for k, v in (metas[0].get("client_filters") or {}).items()
                if v is not None
            )
            notes += f" ({fetched:,} fetched before the client-side filters: {applied})"
        resumed = sum(int(m.get("resumed_pages", 0)) for m in metas)
        if resumed:
            notes += f"; {resumed} page{'' if resumed == 1 else 's'} from the checkpoint"
        sizes = {m.get("page_size") for m in metas if m.get("pages")}
        if sizes and max(s for s in sizes if s) < args.page_size:
            notes += f"; the server capped the page size at {max(s for s in sizes if s)}"
        print(
            f"total {total:,}{notes}; pages {stats['pages']}, requests {stats['http_requests']}, "
            f"token requests {stats['token_requests']}, retries {stats['retries']}, {seconds:.2f} s",
            file=out,
        )
    return EXIT_OK


def _output_path(value: str) -> Path:
    """``-o`` as a path; ``-`` is standard output (written as ``/dev/stdout``, POSIX only)."""
    if value != "-":
        return Path(value)
    if not Path("/dev/stdout").exists():
        raise ConfigurationError("-o - (standard output) needs /dev/stdout; give a file path instead")
    return Path("/dev/stdout")


def _is_stdout(path: Path, out: TextIO) -> bool:
    """Whether ``path`` is the file behind ``out`` (``-o -`` or ``-o /dev/stdout``)."""
    try:
        return os.path.samestat(os.stat(path), os.fstat(out.fileno()))
    except (OSError, AttributeError, ValueError, io.UnsupportedOperation):
        return False


def _check_writable(path: Path) -> None:
    """Prove the report can be written at ``path`` before the walk, as :func:`export_csv` will write it.

    A symbolic link is followed (its target is replaced, the link kept); an existing device or pipe
    (``/dev/stdout``) must be writable; otherwise the folder is created and a probe file written there
    (then removed).
    """
    import tempfile

    try:
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, "is a directory")
        if path.exists() and not path.is_file():  # a device or a pipe (through links): written into
            if not os.access(path, os.W_OK):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
            return
        target = Path(os.path.realpath(path)) if path.is_symlink() else path
        for parent in reversed(target.parents):
            if parent.exists() and not parent.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, f"{parent} is a file, not a folder")
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{target.name}.", suffix=".probe"):
            pass
    except OSError as exc:
        raise ReportNotWritable.wrap(path, exc) from None


class ReportNotWritable(OSError):
    """The report's destination cannot be written (exit code 1).

    ``hint`` says what to do, by the reason (``errno``): free space, a writable path, a folder.
    """

    hint = "no report was written; choose another -o path"

    @classmethod
    def wrap(cls, path: Path, exc: OSError) -> ReportNotWritable:
        """The error for ``exc`` raised while writing ``path``, with a hint that fits its ``errno``."""
        error = cls(exc.errno, f"cannot write the report to {path}: {exc.strerror or exc}")
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            error.hint = "no report was written; free some space or choose another -o path"
        elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            error.hint = "no report was written; choose an -o path you can write to"
        elif exc.errno in (errno.ENOTDIR, errno.EEXIST, errno.EISDIR):
            error.hint = "no report was written; -o must name a file whose folders are folders"
        return error

    def __str__(self) -> str:
        return str(self.strerror)


def _cmd_check(args: argparse.Namespace, out: TextIO) -> int:
    from .client import EngagifiiClient

    worst = EXIT_OK
    with _settings_for(args, all_tenants=True) as (settings, tenants), EngagifiiClient(settings) as client:
        print(f"identity  {settings.identity_url}", file=out)
        print(f"api       {settings.api_base_url}", file=out)
        t0 = time.perf_counter()
        try:
            token = client.authenticate()
        except EngagifiiError:
            print("token     FAIL  (see below)", file=out)
            raise
        lifetime = f"lifetime {token.lifetime:.0f} s, "
        print(f"token     OK    client {settings.client_id} ({lifetime}{(time.perf_counter() - t0) * 1000:.0f} ms)",
              file=out)
        failures: list[BaseException] = []
        for code in tenants:
            t1 = time.perf_counter()
            try:
                page = client.list_page(1, tenant=code, page_size=1)
            except EngagifiiError as exc:
                failures.append(exc)
                print(f"tenant    FAIL  {code}: {' '.join(describe_error(exc)[:1]).removeprefix('error: ')}", file=out)
                worst = max(worst, exit_code_for(exc))
                continue
            print(f"tenant    OK    {code}: {page.total:,} events ({(time.perf_counter() - t1) * 1000:.0f} ms)",
                  file=out)
        status = "healthy" if not failures else "unhealthy"
        print(f"status    {status}", file=out)
    return worst


def _cmd_sandbox(args: argparse.Namespace, out: TextIO) -> int:
    from . import sandbox

    stop = threading.Event()
    if args.port:
        import socket

        with socket.socket() as probe:  # werkzeug would print its own message and sys.exit(1)
            try:
                probe.bind(("127.0.0.1", args.port))
            except OSError as exc:
                raise ConfigurationError(
                    f"cannot serve on 127.0.0.1:{args.port}: {exc.strerror or exc}; choose another --port"
                ) from None
    try:
        server = sandbox.run(
            port=args.port, latency=args.latency, envelope=args.envelope, token_lifetime=args.token_lifetime
        )
        sb = server.__enter__()
    except OSError as exc:
        raise ConfigurationError(
            f"cannot serve on 127.0.0.1:{args.port}: {exc.strerror or exc}; choose another --port"
        ) from None
    with contextlib.ExitStack() as stack:
        stack.push(server)
        tenants = ", ".join(f"{code} ({n} events)" for code, n in sb.tenants.items())
        print("Engagifii sandbox (local stand-in for the identity server and the Events API)", file=out)
        print(f"  ENGAGIFII_IDENTITY_SERVER_URL={sb.identity_url}", file=out)
        print(f"  ENGAGIFII_API_BASE_URL={sb.api_url}", file=out)
        print(f"  ENGAGIFII_CLIENT_ID={sb.client_id}", file=out)
        print(f"  ENGAGIFII_CLIENT_SECRET={sb.client_secret}", file=out)
        print(f"  ENGAGIFII_TENANT_CODE={','.join(sb.tenants)}", file=out)
        print(f"  tenants: {tenants}", file=out)
        print("Try the vendor's quick start:", file=out)
        print(
            f'  TOKEN=$(curl -s -X POST "{sb.identity_url}/connect/token" '
            f'-d "client_id={sb.client_id}" -d "client_secret={sb.client_secret}" '
            '-d "grant_type=client_credentials" -d "scope=EventsApi" '
            "| python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])')",
            file=out,
        )
        first = next(iter(sb.tenants))
        print(
            f'  curl -X POST "{sb.api_url}/api/1.0/event/list" -H "Authorization: Bearer $TOKEN" '
            f'-H "api-version: 1.0" -H "tenant-code: {first}" -H "Content-Type: application/json" -d \'{{}}\'',
            file=out,
        )
        print("Serving until Ctrl-C.", file=out, flush=True)
        try:
            while not stop.wait(3600):
                pass
        except KeyboardInterrupt:
            print("stopped", file=out)
    return EXIT_OK


COMMANDS: dict[str, Any] = {"events": _cmd_events, "check": _cmd_check, "sandbox": _cmd_sandbox}


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the command line; returns the exit code (also used as the process exit status).

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default ``sys.argv[1:]``).
    out, err : file, optional
        Where results and error lines go (default stdout/stderr).
    """
    out = out or sys.stdout
    err = err or sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    _configure_logging(args)
    try:
        return int(COMMANDS[args.command](args, out))
    except KeyboardInterrupt:
        checkpoint = getattr(args, "checkpoint", None)
        resume = f"; rerun the same command to resume from {checkpoint}" if checkpoint else ""
        print(f"interrupted; no report was written{resume}", file=err)
        return 130
    except (EngagifiiError, ValueError) as exc:
        if getattr(args, "debug", False):
            import traceback

            traceback.print_exc(file=err)
        for line in describe_error(exc):
            print(line, file=err)
        return exit_code_for(exc)
    except OSError as exc:
        if getattr(args, "debug", False):
            raise
        if not isinstance(exc, ReportNotWritable):
            exc = ReportNotWritable.wrap(Path(getattr(args, "output", None) or "the report"), exc)
        print(f"error: {exc}", file=err)
        print(exc.hint, file=err)
        return 1


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
