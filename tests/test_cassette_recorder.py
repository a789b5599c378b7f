"""The cassette recorder (``python -m tests.record_cassettes``): deterministic, and the real-API
mode refuses to run without its explicit opt-in. These tests start sandboxes; the replay tests in
``test_cassettes.py`` do not."""

from __future__ import annotations

from pathlib import Path

import pytest

from engagifii_data import sandbox
from engagifii_data.exceptions import ConfigurationError
from tests import record_cassettes
from tests.helpers import CASSETTES, scan_text
from tests.record_cassettes import replay_real_cassette

#: Small, and covering the volatile parts: two token requests, a 401, trace ids, an empty page, a 404
#: detail among concurrent-capable detail requests.
SMALL_CASSETTES = ["test_empty_tenant", "test_token_expires_mid_walk", "test_details_walk"]


@pytest.mark.slow
def test_recording_twice_gives_byte_identical_cassettes(tmp_path: Path) -> None:
    first = record_cassettes.record_sandbox(tmp_path / "a", SMALL_CASSETTES)
    second = record_cassettes.record_sandbox(tmp_path / "b", SMALL_CASSETTES)
    assert [p.name for p in first] == [f"{n}.yaml" for n in SMALL_CASSETTES]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    # and a cheap staleness check: the committed cassette is what the recorder writes today
    assert first[0].read_bytes() == (CASSETTES / "test_empty_tenant.yaml").read_bytes(), (
        "cassettes/test_empty_tenant.yaml is stale: run `make cassettes`"
    )


def test_real_mode_refuses_without_the_opt_in(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(record_cassettes.REAL_OPT_IN, raising=False)
    with pytest.raises(ConfigurationError, match="explicit opt-in"):
        record_cassettes.record_real(tmp_path, environ={})
    assert record_cassettes.main(["--real", "--out", str(tmp_path)]) == 2
    assert list(tmp_path.iterdir()) == []


def test_real_mode_wants_exactly_1(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="must be 1"):
        record_cassettes.record_real(tmp_path, environ={record_cassettes.REAL_OPT_IN: "yes"})


def test_real_mode_refuses_a_sandbox_url(tmp_path: Path) -> None:
    environ = {
        record_cassettes.REAL_OPT_IN: "1",
        "ENGAGIFII_CLIENT_ID": "someone",
        "ENGAGIFII_CLIENT_SECRET": "some-secret-value",
        "ENGAGIFII_TENANT_CODE": "T1",
        "ENGAGIFII_IDENTITY_SERVER_URL": "http://127.0.0.1:8765",
        "ENGAGIFII_API_BASE_URL": "http://127.0.0.1:8765",
        "ENGAGIFII_ENV_FILE": "",
    }
    with pytest.raises(ConfigurationError, match="loopback"):
        record_cassettes.record_real(tmp_path, environ=environ)
    assert list(tmp_path.iterdir()) == []


def test_real_mode_records_and_replays(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The opt-in path end to end, with a sandbox standing in for the real API (loopback check off)."""
    monkeypatch.setattr(record_cassettes, "is_loopback", lambda host: False)
    with sandbox.run() as sb:
        environ = {
            record_cassettes.REAL_OPT_IN: "1",
            "ENGAGIFII_CLIENT_ID": sb.client_id,
            "ENGAGIFII_CLIENT_SECRET": sb.client_secret,
            "ENGAGIFII_TENANT_CODE": "GLOBEX",
            "ENGAGIFII_IDENTITY_SERVER_URL": sb.identity_url,
            "ENGAGIFII_API_BASE_URL": sb.api_url,
        }
        paths = record_cassettes.record_real(tmp_path, environ=environ)
    assert sorted(p.stem for p in paths) == sorted(record_cassettes.REAL_SCENARIOS)
    for path in paths:
        text = path.read_text(encoding="utf-8")
        assert scan_text(text) == [], path.name
        assert "tenant-code:\n      - GLOBEX" in text or path.stem == "test_real_unknown_tenant"
        replay_real_cassette(path)
    assert len(replay_real_cassette(tmp_path / "test_real_first_pages.yaml")) == 3
