"""Fixtures shared by the test suite (helpers live in ``tests/helpers.py``).

``clean_environment`` (autouse)
    No ``ENGAGIFII_*`` variable, proxy or CA-bundle variable and no ``.netrc`` reach the code under
    test, and every test runs in its own empty working directory (no stray ``.env`` is found).
``sb``
    The session's one running sandbox, reset before the test (seeded data, default faults, empty
    request log, every token valid).
``replay``
    ``with replay(): ...`` replays ``cassettes/<test name>.yaml`` (or ``replay("name")``) and fails
    naming the cassette and the request when the code sends something that was not recorded.
``replay_settings``
    Settings pointing at the replay origin with the sandbox's canary credentials.
``sent_requests``
    Every HTTP request ``requests`` sends during the test (method, URL, headers, body).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from engagifii_data.config import Settings
from tests.helpers import (
    SentRequest,
    capture_requests,
    cassette_name_for,
    replay_cassette,
    replay_settings_for,
    shared_sandbox,
)

#: Environment variables that would let the developer's machine leak into a test.
_LEAKY = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "requests_ca_bundle", "curl_ca_bundle")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Isolate each test from the machine's configuration (see the module docstring)."""
    for name in list(os.environ):
        if name.startswith("ENGAGIFII_") or name.lower() in _LEAKY:
            monkeypatch.delenv(name, raising=False)
    work = tmp_path_factory.mktemp("cwd")  # not tmp_path: tests count the files they write there
    monkeypatch.setenv("NETRC", str(work / "no-such-netrc"))
    monkeypatch.chdir(work)


@pytest.fixture
def sb() -> Any:
    """The shared sandbox, reset to its starting state for this test."""
    server = shared_sandbox()
    server.reset()
    return server


@pytest.fixture
def replay(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """``with replay(): ...`` replays the cassette named after the current test (or ``replay(name)``)."""

    def use(name: str | Path | None = None, **kwargs: Any) -> Any:
        return replay_cassette(name if name is not None else cassette_name_for(request.node.name), **kwargs)

    return use


@pytest.fixture
def replay_settings() -> Settings:
    """Settings for replaying sandbox cassettes (see :func:`tests.helpers.replay_settings_for`)."""
    return replay_settings_for()


@pytest.fixture
def sent_requests() -> Iterator[list[SentRequest]]:
    """Every HTTP request sent through ``requests`` during the test (see :class:`SentRequest`)."""
    with capture_requests() as log:
        yield log
