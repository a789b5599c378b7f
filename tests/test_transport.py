"""Unit tests of the transport's pure parts: error bodies, Retry-After, adaptive concurrency, spacing."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from engagifii_data.auth import effective_margin
from engagifii_data.exceptions import (
    BadRequestError,
    RateLimitError,
    ServerError,
    TenantNotFoundError,
)
from engagifii_data.pacing import AdaptiveConcurrency, RateLimiter
from engagifii_data.responses import error_from_response, parse_error_body, parse_retry_after


def response(status: int, body: Any, content_type: str = "application/json", **headers: str) -> requests.Response:
    r = requests.Response()
    r.status_code = status
    r._content = (json.dumps(body) if not isinstance(body, str) else body).encode("utf-8")
    r.headers["Content-Type"] = content_type
    r.headers.update(headers)
    r.encoding = "utf-8"
    return r


def test_documented_envelope() -> None:
    body = {"error": {"code": "MISSING_TENANT", "message": "Tenant code header is required",
                      "details": None, "traceId": "abc123", "path": "/api/1.0/event/list", "method": "POST"}}
    err = error_from_response(response(400, body), "/api/1.0/event/list")
    assert isinstance(err, BadRequestError)
    assert (err.status, err.code, err.trace_id) == (400, "MISSING_TENANT", "abc123")
    assert "Tenant code header is required" in str(err)


def test_oauth_error_shape() -> None:
    info = parse_error_body(response(401, {"error": "invalid_token", "error_description": "The access token expired"}))
    assert info["code"] == "invalid_token"
    assert info["message"] == "The access token expired"


def test_problem_details_shape() -> None:
    body = {"type": "https://tools.ietf.org/html/rfc7231#section-6.5.1", "title": "One or more validation errors.",
            "status": 400, "traceId": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "errors": {"PageSize": ["must be >= 1"]}}
    info = parse_error_body(response(400, body, "application/problem+json"))
    assert info["trace_id"] == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    assert info["message"] == "One or more validation errors."
    assert info["details"] == {"PageSize": ["must be >= 1"]}


def test_html_page_shape() -> None:
    html = "<html><head><title>503 Service Unavailable</title></head><body>Azure</body></html>"
    err = error_from_response(response(503, html, "text/html"), "/api/1.0/event/list")
    assert isinstance(err, ServerError)
    assert err.message == "503 Service Unavailable"
    assert err.code is None


def test_unknown_tenant_is_recognised_on_403_and_404() -> None:
    for status in (403, 404):
        body = {"error": {"code": "TENANT_NOT_FOUND", "message": "Unknown tenant", "traceId": "t"}}
        err = error_from_response(response(status, body), "/p", tenant="NOPE")
        assert isinstance(err, TenantNotFoundError)
        assert "NOPE" in str(err)


def test_rate_limit_error_carries_retry_after() -> None:
    err = error_from_response(response(429, {"error": {"code": "RATE_LIMITED"}}, **{"Retry-After": "7"}), "/p")
    assert isinstance(err, RateLimitError)
    assert err.retry_after == 7


def test_parse_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("3") == 3
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0  # in the past: no wait


def test_adaptive_concurrency_halves_after_429_and_recovers_up_to_the_ceiling() -> None:
    gate = AdaptiveConcurrency(8)
    for _ in range(8):
        gate.acquire()
    gate.release(429)  # 8 in flight when throttled
    assert (gate.limit, gate.ceiling) == (4, 7)
    for _ in range(7):
        gate.release(200)
    for _ in range(200):
        gate.acquire()
        gate.release(200)
    assert gate.limit == 7  # grew back, but never past one below what was refused
    gate.acquire()
    gate.release(429)  # throttled with a single request in flight: halve, keep the ceiling
    assert (gate.limit, gate.ceiling, gate.throttled) == (3, 7, 2)


def test_rate_limiter_spaces_requests() -> None:
    now = [0.0]
    waits: list[float] = []

    def sleep(s: float) -> None:
        waits.append(s)

    limiter = RateLimiter(120, clock=lambda: now[0], sleep=sleep)  # one every 0.5 s
    for _ in range(3):
        limiter.acquire()
    assert waits == [0.5, 1.0]


@pytest.mark.parametrize(("lifetime", "margin", "expected"), [(3600, 300, 300), (60, 300, 15), (10, 300, 2.5)])
def test_renewal_margin_is_clamped_for_short_tokens(lifetime: float, margin: float, expected: float) -> None:
    assert effective_margin(lifetime, margin) == expected


def test_a_throttled_or_failing_token_endpoint_is_retryable_not_an_auth_failure() -> None:
    from engagifii_data.auth import _check_token_response

    with pytest.raises(RateLimitError) as info:
        _check_token_response(response(429, "slow down", "text/plain", **{"Retry-After": "4"}))
    assert info.value.retry_after == 4
    with pytest.raises(ServerError):
        _check_token_response(response(503, "<html><title>503</title></html>", "text/html"))
    ok = response(400, {"error": "invalid_client"})
    assert _check_token_response(ok) is ok


def test_token_throttling_is_waited_out_under_the_retry_policy() -> None:
    from engagifii_data.config import Settings
    from engagifii_data.transport import Stats, Transport

    class Tokens:
        def __init__(self) -> None:
            self.calls = 0
            self.current = None

        def get(self) -> str:
            self.calls += 1
            if self.calls == 1:
                raise RateLimitError(429, None, "busy", None, "/connect/token", retry_after=3)
            if self.calls == 2:
                raise ServerError(503, None, "down", None, "/connect/token")
            return "token"

        def close(self) -> None:
            pass

    waits: list[float] = []
    settings = Settings(client_id="c", client_secret="s", tenant_codes=("T",),
                        identity_url="http://127.0.0.1:1", api_base_url="http://127.0.0.1:1")
    tokens = Tokens()
    transport = Transport(settings, tokens, Stats(), sleep=waits.append)  # type: ignore[arg-type]
    assert transport._with_retries(transport._token) == "token"
    assert tokens.calls == 3
    assert waits[0] == 3 and len(waits) == 2
    tokens.calls = 0
    capped = Settings(client_id="c", client_secret="s", tenant_codes=("T",), retry_after_cap=2,
                      identity_url="http://127.0.0.1:1", api_base_url="http://127.0.0.1:1")
    transport = Transport(capped, tokens, Stats(), sleep=waits.append)  # type: ignore[arg-type]
    with pytest.raises(RateLimitError):
        transport._with_retries(transport._token)
