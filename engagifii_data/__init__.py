"""engagifii-data: walk every page of the Engagifii Events API into pandas DataFrames.

Quick use::

    from engagifii_data import EngagifiiClient, export_csv, read_report, sandbox

    client = EngagifiiClient.from_env()          # ENGAGIFII_* variables, then .env
    df = client.events("T1")                     # every page, typed columns, df.attrs["engagifii"]
    full = client.events("T1", details=True)     # + every event's detail (contacts, all sessions)
    sessions(full), contacts(full)               # from engagifii_data: one row per session / contact
    export_csv(df, "events.csv")                 # atomic, UTF-8 with BOM, formula-safe
    export_excel(df, "events.xlsx")              # the `excel` extra; text cells, never formulas
    df = read_report("events.csv")               # CSV, Parquet or Excel back, typed

    with sandbox.run() as sb:                    # local identity server + Events API
        df = EngagifiiClient(sb.settings()).events()

The public names below are imported when first used: ``import engagifii_data`` imports neither
pandas, nor a web framework, nor ipywidgets, nor an OAuth library (the command line starts fast).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

#: public name -> the module that defines it
_WHERE: dict[str, str] = {
    "EngagifiiClient": ".client",
    "WalkProgress": ".walk",
    "EventQuery": ".query",
    "Settings": ".config",
    "credentials_configured": ".config",
    "WalkReport": ".reports",
    "export_csv": ".reports",
    "export_excel": ".reports",
    "export_parquet": ".reports",
    "read_report": ".reports",
    "EVENT_COLUMNS": ".frames",
    "events_frame": ".frames",
    "sessions": ".frames.tables",
    "contacts": ".frames.tables",
    "Page": ".pagination",
    "sandbox": ".sandbox",
    **{
        name: ".exceptions"
        for name in (
            "ApiError",
            "AuthenticationError",
            "BadRequestError",
            "ConfigurationError",
            "ConflictError",
            "EngagifiiError",
            "ForbiddenError",
            "IncompleteWalkError",
            "NotFoundError",
            "PaginationError",
            "QueryError",
            "RateLimitError",
            "ReportError",
            "ReportNotWritable",
            "ServerError",
            "TenantNotFoundError",
            "TransportError",
            "UnprocessableError",
        )
    },
}

__all__ = [
    "EVENT_COLUMNS",
    "ApiError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "ConflictError",
    "EngagifiiClient",
    "EngagifiiError",
    "EventQuery",
    "ForbiddenError",
    "IncompleteWalkError",
    "NotFoundError",
    "Page",
    "PaginationError",
    "QueryError",
    "RateLimitError",
    "ReportError",
    "ReportNotWritable",
    "ServerError",
    "Settings",
    "TenantNotFoundError",
    "TransportError",
    "UnprocessableError",
    "WalkProgress",
    "WalkReport",
    "__version__",
    "contacts",
    "credentials_configured",
    "events_frame",
    "export_csv",
    "export_excel",
    "export_parquet",
    "read_report",
    "sandbox",
    "sessions",
]

if TYPE_CHECKING:
    from . import sandbox
    from .client import EngagifiiClient
    from .config import Settings, credentials_configured
    from .exceptions import (
        ApiError,
        AuthenticationError,
        BadRequestError,
        ConfigurationError,
        ConflictError,
        EngagifiiError,
        ForbiddenError,
        IncompleteWalkError,
        NotFoundError,
        PaginationError,
        QueryError,
        RateLimitError,
        ReportError,
        ReportNotWritable,
        ServerError,
        TenantNotFoundError,
        TransportError,
        UnprocessableError,
    )
    from .frames import EVENT_COLUMNS, events_frame
    from .frames.tables import contacts, sessions
    from .pagination import Page
    from .query import EventQuery
    from .reports import WalkReport, export_csv, export_excel, export_parquet, read_report
    from .walk import WalkProgress


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = importlib.import_module(module, __name__)
    if name != "sandbox":
        value = getattr(value, name)
    globals()[name] = value  # the next access skips this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
