"""The sandbox's Events API routes: the list endpoint (filters, sort, envelopes, paging) and event details."""

from __future__ import annotations

import json
import math
from typing import Any

from flask import Flask, Response, g, request

from .accounting import _fault_response
from .state import _State
from .wire import _ApiError, _json_bytes

DEFAULT_PAGE_SIZE = 10


def _parse_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _parse_list_body(raw: bytes) -> dict[str, Any]:
    """Validate the list filter body; property names are case-insensitive, unknown ones ignored."""
    body: Any = {}
    if raw.strip():
        try:
            body = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise _ApiError(
                400, "VALIDATION_ERROR", "The request body is not valid JSON", [{"field": "body", "message": str(exc)}]
            ) from None
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise _ApiError(
            400,
            "VALIDATION_ERROR",
            "The request body must be a JSON object",
            [{"field": "body", "message": "Expected a JSON object"}],
        )
    low = {str(k).lower(): v for k, v in body.items()}
    errors: list[dict[str, str]] = []

    def integer(names: tuple[str, ...], field: str, default: int) -> int:
        for name in names:
            value = low.get(name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int):
                errors.append({"field": field, "message": f"The value {value!r} is not a valid integer"})
                return default
            if value < 1:
                errors.append({"field": field, "message": f"{field} must be greater than or equal to 1"})
            return value
        return default

    page = integer(("pagenumber",), "PageNumber", 1)
    size = integer(("pagesize", "itemcount"), "PageSize", DEFAULT_PAGE_SIZE)
    upcoming_raw = low.get("onlyupcoming")
    upcoming = False if upcoming_raw is None else _parse_bool(upcoming_raw)
    if upcoming is None:
        errors.append({"field": "OnlyUpcoming", "message": f"The value {upcoming_raw!r} is not a valid boolean"})
    asc_raw = low.get("isascending")
    ascending = True if asc_raw is None else _parse_bool(asc_raw)
    if ascending is None:
        errors.append({"field": "IsAscending", "message": f"The value {asc_raw!r} is not a valid boolean"})
    if errors:
        raise _ApiError(400, "VALIDATION_ERROR", "One or more validation errors occurred", errors)
    text = low.get("text")
    filter_body = low.get("filterbody")
    if not text and isinstance(filter_body, dict):
        text = {str(k).lower(): v for k, v in filter_body.items()}.get("searchtext")
    sort_by = low.get("sortby")
    return {
        "page": page,
        "size": size,
        "upcoming": bool(upcoming),
        "text": text.strip() if isinstance(text, str) and text.strip() else None,
        "sort_by": sort_by.lower() if isinstance(sort_by, str) else None,
        "ascending": bool(ascending),
    }


def register_events_api(app: Flask, state: _State) -> None:
    """Serve ``POST /api/1.0/event/list`` and ``GET /api/1.0/event/{id}`` on *app* from *state*."""

    @app.post("/api/1.0/event/list")
    def event_list() -> Response:
        tenant: str = g.tenant
        args = _parse_list_body(request.get_data(cache=True))
        faults = state.faults
        page, size = args["page"], min(args["size"], faults.max_page_size)
        g.page, g.page_size = page, size
        if faults.fail_from_page is not None and page >= faults.fail_from_page:
            g.fault = "fail_from_page"
            raise _ApiError(500, "INTERNAL_ERROR", "An unexpected error occurred while listing events")
        fault = None
        with state.lock:
            if (tenant, page) not in state.attempted_pages:
                state.attempted_pages.add((tenant, page))
                fault = faults.page_faults.get(page)
        if fault in ("html503", "drop"):
            return _fault_response(fault)
        with state.lock:
            rows = list(state.events[tenant])
        if args["upcoming"]:
            rows = [e for e in rows if state.ends[e["id"]] >= state.now]
        if args["text"]:
            needle = args["text"].casefold()
            rows = [e for e in rows if needle in str(e.get("name") or "").casefold()]
        if args["sort_by"] == "name":
            rows.sort(key=lambda e: (str(e.get("name") or "").casefold(), e["id"]))
        if not args["ascending"]:
            rows.reverse()
        total = len(rows)
        served = 1 if faults.ignore_page_number else page
        # rows encoded once per event and joined: the same bytes as encoding the whole payload
        chunk = b"[" + b",".join(state.row_bytes(tenant, e) for e in rows[(served - 1) * size : served * size]) + b"]"
        if faults.envelope == "docs":
            body = b'{"totalCount":' + str(total).encode() + b',"data":' + chunk + b"}"
        else:
            paging = _json_bytes(
                {
                    "totalRecords": total,
                    "pageNumber": page,
                    "pageSize": size,
                    "totalPages": math.ceil(total / size) if total else 0,
                }
            )
            body = b'{"collection":' + chunk + b',"pagingModel":' + paging + b"}"
        if fault != "truncate":
            view = (size, args["upcoming"], args["text"], args["sort_by"], args["ascending"])
            state.listing_served(tenant, view, page, math.ceil(total / size), rows)
        if page == 1 and faults.insert_after_first_page > 0:
            with state.lock:
                first = tenant not in state.inserted_after_first
                state.inserted_after_first.add(tenant)
            if first:
                state.insert(tenant, faults.insert_after_first_page)
        if fault == "truncate":
            g.fault = fault
            body = body[: len(body) // 2]
        return Response(body, status=200, content_type="application/json; charset=utf-8")

    @app.get("/api/1.0/event/<event_id>")
    def event_detail(event_id: str) -> Response:
        tenant: str = g.tenant
        eid = event_id.strip().lower()
        fault = None
        with state.lock:
            if (tenant, eid) not in state.attempted_details:
                state.attempted_details.add((tenant, eid))
                detail_faults = state.faults.detail_faults
                fault = detail_faults.get(eid, detail_faults.get("*"))
            event = state.by_id[tenant].get(eid)
        if fault in ("html503", "drop"):
            return _fault_response(fault)
        if event is None:
            raise _ApiError(404, "NOT_FOUND", f"Event '{event_id}' was not found")
        body = _json_bytes(event)
        if fault == "truncate":
            g.fault = fault
            body = body[: len(body) // 2]
        return Response(body, status=200, content_type="application/json; charset=utf-8")
