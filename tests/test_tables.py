"""sessions(df) and contacts(df): tidy child tables with declared columns and dtypes.

Row counts and dtypes on every seeded tenant (expected counts from the sandbox's own detail answers),
the hard cases the sandbox serves, hand-made edge cases, multi-tenant frames, and that the events
frame is never changed.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest

from engagifii_data import contacts, events_frame, sandbox, sessions
from engagifii_data.client import EngagifiiClient
from engagifii_data.exceptions import ReportError
from engagifii_data.frames import COERCED_ATTR, NAIVE_DATETIMES_ATTR, empty_events_frame
from engagifii_data.frames.tables import CONTACT_COLUMNS, CONTACT_ROLES, SESSION_COLUMNS
from engagifii_data.reports import WalkReport, export_csv, export_parquet

TENANTS = ("ACME", "GLOBEX", "INITECH")


@pytest.fixture(scope="module")
def walked() -> Iterator[dict[str, Any]]:
    """Each seeded tenant's ``events(details=True)`` frame, the sandbox's detail answers, and both tenants."""
    with sandbox.run() as sb, EngagifiiClient(sb.settings()) as client:
        frames = {code: client.events(code, details=True, workers=8, progress=False) for code in TENANTS}
        answers = {code: sb.events(code, detail=True) for code in TENANTS}
        both = client.events(["GLOBEX", "INITECH"], details=True, progress=False)
        yield {"frames": frames, "answers": answers, "both": both}


def expected_sessions(answers: list[dict[str, Any]]) -> int:
    return sum(len(e.get("eventDates") or []) for e in answers)


def expected_contacts(answers: list[dict[str, Any]]) -> int:
    return sum(len(v or []) for e in answers for v in (e.get("contacts") or {}).values())


def assert_columns(table: pd.DataFrame, declared: dict[str, str], tenant: bool = False) -> None:
    lead = ["tenant"] if tenant else []
    assert list(table.columns[: len(lead) + len(declared)]) == [*lead, *declared]
    if tenant:
        assert str(table["tenant"].dtype) == "string"
    for column, dtype in declared.items():
        assert str(table[column].dtype) == dtype, column


@pytest.mark.parametrize("tenant", TENANTS)
def test_row_counts_and_dtypes_on_every_seeded_tenant(walked: dict[str, Any], tenant: str) -> None:
    df, answers = walked["frames"][tenant], walked["answers"][tenant]
    s, c = sessions(df), contacts(df)
    assert len(s) == expected_sessions(answers)
    assert len(c) == expected_contacts(answers)
    assert_columns(s, SESSION_COLUMNS)
    assert_columns(c, CONTACT_COLUMNS)
    if tenant == "INITECH":
        assert list(s.columns) == list(SESSION_COLUMNS) and list(c.columns) == list(CONTACT_COLUMNS)
    else:
        assert len(s) > len(df) and len(c) > len(df)  # several sessions and contacts per event
        assert list(s.columns[len(SESSION_COLUMNS) :]) == ["roomName"]  # passed through
        assert list(c.columns[len(CONTACT_COLUMNS) :]) == ["title"]
        assert s["roomName"].dtype == object and c["title"].dtype == object


def test_rows_follow_the_detail_answers(walked: dict[str, Any]) -> None:
    df, answers = walked["frames"]["ACME"], walked["answers"]["ACME"]
    s, c = sessions(df), contacts(df)
    want_sessions = [(e["id"], i, x.get("id")) for e in answers for i, x in enumerate(e["eventDates"])]
    assert list(zip(s["eventId"], s["sessionIndex"], s["sessionId"], strict=True)) == want_sessions
    want_contacts = [
        (e["id"], role, i, x.get("id"), x.get("name"), x.get("email"), x.get("phone"))
        for e in answers
        for role in CONTACT_ROLES
        for i, x in enumerate((e["contacts"] or {}).get(role) or [])
    ]
    got = c[["eventId", "role", "contactIndex", "contactId", "contactName", "email", "phone"]]
    got_rows = [tuple(None if v is pd.NA else v for v in row) for row in got.itertuples(index=False)]
    assert got_rows == want_contacts
    assert s["eventName"].tolist() == [e["name"] for e in answers for _ in e["eventDates"]]


def test_hard_cases_the_sandbox_serves(walked: dict[str, Any]) -> None:
    df, answers = walked["frames"]["ACME"], walked["answers"]["ACME"]
    c, s = contacts(df), sessions(df)
    null_contacts = {e["id"] for e in answers if e["contacts"] is None}
    assert null_contacts and not c["eventId"].isin(null_contacts).any()
    role_missing = [e for e in answers if e["contacts"] and set(e["contacts"]) != set(CONTACT_ROLES)]
    assert role_missing
    # an email absent and an email null are both NA; the phone null too
    emails = [x for e in answers for v in (e["contacts"] or {}).values() for x in v]
    assert c["email"].isna().sum() == sum(1 for x in emails if x.get("email") is None)
    assert c["phone"].isna().sum() == sum(1 for x in emails if x.get("phone") is None)
    for name in ("José Ñúñez-García", "山田 太郎", "Sam 🎤 Rivera", "محمد العلي", "דנה כהן"):
        assert (c["contactName"] == name).any(), name
    assert c["contactName"].str.startswith("=HYPERLINK").any()  # kept as data (writers neutralise it)
    tbd = s[s["sessionName"].str.contains("time to be announced", na=False)]
    assert len(tbd) and tbd["start"].isna().all() and tbd["end"].isna().all() and tbd["sessionDay"].isna().all()
    assert s["roomName"].notna().sum() == sum(1 for e in answers for x in e["eventDates"] if "roomName" in x)
    assert s.attrs[COERCED_ATTR] == {} and c.attrs[COERCED_ATTR] == {}


def test_session_times_get_the_events_time_zone(walked: dict[str, Any]) -> None:
    df = walked["frames"]["ACME"]
    s = sessions(df)
    first = s[s["sessionIndex"].eq(0) & s["start"].notna()].set_index("eventId")["start"]
    starts = df.set_index("id")["startDateTime"].loc[first.index]
    assert len(first) > 1000
    # a first session starts with its event (same wall-clock text, same zone rule); .NET's 7th digit aside
    delta = (first - starts).abs()
    assert (delta < pd.Timedelta(microseconds=1)).all()
    zones = df.set_index("id")["timeZone"].loc[first.index]
    assert (zones == "Eastern Standard Time").sum() > 100  # naive and offset times among them
    # a naive session time whose event has no zone keeps its wall clock and is counted, as the event's own
    no_zone = [
        x["sessionStartTime"]
        for e in walked["answers"]["ACME"]
        if not e.get("timeZone")
        for x in e["eventDates"]
        if x["sessionStartTime"] and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?", x["sessionStartTime"])
    ]
    assert len(no_zone) and s.attrs[NAIVE_DATETIMES_ATTR] == {"start": len(no_zone), "end": len(no_zone)}
    assert df.attrs[NAIVE_DATETIMES_ATTR]["startDateTime"] > 0
    assert s["sessionDay"].dropna().str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()


def test_multi_tenant_frames_carry_the_tenant(walked: dict[str, Any]) -> None:
    both = walked["both"]
    s, c = sessions(both), contacts(both)
    assert_columns(s, SESSION_COLUMNS, tenant=True)
    assert_columns(c, CONTACT_COLUMNS, tenant=True)
    assert set(s["tenant"]) == {"GLOBEX"} and len(s) == expected_sessions(walked["answers"]["GLOBEX"])
    assert len(c) == expected_contacts(walked["answers"]["GLOBEX"])
    empty = empty_events_frame(tenant="")
    assert_columns(sessions(empty), SESSION_COLUMNS, tenant=True)
    assert len(contacts(empty)) == 0


def test_the_events_frame_is_never_changed(walked: dict[str, Any]) -> None:
    df = walked["frames"]["GLOBEX"]
    before = df.copy(deep=True)
    cells = copy.deepcopy(df["eventDates"].tolist()), copy.deepcopy(df["contacts.regular"].tolist())
    attrs = copy.deepcopy(df.attrs)
    s, c = sessions(df), contacts(df)
    s.loc[0, "sessionName"] = "changed"
    s.loc[s["roomName"].notna().idxmax(), "roomName"] = "changed"
    c.attrs["engagifii"]["complete"] = False
    pd.testing.assert_frame_equal(df, before)
    assert (df["eventDates"].tolist(), df["contacts.regular"].tolist()) == cells
    assert df.attrs == attrs


def test_tables_carry_the_walk_report_so_a_partial_walk_is_refused(walked: dict[str, Any], tmp_path: Any) -> None:
    df = walked["frames"]["GLOBEX"]
    s = sessions(df)
    assert WalkReport.of(s) == WalkReport.of(df)
    export_parquet(s, tmp_path / "s.parquet")
    back = pd.read_parquet(tmp_path / "s.parquet")
    assert len(back) == len(s) and str(back["start"].dtype) == "datetime64[ns, UTC]"
    partial = df.copy()
    partial.attrs = copy.deepcopy(df.attrs)
    partial.attrs["engagifii"]["complete"] = False
    with pytest.raises(ReportError):
        export_csv(contacts(partial), tmp_path / "c.csv")


def test_hand_made_edge_cases() -> None:
    df = events_frame(
        [
            {
                "id": "e1",
                "name": "Naive",
                "timeZone": "Pacific Standard Time",
                "eventDates": [
                    {
                        "id": "s1",
                        "zip": "02134",
                        "latitude": "42.35",
                        "longitude": 71,
                        "sessionStartTime": "2025-07-01T09:00:00",
                        "sessionEndTime": "2025-07-01T17:00:00.1234567+02:00",
                        "sessionDay": "2025-07-01T00:00:00",
                        "eventId": "clash",
                        "room": {"floor": 2},
                    },
                    "not a session",
                    {"sessionStartTime": "not a date", "sessionDay": "Tuesday"},
                ],
                "contacts": {
                    "regular": [{"id": "c1", "name": "Ann", "role": "chair"}, "c2", 7],
                    "finance": None,
                    "sponsor": [{"name": "New role"}],
                },
            },
            {"id": "e2", "name": "No zone", "eventDates": [{"sessionStartTime": "2025-01-01T10:00:00"}]},
            {"id": "e3", "eventDates": None, "contacts": None},
        ]
    )
    s, c = sessions(df), contacts(df)
    assert s["eventId"].tolist() == ["e1", "e1", "e2"]
    assert s["sessionIndex"].tolist() == [0, 2, 0]  # position in the list, the non-object skipped
    assert s.loc[0, "zip"] == "02134" and s.loc[0, "latitude"] == 42.35 and s.loc[0, "longitude"] == 71.0
    assert s.loc[0, "start"] == pd.Timestamp("2025-07-01T16:00:00Z")  # PDT (UTC-7) applied
    assert s.loc[0, "end"] == pd.Timestamp("2025-07-01T15:00:00.1234567Z")
    assert s["sessionDay"].tolist()[:2] == ["2025-07-01", "Tuesday"]
    assert s["start"].isna().tolist()[1]
    assert s.loc[2, "start"] == pd.Timestamp("2025-01-01T10:00:00Z")  # no zone: wall clock kept, counted
    assert s.attrs[NAIVE_DATETIMES_ATTR] == {"start": 1}
    assert s.attrs[COERCED_ATTR] == {"eventDates": 1, "start": 1}
    assert list(s.columns[len(SESSION_COLUMNS) :]) == ["session.eventId", "room"]
    assert s.loc[0, "session.eventId"] == "clash" and s.loc[0, "room"] == {"floor": 2}
    assert s.loc[0, "eventName"] == "Naive"
    assert c["role"].tolist() == ["regular", "regular", "sponsor"]
    assert c["contactId"].tolist()[:2] == ["c1", "c2"]
    assert c["contactIndex"].tolist() == [0, 1, 0]
    assert list(c.columns[len(CONTACT_COLUMNS) :]) == ["contact.role"]
    assert c.attrs[COERCED_ATTR] == {"contacts.regular": 1}
    assert_columns(s, SESSION_COLUMNS)
    assert_columns(c, CONTACT_COLUMNS)


def test_an_events_report_read_back_gives_the_same_tables(walked: dict[str, Any], tmp_path: Any) -> None:
    df = walked["frames"]["GLOBEX"]
    export_parquet(df, tmp_path / "events.parquet")
    back = pd.read_parquet(tmp_path / "events.parquet")  # list columns come back as JSON text
    assert isinstance(back["eventDates"].dropna().iloc[0], str)
    pd.testing.assert_frame_equal(sessions(back), sessions(df))
    pd.testing.assert_frame_equal(contacts(back), contacts(df))


def test_not_an_events_frame() -> None:
    with pytest.raises(TypeError, match="DataFrame"):
        sessions([{"id": "x"}])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'id' column"):
        contacts(pd.DataFrame({"x": [1]}))
    assert np.array_equal(sessions(pd.DataFrame({"id": ["a"]})).shape, (0, len(SESSION_COLUMNS)))
