"""Tests for engagifii_data.frames: declared dtypes, datetimes, builder, CSV and Parquet writers."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from engagifii_data.frames import (
    DATETIME_COLUMNS,
    EVENT_COLUMNS,
    LIST_COLUMNS,
    FrameBuilder,
    empty_events_frame,
    events_frame,
)
from engagifii_data.reports import DATETIME_FORMAT, export_csv, export_parquet

UTC = "UTC"


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz=UTC)


FULL: dict[str, Any] = {
    "id": "3f1c9a2e-8b7d-4c6e-9f00-1a2b3c4d5e6f",
    "name": "Annual Conference",
    "description": 'Line one\nLine two, with a comma and "quotes"\r\nLine three',
    "eventStatus": "Published",
    "eventRegistrationState": "RegistrationScheduled",
    "eventType": "Conference",
    "eventTypeId": "00000000-0000-0000-0000-000000000000",
    "startDateTime": "2024-03-10T09:00:00Z",
    "endDateTime": "2024-03-10T17:30:00.8257013Z",
    "timeZone": "Eastern Standard Time",
    "registrationStartFrom": "2024-01-01T00:00:00+05:30",
    "registrationEndDate": "0001-01-01T00:00:00",
    "isRegistrationAllowed": True,
    "isFreeEvent": False,
    "defaultPrice": 125.5,
    "pricingFramework": "Standard",
    "registrantsCapacity": 300,
    "availableRegistrantsCapacity": 12,
    "attendeesCount": 288,
    "eventWithClass": True,
    "eventWithExhibitor": False,
    "isFavourite": False,
    "location": {
        "name": "Hall A",
        "addressLine": "1 Main St",
        "city": "Richmond",
        "state": "VA",
        "zip": "02134",
        "country": "US",
        "latitude": 37.54,
        "longitude": -77.43,
    },
    "tags": ["policy", "annual"],
    "eventDates": [
        {"id": "d1", "name": "Day 1", "city": "Richmond", "latitude": 37.5, "sessionStartTime": "09:00"},
    ],
    "eventClasses": ["c1", "c2"],
    "eventBundles": [],
    "contacts": {"regular": [{"name": "Ann"}], "finance": [], "exhibitor": [{"name": "Bo"}]},
    "registrationWorkflows": [{"id": "w1", "steps": 3}],
    "iconUrl": "https://example.invalid/i.png",
    "imageUrl": "https://example.invalid/m.png",
    "createdOn": "2023-12-01T08:15:30.1234567+00:00",
    "createdBy": {"name": "Admin", "imageThumbUrl": "https://example.invalid/t.png"},
}


def assert_declared(df: pd.DataFrame, *, tenant: bool = False) -> None:
    expected = (["tenant"] if tenant else []) + list(EVENT_COLUMNS)
    assert list(df.columns[: len(expected)]) == expected
    if tenant:
        assert df["tenant"].dtype == pd.StringDtype()
    for column, dtype in EVENT_COLUMNS.items():
        assert str(df[column].dtype) == dtype, column
        assert df[column].dtype == pd.api.types.pandas_dtype(dtype), column


# ------------------------------------------------------------------------------------------------
# Declared table
# ------------------------------------------------------------------------------------------------


def test_declared_table_constants() -> None:
    assert len(EVENT_COLUMNS) == 44
    assert list(EVENT_COLUMNS)[-1] == "naiveDateTimes"  # made here, not sent by the API
    assert list(EVENT_COLUMNS)[:3] == ["id", "name", "description"]
    assert DATETIME_COLUMNS == (
        "startDateTime",
        "endDateTime",
        "registrationStartFrom",
        "registrationEndDate",
        "createdOn",
    )
    assert LIST_COLUMNS == (
        "tags",
        "eventDates",
        "eventClasses",
        "eventBundles",
        "contacts.regular",
        "contacts.finance",
        "contacts.exhibitor",
        "registrationWorkflows",
        "naiveDateTimes",
    )
    assert set(EVENT_COLUMNS.values()) == {
        "string",
        "boolean",
        "Int64",
        "Float64",
        "datetime64[ns, UTC]",
        "object",
    }
    assert DATETIME_FORMAT == "%Y-%m-%dT%H:%M:%S.%fZ"


def test_full_record_dtypes_and_values() -> None:
    df = events_frame([FULL])
    assert df.shape == (1, 44)
    assert_declared(df)
    row = df.iloc[0]
    assert row["id"] == FULL["id"]
    assert row["location.zip"] == "02134"
    assert row["location.latitude"] == 37.54
    assert row["defaultPrice"] == 125.5
    assert row["registrantsCapacity"] == 300
    assert bool(row["isRegistrationAllowed"]) is True
    assert bool(row["isFreeEvent"]) is False
    assert row["contacts.regular"] == [{"name": "Ann"}]
    assert row["contacts.finance"] == []
    assert row["createdBy.name"] == "Admin"
    assert df.attrs == {"engagifii_coerced": {}, "engagifii_naive_datetimes": {}}
    assert isinstance(df.index, pd.RangeIndex)


def test_sparse_record_same_dtypes_all_na() -> None:
    df = events_frame([{"id": "x"}])
    assert df.shape == (1, 44)
    assert_declared(df)
    assert df.loc[0, "id"] == "x"
    assert df.drop(columns="id").iloc[0].isna().all()
    for column in LIST_COLUMNS:
        assert df.loc[0, column] is None


def test_empty_input_same_columns_and_dtypes() -> None:
    full = events_frame([FULL])
    for df in (events_frame([]), empty_events_frame(), FrameBuilder().build(), events_frame(iter(()))):
        assert df.shape == (0, 44)
        assert_declared(df)
        assert list(df.dtypes) == list(full.dtypes)
        assert df.attrs == {"engagifii_coerced": {}, "engagifii_naive_datetimes": {}}


def test_tenant_column_leads() -> None:
    df = events_frame([FULL, {"id": "y"}], tenant="T1")
    assert_declared(df, tenant=True)
    assert df["tenant"].tolist() == ["T1", "T1"]
    empty = empty_events_frame(tenant="T1")
    assert list(empty.columns) == ["tenant", *EVENT_COLUMNS]
    assert empty["tenant"].dtype == pd.StringDtype()
    assert "tenant" not in events_frame([FULL]).columns


def test_unknown_fields_pass_through_after_declared() -> None:
    df = events_frame(
        [
            {"id": "a", "brandNew": 1},
            {"id": "b", "another": {"deep": "x"}, "brandNew": "two"},
            {"id": "c", "tenant": "raw"},
        ],
        tenant="T",
    )
    assert list(df.columns) == ["tenant", *EVENT_COLUMNS, "brandNew", "another.deep", "record.tenant"]
    assert df["brandNew"].dtype == object
    assert df["brandNew"].tolist() == [1, "two", None]
    assert df["another.deep"].tolist() == [None, "x", None]
    assert df["record.tenant"].tolist() == [None, None, "raw"]
    assert_declared(df, tenant=True)


def test_flattening_and_location_null() -> None:
    df = events_frame(
        [
            {"id": "a", "location": None, "createdBy": None, "contacts": None},
            {"id": "b", "location": {"city": "Oslo", "latitude": "59.9"}, "contacts": {"regular": ["r"]}},
        ]
    )
    loc = [c for c in EVENT_COLUMNS if c.startswith("location.")]
    assert df.loc[0, loc].isna().all()
    assert df.loc[0, ["createdBy.name", "createdBy.imageThumbUrl"]].isna().all()
    assert df.loc[1, "location.city"] == "Oslo"
    assert df.loc[1, "location.latitude"] == 59.9
    assert df.loc[1, "contacts.regular"] == ["r"]
    assert df.loc[1, "contacts.finance"] is None
    assert "location" not in df.columns and "contacts" not in df.columns


def test_lists_kept_as_python_lists() -> None:
    record = dict(FULL)
    df = events_frame([record, {"id": "b", "tags": ("x",)}])
    assert df.loc[0, "tags"] == ["policy", "annual"]
    assert isinstance(df.loc[0, "tags"], list)
    assert df.loc[0, "eventDates"] == FULL["eventDates"]
    assert df.loc[0, "eventBundles"] == []
    assert df.loc[1, "tags"] == ["x"]
    assert df.loc[1, "eventClasses"] is None
    assert df.loc[0, "tags"] is not FULL["tags"]  # a copy: mutating the frame leaves the record alone


def test_values_that_do_not_fit_are_coerced_and_counted() -> None:
    df = events_frame(
        [
            {
                "id": 42,
                "registrantsCapacity": "abc",
                "attendeesCount": 3.5,
                "availableRegistrantsCapacity": "17",
                "isFreeEvent": "maybe",
                "isFavourite": "TRUE",
                "eventWithClass": 0,
                "defaultPrice": "12.50",
                "location": {"latitude": "north"},
                "tags": "not-a-list",
                "startDateTime": "next tuesday",
                "endDateTime": 12345,
                "name": True,
            },
            {"id": "b", "registrantsCapacity": 7.0, "attendeesCount": True, "defaultPrice": -5},
        ]
    )
    assert_declared(df)
    assert df["id"].tolist() == ["42", "b"]
    assert df.loc[0, "name"] == "true"
    assert df["registrantsCapacity"].tolist() == [pd.NA, 7]
    assert df["attendeesCount"].isna().all()
    assert df.loc[0, "availableRegistrantsCapacity"] == 17
    assert df["isFreeEvent"].isna().all()
    assert bool(df.loc[0, "isFavourite"]) is True
    assert bool(df.loc[0, "eventWithClass"]) is False
    assert df["defaultPrice"].tolist() == [12.5, -5.0]
    assert df["location.latitude"].isna().all()
    assert df.loc[0, "tags"] == ["not-a-list"]  # kept readable as a list of one, and counted
    assert df[["startDateTime", "endDateTime"]].isna().all().all()
    assert df.attrs["engagifii_coerced"] == {
        "registrantsCapacity": 1,
        "attendeesCount": 2,
        "isFreeEvent": 1,
        "location.latitude": 1,
        "tags": 1,
        "startDateTime": 1,
        "endDateTime": 1,
    }


def test_non_mapping_record_raises_type_error() -> None:
    with pytest.raises(TypeError, match="#1"):
        events_frame([{"id": "a"}, "oops"])  # type: ignore[list-item]


# ------------------------------------------------------------------------------------------------
# Datetimes
# ------------------------------------------------------------------------------------------------


def dt_frame(*values: Any, zone: Any = None, column: str = "startDateTime") -> pd.DataFrame:
    return events_frame([{"id": str(i), column: v, "timeZone": zone} for i, v in enumerate(values)])


def test_datetime_z() -> None:
    df = dt_frame("2024-03-10T09:00:00Z", "2024-03-10T09:00:00.123Z")
    assert df["startDateTime"].tolist() == [ts("2024-03-10 09:00:00"), ts("2024-03-10 09:00:00.123")]
    assert df.attrs["engagifii_naive_datetimes"] == {}


def test_datetime_offset_converted_to_exact_utc() -> None:
    df = dt_frame("2023-04-26T13:00:00+05:30", "2023-04-26T13:00:00-04:00")
    assert df["startDateTime"].tolist() == [ts("2023-04-26 07:30:00"), ts("2023-04-26 17:00:00")]


def test_datetime_naive_with_windows_zone_localised() -> None:
    df = dt_frame("2023-04-26T13:00:00", "2023-01-15T13:00:00", zone="Eastern Standard Time")
    # EDT (UTC-4) in April, EST (UTC-5) in January: the same instant, no invented shift.
    assert df["startDateTime"].tolist() == [ts("2023-04-26 17:00:00"), ts("2023-01-15 18:00:00")]
    assert df.attrs["engagifii_naive_datetimes"] == {}


def test_datetime_naive_with_iana_zone_and_aware_value_ignores_zone() -> None:
    df = events_frame(
        [
            {"startDateTime": "2023-07-01T09:00:00", "timeZone": "Asia/Kolkata"},
            {"startDateTime": "2023-07-01T09:00:00Z", "timeZone": "Asia/Kolkata"},
        ]
    )
    assert df["startDateTime"].tolist() == [ts("2023-07-01 03:30:00"), ts("2023-07-01 09:00:00")]


def test_datetime_naive_without_zone_keeps_digits_and_is_counted() -> None:
    df = events_frame(
        [
            {"startDateTime": "2023-04-26T13:00:00", "createdOn": "2023-04-26T13:00:00"},
            {"startDateTime": "2023-04-27T08:05:09", "timeZone": "Mars Standard Time"},
            {"startDateTime": "2023-04-28T00:00:00Z"},
        ]
    )
    assert df["startDateTime"].tolist() == [
        ts("2023-04-26 13:00:00"),
        ts("2023-04-27 08:05:09"),
        ts("2023-04-28 00:00:00"),
    ]
    assert df.attrs["engagifii_naive_datetimes"] == {"startDateTime": 2, "createdOn": 1}
    assert df.attrs["engagifii_coerced"] == {}
    assert df["naiveDateTimes"].tolist() == [["startDateTime", "createdOn"], ["startDateTime"], None]


@pytest.mark.parametrize(
    ("record", "marked"),
    [
        ({"startDateTime": "2023-04-26T13:00:00"}, ["startDateTime"]),  # naive, no timeZone
        ({"startDateTime": "2023-04-26T13:00:00", "timeZone": None}, ["startDateTime"]),
        ({"startDateTime": "2023-04-26T13:00:00", "timeZone": ""}, ["startDateTime"]),
        ({"startDateTime": "2023-04-26T13:00:00", "timeZone": 5}, ["startDateTime"]),
        (
            {"endDateTime": "2023-04-26 13:00", "createdOn": "2023-04-26", "timeZone": "Nowhere"},
            ["endDateTime", "createdOn"],
        ),
        ({"startDateTime": "2023-04-26T13:00:00", "timeZone": "Eastern Standard Time"}, None),  # localised
        ({"startDateTime": "2023-04-26T13:00:00", "timeZone": "Europe/Oslo"}, None),
        ({"startDateTime": "2023-04-26T13:00:00Z"}, None),  # an instant
        ({"startDateTime": "2023-04-26T13:00:00+02:00", "timeZone": "Nowhere"}, None),
        ({"startDateTime": "0001-01-01T00:00:00"}, None),  # "not set": NaT, nothing to mark
        ({"startDateTime": "garbage"}, None),  # coerced to NaT
        ({"id": "x"}, None),
    ],
)
@pytest.mark.parametrize("canonical", [True, False], ids=["canonical", "rewritten"])
def test_naive_datetimes_column_marks_exactly_the_unknown_zone_values(
    record: dict[str, Any], marked: list[str] | None, canonical: bool
) -> None:
    if not canonical:  # surrounding blanks are not the canonical form: such values are rewritten first
        record = {k: f" {v} " if k in DATETIME_COLUMNS and isinstance(v, str) else v for k, v in record.items()}
    df = events_frame([record, {"id": "plain"}])
    assert df["naiveDateTimes"].dtype == object
    assert df["naiveDateTimes"].tolist() == [marked, None]
    assert df.attrs["engagifii_naive_datetimes"] == {c: 1 for c in marked or ()}


def test_naive_datetimes_column_survives_filter_sort_and_concat() -> None:
    df = events_frame(
        [
            {"id": "a", "startDateTime": "2023-04-26T13:00:00Z"},
            {"id": "b", "startDateTime": "2023-04-25T13:00:00"},
            {"id": "c", "createdOn": "2023-04-24T13:00:00", "timeZone": "?"},
        ]
    )
    by_id = dict(zip(df["id"], df["naiveDateTimes"], strict=True))
    assert by_id == {"a": None, "b": ["startDateTime"], "c": ["createdOn"]}
    sorted_df = df.sort_values("startDateTime")
    assert dict(zip(sorted_df["id"], sorted_df["naiveDateTimes"], strict=True)) == by_id
    kept = df[df["id"] != "a"].reset_index(drop=True)
    assert kept["naiveDateTimes"].tolist() == [["startDateTime"], ["createdOn"]]
    both = pd.concat([df, events_frame([{"id": "d", "endDateTime": "2023-01-01T00:00:00"}])], ignore_index=True)
    assert both["naiveDateTimes"].tolist() == [None, ["startDateTime"], ["createdOn"], ["endDateTime"]]


def test_wire_field_named_like_the_marker_is_kept_apart() -> None:
    for other in ({"id": "b"}, {"id": "b", "extra": {"deep": 1}}):  # fast path, then flattening
        df = events_frame(
            [{"id": "a", "naiveDateTimes": "from the API", "startDateTime": "2023-04-26T13:00:00"}, other]
        )
        assert df.columns[-1] != "naiveDateTimes"
        assert "record.naiveDateTimes" in df.columns
        assert df["record.naiveDateTimes"].tolist() == ["from the API", None]
        assert df["naiveDateTimes"].tolist() == [["startDateTime"], None]


def test_datetime_seven_fractional_digits() -> None:
    df = dt_frame("2023-04-26T13:00:00.8257013Z", "2023-04-26T13:00:00.8257013", "2023-04-26T13:00:00.1234567891Z")
    assert df["startDateTime"].tolist() == [
        ts("2023-04-26 13:00:00.825701300"),
        ts("2023-04-26 13:00:00.825701300"),
        ts("2023-04-26 13:00:00.123456789"),
    ]
    assert cast(pd.Timestamp, df.loc[0, "startDateTime"]).nanosecond == 300


def test_datetime_year_one_is_nat_not_counted() -> None:
    df = dt_frame("0001-01-01T00:00:00", "0001-01-01T00:00:00Z", "0001-12-31T23:59:59.9999999", zone="UTC")
    assert df["startDateTime"].isna().all()
    assert df.attrs == {"engagifii_coerced": {}, "engagifii_naive_datetimes": {}}


def test_datetime_mixed_naive_and_aware_in_one_column_does_not_raise() -> None:
    df = dt_frame(
        "2023-04-26T13:00:00Z",
        "2023-04-26T13:00:00",
        "2023-04-26T13:00:00+05:30",
        "2023-04-26",
        None,
        "",
        "1500-01-01T00:00:00",
        "garbage",
    )
    assert df["startDateTime"].dtype == pd.DatetimeTZDtype("ns", UTC)
    assert df["startDateTime"].tolist()[:4] == [
        ts("2023-04-26 13:00:00"),
        ts("2023-04-26 13:00:00"),
        ts("2023-04-26 07:30:00"),
        ts("2023-04-26 00:00:00"),
    ]
    assert df["startDateTime"].iloc[4:].isna().all()
    assert df.attrs["engagifii_naive_datetimes"] == {"startDateTime": 2}
    assert df.attrs["engagifii_coerced"] == {"startDateTime": 2}  # 1500 (out of ns range), garbage


def test_datetime_dst_edges() -> None:
    df = dt_frame("2023-11-05T01:30:00", "2023-03-12T02:30:00", zone="America/New_York")
    assert df.loc[0, "startDateTime"] == ts("2023-11-05 05:30:00")  # ambiguous: first (EDT) instant
    assert df.loc[1, "startDateTime"] == ts("2023-03-12 07:30:00")  # skipped hour: read as 02:30 EST
    assert df.attrs["engagifii_coerced"] == {}


def test_datetime_python_objects_accepted() -> None:
    from datetime import UTC as TZ_UTC
    from datetime import datetime

    df = dt_frame(datetime(2024, 1, 2, 3, 4, 5, tzinfo=TZ_UTC))
    assert df.loc[0, "startDateTime"] == ts("2024-01-02 03:04:05")


# ------------------------------------------------------------------------------------------------
# FrameBuilder
# ------------------------------------------------------------------------------------------------


def many_records() -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for i in range(23):
        record: dict[str, Any] = {"id": f"id-{i}", "name": f"Event {i}"}
        if i % 3 == 0:
            record.update(FULL, id=f"id-{i}")
        if i % 4 == 1:
            record["startDateTime"] = "2023-04-26T13:00:00"  # naive, no zone
        if i % 5 == 2:
            record["registrantsCapacity"] = "abc"
        if i == 17:
            record["lateField"] = {"x": i}  # an unknown field that appears only in a late batch
        if i == 5:
            record["earlyField"] = i
        records.append(record)
    return records


@pytest.mark.parametrize("size", [1, 4, 7, 100])
def test_frame_builder_equals_events_frame(size: int) -> None:
    records = many_records()
    builder = FrameBuilder(tenant="T9")
    for start in range(0, len(records), size):
        assert builder.add(records[start : start + size]) == len(records[start : start + size])
    assert builder.add([]) == 0
    assert builder.rows == len(records)
    built = builder.build()
    whole = events_frame(records, tenant="T9")
    assert_frame_equal(built, whole)
    assert built.attrs == whole.attrs
    assert built.attrs["engagifii_coerced"] == {"registrantsCapacity": 5}
    # i % 4 == 1 -> 6 naive values, but rows 9 and 21 also carry FULL's "Eastern Standard Time"
    assert built.attrs["engagifii_naive_datetimes"] == {"startDateTime": 4}
    assert list(built.columns[-2:]) == ["earlyField", "lateField.x"]
    assert built["lateField.x"].tolist() == [None] * 17 + [17] + [None] * 5
    assert_declared(built, tenant=True)


def test_frame_builder_starts_empty_and_build_is_repeatable() -> None:
    builder = FrameBuilder()
    assert builder.rows == 0
    assert_frame_equal(builder.build(), empty_events_frame())
    builder.add([FULL])
    first = builder.build()
    first.attrs["engagifii"] = {"tenant": "x"}
    second = builder.build()
    assert "engagifii" not in second.attrs
    assert_frame_equal(first, second)


# ------------------------------------------------------------------------------------------------
# CSV
# ------------------------------------------------------------------------------------------------

FORMULAS = ["=SUM(A1)", "+1", "-x", "@y", "\tz", "\rq"]


def csv_frame() -> pd.DataFrame:
    records = [dict(FULL)]
    for i, text in enumerate(FORMULAS):
        records.append({"id": f"f{i}", "name": text, "tags": [text, "ok"], "defaultPrice": -5.0})
    records.append({"id": "n", "description": "multi\nline\r\nvalue", "attendeesCount": -3, "odd": "=1+1"})
    return events_frame(records)


def read_csv_module(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))


def test_csv_bom_and_round_trip_through_pandas_and_csv(tmp_path: Path) -> None:
    df = csv_frame()
    out = export_csv(df, tmp_path / "deep" / "dir" / "report.csv")
    assert out == tmp_path / "deep" / "dir" / "report.csv"
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert raw.count(b"\xef\xbb\xbf") == 1
    assert raw.split(b"\r\n", 1)[0].decode("utf-8-sig").split(",")[:2] == ["id", "name"]
    rows = read_csv_module(out)
    back = pd.read_csv(out, encoding="utf-8-sig", keep_default_na=False, dtype=str)
    assert rows[0] == list(df.columns) == list(back.columns)
    assert len(rows) == len(df) + 1
    assert back.to_numpy().tolist() == rows[1:]
    assert rows[1][df.columns.get_loc("description")] == FULL["description"]
    assert rows[-1][df.columns.get_loc("description")] == "multi\nline\r\nvalue"
    assert back["description"].iloc[-1] == "multi\nline\r\nvalue"
    assert rows[-1][df.columns.get_loc("attendeesCount")] == "-3"


def test_csv_cell_formats(tmp_path: Path) -> None:
    df = csv_frame()
    rows = read_csv_module(export_csv(df, tmp_path / "r.csv"))
    first = dict(zip(rows[0], rows[1], strict=True))
    assert first["tags"] == "policy; annual"
    assert json.loads(first["eventDates"]) == FULL["eventDates"]
    assert json.loads(first["contacts.regular"]) == [{"name": "Ann"}]
    assert first["contacts.finance"] == "[]"  # an empty list: JSON, so that it stays apart from NA ("")
    assert first["eventClasses"] == "c1; c2"
    assert first["isRegistrationAllowed"] == "true"
    assert first["isFreeEvent"] == "false"
    assert first["registrantsCapacity"] == "300"
    assert first["defaultPrice"] == "125.5"
    assert first["location.zip"] == "02134"
    assert first["registrationEndDate"] == ""  # 0001 -> NaT -> empty
    assert first["startDateTime"] == "2024-03-10T09:00:00.000000Z"
    assert first["endDateTime"] == "2024-03-10T17:30:00.825701Z"
    assert first["registrationStartFrom"] == "2023-12-31T18:30:00.000000Z"
    sparse = dict(zip(rows[0], rows[-1], strict=True))
    assert sparse["tags"] == "" and sparse["isFreeEvent"] == "" and sparse["startDateTime"] == ""
    pipe = read_csv_module(export_csv(df, tmp_path / "p.csv", list_separator="|"))
    assert dict(zip(pipe[0], pipe[1], strict=True))["tags"] == "policy|annual"


def test_csv_fixed_datetime_format_every_row(tmp_path: Path) -> None:
    df = dt_frame(
        "2023-04-26T13:00:00Z",
        "2023-04-26T13:00:00.8257013+02:00",
        "2023-04-26",
        "2023-04-26T13:00:00",
        zone="Eastern Standard Time",
    )
    rows = read_csv_module(export_csv(df, tmp_path / "d.csv"))
    i = rows[0].index("startDateTime")
    values = [row[i] for row in rows[1:]]
    assert values == [
        "2023-04-26T13:00:00.000000Z",
        "2023-04-26T11:00:00.825701Z",
        "2023-04-26T04:00:00.000000Z",
        "2023-04-26T17:00:00.000000Z",
    ]
    for value in values:
        assert pd.Timestamp(value) == pd.to_datetime(value, format=DATETIME_FORMAT, utc=True)


def test_csv_formula_neutralisation(tmp_path: Path) -> None:
    df = csv_frame()
    rows = read_csv_module(export_csv(df, tmp_path / "n.csv"))
    name = rows[0].index("name")
    tags = rows[0].index("tags")
    price = rows[0].index("defaultPrice")
    odd = rows[0].index("odd")
    for row, text in zip(rows[2:8], FORMULAS, strict=True):
        assert row[name] == "'" + text
        assert row[name].startswith("'")
        assert row[tags] == "'" + text + "; ok"
        assert row[price] == "-5.0"  # a number is never neutralised
    assert rows[-1][odd] == "'=1+1"
    assert rows[-1][rows[0].index("attendeesCount")] == "-3"
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "@", "\t", "\r")), cell
            if cell.startswith("-"):
                assert cell in ("-5.0", "-3", "-77.43"), cell


def test_csv_neutralisation_opt_out_keeps_raw(tmp_path: Path) -> None:
    df = csv_frame()
    rows = read_csv_module(export_csv(df, tmp_path / "raw.csv", neutralize_formulas=False))
    name = rows[0].index("name")
    assert [row[name] for row in rows[2:8]] == FORMULAS
    assert rows[2][rows[0].index("tags")] == "=SUM(A1); ok"


def test_csv_does_not_modify_frame_or_attrs(tmp_path: Path) -> None:
    df = csv_frame()
    df.attrs["engagifii"] = {"tenant": "T1", "complete": True}
    before = df.copy(deep=True)
    attrs = {k: dict(v) for k, v in df.attrs.items()}
    export_csv(df, tmp_path / "a.csv")
    export_parquet(df, tmp_path / "a.parquet")
    assert df.attrs == attrs
    assert_frame_equal(df, before)


def test_csv_empty_frame_has_header_only(tmp_path: Path) -> None:
    out = export_csv(empty_events_frame(tenant="T"), tmp_path / "e.csv")
    rows = read_csv_module(out)
    assert rows == [["tenant", *EVENT_COLUMNS]]
    back = pd.read_csv(out, encoding="utf-8-sig", keep_default_na=False, dtype=str)
    assert back.shape == (0, 45)


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_csv_atomic_failure_mid_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_writer = csv.writer

    class Boom(RuntimeError):
        pass

    def failing_writer(fh: io.TextIOBase, **kwargs: Any) -> Any:
        writer = real_writer(fh, **kwargs)

        class Half:
            def writerow(self, row: list[str]) -> Any:
                return writer.writerow(row)

            def writerows(self, rows: Any) -> None:
                for i, row in enumerate(rows):
                    if i == 2:
                        fh.flush()
                        raise Boom("disk full")
                    writer.writerow(row)

        return Half()

    monkeypatch.setattr("engagifii_data.reports.csv_writer.csv.writer", failing_writer)
    target = tmp_path / "report.csv"
    with pytest.raises(Boom):
        export_csv(csv_frame(), target)
    assert not target.exists()
    assert leftovers(tmp_path) == []


def test_csv_atomic_failure_keeps_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "report.csv"
    target.write_bytes(b"previous")
    os.chmod(target, 0o640)

    def no_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("engagifii_data.reports.files.os.fsync", no_fsync)
    with pytest.raises(OSError, match="No space"):
        export_csv(csv_frame(), target)
    assert target.read_bytes() == b"previous"
    assert leftovers(tmp_path) == ["report.csv"]
    monkeypatch.undo()
    export_csv(csv_frame(), target)
    assert target.read_bytes().startswith(b"\xef\xbb\xbf")
    assert target.stat().st_mode & 0o777 == 0o640  # an existing file's permissions are kept
    assert leftovers(tmp_path) == ["report.csv"]


def test_parquet_atomic_failure_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        fh = args[1]
        fh.write(b"PAR1 partial")
        raise OSError("boom")

    monkeypatch.setattr("engagifii_data.reports.parquet_writer.pq.write_table", broken)
    with pytest.raises(OSError, match="boom"):
        export_parquet(csv_frame(), tmp_path / "x.parquet")
    assert leftovers(tmp_path) == []


# ------------------------------------------------------------------------------------------------
# Parquet
# ------------------------------------------------------------------------------------------------


def test_parquet_round_trip(tmp_path: Path) -> None:
    df = events_frame([FULL, {"id": "b", "tags": None, "newField": "x"}, {"id": "c", "newField": None}], tenant="T")
    df.attrs["engagifii"] = {
        "tenant": "T",
        "total_count": 3,
        "complete": True,
        "fetched_at": pd.Timestamp("2024-01-01", tz=UTC),
    }
    out = export_parquet(df, tmp_path / "sub" / "events.parquet")
    assert out == tmp_path / "sub" / "events.parquet"
    back = pd.read_parquet(out)
    assert list(back.columns) == list(df.columns)
    scalar = [c for c in df.columns if df[c].dtype != object]
    assert_frame_equal(back[scalar], df[scalar])
    assert [list(v) if v is not None else None for v in back["tags"]] == [["policy", "annual"], None, None]
    assert [list(v) for v in back["eventClasses"][:1]] == [["c1", "c2"]]
    assert json.loads(str(back.loc[0, "eventDates"])) == FULL["eventDates"]
    assert json.loads(str(back.loc[0, "contacts.exhibitor"])) == [{"name": "Bo"}]
    assert json.loads(str(back.loc[0, "registrationWorkflows"])) == [{"id": "w1", "steps": 3}]
    assert back["eventDates"].isna().tolist()[1]
    assert back["newField"].isna().tolist() == [True, False, True]  # text: read back as pandas' str
    assert back.loc[1, "newField"] == "x"
    assert back.attrs["engagifii_coerced"] == {}
    assert back.attrs["engagifii"]["total_count"] == 3
    assert cast(pd.Timestamp, back.loc[0, "endDateTime"]).nanosecond == 300  # full precision kept in Parquet


def test_parquet_empty_and_mixed_unknown(tmp_path: Path) -> None:
    empty = empty_events_frame()
    back = pd.read_parquet(export_parquet(empty, tmp_path / "e.parquet"))
    assert back.shape == (0, 44)
    scalar = [c for c in empty.columns if empty[c].dtype != object]
    assert_frame_equal(back[scalar], empty[scalar])
    mixed = events_frame([{"id": "a", "weird": 1}, {"id": "b", "weird": "two"}, {"id": "c", "weird": [1]}])
    back = pd.read_parquet(export_parquet(mixed, tmp_path / "m.parquet"))
    assert back["weird"].tolist() == ["1", '"two"', "[1]"]  # mixed types -> JSON text per cell


def test_numpy_array_cells_export(tmp_path: Path) -> None:
    df = pd.DataFrame({"tags": pd.Series([np.array(["a", "b"], dtype=object), None], dtype=object)})
    rows = read_csv_module(export_csv(df, tmp_path / "np.csv"))
    assert rows == [["tags"], ["a; b"], [""]]


@pytest.mark.parametrize("text", [" =1+1", "\u3000=1+1", "＝1+1", "\n=1+1", "＋1", " -1+2", "\r\n@SUM(A1)"])
def test_formulas_hidden_behind_whitespace_or_full_width_signs_are_neutralised(tmp_path: Path, text: str) -> None:
    path = export_csv(events_frame([{"id": "a", "name": text}]), tmp_path / "f.csv")
    frame = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert frame.loc[0, "name"] == "'" + text


@pytest.mark.parametrize("text", ["Café", "  hello", "🎉 Gala", "Ünïcode"])
def test_ordinary_text_is_left_alone(tmp_path: Path, text: str) -> None:
    path = export_csv(events_frame([{"id": "a", "name": text}]), tmp_path / "f.csv")
    frame = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert frame.loc[0, "name"] == text


# A lone surrogate (half a UTF-16 pair) in records built by hand: U+FFFD, counted in a warning
@pytest.mark.parametrize(
    ("record", "column", "expected"),
    [
        ({"id": "a", "name": "Gala \ud800 night"}, "name", "Gala \ufffd night"),  # a declared text column
        ({"id": "b\udcff"}, "id", "b\ufffd"),
        ({"id": "c", "location": {"city": "\udfff"}}, "location.city", "\ufffd"),  # a nested object
        ({"id": "d", "tags": ["ok", "\ud83d"]}, "tags", ["ok", "\ud83d"]),  # a list cell: kept (object)
        ({"id": "e", "odd": {"k\ud800": "v"}}, "odd.k\ufffd", "v"),  # an unknown field's name
    ],
)
def test_lone_surrogates_in_records_become_replacement_characters(
    record: dict[str, Any], column: str, expected: Any
) -> None:
    from engagifii_data.frames import events_frame

    encodable = column != "tags"
    if encodable:
        with pytest.warns(UserWarning, match=r"not valid Unicode \(a lone surrogate\) and became U\+FFFD"):
            df = events_frame([record, {"id": "plain", "name": "Séminaire"}])
    else:
        df = events_frame([record, {"id": "plain", "name": "Séminaire"}])
    assert len(df) == 2 and df[column].iloc[0] == expected
    assert df["name"].iloc[1] == "Séminaire"
    assert str(df["name"].dtype) == "string" and str(df["id"].dtype) == "string"
