"""The sandbox's web server: an IdentityServer4 look-alike and the Events API in one Flask app.

Identity is authlib's OAuth 2.0 authorization server (client-credentials grant, HTTP Basic or form
client authentication) issuing RFC 9068 JWT access tokens signed RS256 with a joserfc RSA key; the
API verifies them with joserfc. Served by werkzeug's threaded server on 127.0.0.1 in a daemon
thread. See the package docstring for the contract.

This module assembles and runs the app (:func:`create_app`, :class:`Sandbox`, :func:`run`); the
parts are ``identity`` (token endpoint, JOSE), ``events_api`` (the routes), ``accounting`` (request
counting, the log, injected faults, error answers), ``state`` (what a running sandbox remembers)
and ``wire`` (JSON and the error envelope).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from ..config import Settings
from .accounting import install_accounting
from .constants import CLIENT_ID, CLIENT_SECRET, DEFAULT_NOW, DEFAULT_SEED
from .events_api import register_events_api
from .faults import Faults
from .identity import register_identity
from .state import _spread, _State
from .wire import Event, _json_bytes

logger = logging.getLogger("engagifii_data.sandbox")


def create_app(state: _State) -> Flask:
    """Build the Flask app serving identity and the Events API for *state*."""
    app = Flask("engagifii_data.sandbox")
    register_identity(app, state)
    install_accounting(app, state)
    register_events_api(app, state)
    return app


class _QuietHandler(WSGIRequestHandler):
    """werkzeug's handler without the per-request access log on stderr."""

    def log(self, type: str, message: str, *args: Any) -> None:
        if type == "error":
            logger.debug("werkzeug: " + message, *args)


class Sandbox:
    """A running sandbox (yielded by :func:`run`). See the package docstring for the contract."""

    def __init__(self, server: BaseWSGIServer, state: _State, host: str) -> None:
        self._server = server
        self._running: Running | None = None
        self._state = state
        self.host = host
        self.port: int = server.server_port
        self.identity_url = f"http://{host}:{self.port}"
        self.api_url = self.identity_url
        self.client_id = CLIENT_ID
        self.client_secret = CLIENT_SECRET
        self.seed = state.seed
        self.now = state.now

    def __repr__(self) -> str:
        return f"<Sandbox {self.api_url} tenants={list(self.tenants)}>"

    @property
    def faults(self) -> Faults:
        """The live :class:`Faults`; change fields while the server runs."""
        return self._state.faults

    @property
    def token_url(self) -> str:
        return f"{self.identity_url}/connect/token"

    @property
    def tenants(self) -> dict[str, int]:
        """Tenant code -> current number of events, largest (by design) first."""
        with self._state.lock:
            return {code: len(self._state.events[code]) for code in self._state.tenant_codes}

    @property
    def log(self) -> list[dict[str, Any]]:
        """The live list of request records (appended under a lock)."""
        return self._state.log

    @property
    def token_requests(self) -> int:
        return self._state.token_requests

    @property
    def api_requests(self) -> int:
        return self._state.api_requests

    def reset_log(self) -> None:
        """Clear the request log and zero ``token_requests`` and ``api_requests``."""
        with self._state.lock:
            self._state.log.clear()
            self._state.token_requests = 0
            self._state.api_requests = 0

    def events(self, tenant: str, *, detail: bool = False) -> list[Event]:
        """A copy of *tenant*'s current events in listing order (list rows, or detail answers if *detail*)."""
        with self._state.lock:
            rows = list(self._state.events[tenant])
            if detail:
                rows = [self._state.by_id[tenant][e["id"]] for e in rows]
        result: list[Event] = json.loads(_json_bytes(rows))
        return result

    def insert_events(self, tenant: str, n: int) -> list[Event]:
        """Insert *n* new events into *tenant* now (deterministic); return them (detail shape)."""
        return self._state.insert(tenant, n)

    def delete_events(self, tenant: str, which: int | Iterable[str]) -> list[Event]:
        """Delete events of *tenant* now: *which* is a count (spread through the listing) or ids.

        Deleted events leave the listing and their detail answers 404 ``NOT_FOUND``. Returns them
        (detail shape), in listing order for a count, in the given order for ids. An id that is
        not (or no longer) in the tenant raises ``KeyError`` and nothing is deleted.
        """
        state = self._state
        with state.lock:
            if isinstance(which, int):
                if which < 0:
                    raise ValueError(f"the number of events to delete must be >= 0, got {which}")
                ids = [e["id"] for e in _spread(state.events[tenant], which)]
            else:
                if isinstance(which, str):
                    raise TypeError("pass a list of ids, not one id string")
                ids = [str(i).strip().lower() for i in which]
            return state.delete(tenant, ids)

    def reset(self) -> None:
        """Back to how :func:`run` started it: seeded data, default faults, empty log, every token valid.

        The port, the signing key and the issuer stay; so does the seed (and a ``tenants`` table).
        A test suite can share one running sandbox and reset it before each test.
        """
        state = self._state
        with state.lock:
            issuer = state.issuer
            state.__init__(state.seed, state.now, Faults(), state.custom_tenants)  # type: ignore[misc]
            state.issuer = issuer

    def stop(self) -> None:
        """Stop serving (as leaving its ``with`` block does); a second call does nothing."""
        if self._running is not None:
            self._running.stop()

    def revoke_tokens(self) -> None:
        """Make every token issued so far invalid (401 ``invalid_token``, "The access token expired")."""
        with self._state.lock:
            self._state.revoked_jtis |= self._state.issued_jtis
            self._state.issued_jtis = set()

    def settings(self, **overrides: Any) -> Settings:
        """:class:`~engagifii_data.config.Settings` pointing at this sandbox."""
        values: dict[str, Any] = {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "tenant_codes": tuple(self.tenants),
            "identity_url": self.identity_url,
            "api_base_url": self.api_url,
        }
        values.update(overrides)
        return Settings(**values)

    def wait(self) -> None:
        """Block until interrupted (Ctrl-C raises ``KeyboardInterrupt`` in the caller)."""
        threading.Event().wait()


class Running:
    """A started sandbox's server thread: ``with run(...) as sb`` stops it at the end of the block.

    The :class:`Sandbox` it yields keeps a reference to it, so a sandbox entered without ``with``
    (``sb = run().__enter__()``, or :func:`start`) serves for as long as ``sb`` is referenced, until
    ``sb.stop()`` or the end of the process: it is never stopped by garbage collection.
    """

    def __init__(self, server: BaseWSGIServer, thread: threading.Thread, sandbox: Sandbox) -> None:
        self._server, self._thread, self._sandbox = server, thread, sandbox
        self._stopped = False
        self._lock = threading.Lock()

    def __enter__(self) -> Sandbox:
        return self._sandbox

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop serving and free the port (a second call does nothing)."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


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
) -> Running:
    """Serve the sandbox in a daemon thread, started now; stop it with ``with`` or ``sb.stop()``."""
    if envelope is not None:
        fault_options["envelope"] = envelope
    if faults is None:
        faults = Faults(**fault_options)
    else:
        for name, value in fault_options.items():
            if not hasattr(faults, name):
                raise TypeError(f"unknown fault option {name!r}")
            setattr(faults, name, value)
        faults.validate()
    clock = now or DEFAULT_NOW
    if clock.tzinfo is None:
        clock = clock.replace(tzinfo=UTC)
    if tenants is not None:
        bad = {c: n for c, n in tenants.items() if not c or not isinstance(n, int) or n < 0}
        if bad or not tenants:
            raise ValueError(f"tenants must map non-empty codes to counts >= 0, got {dict(tenants)!r}")
    state = _State(seed, clock.astimezone(UTC), faults, tenants)
    app = create_app(state)
    server = make_server(host, port, app, threaded=True, request_handler=_QuietHandler)
    state.issuer = f"http://{host}:{server.server_port}"
    app.extensions["engagifii_token_generator"].issuer = state.issuer
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name=f"engagifii-sandbox-{server.server_port}",
        daemon=True,
    )
    thread.start()
    sandbox = Sandbox(server, state, host)
    running = Running(server, thread, sandbox)
    sandbox._running = running
    return running
