"""The explorer's words about a walk: the progress line, the summary of a result, a partial result's account.

Everything here reads the walk's :class:`~engagifii_data.reports.WalkReport` and the session's
counters; nothing sends a request or touches a widget. The numbers are those of the summary dict
(:attr:`EventExplorer.summary <engagifii_data.widgets.EventExplorer.summary>`), so what is shown and
what code reads agree.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..checkpoint import detail_checkpoint_path
from ..describe import describe_error
from ..exceptions import IncompleteWalkError, TransportError
from ..query import EventQuery
from ..reports import WalkReport
from ..walk import WalkProgress
from .render import count, lines

__all__ = [
    "EXPLORER_WORDS",
    "Bar",
    "checkpoint_note",
    "error_lines",
    "final_bar",
    "held_text",
    "partial_lines",
    "progress_bar",
    "progress_line",
    "saved_walk",
    "summarise",
    "summary_html",
    "written_line",
]


#: How error advice names the explorer's controls (:func:`~engagifii_data.describe.describe_error`).
EXPLORER_WORDS = {
    "rerun": "press Resume",
    "checkpoint": "a checkpoint (tick Keep pages to resume)",
    "workers": "workers (EventExplorer(client, workers=2))",
    "tenant": "Tenant",
    "start": "From",
    "end": "To",
    "status": "Status",
    "search": "Search",
    "page_size": "page_size",
}


@dataclass(frozen=True)
class Bar:
    """What the progress bar shows: ``value`` of ``max`` and a short description beside it."""

    max: int
    value: int
    description: str


def progress_line(p: WalkProgress) -> str:
    """The status line during a walk, e.g. ``fetching ACME: details 120 of 2,400``."""
    if p.phase == "details":
        gone = max(p.pages_done - p.rows, 0)
        text = f"fetching {p.tenant}: details {p.pages_done:,} of {p.pages_total:,}"
        text += f" · {gone:,} gone (404)" if gone else ""
    elif p.pages_total:
        text = f"fetching {p.tenant}: {p.rows:,} of {p.total:,} rows · page {p.pages_done} of {p.pages_total}"
    else:
        text = f"fetching {p.tenant}…"
    notice = p.retrying
    if notice is None:
        return text
    if p.phase == "details" and notice.page is None and "/event/" in notice.path:
        return f"{text} · retrying an event's detail {notice.when}: {notice.reason}"
    return f"{text} · {notice}"


def progress_bar(p: WalkProgress) -> Bar | None:
    """The bar during a walk: rows of the listing's total, then details answered of those asked for."""
    if not p.pages_total:
        return None
    if p.phase == "details":
        top = max(p.pages_total, 1)
        return Bar(top, min(p.pages_done, top), f"{p.pages_done:,}/{p.pages_total:,} details")
    top = max(int(p.total), 1)
    return Bar(top, min(int(p.rows), top), f"{p.pages_done}/{p.pages_total} pages" if p.total else "no events")


def final_bar(s: Mapping[str, Any], partial: str, description: str) -> Bar:
    """The bar under a result: full (complete), rows of the total (listing stopped), details answered."""
    if partial == "detail":
        top = max(s["details_requested"], 1)
        return Bar(top, min(s["details_requested"] - s["details_unfetched"], top), description)
    total = s["total"]
    top = max(total, 1)
    return Bar(top, min(s["rows_fetched"], total) if partial else top, description if total else "no events")


def summarise(
    df: pd.DataFrame, query: EventQuery, before: Mapping[str, int], after: Mapping[str, int]
) -> dict[str, Any]:
    """The numbers of a walk: its report's and the session counters' share (``after - before``).

    Keys: tenant, rows, rows_fetched, total, pages, planned_pages, complete, resumed_pages, seconds,
    filters, requests, token_requests, retries, session_token_requests, details; with details also
    details_requested, details_fetched, details_resumed, details_unfetched, missing_ids, enriched.
    """
    r = WalkReport.of(df)
    s: dict[str, Any] = {"tenant": query.tenant, "rows": len(df), "rows_fetched": r.rows_fetched}
    s.update(total=r.total_count, pages=r.pages, planned_pages=r.planned_pages or r.pages + len(r.missing_pages))
    s.update(complete=r.complete, resumed_pages=r.resumed_pages, seconds=round(r.seconds, 2))
    s.update(filters=query.describe(), details=r.details)
    counters = {"requests": "http_requests", "token_requests": "token_requests", "retries": "retries"}
    s.update({key: after[name] - before[name] for key, name in counters.items()})
    s["session_token_requests"] = after["token_requests"]
    if r.details:
        s.update(details_requested=r.details_requested, details_fetched=r.details_fetched)
        s.update(details_resumed=r.details_resumed, details_unfetched=r.details_unfetched)
        s.update(missing_ids=list(r.missing_ids), enriched=r.enriched)
    return s


def _details_line(s: Mapping[str, Any]) -> str:
    if not s["details_requested"]:
        return "details: none to fetch"
    line = f"details: {s['details_fetched']:,} of {s['details_requested']:,} fetched"
    gone = len(s["missing_ids"])
    if gone:
        were = "it was" if gone == 1 else "they were"
        return f"{line} · {gone:,} missing (HTTP 404: deleted since {were} listed)"
    return f"{line} · none missing"


def _sign_ins(walk: int, session: int) -> str:
    """Token requests of a walk in words: ``access token reused (1 sign-in this session)``, ``2 sign-ins``."""
    if not walk:
        return f"access token reused ({count(session, 'sign-in')} this session)"
    return count(walk, "sign-in") + (f" ({session} this session)" if session != walk else "")


def summary_html(s: Mapping[str, Any], resumed: tuple[bool, bool]) -> str:
    """A complete walk's summary: what was fetched, the details, the requests; ``resumed``: (pages, details)."""
    tenant = s["tenant"]
    if s["rows"]:
        kept = f", {s['rows']:,} after filters" if s["rows"] != s["rows_fetched"] else ""
        texts = [f"✔ {tenant}: {s['rows_fetched']:,} of {s['total']:,} events fetched{kept}"]
    else:
        where = f"{s['total']:,} fetched, 0 after filters" if s["total"] else "the listing is empty"
        texts = [f"✔ {tenant}: no events match ({where})"]
    if s["details"]:
        texts.append(_details_line(s))
    reused = [count(s["resumed_pages"], "page")] if resumed[0] else []
    reused += [count(s.get("details_resumed", 0), "detail")] if resumed[1] and s["details"] else []
    texts.append(
        f"{count(s['pages'], 'page')} · {count(s['requests'], 'request')} to Engagifii · "
        f"{_sign_ins(s['token_requests'], s['session_token_requests'])} · "
        f"{count(s['retries'], 'retry', 'retries')} · {s['seconds']:.2f} s"
        + (f" · resumed from checkpoint ({', '.join(reused)} reused)" if reused else "")
    )
    return lines(texts, "ok") + f"<small>applied — {html.escape(s['filters'])}</small>"


def partial_lines(exc: IncompleteWalkError, s: dict[str, Any], cause: list[str]) -> list[str]:
    """A partial result's account, why (``cause``: the lines about ``exc.cause``), and what to do.

    Adds to ``s`` what is held and what is missing: ``saved_pages``, ``missing``, ``missing_pages``
    (the listing stopped) or ``saved_details``, ``missing`` (the detail walk stopped).
    """
    cancelled = exc.reason == "cancelled"
    refused = "This is not a complete report: export is refused."
    if s["details"]:  # the listing was complete; the detail walk stopped
        why = "cancelled while fetching details" if cancelled else "the details could not all be fetched"
        gone = len(s["missing_ids"])
        s.update(saved_details=s["details_fetched"], missing=s["details_unfetched"])
        kept = f" (saved in {exc.checkpoint})" if exc.checkpoint else ""
        first = (
            f"⚠ PARTIAL result ({why}): {count(s['rows'], 'event')} listed; details {s['details_fetched']:,} "
            f"of {s['details_requested']:,} fetched{kept}; {s['details_unfetched']:,} still to fetch"
            + (f", {gone:,} missing (HTTP 404)" if gone else "")
            + f". {refused}"
        )
        what = "details"
    else:
        held = exc.saved_pages if exc.saved_pages is not None else s["pages"]
        where = f"saved in {exc.checkpoint}" if exc.checkpoint else "fetched"
        missing = max(s["planned_pages"] - held, 0)
        s.update(saved_pages=held, missing=missing, missing_pages=list(exc.missing_pages))
        first = (
            f"⚠ PARTIAL result ({'cancelled' if cancelled else 'the walk could not finish'}): "
            f"{s['rows_fetched']:,} of {s['total']:,} rows shown; {held:,} of {s['planned_pages']:,} pages {where}; "
            f"{missing:,} missing. {refused}"
        )
        what = "pages"
    out = [first, *cause]
    if exc.cause is None and not cancelled:
        out.append(str(exc))
    out.append(
        f"Press Resume to fetch only the missing {what}."
        if exc.checkpoint
        else "Tick Keep pages to resume to make the next walk resumable."
    )
    return out


def saved_walk(path: Path | None, details: bool) -> tuple[bool, bool]:
    """Whether an earlier walk's (pages, details) are saved at checkpoint ``path`` (details only if asked for)."""
    if path is None:
        return False, False
    return path.exists(), details and detail_checkpoint_path(path).exists()


def checkpoint_note(path: Path | None, *, resumable: bool, details: bool) -> str:
    """The line under the Checkpoint field (HTML): where pages (and details) go, and what is saved there."""
    if path is None:
        return "resuming off" if not resumable else "no checkpoint until the filters are valid"
    beside = detail_checkpoint_path(path)
    where = f"pages are saved to <code>{html.escape(str(path))}</code>"
    if details:
        where += ", details beside them"
    pages, saved_details = saved_walk(path, details)
    if pages or saved_details:
        what = "pages" if pages else "details"
        return f"{where} — an earlier walk's {what} are there: Resume fetches the rest"
    if beside.exists():
        return f"{where} — an earlier walk's details are there: tick Details to resume it"
    return where


def error_lines(exc: BaseException, api_url: str) -> list[str]:
    """What went wrong and what to do, in the explorer's words (a refused connection: the sandbox stopped?)."""
    if isinstance(exc, ImportError):  # e.g. Excel without its engine: the message names the install
        return [f"error: {exc}"]
    texts = describe_error(exc, EXPLORER_WORDS)
    if isinstance(exc, TransportError) and "refused" in str(exc).lower():
        texts.append(
            f"nothing accepts connections at {api_url}: if that was the notebook's sandbox, it has stopped "
            "(a cell closed it, or the kernel restarted); run the notebook's setup cells again (or Run All), "
            "then press Fetch"
        )
    return texts


def held_text(report: WalkReport, rows: int) -> str:
    """What a partial result holds, for the export refusal: rows of the total, or details of those asked for."""
    if report.details and report.details_unfetched:
        return f"details {report.details_fetched:,} of {report.details_requested:,}"
    return f"{rows:,} of {report.total_count:,} rows"


def written_line(path: Path, fmt: str, table: str, rows: int) -> str:
    """The line an export adds under the summary, e.g. ``✔ wrote 70 rows of sessions to … (CSV, UTF-8 with BOM)``."""
    kind = {"csv": "CSV, UTF-8 with BOM", "parquet": "Parquet", "xlsx": "Excel"}.get(fmt, fmt)
    if not rows:
        what = "an empty report" if table == "events" else f"an empty {table} report"
        return f"✔ wrote {what} (header only) to {path} ({kind})"
    return f"✔ wrote {count(rows, 'row')}{'' if table == 'events' else ' of ' + table} to {path} ({kind})"
