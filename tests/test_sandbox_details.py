"""The sandbox's detail answers (``GET /api/1.0/event/{id}``): contacts and sessions with their hard
cases, list rows unchanged by them, and the faults that apply to details (127.0.0.1 only)."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections import Counter
from typing import Any

import pytest
import requests

from engagifii_data import sandbox
from tests.helpers import LIST, SESSION_KEYS, assert_envelope, get_token, headers, ids, post_list

#: sha256 of ``sandbox.generate()``'s list rows (contacts left out) as compact UTF-8 JSON, computed
#: with the code from before detail answers had streams of their own: the list rows must not change.
LIST_ROWS_SHA256 = "abe283d7c650d07a04da341f35ee8a1920e8faedb9b7a8e98877d919cd35fd4d"
#: sha256 of every page (pageSize 100) of ACME then GLOBEX over HTTP, from the same code.
LIST_PAGES_SHA256 = "9efc91acd67268f0587097c182c841b16a5fff73b05e043e6149600d954a9ae5"
ROLES = {"regular", "finance", "exhibitor"}
CONTACT_KEYS = {"id", "name", "email", "phone"}
GUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
#: Number of events of each tenant showing each hard case of the detail answer (default seed).
EXPECTED_CASES = {
    "ACME": {
        "contacts_null": 60,
        "all_empty": 238,
        "role_missing": 121,
        "several_in_role": 1173,
        "email_absent": 178,
        "email_null": 167,
        "extra_field": 284,
        "accents": 25,
        "cjk": 24,
        "emoji": 26,
        "rtl": 27,
        "formula": 25,
        "session_null_times": 80,
        "session_extra_field": 146,
    },
    "GLOBEX": {
        "contacts_null": 2,
        "all_empty": 4,
        "role_missing": 3,
        "several_in_role": 18,
        "email_absent": 2,
        "email_null": 1,
        "extra_field": 5,
        "accents": 1,
        "cjk": 1,
        "emoji": 2,
        "rtl": 2,
        "formula": 1,
        "session_null_times": 1,
        "session_extra_field": 4,
    },
}


def _json(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def hard_cases(event: dict[str, Any]) -> set[str]:
    """The hard cases one detail answer shows (independent of how the sandbox makes them)."""
    found = set()
    contacts = event["contacts"]
    people: list[dict[str, Any]] = []
    if contacts is None:
        found.add("contacts_null")
    else:
        if set(contacts) != ROLES:
            found.add("role_missing")
        if all(contacts.get(role) == [] for role in ROLES):
            found.add("all_empty")
        if any(len(v) >= 2 for v in contacts.values()):
            found.add("several_in_role")
        people = [p for v in contacts.values() for p in v]
    for p in people:
        name = p["name"]
        if "email" not in p:
            found.add("email_absent")
        elif p["email"] is None:
            found.add("email_null")
        if set(p) - CONTACT_KEYS:
            found.add("extra_field")
        if name.startswith("="):
            found.add("formula")
        if re.search(r"[\u0590-\u06ff]", name):
            found.add("rtl")
        if re.search(r"[\u4e00-\u9fff]", name):
            found.add("cjk")
        if re.search(r"[\U0001F300-\U0001FAFF]", name):
            found.add("emoji")
        if any(unicodedata.category(c) == "Mn" for c in unicodedata.normalize("NFD", name)):
            found.add("accents")
    for s in event["eventDates"]:
        if s["sessionStartTime"] is None:
            found.add("session_null_times")
        if set(s) - SESSION_KEYS:
            found.add("session_extra_field")
    return found


@pytest.fixture
def token(sb: Any) -> str:
    return get_token(sb)


def get_detail(sb: Any, token: str, event_id: str, tenant: str = "GLOBEX") -> requests.Response:
    return requests.get(f"{sb.api_url}/api/1.0/event/{event_id}", headers=headers(token, tenant), timeout=10)


# -- list rows stay as they were ---------------------------------------------------------------
def test_list_rows_are_byte_identical_to_before_details() -> None:
    rows = sandbox.generate(detail=False)
    assert hashlib.sha256(_json(rows)).hexdigest() == LIST_ROWS_SHA256
    assert not any("contacts" in e for events in rows.values() for e in events)


def test_listing_pages_are_byte_identical_to_before_details(sb: Any, token: str) -> None:
    digest = hashlib.sha256()
    for tenant in ("ACME", "GLOBEX"):
        page = 1
        while True:
            r = post_list(sb, token, {"pageNumber": page, "pageSize": 100}, tenant=tenant)
            digest.update(r.content)
            assert '"contacts"' not in r.text
            if page >= r.json()["pagingModel"]["totalPages"]:
                break
            page += 1
    assert digest.hexdigest() == LIST_PAGES_SHA256
    assert sb.events("GLOBEX") == sandbox.generate(detail=False)["GLOBEX"]


# -- the detail answer -------------------------------------------------------------------------
def test_detail_hard_case_counts() -> None:
    data = sandbox.generate()
    for tenant, expected in EXPECTED_CASES.items():
        counts = Counter(case for event in data[tenant] for case in hard_cases(event))
        assert dict(counts) == expected, tenant
    assert data["INITECH"] == []


def test_detail_is_the_row_plus_contacts_and_more_sessions() -> None:
    details = sandbox.generate()
    rows = sandbox.generate(detail=False)
    for tenant in ("ACME", "GLOBEX"):
        for row, detail in zip(rows[tenant], details[tenant], strict=True):
            keys = list(row)
            keys.insert(keys.index("eventDates") + 1, "contacts")
            assert list(detail) == keys
            assert {k: v for k, v in detail.items() if k not in ("contacts", "eventDates")} == {
                k: v for k, v in row.items() if k != "eventDates"
            }
            listed, more = row["eventDates"], detail["eventDates"]
            assert len(more) in (len(listed), len(listed) + 1)
            for a, b in zip(listed, more, strict=False):
                assert {k: b[k] for k in a} == a and set(b) - set(a) <= {"roomName"}
            for extra in more[len(listed) :]:  # an unscheduled session: no times, its own (or no) place
                assert set(extra) == SESSION_KEYS and GUID_RE.match(extra["id"])
                assert extra["sessionStartTime"] is extra["sessionEndTime"] is extra["sessionDay"] is None


def test_contact_shape() -> None:
    details = sandbox.generate()["ACME"]
    contacts = [p for e in details if e["contacts"] for v in e["contacts"].values() for p in v]
    assert len(contacts) > 3000
    assert all({"id", "name", "phone"} <= set(p) <= CONTACT_KEYS | {"title"} for p in contacts)
    assert all(GUID_RE.match(p["id"]) for p in contacts)
    assert any(p.get("phone") is None for p in contacts) and any(
        str(p.get("phone")).startswith("+1 ") for p in contacts
    )
    # contacts are people: the same id always carries the same name
    names: dict[str, set[str]] = {}
    for p in contacts:
        names.setdefault(p["id"], set()).add(p["name"])
    assert all(len(v) == 1 for v in names.values()) and len(names) < 60
    missing_roles = Counter(
        next(iter(ROLES - set(e["contacts"])))
        for e in details
        if e["contacts"] is not None and set(e["contacts"]) != ROLES
    )
    assert set(missing_roles) == ROLES
    hard = {p["name"] for p in contacts}
    for name in (
        "José Ñúñez-García",
        "山田 太郎",
        "Sam 🎤 Rivera",
        "محمد العلي",
        "דנה כהן",
        '=HYPERLINK("https://example.com","Pat Kim")',
    ):
        assert name in hard


def test_sessions_have_their_own_place_and_the_events_time_style() -> None:
    for tenant in ("ACME", "GLOBEX"):
        events = sandbox.generate()[tenant]
        elsewhere = 0
        for e in events:
            venue = e["location"]
            for s in e["eventDates"]:
                if venue and s["addressLine"] and s["addressLine"] != venue["addressLine"]:
                    elsewhere += 1
                if s["sessionStartTime"] is None:
                    continue
                for key in ("sessionStartTime", "sessionEndTime"):  # naive, Z or offset like the event
                    assert s[key].endswith("Z") == e["startDateTime"].endswith("Z")
                    assert (s[key][-6] in "+-") == (e["startDateTime"][-6] in "+-")
        assert elsewhere > 0, tenant


def test_detail_over_http_is_generate(sb: Any, token: str) -> None:
    expected = sandbox.generate()["GLOBEX"]
    for event in expected:
        r = get_detail(sb, token, event["id"])
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
        assert r.content == _json(event)
    assert sb.events("GLOBEX", detail=True) == expected
    acme = sandbox.generate()["ACME"]
    with_hard = [e for e in acme if hard_cases(e) & {"contacts_null", "role_missing", "rtl", "session_null_times"}]
    for event in with_hard[:20]:
        assert get_detail(sb, token, event["id"].upper(), "ACME").json() == event


def test_inserted_events_have_details() -> None:
    with sandbox.run() as s:
        made = s.insert_events("GLOBEX", 4)
        tok = get_token(s)
        for event in made:
            assert "contacts" in event
            row = next(r for r in s.events("GLOBEX") if r["id"] == event["id"])
            assert "contacts" not in row
            assert get_detail(s, tok, event["id"]).json() == event


# -- faults on details -------------------------------------------------------------------------
def test_detail_faults_first_attempt_only() -> None:
    globex = sandbox.generate()["GLOBEX"]
    a, b, c, d = (e["id"] for e in globex[:4])
    with sandbox.run(detail_faults={a: "html503", b: "drop", c: "truncate"}) as s:
        tok = get_token(s)
        r = get_detail(s, tok, a)
        assert r.status_code == 503 and r.headers["Content-Type"].startswith("text/html")
        assert "Service Unavailable" in r.text
        with pytest.raises(requests.ConnectionError):
            get_detail(s, tok, b)
        r = get_detail(s, tok, c)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
        assert int(r.headers["Content-Length"]) == len(r.content)
        with pytest.raises(ValueError):
            json.loads(r.content)
        assert get_detail(s, tok, d).json() == globex[3]  # no fault for it
        for event in globex[:3]:  # second attempts succeed
            assert get_detail(s, tok, event["id"]).json() == event
        # per tenant: the same id asked under ACME has its own first attempt (and is not there)
        assert get_detail(s, tok, a, "ACME").status_code == 503
        assert_envelope(get_detail(s, tok, a, "ACME"), 404, "NOT_FOUND", path=f"/api/1.0/event/{a}", method="GET")
        faults = [(x["path"].rsplit("/", 1)[1], x["fault"], x["status"]) for x in s.log if x["fault"]]
        assert faults == [(a, "html503", 503), (b, "drop", 0), (c, "truncate", 200), (a, "html503", 503)]


def test_detail_faults_star_means_every_event_once() -> None:
    globex = sandbox.generate()["GLOBEX"]
    first = globex[0]["id"]
    with sandbox.run(detail_faults={"*": "html503", first: "truncate"}) as s:
        tok = get_token(s)
        r = get_detail(s, tok, first)
        assert r.status_code == 200 and r.content == _json(globex[0])[: len(r.content)]
        for event in globex[1:6]:
            assert get_detail(s, tok, event["id"]).status_code == 503
            assert get_detail(s, tok, event["id"]).status_code == 200
        assert post_list(s, tok, {}).status_code == 200  # the listing is not affected
        s.faults.detail_faults = {}
        assert get_detail(s, tok, globex[7]["id"]).status_code == 200


def test_detail_faults_are_validated() -> None:
    with pytest.raises(ValueError, match="detail_faults"), sandbox.run(detail_faults={"*": "explode"}):
        pass
    with pytest.raises(ValueError, match="lower-case"), sandbox.run(detail_faults={"ABC": "drop"}):
        pass
    with pytest.raises(ValueError), sandbox.run(delete_after_listing=-1):
        pass


def test_rate_limit_counts_and_answers_detail_requests() -> None:
    event = sandbox.generate()["GLOBEX"][0]
    path = f"/api/1.0/event/{event['id']}"
    with sandbox.run(rate_limit_every=2, retry_after="3") as s:
        tok = get_token(s)
        assert post_list(s, tok, {}).status_code == 200
        r = get_detail(s, tok, event["id"])  # the 2nd API request, whichever endpoint
        err = assert_envelope(r, 429, "RATE_LIMITED", path=path, method="GET")
        assert err["message"] and r.headers["Retry-After"] == "3"
        assert get_detail(s, tok, event["id"]).json() == event
        assert post_list(s, tok, {}).status_code == 429
        assert [x["path"] for x in s.log if x["status"] == 429] == [path, LIST]


def test_tokens_rejected_and_revoked_for_details() -> None:
    event_id = sandbox.generate()["GLOBEX"][0]["id"]
    with sandbox.run() as s:
        tok = get_token(s)
        assert get_detail(s, tok, event_id).status_code == 200
        s.faults.reject_tokens = True
        r = get_detail(s, tok, event_id)
        assert r.status_code == 401 and r.json()["error"] == "invalid_token"
        assert r.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
        s.faults.reject_tokens = False
        s.revoke_tokens()
        r = get_detail(s, tok, event_id)
        assert r.status_code == 401
        assert r.json() == {"error": "invalid_token", "error_description": "The access token expired"}
        assert get_detail(s, get_token(s), event_id).status_code == 200
        r = requests.get(
            f"{s.api_url}/api/1.0/event/{event_id}", timeout=10, headers={"tenant-code": "GLOBEX", "api-version": "1.0"}
        )
        assert r.status_code == 401


# -- events deleted between the listing and the details -------------------------------------------
def walk(s: Any, tok: str, tenant: str, size: int, order: list[int] | None = None) -> list[str]:
    pages = order or list(range(1, -(-s.tenants[tenant] // size) + 1))
    got: list[str] = []
    for page in pages:
        r = post_list(s, tok, {"pageNumber": page, "pageSize": size}, tenant=tenant)
        assert r.status_code == 200
        got += ids(r)
    return got


def test_delete_after_listing() -> None:
    with sandbox.run(delete_after_listing=3) as s:
        tok = get_token(s)
        listed = walk(s, tok, "GLOBEX", 10, [1, 2, 3])
        assert s.tenants["GLOBEX"] == 36  # not the whole listing yet
        listed += walk(s, tok, "GLOBEX", 10, [4])
        assert s.tenants["GLOBEX"] == 33 and len(listed) == 36
        left = {e["id"] for e in s.events("GLOBEX")}
        gone = [i for i in listed if i not in left]
        assert len(gone) == 3
        positions = [listed.index(i) for i in gone]
        assert positions == [8, 17, 26]  # spread through the listing
        for event_id in gone:
            path = f"/api/1.0/event/{event_id}"
            err = assert_envelope(get_detail(s, tok, event_id), 404, "NOT_FOUND", path=path, method="GET")
            assert event_id in err["message"]
        kept = next(i for i in listed if i not in gone)
        assert get_detail(s, tok, kept).status_code == 200
        body = post_list(s, tok, {"pageNumber": 1, "pageSize": 100}, tenant="GLOBEX").json()
        assert body["pagingModel"]["totalRecords"] == 33 and not set(gone) & set(ids_of(body))
        walk(s, tok, "GLOBEX", 100)  # once per tenant
        assert s.tenants["GLOBEX"] == 33 and s.tenants["ACME"] == 2400


def ids_of(body: dict[str, Any]) -> list[str]:
    return [e["id"] for e in body["collection"]]


def test_delete_after_listing_waits_for_every_page_in_any_order() -> None:
    with sandbox.run(delete_after_listing=2, page_faults={2: "truncate"}) as s:
        tok = get_token(s)
        r = post_list(s, tok, {"pageNumber": 2, "pageSize": 10}, tenant="GLOBEX")
        assert r.status_code == 200  # truncated: does not count as served
        walk(s, tok, "GLOBEX", 10, [4, 3, 1])
        assert s.tenants["GLOBEX"] == 36
        walk(s, tok, "GLOBEX", 20, [2])  # another query (page size) is another listing
        assert s.tenants["GLOBEX"] == 36
        walk(s, tok, "GLOBEX", 10, [2])
        assert s.tenants["GLOBEX"] == 34
        walk(s, tok, "INITECH", 10)  # an empty listing deletes nothing
        assert s.tenants["INITECH"] == 0


def test_delete_after_listing_of_a_filtered_listing() -> None:
    with sandbox.run(delete_after_listing=2) as s:
        tok = get_token(s)
        body = post_list(s, tok, {"pageSize": 100, "onlyUpcoming": True}, tenant="GLOBEX").json()
        listed = ids_of(body)
        assert 0 < len(listed) < 36
        left = {e["id"] for e in s.events("GLOBEX")}
        gone = set(listed) - left
        assert len(gone) == 2 and s.tenants["GLOBEX"] == 34


def test_delete_events() -> None:
    with sandbox.run() as s:
        tok = get_token(s)
        before = s.events("GLOBEX")
        deleted = s.delete_events("GLOBEX", 4)
        assert [e["id"] for e in deleted] == [before[i]["id"] for i in (6, 13, 20, 27)]
        assert deleted == [e for e in sandbox.generate()["GLOBEX"] if e["id"] in {d["id"] for d in deleted}]
        assert s.tenants["GLOBEX"] == 32
        assert get_detail(s, tok, deleted[0]["id"]).status_code == 404
        listing = post_list(s, tok, {"pageSize": 100}, tenant="GLOBEX").json()
        assert listing["pagingModel"]["totalRecords"] == 32
        assert ids_of(listing) == [e["id"] for e in before if e["id"] not in {d["id"] for d in deleted}]
        one = before[0]["id"]
        assert [e["id"] for e in s.delete_events("GLOBEX", [one.upper()])] == [one]
        assert get_detail(s, tok, one).status_code == 404
        with pytest.raises(KeyError):
            s.delete_events("GLOBEX", [before[1]["id"], one])  # one is gone already: nothing deleted
        assert s.tenants["GLOBEX"] == 31
        with pytest.raises(TypeError):
            s.delete_events("GLOBEX", before[1]["id"])
        with pytest.raises(ValueError):
            s.delete_events("GLOBEX", -1)
        assert s.delete_events("INITECH", 3) == []
        assert len(s.delete_events("GLOBEX", 100)) == 31 and s.tenants["GLOBEX"] == 0
        assert post_list(s, tok, {}, tenant="GLOBEX").json()["pagingModel"]["totalRecords"] == 0
