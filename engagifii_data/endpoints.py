"""The two Events API endpoints as requests: their paths, bodies and the checks on their answers.

One reason to change: how the listing (``POST /api/1.0/event/list``) and an event's detail
(``GET /api/1.0/event/{id}``) are asked for and what makes an answer acceptable (engagifii-api.md).
The client adds the session (token, tenant, stats); the walks call these through the client.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .exceptions import ApiError, ConfigurationError, NotFoundError, TenantNotFoundError, safe_text
from .pagination import Page, parse_page
from .responses.detail import detail_event

if TYPE_CHECKING:
    from .query import EventQuery
    from .transport import RequestHooks, Transport
    from .walk import DetailAnswer

LIST_PATH = "/api/1.0/event/list"
EVENT_PATH = "/api/1.0/event/{id}"

__all__ = ["EVENT_PATH", "LIST_PATH", "event_path", "fetch_detail", "fetch_event", "fetch_page"]


def fetch_page(transport: Transport, api_url: str, query: EventQuery, number: int, hooks: RequestHooks) -> Page:
    """One page of the listing of ``query.tenant``, parsed (:func:`engagifii_data.pagination.parse_page`).

    Raises
    ------
    ConfigurationError
        Page 1 answered 404/405 without the API's error envelope: ``api_url`` is not the Events API's.
    ApiError, TransportError, PaginationError
        As :meth:`Transport.request_json` and :func:`parse_page`.
    """
    try:
        decoded = transport.request_json(
            "POST", LIST_PATH, tenant=query.tenant, json_body=query.list_body(number), page=number, hooks=hooks
        )
    except ApiError as exc:
        if number == 1 and _not_the_api(exc):
            raise ConfigurationError(
                f"the API URL {api_url} has no event listing (HTTP {exc.status} at "
                f"{LIST_PATH}, not an answer of the Events API): check ENGAGIFII_API_BASE_URL"
            ) from exc
        raise
    return parse_page(decoded.data, number, repaired=decoded.repaired)


def fetch_event(transport: Transport, tenant: str, event_id: Any) -> dict[str, Any]:
    """One event's detail as sent (:meth:`EngagifiiClient.event <engagifii_data.EngagifiiClient.event>`).

    Raises
    ------
    ValueError
        ``event_id`` fails the detail id rule (:func:`engagifii_data.walk.ids.detail_id`).
    NotFoundError
        A 404 in the API's error envelope: no such event.
    PaginationError
        Every attempt answered another event, or none.
    """
    from .walk.ids import detail_id

    eid = detail_id(event_id)
    if eid is None:
        raise ValueError(f"invalid event id {safe_text(event_id, 60)!r}")
    check = functools.partial(detail_event, requested=eid)
    event: dict[str, Any] = transport.request_json("GET", event_path(eid), tenant=tenant, check=check).data
    return event


def fetch_detail(transport: Transport, tenant: str, event_id: str, hooks: RequestHooks) -> DetailAnswer:
    """One event's detail for the detail walk; an event that is gone (the API's own 404) is ``data=None``."""
    from .walk import DetailAnswer

    check = functools.partial(detail_event, requested=event_id)
    try:
        decoded = transport.request_json("GET", event_path(event_id), tenant=tenant, hooks=hooks, check=check)
    except NotFoundError:  # the API's own 404 (not a proxy's, nor TenantNotFoundError): the event is gone
        return DetailAnswer(None)
    return DetailAnswer(decoded.data, decoded.repaired)


def _not_the_api(exc: ApiError) -> bool:
    """A 404/405 on the listing's page 1 without the API's error envelope: a wrong API base URL.

    The Events API names its errors (``{"error": {"code": ...}}`` or problem details); a web server,
    proxy or App Service page answering for a wrong host or base path does not. Such an answer is a
    configuration error, not an API error: retrying or another tenant will not help.
    """
    return exc.status in (404, 405) and exc.code is None and not isinstance(exc, TenantNotFoundError)


def event_path(event_id: str) -> str:
    """``/api/1.0/event/{id}`` with the id URL-quoted (no character of it can change the path)."""
    return EVENT_PATH.format(id=quote(event_id, safe=""))
