"""The ``engagifii-data sandbox`` command: one option per fault switch, then serve until Ctrl-C.

Imported by the command line when it builds its parser (this module imports nothing heavy: Flask and
the rest are imported when the sandbox starts).
"""

from __future__ import annotations

import argparse
import contextlib
import threading
from collections.abc import Callable
from typing import Any, TextIO

from ..exceptions import ConfigurationError

__all__ = ["add_fault_options", "fault_option", "fault_values", "serve_command"]


#: Faults fields whose values are ``KEY=FAULT`` lists.
_MAPPING_FAULTS = {"page_faults": int, "detail_faults": str}


def fault_option(name: str) -> str:
    return "--" + name.replace("_", "-")


#: One line per :class:`Faults` field (a test checks that every field has one).
FAULT_HELP: dict[str, str] = {
    "latency": "seconds slept at the start of every request, token and API alike",
    "token_lifetime": "expires_in of the access tokens issued, in seconds",
    "rate_limit_every": "every Nth API request answers 429 RATE_LIMITED with Retry-After",
    "retry_after": "the Retry-After sent with a 429: seconds or an HTTP date",
    "page_faults": "first request of those list pages fails",
    "detail_faults": "first GET of those event ids (or * for every one) fails",
    "ignore_page_number": "always serve page 1's rows, whatever page is asked for",
    "insert_after_first_page": "insert N events right after a tenant's page 1 is served (later pages shift)",
    "delete_after_listing": "delete N listed events once a listing has been fully served (their details 404)",
    "fail_from_page": "pages >= N always answer 500 INTERNAL_ERROR",
    "max_page_size": "cap a larger PageSize silently to N",
    "envelope": "list answer shape: wire ({collection, pagingModel}) or docs ({totalCount, data})",
    "reject_tokens": "every API request answers 401 invalid_token",
}


def add_fault_options(parser: argparse.ArgumentParser) -> None:
    """An option for every field of :class:`engagifii_data.sandbox.Faults`, its help from the docstring."""
    import dataclasses

    from .faults import Faults

    defaults = Faults()
    helps = FAULT_HELP
    group = parser.add_argument_group("faults (all off by default; see engagifii_data/sandbox/README.md)")
    for spec in dataclasses.fields(Faults):
        option = fault_option(spec.name)
        default = getattr(defaults, spec.name)
        kind = str(spec.type)
        described = helps.get(spec.name, "")
        shown = "off" if default in (None, 0, False, {}) else default
        if spec.name in _MAPPING_FAULTS:
            key = "PAGE" if spec.name == "page_faults" else "ID"
            example = "3=drop,7=html503" if key == "PAGE" else "'*=drop' or EVENT-ID=html503"
            group.add_argument(
                option,
                dest=f"fault_{spec.name}",
                metavar=f"{key}=FAULT[,...]",
                help=f"{described} (faults: html503, drop, truncate; e.g. {example})",
            )
        elif kind == "bool":
            group.add_argument(option, dest=f"fault_{spec.name}", action="store_true", help=described)
        else:
            convert: Callable[[str], Any] = float if "float" in kind else int if "int" in kind else str
            metavar = (
                "SECONDS" if "seconds" in spec.name or spec.name == "latency" else "N" if convert is int else "VALUE"
            )
            group.add_argument(
                option, dest=f"fault_{spec.name}", type=convert, metavar=metavar, help=f"{described} (default {shown})"
            )


def fault_values(args: argparse.Namespace) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in vars(args).items():
        if not key.startswith("fault_") or value is None or value is False:
            continue
        name = key.removeprefix("fault_")
        if name in _MAPPING_FAULTS:
            parsed: dict[Any, str] = {}
            for item in filter(None, (part.strip() for part in str(value).split(","))):
                left, sep, fault = item.partition("=")
                if not sep:
                    raise ConfigurationError(f"{fault_option(name)}: expected KEY=FAULT, got {item!r}")
                key = left.strip().lower() if name == "detail_faults" else left.strip()  # ids: any case
                try:
                    parsed[_MAPPING_FAULTS[name](key)] = fault.strip()
                except ValueError:
                    raise ConfigurationError(f"{fault_option(name)}: {left.strip()!r} is not a valid key") from None
            value = parsed
        values[name] = value
    return values


def serve_command(args: argparse.Namespace, out: TextIO) -> int:
    """Serve the sandbox with the faults of ``args`` until Ctrl-C; 0 when stopped."""
    from .. import sandbox

    faults = fault_values(args)
    options: dict[str, Any] = {"port": args.port, **faults}
    if args.seed is not None:
        options["seed"] = args.seed
    # in the order a user fixes them: the install, the options, then the port
    sandbox._needs_extra()
    _check_faults(faults)
    if args.port:
        _check_port(args.port)
    try:
        server = sandbox.run(**options)
        sb = server.__enter__()
    except OSError as exc:
        raise ConfigurationError(
            f"cannot serve on 127.0.0.1:{args.port}: {exc.strerror or exc}; choose another --port"
        ) from None
    with contextlib.ExitStack() as stack:
        stack.push(server)
        print_sandbox(sb, faults, out)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("stopped", file=out)
    return 0


def _check_faults(faults: dict[str, Any]) -> None:
    """ConfigurationError naming the options whose values the sandbox cannot serve."""
    from .faults import Faults

    try:
        Faults(**faults)
    except (TypeError, ValueError) as exc:
        message = str(exc)
        for name in faults:
            message = message.replace(f"{name}:", f"{fault_option(name)}:")
        raise ConfigurationError(f"sandbox: {message}") from None


def _check_port(port: int) -> None:
    """ConfigurationError when 127.0.0.1:``port`` is taken (werkzeug would print and sys.exit(1))."""
    import socket

    with socket.socket() as probe:
        # as werkzeug binds: a port whose last connections are in TIME_WAIT (a sandbox just stopped) is free
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise ConfigurationError(
                f"cannot serve on 127.0.0.1:{port}: {exc.strerror or exc}; choose another --port"
            ) from None


def print_sandbox(sb: Any, faults: dict[str, Any], out: TextIO) -> None:
    tenants = ", ".join(f"{code} ({n} events)" for code, n in sb.tenants.items())
    print("Engagifii sandbox (local stand-in for the identity server and the Events API)", file=out)
    print(f"  ENGAGIFII_IDENTITY_SERVER_URL={sb.identity_url}", file=out)
    print(f"  ENGAGIFII_API_BASE_URL={sb.api_url}", file=out)
    print(f"  ENGAGIFII_CLIENT_ID={sb.client_id}", file=out)
    print(f"  ENGAGIFII_CLIENT_SECRET={sb.client_secret}", file=out)
    print(f"  ENGAGIFII_TENANT_CODE={','.join(sb.tenants)}", file=out)
    print(f"  tenants: {tenants}", file=out)
    if faults:
        shown = {k: ",".join(f"{a}={b}" for a, b in v.items()) if isinstance(v, dict) else v for k, v in faults.items()}
        print("  faults: " + ", ".join(f"{fault_option(k)} {v}" for k, v in shown.items()), file=out)
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
