"""The ``engagifii-data`` argument parser: commands, options and their help (documented in the README).

Imports nothing heavy: ``--help`` and ``--version`` never import pandas.
"""

from __future__ import annotations

import argparse
import re
from typing import Any

from .. import __version__

#: What ``events --table`` can write.
TABLES = ("events", "sessions", "contacts")


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0..65535, got {value}")
    return value


def _number(rule: str, flag: str) -> Any:
    """An argparse ``type`` checking a flag by the rule of a :class:`Settings` field (naming the flag)."""

    def parse(text: str) -> Any:
        from ..config import setting_number
        from ..exceptions import ConfigurationError

        try:
            return setting_number(text, rule, flag)
        except ConfigurationError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = flag  # argparse names the type in some messages
    return parse


def _whole(flag: str) -> Any:
    """An argparse ``type`` for an integer written in ASCII digits (``int()`` also takes ``１２``, ``1_0``)."""

    def parse(text: str) -> int:
        if not re.fullmatch(r"-?[0-9]{1,9}", text.strip()):
            raise argparse.ArgumentTypeError(f"{flag} must be an integer in ASCII digits, got {text!r}")
        return int(text)

    parse.__name__ = flag
    return parse


def _common_options(p: argparse.ArgumentParser) -> None:
    """Options every command that talks to the API has."""
    p.add_argument("--sandbox", action="store_true", help="run against the built-in local sandbox")
    p.add_argument("--env-file", metavar="PATH", help="read settings from this .env file")
    p.add_argument("--tenant", action="append", metavar="CODE", help="tenant code (repeatable)")
    p.add_argument(
        "--timeout",
        type=_number("request_deadline", "--timeout"),
        metavar="SECONDS",
        help="longest wait for one answer, body included (default 120); then the request is retried",
    )
    p.add_argument(
        "--attempts",
        type=_number("max_attempts", "--attempts"),
        metavar="N",
        help="attempts per request, the first included (default 6)",
    )
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def _events_options(ev: argparse.ArgumentParser) -> None:
    """``events``: what to walk (filters, page size, workers)."""
    ev.add_argument("--upcoming", action="store_true", help="only events that have not ended (server-side)")
    ev.add_argument("--search", metavar="TEXT", help="name contains TEXT (server-side)")
    ev.add_argument(
        "--from",
        dest="start",
        metavar="WHEN",
        help="startDateTime on or after WHEN (YYYY-MM-DD or an ISO 8601 datetime; UTC unless it has an offset)",
    )
    ev.add_argument(
        "--to",
        dest="end",
        metavar="WHEN",
        help="startDateTime on or before WHEN (a date includes that whole day; a datetime that instant)",
    )
    ev.add_argument(
        "--status",
        action="append",
        metavar="NAME",
        help="Draft, Published, Cancelled or Completed (repeatable, or a comma list)",
    )
    ev.add_argument(
        "--page-size", type=_whole("--page-size"), default=100, metavar="N", help="rows per page (default 100)"
    )
    ev.add_argument(
        "--workers",
        type=_whole("--workers"),
        default=4,
        metavar="N",
        help="concurrent page (and detail) requests (default 4)",
    )


def _report_options(ev: argparse.ArgumentParser) -> None:
    """``events``: details, what is written and how (output, format, table, columns, checkpoint)."""
    ev.add_argument(
        "-o",
        "--output",
        metavar="PATH",
        help="report path; - for standard output (default reports/<table>-<tenant>-<time>.<format>)",
    )
    ev.add_argument(
        "--format",
        choices=("csv", "parquet", "xlsx"),
        help="report format (default from the extension: .parquet/.pq, .xlsx, else csv)",
    )
    ev.add_argument(
        "--columns",
        choices=("all", "declared"),
        default="all",
        help="all: the declared columns, then fields the API added (default); "
        "declared: a fixed header that never changes (for scheduled loads)",
    )
    ev.add_argument(
        "--details",
        action="store_true",
        help="also fetch every event's detail (one GET per event, --workers at a time): contacts, every session",
    )
    ev.add_argument(
        "--table",
        choices=TABLES,
        default="events",
        help="what the report holds: events (default), sessions (one row per session) or contacts "
        "(one row per contact; implies --details)",
    )
    ev.add_argument("--checkpoint", metavar="PATH", help="save pages (and details) as they arrive; rerun to resume")
    ev.add_argument(
        "--no-formula-escape",
        action="store_true",
        help="write text cells starting with = + - @, TAB or CR as they are (unsafe in Excel)",
    )
    ev.add_argument("--no-progress", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (documented in the README)."""
    parser = argparse.ArgumentParser(
        prog="engagifii-data",
        description="Export Engagifii events to CSV/Parquet/Excel, check access, or serve the local sandbox.",
    )
    parser.add_argument("--version", action="version", version=f"engagifii-data {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and DEBUG request logs")
    parser.add_argument("-v", "--verbose", action="store_true", help="INFO logs (token and walk audit lines)")
    sub = parser.add_subparsers(dest="command", required=True)

    ev = sub.add_parser("events", help="walk every page of the event listing and write a report")
    _common_options(ev)
    _events_options(ev)
    _report_options(ev)

    ck = sub.add_parser("check", help="health check: a token, then a one-row list per tenant")
    _common_options(ck)

    sb = sub.add_parser("sandbox", help="serve the local sandbox until Ctrl-C (every fault switch available)")
    sb.add_argument("--port", type=_port, default=8765, help="port on 127.0.0.1 (default 8765; 0 = any free port)")
    sb.add_argument("--seed", default=None, help="seed of the generated data (default: the sandbox's)")
    from ..sandbox.command import add_fault_options

    add_fault_options(sb)
    sb.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser
