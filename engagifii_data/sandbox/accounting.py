"""Every request's bookkeeping and injected faults: counters, latency, API checks, the log, error answers."""

from __future__ import annotations

import json
import logging
import socket
import time
import uuid
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from .identity import _authenticate
from .wire import _ApiError, _error_response

if TYPE_CHECKING:
    from .state import _State

logger = logging.getLogger("engagifii_data.sandbox")

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


def _api_preamble(state: _State) -> None:
    faults = state.faults
    if state.rate_limited():
        g.fault = "rate_limit"
        raise _ApiError(
            429, "RATE_LIMITED", "Too many requests; retry later", headers={"Retry-After": str(faults.retry_after)}
        )
    _authenticate(state)
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


def install_accounting(app: Flask, state: _State) -> None:
    """Count, slow down, check, log and answer errors for every request *app* serves for *state*."""

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
            _api_preamble(state)
        except _ApiError as err:
            return _error_response(err)
        return None

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
