"""What ``engagifii-data events`` prints after a report is written: rows, totals, losses, requests.

Read from the frame's :class:`~engagifii_data.reports.WalkReport`, never from raw ``attrs`` keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from ..query import EventQuery
    from ..reports import WalkReport


def print_summary(
    df: Any,
    query: EventQuery,
    written: Path | str,
    stats: dict[str, int],
    seconds: float,
    out: TextIO,
    *,
    rows: tuple[int, str] | None = None,
) -> None:
    from ..reports import WalkReport

    report: WalkReport = WalkReport.of(df)
    tenants = query.tenants
    label = ("tenant " if len(tenants) == 1 else "tenants ") + ", ".join(tenants)
    count, table = rows if rows is not None else (len(df), "events")
    noun = "row" if table == "events" else f"{table[:-1]} row"
    print(f"wrote {count:,} {noun}{'' if count == 1 else 's'} for {label} to {written}", file=out)
    rows_kept = len(df)
    parts = [f"{report.rows_fetched:,} fetched of a total of {report.total_count:,}"]
    if table != "events":
        parts.insert(0, f"from {rows_kept:,} event{'' if rows_kept == 1 else 's'}")
    if query.has_client_filters:
        parts.append(f"{rows_kept:,} after filters ({query.describe().split(' · client: ')[1]})")
    if report.resumed_pages:
        parts.append(f"{report.resumed_pages} page{'' if report.resumed_pages == 1 else 's'} from the checkpoint")
    if report.details:
        parts.append(_details_text(report))
    reports = report.per_tenant or (report,)
    sizes = [r.page_size for r in reports if r.pages and r.page_size]
    if sizes and max(sizes) < query.page_size:
        parts.append(f"the server capped the page size at {max(sizes)}")
    parts.extend(_losses(report))
    parts.append(
        f"pages {stats['pages']:,}, requests {stats['http_requests']:,}, token requests {stats['token_requests']:,}, "
        f"retries {stats['retries']:,}, {seconds:.2f} s"
    )
    print("; ".join(parts), file=out)


def _losses(report: WalkReport) -> list[str]:
    """What the data lost or could not say, in words: broken texts, values that did not fit, unzoned times."""
    out = []
    if report.repaired_text:
        out.append(f"{report.repaired_text:,} broken text{'' if report.repaired_text == 1 else 's'} repaired (U+FFFD)")
    coerced = sum(report.coerced.values())
    if coerced:
        columns = ", ".join(sorted(report.coerced))
        out.append(f"{coerced:,} value{'' if coerced == 1 else 's'} that did not fit became empty ({columns})")
    naive = sum(report.naive_datetimes.values())
    if naive:
        columns = ", ".join(sorted(report.naive_datetimes))
        out.append(f"{naive:,} time{'' if naive == 1 else 's'} of unknown zone kept as wall-clock digits ({columns})")
    return out


def _details_text(report: WalkReport) -> str:
    """``details 2,398 fetched of 2,400, 2 missing (deleted since listed: 404), 1,200 from the checkpoint``."""
    text = f"details {report.details_fetched:,} fetched of {report.details_requested:,}"
    missing = len(report.missing_ids)
    if missing:
        text += f", {missing:,} missing (deleted since listed: 404)"
    if report.details_resumed:
        text += f", {report.details_resumed:,} from the checkpoint"
    if report.details_skipped:
        skipped = report.details_skipped
        text += f", {skipped:,} row{'' if skipped == 1 else 's'} skipped (no usable event id)"
    return text
