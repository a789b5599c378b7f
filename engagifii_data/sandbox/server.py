"""The sandbox's web server: an IdentityServer4 look-alike and the Events API in one Flask app.

Identity is authlib's OAuth 2.0 authorization server (client-credentials grant, HTTP Basic or form
client authentication) issuing RFC 9068 JWT access tokens signed RS256 with a joserfc RSA key; the
API verifies them with joserfc. Served by werkzeug's threaded server on 127.0.0.1 in a daemon
thread. See the package docstring for the contract.
"""

from __future__ import annotations

import bisect
import hmac
import json
import logging
import math
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from contextlib import suppress
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from flask import Flask, Response, g, request
from joserfc import jwt
from joserfc.errors import BadSignatureError, ExpiredTokenError, JoseError
from joserfc.jwk import KeySet, RSAKey
from werkzeug.exceptions import HTTPException
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from ..config import Settings
from . import data
from .constants import CLIENT_ID, CLIENT_SECRET, DEFAULT_NOW, DEFAULT_SEED, SCOPE, TENANTS
from .faults import Faults

logger = logging.getLogger("engagifii_data.sandbox")

Event = dict[str, Any]
DEFAULT_PAGE_SIZE = 10
AZURE_503 = """<!DOCTYPE html>
<html>
<head><title>Service Unavailable</title>
<style>body{font-family:Segoe UI,Arial;margin:40px}h1{color:#0072c6}</style></head>
<body>
<h1>Service Unavailable</h1>
<p>The service is unavailable.</p>
<p>HTTP Error 503. The application is temporarily unable to serve requests
(Azure App Service: the worker process is restarting or the site is being scaled).</p>
</body>
</html>
"""


@lru_cache(maxsize=1)
def signing_key() -> RSAKey:
    """The RS256 signing key (generated once per process)."""
    return RSAKey.generate_key(2048, parameters={"kid": "sandbox-rs256", "use": "sig", "alg": "RS256"})


def _json_bytes(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(_json_bytes(obj), status=status, headers=headers, content_type="application/json; charset=utf-8")


def _utc_stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _spread(rows: list[Event], n: int) -> list[Event]:
    """*n* of *rows* spread evenly through them (all of them if *n* >= their number), in order."""
    if n >= len(rows):
        return list(rows)
    return [rows[(i + 1) * len(rows) // (n + 1) - 1] for i in range(n)]


class _ApiError(Exception):
    def __init__(
        self, status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details
        self.headers = headers or {}


class _Client(ClientMixin):  # type: ignore[misc]  # authlib has no type information
    """The one confidential client the identity server knows."""

    def get_client_id(self) -> str:
        return CLIENT_ID

    def get_default_redirect_uri(self) -> str | None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        if not scope:
            return SCOPE
        return " ".join(s for s in scope.split() if s == SCOPE)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(client_secret.encode("utf-8"), CLIENT_SECRET.encode("utf-8"))

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"


class _ClientCredentialsGrant(grants.ClientCredentialsGrant):  # type: ignore[misc]  # authlib has no type information
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]  # noqa: RUF012


class _TokenGenerator(JWTBearerTokenGenerator):  # type: ignore[misc]  # authlib has no type information
    """RFC 9068 JWT access tokens; lifetime from the faults, jti recorded for revocation."""

    def __init__(self, state: _State) -> None:
        super().__init__(
            issuer="", alg="RS256", expires_generator=lambda client, grant_type: state.faults.token_lifetime
        )
        self.state = state

    def get_jwks(self) -> KeySet:
        return KeySet([signing_key()])  # a key set, so the JWT header names the ``kid``

    def get_jti(self, client: Any, grant_type: str, user: Any, scope: str) -> str:
        jti = uuid.uuid4().hex
        with self.state.lock:
            self.state.issued_jtis.add(jti)
        return jti

    def get_extra_claims(self, client: Any, grant_type: str, user: Any, scope: str) -> dict[str, Any]:
        return {"nbf": int(time.time())}


class _State:
    """Everything mutable a running sandbox shares between its request threads (one lock)."""

    def __init__(
        self, seed: int | str, now: datetime, faults: Faults, tenants: Mapping[str, int] | None = None
    ) -> None:
        self.lock = getattr(self, "lock", None) or threading.RLock()
        #: counts resets: requests still in flight from before the last reset are not logged
        self.generation: int = getattr(self, "generation", 0) + 1
        self.custom_tenants = dict(tenants) if tenants is not None else None
        self.tenant_codes: tuple[str, ...] = tuple(TENANTS if tenants is None else tenants)
        self.seed, self.now, self.faults = seed, now, faults
        self.issuer = ""
        #: tenant -> list rows in listing order; ``keys`` their sort keys; ``by_id`` id -> detail answer
        self.events: dict[str, list[Event]] = {}
        self.keys: dict[str, list[tuple[datetime, str]]] = {}
        self.by_id: dict[str, dict[str, Event]] = {}
        self.ends: dict[str, datetime] = {}
        table = tuple((TENANTS if tenants is None else tenants).items())
        for code, records in data.shared(seed, table).items():
            self.events[code] = [r.row for r in records]
            self.keys[code] = [data.sort_key(r.row) for r in records]
            self.by_id[code] = {r.row["id"]: r.detail for r in records}
            self.ends.update((r.row["id"], data.end_instant(r.row)) for r in records)
        self.row_json: dict[str, dict[str, bytes]] = {code: {} for code in self.events}
        self.log: list[dict[str, Any]] = []
        self.token_requests = 0
        self.api_requests = 0
        self.rate_count = 0
        self.rate_every_seen = 0
        self.attempted_pages: set[tuple[str, int]] = set()
        self.attempted_details: set[tuple[str, str]] = set()
        self.inserted_after_first: set[str] = set()
        self.served_pages: dict[tuple[Any, ...], set[int]] = {}
        self.deleted_after_listing: set[str] = set()
        self.insert_serial: dict[str, int] = {}
        self.issued_jtis: set[str] = set()
        self.revoked_jtis: set[str] = set()

    def insert(self, tenant: str, n: int) -> list[Event]:
        """Insert *n* new events into *tenant*, after existing events spread through the listing."""
        with self.lock:
            events = self.events[tenant]
            serial = self.insert_serial.get(tenant, 0) + 1
            self.insert_serial[tenant] = serial
            anchors = [events[(i + 1) * len(events) // (n + 1) - 1] for i in range(n)] if events else []
            new = data.make_inserted(self.seed, tenant, serial, anchors, n)
            for record in new:
                event = record.row
                key = data.sort_key(event)
                pos = bisect.bisect(self.keys[tenant], key)
                self.keys[tenant].insert(pos, key)
                events.insert(pos, event)
                self.by_id[tenant][event["id"]] = record.detail
                self.ends[event["id"]] = data.end_instant(event)
            inserted: list[Event] = json.loads(_json_bytes([r.detail for r in new]))
            return inserted

    def delete(self, tenant: str, ids: list[str]) -> list[Event]:
        """Remove the events *ids* from *tenant* (listing and detail); return their detail answers."""
        with self.lock:
            by_id = self.by_id[tenant]
            unknown = [i for i in ids if i not in by_id]
            if unknown:
                raise KeyError(f"no such event in {tenant}: {', '.join(unknown)}")
            gone = set(ids)
            keep = [i for i, e in enumerate(self.events[tenant]) if e["id"] not in gone]
            self.events[tenant] = [self.events[tenant][i] for i in keep]
            self.keys[tenant] = [self.keys[tenant][i] for i in keep]
            removed = [by_id.pop(i) for i in dict.fromkeys(ids)]
            for i in gone:
                self.row_json[tenant].pop(i, None)
                self.ends.pop(i, None)
            deleted: list[Event] = json.loads(_json_bytes(removed))
            return deleted

    def listing_served(self, tenant: str, view: tuple[Any, ...], page: int, pages: int, rows: list[Event]) -> None:
        """Record that *page* of one view of *tenant*'s listing was served (``delete_after_listing``).

        Once every page 1..*pages* of that view has been served, ``delete_after_listing`` events of
        *rows* (the view's rows, spread through it) are deleted, once per tenant.
        """
        n = self.faults.delete_after_listing
        if n <= 0:
            return
        with self.lock:
            if tenant in self.deleted_after_listing:
                return
            served = self.served_pages.setdefault((tenant, *view), set())
            served.add(page)
            if not served.issuperset(range(1, pages + 1)):
                return
            self.deleted_after_listing.add(tenant)
            self.delete(tenant, [e["id"] for e in _spread(rows, n) if e["id"] in self.by_id[tenant]])

    def row_bytes(self, tenant: str, event: Event) -> bytes:
        """The list-row JSON of *event*, encoded once (events are never changed in place)."""
        cache = self.row_json[tenant]
        raw = cache.get(event["id"])
        if raw is None:
            raw = cache[event["id"]] = _json_bytes(event)
        return raw

    def rate_limited(self) -> bool:
        with self.lock:
            every = self.faults.rate_limit_every
            if every != self.rate_every_seen:
                self.rate_every_seen, self.rate_count = every, 0
            if every <= 0:
                return False
            self.rate_count += 1
            return self.rate_count % every == 0


def _oauth_error(status: int, error: str, description: str) -> Response:
    return _json_response(
        {"error": error, "error_description": description}, status, {"Cache-Control": "no-store", "Pragma": "no-cache"}
    )


def _parse_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _parse_list_body(raw: bytes) -> dict[str, Any]:
    """Validate the list filter body; property names are case-insensitive, unknown ones ignored."""
    body: Any = {}
    if raw.strip():
        try:
            body = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise _ApiError(
                400, "VALIDATION_ERROR", "The request body is not valid JSON", [{"field": "body", "message": str(exc)}]
            ) from None
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise _ApiError(
            400,
            "VALIDATION_ERROR",
            "The request body must be a JSON object",
            [{"field": "body", "message": "Expected a JSON object"}],
        )
    low = {str(k).lower(): v for k, v in body.items()}
    errors: list[dict[str, str]] = []

    def integer(names: tuple[str, ...], field: str, default: int) -> int:
        for name in names:
            value = low.get(name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int):
                errors.append({"field": field, "message": f"The value {value!r} is not a valid integer"})
                return default
            if value < 1:
                errors.append({"field": field, "message": f"{field} must be greater than or equal to 1"})
            return value
        return default

    page = integer(("pagenumber",), "PageNumber", 1)
    size = integer(("pagesize", "itemcount"), "PageSize", DEFAULT_PAGE_SIZE)
    upcoming_raw = low.get("onlyupcoming")
    upcoming = False if upcoming_raw is None else _parse_bool(upcoming_raw)
    if upcoming is None:
        errors.append({"field": "OnlyUpcoming", "message": f"The value {upcoming_raw!r} is not a valid boolean"})
    asc_raw = low.get("isascending")
    ascending = True if asc_raw is None else _parse_bool(asc_raw)
    if ascending is None:
        errors.append({"field": "IsAscending", "message": f"The value {asc_raw!r} is not a valid boolean"})
    if errors:
        raise _ApiError(400, "VALIDATION_ERROR", "One or more validation errors occurred", errors)
    text = low.get("text")
    filter_body = low.get("filterbody")
    if not text and isinstance(filter_body, dict):
        text = {str(k).lower(): v for k, v in filter_body.items()}.get("searchtext")
    sort_by = low.get("sortby")
    return {
        "page": page,
        "size": size,
        "upcoming": bool(upcoming),
        "text": text.strip() if isinstance(text, str) and text.strip() else None,
        "sort_by": sort_by.lower() if isinstance(sort_by, str) else None,
        "ascending": bool(ascending),
    }


def create_app(state: _State) -> Flask:
    """Build the Flask app serving identity and the Events API for *state*."""
    # authlib's server-side grants log every issued token at DEBUG ("Issue token {...}"): with
    # the sandbox in-process, `engagifii-data --debug` would print tokens. Keep those loggers quiet.
    logging.getLogger("authlib.oauth2").setLevel(max(logging.INFO, logging.getLogger("authlib.oauth2").level))
    app = Flask("engagifii_data.sandbox")
    app.config["OAUTH2_SCOPES_SUPPORTED"] = [SCOPE]
    oauth = AuthorizationServer(
        app, query_client=lambda cid: _Client() if cid == CLIENT_ID else None, save_token=lambda token, req: None
    )
    oauth.register_grant(_ClientCredentialsGrant)
    generator = _TokenGenerator(state)
    oauth.register_token_generator("default", generator)
    app.extensions["engagifii_token_generator"] = generator

    @app.before_request
    def _before() -> Response | None:
        g.start = time.monotonic()
        g.generation = state.generation
        g.trace_id = uuid.uuid4().hex
        g.tenant = g.page = g.page_size = g.fault = None
        is_api = request.path.startswith("/api/")
        with state.lock:
            if request.path == "/connect/token" and request.method == "POST":
                state.token_requests += 1
            elif is_api:
                state.api_requests += 1
        if state.faults.latency > 0:
            time.sleep(state.faults.latency)
        if g.generation != state.generation:  # reset() ran meanwhile: this request belongs to the past
            return Response(b"", status=503)
        if not is_api:
            return None
        try:
            _api_preamble()
        except _ApiError as err:
            return _error_response(err)
        return None

    def _api_preamble() -> None:
        faults = state.faults
        if state.rate_limited():
            g.fault = "rate_limit"
            raise _ApiError(
                429, "RATE_LIMITED", "Too many requests; retry later", headers={"Retry-After": str(faults.retry_after)}
            )
        _authenticate()
        version = request.headers.get("api-version")
        if version is not None and version.strip() != "1.0":
            raise _ApiError(
                400, "UNSUPPORTED_API_VERSION", f"The API version '{version}' is not supported; supported versions: 1.0"
            )
        tenant = (request.headers.get("tenant-code") or "").strip()
        if not tenant:
            raise _ApiError(400, "MISSING_TENANT", "Tenant code header is required")
        g.tenant = tenant
        if tenant not in state.events:
            raise _ApiError(404, "TENANT_NOT_FOUND", f"Tenant '{tenant}' was not found")

    def _fault_response(fault: str) -> Response:
        """The ``html503`` or ``drop`` answer of a page or detail fault."""
        g.fault = fault
        if fault == "html503":
            return Response(AZURE_503, status=503, content_type="text/html; charset=utf-8")
        sock = request.environ.get("werkzeug.socket")
        if sock is not None:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        return Response(b"", status=500)

    def _unauthorized(description: str) -> _ApiError:
        return _ApiError(
            401,
            "invalid_token",
            description,
            headers={"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{description}"'},
        )

    def _authenticate() -> None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise _unauthorized("The access token is missing")
        if state.faults.reject_tokens:
            g.fault = "reject_tokens"
            raise _unauthorized("The access token is invalid")
        try:
            decoded = jwt.decode(token, signing_key(), algorithms=["RS256"])
        except BadSignatureError:
            raise _unauthorized("The signature is invalid") from None
        except (JoseError, ValueError, TypeError):
            raise _unauthorized("The access token is malformed") from None
        registry = jwt.JWTClaimsRegistry(iss={"essential": True, "value": state.issuer}, exp={"essential": True})
        try:
            registry.validate(decoded.claims)
        except ExpiredTokenError:
            raise _unauthorized("The access token expired") from None
        except JoseError as exc:
            raise _unauthorized(f"The access token is invalid: {exc.description or exc}") from None
        with state.lock:
            revoked = decoded.claims.get("jti") in state.revoked_jtis
        if revoked:
            raise _unauthorized("The access token expired")
        if SCOPE not in str(decoded.claims.get("scope", "")).split():
            raise _ApiError(403, "FORBIDDEN", f"The access token lacks the {SCOPE} scope")

    def _error_response(err: _ApiError) -> Response:
        headers = {"X-Request-Id": g.trace_id, **err.headers}
        if err.code == "invalid_token":
            return _json_response({"error": "invalid_token", "error_description": err.message}, err.status, headers)
        body = {
            "error": {
                "code": err.code,
                "message": err.message,
                "details": err.details,
                "timestamp": _utc_stamp(),
                "traceId": g.trace_id,
                "path": request.path,
                "method": request.method,
            }
        }
        return _json_response(body, err.status, headers)

    @app.after_request
    def _after(response: Response) -> Response:
        response.headers.setdefault("X-Request-Id", g.get("trace_id", ""))
        path = request.path
        kind = "token" if path == "/connect/token" else "api" if path.startswith("/api/") else "other"
        if kind == "other":
            return response
        raw = request.get_data(cache=True)
        body: Any = None
        if request.mimetype == "application/x-www-form-urlencoded":
            body = request.form.to_dict()
        elif raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
        record = {
            "kind": kind,
            "method": request.method,
            "path": path,
            "status": 0 if g.get("fault") == "drop" else response.status_code,
            "headers": {k.lower(): v for k, v in request.headers.items()},
            "body": body,
            "tenant": g.get("tenant"),
            "page": g.get("page"),
            "page_size": g.get("page_size"),
            "fault": g.get("fault"),
            "time": g.get("start"),
            "trace_id": g.get("trace_id"),
        }
        with state.lock:
            if g.get("generation") == state.generation:  # a request that began before reset() is not logged
                state.log.append(record)
        return response

    @app.errorhandler(_ApiError)
    def _on_api_error(err: _ApiError) -> Response:
        return _error_response(err)

    @app.errorhandler(HTTPException)
    def _on_http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(status, "HTTP_ERROR")
        return _error_response(_ApiError(status, code, exc.description or exc.name))

    @app.errorhandler(Exception)
    def _on_crash(exc: Exception) -> Response:  # pragma: no cover - a bug in the sandbox
        logger.exception("sandbox request failed")
        return _error_response(_ApiError(500, "INTERNAL_ERROR", "An unexpected error occurred"))

    # -- identity ------------------------------------------------------------------------
    @app.post("/connect/token")
    def token() -> Response:
        if request.mimetype != "application/x-www-form-urlencoded":
            return _oauth_error(400, "invalid_request", "The request body must be application/x-www-form-urlencoded")
        grant_type = request.form.get("grant_type")
        if not grant_type:
            return _oauth_error(400, "invalid_request", "grant_type is missing")
        if grant_type != "client_credentials":
            return _oauth_error(
                400, "unsupported_grant_type", f"The grant type '{grant_type}' is not supported; use client_credentials"
            )
        response: Response = oauth.create_token_response()
        if response.status_code == 401 and request.authorization is None:
            # IdentityServer4 answers 400 invalid_client when the client authenticated in the form
            response.status_code = 400
            response.headers.pop("WWW-Authenticate", None)
        return response

    @app.get("/.well-known/openid-configuration")
    def discovery() -> Response:
        base = state.issuer
        return _json_response(
            {
                "issuer": base,
                "jwks_uri": f"{base}/.well-known/openid-configuration/jwks",
                "token_endpoint": f"{base}/connect/token",
                "grant_types_supported": ["client_credentials"],
                "scopes_supported": [SCOPE],
                "response_types_supported": ["token"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "claims_supported": ["iss", "exp", "iat", "nbf", "scope", "client_id", "jti", "sub", "aud"],
            }
        )

    @app.get("/.well-known/openid-configuration/jwks")
    def jwks() -> Response:
        return _json_response({"keys": [signing_key().as_dict(private=False)]})

    # -- events API ----------------------------------------------------------------------
    @app.post("/api/1.0/event/list")
    def event_list() -> Response:
        tenant: str = g.tenant
        args = _parse_list_body(request.get_data(cache=True))
        faults = state.faults
        page, size = args["page"], min(args["size"], faults.max_page_size)
        g.page, g.page_size = page, size
        if faults.fail_from_page is not None and page >= faults.fail_from_page:
            g.fault = "fail_from_page"
            raise _ApiError(500, "INTERNAL_ERROR", "An unexpected error occurred while listing events")
        fault = None
        with state.lock:
            if (tenant, page) not in state.attempted_pages:
                state.attempted_pages.add((tenant, page))
                fault = faults.page_faults.get(page)
        if fault in ("html503", "drop"):
            return _fault_response(fault)
        with state.lock:
            rows = list(state.events[tenant])
        if args["upcoming"]:
            rows = [e for e in rows if state.ends[e["id"]] >= state.now]
        if args["text"]:
            needle = args["text"].casefold()
            rows = [e for e in rows if needle in str(e.get("name") or "").casefold()]
        if args["sort_by"] == "name":
            rows.sort(key=lambda e: (str(e.get("name") or "").casefold(), e["id"]))
        if not args["ascending"]:
            rows.reverse()
        total = len(rows)
        served = 1 if faults.ignore_page_number else page
        # rows encoded once per event and joined: the same bytes as encoding the whole payload
        chunk = b"[" + b",".join(state.row_bytes(tenant, e) for e in rows[(served - 1) * size : served * size]) + b"]"
        if faults.envelope == "docs":
            body = b'{"totalCount":' + str(total).encode() + b',"data":' + chunk + b"}"
        else:
            paging = _json_bytes(
                {
                    "totalRecords": total,
                    "pageNumber": page,
                    "pageSize": size,
                    "totalPages": math.ceil(total / size) if total else 0,
                }
            )
            body = b'{"collection":' + chunk + b',"pagingModel":' + paging + b"}"
        if fault != "truncate":
            view = (size, args["upcoming"], args["text"], args["sort_by"], args["ascending"])
            state.listing_served(tenant, view, page, math.ceil(total / size), rows)
        if page == 1 and faults.insert_after_first_page > 0:
            with state.lock:
                first = tenant not in state.inserted_after_first
                state.inserted_after_first.add(tenant)
            if first:
                state.insert(tenant, faults.insert_after_first_page)
        if fault == "truncate":
            g.fault = fault
            body = body[: len(body) // 2]
        return Response(body, status=200, content_type="application/json; charset=utf-8")

    @app.get("/api/1.0/event/<event_id>")
    def event_detail(event_id: str) -> Response:
        tenant: str = g.tenant
        eid = event_id.strip().lower()
        fault = None
        with state.lock:
            if (tenant, eid) not in state.attempted_details:
                state.attempted_details.add((tenant, eid))
                detail_faults = state.faults.detail_faults
                fault = detail_faults.get(eid, detail_faults.get("*"))
            event = state.by_id[tenant].get(eid)
        if fault in ("html503", "drop"):
            return _fault_response(fault)
        if event is None:
            raise _ApiError(404, "NOT_FOUND", f"Event '{event_id}' was not found")
        body = _json_bytes(event)
        if fault == "truncate":
            g.fault = fault
            body = body[: len(body) // 2]
        return Response(body, status=200, content_type="application/json; charset=utf-8")

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
