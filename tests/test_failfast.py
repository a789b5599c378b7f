"""Failures that retrying cannot heal end at once, with a message that says what to fix.

a. a wrong identity URL (no token endpoint: 404/405) or API URL (404 without the API's envelope on
   page 1) is a configuration error, exit 2, not bad credentials and not retried
b. a TLS certificate that fails verification is not retried: one connection, the host named,
   REQUESTS_CA_BUNDLE hinted (exit 4)
c. an identity server or API that cannot be reached (refused, DNS, timeout): the message names the
   host and hints at the network, the proxy settings and the URL setting (exit 4)
"""

from __future__ import annotations

import contextlib
import io
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engagifii_data import EngagifiiClient, Settings
from engagifii_data.cli import main as cli_main
from engagifii_data.exceptions import ConfigurationError, NotFoundError, TenantNotFoundError, TransportError

from .helpers import SleepRecorder, hostile_settings
from .hostile_server import Answer, HostileServer, error_answer, event_rows, listing_answer, token_answer

SECRET = "s3cret-CANARY"
TOKEN_PATH = "/connect/token"
LIST_PATH = "/api/1.0/event/list"


@pytest.fixture
def hs() -> Iterator[HostileServer]:
    with HostileServer() as server:
        yield server


def settings_for(identity: HostileServer, api: HostileServer | None = None, **overrides: Any) -> Settings:
    return hostile_settings(identity, api, secret=SECRET, **{"max_attempts": 3, **overrides})


def client_for(identity: HostileServer, api: HostileServer | None = None, **overrides: Any) -> EngagifiiClient:
    return EngagifiiClient(settings_for(identity, api, **overrides), sleep=SleepRecorder())


def write_env(path: Path, identity: str, api: str) -> Path:
    path.write_text(
        "ENGAGIFII_CLIENT_ID=c\n"
        f"ENGAGIFII_CLIENT_SECRET={SECRET}\n"
        "ENGAGIFII_TENANT_CODE=T1\n"
        f"ENGAGIFII_IDENTITY_SERVER_URL={identity}\n"
        f"ENGAGIFII_API_BASE_URL={api}\n",
        encoding="utf-8",
    )
    os.chmod(path, 0o600)
    return path


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli_main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


# --------------------------------------------------------------------------------------------------
# a. Wrong identity or API URL
# --------------------------------------------------------------------------------------------------

HTML_404 = "<html><head><title>404 - File or directory not found.</title></head><body>IIS</body></html>"
NO_TOKEN_ENDPOINT: dict[str, Answer] = {
    "404-empty": Answer(status=404, body=b"", content_type="text/plain"),
    "404-html": Answer(status=404, body=HTML_404.encode(), content_type="text/html; charset=utf-8"),
    "404-api-envelope": error_answer(404, "NOT_FOUND", "no route"),
    "405-empty": Answer(status=405, body=b"", content_type="text/plain", headers={"Allow": "GET"}),
    "405-html": Answer(
        status=405, body=b"<html><title>405 Method Not Allowed</title></html>", content_type="text/html"
    ),
}


@pytest.mark.parametrize("shape", sorted(NO_TOKEN_ENDPOINT))
def test_token_endpoint_404_or_405_is_a_configuration_error_not_retried(shape: str, hs: HostileServer) -> None:
    hs.route("POST", TOKEN_PATH, NO_TOKEN_ENDPOINT[shape])
    with client_for(hs) as client, pytest.raises(ConfigurationError) as caught:
        client.authenticate()
    assert len(hs.requests_to(TOKEN_PATH)) == 1, "a missing token endpoint was retried"
    text = str(caught.value)
    assert f"the identity URL {hs.url} has no token endpoint" in text
    assert "/connect/token" in text and "ENGAGIFII_IDENTITY_SERVER_URL" in text
    assert SECRET not in text


@pytest.mark.parametrize("shape", ["404-html", "405-empty"])
def test_cli_wrong_identity_url_exits_2_naming_the_setting(shape: str, hs: HostileServer, tmp_path: Path) -> None:
    hs.route("POST", TOKEN_PATH, NO_TOKEN_ENDPOINT[shape])
    env = write_env(tmp_path / "t.env", hs.url, hs.url)
    for argv in (("events", "--no-progress", "-o", str(tmp_path / "out.csv")), ("check",)):
        code, _, err = run_cli(argv[0], "--env-file", str(env), *argv[1:])
        assert code == 2, err
        status = shape[:3]
        assert f"error: the identity URL {hs.url} has no token endpoint (HTTP {status} at /connect/token)" in err
        assert "check ENGAGIFII_IDENTITY_SERVER_URL" in err
        assert "authentication failed" not in err and "Traceback" not in err
    assert not (tmp_path / "out.csv").exists()


NO_LISTING: dict[str, Answer] = {
    "404-empty": Answer(status=404, body=b"", content_type="text/plain"),
    "404-html": Answer(status=404, body=HTML_404.encode(), content_type="text/html"),
    "404-gateway-json": Answer(status=404, body={"statusCode": 404, "message": "Resource not found"}),
    "405-empty": Answer(status=405, body=b"", content_type="text/plain"),
}


@pytest.mark.parametrize("shape", sorted(NO_LISTING))
def test_api_404_without_the_envelope_on_page_1_is_a_configuration_error(
    shape: str, hs: HostileServer, tmp_path: Path
) -> None:
    hs.route("POST", TOKEN_PATH, token_answer())
    hs.route("POST", LIST_PATH, NO_LISTING[shape])
    with client_for(hs) as client, pytest.raises(ConfigurationError) as caught:
        client.events("T1", progress=False, workers=1)
    assert len(hs.requests_to(LIST_PATH)) == 1
    text = str(caught.value)
    assert f"the API URL {hs.url} has no event listing" in text
    assert "check ENGAGIFII_API_BASE_URL" in text
    code, _, err = run_cli(
        "events", "--env-file", str(write_env(tmp_path / "t.env", hs.url, hs.url)), "--no-progress", "-o", "-"
    )
    assert code == 2, err
    assert "ENGAGIFII_API_BASE_URL" in err and "Traceback" not in err


def test_api_404_in_the_api_envelope_stays_an_api_error(hs: HostileServer) -> None:
    hs.route("POST", TOKEN_PATH, token_answer())
    hs.route("POST", LIST_PATH, error_answer(404, "NOT_FOUND", "no such listing"))
    with client_for(hs) as client, pytest.raises(NotFoundError) as caught:
        client.events("T1", progress=False, workers=1)
    assert not isinstance(caught.value, ConfigurationError)
    hs.route("POST", LIST_PATH, error_answer(404, "TENANT_NOT_FOUND", "Unknown tenant"))
    with client_for(hs) as client, pytest.raises(TenantNotFoundError):
        client.events("T1", progress=False, workers=1)


def test_check_names_the_api_url_setting_per_tenant(hs: HostileServer, tmp_path: Path) -> None:
    hs.route("POST", TOKEN_PATH, token_answer())
    hs.route("POST", LIST_PATH, NO_LISTING["404-html"])
    code, out, _ = run_cli("check", "--env-file", str(write_env(tmp_path / "t.env", hs.url, hs.url)))
    assert code == 2, out
    assert "ENGAGIFII_API_BASE_URL" in out


def test_api_404_after_page_1_is_not_a_configuration_error(hs: HostileServer) -> None:
    """Page 1 proved the URL right: a later 404 is the API's problem (the walk is incomplete)."""
    rows = event_rows(3)
    hs.route("POST", TOKEN_PATH, token_answer())
    hs.route("POST", LIST_PATH, listing_answer(rows))
    hs.route("POST", LIST_PATH, Answer(status=404, body=b"", content_type="text/plain"), page=2)
    with client_for(hs) as client, pytest.raises(Exception) as caught:
        client.events("T1", progress=False, workers=1, page_size=2)
    assert not isinstance(caught.value, ConfigurationError), repr(caught.value)


# --------------------------------------------------------------------------------------------------
# b. A TLS certificate that fails verification is not retried
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def tls() -> Iterator[HostileServer]:
    with HostileServer(tls=True) as server:
        yield server


def _serve(server: HostileServer) -> None:
    server.route("POST", TOKEN_PATH, token_answer())
    server.route("POST", LIST_PATH, listing_answer(event_rows(3)))


@pytest.mark.parametrize("where", ["token", "api"])
def test_untrusted_certificate_fails_fast_naming_the_host(
    where: str, tls: HostileServer, hs: HostileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    _serve(tls)
    _serve(hs)
    identity, api = (tls, hs) if where == "token" else (hs, tls)
    sleep = SleepRecorder()
    with (
        EngagifiiClient(settings_for(identity, api, max_attempts=4), sleep=sleep) as client,
        pytest.raises(TransportError) as caught,
    ):
        client.events("T1", progress=False, workers=1)
    assert tls.connections == 1, f"{tls.connections} connections: a certificate problem was retried"
    assert tls.requests == []
    assert client.stats.retries == 0
    text = str(caught.value)
    assert f"TLS certificate verification failed for 127.0.0.1:{tls.port}" in text
    assert "self-signed" in text and "not retried" in text
    assert caught.value.host == f"127.0.0.1:{tls.port}"
    assert "REQUESTS_CA_BUNDLE" in (caught.value.hint or "")
    assert SECRET not in text


def test_certificate_for_another_host_fails_fast(tls: HostileServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Trusted CA, wrong name: the certificate is for 127.0.0.1, the URL says localhost."""
    assert tls.ca_file is not None
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", tls.ca_file)
    _serve(tls)
    url = f"https://localhost:{tls.port}"
    settings = settings_for(tls, identity_url=url, api_base_url=url)
    with EngagifiiClient(settings, sleep=SleepRecorder()) as client, pytest.raises(TransportError) as caught:
        client.authenticate()
    assert tls.connections == 1
    assert f"for localhost:{tls.port}" in str(caught.value)
    assert "mismatch" in str(caught.value).lower()


def test_requests_ca_bundle_makes_the_same_server_work(tls: HostileServer, monkeypatch: pytest.MonkeyPatch) -> None:
    assert tls.ca_file is not None
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", tls.ca_file)
    _serve(tls)
    with client_for(tls) as client:
        df = client.events("T1", progress=False, workers=1)
    assert len(df) == 3
    assert client.stats.retries == 0


def test_cli_untrusted_certificate_exit_4_with_the_hint(
    tls: HostileServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    _serve(tls)
    env = write_env(tmp_path / "t.env", tls.url, tls.url)
    code, _, err = run_cli("events", "--env-file", str(env), "--no-progress", "-o", str(tmp_path / "out.csv"))
    assert code == 4, err
    lines = err.strip().splitlines()
    assert lines[0].startswith(f"error: network: TLS certificate verification failed for 127.0.0.1:{tls.port}")
    assert "REQUESTS_CA_BUNDLE" in lines[1]
    assert "retrying" not in err
    assert tls.connections == 1
    assert not (tmp_path / "out.csv").exists()


def test_certificate_problem_is_found_through_the_wrapping() -> None:
    import ssl

    import requests
    import urllib3

    from engagifii_data.transport.policy import Retryable, certificate_problem, network_failure

    inner = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    inner.verify_message = "certificate has expired"
    wrapped = requests.exceptions.SSLError(
        urllib3.exceptions.MaxRetryError(None, "/connect/token", urllib3.exceptions.SSLError(inner))  # type: ignore[arg-type]
    )
    assert certificate_problem(wrapped) == "certificate has expired"
    error = network_failure(wrapped, "connection failed: SSLError", host="h.example", path=TOKEN_PATH)
    assert isinstance(error, TransportError) and "certificate has expired" in str(error)
    refused = requests.exceptions.ConnectionError("Connection refused")
    assert certificate_problem(refused) is None
    assert isinstance(network_failure(refused, "connection failed", host="h.example", path=TOKEN_PATH), Retryable)


# --------------------------------------------------------------------------------------------------
# c. `check` names the host it could not reach
# --------------------------------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@contextlib.contextmanager
def _silent_listener() -> Iterator[int]:
    """A port that takes connections (the kernel's backlog) and never says a word."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


UNREACHABLE = ["refused", "dns", "timeout"]


@contextlib.contextmanager
def _unreachable(how: str) -> Iterator[tuple[str, str]]:
    """(URL, the host the message must name)."""
    if how == "refused":
        port = _closed_port()
        yield f"http://127.0.0.1:{port}", f"127.0.0.1:{port}"
    elif how == "dns":
        yield "https://engagifii-identity.invalid", "engagifii-identity.invalid"
    else:
        with _silent_listener() as port:
            yield f"http://127.0.0.1:{port}", f"127.0.0.1:{port}"


@pytest.mark.parametrize("how", UNREACHABLE)
def test_check_names_the_identity_host_it_could_not_reach(how: str, hs: HostileServer, tmp_path: Path) -> None:
    _serve(hs)
    with _unreachable(how) as (url, host):
        env = write_env(tmp_path / "t.env", url, hs.url)
        code, out, err = run_cli("check", "--env-file", str(env), "--attempts", "1", "--timeout", "1")
    assert code == 4, err
    assert "token     FAIL" in out
    lines = err.strip().splitlines()
    assert lines[0].startswith(f"error: network: could not reach the identity server at {host}: "), lines
    assert "proxy" in lines[1] and "ENGAGIFII_IDENTITY_SERVER_URL" in lines[1], lines
    assert "Traceback" not in err and SECRET not in err + out
    assert hs.requests == [], "nothing goes to the API without a token"


def test_check_names_the_api_host_it_could_not_reach(hs: HostileServer, tmp_path: Path) -> None:
    _serve(hs)
    port = _closed_port()
    env = write_env(tmp_path / "t.env", hs.url, f"http://127.0.0.1:{port}")
    code, out, _ = run_cli("check", "--env-file", str(env), "--attempts", "1")
    assert code == 4, out
    assert f"tenant    FAIL  T1: network: could not reach the API at 127.0.0.1:{port}" in out
    assert "status    unhealthy" in out


# --------------------------------------------------------------------------------------------------
# d. Session times of no known zone are written as wall-clock times (the naiveDateTimes mark)
# --------------------------------------------------------------------------------------------------

SESSION_RECORDS: list[dict[str, Any]] = [
    {  # no timeZone: the naive start is a wall-clock time of no known zone; the end has its Z
        "id": "e1",
        "name": "Gala",
        "eventDates": [
            {"id": "s1", "sessionStartTime": "2023-04-26T13:00:00", "sessionEndTime": "2023-04-26T15:30:00Z"},
            {"id": "s2", "sessionStartTime": "2023-04-27T09:15:00", "sessionEndTime": "2023-04-27T10:00:00"},
        ],
    },
    {  # a known zone: naive times become instants, nothing is marked
        "id": "e2",
        "name": "Summit",
        "timeZone": "Eastern Standard Time",
        "eventDates": [{"id": "s3", "sessionStartTime": "2023-04-26T13:00:00", "sessionEndTime": "2023-04-26T14:00"}],
    },
]


def test_sessions_mark_times_of_no_known_zone() -> None:
    from engagifii_data.frames import events_frame
    from engagifii_data.frames.tables import SESSION_COLUMNS, sessions

    table = sessions(events_frame(SESSION_RECORDS))
    assert "naiveDateTimes" in SESSION_COLUMNS
    assert table["naiveDateTimes"].tolist() == [["start"], ["start", "end"], None]
    assert table.attrs["engagifii_naive_datetimes"] == {"start": 2, "end": 1}
    assert str(table.loc[2, "start"]) == "2023-04-26 17:00:00+00:00"  # Eastern Standard Time applied
    empty = sessions(events_frame([]))
    assert "naiveDateTimes" in empty.columns and len(empty) == 0


@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx"])
def test_sessions_report_writes_wall_clock_times_without_a_warning(fmt: str, tmp_path: Path) -> None:
    import warnings

    from engagifii_data import read_report
    from engagifii_data.frames import events_frame
    from engagifii_data.frames.tables import sessions
    from engagifii_data.reports import write_report

    table = sessions(events_frame(SESSION_RECORDS))
    path = tmp_path / f"sessions.{fmt}"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the "written as UTC" UserWarning among others
        write_report(table, path)
        back = read_report(path)
    if fmt == "csv":
        text = path.read_bytes().decode("utf-8-sig")
        lines = text.splitlines()
        assert lines[0].endswith(",naiveDateTimes")
        assert ",2023-04-26T13:00:00.000000,2023-04-26T15:30:00.000000Z," in lines[1]  # no Z on the wall clock
        assert ",2023-04-27T09:15:00.000000,2023-04-27T10:00:00.000000," in lines[2]
        assert ",2023-04-26T17:00:00.000000Z,2023-04-26T18:00:00.000000Z," in lines[3]
    if fmt == "xlsx":
        import openpyxl

        sheet = openpyxl.load_workbook(path).worksheets[0]
        header = [c.value for c in sheet[1]]
        start = sheet.cell(row=2, column=header.index(next(h for h in header if str(h).startswith("start"))) + 1)
        assert "zone unknown" in start.number_format, start.number_format
    assert back["naiveDateTimes"].tolist() == [["start"], ["start", "end"], None]
    assert back["start"].tolist() == table["start"].tolist()
    assert back["end"].tolist() == table["end"].tolist()


@pytest.mark.parametrize("shape", ["404-html", "405-empty"])
def test_token_endpoint_gone_at_renewal_mid_walk_exits_2_not_5(shape: str, hs: HostileServer, tmp_path: Path) -> None:
    """A 401 on page 2 makes the client renew its token; a token endpoint gone by then is a setting to fix."""
    first = token_answer()
    hs.route("POST", TOKEN_PATH, [first, NO_TOKEN_ENDPOINT[shape]])
    hs.route("POST", LIST_PATH, listing_answer(event_rows(150)))
    hs.route("POST", LIST_PATH, error_answer(401, "UNAUTHORIZED", "token revoked"), page=2)
    env = write_env(tmp_path / "t.env", hs.url, hs.url)
    code, _, err = run_cli("events", "--env-file", str(env), "--no-progress", "-o", str(tmp_path / "out.csv"))
    assert code == 2, err
    assert "the walk was not completed" in err
    assert f"the identity URL {hs.url} has no token endpoint" in err
    assert "a setting is wrong (named above): fix it, then" in err
    assert "Traceback" not in err and SECRET not in err
    assert not (tmp_path / "out.csv").exists()
