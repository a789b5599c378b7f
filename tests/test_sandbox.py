"""The sandbox's contract: identity, Events API, data, faults, concurrency (127.0.0.1 only)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from joserfc import jws, jwt
from joserfc.jwk import KeySet, RSAKey

from engagifii_data import sandbox
from tests.helpers import LIST, SESSION_KEYS, assert_envelope, get_token, headers, ids, instant, post_list


@pytest.fixture
def token(sb: Any) -> str:
    return get_token(sb)


# -- package ---------------------------------------------------------------------------------
def test_import_stays_light() -> None:
    # authlib's client side may be used by engagifii_data.auth; the sandbox's server stack may not
    heavy = (
        "flask",
        "werkzeug",
        "faker",
        "authlib.integrations.flask_oauth2",
        "engagifii_data.sandbox.server",
        "engagifii_data.sandbox.data",
    )
    code = (
        "import sys, engagifii_data; from engagifii_data import sandbox; "
        f"print([m for m in {heavy!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert sandbox.TENANTS == {"ACME": 2400, "GLOBEX": 36, "INITECH": 0}
    assert (sandbox.CLIENT_ID, sandbox.CLIENT_SECRET) == ("sandbox-client", "sandbox-secret-CANARY-1234")
    assert datetime(2026, 11, 1, 12, tzinfo=UTC) == sandbox.DEFAULT_NOW


def test_run_object_and_settings(sb: Any) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", sb.identity_url)
    assert sb.api_url == sb.identity_url
    assert sb.tenants == {"ACME": 2400, "GLOBEX": 36, "INITECH": 0}
    assert list(sb.tenants) == ["ACME", "GLOBEX", "INITECH"]
    settings = sb.settings(read_timeout=5.0)
    assert settings.client_id == "sandbox-client"
    assert settings.client_secret == "sandbox-secret-CANARY-1234"
    assert settings.tenant_codes == ("ACME", "GLOBEX", "INITECH")
    assert settings.token_url == sb.identity_url + "/connect/token"
    assert settings.api_base_url == sb.api_url and settings.read_timeout == 5.0
    assert isinstance(sb.faults, sandbox.Faults) and sb.faults == sandbox.Faults()


def test_run_rejects_bad_options() -> None:
    with pytest.raises(TypeError), sandbox.run(no_such_fault=1):
        pass
    with pytest.raises(ValueError), sandbox.run(envelope="xml"):
        pass
    with pytest.raises(ValueError), sandbox.run(page_faults={2: "explode"}):
        pass


def test_serve_calls_ready_then_blocks_until_interrupted() -> None:
    seen: list[int] = []

    def ready(running: Any) -> None:
        r = requests.get(running.identity_url + "/.well-known/openid-configuration", timeout=5)
        seen.append(r.status_code)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sandbox.serve(port=0, ready=ready)
    assert seen == [200]


# -- identity --------------------------------------------------------------------------------
def test_token_shape_and_signature(sb: Any) -> None:
    before = int(time.time())
    r = requests.post(
        sb.identity_url + "/connect/token",
        timeout=10,
        data={
            "client_id": sb.client_id,
            "client_secret": sb.client_secret,
            "grant_type": "client_credentials",
            "scope": "EventsApi",
        },
    )
    assert r.status_code == 200
    assert r.headers["Cache-Control"] == "no-store"
    body = r.json()
    assert set(body) == {"access_token", "expires_in", "token_type", "scope"}
    assert (body["expires_in"], body["token_type"], body["scope"]) == (3600, "Bearer", "EventsApi")

    config = requests.get(sb.identity_url + "/.well-known/openid-configuration", timeout=5).json()
    assert config["issuer"] == sb.identity_url
    assert config["token_endpoint"] == sb.identity_url + "/connect/token"
    assert "client_credentials" in config["grant_types_supported"]
    assert config["scopes_supported"] == ["EventsApi"]
    jwks = requests.get(config["jwks_uri"], timeout=5).json()
    assert [k["kty"] for k in jwks["keys"]] == ["RSA"] and "d" not in jwks["keys"][0]
    decoded = jwt.decode(body["access_token"], KeySet.import_key_set(jwks), algorithms=["RS256"])
    assert decoded.header["alg"] == "RS256" and decoded.header["kid"] == jwks["keys"][0]["kid"]
    claims = decoded.claims
    assert {"iss", "exp", "iat", "nbf", "scope", "client_id", "jti"} <= set(claims)
    assert claims["iss"] == sb.identity_url
    assert claims["client_id"] == "sandbox-client" and claims["scope"] == "EventsApi"
    assert claims["exp"] - claims["iat"] == 3600
    assert before <= claims["iat"] <= int(time.time()) and claims["nbf"] >= claims["iat"]


def test_token_basic_auth_and_default_scope(sb: Any) -> None:
    r = requests.post(
        sb.identity_url + "/connect/token",
        auth=(sb.client_id, sb.client_secret),
        data={"grant_type": "client_credentials"},
        timeout=10,
    )
    assert r.status_code == 200
    assert r.json()["scope"] == "EventsApi"
    tok = r.json()["access_token"]
    assert post_list(sb, tok, {}).status_code == 200


def test_token_lifetime_fault() -> None:
    with sandbox.run(token_lifetime=120) as s:
        r = requests.post(
            s.identity_url + "/connect/token",
            auth=(s.client_id, s.client_secret),
            data={"grant_type": "client_credentials"},
            timeout=10,
        )
        assert r.json()["expires_in"] == 120
        jwks = requests.get(s.identity_url + "/.well-known/openid-configuration/jwks", timeout=5).json()
        claims = jwt.decode(r.json()["access_token"], KeySet.import_key_set(jwks)).claims
        assert claims["exp"] - claims["iat"] == 120


@pytest.mark.parametrize(
    ("how", "status", "error"),
    [
        ("wrong_secret_form", 400, "invalid_client"),
        ("unknown_client_form", 400, "invalid_client"),
        ("wrong_secret_basic", 401, "invalid_client"),
        ("bad_scope", 400, "invalid_scope"),
        ("password_grant", 400, "unsupported_grant_type"),
        ("no_grant_type", 400, "invalid_request"),
        ("json_body", 400, "invalid_request"),
    ],
)
def test_token_errors(sb: Any, how: str, status: int, error: str) -> None:
    url = sb.identity_url + "/connect/token"
    form = {
        "client_id": sb.client_id,
        "client_secret": sb.client_secret,
        "grant_type": "client_credentials",
        "scope": "EventsApi",
    }
    kwargs: dict[str, Any] = {"data": form}
    if how == "wrong_secret_form":
        form["client_secret"] = "nope"
    elif how == "unknown_client_form":
        form["client_id"] = "someone-else"
    elif how == "wrong_secret_basic":
        kwargs = {"data": {"grant_type": "client_credentials"}, "auth": (sb.client_id, "nope")}
    elif how == "bad_scope":
        form["scope"] = "AdminApi"
    elif how == "password_grant":
        form["grant_type"] = "password"
    elif how == "no_grant_type":
        del form["grant_type"]
    elif how == "json_body":
        kwargs = {"json": form}
    r = requests.post(url, timeout=10, **kwargs)
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"] == error
    assert isinstance(body["error_description"], str) and body["error_description"]
    assert "access_token" not in body
    if how == "wrong_secret_basic":
        assert r.headers["WWW-Authenticate"].startswith('Basic error="invalid_client"')
    assert sb.client_secret not in r.text


def test_token_expiry() -> None:
    with sandbox.run(token_lifetime=1) as s:
        r = requests.post(
            s.identity_url + "/connect/token",
            auth=(s.client_id, s.client_secret),
            data={"grant_type": "client_credentials"},
            timeout=10,
        )
        tok = r.json()["access_token"]
        assert r.json()["expires_in"] == 1
        assert post_list(s, tok, {}).status_code == 200
        exp = json.loads(jws.extract_compact(tok.encode()).payload)["exp"]
        time.sleep(max(exp - time.time(), 0) + 1.05)
        r = post_list(s, tok, {})
        assert r.status_code == 401
        assert r.json() == {"error": "invalid_token", "error_description": "The access token expired"}
        assert r.headers["WWW-Authenticate"] == (
            'Bearer error="invalid_token", error_description="The access token expired"'
        )


@pytest.mark.parametrize("authorization", [None, "Bearer ", "Bearer not.a.jwt", "Basic abc"])
def test_api_rejects_missing_or_malformed_token(sb: Any, authorization: str | None) -> None:
    h = {"tenant-code": "ACME", "api-version": "1.0", "Content-Type": "application/json"}
    if authorization is not None:
        h["Authorization"] = authorization
    r = requests.post(sb.api_url + LIST, headers=h, data="{}", timeout=10)
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_token"
    assert r.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')


def test_api_rejects_token_signed_by_another_key(sb: Any, token: str) -> None:
    claims = json.loads(jws.extract_compact(token.encode()).payload)
    forged = jwt.encode({"alg": "RS256", "kid": "sandbox-rs256"}, claims, RSAKey.generate_key(2048))
    r = post_list(sb, forged, {})
    assert r.status_code == 401
    assert r.json() == {"error": "invalid_token", "error_description": "The signature is invalid"}


# -- API errors ------------------------------------------------------------------------------
def test_missing_tenant(sb: Any, token: str) -> None:
    r = post_list(sb, token, {}, tenant=None)
    err = assert_envelope(r, 400, "MISSING_TENANT")
    assert err["message"] == "Tenant code header is required"
    assert err["details"] is None


def test_unknown_tenant(sb: Any, token: str) -> None:
    err = assert_envelope(post_list(sb, token, {}, tenant="NOPE"), 404, "TENANT_NOT_FOUND")
    assert "NOPE" in err["message"]


def test_api_version(sb: Any, token: str) -> None:
    err = assert_envelope(post_list(sb, token, {}, **{"api-version": "2.0"}), 400, "UNSUPPORTED_API_VERSION")
    assert "2.0" in err["message"]
    h = headers(token)
    del h["api-version"]
    assert requests.post(sb.api_url + LIST, headers=h, data="{}", timeout=10).status_code == 200


def test_check_order_auth_then_tenant_then_body(sb: Any, token: str) -> None:
    r = post_list(sb, "garbage", raw="{oops", tenant=None)
    assert r.status_code == 401
    assert_envelope(post_list(sb, token, raw="{oops", tenant=None), 400, "MISSING_TENANT")
    assert_envelope(post_list(sb, token, raw="{oops", tenant="NOPE"), 404, "TENANT_NOT_FOUND")
    assert_envelope(post_list(sb, token, raw="{oops"), 400, "VALIDATION_ERROR")


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ('{"PageNumber": 0}', "PageNumber"),
        ('{"pageNumber": -3}', "PageNumber"),
        ('{"PageSize": 0}', "PageSize"),
        ('{"itemCount": 0}', "PageSize"),
        ('{"pageNumber": "2"}', "PageNumber"),
        ('{"pageNumber": 1.5}', "PageNumber"),
        ('{"pageSize": true}', "PageSize"),
        ('{"onlyUpcoming": "yes"}', "OnlyUpcoming"),
        ('{"OnlyUpcoming": 1}', "OnlyUpcoming"),
        ('{"pageNumber": 1,', "body"),
        ("[1, 2]", "body"),
        ("not json", "body"),
    ],
)
def test_validation_errors(sb: Any, token: str, raw: str, field: str) -> None:
    err = assert_envelope(post_list(sb, token, raw=raw), 400, "VALIDATION_ERROR")
    assert field in [d["field"] for d in err["details"]]


def test_unknown_route_and_detail_not_found(sb: Any, token: str) -> None:
    path = "/api/1.0/event/00000000-0000-4000-8000-000000000000"
    r = requests.get(sb.api_url + path, headers=headers(token), timeout=10)
    err = assert_envelope(r, 404, "NOT_FOUND", path=path, method="GET")
    assert "00000000-0000-4000-8000-000000000000" in err["message"]
    r = requests.post(sb.api_url + "/api/1.0/nothing", headers=headers(token), data="{}", timeout=10)
    assert_envelope(r, 404, "NOT_FOUND", path="/api/1.0/nothing")


# -- listing ---------------------------------------------------------------------------------
def test_defaults_and_wire_envelope(sb: Any, token: str) -> None:
    for r in (post_list(sb, token, raw=""), post_list(sb, token, {})):
        assert r.status_code == 200
        body = r.json()
        assert set(body) == {"collection", "pagingModel"}
        assert body["pagingModel"] == {"totalRecords": 2400, "pageNumber": 1, "pageSize": 10, "totalPages": 240}
        assert ids(r) == [e["id"] for e in sb.events("ACME")[:10]]
        assert r.headers["Content-Type"] == "application/json; charset=utf-8"


def test_docs_envelope_and_runtime_switch() -> None:
    with sandbox.run(envelope="docs") as s:
        tok = get_token(s)
        body = post_list(s, tok, {"PageNumber": 2, "PageSize": 5}, tenant="GLOBEX").json()
        assert set(body) == {"totalCount", "data"}
        assert body["totalCount"] == 36
        assert [e["id"] for e in body["data"]] == [e["id"] for e in s.events("GLOBEX")[5:10]]
        s.faults.envelope = "wire"
        body = post_list(s, tok, {"PageNumber": 4, "PageSize": 10}, tenant="GLOBEX").json()
        assert body["pagingModel"] == {"totalRecords": 36, "pageNumber": 4, "pageSize": 10, "totalPages": 4}
        assert len(body["collection"]) == 6


def test_empty_tenant(sb: Any, token: str) -> None:
    body = post_list(sb, token, {"pageSize": 100}, tenant="INITECH").json()
    assert body == {
        "collection": [],
        "pagingModel": {"totalRecords": 0, "pageNumber": 1, "pageSize": 100, "totalPages": 0},
    }


def test_case_insensitive_names_and_aliases(sb: Any, token: str) -> None:
    expected = [e["id"] for e in sb.events("ACME")[20:40]]
    for body in (
        {"PageNumber": 2, "PageSize": 20},
        {"pageNumber": 2, "pageSize": 20},
        {"PAGENUMBER": 2, "pagesize": 20},
        {"pageNumber": 2, "itemCount": 20},
        {"pageNumber": 2, "pageSize": 20, "unknownThing": {"x": 1}, "tags": []},
    ):
        assert ids(post_list(sb, token, body)) == expected, body
    as_bool = post_list(sb, token, {"onlyUpcoming": True, "pageSize": 100}).json()
    for value in ("true", "TRUE", "True"):
        assert post_list(sb, token, {"OnlyUpcoming": value, "pageSize": 100}).json() == as_bool
    everything = post_list(sb, token, {"onlyUpcoming": "False"}).json()
    assert everything["pagingModel"]["totalRecords"] == 2400
    assert as_bool["pagingModel"]["totalRecords"] < 2400


def test_page_size_cap(sb: Any, token: str) -> None:
    body = post_list(sb, token, {"PageSize": 500}).json()
    assert len(body["collection"]) == 100
    assert body["pagingModel"]["totalRecords"] == 2400 and body["pagingModel"]["pageSize"] == 100
    with sandbox.run(max_page_size=25, envelope="docs") as s:
        body = post_list(s, get_token(s), {"PageSize": 100}).json()
        assert len(body["data"]) == 25 and body["totalCount"] == 2400


def test_search(sb: Any, token: str) -> None:
    for body, needle, name in (
        ({"text": "café"}, "café", "Café Conférence"),
        ({"filterBody": {"searchText": "GALA"}, "pageSize": 100}, "gala", "🎉 Gala"),
        ({"FilterBody": {"SearchText": "=sum("}}, "=sum(", "=SUM(A1:A2) Workshop"),
        ({"text": "@home"}, "@home", "@Home Webinar"),
    ):
        result = post_list(sb, token, body).json()
        rows = result["collection"]
        assert name in [e["name"] for e in rows]
        assert all(needle in e["name"].casefold() for e in rows)
        everything = [e for e in sb.events("ACME") if needle in e["name"].casefold()]
        assert result["pagingModel"]["totalRecords"] == len(everything)
    r = post_list(sb, token, {"text": "no such event anywhere"}).json()
    assert r["pagingModel"]["totalRecords"] == 0 and r["collection"] == []


def test_stable_order_and_full_walk(sb: Any, token: str) -> None:
    walked: list[dict[str, Any]] = []
    for page in range(1, 25):
        walked += post_list(sb, token, {"pageNumber": page, "pageSize": 100}).json()["collection"]
    assert len(walked) == 2400 and len({e["id"] for e in walked}) == 2400
    assert [e["id"] for e in walked] == [e["id"] for e in sb.events("ACME")]
    keys = [(instant(e["startDateTime"], e.get("timeZone")), e["id"]) for e in walked]
    assert keys == sorted(keys)
    again = post_list(sb, token, {"pageNumber": 7, "pageSize": 100}).content
    assert again == post_list(sb, token, {"pageNumber": 7, "pageSize": 100}).content
    by_name = post_list(sb, token, {"sortBy": "Name", "isAscending": "false", "pageSize": 100}).json()
    names = [e["name"].casefold() for e in by_name["collection"]]
    assert names == sorted(names, reverse=True)


def test_only_upcoming_against_fixed_clock() -> None:
    for now in (datetime(2025, 6, 1, tzinfo=UTC), sandbox.DEFAULT_NOW):
        with sandbox.run(now=now) as s:
            tok = get_token(s)
            expected = [
                e["id"]
                for e in s.events("ACME")
                if instant(e.get("endDateTime") or e["startDateTime"], e.get("timeZone")) >= now
            ]
            got: list[str] = []
            page = 1
            while True:
                body = post_list(s, tok, {"pageNumber": page, "pageSize": 100, "onlyUpcoming": "true"}).json()
                got += [e["id"] for e in body["collection"]]
                if page >= body["pagingModel"]["totalPages"]:
                    break
                page += 1
            assert got == expected
            assert body["pagingModel"]["totalRecords"] == len(expected)
    assert 600 < len(expected) < 1000  # the year after DEFAULT_NOW


def test_event_detail(sb: Any, token: str) -> None:
    row = post_list(sb, token, {"pageSize": 1}, tenant="GLOBEX").json()["collection"][0]
    assert "contacts" not in row
    path = f"/api/1.0/event/{row['id']}"
    r = requests.get(sb.api_url + path, headers=headers(token, "GLOBEX"), timeout=10)
    assert r.status_code == 200
    detail = r.json()
    assert set(detail["contacts"]) == {"regular", "finance", "exhibitor"}
    keys = list(row)
    keys.insert(keys.index("eventDates") + 1, "contacts")
    assert list(detail) == keys  # the row's keys in order, contacts after eventDates
    assert {k: v for k, v in detail.items() if k not in ("contacts", "eventDates")} == {
        k: v for k, v in row.items() if k != "eventDates"
    }
    # the detail's sessions: the row's (perhaps with more fields), perhaps then unscheduled ones
    for listed, detailed in zip(row["eventDates"], detail["eventDates"], strict=False):
        assert {k: detailed[k] for k in listed} == listed
    assert len(detail["eventDates"]) >= len(row["eventDates"])
    assert_envelope(
        requests.get(sb.api_url + path, headers=headers(token, "ACME"), timeout=10),
        404,
        "NOT_FOUND",
        path=path,
        method="GET",
    )


# -- data ------------------------------------------------------------------------------------
def test_determinism() -> None:
    a = json.dumps(sandbox.generate(seed=7), ensure_ascii=False)
    b = json.dumps(sandbox.generate(seed=7), ensure_ascii=False)
    c = json.dumps(sandbox.generate(seed=8), ensure_ascii=False)
    assert a == b
    assert a != c


def test_same_seed_same_bytes_over_http() -> None:
    pages = []
    for _ in range(2):
        with sandbox.run(seed=sandbox.DEFAULT_SEED) as s:
            pages.append(post_list(s, get_token(s), {"pageNumber": 3, "pageSize": 50}).content)
    assert pages[0] == pages[1]


def test_hard_cases_present(sb: Any) -> None:
    acme = sb.events("ACME", detail=True)
    globex = sb.events("GLOBEX", detail=True)
    assert len(acme) == 2400 and len(globex) == 36
    for events in (acme, globex):
        names = {e["name"] for e in events}
        for hard in (
            "Café Conférence",
            "🎉 Gala",
            "=SUM(A1:A2) Workshop",
            "+1 Networking",
            "-Minus Meetup",
            "@Home Webinar",
        ):
            assert hard in names
        assert {e["eventStatus"] for e in events} == {"Draft", "Published", "Cancelled", "Completed"}
    assert {e["eventRegistrationState"] for e in acme} == {
        "RegistrationClosed",
        "RegistrationNotStarted",
        "RegistrationScheduled",
        "RegistrationOpen",
    }
    descriptions = [e.get("description") or "" for e in acme]
    assert any("\r\n" in d for d in descriptions)
    assert any("\n" in d and "\r\n" not in d for d in descriptions)
    assert any("\t" in d for d in descriptions)
    assert any(e.get("description") is None for e in acme)
    starts = [e["startDateTime"] for e in acme]
    assert any(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", s) for s in starts)
    assert any(
        e.get("timeZone") == "Eastern Standard Time"
        and "+" not in e["startDateTime"]
        and not e["startDateTime"].endswith("Z")
        for e in acme
    )
    assert any(s.endswith("+05:30") for s in starts)
    assert any(re.fullmatch(r".*T\d\d:\d\d:\d\dZ", s) for s in starts)
    assert any(re.fullmatch(r".*\.\d{7}Z", s) for s in starts)
    assert all(re.fullmatch(r".*\.\d{7}", e["createdOn"]) for e in acme if "createdOn" in e)
    assert any(e["registrationStartFrom"] == "0001-01-01T00:00:00" for e in acme)
    assert any(e["eventTypeId"] == "00000000-0000-0000-0000-000000000000" for e in acme)
    assert all(
        re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", e["id"]) for e in acme
    )
    assert sum("externalRef" in e for e in acme) > 0
    assert any("imageUrl" not in e for e in acme) and any("tags" not in e for e in acme)
    assert any(e["location"] is None for e in acme) and any(e["location"] for e in acme)
    assert {"name", "addressLine", "city", "state", "zip", "country", "latitude", "longitude"} == set(
        next(e["location"] for e in acme if e["location"])
    )
    rows = sb.events("ACME")  # list rows: the detail may add sessions and session fields
    assert {len(e["eventDates"]) for e in rows} == {0, 1, 2, 3, 4}
    assert {frozenset(s) for e in rows for s in e["eventDates"]} == {SESSION_KEYS}
    assert any(e["isFreeEvent"] and e["defaultPrice"] == 0 for e in acme)
    assert any(not e["isFreeEvent"] and e["defaultPrice"] > 0 for e in acme)
    assert all(round(e["defaultPrice"], 2) == e["defaultPrice"] for e in acme)
    assert any(e["registrantsCapacity"] is None for e in acme)
    assert any(e.get("tags") for e in acme)
    lo, hi = sandbox.DEFAULT_NOW - timedelta(days=731), sandbox.DEFAULT_NOW + timedelta(days=366)
    instants = [instant(e["startDateTime"], e.get("timeZone")) for e in acme]
    assert lo <= min(instants) < sandbox.DEFAULT_NOW - timedelta(days=700)
    assert sandbox.DEFAULT_NOW + timedelta(days=330) < max(instants) <= hi


# -- faults ----------------------------------------------------------------------------------
def test_latency() -> None:
    with sandbox.run(latency=0.2) as s:
        t0 = time.monotonic()
        tok = get_token(s)
        t1 = time.monotonic()
        assert post_list(s, tok, {}).status_code == 200
        t2 = time.monotonic()
    assert t1 - t0 >= 0.2 and t2 - t1 >= 0.2


def test_rate_limit_every_nth() -> None:
    with sandbox.run(rate_limit_every=3) as s:
        tok = get_token(s)
        statuses = [post_list(s, tok, {}).status_code for _ in range(7)]
        assert statuses == [200, 200, 429, 200, 200, 429, 200]
        assert get_token(s)  # the token endpoint is not rate limited
        s.faults.rate_limit_every = 2
        s.faults.retry_after = format_datetime(datetime(2030, 1, 1, tzinfo=UTC), usegmt=True)
        assert post_list(s, tok, {}).status_code == 200
        r = post_list(s, tok, {})
        err = assert_envelope(r, 429, "RATE_LIMITED")
        assert err["message"]
        assert r.headers["Retry-After"] == "Tue, 01 Jan 2030 00:00:00 GMT"
        s.faults.rate_limit_every = 0
        assert [post_list(s, tok, {}).status_code for _ in range(3)] == [200, 200, 200]
        assert [x["fault"] for x in s.log if x["status"] == 429] == ["rate_limit"] * 3


def test_page_faults_first_attempt_only() -> None:
    with sandbox.run(page_faults={2: "html503", 3: "drop", 4: "truncate"}) as s:
        tok = get_token(s)
        body = {"pageSize": 10}
        r = post_list(s, tok, {**body, "pageNumber": 2})
        assert r.status_code == 503 and r.headers["Content-Type"].startswith("text/html")
        assert "Service Unavailable" in r.text
        with pytest.raises(requests.ConnectionError):
            post_list(s, tok, {**body, "pageNumber": 3})
        r = post_list(s, tok, {**body, "pageNumber": 4})
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
        assert int(r.headers["Content-Length"]) == len(r.content)
        with pytest.raises(ValueError):
            json.loads(r.content)
        expected = [e["id"] for e in s.events("ACME")]
        for page in (2, 3, 4):  # second attempts succeed
            r = post_list(s, tok, {**body, "pageNumber": page})
            assert r.status_code == 200 and ids(r) == expected[(page - 1) * 10 : page * 10]
        # per tenant: GLOBEX's page 2 has its own first attempt
        assert post_list(s, tok, {**body, "pageNumber": 2}, tenant="GLOBEX").status_code == 503
        faults = [(x["page"], x["fault"], x["status"]) for x in s.log if x["fault"]]
        assert faults == [(2, "html503", 503), (3, "drop", 0), (4, "truncate", 200), (2, "html503", 503)]


def test_ignore_page_number() -> None:
    with sandbox.run(ignore_page_number=True) as s:
        tok = get_token(s)
        first = post_list(s, tok, {"pageNumber": 1}).json()
        third = post_list(s, tok, {"pageNumber": 3}).json()
        assert third["collection"] == first["collection"]
        assert third["pagingModel"]["pageNumber"] == 3 and third["pagingModel"]["totalRecords"] == 2400


def test_insert_after_first_page() -> None:
    with sandbox.run(insert_after_first_page=5) as s:
        tok = get_token(s)
        before = [e["id"] for e in s.events("ACME")]
        p1 = post_list(s, tok, {"pageNumber": 1, "pageSize": 100}).json()
        assert p1["pagingModel"]["totalRecords"] == 2400
        assert [e["id"] for e in p1["collection"]] == before[:100]
        after = [e["id"] for e in s.events("ACME")]
        assert len(after) == 2405 and set(before) < set(after)
        new_positions = [i for i, x in enumerate(after) if x not in set(before)]
        assert new_positions[0] >= 100 and new_positions[-1] - new_positions[0] > 1000  # spread
        p2 = post_list(s, tok, {"pageNumber": 2, "pageSize": 100}).json()
        assert p2["pagingModel"]["totalRecords"] == 2405
        post_list(s, tok, {"pageNumber": 1, "pageSize": 100})  # once per tenant
        assert s.tenants["ACME"] == 2405
        assert post_list(s, tok, {"pageNumber": 1}, tenant="GLOBEX").json()["pagingModel"]["totalRecords"] == 36
        assert s.tenants["GLOBEX"] == 41


def test_insert_events_is_deterministic() -> None:
    made = []
    for _ in range(2):
        with sandbox.run() as s:
            made.append(s.insert_events("GLOBEX", 3))
            assert s.tenants["GLOBEX"] == 39
            listed = [e["id"] for e in s.events("GLOBEX")]
            assert {e["id"] for e in made[-1]} <= set(listed)
            s.insert_events("INITECH", 2)
            assert s.tenants["INITECH"] == 2
    assert made[0] == made[1]


def test_fail_from_page() -> None:
    with sandbox.run(fail_from_page=3) as s:
        tok = get_token(s)
        assert post_list(s, tok, {"pageNumber": 2}).status_code == 200
        for page in (3, 3, 4, 100):
            err = assert_envelope(post_list(s, tok, {"pageNumber": page}), 500, "INTERNAL_ERROR")
            assert err["message"]


def test_reject_tokens_and_revoke() -> None:
    with sandbox.run() as s:
        tok = get_token(s)
        assert post_list(s, tok, {}).status_code == 200
        s.faults.reject_tokens = True
        r = post_list(s, tok, {})
        assert r.status_code == 401 and r.json()["error"] == "invalid_token"
        assert r.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
        s.faults.reject_tokens = False
        assert post_list(s, tok, {}).status_code == 200
        s.revoke_tokens()
        r = post_list(s, tok, {})
        assert r.status_code == 401
        assert r.json() == {"error": "invalid_token", "error_description": "The access token expired"}
        fresh = get_token(s)
        assert post_list(s, fresh, {}).status_code == 200


def test_log_and_counters() -> None:
    with sandbox.run() as s:
        tok = get_token(s)
        post_list(s, tok, {"PageNumber": 2, "PageSize": 7}, tenant="GLOBEX")
        assert (s.token_requests, s.api_requests) == (1, 1)
        token_rec, api_rec = s.log
        assert token_rec["kind"] == "token" and token_rec["status"] == 200
        assert token_rec["body"]["grant_type"] == "client_credentials"
        assert api_rec["kind"] == "api" and api_rec["method"] == "POST" and api_rec["path"] == LIST
        assert api_rec["headers"]["tenant-code"] == "GLOBEX" and api_rec["headers"]["api-version"] == "1.0"
        assert api_rec["body"] == {"PageNumber": 2, "PageSize": 7}
        assert (api_rec["tenant"], api_rec["page"], api_rec["page_size"], api_rec["fault"]) == ("GLOBEX", 2, 7, None)
        assert token_rec["time"] <= api_rec["time"]
        requests.post(s.identity_url + "/connect/token", data={"grant_type": "client_credentials"}, timeout=5)
        assert s.token_requests == 2
        s.reset_log()
        assert (s.log, s.token_requests, s.api_requests) == ([], 0, 0)


def test_concurrent_clients() -> None:
    with sandbox.run() as s:
        tok = get_token(s)
        errors: list[str] = []
        expected = [e["id"] for e in s.events("ACME")]

        def client(n: int) -> None:
            try:
                with requests.Session() as session:
                    for i in range(25):
                        page = (n * 25 + i) % 24 + 1
                        r = session.post(
                            s.api_url + LIST,
                            headers=headers(tok),
                            timeout=30,
                            data=json.dumps({"pageNumber": page, "pageSize": 100}),
                        )
                        if r.status_code != 200 or ids(r) != expected[(page - 1) * 100 : page * 100]:
                            errors.append(f"{n}/{i}: {r.status_code}")
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(repr(exc))

        threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == []
        assert s.api_requests == 200 and len([x for x in s.log if x["kind"] == "api"]) == 200


def test_vendor_curl_quick_start(sb: Any) -> None:
    """The vendor guide's two curl commands, sent byte for byte as curl would."""
    with requests.Session() as session:
        session.headers.clear()
        session.headers.update({"User-Agent": "curl/8.5.0", "Accept": "*/*"})
        r = session.post(
            sb.identity_url + "/connect/token",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            data=urlencode(
                {
                    "client_id": sb.client_id,
                    "client_secret": sb.client_secret,
                    "grant_type": "client_credentials",
                    "scope": "EventsApi",
                }
            ),
        )
        assert r.status_code == 200
        access_token = r.json()["access_token"]
        r = session.post(
            sb.api_url + "/api/1.0/event/list",
            data="{}",
            headers={
                "Authorization": f"Bearer {access_token}",
                "api-version": "1.0",
                "tenant-code": "ACME",
                "Content-Type": "application/json",
            },
        )
        assert r.status_code == 200
        body = r.json()
        assert len(body["collection"]) == 10 and body["pagingModel"]["totalRecords"] == 2400
