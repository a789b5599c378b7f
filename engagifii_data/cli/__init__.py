"""The ``engagifii-data`` command: ``events``, ``check`` and ``sandbox``.

Exit codes: 0 done; 1 no report was written (a file problem, or an unexpected internal
error); 2 usage or configuration error; 3 authentication failed; 4 API or network error after
retries; 5 the walk could not be completed or verified (no report is written); 130 interrupted
(Ctrl-C), 143 terminated (SIGTERM), 129 hung up (SIGHUP), all resumable from a checkpoint.
A report sent to a pipe that closes early (``-o - | head``) ends quietly with 141, as Unix tools do.
Errors are one or two plain lines on stderr (what failed, the API's code and traceId, what to do) and
a traceback only with ``--debug``. This module imports no pandas until a command runs, so ``--help``
and ``--version`` are instant.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import logging
import os
import signal
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ..config import Settings
from ..describe import CLI_WORDS, describe_error
from ..exceptions import (
    ApiError,
    AuthenticationError,
    ConfigurationError,
    EngagifiiError,
    IncompleteWalkError,
    PaginationError,
    ReportError,
    ReportNotWritable,
    TransportError,
    redact,
    safe_text,
)
from .parser import build_parser
from .summary import print_summary

if TYPE_CHECKING:
    from ..query import EventQuery

EXIT_OK = 0
EXIT_NOT_WRITTEN = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_API = 4
EXIT_WALK = 5
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143
EXIT_BROKEN_PIPE = 141

#: exception class -> exit code, most specific first (anything else: 1, no report was written).
EXIT_CODES: tuple[tuple[type[BaseException], int], ...] = (
    (ReportNotWritable, EXIT_NOT_WRITTEN),
    (ConfigurationError, EXIT_USAGE),
    (AuthenticationError, EXIT_AUTH),
    (PaginationError, EXIT_WALK),
    (ApiError, EXIT_API),
    (TransportError, EXIT_API),
    (ReportError, EXIT_NOT_WRITTEN),
    (ImportError, EXIT_USAGE),
    (ValueError, EXIT_USAGE),
)


def exit_code_for(exc: BaseException) -> int:
    """The documented exit code for an exception (1, "no report was written", for anything unexpected).

    A walk stopped by an authentication failure (a token revoked mid-walk, ``invalid_client`` on
    renewal) is an authentication failure (3), and one stopped by a configuration error (the token
    endpoint gone at renewal: 404/405) is a configuration error (2), not an incomplete walk (5):
    rerunning will not help until the credentials or settings are fixed.
    """
    if isinstance(exc, IncompleteWalkError) and isinstance(exc.cause, AuthenticationError | ConfigurationError):
        return exit_code_for(exc.cause)
    for cls, code in EXIT_CODES:
        if isinstance(exc, cls):
            return code
    return EXIT_NOT_WRITTEN


class _LevelFormatter(logging.Formatter):
    def __init__(self, *, detailed: bool) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s" if detailed else "%(message)s")
        self.detailed = detailed

    def format(self, record: logging.LogRecord) -> str:
        if self.detailed:
            return redact(super().format(record))
        return f"{record.levelname.lower()}: {safe_text(record.getMessage(), 2000)}"


class _RetryLinesCap(logging.Filter):
    """At most :data:`RETRY_LINES` retry warnings per run, then one line saying the rest are counted.

    A detail walk over a failing server retries thousands of requests; a warning each buried the
    summary (which counts every retry). ``--verbose`` and ``--debug`` show them all.
    """

    def __init__(self) -> None:
        super().__init__()
        self.seen = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if not (record.name.startswith("engagifii_data.transport") and str(record.msg).startswith("%s (attempt")):
            return True
        self.seen += 1
        if self.seen == RETRY_LINES + 1:
            record.msg, record.args = "more retries follow; they are not shown (the summary counts them)", ()
            return True
        return self.seen <= RETRY_LINES


#: Retry warnings shown per run without --verbose.
RETRY_LINES = 10


def _configure_logging(args: argparse.Namespace, err: TextIO) -> None:
    level = (
        logging.DEBUG
        if getattr(args, "debug", False)
        else (logging.INFO if getattr(args, "verbose", False) else logging.WARNING)
    )
    handler = logging.StreamHandler(err)
    # plain lines like the CLI's own (warning: retrying page 3 in 2 s: HTTP 503); --debug names the logger
    handler.setFormatter(_LevelFormatter(detailed=level == logging.DEBUG))
    if level == logging.WARNING:
        handler.addFilter(_RetryLinesCap())
    logging.basicConfig(level=level, handlers=[handler], force=True)
    # our own DEBUG lines are the per-request audit trail; the libraries' are noise
    for name in ("urllib3", "werkzeug", "faker", "authlib", "oauthlib", "matplotlib"):
        logging.getLogger(name).setLevel(max(level, logging.WARNING))


@contextlib.contextmanager
def _settings_for(args: argparse.Namespace, *, all_tenants: bool = False) -> Iterator[tuple[Settings, list[str]]]:
    """Settings and tenant list for a run: from the sandbox, or from the environment/.env.

    Without ``--tenant`` the default is the first configured tenant, or every configured tenant
    when ``all_tenants`` (the health check).
    """
    from ..config import MissingConfiguration

    tenants: list[str] = [t.strip() for t in (args.tenant or [])]
    if any(not t for t in tenants):
        raise ConfigurationError("--tenant needs a tenant code (got an empty one)")
    tenants = list(dict.fromkeys(tenants))

    def default(settings: Settings) -> list[str]:
        return tenants or (list(settings.tenant_codes) if all_tenants else [settings.tenant_code])

    if args.sandbox:
        from .. import sandbox

        with sandbox.run() as sb:
            args.server_now = sb.now  # the sandbox has its own clock (onlyUpcoming compares with it)
            settings = _limits(sb.settings(), args)
            yield settings, default(settings)
        return
    try:
        # --tenant stands in for ENGAGIFII_TENANT_CODE (which then need not be set)
        if tenants:
            loaded = Settings.from_env(args.env_file, tenant_codes=tuple(tenants))
        else:
            loaded = Settings.from_env(args.env_file)
        settings = _limits(loaded, args)
    except MissingConfiguration as exc:
        hint = "or try the local sandbox with --sandbox"
        raise MissingConfiguration(exc.missing, exc.path, sandbox_hint=hint) from None
    yield settings, default(settings)


def _limits(settings: Settings, args: argparse.Namespace) -> Settings:
    """``--timeout`` and ``--attempts``, when given, over the settings' defaults."""
    changes: dict[str, Any] = {}
    timeout = getattr(args, "timeout", None)
    if timeout is not None:
        if not timeout > 0:
            raise ConfigurationError(f"--timeout must be a number of seconds > 0, got {timeout:g}")
        changes.update(
            request_deadline=timeout,
            read_timeout=min(settings.read_timeout, timeout),
            connect_timeout=min(settings.connect_timeout, timeout),
        )
    attempts = getattr(args, "attempts", None)
    if attempts is not None:
        if attempts < 1:
            raise ConfigurationError(f"--attempts must be >= 1, got {attempts}")
        changes["max_attempts"] = attempts
    return settings.replace(**changes) if changes else settings


def _query_from(args: argparse.Namespace, tenants: list[str]) -> EventQuery:
    from ..query import EventQuery

    return EventQuery(
        tuple(tenants),
        only_upcoming=args.upcoming,
        search=args.search,
        start=args.start,
        end=args.end,
        # --status Published,Completed as --status Published --status Completed (as the notebook takes it)
        status=[part.strip() for value in args.status for part in value.split(",")] if args.status else None,
        page_size=args.page_size,
    )


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
    except (OSError, AttributeError, ValueError):
        return False


def _resume_advice(checkpoint: str | None) -> str:
    """What a rerun does after an interrupt: resume only when the checkpoint (or a tenant's) holds pages."""
    if not checkpoint:
        return ""
    path = Path(checkpoint)
    saved = [
        p for p in [path, *path.parent.glob(f"{glob.escape(path.stem)}.*{glob.escape(path.suffix)}")] if _has_bytes(p)
    ]
    if saved:
        return f"; rerun the same command to resume from the checkpoint {checkpoint}"
    return f"; no page was saved to the checkpoint {checkpoint} yet: a rerun starts from page 1"


def _has_bytes(path: Path) -> bool:
    try:
        return path.is_file() and path.stat().st_size > 0
    except OSError:
        return False


#: Report formats whose bytes are not text: never written to a terminal (what ``git`` and ``curl`` do).
BINARY_FORMATS = frozenset({"xlsx", "parquet"})


def _is_terminal(path: Path) -> bool:
    """Whether ``path`` (``-o -``, ``/dev/tty``, ``/dev/pts/3``) is a terminal; ``/dev/null`` is not."""
    try:
        if not stat.S_ISCHR(os.stat(path).st_mode):
            return False
        fd = os.open(path, os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        return os.isatty(fd)
    finally:
        os.close(fd)


def default_report_path(tenant: str | Sequence[str], fmt: str = "csv", table: str = "events") -> Path:
    """``reports/<table>-<tenant>-<YYYYmmdd-HHMMSS>.<fmt>`` in the current directory (table: events...)."""
    import datetime as dt

    name = tenant if isinstance(tenant, str) else "-".join(tenant)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "_"
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("reports") / f"{table}-{safe}-{stamp}.{fmt}"


def _table(df: Any, table: str, columns: str) -> tuple[Any, str]:
    """The frame written for ``--table`` (with ``--columns declared``: a fixed header) and ``columns`` left to do."""
    if table == "events":
        return df, columns
    from ..frames import tables

    out = tables.sessions(df) if table == "sessions" else tables.contacts(df)
    if columns == "declared":
        declared = tables.SESSION_COLUMNS if table == "sessions" else tables.CONTACT_COLUMNS
        fixed = out.loc[:, [c for c in ("tenant", *declared) if c in out.columns]]
        fixed.attrs = dict(out.attrs)
        out = fixed
    return out, "all"


def _cmd_events(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from ..reports import check_writable, report_format, write_report

    if args.workers < 1:
        raise ConfigurationError("--workers must be >= 1")
    if args.workers > 16:
        print(
            f"warning: --workers {args.workers} is rarely faster than 8 and invites rate limiting (429)",
            file=err,
        )
    _query_from(args, ["-"])  # the filters are checked before anything is started
    details = args.details or args.table == "contacts"
    if details and not args.details:
        print("note: --table contacts fetches every event's detail (contacts come only with it)", file=err)
    if args.table == "sessions" and not details:
        print(
            "note: sessions as the listing carries them; add --details for every session of each event "
            "(the listing can hold fewer)",
            file=err,
        )
    fmt, warning = report_format(args.output if args.output not in (None, "-") else None, args.format)
    if warning:
        print(f"warning: {warning}", file=err)
    with _settings_for(args) as (settings, tenants):
        query = _query_from(args, tenants)
        for reason in query.contradictions(getattr(args, "server_now", None)):
            print(f"warning: {reason}", file=err)
        path = _output_path(args.output) if args.output else default_report_path(tenants, fmt, args.table)
        check_writable(path)  # before the walk: a long walk must not end in "cannot write"
        if fmt in BINARY_FORMATS and _is_terminal(path):
            raise ConfigurationError(
                f"a {fmt} report is binary and would be printed as garbage on the terminal: "
                f"redirect it (-o - > report.{fmt}) or give -o FILE"
            )
        if args.checkpoint:
            from ..checkpoint import check_path

            check_path(args.checkpoint)
        if _is_stdout(path, out):
            out = err  # the report goes to standard output: the summary must not mix with it
        started = time.monotonic()
        from ..client import EngagifiiClient

        with EngagifiiClient(settings) as client:
            df = client.events(
                query,
                workers=args.workers,
                progress=False if args.no_progress else None,
                checkpoint=args.checkpoint,
                details=details,
            )
            table, columns = _table(df, args.table, args.columns)
            written = write_report(table, path, fmt, columns=columns, neutralize_formulas=not args.no_formula_escape)
            stats = client.stats.snapshot()
        shown = "standard output" if args.output == "-" else written
        print_summary(df, query, shown, stats, time.monotonic() - started, out, rows=(len(table), args.table))
    return EXIT_OK


def _cmd_check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from ..client import EngagifiiClient

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
        ms = (time.perf_counter() - t0) * 1000
        print(f"token     OK    client {settings.client_id} (lifetime {token.lifetime:.0f} s, {ms:.0f} ms)", file=out)
        failures: list[BaseException] = []
        for code in tenants:
            t1 = time.perf_counter()
            try:
                page = client.list_page(1, tenant=code, page_size=1)
            except EngagifiiError as exc:
                failures.append(exc)
                print(f"tenant    FAIL  {code}: {describe_error(exc)[0].removeprefix('error: ')}", file=out)
                worst = max(worst, exit_code_for(exc))
                continue
            ms = (time.perf_counter() - t1) * 1000
            print(f"tenant    OK    {code}: {page.total or 0:,} events ({ms:.0f} ms)", file=out)
        print(f"status    {'healthy' if not failures else 'unhealthy'}", file=out)
    return worst


def _cmd_sandbox(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from ..sandbox.command import serve_command

    return serve_command(args, out)


COMMANDS: dict[str, Callable[[argparse.Namespace, TextIO, TextIO], int]] = {
    "events": _cmd_events,
    "check": _cmd_check,
    "sandbox": _cmd_sandbox,
}


class _Terminated(BaseException):
    """SIGTERM (cron, systemd, ``kill``) or SIGHUP (a closed terminal or SSH session) turned into an
    exception, so the run ends like Ctrl-C does: nothing half-written, exit ``128 + signal``."""

    def __init__(self, signum: int = signal.SIGTERM) -> None:
        super().__init__(signum)
        self.signum = signum


#: Signals that end a run as Ctrl-C does (SIGHUP only where the platform has it).
ENDING_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


def _terminate_as_interrupt() -> dict[int, Any] | None:
    """Make SIGTERM and SIGHUP raise :class:`_Terminated` in the main thread; the previous handlers."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def terminated(signum: int, frame: Any) -> None:
        raise _Terminated(signum)

    previous: dict[int, Any] = {}
    for signum in ENDING_SIGNALS:
        with contextlib.suppress(ValueError, OSError):  # not possible here (an embedded interpreter)
            previous[signum] = signal.signal(signum, terminated)
    return previous or None


def _silence_stdout() -> None:
    """After a closed pipe: point stdout at /dev/null so the interpreter's final flush stays quiet."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


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
    _configure_logging(args, err)
    debug = bool(getattr(args, "debug", False))
    previous = _terminate_as_interrupt()
    try:
        return int(COMMANDS[args.command](args, out, err))
    except (KeyboardInterrupt, _Terminated) as exc:
        checkpoint = getattr(args, "checkpoint", None)
        resume = _resume_advice(checkpoint)
        hangup = isinstance(exc, _Terminated) and exc.signum != signal.SIGTERM
        what = ("hung up" if hangup else "terminated") if isinstance(exc, _Terminated) else "interrupted"
        if args.command == "events":
            what += "; no report was written"
        print(f"{what}{resume}", file=err)
        return 128 + exc.signum if isinstance(exc, _Terminated) else EXIT_INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()  # the reader of `-o -` went away (`| head`): as Unix tools, end quietly
        return EXIT_BROKEN_PIPE
    except BaseException as exc:  # every error becomes one or two plain lines and a documented exit code
        if isinstance(exc, SystemExit | GeneratorExit):
            raise
        if debug:
            import traceback

            traceback.print_exc(file=err)
        words = dict(CLI_WORDS)
        for line in describe_error(exc, words):
            print(line, file=err)
        return exit_code_for(exc)
    finally:
        for signum, handler in (previous or {}).items():
            signal.signal(signum, handler)


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


__all__ = ["EXIT_CODES", "build_parser", "default_report_path", "exit_code_for", "main", "run", "safe_text"]
