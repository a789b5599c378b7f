"""How answers and settings are read: each rule one mechanism, tested with several shapes of input.

Sections follow the rules (README, "Security and failure modes"):

1. linear-time scans of server bodies     5. secrets redacted from every text shown
2. the charset of JSON answers            6. no proxy for loopback addresses
3. numbers in answers                     7. the connect timeout within the deadline
4. the token's lifetime                   8. settings: finite, non-negative, named as spelled

Pathological inputs are run on a thread under a generous limit (:func:`completes`): the assertion is
that they finish at all, never how fast.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from engagifii_data import EngagifiiClient, Settings
from engagifii_data.exceptions import ApiError, TransportError
from engagifii_data.responses import MAX_JSON_DEPTH, decode_json, json_depth, parse_error_body

from .helpers import SleepRecorder
from .hostile_server import Answer, HostileServer, token_answer

SECRET = "s3cret-CANARY"
TOKEN_PATH = "/connect/token"
LIST_PATH = "/api/1.0/event/list"
MB = 1_000_000
#: Seconds a pathological input may take before the test calls it a hang (a quadratic scan of
#: 5 MB takes hours; a linear one well under a second).
HANG = 60.0


@pytest.fixture
def hs() -> Iterator[HostileServer]:
    with HostileServer() as server:
        yield server


def settings_for(hs: HostileServer, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "client_id": "c",
        "client_secret": SECRET,
        "tenant_codes": ("T1",),
        "identity_url": hs.url,
        "api_base_url": hs.url,
        "connect_timeout": 1.0,
        "read_timeout": 3.0,
        "max_attempts": 1,
        "backoff": 0.0,
        "backoff_max": 0.0,
    }
    values.update(overrides)
    return Settings(**values)


def client_for(hs: HostileServer, **overrides: Any) -> EngagifiiClient:
    return EngagifiiClient(settings_for(hs, **overrides), sleep=SleepRecorder())


def completes(fn: Callable[[], Any], limit: float = HANG) -> Any:
    """``fn()`` on a thread; fails the test when it is still running after ``limit`` seconds.

    Returns what ``fn`` returned, or the exception it raised (as a value, for the caller to check).
    """
    result: list[Any] = []

    def target() -> None:
        try:
            result.append(fn())
        except BaseException as exc:
            result.append(exc)

    thread = threading.Thread(target=target, name="completes", daemon=True)
    thread.start()
    thread.join(limit)
    if thread.is_alive():
        pytest.fail(f"still running after {limit:.0f} s: a scan of the body is not linear")
    return result[0]


# --------------------------------------------------------------------------------------------------
# 1. Linear-time scans of server bodies
# --------------------------------------------------------------------------------------------------

#: ~5 MB bodies that made a backtracking scan rescan the rest of the body from every position.
PATHOLOGICAL_JSON = {
    "open brackets": b"[" * (5 * MB),
    "open objects": b'{"a":' * MB,
    "escaped quotes, never closed": b"[" * (MAX_JSON_DEPTH + 1) + b'"\\' * (5 * MB // 2),
    "quotes only": b"[" * (MAX_JSON_DEPTH + 1) + b'"' * (5 * MB),
    "backslashes only": b"[" * (MAX_JSON_DEPTH + 1) + b'"' + b"\\" * (5 * MB),
    "strings between brackets": b'["\\"",' * MB,
}


@pytest.mark.parametrize("body", PATHOLOGICAL_JSON.values(), ids=PATHOLOGICAL_JSON.keys())
def test_json_depth_and_decoding_are_linear(body: bytes) -> None:
    depth = completes(lambda: json_depth(body))
    assert isinstance(depth, int)
    outcome = completes(lambda: decode_json(body))
    assert isinstance(outcome, ValueError)  # too deep or not JSON: refused, never a hang


def test_depth_ignores_brackets_in_strings_and_counts_the_rest() -> None:
    assert json_depth(b'["' + b"[" * 100 + b'"]') == 1  # the brackets in the string do not count
    nested = b"[" * 70 + b'"[[[\\"]]]"' + b"]" * 70
    assert json_depth(nested) == 70
    assert json_depth(b"[" * 70 + b'"unterminated [[[[') == 70


#: ~5 MB error pages whose ``<title`` search rescanned the page from every candidate.
PATHOLOGICAL_HTML = {
    "<title repeated": b"<title" * (5 * MB // 6),
    "<title> repeated": b"<title>" * (5 * MB // 7),
    "< repeated": b"<" * (5 * MB),
    "<title then no end": b"<html><title>" + b"x" * (5 * MB),
    "</title> repeated": b"<" + b"</title>" * (5 * MB // 8),
}


@pytest.mark.parametrize("body", PATHOLOGICAL_HTML.values(), ids=PATHOLOGICAL_HTML.keys())
def test_error_page_title_search_is_linear(body: bytes) -> None:
    info = completes(lambda: parse_error_body(body, {"Content-Type": "text/html"}))
    assert isinstance(info, dict)
    assert info["message"] is None or len(info["message"]) <= 300


def test_error_page_title_is_found() -> None:
    page = b"<!DOCTYPE html><html><head><TITLE lang=en>502 -\n Web server received\tan invalid response</Title>"
    assert parse_error_body(page, {})["message"] == "502 - Web server received an invalid response"
    assert parse_error_body(b"<html><body>no title</body></html>", {})["message"] == "an HTML error page"


@pytest.mark.parametrize(
    ("status", "body"),
    [(200, PATHOLOGICAL_JSON["escaped quotes, never closed"]), (502, PATHOLOGICAL_HTML["<title repeated"])],
    ids=["answer", "error page"],
)
def test_pathological_answers_end_to_end(hs: HostileServer, status: int, body: bytes) -> None:
    hs.route("POST", TOKEN_PATH, token_answer())
    hs.route("POST", LIST_PATH, Answer(status=status, body=body, content_type="text/html"))
    client = client_for(hs, request_deadline=HANG)
    outcome = completes(lambda: client.events("T1", progress=False, workers=1))
    assert isinstance(outcome, TransportError | ApiError), outcome
