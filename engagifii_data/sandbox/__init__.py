"""Local stand-in for the Engagifii identity server (IdentityServer4) and the Events API.

One Flask app on 127.0.0.1 serves both, with seeded deterministic data and switchable faults.
Importing this package is cheap: Flask, werkzeug, authlib, joserfc and Faker are imported only
when a sandbox starts. See ``README.md`` beside this file for the full contract.

In-process::

    from engagifii_data import sandbox
    with sandbox.run(port=0, seed=sandbox.DEFAULT_SEED, now=None, envelope="wire",
                     latency=0.05, page_faults={3: "drop"}) as sb:
        sb.identity_url, sb.api_url        # "http://127.0.0.1:PORT" (the same server)
        client = EngagifiiClient(sb.settings())
        sb.faults.rate_limit_every = 5     # faults may change while it runs

From the shell: ``sandbox.serve(port=8765, ready=callback)`` blocks until Ctrl-C
(``KeyboardInterrupt`` propagates to the caller); ``ready(sb)`` is called once the server
listens, so the CLI can print the URLs and credentials. It prints nothing itself.

Tenants (:data:`TENANTS`): ``ACME`` 2,400 events (the two years before :data:`DEFAULT_NOW` and
the year after), ``GLOBEX`` 36, ``INITECH`` 0. Credentials: :data:`CLIENT_ID` /
:data:`CLIENT_SECRET` (``sandbox-client`` / ``sandbox-secret-CANARY-1234``), scope ``EventsApi``.

``GET /api/1.0/event/{id}`` answers the list row plus ``contacts`` (``{regular, finance, exhibitor}``)
and sessions that may carry more than the row's, with hard cases (null contacts, missing roles or
emails, non-ASCII and formula-like names, sessions with null times or unknown fields); list rows
never carry them and are byte-identical to what they were before details had them.

Faults (:class:`Faults`, all off by default): ``latency``, ``token_lifetime``,
``rate_limit_every``, ``retry_after``, ``page_faults`` (``html503`` | ``drop`` | ``truncate``,
first attempt of a page only), ``detail_faults`` (the same, per event id or ``"*"``),
``ignore_page_number``, ``insert_after_first_page``, ``delete_after_listing``, ``fail_from_page``,
``max_page_size``, ``envelope`` (``wire`` | ``docs``), ``reject_tokens``; plus
``sb.revoke_tokens()``, ``sb.insert_events(tenant, n)`` and ``sb.delete_events(tenant, n_or_ids)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .constants import (
    CLIENT_ID,
    CLIENT_SECRET,
    DEFAULT_NOW,
    DEFAULT_SEED,
    NULL_GUID,
    SCOPE,
    TENANTS,
    UNSET_DATE,
)
from .faults import PAGE_FAULTS, Faults

if TYPE_CHECKING:
    from .server import Sandbox

__all__ = [
    "CLIENT_ID",
    "CLIENT_SECRET",
    "DEFAULT_NOW",
    "DEFAULT_SEED",
    "NULL_GUID",
    "PAGE_FAULTS",
    "SCOPE",
    "TENANTS",
    "UNSET_DATE",
    "Faults",
    "Sandbox",
    "generate",
    "run",
    "serve",
    "start",
]


def run(
    *,
    port: int = 0,
    host: str = "127.0.0.1",
    seed: int | str = DEFAULT_SEED,
    now: datetime | None = None,
    envelope: str | None = None,
    faults: Faults | None = None,
    tenants: Mapping[str, int] | None = None,
    **fault_options: Any,
) -> AbstractContextManager[Sandbox]:
    """Serve identity and the Events API on *host* in a daemon thread, for a ``with`` block.

    Parameters
    ----------
    port : int
        TCP port; 0 (default) picks a free one (read it back from ``sb.api_url``).
    host : str
        Interface to bind (default ``127.0.0.1``; the URLs use it).
    seed : int or str
        Seed of the generated data (default :data:`DEFAULT_SEED`); same seed, same bytes.
    now : datetime, optional
        The sandbox clock ``onlyUpcoming`` compares with (default :data:`DEFAULT_NOW`; a naive
        value is taken as UTC). The data do not move with it: they are always generated
        around :data:`DEFAULT_NOW`.
    envelope : {"wire", "docs"}, optional
        Response envelope of the list endpoint (default ``"wire"``); same as the fault option.
    faults : Faults, optional
        A ready :class:`Faults` object to use (and mutate) instead of a new one.
    tenants : mapping, optional
        Tenant code -> number of generated events, instead of :data:`TENANTS` (e.g.
        ``{"BENCH": 10_000}`` for benchmarks; generation takes about 0.4 ms per event and is
        cached per seed and table).
    **fault_options
        Any :class:`Faults` field, e.g. ``latency=0.05, page_faults={2: "drop"}``.

    Returns
    -------
    context manager yielding a :class:`~engagifii_data.sandbox.server.Sandbox`
        with ``identity_url``, ``api_url``, ``client_id``, ``client_secret``, ``tenants``,
        ``faults``, ``log``, ``token_requests``, ``api_requests``, ``settings()``,
        ``reset_log()``, ``events()``, ``insert_events()``, ``delete_events()``, ``revoke_tokens()``.

    Raises
    ------
    TypeError
        An unknown fault option.
    ValueError
        An invalid fault value (unknown envelope, page or detail fault, negative numbers).
    OSError
        The port cannot be bound.
    """
    _run: Callable[..., AbstractContextManager[Sandbox]] = _server().run
    return _run(
        port=port, host=host, seed=seed, now=now, envelope=envelope, faults=faults, tenants=tenants, **fault_options
    )


def start(**options: Any) -> Sandbox:
    """Start a sandbox that serves until ``sb.stop()`` or the end of the process (no ``with`` block).

    For a notebook or an IPython session whose later cells use the sandbox: ``sb = sandbox.start()``.
    ``options`` are those of :func:`run`.
    """
    return run(**options).__enter__()


def serve(
    port: int = 8765,
    *,
    ready: Callable[[Sandbox], None] | None = None,
    **options: Any,
) -> None:
    """Serve the sandbox in the foreground until ``KeyboardInterrupt`` (which propagates).

    ``ready(sb)`` is called once the server listens (e.g. to print URLs and credentials);
    ``options`` are those of :func:`run`. Nothing is printed here.
    """
    with run(port=port, **options) as sb:
        if ready is not None:
            ready(sb)
        sb.wait()


def generate(
    seed: int | str = DEFAULT_SEED, tenants: Mapping[str, int] | None = None, *, detail: bool = True
) -> dict[str, list[dict[str, Any]]]:
    """The sandbox's data: tenant code -> events in listing order; see ``data``.

    ``detail=True`` (default): the detail answers (``GET /api/1.0/event/{id}``: with ``contacts``,
    and ``eventDates`` that may carry more than the row's); ``detail=False``: the list rows, the
    exact objects the listing sends.
    """
    _needs_extra()
    from .data import generate as _generate

    return _generate(seed, tenants, detail=detail)


#: What to install when the sandbox's web stack is missing.
INSTALL_HINT = "pip install 'engagifii-data[sandbox]'"


def _needs_extra() -> None:
    """Raise ImportError naming the install command when Flask, joserfc or Faker are missing."""
    import importlib.util

    missing = [name for name in ("flask", "authlib", "joserfc", "faker") if importlib.util.find_spec(name) is None]
    if missing:
        raise ImportError(
            f"the sandbox needs {', '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} not installed: "
            f"{INSTALL_HINT}"
        )


def _server() -> Any:
    _needs_extra()
    from . import server

    return server


def __getattr__(name: str) -> Any:
    if name == "Sandbox":
        return _server().Sandbox
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
