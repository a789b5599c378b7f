"""How the sandbox's answers look on the wire: JSON bytes and the documented error envelope."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from flask import Response, g, request

Event = dict[str, Any]


def _json_bytes(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(_json_bytes(obj), status=status, headers=headers, content_type="application/json; charset=utf-8")


def _utc_stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class _ApiError(Exception):
    def __init__(
        self, status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details
        self.headers = headers or {}


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
