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

import contextlib
import html
import io
import json
import logging
import re
import socket
import threading
import urllib.parse
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from engagifii_data import EngagifiiClient, Settings
from engagifii_data.auth import DEFAULT_LIFETIME, MAX_LIFETIME, parse_token_answer
from engagifii_data.cli import main as cli_main
from engagifii_data.exceptions import (
    ApiError,
    AuthenticationError,
    ConfigurationError,
    IncompleteWalkError,
    PaginationError,
    TransportError,
    describe_error,
    redact,
)
from engagifii_data.pagination import parse_page
from engagifii_data.reports import WalkReport
from engagifii_data.responses import (
    MAX_JSON_DEPTH,
    NotPlainNumber,
    declared_charset,
    decode_json,
    json_depth,
    parse_error_body,
    parse_retry_after,
    plain_number,
)
from engagifii_data.transport import EnvironmentCachingSession
from engagifii_data.transport.session import connect_and_read_timeouts

from .helpers import SleepRecorder, hostile_settings
from .hostile_server import Answer, HostileServer, event_rows, listing_answer, token_answer

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
    return hostile_settings(hs, secret=SECRET, **{"max_attempts": 1, **overrides})


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


# --------------------------------------------------------------------------------------------------
# 2. The charset of JSON answers: UTF-8 whenever the body is UTF-8
# --------------------------------------------------------------------------------------------------

NAMES = ["Zürich", "Café Crème", "Łódź", "東京", "emoji 🎉"]


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json; charset=iso-8859-1",
        "application/json; charset=windows-1252",
        'application/json;charset="latin1"',
        "application/json; charset=cp500",
        "application/json; charset=x-unknown",
        "application/json; charset=zlib",
        "application/json",
        "text/plain; charset=utf-8",
    ],
)
def test_a_utf8_body_is_read_as_utf8_whatever_the_declared_charset(hs: HostileServer, content_type: str) -> None:
    rows = [{"id": f"00000000-0000-4000-8000-{i:012d}", "name": name} for i, name in enumerate(NAMES)]
    body = json.dumps({"collection": rows, "pagingModel": {"totalRecords": len(rows)}}, ensure_ascii=False)
    hs.route("POST", TOKEN_PATH, token_answer())
    hs.route("POST", LIST_PATH, Answer(body=body.encode("utf-8"), content_type=content_type))
    df = client_for(hs).events("T1", progress=False, workers=1)
    assert list(df["name"]) == NAMES
    assert WalkReport.of(df).repaired_text == 0


@pytest.mark.parametrize("stdlib", [False, True], ids=["fast path", "long number"])
@pytest.mark.parametrize(
    ("content_type", "expected", "repaired"),
    [
        ("application/json; charset=iso-8859-1", "Zürich", 0),  # really Latin-1, declared so: decoded with it
        ("application/json; charset=windows-1252", "Zürich", 0),
        ("application/json; charset=x-unknown", "Z\ufffdrich", 1),  # unknown: repaired as UTF-8, counted
        ("application/json", "Z\ufffdrich", 1),  # undeclared: JSON is UTF-8, the bad byte repaired
        ("application/json; charset=utf-8", "Z\ufffdrich", 1),  # declared UTF-8 but is not
    ],
)
def test_a_body_that_is_not_utf8(content_type: str, expected: str, repaired: int, stdlib: bool) -> None:
    number = b"12345678901234567890" if stdlib else b"1"
    body = b'{"name": "Z\xfcrich", "n": ' + number + b"}"
    decoded = decode_json(body, declared_charset(content_type))
    assert decoded.data["name"] == expected
    assert decoded.repaired == repaired


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-8-sig"])
def test_unicode_bodies_are_recognised_by_their_bytes(encoding: str) -> None:
    body = json.dumps({"name": "Zürich 東京"}, ensure_ascii=False).encode(encoding)
    for declared in (None, "iso-8859-1", "utf-8"):
        decoded = decode_json(body, declared)
        assert decoded.data == {"name": "Zürich 東京"}
        assert decoded.repaired == 0


def test_utf8_mislabelled_as_latin1_is_counted_only_where_bytes_are_broken() -> None:
    body = '{"a": "Zürich", "b": "'.encode() + b"\xff" + b'"}'  # valid UTF-8 but for one byte
    decoded = decode_json(body, "utf-8")
    assert decoded.data == {"a": "Zürich", "b": "\ufffd"}
    assert decoded.repaired == 1


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        ("<html><title>Zürich down</title></html>".encode(), "text/html; charset=iso-8859-1", "Zürich down"),
        (b"<html><title>Z\xfcrich down</title></html>", "text/html; charset=iso-8859-1", "Zürich down"),
        ("Zürich is down".encode(), "text/plain; charset=iso-8859-1", "Zürich is down"),
        (b"Z\xfcrich is down", "text/plain", "Z\ufffdrich is down"),
        ('{"error": {"code": "X", "message": "Zürich"}}'.encode(), "application/json; charset=latin1", "Zürich"),
        # 12,000 bytes of it are read: the last "é" is cut in two, which must not make it Latin-1
        (b"x" + "é".encode() * 7000, "text/plain; charset=iso-8859-1", "x" + "é" * 298 + "…"),
    ],
    ids=["html utf8 mislabelled", "html latin1", "text utf8 mislabelled", "text bad byte", "json", "cut excerpt"],
)
def test_error_bodies_follow_the_same_charset_rule(body: bytes, content_type: str, message: str) -> None:
    assert parse_error_body(body, {"Content-Type": content_type})["message"] == message


# --------------------------------------------------------------------------------------------------
# 3. Numbers in answers: plain ASCII JSON numbers, one parser
# --------------------------------------------------------------------------------------------------

#: What Python's int()/float() accept but the contract does not.
DISGUISED = {
    "arabic-indic": "١٢٣",
    "fullwidth": "１２",
    "devanagari": "१२",
    "underscore": "1_000",
    "spaces": " 12 ",
    "newline": "12\n",
    "plus sign": "+12",
    "exponent": "1e3",
    "bool": True,
}


@pytest.mark.parametrize("value", DISGUISED.values(), ids=DISGUISED.keys())
def test_the_one_parser_refuses_disguised_numbers(value: Any) -> None:
    with pytest.raises(NotPlainNumber) as info:
        plain_number(value, "total count", whole=True)
    assert info.value.disguised
    assert "total count is not a number" in str(info.value)


@pytest.mark.parametrize(
    ("value", "whole", "expected"),
    [(12, True, 12), (12.0, True, 12), ("12", True, 12), ("0", True, 0), (1.5, False, 1.5), (10**20, True, 10**20)],
)
def test_the_one_parser_reads_plain_numbers(value: Any, whole: bool, expected: float) -> None:
    result = plain_number(value, "n", whole=whole)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize("value", [None, "many", "", [1], {"n": 1}, float("nan"), float("inf"), "NaN", "-inf"])
def test_the_one_parser_calls_non_numbers_not_disguised(value: Any) -> None:
    with pytest.raises(NotPlainNumber) as info:
        plain_number(value, "n")
    assert not info.value.disguised


@pytest.mark.parametrize("value", [*DISGUISED.values(), 12.5, "12.0", "9" * 40, -1, "-1"], ids=repr)
@pytest.mark.parametrize("key", ["totalCount", "total", "totalRecords"])
def test_a_disguised_total_is_a_pagination_error(value: Any, key: str) -> None:
    with pytest.raises(PaginationError, match="total count") as info:
        parse_page({"data": [], key: value}, 1)
    assert info.value.page == 1


def test_a_disguised_total_in_the_wire_envelope_ends_the_walk(hs: HostileServer) -> None:
    hs.route("POST", TOKEN_PATH, token_answer())
    hs.route("POST", LIST_PATH, Answer(body={"collection": [], "pagingModel": {"totalRecords": "١٢٣"}}))
    with pytest.raises(PaginationError, match=r"total count is not a number: '١٢٣' \(digits other than ASCII"):
        client_for(hs).events("T1", progress=False, workers=1)


@pytest.mark.parametrize("value", [v for v in DISGUISED.values() if v != "1e3"] + ["3.6e3"], ids=repr)
def test_a_disguised_expires_in_is_an_authentication_error(value: Any) -> None:
    with pytest.raises(AuthenticationError, match="expires_in is not a number") as info:
        parse_token_answer({"access_token": "t", "expires_in": value}, sent_at=0.0, margin=300)
    assert info.value.error == "invalid_response"


def test_a_disguised_expires_in_from_the_server_fails_authentication(hs: HostileServer) -> None:
    hs.route("POST", TOKEN_PATH, token_answer(expires_in="３６００"))
    with pytest.raises(AuthenticationError, match="expires_in"):
        client_for(hs).events("T1", progress=False, workers=1)
    assert not hs.requests_to(LIST_PATH)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("2", 2.0), ("1.5", 1.5), (" 3 ", 3.0), ("١٢", None), ("１２", None), ("1_0", None), ("+5", None), ("1e1", None)],
)
def test_retry_after_is_read_by_the_same_parser(header: str, seconds: float | None) -> None:
    assert parse_retry_after(header) == seconds


# --------------------------------------------------------------------------------------------------
# 4. The token's lifetime: no usable expires_in means the documented default, a huge one is capped
# --------------------------------------------------------------------------------------------------

NO_LIFETIME: dict[str, Any] = {
    "zero": 0,
    "zero float": 0.0,
    "negative": -1,
    "very negative": -1e9,
    "zero string": "0",
    "negative string": "-5",
    "null": None,
    "word": "soon",
    "empty": "",
    "nan": float("nan"),
    "inf": float("inf"),
    "-inf": float("-inf"),
    "nan string": "NaN",
    "inf string": "Infinity",
    "list": [3600],
    "object": {"seconds": 3600},
}


@pytest.mark.parametrize("value", NO_LIFETIME.values(), ids=NO_LIFETIME.keys())
def test_no_usable_expires_in_means_the_default_lifetime(value: Any) -> None:
    token = parse_token_answer({"access_token": "t", "expires_in": value}, sent_at=100.0, margin=300)
    assert token.lifetime == DEFAULT_LIFETIME
    assert token.renew_at == 100.0 + DEFAULT_LIFETIME - 300


def test_an_absent_expires_in_means_the_default_lifetime() -> None:
    assert parse_token_answer({"access_token": "t"}, sent_at=0.0, margin=300).lifetime == DEFAULT_LIFETIME


@pytest.mark.parametrize("value", [1e12, 10**30, "99999999999", 1.7e308], ids=repr)
def test_a_huge_expires_in_is_capped(value: Any) -> None:
    token = parse_token_answer({"access_token": "t", "expires_in": value}, sent_at=0.0, margin=300)
    assert token.lifetime == MAX_LIFETIME
    assert token.renew_at == MAX_LIFETIME - 300


@pytest.mark.parametrize(
    "body",
    [
        {"access_token": "tok", "expires_in": 0},
        {"access_token": "tok", "expires_in": -30},
        {"access_token": "tok", "expires_in": "later"},
        b'{"access_token": "tok", "expires_in": NaN}',
        b'{"access_token": "tok", "expires_in": -Infinity}',
        {"access_token": "tok"},
    ],
    ids=["0", "-30", "word", "NaN", "-Infinity", "absent"],
)
def test_one_token_serves_a_whole_walk_whatever_expires_in_says(hs: HostileServer, body: Any) -> None:
    hs.route("POST", TOKEN_PATH, Answer(body=body))
    hs.route("POST", LIST_PATH, listing_answer(event_rows(10)))
    client = client_for(hs)
    for _ in range(3):
        df = client.events("T1", progress=False, workers=2, page_size=2)
        assert len(df) == 10
    assert client.stats.token_requests == 1
    assert len(hs.requests_to(TOKEN_PATH)) == 1
    assert len(hs.requests_to(LIST_PATH)) == 15


# --------------------------------------------------------------------------------------------------
# 5. The client secret and the access token never appear in any text shown
# --------------------------------------------------------------------------------------------------

#: A secret with characters every encoding changes: "/", "+", quotes, a backslash, "&", a space, "ü".
TRICKY = 'Tr1cky/s3cret+"ü"\\&x y'
TOKEN = "tok-CANARY-7f3a9"


def echoed_forms(secret: str) -> dict[str, str]:
    """The ways a server may echo a value back."""
    dotnet = json.dumps(secret)[1:-1].replace("+", "\\u002B").replace("&", "\\u0026")
    return {
        "as is": secret,
        "url-encoded": urllib.parse.quote(secret, safe=""),
        "url-encoded lower-case": urllib.parse.quote(secret, safe="").lower(),
        "form-encoded": urllib.parse.quote_plus(secret),
        "json-escaped": json.dumps(secret)[1:-1],
        "json-escaped non-ascii kept": json.dumps(secret, ensure_ascii=False)[1:-1],
        "json-escaped as .NET does": dotnet,
        "html-escaped": html.escape(secret),
        "upper-case": secret.upper(),
    }


def assert_hidden(text: str, *values: str) -> None:
    for value in values:
        for form, spelled in echoed_forms(value).items():
            assert spelled not in text, f"{form} form of a secret in {text!r}"


def shown_texts(exc: BaseException) -> str:
    """Everything an exception shows: str, repr, args, describe_error, and its text attributes."""
    parts = [str(exc), repr(exc), repr(exc.args), *describe_error(exc)]
    parts += [str(v) for v in vars(exc).values() if isinstance(v, str)]
    return "\n".join(parts)


@pytest.mark.parametrize("form", echoed_forms(TRICKY).keys())
@pytest.mark.parametrize("where", ["json description", "plain text", "html title"])
def test_the_secret_echoed_by_the_token_endpoint_is_redacted(
    hs: HostileServer, caplog: pytest.LogCaptureFixture, form: str, where: str
) -> None:
    echoed = echoed_forms(TRICKY)[form]
    if where == "json description":
        answer = Answer(status=400, body={"error": "invalid_client", "error_description": f"bad secret {echoed}"})
    elif where == "plain text":
        answer = Answer(status=401, body=f"client_id=c&client_secret={echoed} refused".encode())
    else:
        answer = Answer(status=400, body=f"<html><title>refused {echoed}</title></html>".encode())
    hs.route("POST", TOKEN_PATH, answer)
    caplog.set_level(logging.DEBUG, logger="engagifii_data")
    with pytest.raises(AuthenticationError) as info:
        client_for(hs, client_secret=TRICKY).events("T1", progress=False, workers=1)
    text = shown_texts(info.value)
    assert "***" in text
    assert_hidden(text + caplog.text, TRICKY)


@pytest.mark.parametrize("status", [400, 403, 404, 409, 422, 503])
def test_the_secret_and_the_token_echoed_by_the_api_are_redacted(
    hs: HostileServer, caplog: pytest.LogCaptureFixture, status: int
) -> None:
    hs.route("POST", TOKEN_PATH, token_answer(prefix=TOKEN))
    body = {
        "error": {
            "code": f"BAD_{TRICKY}",
            "message": f"you sent Bearer {TOKEN}1 and {json.dumps(TRICKY)}",
            "traceId": f"{TOKEN}1",
        }
    }
    hs.route("POST", LIST_PATH, Answer(status=status, body=body, headers={"traceId": f"{TOKEN}1"}))
    caplog.set_level(logging.DEBUG, logger="engagifii_data")
    with pytest.raises(ApiError) as info:
        client_for(hs, client_secret=TRICKY, max_attempts=2).events("T1", progress=False, workers=1)
    text = shown_texts(info.value)
    assert "***" in text
    assert_hidden(text + caplog.text, TRICKY, f"{TOKEN}1")


@pytest.mark.parametrize(
    "location",
    [
        "http://s3cret-canary.example/steal",
        "http://127.0.0.1:9/?client_secret=s3cret-CANARY",
        "https://user:s3cret-CANARY@elsewhere.example/",
    ],
)
def test_the_secret_in_a_location_header_is_redacted(hs: HostileServer, location: str) -> None:
    hs.route("POST", TOKEN_PATH, Answer(status=302, headers={"Location": location}))
    with pytest.raises(TransportError) as info:
        client_for(hs).events("T1", progress=False, workers=1)
    assert_hidden(shown_texts(info.value), SECRET)


def test_the_secret_in_a_listing_value_is_redacted(hs: HostileServer) -> None:
    hs.route("POST", TOKEN_PATH, token_answer(prefix=TOKEN))
    hs.route("POST", LIST_PATH, Answer(body={"data": [], "totalCount": f"{SECRET} {TOKEN}1"}))
    with pytest.raises(PaginationError) as info:
        client_for(hs).events("T1", progress=False, workers=1)
    assert_hidden(shown_texts(info.value), SECRET, f"{TOKEN}1")


def test_the_cli_never_prints_the_secret(hs: HostileServer, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "CLIENT_ID": "c",
        "CLIENT_SECRET": TRICKY,
        "TENANT_CODE": "T1",
        "IDENTITY_SERVER_URL": hs.url,
        "API_BASE_URL": hs.url,
    }.items():
        monkeypatch.setenv(f"ENGAGIFII_{name}", value)
    forms = " ".join(echoed_forms(TRICKY).values())
    hs.route("POST", TOKEN_PATH, Answer(status=400, body={"error": "invalid_client", "error_description": forms}))
    for extra in ([], ["--debug"]):
        out, err = io.StringIO(), io.StringIO()
        code = cli_main(["events", "-o", "x.csv", "--no-progress", "--attempts", "1", *extra], out=out, err=err)
        assert code == 3
        assert "***" in err.getvalue()
        assert_hidden(out.getvalue() + err.getvalue(), TRICKY)


def test_redaction_is_linear_and_short_values_are_left_alone() -> None:
    settings = Settings(client_id="c", client_secret="%%%%\\\\\\\\&&&&" * 4, tenant_codes="T")
    text = "%25" * (MB // 3) + "\\\\" * (MB // 2)
    redacted = completes(lambda: redact(text))
    assert isinstance(redacted, str)
    assert settings.client_secret  # alive while redacting
    Settings(client_id="c", client_secret="abc", tenant_codes="T")  # too short to tell from words
    assert redact("abc abcd") == "abc abcd"


# --------------------------------------------------------------------------------------------------
# 6. Loopback addresses never go through a proxy from the environment; remote hosts still do
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def proxy() -> Iterator[HostileServer]:
    """A would-be proxy that counts connections (and answers any proxied request)."""
    with HostileServer() as server:
        server.route("*", "/*", Answer(body={"via": "proxy"}))
        yield server


@pytest.mark.parametrize("variables", [["HTTP_PROXY"], ["http_proxy"], ["ALL_PROXY"], ["all_proxy", "HTTPS_PROXY"]])
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_loopback_requests_never_use_the_environment_proxy(
    hs: HostileServer, proxy: HostileServer, monkeypatch: pytest.MonkeyPatch, variables: list[str], host: str
) -> None:
    for name in variables:
        monkeypatch.setenv(name, proxy.url)
    hs.route("POST", TOKEN_PATH, token_answer())
    hs.route("POST", LIST_PATH, listing_answer(event_rows(3)))
    url = hs.url.replace("127.0.0.1", host)
    df = client_for(hs, identity_url=url, api_base_url=url).events("T1", progress=False, workers=1)
    assert len(df) == 3
    assert proxy.connections == 0


def test_loopback_over_tls_skips_the_proxy_and_keeps_the_ca_bundle(
    proxy: HostileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with HostileServer(tls=True) as tls:
        assert tls.ca_file is not None
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", tls.ca_file)
        tls.route("POST", TOKEN_PATH, token_answer())
        tls.route("POST", LIST_PATH, listing_answer(event_rows(2)))
        df = client_for(tls).events("T1", progress=False, workers=1)
        assert len(df) == 2
    assert proxy.connections == 0


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY"])
def test_remote_hosts_still_use_the_environment_proxy(
    proxy: HostileServer, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.setenv(variable, proxy.url)
    session = EnvironmentCachingSession()
    answer = session.get("http://events.example.invalid/api/1.0/ping", timeout=5)
    assert answer.json() == {"via": "proxy"}
    assert proxy.connections == 1
    assert proxy.requests[0].path == "http://events.example.invalid/api/1.0/ping"
    settings = session.merge_environment_settings("http://events.example.invalid/", {}, None, None, None)
    assert proxy.url in settings["proxies"].values()
    monkeypatch.setenv("NO_PROXY", "events.example.invalid")
    fresh = EnvironmentCachingSession().merge_environment_settings(
        "http://events.example.invalid/", {}, None, None, None
    )
    assert fresh["proxies"] == {}


# --------------------------------------------------------------------------------------------------
# 7. The connect timeout never outlasts the request deadline; a cancel ends a connect within it
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def unanswered_port() -> Iterator[int]:
    """A port whose connects hang: a listener with a full backlog that never accepts."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(3):  # fill the accept queue; later SYNs are dropped, so connect() waits
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError, OSError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    try:
        yield port
    finally:
        for sock in [*fillers, listener]:
            sock.close()


def hanging_settings(port: int, **overrides: Any) -> Settings:
    url = f"http://127.0.0.1:{port}"
    values: dict[str, Any] = {"identity_url": url, "api_base_url": url, "connect_timeout": 30.0, "max_attempts": 1}
    values.update(overrides)
    return Settings(client_id="c", client_secret=SECRET, tenant_codes="T1", **values)


@pytest.mark.parametrize(
    ("connect", "remaining", "expected"), [(10, 120, (10, 3)), (10, 0.5, (0.5, 0.5)), (1, 2, (1, 2))]
)
def test_connect_and_read_timeouts_never_exceed_the_time_left(
    connect: float, remaining: float, expected: tuple[float, float]
) -> None:
    settings = Settings(client_id="c", client_secret=SECRET, tenant_codes="T1", connect_timeout=connect, read_timeout=3)
    assert connect_and_read_timeouts(settings, remaining) == expected


@pytest.mark.parametrize("deadline", [0.5, 1.5])
def test_a_hanging_connect_ends_with_the_request_deadline(unanswered_port: int, deadline: float) -> None:
    client = EngagifiiClient(hanging_settings(unanswered_port, request_deadline=deadline), sleep=SleepRecorder())
    # connect_timeout is 30 s: only the deadline can end this connect within the limit
    outcome = completes(lambda: client.events("T1", progress=False, workers=1), limit=deadline + 10)
    assert isinstance(outcome, TransportError), repr(outcome)


@pytest.mark.parametrize("where", ["token", "page"])
def test_a_cancel_during_connect_ends_within_the_connect_timeout(
    hs: HostileServer, unanswered_port: int, where: str
) -> None:
    url = f"http://127.0.0.1:{unanswered_port}"
    if where == "token":
        settings = hanging_settings(unanswered_port, connect_timeout=1.0, request_deadline=300, max_attempts=5)
    else:
        hs.route("POST", TOKEN_PATH, token_answer())
        settings = settings_for(hs, api_base_url=url, connect_timeout=1.0, request_deadline=300, max_attempts=5)
    client = EngagifiiClient(settings)  # the real sleep: a cancel must end the waits themselves
    cancel = threading.Event()
    timer = threading.Timer(0.2, cancel.set)
    timer.start()
    try:
        outcome = completes(lambda: client.events("T1", progress=False, workers=1, cancel=cancel), limit=15)
    finally:
        timer.cancel()
    assert isinstance(outcome, IncompleteWalkError), repr(outcome)
    assert "cancelled" in outcome.reason


# --------------------------------------------------------------------------------------------------
# 8. Settings: finite and non-negative, refused naming the setting as the user spelled it
# --------------------------------------------------------------------------------------------------

NON_FINITE = [float("inf"), float("-inf"), float("nan")]
SECONDS_FIELDS = ["connect_timeout", "read_timeout", "request_deadline"]
NON_NEGATIVE_FIELDS = ["backoff", "backoff_max", "retry_after_cap", "renew_margin"]


def base_settings(**values: Any) -> Settings:
    return Settings(client_id="c", client_secret=SECRET, tenant_codes="T1", **values)


@pytest.mark.parametrize("value", [*NON_FINITE, -1, -0.5, True, "10"], ids=repr)
@pytest.mark.parametrize("name", [*SECONDS_FIELDS, *NON_NEGATIVE_FIELDS, "max_requests_per_minute", "max_attempts"])
def test_settings_refuse_non_finite_negative_and_non_numbers(name: str, value: Any) -> None:
    with pytest.raises(ConfigurationError, match=rf"^{name} must be .*got {re.escape(repr(value))}"):
        base_settings(**{name: value})


@pytest.mark.parametrize("name", [*SECONDS_FIELDS, "max_requests_per_minute"])
def test_timeouts_deadlines_and_rates_must_be_above_zero(name: str) -> None:
    with pytest.raises(ConfigurationError, match=f"{name} must be .* > 0"):
        base_settings(**{name: 0})
    assert getattr(base_settings(**{name: 0.25}), name) == 0.25


@pytest.mark.parametrize("name", NON_NEGATIVE_FIELDS)
def test_backoffs_caps_and_margins_may_be_zero(name: str) -> None:
    assert getattr(base_settings(**{name: 0}), name) == 0


ENV = {"ENGAGIFII_CLIENT_ID": "c", "ENGAGIFII_CLIENT_SECRET": SECRET, "ENGAGIFII_TENANT_CODE": "T1"}


@pytest.mark.parametrize("text", ["inf", "nan", "-inf", "Infinity", "-1", "0", "1e3", "١٠", "１０", "1_0", "ten"])
@pytest.mark.parametrize("variable", ["CONNECT_TIMEOUT", "READ_TIMEOUT", "REQUEST_DEADLINE", "MAX_REQUESTS_PER_MINUTE"])
def test_environment_variables_are_refused_by_their_name(variable: str, text: str) -> None:
    name = f"ENGAGIFII_{variable}"
    with pytest.raises(ConfigurationError, match=rf"^{name} must be .*got {re.escape(repr(text))}"):
        Settings.from_env(environ={**ENV, name: text})


def test_environment_variables_set_the_numbers() -> None:
    env = {**ENV, "ENGAGIFII_REQUEST_DEADLINE": "30", "ENGAGIFII_CONNECT_TIMEOUT": " 2.5 "}
    env["ENGAGIFII_MAX_REQUESTS_PER_MINUTE"] = "100"
    settings = Settings.from_env(environ=env)
    assert (settings.request_deadline, settings.connect_timeout, settings.max_requests_per_minute) == (30, 2.5, 100)


def test_a_dotenv_value_is_refused_by_its_variable(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("ENGAGIFII_READ_TIMEOUT=nan\n")
    env_file.chmod(0o600)
    with pytest.raises(ConfigurationError, match=r"ENGAGIFII_READ_TIMEOUT must be .*'nan' \(not a finite number\)"):
        Settings.from_env(env_file, environ=ENV)


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--timeout", "inf"),
        ("--timeout", "nan"),
        ("--timeout", "-5"),
        ("--timeout", "0"),
        ("--timeout", "１０"),
        ("--attempts", "0"),
        ("--attempts", "-1"),
        ("--attempts", "2.5"),
        ("--attempts", "١"),
        ("--workers", "４"),
        ("--page-size", "1_00"),
    ],
)
def test_cli_flags_are_refused_by_their_name(capsys: pytest.CaptureFixture[str], flag: str, value: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    code = cli_main(["events", "--sandbox", "-o", "x.csv", f"{flag}={value}"], out=out, err=err)
    assert code == 2
    shown = capsys.readouterr().err + err.getvalue()
    assert f"argument {flag}" in shown or shown.startswith(f"error: {flag}")
    assert flag in shown and repr(value) in shown
    assert "Traceback" not in shown
    assert not Path("x.csv").exists()


def test_a_key_set_twice_in_dotenv_warns_naming_the_file_key_and_lines(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "ENGAGIFII_CLIENT_ID=first\n"
        "# a comment\n"
        "ENGAGIFII_CLIENT_SECRET=s3cret-CANARY\n"
        "ENGAGIFII_TENANT_CODE=T1\n"
        "export ENGAGIFII_CLIENT_ID=second\n"
        "ENGAGIFII_TENANT_CODE=T2\n"
        "ENGAGIFII_CLIENT_ID=third\n"
    )
    env_file.chmod(0o600)
    with pytest.warns(UserWarning) as caught:
        settings = Settings.from_env(env_file, environ={})
    messages = sorted(str(w.message) for w in caught)
    assert messages == [
        f".env file {env_file}: ENGAGIFII_CLIENT_ID is set 3 times (lines 1, 5, 7); the last one, line 7, is used",
        f".env file {env_file}: ENGAGIFII_TENANT_CODE is set 2 times (lines 4, 6); the last one, line 6, is used",
    ]
    assert (settings.client_id, settings.tenant_codes) == ("third", ("T2",))
    assert all("s3cret" not in m for m in messages)


def test_a_dotenv_without_repeats_does_not_warn(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("ENGAGIFII_CLIENT_ID=c\nENGAGIFII_CLIENT_SECRET=s3cret-CANARY\nENGAGIFII_TENANT_CODE=T1\n")
    env_file.chmod(0o600)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Settings.from_env(env_file, environ={})
