"""Excel reports, read_report round trips, values of unknown zone, the fixed header (issue 13).

Round trips run on every seeded sandbox tenant (ACME 2,400 events with an undeclared field, GLOBEX 36,
INITECH none) and on a multi-tenant frame, in all three formats. What a format cannot keep is spelled
out once, in :func:`expected`, and nowhere else.
"""

from __future__ import annotations

import csv
import io
import json
import math
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any, cast

import numpy as np
import openpyxl
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from engagifii_data import EngagifiiClient, ReportError, WalkReport, contacts, events_frame, sandbox, sessions
from engagifii_data.cli import main
from engagifii_data.frames import EVENT_COLUMNS, empty_events_frame
from engagifii_data.reports import (
    excel_about,
    export_csv,
    export_excel,
    export_parquet,
    read_report,
    write_report,
)
from engagifii_data.reports import excel_writer as xw
from engagifii_data.reports.csv_writer import escape_text, restore_text
from engagifii_data.reports.lists import list_text, parse_list

TENANTS = ("ACME", "GLOBEX", "INITECH")
FORMATS = ("csv", "parquet", "xlsx")
DATETIMES = [c for c, t in EVENT_COLUMNS.items() if t.startswith("datetime")]


# --------------------------------------------------------------------------------------------------
# Frames
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seeded() -> Iterator[dict[str, pd.DataFrame]]:
    """Every seeded tenant's frame, and one multi-tenant frame, fetched once."""
    with sandbox.run() as sb, EngagifiiClient(sb.settings()) as client:
        frames = {t: client.events(t, progress=False) for t in TENANTS}
        frames["GLOBEX+INITECH+ACME"] = client.events(["GLOBEX", "INITECH", "ACME"], progress=False)
    yield frames


def complete(df: pd.DataFrame, **changes: Any) -> pd.DataFrame:
    """``df`` with a walk report attached (complete unless changed)."""
    report = WalkReport(tenants=("T1",), total_count=len(df), complete=True, rows=len(df), rows_fetched=len(df))
    return report.replace(**changes).attach(df)


def expected(df: pd.DataFrame, fmt: str) -> pd.DataFrame:
    """What ``read_report`` gives back for ``df`` written as ``fmt``: the documented lossy bits.

    - CSV and Excel: an empty text is an empty cell, read back as NA; CSV keeps datetimes to the
      microsecond (digits truncated), Excel to the millisecond (rounded); CSV keeps no attrs.
    - Every format: attrs come back through JSON; a missing value in an unknown (object) column is
      None (a multi-tenant concat leaves float NaN where a tenant lacks the field).
    """
    out = df.copy()
    for i in range(out.shape[1]):
        series = out.iloc[:, i]
        if series.dtype == object:
            out.isetitem(i, cast(Any, series.astype(object).where(series.notna(), None)))
        elif isinstance(series.dtype, pd.StringDtype) and fmt != "parquet":
            out.isetitem(i, cast(Any, series.mask(series == "")))
        elif isinstance(series.dtype, pd.DatetimeTZDtype) and fmt != "parquet":
            out.isetitem(i, series.dt.floor("us") if fmt == "csv" else series.dt.round("ms"))
    out.attrs = {} if fmt == "csv" else json.loads(json.dumps(df.attrs, default=str))
    return out


def assert_read_back(back: pd.DataFrame, df: pd.DataFrame, fmt: str) -> None:
    want = expected(df, fmt)
    assert list(back.columns) == list(want.columns)
    assert list(back.dtypes) == list(want.dtypes)
    assert back.attrs == want.attrs
    back, want = back.copy(), want.copy()
    back.attrs, want.attrs = {}, {}
    assert_frame_equal(back, want)


def workbook(path: Path) -> Any:
    return openpyxl.load_workbook(io.BytesIO(path.read_bytes()))  # any extension


def about(path: Path) -> dict[str, tuple[Any, Any]]:
    """The About sheet's ``label -> (value, note)`` rows (before the column table)."""
    rows: dict[str, tuple[Any, Any]] = {}
    for row in workbook(path)[xw.ABOUT_SHEET].iter_rows(min_row=2, values_only=True):
        if row[0] == excel_about.COLUMNS_LABEL:
            break
        if row[0] is not None:
            rows[row[0]] = (row[1], row[2])
    return rows


def events_sheet(path: Path) -> tuple[list[str], list[list[Any]]]:
    rows = list(workbook(path)[xw.EVENTS_SHEET].iter_rows())
    header = [c.value for c in rows[0]]
    return header, [list(r) for r in rows[1:]]


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def csv_rows(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


FORMULA_NAMES = [
    "=SUM(A1:A2) Workshop",
    "+1 Networking",
    "-Minus Meetup",
    "@Home Webinar",
    '=HYPERLINK("http://evil.example","click")',
    "=cmd|' /C calc'!A0",
    "\t=1",
    " =1+1",
    "\u200b=1",
    "＝1+1",
    "'=1",
]
#: Texts Excel would turn into something else if it guessed: numbers, dates, booleans, links.
LOOKALIKES = ["0123", "1e5", "TRUE", "2023-01-01", "12:30", "https://example.com/x", "50%", "-0", " 7 "]


# --------------------------------------------------------------------------------------------------
# Excel: cells
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["name", "unknown field", "list element", "header"])
def test_excel_text_is_text_never_a_formula(tmp_path: Path, where: str) -> None:
    texts = FORMULA_NAMES + LOOKALIKES
    if where == "name":
        df = events_frame([{"id": str(i), "name": t} for i, t in enumerate(texts)])
        column, want = "name", texts
    elif where == "unknown field":
        df = events_frame([{"id": str(i), "odd": t} for i, t in enumerate(texts)])
        column, want = "odd", texts
    elif where == "list element":
        df = events_frame([{"id": str(i), "tags": [t, "x"]} for i, t in enumerate(texts)])
        column, want = "tags", [f"{t}; x" for t in texts]
    else:
        df = pd.DataFrame({t: ["v"] for t in texts})
        column, want = None, texts
    path = export_excel(df, tmp_path / "f.xlsx")
    header, rows = events_sheet(path)
    if column is None:
        cells = list(workbook(path)[xw.EVENTS_SHEET][1])
    else:
        cells = [row[header.index(column)] for row in rows]
    assert [c.value for c in cells] == want
    assert {c.data_type for c in cells} == {"s"}
    for cell in workbook(path)[xw.EVENTS_SHEET].iter_rows():
        for c in cell:
            assert c.data_type != "f", c.value


def test_excel_names_from_the_sandbox_are_text(seeded: dict[str, pd.DataFrame], tmp_path: Path) -> None:
    path = export_excel(seeded["GLOBEX"], tmp_path / "g.xlsx")
    header, rows = events_sheet(path)
    names = {row[header.index("name")].value: row[header.index("name")].data_type for row in rows}
    assert names["=SUM(A1:A2) Workshop"] == "s"
    assert names["+1 Networking"] == "s" and names["@Home Webinar"] == "s" and names["-Minus Meetup"] == "s"


def test_excel_cell_types_and_number_formats(tmp_path: Path) -> None:
    df = events_frame(
        [
            {
                "id": "a",
                "startDateTime": "2024-07-01T13:00:00.8257013Z",
                "isFreeEvent": False,
                "isRegistrationAllowed": "true",
                "defaultPrice": 125.5,
                "registrantsCapacity": 300,
                "location": {"zip": "02134", "latitude": -33.8688},
                "tags": ["CLE", "Members"],
                "eventDates": [{"id": "s1", "city": "Oslo"}],
                "eventClasses": [],
            },
            {"id": "b"},
        ]
    )
    path = export_excel(df, tmp_path / "t.xlsx")
    header, rows = events_sheet(path)
    first = dict(zip(header, rows[0], strict=True))
    assert (first["isFreeEvent"].value, first["isFreeEvent"].data_type) == (False, "b")
    assert (first["isRegistrationAllowed"].value, first["isRegistrationAllowed"].data_type) == (True, "b")
    assert (first["defaultPrice"].value, first["defaultPrice"].data_type) == (125.5, "n")
    assert (first["registrantsCapacity"].value, first["registrantsCapacity"].data_type) == (300, "n")
    assert (first["location.latitude"].value, first["location.latitude"].data_type) == (-33.8688, "n")
    assert (first["location.zip"].value, first["location.zip"].data_type) == ("02134", "s")
    stamp = first["startDateTime (UTC)"]
    assert stamp.data_type == "d" and stamp.number_format == xw.DATETIME_NUMBER_FORMAT
    assert stamp.value == datetime(2024, 7, 1, 13, 0, 0, 826000)  # rounded to the millisecond
    assert first["tags"].value == "CLE; Members"
    assert json.loads(first["eventDates"].value) == [{"id": "s1", "city": "Oslo"}]
    assert first["eventClasses"].value == "[]"
    assert first["contacts.regular"].value is None  # NA: an empty cell
    assert all(cell.value is None for name, cell in zip(header, rows[1], strict=True) if name != "id")


def test_excel_datetimes_in_the_chosen_zone_named_in_the_header(tmp_path: Path) -> None:
    df = events_frame(
        [
            {"id": "summer", "startDateTime": "2024-07-01T13:00:00Z", "createdOn": "2024-07-01T13:00:00+05:30"},
            {"id": "winter", "startDateTime": "2024-01-15T13:00:00Z", "timeZone": "Eastern Standard Time"},
        ]
    )
    zones: list[tuple[str | tzinfo, str, datetime, datetime]] = [
        ("UTC", "UTC", datetime(2024, 7, 1, 13), datetime(2024, 1, 15, 13)),
        ("Europe/Berlin", "Europe/Berlin", datetime(2024, 7, 1, 15), datetime(2024, 1, 15, 14)),
        ("America/New_York", "America/New_York", datetime(2024, 7, 1, 9), datetime(2024, 1, 15, 8)),
        (timezone(timedelta(hours=-3)), "UTC-03:00", datetime(2024, 7, 1, 10), datetime(2024, 1, 15, 10)),
    ]
    for zone, label, summer, winter in zones:
        path = export_excel(df, tmp_path / "z.xlsx", timezone=zone)
        header, rows = events_sheet(path)
        assert f"startDateTime ({label})" in header and f"createdOn ({label})" in header
        assert "startDateTime" not in header
        i = header.index(f"startDateTime ({label})")
        assert [rows[0][i].value, rows[1][i].value] == [summer, winter]
        assert about(path)["time zone"][0] == label
        assert_read_back(read_report(path), df, "xlsx")


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "", "EST5EDT+9"])
def test_excel_unknown_zone_is_refused(tmp_path: Path, zone: str) -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        export_excel(events_frame([{"id": "a"}]), tmp_path / "z.xlsx", timezone=zone)
    assert leftovers(tmp_path) == []


def test_excel_frozen_header_autofilter_and_widths(seeded: dict[str, pd.DataFrame], tmp_path: Path) -> None:
    df = seeded["ACME"]
    path = export_excel(df, tmp_path / "acme.xlsx")
    sheet = workbook(path)[xw.EVENTS_SHEET]
    assert sheet.freeze_panes == "A2"
    last = openpyxl.utils.get_column_letter(df.shape[1])
    assert sheet.auto_filter.ref == f"A1:{last}{len(df) + 1}"
    assert sheet.max_row == len(df) + 1
    letter = openpyxl.utils.get_column_letter
    # widths in characters (XlsxWriter stores them with a 0.71-character padding)
    widths = {c: int(sheet.column_dimensions[letter(i + 1)].width) for i, c in enumerate(df)}
    assert all(6 <= w <= xw.MAX_WIDTH for w in widths.values()), widths
    assert widths["description"] == xw.MAX_WIDTH  # long texts: capped
    assert widths["isFavourite"] >= len("isFavourite")  # at least the header
    assert widths["startDateTime"] >= len("startDateTime (UTC)")
    assert [c.font.b for c in sheet[1]] == [True] * df.shape[1]


def test_excel_empty_frame_is_a_header_and_an_about_sheet(tmp_path: Path) -> None:
    path = export_excel(complete(empty_events_frame(tenant="T1")), tmp_path / "e.xlsx")
    header, rows = events_sheet(path)
    assert rows == []
    assert header[0] == "tenant" and len(header) == len(EVENT_COLUMNS) + 1
    assert workbook(path)[xw.EVENTS_SHEET].freeze_panes == "A2"
    assert about(path)["rows"][0] == 0
    path = export_excel(pd.DataFrame(), tmp_path / "nothing.xlsx")
    assert workbook(path)[xw.EVENTS_SHEET].max_row == 1 and about(path)["rows"][0] == 0
    assert read_report(path).shape == (0, 0)


def test_excel_about_sheet(seeded: dict[str, pd.DataFrame], tmp_path: Path) -> None:
    df = seeded["ACME"]
    report = WalkReport.of(df)
    path = export_excel(df, tmp_path / "acme.xlsx", timezone="Asia/Kolkata")
    rows = about(path)
    assert rows["tenant"][0] == "ACME"
    assert rows["complete"][0] == "yes"
    assert rows["fetched_at"][0] == report.fetched_at
    assert rows["server filters"][0] == "only_upcoming=false; search=(none)"
    assert rows["client filters"][0] == "start=(none); end=(none); status=(none)"
    for label, value in [
        ("total_count", 2400),
        ("rows", 2400),
        ("rows fetched", 2400),
        ("pages", 24),
        ("requests", report.requests),
        ("retries", report.retries),
        ("duplicates", 0),
        ("naive datetimes", sum(report.naive_datetimes.values())),
        ("coerced", 0),
        ("repaired texts", 0),
        ("cut texts", 0),
    ]:
        assert rows[label][0] == value, label
    assert "createdOn 692" in rows["naive datetimes"][1]
    assert rows["time zone"][0] == "Asia/Kolkata"
    assert rows["zone unknown"][0] == df["naiveDateTimes"].map(lambda m: len(m or ())).sum()
    assert "not in the zone above" in rows["zone unknown"][1]
    for row in workbook(path)[xw.ABOUT_SHEET].iter_rows():
        for cell in row:
            assert cell.data_type in ("s", "n"), cell.value
    table = list(workbook(path)[xw.ABOUT_SHEET].iter_rows(values_only=True))
    start = next(i for i, r in enumerate(table) if r[0] == excel_about.COLUMNS_LABEL)
    columns = [r[:3] for r in table[start + 1 : start + 1 + df.shape[1]]]
    assert columns[7] == ("startDateTime", "startDateTime (Asia/Kolkata)", "datetime64[ns, UTC]")
    assert [c[0] for c in columns] == list(df.columns)
    assert columns[-1] == ("externalRef", "externalRef", "object")


def test_excel_about_sheet_of_filters_and_several_tenants(seeded: dict[str, pd.DataFrame], tmp_path: Path) -> None:
    df = complete(
        events_frame([{"id": "a"}]),
        server_filters={"only_upcoming": True, "search": "=HYPERLINK(1)"},
        client_filters={"start": "2024-01-01T00:00:00+00:00", "end": None, "status": ["Published", "Draft"]},
    )
    rows = about(export_excel(df, tmp_path / "f.xlsx"))
    assert rows["server filters"][0] == "only_upcoming=true; search==HYPERLINK(1)"
    assert rows["client filters"][0] == "start=2024-01-01T00:00:00+00:00; end=(none); status=Published, Draft"
    multi = seeded["GLOBEX+INITECH+ACME"]
    rows = about(export_excel(multi, tmp_path / "m.xlsx"))
    assert rows["tenant"][0] == "GLOBEX,INITECH,ACME"
    assert rows["total_count"][0] == 2436
    assert rows["tenant ACME"][0] == 2400 and rows["tenant INITECH"][0] == 0
    rows = about(export_excel(pd.DataFrame({"a": [1]}), tmp_path / "plain.xlsx"))
    assert rows["walk report"][0] == "none"
    assert rows["rows"][0] == 1


@pytest.mark.parametrize(
    ("text", "cut"),
    [
        ("x" * 32_767, False),
        ("x" * 32_768, True),
        ("y" * 100_000, True),
        ("🎉" * 16_383, False),  # 32,766 UTF-16 units: fits
        ("🎉" * 16_384, True),  # 32,768 units: Excel counts UTF-16 units
        ("a" + "🎉" * 20_000, True),
    ],
    ids=["limit", "one-over", "far-over", "astral-fits", "astral-over", "astral-odd"],
)
def test_excel_texts_over_the_cell_limit_are_cut_and_counted(tmp_path: Path, text: str, cut: bool) -> None:
    df = events_frame([{"id": "a", "description": text, "tags": [text]}])
    path = export_excel(df, tmp_path / "long.xlsx")
    header, rows = events_sheet(path)
    for column in ("description", "tags"):
        value = rows[0][header.index(column)].value
        assert len(value.encode("utf-16-le")) // 2 <= excel_about.MAX_CELL_TEXT
        if cut:
            assert value.endswith("…") and text.startswith(value[:-1])
        else:
            assert value == text
    assert about(path)["cut texts"][0] == (2 if cut else 0)


def test_excel_numbers_excel_would_round_are_text(tmp_path: Path) -> None:
    df = events_frame(
        [
            {"id": "big", "registrantsCapacity": 2**53 + 1, "defaultPrice": "inf"},
            {"id": "edge", "registrantsCapacity": 2**53, "defaultPrice": "-inf"},
            {"id": "neg", "registrantsCapacity": -(2**62), "defaultPrice": 0.1},
        ]
    )
    path = export_excel(df, tmp_path / "n.xlsx")
    header, rows = events_sheet(path)
    cap = [r[header.index("registrantsCapacity")] for r in rows]
    price = [r[header.index("defaultPrice")] for r in rows]
    assert [(c.value, c.data_type) for c in cap] == [
        (str(2**53 + 1), "s"),
        (2**53, "n"),
        (str(-(2**62)), "s"),
    ]
    assert [(c.value, c.data_type) for c in price] == [("inf", "s"), ("-inf", "s"), (0.1, "n")]
    assert_read_back(read_report(path), df, "xlsx")


def test_excel_characters_xml_cannot_hold_and_escape_lookalikes_round_trip(tmp_path: Path) -> None:
    texts = ["ctl\x01\x0b\x1f end", "a\r\nb\tc", "_x0041_ literal", "_x005F_ too", "\ufffe\uffff", "x_x1_y"]
    df = events_frame([{"id": str(i), "name": t, "odd": t, "tags": [t]} for i, t in enumerate(texts)])
    path = export_excel(df, tmp_path / "x.xlsx")
    back = read_report(path)
    assert back["name"].tolist() == texts
    assert back["odd"].tolist() == texts
    assert back["tags"].tolist() == [[t] for t in texts]


def test_excel_datetime_before_1900_is_text_and_reads_back(tmp_path: Path) -> None:
    df = events_frame([{"id": "old", "startDateTime": "1850-06-01T12:00:00Z"}, {"id": "new"}])
    path = export_excel(df, tmp_path / "old.xlsx")
    header, rows = events_sheet(path)
    cell = rows[0][header.index("startDateTime (UTC)")]
    assert (cell.value, cell.data_type) == ("1850-06-01 12:00:00.000", "s")
    assert_read_back(read_report(path), df, "xlsx")


# --------------------------------------------------------------------------------------------------
# Excel: limits, partial walks, atomic writes, the engine
# --------------------------------------------------------------------------------------------------


def test_excel_too_many_rows_or_columns_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(xw, "MAX_ROWS", 3)
    df = events_frame([{"id": str(i)} for i in range(3)])
    with pytest.raises(ReportError, match=r"at most 2 rows under its header and this frame has 3.*CSV or Parquet"):
        export_excel(df, tmp_path / "big.xlsx")
    export_excel(df.iloc[:2], tmp_path / "fits.xlsx")
    monkeypatch.setattr(xw, "MAX_COLUMNS", 10)
    with pytest.raises(ReportError, match="at most 10 columns"):
        export_excel(df.iloc[:2], tmp_path / "wide.xlsx")
    assert leftovers(tmp_path) == ["fits.xlsx"]


@pytest.mark.parametrize("how", ["export_excel", "write_report"])
def test_excel_refuses_a_partial_walk(tmp_path: Path, how: str) -> None:
    df = complete(events_frame([{"id": "a"}]), complete=False, total_count=250, missing_pages=(2, 3))
    target = tmp_path / "partial.xlsx"
    with pytest.raises(ReportError, match=r"refusing to write a partial result \(1 rows of a total of 250"):
        if how == "export_excel":
            export_excel(df, target)
        else:
            write_report(df, target, "xlsx")
    assert not target.exists()
    written = export_excel(df, target, allow_incomplete=True)
    rows = about(written)
    assert rows["complete"] == ("NO", "a partial walk, written with allow_incomplete=True; pages not fetched: 2-3")


def test_excel_failed_write_keeps_the_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    reports = tmp_path / "reports"
    target = export_excel(events_frame([{"id": "old"}]), reports / "r.xlsx")
    before = target.read_bytes()

    def no_space(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("engagifii_data.reports.files.os.fsync", no_space)
    with pytest.raises(OSError, match="No space"):
        export_excel(events_frame([{"id": "new"}]), target)
    monkeypatch.undo()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))

    class Boom(RuntimeError):
        pass

    calls = iter(range(10**6))

    def put(*args: Any) -> None:
        if next(calls) == 40:
            raise Boom("mid-write")

    monkeypatch.setattr(xw, "_put", put)
    with pytest.raises(Boom):
        export_excel(events_frame([{"id": str(i), "name": "n"} for i in range(50)]), target)
    assert target.read_bytes() == before
    assert leftovers(reports) == ["r.xlsx"]
    assert leftovers(scratch) == []  # the engine's row files are gone too
    monkeypatch.undo()
    assert read_report(target)["id"].tolist() == ["old"]


@pytest.mark.parametrize("how", ["export_excel", "write_report", "extension"])
def test_excel_without_its_engine_names_the_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    monkeypatch.setitem(sys.modules, "xlsxwriter", None)
    df = events_frame([{"id": "a"}])
    with pytest.raises(ImportError, match=r"pip install 'engagifii-data\[excel\]'"):
        if how == "export_excel":
            export_excel(df, tmp_path / "a.xlsx")
        elif how == "write_report":
            write_report(df, tmp_path / "a.csv", "xlsx")
        else:
            write_report(df, tmp_path / "a.xlsx")
    assert leftovers(tmp_path) == []
    export_csv(df, tmp_path / "a.csv")  # the other formats do not need it


def test_the_excel_engine_is_imported_only_for_excel_files(tmp_path: Path) -> None:
    code = (
        "import sys; from engagifii_data import export_excel, read_report, events_frame; "
        "from engagifii_data.reports import write_report; "
        f"p = write_report(events_frame([{{'id': 'a'}}]), {str(tmp_path / 'a.csv')!r}); read_report(p); "
        "print(','.join(m for m in ('xlsxwriter', 'openpyxl') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_reading_excel_without_openpyxl_names_the_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = export_excel(events_frame([{"id": "a"}]), tmp_path / "a.xlsx")
    monkeypatch.setitem(sys.modules, "openpyxl", None)
    with pytest.raises(ImportError, match=r"openpyxl.*pip install 'engagifii-data\[excel\]'"):
        read_report(path)


def test_cli_excel_without_its_engine_is_a_plain_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "xlsxwriter", None)
    code, _, err = run_cli("events", "--sandbox", "--tenant", "GLOBEX", "-o", str(tmp_path / "g.xlsx"), "--no-progress")
    assert code == 2
    assert "pip install 'engagifii-data[excel]'" in err
    assert "Traceback" not in err
    assert not (tmp_path / "g.xlsx").exists()


# --------------------------------------------------------------------------------------------------
# The command line
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [("-o", "{dir}/events.xlsx"), ("--format", "xlsx", "-o", "{dir}/events.report"), ("--format", "xlsx")],
    ids=["extension", "format", "default-path"],
)
def test_cli_writes_excel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]) -> None:
    monkeypatch.chdir(tmp_path)
    argv = [a.format(dir=tmp_path) for a in args]
    code, out, err = run_cli("events", "--sandbox", "--tenant", "GLOBEX", *argv, "--no-progress")
    assert code == 0, err
    written = sorted(tmp_path.rglob("*.xlsx")) + sorted(tmp_path.rglob("*.report"))
    assert len(written) == 1
    path = written[0]
    assert path.read_bytes()[:4] == b"PK\x03\x04"
    shown = path if "-o" in args else path.relative_to(tmp_path)  # the default path is relative
    assert f"wrote 36 rows for tenant GLOBEX to {shown}\n" in out
    header, rows = events_sheet(path)
    assert len(rows) == 36 and header[7] == "startDateTime (UTC)"
    assert about(path)["tenant"][0] == "GLOBEX"
    back = read_report(path, format="xlsx")
    assert len(back) == 36 and back.attrs["engagifii"]["tenant"] == "GLOBEX"


def test_cli_columns_declared_gives_one_header_for_every_tenant_and_format(tmp_path: Path) -> None:
    headers: dict[tuple[str, str, str], list[str]] = {}
    for fmt in FORMATS:
        for tenant in ("ACME", "GLOBEX", "INITECH"):
            for columns in ("all", "declared"):
                path = tmp_path / f"{tenant}-{columns}.{fmt}"
                code, _, err = run_cli(
                    "events", "--sandbox", "--tenant", tenant, "-o", str(path), "--columns", columns, "--no-progress"
                )
                assert code == 0, err
                headers[fmt, tenant, columns] = list(read_report(path).columns)
    for fmt in FORMATS:
        declared = {tuple(headers[fmt, t, "declared"]) for t in TENANTS}
        assert declared == {tuple(EVENT_COLUMNS)}, fmt
        assert headers[fmt, "ACME", "all"] == [*EVENT_COLUMNS, "externalRef"]
        assert headers[fmt, "GLOBEX", "all"] == list(EVENT_COLUMNS)
    assert csv_rows(tmp_path / "ACME-declared.csv")[0] == csv_rows(tmp_path / "INITECH-declared.csv")[0]


# --------------------------------------------------------------------------------------------------
# The fixed header in Python
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("how", ["write_report", "writer"])
def test_columns_declared_header_does_not_depend_on_undeclared_fields(tmp_path: Path, fmt: str, how: str) -> None:
    writer = {"csv": export_csv, "parquet": export_parquet, "xlsx": export_excel}[fmt]
    shapes = [
        events_frame([{"id": "a"}], tenant="T"),
        events_frame([{"id": "a", "externalRef": "EXT-1", "another": {"deep": 1}}], tenant="T"),
        events_frame([{"id": "a", "tenant": "raw", "naiveDateTimes": "sent by the API"}], tenant="T"),
        empty_events_frame(tenant="T"),
    ]
    seen = set()
    for i, df in enumerate(shapes):
        path = tmp_path / f"{i}.{fmt}"
        if how == "write_report":
            write_report(df, path, columns="declared")
        else:
            writer(df, path, columns="declared")
        back = read_report(path)
        seen.add(tuple(back.columns))
        assert list(back.dtypes) == list(empty_events_frame(tenant="T").dtypes)
    assert seen == {("tenant", *EVENT_COLUMNS)}
    all_columns = tmp_path / f"all.{fmt}"
    writer(shapes[1], all_columns)
    assert list(read_report(all_columns).columns) == ["tenant", *EVENT_COLUMNS, "externalRef", "another.deep"]


@pytest.mark.parametrize("writer", [export_csv, export_parquet, export_excel, write_report])
def test_columns_must_be_all_or_declared(tmp_path: Path, writer: Any) -> None:
    with pytest.raises(ValueError, match="columns must be 'all' or 'declared'"):
        writer(events_frame([{"id": "a"}]), tmp_path / "x.xlsx", columns="some")
    assert leftovers(tmp_path) == []


# --------------------------------------------------------------------------------------------------
# read_report: round trips
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("tenant", [*TENANTS, "GLOBEX+INITECH+ACME"])
def test_round_trip_of_every_seeded_tenant(
    seeded: dict[str, pd.DataFrame], tmp_path: Path, tenant: str, fmt: str
) -> None:
    df = seeded[tenant]
    path = write_report(df, tmp_path / f"events.{fmt}")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing of our own file is "edited"
        back = read_report(path)
    assert_read_back(back, df, fmt)
    assert isinstance(back.index, pd.RangeIndex)
    if len(df):
        assert back["location.zip"].dtype == pd.StringDtype()
        assert back["registrantsCapacity"].dtype == "Int64"
        assert back["startDateTime"].dtype == "datetime64[ns, UTC]"
        assert isinstance(back["eventDates"].dropna().iloc[0], list)
        assert back["naiveDateTimes"].notna().any()


def test_what_each_format_loses_is_exactly_what_expected_says(seeded: dict[str, pd.DataFrame], tmp_path: Path) -> None:
    df = seeded["ACME"]
    assert (df["description"] == "").sum() > 0  # the seeded data has empty texts ...
    assert df["endDateTime"].dt.nanosecond.gt(0).any()  # ... and 7 fractional digits
    for fmt in FORMATS:
        back = read_report(write_report(df, tmp_path / f"a.{fmt}"))
        empties = back["description"].isna().sum()
        assert empties == (df["description"].isna().sum() if fmt == "parquet" else df["description"].isna().sum() + 61)
        if fmt == "parquet":
            assert back["endDateTime"].equals(df["endDateTime"])
        else:
            assert not back["endDateTime"].equals(df["endDateTime"])


@pytest.mark.parametrize("zone", ["Asia/Kolkata", "America/New_York", "UTC+05:30", "Europe/Berlin"])
def test_excel_round_trip_in_another_zone(seeded: dict[str, pd.DataFrame], tmp_path: Path, zone: str) -> None:
    df = seeded["ACME"]
    back = read_report(export_excel(df, tmp_path / "z.xlsx", timezone=zone))
    want = expected(df, "xlsx")
    _, tz = xw.zone_of(zone)
    marks = df["naiveDateTimes"]
    for column in DATETIMES:
        # the one loss of a zone with daylight saving: the repeated autumn hour reads back as its first instant
        local = want[column].dt.tz_convert(tz).dt.tz_localize(None)
        first = local.dt.tz_localize(tz, ambiguous=np.ones(len(local), dtype=bool)).dt.tz_convert("UTC")
        wall = marks.map(lambda m, c=column: c in (m or ())).to_numpy(dtype=bool)
        want[column] = want[column].where(wall, first)
    assert_read_back(back, want, "xlsx")
    moved = sum(int((~(back[c].eq(df[c].dt.round("ms")) | back[c].isna())).sum()) for c in DATETIMES)
    assert moved == (1 if zone == "Europe/Berlin" else 0)


def test_parquet_keeps_unknown_fields_of_any_shape(tmp_path: Path) -> None:
    values = [1, "two", [1, "x"], {"a": {"b": None}}, None, True, 2.5, [{"k": "v"}]]
    shapes: dict[str, list[Any]] = {
        "mixed": values,
        "texts": ["a", None, "", "b"] * 2,
        "ints": [1, None, 2**62, -3] * 2,
        "floats": [1.5, None, -0.0, 1e300] * 2,
        "bools": [True, False, None, True] * 2,
        "nothing": [None] * 8,
        "dicts": [{"a": 1}, {"b": 2}, None, {}] * 2,
    }
    df = events_frame([{"id": str(i)} for i in range(8)])
    for name, column in shapes.items():  # objects as cells (events_frame would flatten them)
        df[name] = pd.Series(column, dtype=object)
    back = read_report(export_parquet(df, tmp_path / "u.parquet"))
    for name, column in shapes.items():
        assert back[name].dtype == object
        assert back[name].tolist() == column, name
        assert [type(v) for v in back[name]] == [type(v) for v in column], name
    assert pd.read_parquet(tmp_path / "u.parquet")["texts"].dtype == pd.StringDtype()  # plain text for pandas


@pytest.mark.parametrize("fmt", FORMATS)
def test_lists_of_every_shape_round_trip(tmp_path: Path, fmt: str) -> None:
    cells: list[Any] = [
        None,
        [],
        [""],
        ["", ""],
        ["a"],
        ["a", ""],
        ["a; b"],
        ["[x]"],
        ["[1]", "y"],
        [" padded ", "x"],
        ["=x", "ok"],
        ["'=x"],
        [1, 2],
        [None],
        ["a", None],
        [True],
        [{"k": [1, {"z": None}]}],
        [["nested"]],
    ]
    df = events_frame([{"id": str(i), "tags": c, "eventDates": c} for i, c in enumerate(cells)])
    back = read_report(write_report(df, tmp_path / f"l.{fmt}"))
    assert back["tags"].tolist() == cells
    assert back["eventDates"].tolist() == cells


@pytest.mark.parametrize(("separator", "fmt"), [("|", "csv"), (" / ", "xlsx")])
def test_lists_with_another_separator(tmp_path: Path, separator: str, fmt: str) -> None:
    cells = [["a", "b"], ["a|b"], ["x / y"], []]
    df = events_frame([{"id": str(i), "tags": c} for i, c in enumerate(cells)])
    path = write_report(df, tmp_path / f"s.{fmt}", list_separator=separator)
    assert read_report(path, list_separator=separator)["tags"].tolist() == cells


def test_list_rule_directly() -> None:
    assert list_text(["CLE", "Members"]) == "CLE; Members"
    assert list_text([]) == "[]"
    assert list_text(np.array(["a", "b"], dtype=object)) == "a; b"
    assert list_text([np.array([1, 2])]) == "[[1,2]]"
    assert parse_list("") is None
    assert parse_list("[not json") == ["[not json"]
    assert parse_list('{"a":1}') == ['{"a":1}']
    with pytest.raises(ValueError, match="separator"):
        list_text(["a"], "")


# --------------------------------------------------------------------------------------------------
# read_report: CSV specifics
# --------------------------------------------------------------------------------------------------


def test_csv_read_back_typed_where_pandas_is_not(seeded: dict[str, pd.DataFrame], tmp_path: Path) -> None:
    path = export_csv(seeded["GLOBEX"], tmp_path / "g.csv")
    naive = pd.read_csv(path, encoding="utf-8-sig")
    assert naive["location.zip"].dtype != "string"  # what issue 13 saw: zip codes as numbers ...
    typed = read_report(path)
    assert typed["location.zip"].dtype == pd.StringDtype()
    assert typed["location.zip"].str.len().min() == 5
    assert typed["registrantsCapacity"].dtype == "Int64"
    assert typed["defaultPrice"].dtype == "Float64"
    assert typed["isFreeEvent"].dtype == "boolean"
    assert typed["startDateTime"].dtype == "datetime64[ns, UTC]"


TRICKY_TEXTS = [
    "=1",
    "'=1",
    "''=1",
    "'",
    "''",
    "'hello",
    "'-",
    "-5",
    "'-5",
    " =1",
    "'\u200b=1",
    "plain",
    "Séminaire d'été",
    'multi\r\nline, "quoted"',
]


@pytest.mark.parametrize("where", ["string column", "object column", "list", "header"])
def test_csv_formula_quotes_are_removed_exactly(tmp_path: Path, where: str) -> None:
    if where == "header":
        df = pd.DataFrame({t: ["v"] for t in TRICKY_TEXTS})
        back = read_report(export_csv(df, tmp_path / "h.csv"))
        assert list(back.columns) == TRICKY_TEXTS
        return
    key = {"string column": "name", "object column": "odd", "list": "tags"}[where]
    df = events_frame([{"id": str(i), key: [t] if where == "list" else t} for i, t in enumerate(TRICKY_TEXTS)])
    path = export_csv(df, tmp_path / "q.csv")
    rows = csv_rows(path)
    for row in rows[1:]:
        assert not row[rows[0].index(key)].startswith(("=", "+", "@", "\t", "\r"))
    back = read_report(path)
    assert back[key].tolist() == ([[t] for t in TRICKY_TEXTS] if where == "list" else TRICKY_TEXTS)


def test_escape_and_restore_are_inverse() -> None:
    for text in [*TRICKY_TEXTS, *FORMULA_NAMES, "", "'''", "'''=x", "'\t", "＝1"]:
        assert restore_text(escape_text(text)) == text, text
    assert escape_text("'=1") == "''=1"  # the one change to neutralisation: a quote already there is kept
    assert escape_text("'hello") == "'hello"


def test_csv_written_raw_is_read_raw(tmp_path: Path) -> None:
    df = events_frame([{"id": str(i), "name": t} for i, t in enumerate(TRICKY_TEXTS)])
    path = export_csv(df, tmp_path / "raw.csv", neutralize_formulas=False)
    assert read_report(path, restore_formulas=False)["name"].tolist() == TRICKY_TEXTS
    assert read_report(path)["name"].tolist() != TRICKY_TEXTS  # "'=1" loses its quote if read as escaped


def test_edited_cells_that_do_not_fit_warn_and_read_as_na(tmp_path: Path) -> None:
    path = export_csv(events_frame([{"id": "a", "registrantsCapacity": 3}, {"id": "b"}]), tmp_path / "e.csv")
    text = path.read_text(encoding="utf-8-sig").replace(",3,", ",lots,").replace("\r\nb,", "\r\nb,")
    path.write_text(text, encoding="utf-8-sig")
    with pytest.warns(UserWarning, match="registrantsCapacity 1") as caught:
        back = read_report(path)
    assert caught[0].filename == __file__
    assert back["registrantsCapacity"].isna().all()


def test_read_report_format_by_name_content_or_argument(seeded: dict[str, pd.DataFrame], tmp_path: Path) -> None:
    df = seeded["GLOBEX"]
    for fmt in FORMATS:
        path = write_report(df, tmp_path / f"report-{fmt}.data", fmt)
        assert_read_back(read_report(path), df, fmt)  # the first bytes say which
        assert_read_back(read_report(path, format=fmt.upper()), df, fmt)
    renamed = write_report(df, tmp_path / "really-parquet.csv", "parquet")
    assert_read_back(read_report(renamed, format="parquet"), df, "parquet")
    assert_read_back(read_report(renamed), df, "parquet")  # the content wins over the name
    excel_named_csv = write_report(df, tmp_path / "really-excel.csv", "xlsx")
    assert_read_back(read_report(excel_named_csv), df, "xlsx")
    with pytest.raises(ValueError, match="unknown report format 'json'"):
        read_report(renamed, format="json")
    with pytest.raises(FileNotFoundError):
        read_report(tmp_path / "missing.csv")


def test_excel_files_edited_or_made_elsewhere(tmp_path: Path) -> None:
    df = events_frame([{"id": "a", "startDateTime": "2024-07-01T13:00:00Z", "registrantsCapacity": 5}])
    path = export_excel(df, tmp_path / "a.xlsx", timezone="Europe/Berlin")
    book = workbook(path)
    book[xw.EVENTS_SHEET]["H1"] = "startDateTime (Mars/Base)"  # a header edited by hand
    book.save(tmp_path / "edited.xlsx")
    with pytest.warns(UserWarning, match="names no known time zone") as caught:
        back = read_report(tmp_path / "edited.xlsx")
    assert caught[0].filename == __file__
    assert back["startDateTime"].tolist() == [pd.Timestamp("2024-07-01 15:00", tz="UTC")]  # read as UTC
    foreign = openpyxl.Workbook()  # no About sheet, our header names
    sheet = foreign.active
    sheet.append(["id", "startDateTime (Asia/Kolkata)", "location.zip", "registrantsCapacity", "notes"])
    sheet.append(["x", datetime(2024, 7, 1, 18, 30), "02134", 7, 3.5])
    foreign.save(tmp_path / "foreign.xlsx")
    back = read_report(tmp_path / "foreign.xlsx")
    assert list(back.columns) == ["id", "startDateTime", "location.zip", "registrantsCapacity", "notes"]
    assert back["startDateTime"].tolist() == [pd.Timestamp("2024-07-01 13:00", tz="UTC")]
    assert back["location.zip"].tolist() == ["02134"] and back["registrantsCapacity"].dtype == "Int64"
    assert back["notes"].tolist() == [3.5] and back.attrs == {}


def test_a_parquet_file_of_an_earlier_version_still_reads(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    df = events_frame([{"id": "a", "tags": ["x"], "eventDates": [{"id": "s"}], "odd": "v"}, {"id": "b"}])
    path = export_parquet(df, tmp_path / "new.parquet")
    table = pq.read_table(path)
    metadata = {k: v for k, v in (table.schema.metadata or {}).items() if k != b"engagifii_columns"}
    pq.write_table(table.replace_schema_metadata(metadata), tmp_path / "old.parquet")
    assert_read_back(read_report(tmp_path / "old.parquet"), df, "parquet")


# --------------------------------------------------------------------------------------------------
# Values whose time zone is unknown
# --------------------------------------------------------------------------------------------------

UNKNOWN_ZONE_RECORDS = [
    {"id": "a", "startDateTime": "2023-04-26T13:00:00", "createdOn": "2023-04-26T13:00:00.1234567"},
    {"id": "b", "startDateTime": "2023-04-26T13:00:00Z", "createdOn": "2023-04-26T09:00:00", "timeZone": "?"},
    {"id": "c", "startDateTime": "2023-04-26T13:00:00", "timeZone": "Eastern Standard Time"},
    {"id": "d"},
]


def unknown_zone_frame() -> pd.DataFrame:
    df = events_frame(UNKNOWN_ZONE_RECORDS)
    assert df["naiveDateTimes"].tolist() == [["startDateTime", "createdOn"], ["createdOn"], None, None]
    return df


def test_csv_writes_unknown_zone_values_without_an_offset(tmp_path: Path) -> None:
    rows = csv_rows(export_csv(unknown_zone_frame(), tmp_path / "n.csv"))
    cell = {(r[0], h): v for r in rows[1:] for h, v in zip(rows[0], r, strict=True)}
    assert cell["a", "startDateTime"] == "2023-04-26T13:00:00.000000"
    assert cell["a", "createdOn"] == "2023-04-26T13:00:00.123456"
    assert cell["b", "startDateTime"] == "2023-04-26T13:00:00.000000Z"
    assert cell["b", "createdOn"] == "2023-04-26T09:00:00.000000"
    assert cell["c", "startDateTime"] == "2023-04-26T17:00:00.000000Z"  # localised: an instant
    assert cell["d", "startDateTime"] == ""
    assert cell["a", "naiveDateTimes"] == "startDateTime; createdOn"
    custom = csv_rows(export_csv(unknown_zone_frame(), tmp_path / "c.csv", datetime_format="%Y-%m-%d %H:%M%z"))
    assert [r[custom[0].index("startDateTime")] for r in custom[1:]] == [
        "2023-04-26 13:00",
        "2023-04-26 13:00+0000",
        "2023-04-26 17:00+0000",
        "",
    ]


def test_excel_writes_unknown_zone_values_as_wall_clock_times(tmp_path: Path) -> None:
    path = export_excel(unknown_zone_frame(), tmp_path / "n.xlsx", timezone="Asia/Tokyo")
    header, rows = events_sheet(path)
    start = [r[header.index("startDateTime (Asia/Tokyo)")] for r in rows]
    created = [r[header.index("createdOn (Asia/Tokyo)")] for r in rows]
    assert [c.value for c in start] == [
        datetime(2023, 4, 26, 13),  # its own digits, not shifted to Tokyo
        datetime(2023, 4, 26, 22),  # 13:00Z in Tokyo
        datetime(2023, 4, 27, 2),
        None,
    ]
    assert [c.number_format for c in start[:3]] == [
        xw.WALL_CLOCK_NUMBER_FORMAT,
        xw.DATETIME_NUMBER_FORMAT,
        xw.DATETIME_NUMBER_FORMAT,
    ]
    assert (created[0].value, created[0].number_format) == (
        datetime(2023, 4, 26, 13, 0, 0, 123000),
        xw.WALL_CLOCK_NUMBER_FORMAT,
    )
    assert about(path)["zone unknown"][0] == 3


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("shape", ["as built", "filtered", "sorted", "concatenated", "multi-tenant-like"])
def test_unknown_zone_values_are_restored_by_read_report(tmp_path: Path, fmt: str, shape: str) -> None:
    df = unknown_zone_frame()
    if shape == "filtered":
        df = df[df["id"] != "a"].reset_index(drop=True)
    elif shape == "sorted":
        df = df.sort_values("id", ascending=False).reset_index(drop=True)
    elif shape == "concatenated":
        df = pd.concat([df, events_frame([{"id": "e", "endDateTime": "2030-01-01T00:00:00"}])], ignore_index=True)
    elif shape == "multi-tenant-like":
        df.insert(0, "tenant", pd.Series(["T"] * len(df), dtype="string"))
    back = read_report(
        write_report(df, tmp_path / f"n.{fmt}", timezone="Europe/Berlin")
        if fmt == "xlsx"
        else write_report(df, tmp_path / f"n.{fmt}")
    )
    assert_read_back(back, df, fmt)
    by_id = dict(zip(back["id"], back["naiveDateTimes"], strict=True))
    if "a" in by_id:
        assert by_id["a"] == ["startDateTime", "createdOn"]
        assert back.loc[back["id"] == "a", "startDateTime"].iloc[0] == pd.Timestamp("2023-04-26 13:00", tz="UTC")


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_frame_that_dropped_the_mark_is_written_with_a_warning(tmp_path: Path, fmt: str) -> None:
    df = unknown_zone_frame().drop(columns="naiveDateTimes")
    with pytest.warns(UserWarning, match=r"no naiveDateTimes column.*createdOn 2, startDateTime 1") as caught:
        path = write_report(df, tmp_path / f"x.{fmt}")
    assert caught[0].filename == __file__  # points at the caller
    assert "naiveDateTimes" not in read_report(path).columns
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        write_report(unknown_zone_frame().drop(columns="createdOn"), tmp_path / f"y.{fmt}")  # the mark is there


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_datetime_column_without_a_zone_reads_back_marked(tmp_path: Path, fmt: str) -> None:
    hand = pd.DataFrame({"id": ["x"], "startDateTime": pd.to_datetime(["2024-05-01 10:00"])})  # no zone at all
    path = write_report(hand, tmp_path / f"hand.{fmt}")
    if fmt == "csv":
        assert csv_rows(path)[1][1] == "2024-05-01T10:00:00.000000"
    else:
        header, rows = events_sheet(path)
        assert header[1] == "startDateTime (zone unknown)"
        assert rows[0][1].number_format == xw.WALL_CLOCK_NUMBER_FORMAT
    back = read_report(path)
    assert back["naiveDateTimes"].tolist() == [["startDateTime"]]
    assert back["startDateTime"].tolist() == [pd.Timestamp("2024-05-01 10:00", tz="UTC")]


def test_object_cells_holding_datetimes_keep_their_zone_or_lack_of_one(tmp_path: Path) -> None:
    df = pd.DataFrame({"when": [datetime(2024, 1, 1, 9, 30), datetime(2024, 1, 1, 9, 30, tzinfo=UTC), None]})
    rows = csv_rows(export_csv(df, tmp_path / "o.csv"))
    assert [r[0] for r in rows[1:]] == ["2024-01-01T09:30:00.000000", "2024-01-01T09:30:00.000000Z", ""]
    _, cells = events_sheet(export_excel(df, tmp_path / "o.xlsx", timezone="America/New_York"))
    assert [(c[0].value, c[0].number_format) for c in cells[:2]] == [
        (datetime(2024, 1, 1, 9, 30), xw.WALL_CLOCK_NUMBER_FORMAT),
        (datetime(2024, 1, 1, 4, 30), xw.DATETIME_NUMBER_FORMAT),
    ]


def test_parquet_keeps_the_mark_for_pandas_too(tmp_path: Path) -> None:
    path = export_parquet(unknown_zone_frame(), tmp_path / "n.parquet")
    plain = pd.read_parquet(path)
    assert [None if v is None else list(v) for v in plain["naiveDateTimes"]] == [
        ["startDateTime", "createdOn"],
        ["createdOn"],
        None,
        None,
    ]


def test_inf_and_nan_stay_apart_in_every_format(tmp_path: Path) -> None:
    df = events_frame([{"id": "a", "defaultPrice": "inf"}, {"id": "b", "defaultPrice": None}])
    for fmt in FORMATS:
        back = read_report(write_report(df, tmp_path / f"i.{fmt}"))
        assert math.isinf(back["defaultPrice"].iloc[0]) and back["defaultPrice"].isna().tolist() == [False, True]


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("passwd", b"root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n", "names none"),
        ("notes.csv", b"a,b\n1,2\n", "names none"),
        ("one-word.csv", b"vm\n", "names none"),
        ("nul.csv", b"a\x00b,c\n1,2\n", "names none"),
        ("latin1.csv", b"id,name\n1,S\xe9minaire\n", "not UTF-8 CSV text"),
        ("elf", b"\x7fELF\x02\x01\x01\x00\xd0\xff\xfe", "not UTF-8 CSV text"),
        ("broken.parquet", b"PAR1 not really", "not a readable Parquet file"),
        ("broken.xlsx", b"PK\x03\x04 not really", "not a readable .xlsx workbook"),
        ("text.xlsx", b"id,name\n1,x\n", "not a readable .xlsx workbook"),
    ],
)
def test_read_report_refuses_files_that_are_not_reports(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ReportError, match=reason) as caught:
        read_report(path)
    assert str(path) in str(caught.value) and isinstance(caught.value, ValueError)


def test_read_report_still_reads_our_csv_of_any_columns_and_a_foreign_csv_with_event_columns(tmp_path: Path) -> None:
    ours = export_csv(pd.DataFrame({"anything": ["v"]}), tmp_path / "ours.csv")  # the BOM marks it
    assert read_report(ours)["anything"].tolist() == ["v"]
    foreign = tmp_path / "foreign.csv"
    foreign.write_bytes(b"id,name,attendeesCount\n1,Gala,12\n")
    back = read_report(foreign)
    assert back["attendeesCount"].dtype == "Int64" and back["attendeesCount"].tolist() == [12]
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert read_report(empty).shape == (0, 0)
    with pytest.raises(IsADirectoryError):
        read_report(tmp_path)


def test_every_writer_repairs_lone_surrogates_and_leaves_nothing_behind_when_it_cannot(tmp_path: Path) -> None:
    """A frame built or edited by hand may hold half a character: each format writes U+FFFD instead."""
    df = events_frame([{"id": "a", "tags": ["ok", "\ud83d"], "odd": "x"}])
    df["odd"] = pd.Series(np.array(["\udfffy"], dtype=object), dtype=object)
    df["name"] = pd.array(["Gala\udc00"], dtype=pd.StringDtype("python"))
    df.attrs["note"] = "\ud800"
    for fmt in ("csv", "parquet", "xlsx"):
        path = tmp_path / f"r.{fmt}"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            write_report(df, path)
        back = read_report(path)
        assert back["name"].tolist() == ["Gala\ufffd"] and back["odd"].tolist() == ["\ufffdy"], fmt
        assert "\ufffd" in str(back["tags"].iloc[0]), fmt
        if fmt != "csv":  # CSV repairs as it encodes, silently; the others say how many
            assert [str(w.message) for w in caught if "lone surrogate" in str(w.message)] == [
                "4 texts were not valid Unicode (a lone surrogate) and are written as U+FFFD"
            ], fmt
            assert back.attrs["note"] == "\ufffd"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv", "r.parquet", "r.xlsx"]  # no temp file left
    assert df["name"].tolist() == ["Gala\udc00"]  # the caller's frame is not modified


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("tenant", [*TENANTS, "GLOBEX+INITECH+ACME"])
def test_sessions_and_contacts_reports_read_back_in_their_declared_dtypes(
    seeded: dict[str, pd.DataFrame], tmp_path: Path, tenant: str, fmt: str
) -> None:
    from engagifii_data.frames.tables import CONTACT_COLUMNS, SESSION_COLUMNS

    for name, make, declared in (("sessions", sessions, SESSION_COLUMNS), ("contacts", contacts, CONTACT_COLUMNS)):
        table = make(seeded[tenant])
        path = write_report(table, tmp_path / f"{name}.{fmt}")
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            back = read_report(path)
        assert list(back.columns) == list(table.columns)
        assert len(back) == len(table)
        for column, dtype in declared.items():
            if column in back.columns:
                expected = "datetime64[ns, UTC]" if dtype == "datetime64[ns, UTC]" else table[column].dtype
                assert str(back[column].dtype) == str(expected), (name, column, back[column].dtype)
        if len(table) and name == "sessions":
            assert back["sessionIndex"].tolist() == table["sessionIndex"].tolist()
            gap = (back["start"] - table["start"]).abs().max()
            assert gap < pd.Timedelta(1, "ms"), gap  # CSV keeps microseconds, Excel milliseconds


@pytest.mark.parametrize("name", ["events.json", "events.txt", "events.CSV.bak", "report.data"])
def test_a_name_whose_extension_names_no_format_is_written_as_csv_with_a_warning(name: str, tmp_path: Path) -> None:
    from engagifii_data.reports import report_format

    for _ in range(2):  # also once the file exists
        fmt, warning = report_format(tmp_path / name)
        assert fmt == "csv" and warning is not None and "writing CSV" in warning and name in warning
        (tmp_path / name).write_text("x", encoding="utf-8")
    assert report_format(tmp_path / "events.csv") == ("csv", None)
    assert report_format(tmp_path / "events") == ("csv", None)  # no extension: CSV, as documented
    assert report_format(tmp_path / "events.json", "parquet") == ("parquet", None)  # an explicit choice
