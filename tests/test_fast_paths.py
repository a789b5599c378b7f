"""The fast paths (Arrow, orjson) give exactly what the general paths give.

Frames: Arrow reads a batch's text and datetime columns straight from the records, builds the flag,
count and money arrays, and time zones are applied once per batch; each of these falls back to a
Python path (columns taken one by one, records flattened one by one, values converted one by one) when
a value does not fit, so the frame must never depend on which path ran. The datetime reader itself is
checked against a reference in ``test_datetimes.py``. Transport: orjson decodes bodies (the standard
library takes what orjson refuses), successful bodies are read in one piece, and the proxy / CA-bundle
environment is read once per host.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd
import pytest
import requests
from pandas.testing import assert_frame_equal

from engagifii_data import sandbox
from engagifii_data.frames import DATETIME_COLUMNS, FrameBuilder, events_frame
from engagifii_data.frames import columns as frame_columns
from engagifii_data.frames import values as frame_values
from engagifii_data.responses import Decoded, declared_charset, decode_json
from engagifii_data.transport import EnvironmentCachingSession

# -- whole frames: fast paths on vs off -------------------------------------------------------------


def test_zones_applied_once_per_batch_over_every_column(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    original = pd.DatetimeIndex.tz_localize

    def counting(self: pd.DatetimeIndex, tz: Any, *args: Any, **kwargs: Any) -> pd.DatetimeIndex:
        if tz is not None:
            calls.append(str(tz))
        return original(self, tz, *args, **kwargs)

    monkeypatch.setattr(pd.DatetimeIndex, "tz_localize", counting)
    records = [
        {"id": str(i), "timeZone": zone, **{c: "2024-05-01T09:00:00" for c in DATETIME_COLUMNS}}
        for i, zone in enumerate(["Eastern Standard Time", "Asia/Kolkata", "America/New_York", None] * 25)
    ]
    df = events_frame(records)
    # "Eastern Standard Time" and "America/New_York" are one IANA zone: 2 localisations, not 5 columns x 3
    assert sorted(calls) == ["America/New_York", "Asia/Kolkata"]
    assert df.attrs["engagifii_naive_datetimes"] == {c: 25 for c in DATETIME_COLUMNS}
    assert (df.loc[df["timeZone"] == "Asia/Kolkata", "createdOn"] == pd.Timestamp("2024-05-01T03:30:00Z")).all()


#: Ways to turn the fast paths off: the text columns read from the records one by one in Python instead
#: of by Arrow in one pass; every record flattened; every value through the Python converters first.
SLOW_PATHS = ["python-texts", "flattened", "converted"]


def _slow_paths(monkeypatch: pytest.MonkeyPatch, which: str) -> None:
    if which == "python-texts":
        monkeypatch.setattr(frame_columns, "_arrow_texts", lambda records: {})
    elif which == "flattened":
        monkeypatch.setattr(frame_columns, "_plain_columns", lambda records: None)
    else:
        monkeypatch.setattr(frame_values, "_arrow_first", lambda values, dtype: False)


def _awkward_records() -> list[dict[str, Any]]:
    """Values that fit, values that need converting, and values that do not fit, in one batch."""
    return [
        {
            "id": "a",
            "name": "plain",
            "defaultPrice": 12,
            "registrantsCapacity": 3,
            "isFreeEvent": True,
            "startDateTime": "2024-01-01T10:00:00Z",
            "timeZone": "Asia/Kolkata",
            "tags": ["x"],
        },
        {
            "id": "b",
            "name": 7,
            "defaultPrice": "12.50",
            "registrantsCapacity": "4",
            "isFreeEvent": "TRUE",
            "startDateTime": "2024-01-01 10:00",
            "timeZone": "Eastern Standard Time",
            "tags": None,
        },
        {
            "id": "c",
            "name": None,
            "defaultPrice": float("nan"),
            "registrantsCapacity": 3.5,
            "isFreeEvent": "maybe",
            "startDateTime": "2024-02-30T00:00:00",
            "endDateTime": "0001-01-01T00:00:00",
            "tags": "not-a-list",
        },
        {
            "id": "d",
            "name": "\u00e9v\u00e9nement",
            "defaultPrice": 2**60,
            "registrantsCapacity": 2**63,
            "isFreeEvent": 1,
            "startDateTime": "2024-07-01T12:00:00",
            "timeZone": "Mars/Olympus",
        },
        {"id": "e", "registrantsCapacity": 3.5, "attendeesCount": 2.0, "defaultPrice": True, "isFreeEvent": 0},
        {"id": "f", "location": {"latitude": True, "longitude": "1.5"}, "isFavourite": "false", "eventType": 1.5},
        {"id": "g", "createdOn": "2024-02-30T10:00:00+24:00", "endDateTime": "2024-01-01T10:00:00-24:30"},
    ]


@pytest.mark.parametrize("slow", SLOW_PATHS)
@pytest.mark.parametrize("source", ["sandbox", "sandbox-list", "awkward"])
def test_frames_do_not_depend_on_the_fast_paths(monkeypatch: pytest.MonkeyPatch, source: str, slow: str) -> None:
    if source.startswith("sandbox"):  # the seeded tenants hold every hard case of the wire format
        data = sandbox.generate(detail=source == "sandbox")
        records = [r for code in sorted(data) for r in data[code]]
    else:
        records = _awkward_records()

    def frame() -> pd.DataFrame:  # the whole input as one batch, then one record per batch
        builder = FrameBuilder(tenant="T")
        builder.add(json.loads(json.dumps(records)))
        for record in json.loads(json.dumps(records[:200])):
            builder.add([record])
        return builder.build()

    fast = frame()
    _slow_paths(monkeypatch, slow)
    general = frame()
    assert_frame_equal(fast, general)
    assert fast.attrs == general.attrs
    assert list(fast.attrs["engagifii_coerced"]) == list(general.attrs["engagifii_coerced"])  # same key order


def test_numeric_columns_treat_nan_as_na_like_pd_array() -> None:
    df = events_frame([{"defaultPrice": float("nan")}, {"defaultPrice": float("inf")}, {"defaultPrice": 3}])
    assert str(df["defaultPrice"].dtype) == "Float64"
    assert df["defaultPrice"].isna().tolist() == [True, False, False]
    assert df["defaultPrice"].iloc[1] == math.inf and df["defaultPrice"].iloc[2] == 3.0


def test_list_cells_are_copies_unless_the_builder_owns_the_records() -> None:
    tags: list[str] = ["x"]
    records = [{"id": "a", "tags": tags}]
    copied = FrameBuilder()
    copied.add(records)
    owned = FrameBuilder(copy_lists=False)
    owned.add(records)
    tags.append("changed later")
    assert copied.build()["tags"].iloc[0] == ["x"]
    assert owned.build()["tags"].iloc[0] == ["x", "changed later"]  # the walk drops its records instead


# -- transport --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": [1, 2.5, "x", null, true]}',
        b'{"n": NaN, "i": Infinity}',  # orjson refuses; the standard library accepts
        b'{"big": 123456789012345678901234567890}',  # beyond 64 bits: orjson would give a float
        b"[-9223372036854775809, 18446744073709551615, 9223372036854775807]",  # the 64-bit edges
        b'{"s": "\\ud800"}',  # a lone surrogate escape
        b"[1e400, -1e400]",  # orjson refuses; the standard library gives infinities
        b"\xef\xbb\xbf[1]",  # a UTF-8 byte order mark
        b'{"a": 1, "a": 2}',  # a repeated key: the last one wins in both
    ],
)
def test_decode_json_equals_the_standard_library(body: bytes) -> None:
    expected = json.loads(body)
    if b"\\ud800" in body:  # a lone surrogate: repaired to U+FFFD (and counted) where json keeps it
        expected = {"s": "\ufffd"}
    got = decode_json(body).data
    assert json.dumps(got, sort_keys=True) == json.dumps(expected, sort_keys=True)
    assert repr(got) == repr(expected)  # same types too (an int stays an int)


@pytest.mark.parametrize("body", [b'{"collection": [{"id": 1}', b"<html>503</html>", b"", b"\xff\xfe"])
def test_decode_json_raises_value_error_on_what_is_not_json(body: bytes) -> None:
    with pytest.raises(ValueError):
        decode_json(body)


def test_decode_json_honours_a_declared_charset() -> None:
    latin1 = '{"name": "Caf\u00e9"}'.encode("iso-8859-1")
    assert decode_json(latin1, "ISO-8859-1").data == {"name": "Caf\u00e9"}
    assert decode_json(latin1.decode("iso-8859-1").encode(), "utf-8").data == {"name": "Caf\u00e9"}
    assert decode_json(b'{"a": 1}', "no-such-charset").data == {"a": 1}
    # not UTF-8, and nothing says otherwise: the broken character is repaired and counted
    assert decode_json(latin1, "utf-8") == Decoded({"name": "Caf\ufffd"}, 1)


@pytest.mark.parametrize(
    ("header", "charset"),
    [
        ("application/json; charset=utf-8", "utf-8"),
        ('application/json; charset="ISO-8859-1"', "ISO-8859-1"),
        ("application/json;CHARSET=windows-1252", "windows-1252"),
        ("application/json", None),
        ("text/plain", None),  # no ISO-8859-1 default: JSON is UTF-8
        (None, None),
    ],
)
def test_declared_charset(header: str | None, charset: str | None) -> None:
    assert declared_charset(header) == charset


def test_a_text_plain_json_answer_keeps_its_utf8_text(monkeypatch: pytest.MonkeyPatch) -> None:
    from requests.structures import CaseInsensitiveDict

    from engagifii_data.config import Settings
    from engagifii_data.transport import Answer, Stats, Transport

    body = '{"name": "Caf\u00e9 \u2013 Z\u00fcrich"}'.encode()
    settings = Settings(
        client_id="c",
        client_secret="s",
        tenant_codes=("T",),
        identity_url="http://127.0.0.1:9",
        api_base_url="http://127.0.0.1:9",
    )
    transport = Transport(settings, Stats())
    monkeypatch.setattr(transport.tokens, "get", lambda context=None: "t")
    answer = Answer(200, CaseInsensitiveDict({"Content-Type": "text/plain"}), body)
    monkeypatch.setattr(transport, "exchange", lambda *a, **k: answer)
    assert transport.request_json("POST", "/x", tenant="T").data == {"name": "Caf\u00e9 \u2013 Z\u00fcrich"}


def test_environment_read_once_per_host_and_equal_to_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    calls: list[str] = []
    original = requests.sessions.get_environ_proxies

    def counting(url: str, no_proxy: Any = None) -> dict[str, str]:
        calls.append(url)
        return original(url, no_proxy=no_proxy)

    monkeypatch.setattr(requests.sessions, "get_environ_proxies", counting)
    cached, plain = EnvironmentCachingSession(), requests.Session()
    for url in ("http://api.example/api/1.0/event/list", "http://127.0.0.1:8765/api/1.0/event/list"):
        expected = plain.merge_environment_settings(url, {}, True, None, None)
        for _ in range(3):
            assert cached.merge_environment_settings(url, {}, True, None, None) == expected
    assert expected["proxies"] == {}  # NO_PROXY honoured for 127.0.0.1
    assert len(calls) == 2 + 2  # requests.Session: once per call it was asked (2); ours: once per host (2)
    first = cached.merge_environment_settings("http://api.example/x", {}, True, None, None)
    assert first["proxies"]["http"] == "http://proxy.example:3128"
    first["proxies"]["http"] = "mutated"  # the cached settings cannot be changed through a result
    assert cached.merge_environment_settings("http://api.example/y", {}, True, None, None)["proxies"]["http"] == (
        "http://proxy.example:3128"
    )


def test_sandbox_walk_still_recovers_truncated_and_dropped_bodies() -> None:
    """Bodies are read in one piece now: a cut-off 200 is still retried, the same page re-sent."""
    from engagifii_data import EngagifiiClient
    from tests.helpers import SleepRecorder

    with sandbox.run(page_faults={2: "truncate", 3: "drop"}) as sb:
        with EngagifiiClient(sb.settings(), sleep=SleepRecorder(0.0)) as client:
            df = client.events("ACME", workers=4, progress=False)
        pages = [r["page"] for r in sb.log if r["kind"] == "api"]
    assert len(df) == 2400 and df["id"].is_unique
    assert sorted(pages) == sorted([*range(1, 25), 2, 3])
    assert client.stats.retries == 2
