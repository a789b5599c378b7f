"""The token manager, driven by a fake grant and a fake clock: no server."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from engagifii_data.auth import AccessToken, TokenManager, effective_margin, parse_token_answer, token_request
from engagifii_data.config import Settings
from engagifii_data.exceptions import AuthenticationError

SETTINGS = Settings(
    client_id="cid",
    client_secret="s3cret&x=y",
    tenant_codes=("T",),
    identity_url="http://127.0.0.1:9",
    api_base_url="http://127.0.0.1:9",
)


class FakeGrant:
    """Answers token requests with tok-1, tok-2, ... and a fixed lifetime; counts them."""

    def __init__(self, lifetime: Any = 3600, delay: float = 0.0) -> None:
        self.calls = 0
        self.contexts: list[Any] = []
        self.lifetime = lifetime
        self.delay = delay
        self._lock = threading.Lock()

    def __call__(self, context: Any) -> dict[str, Any]:
        with self._lock:
            self.calls += 1
            n = self.calls
        self.contexts.append(context)
        if self.delay:
            time.sleep(self.delay)
        return {"access_token": f"tok-{n}", "expires_in": self.lifetime, "token_type": "Bearer"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_one_token_is_reused_until_the_renewal_margin() -> None:
    grant, clock = FakeGrant(lifetime=3600), Clock()
    tokens = TokenManager(SETTINGS, grant, clock=clock)
    assert tokens.get() == "tok-1"
    clock.now += 3600 - 300 - 1  # one second before the 5-minute margin
    assert tokens.get() == "tok-1"
    clock.now += 1
    assert tokens.get() == "tok-2"
    assert grant.calls == 2


@pytest.mark.parametrize(("lifetime", "margin", "expected"), [(3600, 300, 300), (60, 300, 15), (10, 300, 2.5)])
def test_renewal_margin_is_clamped_for_short_tokens(lifetime: float, margin: float, expected: float) -> None:
    assert effective_margin(lifetime, margin) == expected


def test_a_short_lived_token_is_not_renewed_on_every_call() -> None:
    grant, clock = FakeGrant(lifetime=20), Clock()
    tokens = TokenManager(SETTINGS, grant, clock=clock)  # margin 300 s > lifetime 20 s: clamped to 5 s
    for _ in range(50):
        tokens.get()
        clock.now += 0.2
    assert grant.calls == 1


def test_concurrent_callers_share_one_token_request() -> None:
    grant = FakeGrant(delay=0.05)
    tokens = TokenManager(SETTINGS, grant)
    values: list[str] = []
    threads = [threading.Thread(target=lambda: values.append(tokens.get())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert grant.calls == 1 and values == ["tok-1"] * 8


def test_invalidate_drops_only_the_token_it_names() -> None:
    grant = FakeGrant()
    tokens = TokenManager(SETTINGS, grant)
    first = tokens.get()
    tokens.invalidate("someone-else's")
    assert tokens.get() == first
    tokens.invalidate(first)
    assert tokens.get() == "tok-2"
    tokens.invalidate(first)  # already replaced: nothing happens
    assert tokens.get() == "tok-2" and grant.calls == 2


def test_the_callers_context_reaches_the_grant() -> None:
    grant = FakeGrant()
    TokenManager(SETTINGS, grant).get(context="hooks-of-page-1")
    assert grant.contexts == ["hooks-of-page-1"]


@pytest.mark.parametrize(
    ("answer", "lifetime"),
    [
        ({"access_token": "t", "expires_in": 120}, 120.0),
        ({"access_token": "t", "expires_in": "90"}, 90.0),
        ({"access_token": "t"}, 3600.0),  # absent: the documented lifetime
        ({"access_token": "t", "expires_in": "soon"}, 3600.0),
        ({"access_token": "t", "expires_in": float("nan")}, 3600.0),
        ({"access_token": "t", "expires_in": -5}, 3600.0),  # no usable lifetime: as if absent
    ],
)
def test_token_answers_in_every_shape(answer: dict[str, Any], lifetime: float) -> None:
    token = parse_token_answer(answer, sent_at=100.0, margin=300)
    assert token.lifetime == lifetime
    assert token.renew_at == 100.0 + lifetime - effective_margin(lifetime, 300)
    assert "t" not in repr(token).replace("AccessToken", "").replace("lifetime", "")


@pytest.mark.parametrize(
    "answer",
    [
        {},
        {"access_token": ""},
        {"access_token": 5},
        [],
        "tok",
        None,
        {"access_token": "abc\r\nX-Injected: 1"},
        {"access_token": "two words"},
        {"access_token": "tök"},
        {"access_token": "tab\there"},
    ],
)
def test_an_answer_without_a_token_is_an_authentication_error(answer: Any) -> None:
    with pytest.raises(AuthenticationError, match="invalid_response"):
        parse_token_answer(answer, sent_at=0.0, margin=300)


def test_a_refused_grant_propagates_and_nothing_is_cached() -> None:
    calls = []

    def refuse(context: Any) -> Any:
        calls.append(context)
        raise AuthenticationError("invalid_client", "no such client", status=400)

    tokens = TokenManager(SETTINGS, refuse)
    for _ in range(2):
        with pytest.raises(AuthenticationError):
            tokens.get()
    assert len(calls) == 2 and tokens.current is None


def test_the_token_request_is_shaped_by_oauthlib_with_the_secret_in_the_form_only() -> None:
    headers, body = token_request(SETTINGS)
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert "Authorization" not in headers  # client_secret_post, as the vendor's curl example
    assert body.startswith("grant_type=client_credentials&") and "scope=EventsApi" in body
    assert "client_id=cid" in body and "client_secret=s3cret%26x%3Dy" in body


def test_access_token_hides_its_value() -> None:
    token = AccessToken(value="eyJ-secret-token", lifetime=60, renew_at=0)
    assert "eyJ" not in repr(token) and "eyJ" not in str(token)
