"""Unit tests of reading answers and pacing: error bodies, Retry-After, adaptive concurrency, spacing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from requests.structures import CaseInsensitiveDict

from engagifii_data.auth import effective_margin
from engagifii_data.exceptions import (
    BadRequestError,
    RateLimitError,
    ServerError,
    TenantNotFoundError,
)
from engagifii_data.pacing import AdaptiveConcurrency, RateLimiter
from engagifii_data.responses import error_from_answer, parse_error_body, parse_retry_after


def response(status: int, body: Any, content_type: str = "application/json", **headers: str) -> dict[str, Any]:
    """An answer as the transport hands it over: status, body bytes, headers."""
    raw = (json.dumps(body) if not isinstance(body, str) else body).encode("utf-8")
    return {"status": status, "body": raw, "headers": CaseInsensitiveDict({"Content-Type": content_type, **headers})}


def error_from_response(answer: dict[str, Any], path: str, tenant: str | None = None) -> Any:
    return error_from_answer(answer["status"], answer["body"], answer["headers"], path, tenant)


def parse(answer: dict[str, Any]) -> dict[str, Any]:
    return parse_error_body(answer["body"], answer["headers"])


def test_documented_envelope() -> None:
    body = {
        "error": {
            "code": "MISSING_TENANT",
            "message": "Tenant code header is required",
            "details": None,
            "traceId": "abc123",
            "path": "/api/1.0/event/list",
            "method": "POST",
        }
    }
    err = error_from_response(response(400, body), "/api/1.0/event/list")
    assert isinstance(err, BadRequestError)
    assert (err.status, err.code, err.trace_id) == (400, "MISSING_TENANT", "abc123")
    assert "Tenant code header is required" in str(err)


def test_oauth_error_shape() -> None:
    info = parse(response(401, {"error": "invalid_token", "error_description": "The access token expired"}))
    assert info["code"] == "invalid_token"
    assert info["message"] == "The access token expired"


def test_problem_details_shape() -> None:
    body = {
        "type": "https://tools.ietf.org/html/rfc7231#section-6.5.1",
        "title": "One or more validation errors.",
        "status": 400,
        "traceId": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "errors": {"PageSize": ["must be >= 1"]},
    }
    info = parse(response(400, body, "application/problem+json"))
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
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") is None  # in the past: no wait
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now=1445412480.0) == 30
    for useless in ("0", "-5", "nan", "inf", "", "1e999"):
        assert parse_retry_after(useless) is None


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


@pytest.mark.parametrize(
    ("wait", "text"),
    [
        (0.0, "now"),
        (0.04, "now"),
        (0.05, "in 0.1 s"),
        (0.44, "in 0.4 s"),
        (1.0, "in 1 s"),
        (2.4, "in 2 s"),
        (30, "in 30 s"),
    ],
)
def test_a_retry_notice_reads_as_a_person_would_say_it(wait: float, text: str) -> None:
    from engagifii_data.transport.policy import RetryNotice

    notice = RetryNotice(path="/api/1.0/event/list", page=3, reason="HTTP 503", wait=wait, attempt=1)
    assert str(notice) == f"retrying page 3 {text}: HTTP 503"
